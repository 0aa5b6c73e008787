/**
 * Minute rollups in two tiers (005_environment_minutes.sql, docs/environment.md "Storage"):
 *
 * - `reading_minute`, one row per (device, key, minute), holds the days still open. Ingest UPSERTs
 *   into it, one small row per series and group commit. (Writing a whole day row instead would rewrite
 *   40 KB per series and commit: about 65 ms per commit for 300 sensors × 4 keys, against 4 ms.)
 * - `reading_minute_day`, one row per (device, key, UTC day) of 1,440-slot typed arrays, holds the
 *   closed days: a year of one series is 365 rows.
 *
 * compact() folds each closed day of the first into the second, a bounded slice at a time (ingest and
 * prune call it); read() merges both, so a day may sit in either tier or in both (a late reading after
 * its day was folded) without changing an answer. Minute rows of a database from before 005 are
 * folded the same way.
 */
import type { Statement, Transaction } from 'better-sqlite3';
import type { Db } from '../store/db.js';
import { addToBucket, emptyBuckets, type Buckets } from './buckets.js';

export const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** Minutes in a UTC day: the slots of a day row. */
export const SLOTS = 1440;
/** A day is folded once it ended this long ago, so the readings still on their way when it turned are already in. */
export const FOLD_GRACE_MS = 10 * MINUTE_MS;

type Row = [string, number, number, number, number];

/**
 * A day row's `data`: the bytes of min, max and sum (IEEE-754 float64) and then count (uint32), 1,440
 * each, little-endian (the byte order of every machine Shelfsense runs on; refused elsewhere rather
 * than misread). One blob rather than four: SQLite reads a row's overflow pages once.
 */
export const DAY_BYTES = SLOTS * (3 * 8 + 4);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const checkByteOrder = () => { if (!LITTLE_ENDIAN) throw new Error('minute day rows are little-endian; this machine is big-endian'); };
const section = (i: number) => i * SLOTS * 8;

/** The arrays of one day row (views on `data`: writable, it is the row's own copy). */
export function decodeDay(data: Buffer): Buckets {
  checkByteOrder();
  if (data.byteLength !== DAY_BYTES) throw new Error(`minute day row is ${data.byteLength} bytes, not ${DAY_BYTES}`);
  // SQLite hands each blob over in a fresh buffer (offset 0); a copy covers any other alignment.
  const b = data.byteOffset % 8 === 0 ? data : Buffer.from(data);
  const f64 = (i: number) => new Float64Array(b.buffer, b.byteOffset + section(i), SLOTS);
  return { min: f64(0), max: f64(1), sum: f64(2), count: new Uint32Array(b.buffer, b.byteOffset + section(3), SLOTS) };
}

/** The `data` of one day row. */
export function encodeDay(b: Buckets): Buffer {
  checkByteOrder();
  if (b.count.length !== SLOTS) throw new Error(`a day row has ${SLOTS} slots, not ${b.count.length}`);
  const out = new ArrayBuffer(DAY_BYTES);
  [b.min, b.max, b.sum].forEach((a, i) => new Float64Array(out, section(i), SLOTS).set(a));
  new Uint32Array(out, section(3), SLOTS).set(b.count);
  return Buffer.from(out);
}

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const dayStartMs = (day: string) => Date.parse(`${day}T00:00:00.000Z`);
/** Slot of a bucket '…THH:MM:00.000Z' in its day. */
const minuteOfDay = (bucket: string) => Number(bucket.slice(11, 13)) * 60 + Number(bucket.slice(14, 16));

export class MinuteRollups {
  private readonly nextOpenSeries: Statement<[string, string], [string, string, string]>;
  private readonly openRows: Statement<[string, string, string, string], Row>;
  private readonly deleteOpen: Statement;
  private readonly dayRow: Statement<[string, string, string], Buffer>;
  private readonly putDay: Statement;
  private readonly dayRows: Statement<[string, string, string, string], [string, Buffer]>;
  private readonly nextDaySeries: Statement<[string, string], [string, string]>;
  private readonly txn: Transaction<(body: () => unknown) => unknown>;
  /** The first open day (ISO start) for which a whole pass found nothing left to fold; null: not known. */
  private settled: string | null = null;
  /** A pass under way: the day it folds up to and the last series it finished. */
  private pass: { openFrom: string; device: string; key: string } | null = null;

  constructor(private readonly db: Db) {
    // Row values walk the primary key a series at a time (a skip-scan): one index probe per series.
    this.nextOpenSeries = db.prepare<[string, string], [string, string, string]>('SELECT device_id, key, bucket FROM reading_minute WHERE (device_id, key) > (?, ?) ORDER BY device_id, key, bucket LIMIT 1').raw();
    this.openRows = db.prepare<[string, string, string, string], Row>('SELECT bucket, min, max, sum, count FROM reading_minute WHERE device_id = ? AND key = ? AND bucket >= ? AND bucket < ?').raw();
    this.deleteOpen = db.prepare('DELETE FROM reading_minute WHERE device_id = ? AND key = ? AND bucket >= ? AND bucket < ?');
    this.dayRow = db.prepare<[string, string, string], Buffer>('SELECT data FROM reading_minute_day WHERE device_id = ? AND key = ? AND day = ?').pluck();
    this.putDay = db.prepare('INSERT INTO reading_minute_day (device_id, key, day, data) VALUES (?, ?, ?, ?) ON CONFLICT (device_id, key, day) DO UPDATE SET data = excluded.data');
    this.dayRows = db.prepare<[string, string, string, string], [string, Buffer]>('SELECT day, data FROM reading_minute_day WHERE device_id = ? AND key = ? AND day >= ? AND day <= ? ORDER BY day').raw();
    this.nextDaySeries = db.prepare<[string, string], [string, string]>('SELECT device_id, key FROM reading_minute_day WHERE (device_id, key) > (?, ?) ORDER BY device_id, key LIMIT 1').raw();
    this.txn = db.transaction((body: () => unknown) => body());
  }

