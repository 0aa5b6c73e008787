import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, type Db } from '../../../server/store/db.js';
import { fixedClock } from '../../../server/clock.js';
import { Circulation } from '../../../server/circulation/circulation.js';
import { upsertPolicyRule, type PolicyRuleInput } from '../../../server/circulation/policy.js';
import { createRecord } from '../../../server/catalogue/records.js';
import { createItem, type ItemInput } from '../../../server/catalogue/items.js';
import { createPatron, insertPatron, type PatronInput } from '../../../server/patrons/patrons.js';
import { checksum } from '../../../server/sip2/checksum.js';
import { startSip2Server, type RunningSip2, type Sip2ServerOptions } from '../../../server/sip2/server.js';
import type { Sip2Account } from '../../../server/sip2/account.js';

/** Monday 2 March 2026, 10:00 in Asia/Shanghai (the default library time zone). */
export const MONDAY_10H = '2026-03-02T02:00:00.000Z';
/** The same instant as a SIP2 date, local time. */
export const SIP_MONDAY_10H = '20260302    100000';
export const DAY = 86_400_000;

export const KIOSK: Sip2Account = { login: 'kiosk-1', password: 'kiosk-secret', institutionId: 'SHELF', branchId: 'main' };

/**
 * A small real library in a fresh SQLite file (branches `main` and `east`, open Monday to Saturday)
 * with a SIP2 listener on 127.0.0.1, a free port, and a fixed clock shared by the listener and the core.
 */
