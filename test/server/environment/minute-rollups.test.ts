import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EnvReadingPayload, ReadingValues } from '../../../contract/mqtt.js';
import { emptyBuckets } from '../../../server/environment/buckets.js';
import { decodeDay, encodeDay, FOLD_GRACE_MS, SLOTS } from '../../../server/environment/minute-rollups.js';
import { MAX_BUCKETS, ReadingStore } from '../../../server/environment/store.js';
import { historyBody } from '../../../server/http/routes/environment.js';
import { getSetting, listMigrations, migrate, openDb, setSetting, type Db } from '../../../server/store/db.js';

const MIN = 60_000, HOUR = 3_600_000, DAY = 86_400_000;
const DEVICE = 'main-reading-climate';
const NOW = new Date('2026-07-15T12:00:00.000Z');
let dir: string, db: Db;
afterEach(() => { db?.close(); rmSync(dir, { recursive: true, force: true }); });

function open(opts: ConstructorParameters<typeof ReadingStore>[1] = {}) {
  dir = mkdtempSync(join(tmpdir(), 'shelfsense-env-minutes-'));
  db = openDb(join(dir, 'shelfsense.db'));
  return new ReadingStore(db, opts);
}
let serial = 0;
const reading = (at: string | number, values: ReadingValues, deviceId = DEVICE): EnvReadingPayload =>
  ({ id: `r-${++serial}`, ts: new Date(at).toISOString(), gatewayId: 'gw-main', deviceId, source: 'zigbee2mqtt', values });
const dayRow = (day: string, key = 'temperature', device = DEVICE) => {
  const data = db.prepare('SELECT data FROM reading_minute_day WHERE device_id = ? AND key = ? AND day = ?').pluck().get(device, key, day) as Buffer | undefined;
  return data && decodeDay(data);
};
const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
/** A history's columns as plain arrays, bucket by bucket. */
const columns = (h: { min: Float64Array; max: Float64Array; avg: Float64Array; count: Uint32Array }) => ({ min: [...h.min], max: [...h.max], avg: [...h.avg], count: [...h.count] });