  /**
   * Folds the minute rows of closed days (those that ended FOLD_GRACE_MS before `now`) into day rows,
   * series by series, until `budgetMs` is spent (at least one step), in one transaction; the next call
   * goes on where this one stopped. Returns the number of series-days folded. Once a whole pass found
   * nothing, calls cost nothing until a day closes or resettle() is called.
   */
  compact(now: Date, budgetMs = Infinity): number {
    const openFrom = `${isoDay(now.getTime() - FOLD_GRACE_MS)}T00:00:00.000Z`;
    if (this.settled === openFrom) return 0;
    if (this.pass?.openFrom !== openFrom) this.pass = { openFrom, device: '', key: '' };
    const pass = this.pass, started = performance.now();
    let folded = 0;
    this.txn.immediate(() => {
      do {
        const next = this.nextOpenSeries.get(pass.device, pass.key);
        if (!next) { this.settled = openFrom; this.pass = null; return; }
        const [device, key, oldest] = next;
        // Folded: the same series comes back next round with its next oldest minute.
        if (oldest < openFrom) { this.fold(device, key, oldest.slice(0, 10)); folded++; } else { pass.device = device; pass.key = key; }
      } while (performance.now() - started < budgetMs);
    });
    return folded;
  }

  /** Forgets that everything was folded: the next compact() walks every series again (and finds a late reading's minute row of a closed day). */
  resettle(): void { this.settled = null; }

  /** One series-day: its minute rows merged into its day row (created, or merged with what is there), then deleted. */
  private fold(device: string, key: string, day: string) {
    const from = `${day}T00:00:00.000Z`, to = new Date(dayStartMs(day) + DAY_MS).toISOString();
    const row = this.dayRow.get(device, key, day);
    const b = row ? decodeDay(row) : emptyBuckets(SLOTS);
    for (const [bucket, min, max, sum, count] of this.openRows.all(device, key, from, to)) addToBucket(b, minuteOfDay(bucket), min, max, sum, count);
    this.putDay.run(device, key, day, encodeDay(b));
    this.deleteOpen.run(device, key, from, to);
  }

  /** `n` minute buckets of one series from `startMs` (a whole minute), both tiers merged. */
  read(device: string, key: string, startMs: number, n: number): Buckets {
    const b = emptyBuckets(n), endMs = startMs + n * MINUTE_MS;
    // Days do not overlap, and they come first: their slots are copied rather than merged.
    for (const [day, data] of this.dayRows.all(device, key, isoDay(startMs), isoDay(endMs - 1))) {
      const at = (dayStartMs(day) - startMs) / MINUTE_MS; // where the day's slot 0 lands (negative: before startMs)
      const first = Math.max(0, -at), end = Math.min(SLOTS, n - at);
      const d = decodeDay(data);
      b.min.set(d.min.subarray(first, end), at + first);
      b.max.set(d.max.subarray(first, end), at + first);
      b.sum.set(d.sum.subarray(first, end), at + first);
      b.count.set(d.count.subarray(first, end), at + first);
    }
    for (const [bucket, min, max, sum, count] of this.openRows.all(device, key, new Date(startMs).toISOString(), new Date(endMs).toISOString())) {
      addToBucket(b, (Date.parse(bucket) - startMs) / MINUTE_MS, min, max, sum, count);
    }
    return b;
  }

  /** Retention: day rows of days before the one `cut` falls in, and open minute rows before `cut`; per series, each a range of a primary key. */
  prune(cut: Date): number {
    const day = isoDay(cut.getTime()), minute = cut.toISOString();
    const delDays = this.db.prepare('DELETE FROM reading_minute_day WHERE device_id = ? AND key = ? AND day < ?');
    const delOpen = this.db.prepare('DELETE FROM reading_minute WHERE device_id = ? AND key = ? AND bucket < ?');
    return this.txn.immediate(() => {
      let n = 0;
      for (const [device, key] of this.series(this.nextDaySeries)) n += delDays.run(device, key, day).changes;
      for (const [device, key] of this.series(this.nextOpenSeries)) n += delOpen.run(device, key, minute).changes;
      return n;
    }) as number;
  }

  /** Every (device, key) of a table, from a statement giving the one after (device, key). */
  private *series(next: Statement<[string, string], unknown[]>): Generator<[string, string]> {
    let device = '', key = '';
    for (let r = next.get(device, key); r; r = next.get(device, key)) { [device, key] = r as [string, string]; yield [device, key]; }
  }
}
