import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EnvReadingPayload, ReadingValues } from '../../../contract/mqtt.js';
import { setSetting, openDb, type Db } from '../../../server/store/db.js';
import { AUTO_MAX_POINTS, ReadingStore, type History } from '../../../server/environment/store.js';

const NOW = new Date('2026-07-15T12:00:00.000Z');
const MIN = 60_000, HOUR = 3_600_000, DAY = 86_400_000;
let dir: string, db: Db;
afterEach(() => { db?.close(); rmSync(dir, { recursive: true, force: true }); });

function open() {
  dir = mkdtempSync(join(tmpdir(), 'shelfsense-env-store-'));
  db = openDb(join(dir, 'shelfsense.db'));
  return new ReadingStore(db);
}
let serial = 0;
const reading = (at: Date | string, values: ReadingValues, deviceId = 'main-reading-climate', id = `r-${++serial}`): EnvReadingPayload =>
  ({ id, ts: new Date(at).toISOString(), gatewayId: 'gw-main', deviceId, source: 'zigbee2mqtt', values });
/** A history's columns as plain arrays, bucket by bucket. */
const columns = (h: History) => ({ min: [...h.min], max: [...h.max], avg: [...h.avg], count: [...h.count] });
const rollup = (table: 'minute' | 'hour', key: string, bucket: string) =>
  db.prepare(`SELECT min, max, sum, count FROM reading_${table} WHERE device_id = 'main-reading-climate' AND key = ? AND bucket = ?`).get(key, bucket);

describe('ingest and rollups', () => {
  it('keeps min, max, sum and count per minute and per hour, exactly, however the readings are batched', () => {
    const store = open();
    const t = (iso: string) => `2026-07-15T10:${iso}.000Z`;
    const all = [
      reading(t('00:05'), { temperature: 20, humidity: 50 }), reading(t('00:35'), { temperature: 22.5, humidity: 52 }),
      reading(t('01:10'), { temperature: 25, humidity: 51 }), reading(t('59:59'), { temperature: 19, battery: 80 }),
    ];
    store.ingest(all.slice(0, 1), NOW);
    store.ingest(all.slice(1), NOW); // the second batch merges into the first one's buckets
    expect(rollup('minute', 'temperature', t('00:00'))).toEqual({ min: 20, max: 22.5, sum: 42.5, count: 2 });
    expect(rollup('minute', 'temperature', t('01:00'))).toEqual({ min: 25, max: 25, sum: 25, count: 1 });
    expect(rollup('hour', 'temperature', '2026-07-15T10:00:00.000Z')).toEqual({ min: 19, max: 25, sum: 86.5, count: 4 });
    expect(rollup('hour', 'humidity', '2026-07-15T10:00:00.000Z')).toEqual({ min: 50, max: 52, sum: 153, count: 3 });
    expect(rollup('hour', 'battery', '2026-07-15T10:00:00.000Z')).toEqual({ min: 80, max: 80, sum: 80, count: 1 });
    const h = store.history('main-reading-climate', 'temperature', new Date(t('00:00')), new Date('2026-07-15T11:00:00Z'), 'hour', NOW);
    expect(h).toMatchObject({ resolution: 'hour', from: '2026-07-15T10:00:00.000Z', stepMs: HOUR, t: null });
    expect(columns(h)).toEqual({ min: [19], max: [25], avg: [86.5 / 4], count: [4] });
  });

  it('keeps each key of a device\'s latest values from its newest message, whatever order they came in', () => {
    const store = open();
    store.ingest([reading('2026-07-15T10:05:00Z', { temperature: 21, humidity: 50 }), reading('2026-07-15T10:01:00Z', { temperature: 30, battery: 90 })], NOW);
    expect(store.latest().get('main-reading-climate')).toMatchObject({ at: '2026-07-15T10:05:00.000Z', values: { temperature: 21, humidity: 50, battery: 90 } });
  });

  it('drops a redelivered message (same id), also after a restart, and counts what it refused', () => {
    const store = open();
    const first = reading('2026-07-15T10:00:00Z', { temperature: 20 }, undefined, 'evt-1');
    expect(store.ingest([first, first], NOW)).toMatchObject({ duplicates: 1, invalid: 0 });
    const again = new ReadingStore(db); // a restarted server: the unique event id is in the database
    const r = again.ingest([first, { id: 'x' }, reading(new Date(NOW.getTime() - 8 * DAY), { temperature: 5 })], NOW);
    expect(r).toMatchObject({ accepted: [], duplicates: 1, invalid: 1, tooOld: 1 });
    expect(rollup('minute', 'temperature', '2026-07-15T10:00:00.000Z')).toEqual({ min: 20, max: 20, sum: 20, count: 1 });
    expect((db.prepare('SELECT count(*) AS n FROM reading').get() as { n: number }).n).toBe(1);
  });

  it('keeps only well-typed known keys and normalises the time to UTC', () => {
    const store = open();
    const r = store.ingest([{ ...reading('2026-07-15T18:00:00+08:00', {}), values: { temperature: '21', humidity: 40, smoke: 'yes', contact: false, state: 'ON', colour: 1 } }], NOW);
    expect(r.accepted[0]).toMatchObject({ at: '2026-07-15T10:00:00.000Z', values: { humidity: 40, contact: false, state: 'ON' } });
    expect(Object.keys(r.accepted[0]!.values).sort()).toEqual(['contact', 'humidity', 'state']);
  });
});

