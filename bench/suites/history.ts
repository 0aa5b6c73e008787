// history: one sensor's year at 1-minute resolution through the store, beside the other resolutions it serves, the JSON of it, and folding a closed day.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DomainError } from '../../server/errors.js';
import { emptyBuckets } from '../../server/environment/buckets.js';
import { encodeDay, SLOTS } from '../../server/environment/minute-rollups.js';
import { MAX_MINUTE_DAYS, ReadingStore, type History, type Resolution } from '../../server/environment/store.js';
import { historyBody } from '../../server/http/routes/environment.js';
import { openDb, type Db } from '../../server/store/db.js';
import { median, rng, round } from '../lib/stats.js';
import type { BenchSuite, Figures } from '../lib/suite.js';
import { env } from '../lib/suite.js';

const MIN = 60_000, HOUR = 3_600_000, DAY = 86_400_000;
/** 02:00 UTC: yesterday has closed, and (as on a quiet site just after midnight) it is not folded yet. */
const NOW = Date.parse('2026-03-02T02:00:00.000Z');
const TODAY = NOW - (NOW % DAY), YEAR_AGO = NOW - 365 * DAY;
const DEVICE = 'main-special-climate';
const KEYS = ['temperature', 'humidity', 'battery', 'linkquality'] as const;

/**
 * Rollups as the store keeps them, for the measured sensor and `devices` others, all four keys: a
 * minute a reading. Closed days are day rows (reading_minute_day), written a day at a time across
 * all series as the store folds them, so one series' rows lie spread through the file as in a live
 * store; yesterday and today are minute rows (reading_minute), not folded yet. The measured sensor has
 * a year of minutes, the others `minuteDays`; every sensor has a year of hours.
 */
