import { createHash } from 'node:crypto';
import { decode, encode } from './charset.js';
import { checksum, findTrailer, type Trailer } from './checksum.js';
import { Exchange, type SessionState, type Sip2Deps } from './exchange.js';
import { HANDLERS, isHandled } from './handlers/index.js';
import { login } from './handlers/login.js';
import { acsStatus } from './handlers/sc-status.js';
import { fixedLength, parseRequest, type RequestCode } from './requests.js';
import { buildResponse, type Sip2Response } from './responses.js';
import { TEXTS } from './texts.js';

/** Counters a listener keeps across its connections (tests and the fuzz benchmark read them). */
export interface Sip2Stats {
  /** Connections open now. */
  connections: number;
  rejectedConnections: number;
  messages: number;
  malformed: number;
  checksumErrors: number;
  oversizedLines: number;
  internalErrors: number;
}
export const newStats = (): Sip2Stats =>
  ({ connections: 0, rejectedConnections: 0, messages: 0, malformed: 0, checksumErrors: 0, oversizedLines: 0, internalErrors: 0 });

/** What one message leads to: bytes to send (terminator included), and whether to hang up after them. */
export interface Reply { bytes: Buffer; close?: boolean }

const MAX_FAILED_LOGINS = 5;

/**
 * One SC's conversation, independent of the transport: login state, error detection, the last
 * response (for 97 and retransmissions), and dispatch to the message handlers. Messages are handled
 * one at a time, in order.
 */
export class Sip2Session {
  private readonly state: SessionState = { account: null, failedLogins: 0, verifiedPin: null };
  private lastResponse: Buffer | null = null;
  private lastRequest: { sequence: string; checksum: string } | null = null;

  constructor(private readonly deps: Sip2Deps, private readonly stats: Sip2Stats, private readonly log: (line: string) => void) {}

  /** A message longer than the limit: it is dropped, and the SC is asked to send it again. */
  tooLong(bytes: number): Reply {
    this.stats.oversizedLines++;
    this.log(`sip2: dropped a ${bytes}-byte message from ${this.state.account?.login ?? 'a client not logged in'}`);
    return this.resendRequest(this.detection() === true);
  }

  async handle(line: Buffer): Promise<Reply> {
    this.stats.messages++;
    const account = this.state.account;
    const detection = this.detection();
    const code = line.toString('latin1', 0, 2);
    const delimiter = (account?.delimiter ?? '|').charCodeAt(0);
    // SIP2 2.00 error detection: AY<seq>AZ<checksum> closes the message; a bad checksum is answered with 96 and nothing runs.
    const trailer = findTrailer(line, delimiter, fixedLength(code));
    if (trailer && !trailer.valid && detection !== false) {
      this.stats.checksumErrors++;
      return this.remember(this.resendRequest(true));
    }
    const body = trailer ? line.subarray(0, trailer.bodyEnd) : line;
    const withChecksum = detection === true || (detection === 'auto' && trailer !== null);

    // SIP2 2.00: 97 asks for the last response again, exactly as it was sent.
    if (code === '97' && body.length === 2) return { bytes: this.lastResponse ?? this.resendRequest(withChecksum).bytes };
    // The same message with the same sequence number and checksum is a retransmission: answer it again, do not run it again.
    if (trailer?.sequence != null && this.lastResponse && this.lastRequest?.sequence === trailer.sequence && this.lastRequest.checksum === trailer.checksum) {
      return { bytes: this.lastResponse };
    }
    this.lastRequest = trailer?.sequence != null ? { sequence: trailer.sequence, checksum: trailer.checksum } : null;

    const retryKey = trailer?.sequence != null ? () => createHash('sha256').update(line).digest('base64url').slice(0, 32) : null;
    const response = await this.respond(code, body, retryKey);
    if (!response) {
      this.stats.malformed++;
      return this.remember(this.resendRequest(withChecksum));
    }
    const reply = this.encodeReply(response, withChecksum ? trailer ?? { sequence: null } : null);
    if (code === '93' && !this.state.account && this.state.failedLogins >= MAX_FAILED_LOGINS) {
      this.log(`sip2: closing a connection after ${this.state.failedLogins} failed logins`);
      reply.close = true;
    }
    return this.remember(reply);
  }