describe('day rows', () => {
  it('folds a closed day into one row: each reading in its minute slot, min, max, sum and count exact', () => {
    const store = open();
    store.ingest([
      reading('2026-07-14T10:07:05Z', { temperature: 20, humidity: 50 }), reading('2026-07-14T10:07:55Z', { temperature: 22.5 }),
      reading('2026-07-14T00:00:00Z', { temperature: 18 }), reading('2026-07-14T23:59:59.999Z', { temperature: 19 }),
    ], new Date('2026-07-14T23:59:59.999Z')); // yesterday, seen from then: still open
    store.ingest([reading('2026-07-14T10:07:30Z', { temperature: 21 })], new Date('2026-07-14T23:59:59.999Z')); // a second batch, the same minute
    expect(count('reading_minute_day')).toBe(0);

    expect(store.minutes.compact(NOW)).toBe(2); // temperature and humidity of 2026-07-14
    const t = dayRow('2026-07-14')!;
    const slot = 10 * 60 + 7;
    expect([t.min[slot], t.max[slot], t.sum[slot], t.count[slot]]).toEqual([20, 22.5, 63.5, 3]);
    expect([t.min[0], t.count[0], t.min[SLOTS - 1], t.count[SLOTS - 1]]).toEqual([18, 1, 19, 1]);
    expect([t.min[1], t.max[1], t.sum[1], t.count[1]]).toEqual([NaN, NaN, 0, 0]); // an empty minute
    expect(t.count.reduce((a, b) => a + b, 0)).toBe(5);
    expect(dayRow('2026-07-14', 'humidity')!.count[slot]).toBe(1);
    expect(count('reading_minute')).toBe(0); // folded rows are gone from the open tier

    const h = store.history(DEVICE, 'temperature', new Date('2026-07-14T10:06:00Z'), new Date('2026-07-14T10:09:00Z'), 'minute', NOW);
    expect(columns(h)).toEqual({ min: [NaN, 20, NaN], max: [NaN, 22.5, NaN], avg: [NaN, 63.5 / 3, NaN], count: [0, 3, 0] });
  });

  it('folds a day only once it ended FOLD_GRACE_MS ago, and reads across midnight from both tiers', () => {
    const store = open();
    const batch = [];
    for (let m = -5; m < 5; m++) batch.push(reading(Date.parse('2026-07-15T00:00:00Z') + m * MIN, { temperature: 20 + m }));
    store.ingest(batch, new Date('2026-07-15T00:05:00Z'));
    const midnight = Date.parse('2026-07-15T00:00:00Z');
    expect(store.minutes.compact(new Date(midnight + FOLD_GRACE_MS - 1))).toBe(0); // readings of 23:59 may still be on their way
    expect(store.minutes.compact(new Date(midnight + FOLD_GRACE_MS))).toBe(1);
    expect(dayRow('2026-07-14')!.count.reduce((a, b) => a + b, 0)).toBe(5);
    expect(count('reading_minute')).toBe(5); // today's minutes stay where ingest merges them

    const h = store.history(DEVICE, 'temperature', new Date('2026-07-14T23:57:00Z'), new Date('2026-07-15T00:03:00Z'), 'minute', NOW);
    expect(h).toMatchObject({ from: '2026-07-14T23:57:00.000Z', stepMs: MIN });
    expect(columns(h).min).toEqual([17, 18, 19, 20, 21, 22]);
  });

  it('merges a late reading into the day row it was already folded into', () => {
    const store = open();
    store.ingest([reading('2026-07-14T08:00:10Z', { temperature: 20 })], NOW);
    store.minutes.compact(NOW);
    store.ingest([reading('2026-07-14T08:00:50Z', { temperature: 25 }), reading('2026-07-14T09:00:00Z', { temperature: 21 })], NOW); // an outbox resend
    const slot = 8 * 60;
    const read = () => columns(store.history(DEVICE, 'temperature', new Date('2026-07-14T08:00:00Z'), new Date('2026-07-14T08:01:00Z'), 'minute', NOW));
    expect(read()).toEqual({ min: [20], max: [25], avg: [22.5], count: [2] }); // the day row and the open minute, merged
    store.prune(NOW); // walks every series again
    expect(count('reading_minute')).toBe(0);
    const t = dayRow('2026-07-14')!;
    expect([t.min[slot], t.max[slot], t.sum[slot], t.count[slot], t.count[slot + 60]]).toEqual([20, 25, 45, 2, 1]);
    expect(read()).toEqual({ min: [20], max: [25], avg: [22.5], count: [2] });
  });

  it('folds a bounded slice per call and goes on where it stopped', () => {
    const store = open({ rawDays: 30 });
    const batch = [];
    for (let d = 1; d <= 3; d++) for (const device of ['a', 'b']) batch.push(reading(NOW.getTime() - d * DAY, { temperature: d, humidity: d }, device));
    store.ingest(batch, new Date(NOW.getTime() - 3 * DAY)); // seen from then, none of these days has closed
    const left = () => (db.prepare('SELECT count(*) AS n FROM (SELECT DISTINCT device_id, key, substr(bucket, 1, 10) FROM reading_minute)').get() as { n: number }).n;
    const before = left();
    expect(before).toBeGreaterThan(0);
    expect(store.minutes.compact(NOW, 0)).toBe(1);
    expect(left()).toBe(before - 1);
    while (store.minutes.compact(NOW, 0) > 0);
    expect(left()).toBe(0);
    expect(count('reading_minute_day')).toBe(12);
    expect(store.minutes.compact(NOW, 0)).toBe(0); // settled: nothing to walk until a day closes
  });

  it('keeps storing readings when a fold fails, and prune reports it', () => {
    const store = open();
    store.ingest([reading('2026-07-14T08:00:00Z', { temperature: 20 })], new Date('2026-07-14T12:00:00Z'));
    db.prepare("INSERT INTO reading_minute_day (device_id, key, day, data) VALUES (?, 'temperature', '2026-07-14', x'00')").run(DEVICE);
    const r = store.ingest([reading('2026-07-15T11:00:00Z', { temperature: 21 })], NOW); // 2026-07-14 has closed: the fold fails
    expect(r.accepted).toHaveLength(1);
    expect(count('reading')).toBe(2);
    expect(() => store.prune(NOW)).toThrow('minute day row is 1 bytes, not 40320'); // prune's own fold
    store.ingest([reading('2026-07-15T11:01:00Z', { temperature: 21 })], NOW); // fails again: ingest stops folding
    db.prepare('DELETE FROM reading_minute_day').run(); // repaired
    expect(() => store.prune(NOW)).toThrow(/^folding minute rollups failed in ingest, which stopped folding until now \(prune folded 1\): minute day row is 1 bytes, not 40320$/);
    expect(store.prune(NOW)).toMatchObject({ folded: 0 });
    expect(dayRow('2026-07-14')!.count[8 * 60]).toBe(1);
  });
});

