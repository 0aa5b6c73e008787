import { SipClient, withChecksum } from './helpers.js';
import type { Sip2Account } from '../../../server/sip2/account.js';

/** Small deterministic PRNG (mulberry32), so a failing fuzz input can be found again from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DATE = '20260302    100000';
const BLANK = ' '.repeat(18);
const IDS = ['AA', 'AB', 'AC', 'AD', 'AO', 'AJ', 'AL', 'AP', 'BI', 'BO', 'BP', 'BQ', 'BS', 'BV', 'BW', 'BY', 'BK', 'CG', 'CH', 'CN', 'CO', 'CP', 'AY', 'AZ', 'ZZ'];
const CODES = ['93', '99', '97', '23', '63', '11', '09', '17', '29', '65', '35', '37', '15', '19', '25', '01', '96', '94', '00', '12'];

/** One well-formed request of every kind, for a patron and an item that exist, and a login as `account`. */
export function validMessages(card: string, barcode: string, account: Pick<Sip2Account, 'login' | 'password'> = { login: 'kiosk-1', password: 'kiosk-secret' }): string[] {
  return [
    '9900302.00', `23001${DATE}AOSHELF|AA${card}|ADx|`, `63001${DATE}YYYYYYYYYYAOSHELF|AA${card}|BP1|BQ5|`,
    `11YN${DATE}${BLANK}AOSHELF|AA${card}|AB${barcode}|`, `11YY${DATE}${DATE}AOSHELF|AA${card}|AB${barcode}|BIY|`,
    `09N${DATE}${DATE}APx|AOSHELF|AB${barcode}|`, `09Y${DATE}20260101    000000APx|AOSHELF|AB${barcode}|`, `17${DATE}AOSHELF|AB${barcode}|`,
    `29NN${DATE}${BLANK}AOSHELF|AA${card}|AB${barcode}|`, `65${DATE}AOSHELF|AA${card}|`, `35${DATE}AOSHELF|AA${card}|`,
    `37${DATE}0100CNYBV1.00|AOSHELF|AA${card}|BKt1|`, `15+${DATE}BW${DATE}|BSmain|AOSHELF|AA${card}|AB${barcode}|`,
    `15-${DATE}AOSHELF|AA${card}|AB${barcode}|`, `15*${DATE}BSeast|AOSHELF|AA${card}|AB${barcode}|`, `19${DATE}AOSHELF|AB${barcode}|CHx|`,
    `25${DATE}AOSHELF|AA${card}|`, `01N${DATE}AOSHELF|ALx|AA${card}|`, '97', `9300CN${account.login}|CO${account.password}|`,
  ];
}

/**
 * Fuzz inputs: random bytes (weighted towards the bytes SIP2 cares about), valid messages mutated
 * (bytes flipped, cut, inserted, repeated, fields shuffled, numbers blown up, checksums right and
 * wrong), and messages assembled from random codes and field ids.
 */
