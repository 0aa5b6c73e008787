import { createHash, timingSafeEqual } from 'node:crypto';
import type { Db } from '../store/db.js';
import type { Clock } from '../clock.js';
import type { Circulation, OpContext, Refusal } from '../circulation/circulation.js';
import type { PatronRow } from '../patrons/patrons.js';
import { verifySecret } from '../auth/passwords.js';
import type { ResolvedAccount } from './account.js';
import { languageOf } from './fields.js';
import type { RequestCode, RequestFor } from './requests.js';
import type { ResponseFor } from './responses.js';
import type { Words } from './texts.js';

const DAY = 86_400_000;
const OFFLINE_MIN_AGE_MS = 60_000;

/** What every connection shares: the store, the circulation core, the clock and library settings. */
export interface Sip2Deps {
  db: Db;
  circulation: Circulation;
  clock: Clock;
  timeZone: string;
  currency: string;
  accounts: readonly ResolvedAccount[];
  /** Answer SC Status (99) before login. */
  statusBeforeLogin: boolean;
}

/** What one connection remembers between messages. */
export interface SessionState {
  account: ResolvedAccount | null;
  failedLogins: number;
  /** The patron whose PIN was last verified here, so a kiosk session costs one PIN check; cleared by End Patron Session (35). */
  verifiedPin: { patronId: number; digest: Buffer } | null;
}

/** One request being served: the account it came through, its identity, and the helpers every handler needs. */
export class Exchange {
  readonly now: Date;

  constructor(
    readonly deps: Sip2Deps,
    readonly session: SessionState,
    readonly account: ResolvedAccount,
    /** A digest of the whole message, sequence number and checksum included; null without error detection. */
    private readonly messageDigest: (() => string) | null,
  ) {
    this.now = deps.clock.now();
  }

  get circulation() { return this.deps.circulation; }

  /**
   * Runs the part of a request that writes (and the reads it decides on) in the current group commit;
   * resolves once that has committed. Everything inside is synchronous.
   */
  write<T>(fn: () => T): Promise<T> { return this.deps.circulation.write(fn); }

  /** The screen-message language for a request's SIP2 language code. */
  language(code?: string): 'en' | 'zh' {
    const lang = languageOf(code ?? '000', this.account.language);
    return lang === 'zh' && this.account.charset !== 'utf-8' ? 'en' : lang;
  }

  say(words: Words, code?: string): string { return words[this.language(code)]; }

  refusalText(r: Refusal, code?: string): string { return this.say(r.message, code); }

  /** A patron by card number, else by card tag UID (RFID card readers send either). */
  patron(identifier: string | undefined): PatronRow | undefined {
    if (!identifier) return undefined;
    return this.circulation.findPatron({ cardNumber: identifier }) ?? this.circulation.findPatron({ cardTagUid: identifier });
  }

  /**
   * Whether `pin` is the patron's PIN. A patron without a PIN matches only the empty PIN (as Koha does).
   * A PIN verified once on this connection is not verified again until the patron session ends.
   */
  async pinMatches(patron: PatronRow, pin: string): Promise<boolean> {
    if (patron.pin_hash === null) return pin === '';
    const digest = createHash('sha256').update(`${patron.id}\u0000${pin}`).digest();
    const known = this.session.verifiedPin;
    if (known && known.patronId === patron.id && timingSafeEqual(known.digest, digest)) return true;
    const ok = await verifySecret(pin, patron.pin_hash);
    if (ok) this.session.verifiedPin = { patronId: patron.id, digest };
    return ok;
  }

  /** True when the request names a PIN (AD, not empty) that is wrong: the operation is refused. */
  async wrongPin(patron: PatronRow | undefined, pin: string | undefined): Promise<boolean> {
    return patron !== undefined && pin !== undefined && pin !== '' && !(await this.pinMatches(patron, pin));
  }

  /**
   * An offline (no-block) transaction's own date, when it is more than a minute in the past and within
   * the account's backlog window; otherwise undefined, and the operation happens now.
   */
  backlogDate(date: Date | null): Date | undefined {
    if (!date) return undefined;
    const t = date.getTime();
    const now = this.now.getTime();
    // Within the last minute is "now" on a terminal whose clock runs a little behind.
    return t < now - OFFLINE_MIN_AGE_MS && t >= now - this.account.offlineMaxAgeDays * DAY ? date : undefined;
  }

  /**
   * The operation context for the circulation core. SIP2 2.00 identifies a retry by its sequence number
   * and checksum: a request sent with error detection and a current (or recent offline) transaction date
   * gets a client transaction id derived from its bytes, so the same request sent again — on this
   * connection or after a reconnect — returns the first result instead of running twice. Without a
   * sequence number, or with a stale or blank date (test scripts, misconfigured clocks), identical
   * requests cannot be told from new ones and each runs (a repeated checkout is then a renewal, never a
   * second loan).
   */
  op(transactionDate: Date | null, at?: Date): OpContext {
    const ctx: OpContext = { channel: 'sip2', branchId: this.account.branchId, actor: this.account.actor };
    if (at) ctx.at = at;
    const t = transactionDate?.getTime();
    const now = this.now.getTime();
    if (this.messageDigest && t !== undefined && t <= now + DAY && t >= now - Math.max(1, this.account.offlineMaxAgeDays) * DAY) {
      // Ordered by time within an account, so the ids of a busy terminal are stored side by side.
      ctx.txnId = `${this.account.actor}:${transactionDate!.toISOString().slice(0, 19)}:${this.messageDigest()}`;
    }
    return ctx;
  }
}

/** SIP2 2.00: the response code that answers each request a handler serves (Block Patron is answered by 24). */
export interface Answers {
  '99': '98'; '23': '24'; '63': '64'; '11': '12'; '09': '10'; '17': '18'; '29': '30'; '65': '66';
  '35': '36'; '37': '38'; '15': '16'; '19': '20'; '25': '26'; '01': '24';
}
export type HandledCode = keyof Answers & RequestCode;

/** One SIP2 message pair: the request it serves and how it answers. */
export interface Handler<C extends HandledCode> {
  code: C;
  handle(req: RequestFor<C>, x: Exchange): ResponseFor<Answers[C]> | Promise<ResponseFor<Answers[C]>>;
  /** The response that refuses this request with a screen message, changing nothing. */
  refuse(req: RequestFor<C>, now: Date, screenMessage: string): ResponseFor<Answers[C]>;
}