  private detection(): boolean | 'auto' { return this.state.account?.errorDetection ?? 'auto'; }

  private remember(reply: Reply): Reply {
    this.lastResponse = reply.bytes;
    return reply;
  }

  /** 96: "send that again"; `96AZFEF6` when error detection is on. */
  private resendRequest(withChecksum: boolean): Reply {
    const terminator = this.state.account?.terminatorBytes ?? CR;
    const text = withChecksum ? `96AZ${checksum(Buffer.from('96AZ', 'latin1'))}` : '96';
    return { bytes: Buffer.concat([Buffer.from(text, 'latin1'), terminator]) };
  }

  /** The response to one message, or null when it cannot be read (unknown code, short fixed part). */
  private async respond(code: string, body: Buffer, retryKey: (() => string) | null): Promise<Sip2Response | null> {
    const now = this.deps.clock.now();
    if (code === '93') {
      const outcome = login(body, this.deps.accounts, this.deps.timeZone);
      if (outcome.account) {
        this.state.account = outcome.account;
        this.state.failedLogins = 0;
      } else {
        this.state.failedLogins++;
      }
      this.state.verifiedPin = null;
      return outcome.response;
    }
    const account = this.state.account;
    if (!account) {
      // SIP2 2.00: nothing but Login (and SC Status, where the server allows it) before a successful login.
      if (code === '99' && this.deps.statusBeforeLogin) return acsStatus(this.deps, null, now);
      const parsed = parseRequest(decode(body, 'iso-8859-1'), { delimiter: '|', timeZone: this.deps.timeZone });
      if (!parsed.ok || !isHandled(parsed.request.code)) return null;
      return refuseWith(parsed.request.code, parsed.request, now, TEXTS.NOT_LOGGED_IN.en);
    }
    const parsed = parseRequest(decode(body, account.charset), { delimiter: account.delimiter, timeZone: this.deps.timeZone });
    if (!parsed.ok) return null;
    const req = parsed.request;
    const handled = req.code; // a const of its own, so the type guard narrows it
    if (!isHandled(handled)) return null;
    const x = new Exchange(this.deps, this.state, account, retryKey);
    try {
      return await (HANDLERS[handled].handle as (r: unknown, x: Exchange) => Sip2Response | Promise<Sip2Response>)(req, x);
    } catch (e) {
      this.stats.internalErrors++;
      this.log(`sip2: ${req.code} from ${account.login} failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      return refuseWith(req.code, req, now, x.say(TEXTS.SYSTEM_ERROR));
    }
  }

  private encodeReply(response: Sip2Response, trailer: Pick<Trailer, 'sequence'> | null): Reply {
    const account = this.state.account;
    const text = buildResponse(response, { timeZone: this.deps.timeZone, delimiter: account?.delimiter ?? '|', hidden: account?.hidden });
    const parts = [encode(text, account?.charset ?? 'utf-8')];
    if (trailer) {
      const tail = Buffer.from(trailer.sequence !== null ? `AY${trailer.sequence}AZ` : 'AZ', 'latin1');
      parts.push(tail, Buffer.from(checksum(Buffer.concat([parts[0]!, tail])), 'latin1'));
    }
    parts.push(account?.terminatorBytes ?? CR);
    return { bytes: Buffer.concat(parts) };
  }
}

const CR = Buffer.from('\r', 'latin1');

function refuseWith(code: RequestCode, req: unknown, now: Date, message: string): Sip2Response | null {
  if (!isHandled(code)) return null;
  return (HANDLERS[code].refuse as (r: unknown, now: Date, m: string) => Sip2Response)(req, now, message);
}