describe('retention', () => {
  it('prunes raw readings after environment.raw_days and minute rollups after 400 days; hours stay', () => {
    const store = new ReadingStore((open(), db), { rawDays: 500 }); // ingest a long history first
    store.ingest([reading(new Date(NOW.getTime() - 401 * DAY), { temperature: 18 }), reading(new Date(NOW.getTime() - 10 * DAY), { temperature: 19 }),
      reading(new Date(NOW.getTime() - DAY), { temperature: 20 })], NOW);
    setSetting(db, 'environment.raw_days', 7);
    expect(new ReadingStore(db).prune(NOW)).toMatchObject({ raw: 2, minute: 1 });
    expect((db.prepare('SELECT count(*) AS n FROM reading').get() as { n: number }).n).toBe(1);
    // The two minutes left are in closed days: folded into their day rows by now.
    expect((db.prepare('SELECT day FROM reading_minute_day ORDER BY day').pluck().all())).toEqual(['2026-07-05', '2026-07-14']);
    expect((db.prepare('SELECT count(*) AS n FROM reading_minute').get() as { n: number }).n).toBe(0);
    expect((db.prepare('SELECT count(*) AS n FROM reading_hour').get() as { n: number }).n).toBe(3);
  });
});

describe('history', () => {
  /** One reading a minute (temperature rising 0.01 °C a minute) for `days` days before NOW. */
  function minutes(store: ReadingStore, days: number) {
    const batch: EnvReadingPayload[] = [];
    for (let m = days * 1440; m > 0; m--) batch.push(reading(new Date(NOW.getTime() - m * MIN), { temperature: 20 + (days * 1440 - m) / 100 }));
    for (let i = 0; i < batch.length; i += 5000) store.ingest(batch.slice(i, i + 5000), NOW);
  }

  it('answers raw, minute and hour buckets of one key as columns, oldest first', () => {
    const store = open();
    minutes(store, 1);
    const from = new Date(NOW.getTime() - 2 * HOUR), to = new Date(NOW.getTime() - HOUR);
    const raw = store.history('main-reading-climate', 'temperature', from, to, 'raw', NOW);
    expect(raw).toMatchObject({ resolution: 'raw', from: null, stepMs: null });
    expect(raw.t).toHaveLength(60);
    expect(raw.t![0]).toBe(from.toISOString());
    expect(columns(raw).min.slice(0, 2)).toEqual([20 + 1320 / 100, 20 + 1321 / 100]);
    expect(columns(raw).avg[0]).toBe(20 + 1320 / 100);
    expect(columns(raw).count.every((c) => c === 1)).toBe(true);
    const minute = store.history('main-reading-climate', 'temperature', from, to, 'minute', NOW);
    expect(minute).toMatchObject({ resolution: 'minute', from: from.toISOString(), stepMs: MIN, t: null });
    expect(columns(minute).avg).toEqual(columns(raw).avg);
    const hour = store.history('main-reading-climate', 'temperature', from, to, 'hour', NOW);
    expect(hour.count).toEqual(new Uint32Array([60]));
    expect(hour.avg[0]).toBeCloseTo(20 + (1320 + 1379) / 2 / 100, 9);
  });

  it("'auto' gives raw for few readings, merged minutes for days, merged hours for a year: never more than ~2000 points", () => {
    const store = open();
    minutes(store, 3); // 4320 readings: too many raw points
    const hour = db.prepare("INSERT OR IGNORE INTO reading_hour VALUES ('main-reading-climate', 'temperature', ?, 18, 22, 1200, 60)");
    for (let h = 8760; h > 72; h--) hour.run(new Date(Math.floor((NOW.getTime() - h * HOUR) / HOUR) * HOUR).toISOString());

    const day = store.history('main-reading-climate', 'temperature', new Date(NOW.getTime() - DAY), NOW, 'auto', NOW);
    expect(day).toMatchObject({ resolution: 'raw', stepMs: null });
    expect(day.t).toHaveLength(1440);
    const three = store.history('main-reading-climate', 'temperature', new Date(NOW.getTime() - 3 * DAY), NOW, 'auto', NOW);
    expect(three).toMatchObject({ resolution: 'minute', stepMs: 300_000, from: new Date(NOW.getTime() - 3 * DAY).toISOString() });
    expect(three.count).toHaveLength(864);
    expect([three.min[0], three.max[0], three.count[0]]).toEqual([20, 20.04, 5]);
    expect(three.avg[0]).toBeCloseTo(20.02, 9);
    expect(three.max[863]).toBeCloseTo(20 + 4319 / 100, 9); // the last 5 minutes, from the day still open

    const started = performance.now();
    const year = store.history('main-reading-climate', 'temperature', new Date(NOW.getTime() - 365 * DAY), NOW, 'auto', NOW);
    const ms = performance.now() - started;
    expect(year).toMatchObject({ resolution: 'hour', stepMs: 21_600_000 });
    expect(year.count.length).toBeLessThanOrEqual(AUTO_MAX_POINTS);
    expect(year.count.length).toBe(1460);
    expect(year.count[0]).toBe(360); // six hour rows of 60 readings
    expect(ms).toBeLessThan(250); // ~8 ms on a laptop; the bound leaves room for a loaded CI machine

    const ages = store.history('main-reading-climate', 'temperature', new Date('0001-01-01T00:00:00Z'), NOW, 'auto', NOW); // 17.7 million hours
    expect(ages.count.length).toBeLessThanOrEqual(AUTO_MAX_POINTS + 1);
    expect(ages.count.reduce((a, b) => a + b, 0)).toBe(year.count.reduce((a, b) => a + b, 0));
  });

  it('refuses an unknown key, an empty range and an explicit resolution with too many buckets', () => {
    const store = open();
    const h = (key: string, from: number, to: number, res: 'raw' | 'minute' = 'raw') => () => store.history('d', key, new Date(from), new Date(to), res, NOW);
    expect(h('smoke', 0, 1)).toThrow(expect.objectContaining({ code: 'UNKNOWN_READING_KEY', status: 422 }));
    expect(h('temperature', 5, 5)).toThrow(expect.objectContaining({ code: 'INVALID_RANGE' }));
    expect(h('temperature', NOW.getTime() - 401 * DAY, NOW.getTime(), 'minute')).toThrow(expect.objectContaining({ code: 'HISTORY_TOO_LARGE', status: 422 }));
  });
});

describe('speed', () => {
  it('ingests well over 10 000 readings a second in batches of 500', () => {
    const store = open();
    const batches = Array.from({ length: 40 }, (_, b) => Array.from({ length: 500 }, (_, i) =>
      reading(new Date(NOW.getTime() - HOUR + (b * 500 + i) * 100), { temperature: 20 + (i % 7), humidity: 50 + (i % 5), battery: 90, linkquality: 120 }, `dev-${i % 50}`)));
    const started = performance.now();
    for (const b of batches) store.ingest(b, NOW);
    const perSecond = 20_000 / ((performance.now() - started) / 1000);
    expect(perSecond).toBeGreaterThan(5_000); // ~30 000/s on a laptop; halved for a loaded CI machine
  });
});