describe('retention', () => {
  it('drops day rows older than environment.minute_days (400 by default) and keeps the rest', () => {
    const store = open({ rawDays: 500 });
    store.ingest([401, 400, 399, 1].map((d) => reading(NOW.getTime() - d * DAY, { temperature: d })), NOW);
    store.minutes.compact(NOW);
    expect(count('reading_minute_day')).toBe(4);
    expect(getSetting(db, 'environment.minute_days', 0)).toBe(400);
    // The cut is 400 days before NOW, 2025-06-10T12:00Z: the day before it goes, the day it falls in stays.
    expect(store.prune(NOW)).toMatchObject({ minute: 1 });
    expect(db.prepare('SELECT day FROM reading_minute_day ORDER BY day').pluck().all()).toEqual(['2025-06-10', '2025-06-11', '2026-07-14']);
    setSetting(db, 'environment.minute_days', 30);
    expect(store.prune(NOW)).toMatchObject({ minute: 2 });
    expect(db.prepare('SELECT day FROM reading_minute_day').pluck().all()).toEqual(['2026-07-14']);
  });
});

describe('upgrade from 004', () => {
  it('keeps the minute rows of an older database: read at once, folded into day rows, nothing lost', () => {
    dir = mkdtempSync(join(tmpdir(), 'shelfsense-env-minutes-'));
    const file = join(dir, 'shelfsense.db');
    const old = new Database(file);
    migrate(old, listMigrations().filter((m) => m.version <= 4));
    const put = old.prepare("INSERT INTO reading_minute (device_id, key, bucket, min, max, sum, count) VALUES (?, 'temperature', ?, ?, ?, ?, ?)");
    // 90 days of minutes (every 7th), as 004 kept them, up to NOW.
    let rows = 0;
    old.transaction(() => {
      for (let at = NOW.getTime() - 90 * DAY; at < NOW.getTime(); at += 7 * MIN) { put.run(DEVICE, new Date(at).toISOString(), 10, 30, 40, 2); rows++; }
    })();
    expect(old.prepare("SELECT value FROM setting WHERE key = 'environment.minute_days'").pluck().get()).toBe('90');
    old.close();

    db = openDb(file); // applies 005 and anything after it
    expect(getSetting(db, 'environment.minute_days', 0)).toBe(400);
    expect(count('reading_minute')).toBe(rows);
    const store = new ReadingStore(db);
    const h = () => store.history(DEVICE, 'temperature', new Date(NOW.getTime() - 91 * DAY), NOW, 'minute', NOW);
    const before = h();
    expect(before.count.reduce((a, b) => a + b, 0)).toBe(2 * rows);
    while (store.minutes.compact(NOW, 5) > 0);
    expect(count('reading_minute_day')).toBe(90); // 89 closed days and the start of the 90th back
    expect(count('reading_minute')).toBe(Math.ceil((12 * 60) / 7)); // today's minutes stay open
    const after = h();
    expect(columns(after)).toEqual(columns(before));
    const week = 1440 + 7 * 1440; // a week after the first row
    expect([after.min[week], after.max[week], after.avg[week], after.count[week]]).toEqual([10, 30, 20, 2]);
  });
});