export function fuzzInputs(seed: number, valid: string[]): () => Buffer {
  const r = prng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const SPECIAL = [0x0d, 0x0a, 0x7c, 0x00, 0xff, 0xc3, 0xe4, 0x20, 0x41, 0x59, 0x5a, 0x30, 0x39];
  const byte = () => (r() < 0.4 ? pick(SPECIAL) : int(256));
  const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, byte));

  const mutate = (msg: Buffer): Buffer => {
    let b = Buffer.from(msg);
    for (let k = 1 + int(4); k > 0; k--) {
      const at = int(b.length + 1);
      switch (int(9)) {
        case 0: if (b.length) b[int(b.length)] = byte(); break;
        case 1: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(20)))]); break;
        case 2: b = Buffer.concat([b.subarray(0, at), randomBytes(1 + int(30)), b.subarray(at)]); break;
        case 3: b = b.subarray(0, at); break;
        case 4: b = Buffer.concat([b, b.subarray(at, at + int(200))]); break;
        case 5: b = Buffer.from(b.toString('latin1').split('|').sort(() => r() - 0.5).join('|'), 'latin1'); break;
        case 6: b = Buffer.from(b.toString('latin1').replace(/\d+/, '9'.repeat(1 + int(40))), 'latin1'); break;
        case 7: b = Buffer.from(`${b.toString('latin1')}${pick(IDS)}${'x'.repeat(int(300))}|`, 'latin1'); break;
        case 8: b = Buffer.concat([b.subarray(0, at), Buffer.from(pick(['三体', '\u00a0', '\ufffd', '&#124;', '|||', 'AY', 'AZ']), 'utf8'), b.subarray(at)]); break;
      }
    }
    return b;
  };

  const assembled = () => {
    let s = pick(CODES) + pick(['', 'Y', 'N', '+', '-', '*', '0', '1']).repeat(int(3)) + (r() < 0.7 ? DATE : '') + (r() < 0.4 ? BLANK : '');
    for (let k = int(8); k > 0; k--) s += `${pick(IDS)}${r() < 0.5 ? '' : randomBytes(int(12)).toString('latin1')}|`;
    return Buffer.from(s, 'latin1');
  };

  return () => {
    const kind = r();
    let out: Buffer;
    if (kind < 0.25) out = randomBytes(int(120));
    else if (kind < 0.8) out = mutate(Buffer.from(pick(valid), 'utf8'));
    else out = assembled();
    const roll = r();
    if (roll < 0.15) out = Buffer.from(withChecksum(out.toString('latin1'), int(10)), 'latin1'); // right checksum
    else if (roll < 0.25) out = Buffer.concat([out, Buffer.from(`AY${int(10)}AZ${int(0x10000).toString(16).toUpperCase().padStart(4, '0')}`)]);
    return out;
  };
}

export interface FuzzResult { inputs: number; probes: number; reconnects: number }

/**
 * Sends `count` fuzz inputs to a SIP2 listener over one logged-in connection (reconnecting when the
 * server hangs up, as it does after failed logins), and every `probeEvery` inputs a valid request that
 * must be answered within `probeTimeoutMs`: a server that crashed or hung fails the run.
 */
export async function runFuzz(o: {
  port: number; account: Sip2Account; count: number; seed: number; valid: string[]; probeEvery?: number; probeTimeoutMs?: number;
  onProgress?: (sent: number) => void;
}): Promise<FuzzResult> {
  const next = fuzzInputs(o.seed, o.valid);
  const probeEvery = o.probeEvery ?? 250;
  let reconnects = 0;
  let probes = 0;
  const connect = async () => {
    const c = await SipClient.connect(o.port);
    c.write(`9300CN${o.account.login}|CO${o.account.password}|\r`);
    return c;
  };
  let c = await connect();
  for (let sent = 0; sent < o.count;) {
    const batch: Buffer[] = [];
    for (let i = 0; i < probeEvery && sent < o.count; i++, sent++) batch.push(next(), Buffer.from('\r'));
    const marker = `PROBE${sent}`;
    batch.push(Buffer.from(`17${DATE}AOSHELF|AB${marker}|\r`));
    if (c.ended || c.socket.destroyed) { c = await connect(); reconnects++; }
    c.write(Buffer.concat(batch));
    probes++;
    // Read until the probe's answer; the connection may have been closed on purpose in between.
    const deadline = Date.now() + (o.probeTimeoutMs ?? 10_000);
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no answer to ${marker} within ${o.probeTimeoutMs ?? 10_000} ms (seed ${o.seed})`);
      const line = await c.next(left).catch(() => null);
      if (line === null && c.ended) {
        c = await connect();
        reconnects++;
        c.write(`17${DATE}AOSHELF|AB${marker}|\r`);
        continue;
      }
      if (line === null) throw new Error(`no answer to ${marker} within ${o.probeTimeoutMs ?? 10_000} ms (seed ${o.seed})`);
      if (line.includes(`AB${marker}|`)) break;
    }
    o.onProgress?.(sent);
  }
  c.destroy();
  return { inputs: o.count, probes, reconnects };
}