export async function openSip2Library(opts: { accounts?: Sip2Account[]; server?: Partial<Sip2ServerOptions>; now?: string } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsense-sip2-'));
  const db: Db = openDb(join(dir, 'library.db'));
  const clock = fixedClock(opts.now ?? MONDAY_10H);
  const created = new Date(opts.now ?? MONDAY_10H);
  for (const id of ['main', 'east']) {
    db.prepare('INSERT INTO branch (id, name) VALUES (?, ?)').run(id, `${id} library`);
    for (const w of [1, 2, 3, 4, 5, 6]) db.prepare("INSERT INTO opening_hours (branch_id, weekday, opens, closes) VALUES (?, ?, '08:00', '22:00')").run(id, w);
  }
  const circ = new Circulation(db, clock);
  const logs: string[] = [];
  const server: RunningSip2 = await startSip2Server({
    db, circulation: circ, accounts: opts.accounts ?? [KIOSK], host: '127.0.0.1', port: 0, clock, log: (l) => logs.push(l), ...opts.server,
  });
  const clients: SipClient[] = [];
  let serial = 0;
  const lib = {
    dir, db, clock, circ, server, logs,
    record(title = `Title ${++serial}`) { return createRecord(db, { title }, created).id; },
    item(recordId: number, over: Partial<ItemInput> = {}) {
      return createItem(db, { recordId, barcode: `B${String(++serial).padStart(6, '0')}`, homeBranch: 'main', location: 'stacks', ...over }, created);
    },
    book(over: Partial<ItemInput> = {}, title?: string) { return lib.item(lib.record(title), over); },
    patron(over: Partial<PatronInput> = {}) {
      return insertPatron(db, { cardNumber: `P${String(++serial).padStart(6, '0')}`, name: `Reader ${serial}`, category: 'undergraduate', expiryDate: '2030-12-31', ...over }, null, created);
    },
    patronWithPin(pin: string, over: Partial<PatronInput> = {}) {
      return createPatron(db, { cardNumber: `P${String(++serial).padStart(6, '0')}`, name: `Reader ${serial}`, category: 'undergraduate', expiryDate: '2030-12-31', ...over, pin }, created);
    },
    rule(input: PolicyRuleInput) { upsertPolicyRule(db, input); circ.reload(); },
    /** A connected client; logged in as `account` unless it is null. */
    async client(account: Sip2Account | null = KIOSK, o: { errorDetection?: boolean; encoding?: BufferEncoding } = {}) {
      const c = await SipClient.connect(server.port, o);
      clients.push(c);
      if (account) {
        const r = await c.send(`9300CN${account.login}|CO${account.password}|CPmain|`);
        if (r !== '941' && !r.startsWith('941AY')) throw new Error(`login failed: ${r}`);
      }
      return c;
    },
    openLoans(itemId: number) { return db.prepare('SELECT * FROM loan WHERE item_id = ? AND closed_at IS NULL').all(itemId) as Record<string, unknown>[]; },
    events() { return db.prepare('SELECT * FROM circ_event ORDER BY id').all() as Record<string, unknown>[]; },
    /** Every table circulation writes, for "nothing changed" checks. */
    snapshot() {
      const t = (name: string) => db.prepare(`SELECT * FROM ${name} ORDER BY rowid`).all();
      return { item: t('item'), loan: t('loan'), hold: t('hold'), fee: t('fee'), payment: t('payment'), patron: t('patron'), circ_event: t('circ_event') };
    },
    async close() {
      for (const c of clients) c.destroy();
      await server.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return lib;
}
export type Sip2Library = Awaited<ReturnType<typeof openSip2Library>>;

/** Appends `AY<seq>AZ<checksum>` to a message, as an SC with error detection does. */
export const withChecksum = (message: string, seq?: number) => {
  const head = `${message}${seq === undefined ? '' : `AY${seq}`}AZ`;
  return head + checksum(Buffer.from(head, 'utf8'));
};

/** A SIP2 test client over real TCP: sends a message, waits for the next response (terminator stripped). */
export class SipClient {
  private buffer = Buffer.alloc(0);
  private readonly waiting: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  /** Set once the server has closed the connection. */
  ended = false;
  private readonly lines: string[] = [];
  private seq = 0;
  closed: Promise<void>;

  private constructor(readonly socket: net.Socket, private readonly o: { errorDetection?: boolean; encoding?: BufferEncoding }) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      let i: number;
      while ((i = this.buffer.indexOf(0x0d)) !== -1) {
        let line = this.buffer.subarray(0, i);
        this.buffer = this.buffer.subarray(this.buffer[i + 1] === 0x0a ? i + 2 : i + 1);
        if (line[0] === 0x0a) line = line.subarray(1);
        const text = line.toString(this.o.encoding ?? 'utf8');
        const w = this.waiting.shift();
        if (w) w.resolve(text); else this.lines.push(text);
      }
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.ended = true;
      for (const w of this.waiting.splice(0)) w.reject(new Error('connection closed'));
      resolve();
    }));
  }

  static connect(port: number, o: { errorDetection?: boolean; encoding?: BufferEncoding } = {}): Promise<SipClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new SipClient(socket, o)));
      socket.once('error', reject);
    });
  }

  /** The next response; a rejection after `ms` without one, or when the connection closes. */
  next(ms = 5000): Promise<string> {
    const ready = this.lines.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.ended) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiting.splice(this.waiting.indexOf(w), 1); reject(new Error('no SIP2 response')); }, ms);
      const w = {
        resolve: (line: string) => { clearTimeout(timer); resolve(line); },
        reject: (e: Error) => { clearTimeout(timer); reject(e); },
      };
      this.waiting.push(w);
    });
  }

  /** Sends one message (with AY/AZ when the client uses error detection) and returns the response. */
  send(message: string, terminator = '\r'): Promise<string> {
    const text = this.o.errorDetection ? withChecksum(message, this.seq++ % 10) : message;
    this.write(Buffer.from(text + terminator, this.o.encoding ?? 'utf8'));
    return this.next();
  }

  write(bytes: Buffer | string) { this.socket.write(bytes); }

  destroy() { this.socket.destroy(); }
}

/** SIP2 2.00 fixed-part lengths of each response after its two-character code, written out from the spec. */
export const FIXED_LENGTH: Record<string, number> = {
  '94': 1, '98': 34, '24': 35, '64': 59, '12': 22, '10': 22, '18': 24, '30': 22, '66': 27, '36': 19, '38': 19, '16': 20, '20': 19, '26': 35, '96': 0,
};

export interface Parsed { code: string; fixed: string; fields: Record<string, string[]>; raw: string }

/** Splits a response into its code, fixed part and variable fields by id (repeatable ids in order). */
export function parse(response: string): Parsed {
  const code = response.slice(0, 2);
  const len = FIXED_LENGTH[code];
  if (len === undefined) throw new Error(`unexpected response ${JSON.stringify(response)}`);
  const fields: Record<string, string[]> = {};
  const rest = response.slice(2 + len);
  if (rest.length > 0 && !rest.endsWith('|') && !/AZ[0-9A-F]{4}$/.test(rest)) throw new Error(`fields not delimited: ${JSON.stringify(response)}`);
  for (const part of rest.split('|')) {
    if (part.length < 2) continue;
    (fields[part.slice(0, 2)] ??= []).push(part.slice(2));
  }
  return { code, fixed: response.slice(2, 2 + len), fields, raw: response };
}

/** The first value of field `id` in a response, or undefined when it is absent. */
export const field = (response: string, id: string) => parse(response).fields[id]?.[0];