describe('a year at one minute', () => {
  /** A year of day rows for one series, one reading a minute: the value is the minute of the day. */
  function year(store: ReadingStore) {
    const b = emptyBuckets(SLOTS);
    for (let i = 0; i < SLOTS; i++) { b.min[i] = b.max[i] = b.sum[i] = i; b.count[i] = 1; }
    const put = db.prepare("INSERT INTO reading_minute_day (device_id, key, day, data) VALUES (?, 'temperature', ?, ?)");
    const row = encodeDay(b);
    db.transaction(() => { for (let d = 365; d >= 1; d--) put.run(DEVICE, new Date(NOW.getTime() - d * DAY).toISOString().slice(0, 10), row); })();
    store.ingest([reading(NOW.getTime() - 30 * MIN, { temperature: -5 })], NOW); // and today, still open
  }

  it('answers 525,600 buckets as columns, and the route writes them as JSON arrays', () => {
    const store = open();
    year(store);
    const from = new Date(NOW.getTime() - 365 * DAY);
    const h = store.history(DEVICE, 'temperature', from, NOW, 'minute', NOW);
    expect(h).toMatchObject({ resolution: 'minute', from: from.toISOString(), stepMs: MIN, t: null });
    expect(h.min).toBeInstanceOf(Float64Array);
    expect(h.count).toHaveLength(525_600);
    // The first bucket is 12:00 UTC of a day row's day; the last half day is today's open rows.
    expect([h.min[0], h.avg[0], h.count[0]]).toEqual([720, 720, 1]);
    expect([h.max[720 + 59], h.count[364 * 1440 + 719]]).toEqual([59, 1]);
    expect(columns(h).count.slice(-720).reduce((a, b) => a + b, 0)).toBe(1);
    expect(h.min[525_600 - 30]).toBe(-5);

    const body = JSON.parse(JSON.stringify(historyBody(store.history(DEVICE, 'temperature', new Date(NOW.getTime() - 32 * MIN), new Date(NOW.getTime() - 28 * MIN), 'minute', NOW))));
    expect(body).toEqual({ deviceId: DEVICE, key: 'temperature', resolution: 'minute', from: new Date(NOW.getTime() - 32 * MIN).toISOString(), stepMs: MIN, t: null,
      min: [null, null, -5, null], max: [null, null, -5, null], avg: [null, null, -5, null], count: [0, 0, 1, 0] });
  });

  it('answers up to 400 days at one minute and refuses more before reading anything', () => {
    const store = open();
    year(store);
    const h = store.history(DEVICE, 'temperature', new Date(NOW.getTime() - 400 * DAY), NOW, 'minute', NOW);
    expect(h.count).toHaveLength(MAX_BUCKETS);
    expect(columns(h).count.reduce((a, b) => a + b, 0)).toBe(365 * 1440 + 1);
    expect(() => store.history(DEVICE, 'temperature', new Date(NOW.getTime() - 400 * DAY - MIN), NOW, 'minute', NOW))
      .toThrow(expect.objectContaining({ code: 'HISTORY_TOO_LARGE', status: 422, message: expect.stringContaining('400 days of minutes'), detail: { limit: 576_000, buckets: 576_001 } }));
    expect(store.history(DEVICE, 'temperature', new Date(NOW.getTime() - 3650 * DAY), NOW, 'hour', NOW).count).toHaveLength(3650 * 24); // ten years of hours
  });

  it("gives 'auto' half-hour buckets from the day rows for a month", () => {
    const store = open();
    year(store);
    const h = store.history(DEVICE, 'temperature', new Date(NOW.getTime() - 30 * DAY), NOW, 'auto', NOW);
    expect(h).toMatchObject({ resolution: 'minute', stepMs: HOUR / 2 });
    expect(h.count).toHaveLength(30 * 48);
    expect([h.min[0], h.max[0], h.avg[0], h.count[0]]).toEqual([720, 749, 734.5, 30]);
    expect([h.min.at(-1), h.count.at(-1)]).toEqual([-5, 1]); // 11:30 today, from the open rows
  });
});
