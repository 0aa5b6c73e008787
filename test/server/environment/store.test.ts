import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EnvReadingPayload, ReadingValues } from '../../../contract/mqtt.js';
import { setSetting, openDb, type Db } from '../../../server/store/db.js';
import { AUTO_MAX_POINTS, ReadingStore } from '../../../server/environment/store.js';

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
    expect(h.points).toEqual([{ t: '2026-07-15T10:00:00.000Z', min: 19, max: 25, avg: 86.5 / 4, count: 4 }]);
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
  it('prunes raw readings after environment.raw_days and minute rollups after 90 days; hours stay', () => {
    const store = new ReadingStore((open(), db), { rawDays: 400 }); // ingest a long history first
    store.ingest([reading(new Date(NOW.getTime() - 100 * DAY), { temperature: 18 }), reading(new Date(NOW.getTime() - 10 * DAY), { temperature: 19 }),
      reading(new Date(NOW.getTime() - DAY), { temperature: 20 })], NOW);
    setSetting(db, 'environment.raw_days', 7);
    expect(new ReadingStore(db).prune(NOW)).toEqual({ raw: 2, minute: 1 });
    expect((db.prepare('SELECT count(*) AS n FROM reading').get() as { n: number }).n).toBe(1);
    expect((db.prepare('SELECT count(*) AS n FROM reading_minute').get() as { n: number }).n).toBe(2);
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

  it('answers raw, minute and hour points of one key, oldest first', () => {
    const store = open();
    minutes(store, 1);
    const from = new Date(NOW.getTime() - 2 * HOUR), to = new Date(NOW.getTime() - HOUR);
    const raw = store.history('main-reading-climate', 'temperature', from, to, 'raw', NOW);
    expect(raw.points).toHaveLength(60);
    expect(raw.points[0]).toEqual({ t: from.toISOString(), min: 20 + 1320 / 100, max: 20 + 1320 / 100, avg: 20 + 1320 / 100, count: 1 });
    expect(store.history('main-reading-climate', 'temperature', from, to, 'minute', NOW).points).toHaveLength(60);
    const hour = store.history('main-reading-climate', 'temperature', from, to, 'hour', NOW).points;
    expect(hour).toHaveLength(1);
    expect(hour[0]!.avg).toBeCloseTo(20 + (1320 + 1379) / 2 / 100, 9);
  });

  it("'auto' gives raw for few readings, merged minutes for days, merged hours for a year: never more than ~2000 points", () => {
    const store = open();
    minutes(store, 3); // 4320 readings: too many raw points
    const hour = db.prepare("INSERT OR IGNORE INTO reading_hour VALUES ('main-reading-climate', 'temperature', ?, 18, 22, 1200, 60)");
    for (let h = 8760; h > 72; h--) hour.run(new Date(Math.floor((NOW.getTime() - h * HOUR) / HOUR) * HOUR).toISOString());

    const day = store.history('main-reading-climate', 'temperature', new Date(NOW.getTime() - DAY), NOW, 'auto', NOW);
    expect(day).toMatchObject({ resolution: 'raw', bucketSeconds: null });
    expect(day.points).toHaveLength(1440);
    const three = store.history('main-reading-climate', 'temperature', new Date(NOW.getTime() - 3 * DAY), NOW, 'auto', NOW);
    expect(three).toMatchObject({ resolution: 'minute', bucketSeconds: 300 });
    expect(three.points).toHaveLength(864);
    expect(three.points[0]).toMatchObject({ min: 20, max: 20.04, count: 5 });
    expect(three.points[0]!.avg).toBeCloseTo(20.02, 9);

    const started = performance.now();
    const year = store.history('main-reading-climate', 'temperature', new Date(NOW.getTime() - 365 * DAY), NOW, 'auto', NOW);
    const ms = performance.now() - started;
    expect(year).toMatchObject({ resolution: 'hour', bucketSeconds: 21_600 });
    expect(year.points.length).toBeLessThanOrEqual(AUTO_MAX_POINTS);
    expect(year.points.length).toBeGreaterThan(1400);
    expect(ms).toBeLessThan(250); // ~8 ms on a laptop; the bound leaves room for a loaded CI machine
  });

  it('refuses an unknown key, an empty range and an explicit resolution with too many points', () => {
    const store = open();
    const h = (key: string, from: number, to: number, res: 'raw' | 'minute' = 'raw') => () => store.history('d', key, new Date(from), new Date(to), res, NOW);
    expect(h('smoke', 0, 1)).toThrow(expect.objectContaining({ code: 'UNKNOWN_READING_KEY', status: 422 }));
    expect(h('temperature', 5, 5)).toThrow(expect.objectContaining({ code: 'INVALID_RANGE' }));
    expect(h('temperature', NOW.getTime() - 365 * DAY, NOW.getTime(), 'minute')).toThrow(expect.objectContaining({ code: 'HISTORY_TOO_LARGE' }));
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
