// history: one sensor's year from the rollups, at the finest resolution the store serves for a year; and the minute rollups it serves.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DomainError } from '../../server/errors.js';
import { MAX_POINTS, ReadingStore, type History, type Resolution } from '../../server/environment/store.js';
import { openDb, type Db } from '../../server/store/db.js';
import { median, rng, round } from '../lib/stats.js';
import type { BenchSuite, Figures } from '../lib/suite.js';

const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const MIN = 60_000, HOUR = 3_600_000, DAY = 86_400_000;
const NOW = Date.parse('2026-03-02T02:00:00.000Z');
const YEAR_AGO = NOW - 365 * DAY;
const DEVICE = 'main-special-climate';
const KEYS = ['temperature', 'humidity', 'battery', 'linkquality'] as const;

/**
 * Rollups as the store keeps them (min, max, sum, count per device, key and bucket), written in time
 * order a day at a time across all series, as ingest writes them, so the B-tree pages are split the way
 * a live store's are. The measured sensor has a full year of minute rows for temperature and humidity
 * (525,600 each) and a year of hours for every key; `devices` other sensors have `minuteDays` of minutes
 * and a year of hours for all four keys.
 */
function fill(db: Db, seed: number, devices: number, minuteDays: number): { minuteRows: number; hourRows: number } {
  const random = rng(seed);
  const put = (table: string) => db.prepare(`INSERT INTO ${table} (device_id, key, bucket, min, max, sum, count) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const minute = put('reading_minute'), hour = put('reading_hour');
  const others = Array.from({ length: devices }, (_, i) => `bg-${String(i + 1).padStart(3, '0')}-climate`);
  // A slow climate: a daily swing, a seasonal drift, sensor noise; battery draining, link quality wandering.
  const value = (key: (typeof KEYS)[number], t: number, phase: number) => {
    const day = Math.sin(((t % DAY) / DAY) * 2 * Math.PI + phase), season = Math.sin(((t - YEAR_AGO) / (365 * DAY)) * 2 * Math.PI);
    switch (key) {
      case 'temperature': return Math.round((19 + 1.5 * day + 2 * season + (random() - 0.5) * 0.2) * 100) / 100;
      case 'humidity': return Math.round((50 + 4 * day - 5 * season + (random() - 0.5)) * 10) / 10;
      case 'battery': return Math.max(5, 100 - Math.floor(((t - YEAR_AGO) / (365 * DAY)) * 80));
      case 'linkquality': return 60 + Math.floor(random() * 150);
    }
  };
  let minuteRows = 0, hourRows = 0;
  const series = [{ device: DEVICE, minuteKeys: ['temperature', 'humidity'] as const, minuteFrom: YEAR_AGO, phase: 0 },
    ...others.map((device, i) => ({ device, minuteKeys: KEYS, minuteFrom: NOW - minuteDays * DAY, phase: i / 7 }))];
  for (let day = YEAR_AGO; day < NOW; day += DAY) {
    db.transaction(() => {
      for (const s of series) {
        for (const key of KEYS) {
          const minutes = (s.minuteKeys as readonly string[]).includes(key) && day >= s.minuteFrom;
          for (let h = day; h < day + DAY; h += HOUR) {
            // A sensor reporting every minute: one reading per minute bucket, 60 per hour bucket.
            let mn = Infinity, mx = -Infinity, sum = 0;
            for (let m = h; m < h + HOUR; m += MIN) {
              const x = value(key, m, s.phase);
              if (x < mn) mn = x; if (x > mx) mx = x; sum += x;
              if (minutes) { minute.run(s.device, key, new Date(m).toISOString(), x, x, x, 1); minuteRows++; }
            }
            hour.run(s.device, key, new Date(h).toISOString(), mn, mx, sum, 60); hourRows++;
          }
        }
      }
    }).immediate();
  }
  return { minuteRows, hourRows };
}

/** Median and spread of `runs` timed calls (after two untimed ones). */
function time<T>(runs: number, f: () => T): { ms: number; min: number; max: number; result: T } {
  let result = f(); f();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    result = f();
    ms.push(performance.now() - t);
  }
  return { ms: median(ms), min: Math.min(...ms), max: Math.max(...ms), result };
}

const suite: BenchSuite = {
  name: 'history',
  summary: "one sensor's one-year history from the minute and hour rollups (525,600 minute buckets), and the minute queries the store serves",
  async run(log) {
    const runs = env('BENCH_HISTORY_RUNS', 30);
    const devices = env('BENCH_HISTORY_DEVICES', 24);
    const minuteDays = env('BENCH_HISTORY_MINUTE_DAYS', 7);
    const dir = mkdtempSync(join(tmpdir(), 'shelfsense-bench-history-'));
    const file = join(dir, 'library.db');
    const db = openDb(file);
    try {
      const t0 = performance.now();
      const rows = fill(db, env('BENCH_SEED', 20260302), devices, minuteDays);
      db.pragma('wal_checkpoint(TRUNCATE)');
      const buildS = (performance.now() - t0) / 1000;
      log(`filled ${rows.minuteRows} minute and ${rows.hourRows} hour rows in ${buildS.toFixed(1)} s (${(statSync(file).size / 2 ** 20).toFixed(0)} MB)`);
      const store = new ReadingStore(db);
      const now = new Date(NOW), yearAgo = new Date(YEAR_AGO);
      const history = (from: number, resolution: Resolution) => store.history(DEVICE, 'temperature', new Date(from), now, resolution, now);
      const points = (h: History) => `${h.points.length} points of ${h.bucketSeconds ?? 'raw'} s from reading_${h.resolution}`;

      // A year at 1 minute: the store refuses it before reading anything (more than MAX_POINTS buckets).
      let refusal = '';
      try { history(YEAR_AGO, 'minute'); } catch (e) { if (e instanceof DomainError) refusal = `${e.status} ${e.code}: ${e.message}`; else throw e; }
      if (!refusal) throw new Error('the store answered a year at 1-minute resolution: measure it as year_query_ms');
      log(`year at 'minute': refused, ${refusal}`);

      // The finest resolution it serves for a year: hour (8,760 points); and what 'auto' picks for a year.
      const yearHour = time(runs, () => history(YEAR_AGO, 'hour'));
      log(`year at 'hour': ${points(yearHour.result)}, median ${yearHour.ms.toFixed(2)} ms (min ${yearHour.min.toFixed(2)}, max ${yearHour.max.toFixed(2)})`);
      const yearAuto = time(runs, () => history(YEAR_AGO, 'auto'));
      log(`year at 'auto': ${points(yearAuto.result)}, median ${yearAuto.ms.toFixed(2)} ms`);
      const json = time(runs, () => JSON.stringify(yearHour.result));

      // Minutes: 90 days is 129,600 buckets, also refused; the most it serves is MAX_POINTS minutes (69.4 days).
      let refused90 = false;
      try { history(NOW - 90 * DAY, 'minute'); } catch (e) { if (e instanceof DomainError && e.code === 'HISTORY_TOO_LARGE') refused90 = true; else throw e; }
      log(`90 days at 'minute': ${refused90 ? 'refused (HISTORY_TOO_LARGE)' : 'served'}`);
      const maxMinute = time(runs, () => history(NOW - MAX_POINTS * MIN, 'minute'));
      log(`${MAX_POINTS} minutes at 'minute': ${points(maxMinute.result)}, median ${maxMinute.ms.toFixed(2)} ms`);
      const day90Auto = time(runs, () => history(NOW - 90 * DAY, 'auto'));
      log(`90 days at 'auto': ${points(day90Auto.result)}, median ${day90Auto.ms.toFixed(2)} ms`);
      const week = time(runs, () => history(NOW - 7 * DAY, 'minute'));

      // What the refused queries would cost: the store's own rollup read (the same SQL and mapping), without its cap.
      const rollup = (store as unknown as { rollup(t: string, d: string, k: string, f: string, to: string, step: number | null, limit: number): unknown[] }).rollup.bind(store);
      const uncapped = (from: number) => rollup('minute', DEVICE, 'temperature', new Date(from).toISOString(), now.toISOString(), null, 10_000_000).length;
      const year1m = time(Math.min(runs, 20), () => uncapped(YEAR_AGO));
      const day90m = time(runs, () => uncapped(NOW - 90 * DAY));
      log(`uncapped minute reads: a year ${year1m.result} points in ${year1m.ms.toFixed(1)} ms, 90 days ${day90m.result} in ${day90m.ms.toFixed(1)} ms`);
      if (year1m.result !== 525_600) throw new Error(`a year of minute buckets read ${year1m.result} rows, not 525,600`);

      const figures: Figures = {
        year_query_ms: { value: round(yearHour.ms), unit: 'ms' },
        year_query_points: { value: yearHour.result.points.length, unit: 'points' },
        year_auto_query_ms: { value: round(yearAuto.ms), unit: 'ms' },
        year_auto_points: { value: yearAuto.result.points.length, unit: 'points' },
        year_hour_json_ms: { value: round(json.ms), unit: 'ms' },
        year_minute_refused: { value: refusal ? 1 : 0, unit: 'bool' },
        minute_90d_refused: { value: refused90 ? 1 : 0, unit: 'bool' },
        minute_max_query_ms: { value: round(maxMinute.ms), unit: 'ms' },
        minute_max_query_points: { value: maxMinute.result.points.length, unit: 'points' },
        minute_7d_query_ms: { value: round(week.ms), unit: 'ms' },
        day90_auto_query_ms: { value: round(day90Auto.ms), unit: 'ms' },
        year_minute_uncapped_ms: { value: round(year1m.ms), unit: 'ms' },
        minute_90d_uncapped_ms: { value: round(day90m.ms), unit: 'ms' },
        build_s: { value: round(buildS), unit: 's' },
      };
      return figures;
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default suite;