function fill(db: Db, seed: number, devices: number, minuteDays: number) {
  const random = rng(seed);
  const day = db.prepare('INSERT INTO reading_minute_day (device_id, key, day, data) VALUES (?, ?, ?, ?)');
  const minute = db.prepare('INSERT INTO reading_minute (device_id, key, bucket, min, max, sum, count) VALUES (?, ?, ?, ?, ?, ?, 1)');
  const hour = db.prepare('INSERT INTO reading_hour (device_id, key, bucket, min, max, sum, count) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const others = Array.from({ length: devices }, (_, i) => `bg-${String(i + 1).padStart(3, '0')}-climate`);
  // A slow climate: a daily swing, a seasonal drift, sensor noise; battery draining, link quality wandering.
  const value = (key: (typeof KEYS)[number], t: number, phase: number) => {
    const d = Math.sin(((t % DAY) / DAY) * 2 * Math.PI + phase), season = Math.sin(((t - YEAR_AGO) / (365 * DAY)) * 2 * Math.PI);
    switch (key) {
      case 'temperature': return Math.round((19 + 1.5 * d + 2 * season + (random() - 0.5) * 0.2) * 100) / 100;
      case 'humidity': return Math.round((50 + 4 * d - 5 * season + (random() - 0.5)) * 10) / 10;
      case 'battery': return Math.max(5, 100 - Math.floor(((t - YEAR_AGO) / (365 * DAY)) * 80));
      case 'linkquality': return 60 + Math.floor(random() * 150);
    }
  };
  const series = [{ device: DEVICE, minuteFrom: YEAR_AGO, phase: 0 }, ...others.map((device, i) => ({ device, minuteFrom: NOW - minuteDays * DAY, phase: i / 7 }))];
  const rows = { day: 0, minute: 0, hour: 0 };
  const b = emptyBuckets(SLOTS);
  for (let d = YEAR_AGO - (YEAR_AGO % DAY); d < NOW; d += DAY) {
    db.transaction(() => {
      for (const s of series) {
        for (const key of KEYS) {
          const minutes = d + DAY > s.minuteFrom, open = d >= TODAY - DAY;
          const slots = Math.min(SLOTS, (NOW - d) / MIN);
          for (let i = 0; i < slots; i++) {
            const x = value(key, d + i * MIN, s.phase);
            b.min[i] = b.max[i] = b.sum[i] = x; b.count[i] = 1;
            if (minutes && open) { minute.run(s.device, key, new Date(d + i * MIN).toISOString(), x, x, x); rows.minute++; }
          }
          if (minutes && !open) { day.run(s.device, key, new Date(d).toISOString().slice(0, 10), encodeDay(b)); rows.day++; }
          for (let h = 0; h < slots / 60; h++) {
            let mn = Infinity, mx = -Infinity, sum = 0;
            for (let i = h * 60; i < h * 60 + 60; i++) { mn = Math.min(mn, b.min[i]!); mx = Math.max(mx, b.max[i]!); sum += b.sum[i]!; }
            hour.run(s.device, key, new Date(d + h * HOUR).toISOString(), mn, mx, sum, 60); rows.hour++;
          }
        }
      }
    }).immediate();
  }
  return rows;
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
  summary: "one sensor's one-year history at 1-minute resolution (525,600 buckets) from the minute day rows, and the other resolutions and ranges the store serves",
  async run(log) {
    const runs = env('BENCH_HISTORY_RUNS', 30);
    const devices = env('BENCH_HISTORY_DEVICES', 24);
    const minuteDays = env('BENCH_HISTORY_MINUTE_DAYS', 365);
    const dir = mkdtempSync(join(tmpdir(), 'shelfsense-bench-history-'));
    const file = join(dir, 'library.db');
    const db = openDb(file);
    try {
      const t0 = performance.now();
      const rows = fill(db, env('BENCH_SEED', 20260302), devices, minuteDays);
      db.pragma('wal_checkpoint(TRUNCATE)');
      const buildS = (performance.now() - t0) / 1000, dbMb = statSync(file).size / 2 ** 20;
      log(`filled ${rows.day} minute day rows, ${rows.minute} open minute rows and ${rows.hour} hour rows in ${buildS.toFixed(1)} s (${dbMb.toFixed(0)} MB)`);
      const store = new ReadingStore(db);
      const now = new Date(NOW);
      const history = (from: number, resolution: Resolution) => store.history(DEVICE, 'temperature', new Date(from), now, resolution, now);
      const filled = (h: History) => h.count.reduce((n, c) => n + (c > 0 ? 1 : 0), 0);
      const describe = (h: History) => `${h.count.length} buckets (${filled(h)} with readings) of ${(h.stepMs ?? 0) / 1000} s from reading_${h.resolution}`;
      const line = (what: string, m: { ms: number; min: number; max: number; result: History }) =>
        log(`${what}: ${describe(m.result)}, median ${m.ms.toFixed(2)} ms (min ${m.min.toFixed(2)}, max ${m.max.toFixed(2)})`);

      // The target: a year at 1 minute, 365 day rows and yesterday's and today's minute rows merged.
      const year = time(runs, () => history(YEAR_AGO, 'minute'));
      line("year at 'minute'", year);
      if (year.result.count.length !== 525_600 || filled(year.result) !== 525_600) throw new Error(`a year at 'minute' gave ${describe(year.result)}, not 525,600 filled buckets`);
      const json = time(Math.min(runs, 10), () => JSON.stringify(historyBody(year.result)));
      const jsonMb = Buffer.byteLength(json.result) / 2 ** 20;
      log(`year at 'minute' as the route's JSON: ${jsonMb.toFixed(1)} MB in ${json.ms.toFixed(0)} ms`);

      const yearHour = time(runs, () => history(YEAR_AGO, 'hour'));
      line("year at 'hour'", yearHour);
      const hourJson = time(runs, () => JSON.stringify(historyBody(yearHour.result)));
      const yearAuto = time(runs, () => history(YEAR_AGO, 'auto'));
      line("year at 'auto'", yearAuto);

      // The cap: 400 days of minutes answered, a minute more refused before anything is read.
      const maxMinute = time(Math.min(runs, 10), () => history(NOW - MAX_MINUTE_DAYS * DAY, 'minute'));
      line(`${MAX_MINUTE_DAYS} days at 'minute'`, maxMinute);
      let refusal = '';
      try { history(NOW - MAX_MINUTE_DAYS * DAY - MIN, 'minute'); } catch (e) { if (e instanceof DomainError) refusal = `${e.status} ${e.code}: ${e.message}`; else throw e; }
      log(`${MAX_MINUTE_DAYS} days and a minute at 'minute': ${refusal ? `refused, ${refusal}` : 'served'}`);
      const day90 = time(runs, () => history(NOW - 90 * DAY, 'minute'));
      line("90 days at 'minute'", day90);
      const day90Auto = time(runs, () => history(NOW - 90 * DAY, 'auto'));
      line("90 days at 'auto'", day90Auto);
      const week = time(runs, () => history(NOW - 7 * DAY, 'minute'));
      line("7 days at 'minute'", week);

      // Folding yesterday into day rows, as the store does after midnight: every series of every sensor.
      const t1 = performance.now();
      let folded = 0;
      for (let n = 1; n > 0; folded += n) n = store.minutes.compact(now, 50);
      const foldMs = performance.now() - t1;
      log(`folded ${folded} series-days of yesterday in ${foldMs.toFixed(0)} ms (${(foldMs / Math.max(1, folded)).toFixed(2)} ms each)`);
      const yearFolded = time(runs, () => history(YEAR_AGO, 'minute'));
      line("year at 'minute', yesterday folded", yearFolded);

      const figures: Figures = {
        year_query_ms: { value: round(year.ms), unit: 'ms' },
        year_query_points: { value: year.result.count.length, unit: 'points' },
        year_query_folded_ms: { value: round(yearFolded.ms), unit: 'ms' },
        year_minute_json_ms: { value: round(json.ms), unit: 'ms' },
        year_minute_json_mb: { value: round(jsonMb), unit: 'MB' },
        year_hour_query_ms: { value: round(yearHour.ms), unit: 'ms' },
        year_hour_points: { value: yearHour.result.count.length, unit: 'points' },
        year_hour_json_ms: { value: round(hourJson.ms), unit: 'ms' },
        year_auto_query_ms: { value: round(yearAuto.ms), unit: 'ms' },
        year_auto_points: { value: yearAuto.result.count.length, unit: 'points' },
        minute_max_query_ms: { value: round(maxMinute.ms), unit: 'ms' },
        minute_max_query_points: { value: maxMinute.result.count.length, unit: 'points' },
        minute_over_max_refused: { value: refusal ? 1 : 0, unit: 'bool' },
        minute_90d_query_ms: { value: round(day90.ms), unit: 'ms' },
        minute_7d_query_ms: { value: round(week.ms), unit: 'ms' },
        day90_auto_query_ms: { value: round(day90Auto.ms), unit: 'ms' },
        fold_ms_per_series_day: { value: round(foldMs / Math.max(1, folded)), unit: 'ms' },
        build_s: { value: round(buildS), unit: 's' },
        db_mb: { value: round(dbMb), unit: 'MB' },
      };
      return figures;
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default suite;
