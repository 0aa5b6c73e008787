/**
 * Zigbee readings in SQLite: a batch of messages in one transaction, the minute and hour rollups kept
 * up to date as they come in, retention, and history at a resolution that fits a chart, as columns.
 *
 * Duplicates: every message has a unique id (contract/mqtt.ts), and `reading.event_id` is UNIQUE, so
 * INSERT OR IGNORE drops a QoS 1 redelivery or an outbox resend durably, across restarts, at the cost
 * of one index entry. The id is stored behind the reading's normalised time, `<at>|<id>` (a redelivery
 * or a resend carries both unchanged): readings arrive roughly in time order, so new entries go to the
 * end of that index rather than to random pages of it (the ids are random UUIDs), and a batch dirties
 * a few of its pages rather than about one per reading. A message older than the raw retention is
 * dropped too (`tooOld`): its row would already be pruned, so it could not be told apart from a
 * duplicate, and its rollups are closed.
 * Rollups are pre-merged per batch in memory, then UPSERTed once per (device, key, bucket). Minutes of
 * closed days are then folded into one row per (device, key, UTC day) by MinuteRollups (minute-rollups.ts).
 * Schema and the choices behind it: 004_environment.sql, 005_environment_minutes.sql, docs/environment.md ("Storage").
 */
import type { Statement, Transaction } from 'better-sqlite3';
import type { EnvReadingPayload, ReadingValues } from '../../contract/mqtt.js';
import { DomainError } from '../errors.js';
import { getSetting, type Db } from '../store/db.js';
import { addToBucket, averages, coarsen, emptyBuckets, type Buckets } from './buckets.js';
import { dailyStats, dewPoint, luxHours, mouldRisk, preservationIndex, swingExceedances, timeWeightedPreservationIndex, type Sample } from './metrics.js';
import { MINUTE_MS, MinuteRollups } from './minute-rollups.js';
import type { ZoneProfile } from './profiles.js';

export const NUMERIC_KEYS = ['temperature', 'humidity', 'illuminance', 'battery', 'voltage', 'linkquality', 'position'] as const;
export const BOOLEAN_KEYS = ['smoke', 'water_leak', 'tamper', 'battery_low', 'occupancy', 'contact', 'vibration'] as const;
const STATES = new Set(['ON', 'OFF', 'OPEN', 'CLOSE', 'STOP']);
export type NumericKey = (typeof NUMERIC_KEYS)[number];
export type Resolution = 'raw' | 'minute' | 'hour' | 'auto';
export const isNumericKey = (k: string): k is NumericKey => (NUMERIC_KEYS as readonly string[]).includes(k);

/** A reading as stored: the time normalised to UTC ISO, only well-typed known keys kept. */
export interface StoredReading { id: string; deviceId: string; gatewayId: string; at: string; values: ReadingValues }
export interface IngestResult { accepted: StoredReading[]; duplicates: number; invalid: number; tooOld: number }
/**
 * One key of one device over time, as columns: slot i of min, max, avg and count is one bucket (raw:
 * one reading). Rollup buckets are dense: bucket i starts at `from` + i × `stepMs`, and an empty one
 * has NaN min, max and avg and count 0. Raw readings carry their times in `t` (from, stepMs null).
 */
export interface History {
  deviceId: string; key: NumericKey; resolution: 'raw' | 'minute' | 'hour';
  from: string | null; stepMs: number | null; t: string[] | null;
  min: Float64Array; max: Float64Array; avg: Float64Array; count: Uint32Array;
}

const HOUR = 3_600_000, DAY = 86_400_000;
/** Auto aims at no more than this many points. */
export const AUTO_MAX_POINTS = 2000;
/** Raw answers at most this many readings (else HISTORY_TOO_LARGE). */
export const MAX_POINTS = 100_000;
/** Minute or hour answers at most this many buckets, 400 days of minutes (else HISTORY_TOO_LARGE). */
export const MAX_MINUTE_DAYS = 400;
export const MAX_BUCKETS = MAX_MINUTE_DAYS * 1440;
const STEPS_S = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800];
/** Time each batch, and each hourly prune, may spend folding closed days of minute rollups (at least one series-day). */
const INGEST_FOLD_MS = 2, PRUNE_FOLD_MS = 250;

/** Checks one message; null when it is not a reading (no id, device or parsable time). */
export function normaliseReading(p: unknown): StoredReading | null {
  if (!p || typeof p !== 'object') return null;
  const r = p as Partial<EnvReadingPayload>;
  if (typeof r.id !== 'string' || !r.id || r.id.length > 200 || typeof r.deviceId !== 'string' || !r.deviceId) return null;
  const ms = typeof r.ts === 'string' ? Date.parse(r.ts) : NaN;
  if (!Number.isFinite(ms) || !r.values || typeof r.values !== 'object') return null;
  const values: Record<string, unknown> = {};
  const v = r.values as Record<string, unknown>;
  for (const k of NUMERIC_KEYS) if (typeof v[k] === 'number' && Number.isFinite(v[k])) values[k] = v[k];
  for (const k of BOOLEAN_KEYS) if (typeof v[k] === 'boolean') values[k] = v[k];
  if (typeof v.state === 'string' && STATES.has(v.state)) values.state = v.state;
  return { id: r.id, deviceId: r.deviceId, gatewayId: typeof r.gatewayId === 'string' ? r.gatewayId : '', at: new Date(ms).toISOString(), values: values as ReadingValues };
}

interface Agg { min: number; max: number; sum: number; count: number }
/** One device's numeric keys within one bucket: one map lookup per reading, then one UPSERT per key. */
interface Bucket { device: string; bucket: string; keys: Partial<Record<NumericKey, Agg>> }
const merge = (m: Map<string, Bucket>, device: string, bucket: string, v: ReadingValues) => {
  const id = `${device}\u0000${bucket}`;
  let b = m.get(id);
  if (!b) m.set(id, (b = { device, bucket, keys: {} }));
  for (const k of NUMERIC_KEYS) {
    const x = v[k];
    if (x === undefined) continue;
    const a = b.keys[k];
    if (!a) b.keys[k] = { min: x, max: x, sum: x, count: 1 };
    else { if (x < a.min) a.min = x; if (x > a.max) a.max = x; a.sum += x; a.count++; }
  }
};
const bool = (b: boolean | undefined) => (b === undefined ? null : b ? 1 : 0);

export class ReadingStore {
  private readonly insert: Statement;
  private readonly upsertMinute: Statement;
  private readonly upsertHour: Statement;
  private readonly getLatest: Statement<[string], { at: string; latest: string; key_at: string }>;
  private readonly putLatest: Statement;
  private readonly hourRows: Statement<[string, string, string, string], [string, number, number, number, number]>;
  private readonly txn: Transaction<(body: () => unknown) => unknown>;
  readonly minutes: MinuteRollups;
  /** Why folding failed in ingest (which then stops folding); prune() retries and reports it. */
  private foldFailure: unknown = null;

  constructor(private readonly db: Db, private readonly opts: { rawDays?: number; minuteDays?: number } = {}) {
    this.insert = db.prepare(`INSERT OR IGNORE INTO reading (event_id, device_id, zone_id, at, temperature, humidity, illuminance, battery, voltage,
      linkquality, position, smoke, water_leak, tamper, battery_low, occupancy, contact, vibration, state) VALUES (${Array(19).fill('?').join(', ')})`);
    const upsert = (table: string) => db.prepare(`INSERT INTO ${table} (device_id, key, bucket, min, max, sum, count) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (device_id, key, bucket) DO UPDATE SET min = min(min, excluded.min), max = max(max, excluded.max),
      sum = sum + excluded.sum, count = count + excluded.count`);
    this.upsertMinute = upsert('reading_minute');
    this.upsertHour = upsert('reading_hour');
    this.getLatest = db.prepare('SELECT at, latest, key_at FROM reading_latest WHERE device_id = ?');
    this.putLatest = db.prepare(`INSERT INTO reading_latest (device_id, at, latest, key_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (device_id) DO UPDATE SET at = excluded.at, latest = excluded.latest, key_at = excluded.key_at`);
    this.hourRows = db.prepare<[string, string, string, string], [string, number, number, number, number]>('SELECT bucket, min, max, sum, count FROM reading_hour WHERE device_id = ? AND key = ? AND bucket >= ? AND bucket < ?').raw();
    this.txn = db.transaction((body: () => unknown) => body());
    this.minutes = new MinuteRollups(db);
  }

  /** Runs a body in one immediate transaction. */
  private tx<T>(body: () => T): T { return this.txn.immediate(body) as T; }

  get rawDays() { return this.opts.rawDays ?? getSetting(this.db, 'environment.raw_days', 7); }
  get minuteDays() { return this.opts.minuteDays ?? getSetting(this.db, 'environment.minute_days', 400); }

  /** Stores a batch in one transaction; `zoneOf` names a device's zone for the raw row. */
  ingest(batch: readonly unknown[], now: Date, zoneOf: (deviceId: string) => string | null = () => null): IngestResult {
    const out: IngestResult = { accepted: [], duplicates: 0, invalid: 0, tooOld: 0 };
    const oldest = new Date(now.getTime() - this.rawDays * DAY).toISOString();
    const minute = new Map<string, Bucket>(), hour = new Map<string, Bucket>();
    const touched = new Map<string, StoredReading[]>();
    this.tx(() => {
      for (const p of batch) {
        const r = normaliseReading(p);
        if (!r) { out.invalid++; continue; }
        if (r.at < oldest) { out.tooOld++; continue; }
        const v = r.values;
        const fresh = this.insert.run(`${r.at}|${r.id}`, r.deviceId, zoneOf(r.deviceId), r.at, v.temperature ?? null, v.humidity ?? null, v.illuminance ?? null,
          v.battery ?? null, v.voltage ?? null, v.linkquality ?? null, v.position ?? null, bool(v.smoke), bool(v.water_leak), bool(v.tamper),
          bool(v.battery_low), bool(v.occupancy), bool(v.contact), bool(v.vibration), v.state ?? null).changes > 0;
        if (!fresh) { out.duplicates++; continue; }
        out.accepted.push(r);
        merge(minute, r.deviceId, `${r.at.slice(0, 16)}:00.000Z`, v);
        merge(hour, r.deviceId, `${r.at.slice(0, 13)}:00:00.000Z`, v);
        const list = touched.get(r.deviceId);
        if (list) list.push(r); else touched.set(r.deviceId, [r]);
      }
      for (const [rollup, upsert] of [[minute, this.upsertMinute], [hour, this.upsertHour]] as const) {
        for (const b of rollup.values()) {
          for (const k of NUMERIC_KEYS) { const a = b.keys[k]; if (a) upsert.run(b.device, k, b.bucket, a.min, a.max, a.sum, a.count); }
        }
      }
      for (const [device, readings] of touched) this.mergeLatest(device, readings);
    });
    // After the commit, in a transaction of its own: a failed fold must not cost the batch its readings.
    if (this.foldFailure === null) {
      try { this.minutes.compact(now, INGEST_FOLD_MS); } catch (e) { this.foldFailure = e; }
    }
    return out;
  }

  /** Each key's newest value wins, whatever order the messages came in. */
  private mergeLatest(device: string, readings: StoredReading[]) {
    const row = this.getLatest.get(device);
    const latest: Record<string, unknown> = row ? JSON.parse(row.latest) : {};
    const keyAt: Record<string, string> = row ? JSON.parse(row.key_at) : {};
    let at = row?.at ?? '';
    for (const r of readings) {
      for (const [k, x] of Object.entries(r.values)) {
        if ((keyAt[k] ?? '') <= r.at) { latest[k] = x; keyAt[k] = r.at; }
      }
      if (r.at > at) at = r.at;
    }
    this.putLatest.run(device, at, JSON.stringify(latest), JSON.stringify(keyAt));
  }

  /** Newest value of every key per device (all devices, or the ones named). */
  latest(deviceIds?: readonly string[]): Map<string, { at: string; values: ReadingValues; keyAt: Record<string, string> }> {
    const rows = (deviceIds
      ? deviceIds.map((id) => ({ device_id: id, ...this.getLatest.get(id) })).filter((r) => r.at !== undefined)
      : this.db.prepare('SELECT device_id, at, latest, key_at FROM reading_latest').all()) as { device_id: string; at: string; latest: string; key_at: string }[];
    return new Map(rows.map((r) => [r.device_id, { at: r.at, values: JSON.parse(r.latest) as ReadingValues, keyAt: JSON.parse(r.key_at) as Record<string, string> }]));
  }

  /** Raw readings of one device in [from, to), oldest first, for the preservation metrics. */
  raw(deviceId: string, from: string, to: string): { at: string; values: ReadingValues }[] {
    const rows = this.db.prepare(`SELECT at, temperature, humidity, illuminance FROM reading WHERE device_id = ? AND at >= ? AND at < ? ORDER BY at`)
      .all(deviceId, from, to) as { at: string; temperature: number | null; humidity: number | null; illuminance: number | null }[];
    return rows.map((r) => ({
      at: r.at,
      values: { ...(r.temperature !== null && { temperature: r.temperature }), ...(r.humidity !== null && { humidity: r.humidity }), ...(r.illuminance !== null && { illuminance: r.illuminance }) },
    }));
  }

  /**
   * Retention, in one transaction: raw older than environment.raw_days, minute rollups older than
   * environment.minute_days; hours stay. Then folds closed days of minute rollups for up to
   * PRUNE_FOLD_MS, walking every series again (a late reading may have reopened a folded day), and
   * throws a fold failure that ingest met, once (the feature's tick calls this hourly and logs it).
   */
  prune(now: Date): { raw: number; minute: number; folded: number } {
    const rawCut = new Date(now.getTime() - this.rawDays * DAY).toISOString();
    const minuteCut = new Date(now.getTime() - this.minuteDays * DAY);
    const { raw, minute } = this.tx(() => ({ raw: this.db.prepare('DELETE FROM reading WHERE at < ?').run(rawCut).changes, minute: this.minutes.prune(minuteCut) }));
    const failure = this.foldFailure;
    this.foldFailure = null;
    this.minutes.resettle();
    const folded = this.minutes.compact(now, PRUNE_FOLD_MS);
    if (failure !== null) throw new Error(`folding minute rollups failed in ingest, which stopped folding until now (prune folded ${folded}): ${failure instanceof Error ? failure.message : failure}`, { cause: failure });
    return { raw, minute, folded };
  }

  /**
   * History of one key of one device in [from, to), oldest first: buckets carry min, max, avg and count
   * (raw readings: the value, count 1). `auto`: raw when the range is within raw retention and has
   * ≤ 2000 readings, else the smallest bucket from 1 min to 7 d that gives ≤ 2000, merged from the
   * minute rollups below 1 h (when they still cover the range) and the hour rollups above.
   */
  history(deviceId: string, key: string, from: Date, to: Date, resolution: Resolution, now: Date): History {
    if (!isNumericKey(key)) throw new DomainError('UNKNOWN_READING_KEY', `no history for '${key}' (numeric keys: ${NUMERIC_KEYS.join(', ')})`, 422, { key });
    if (!(to.getTime() > from.getTime())) throw new DomainError('INVALID_RANGE', `'to' (${to.toISOString()}) must be after 'from' (${from.toISOString()})`, 422);
    const f = from.toISOString(), t = to.toISOString(), fromMs = from.getTime(), toMs = to.getTime();
    const base = { deviceId, key };
    if (resolution === 'raw') return { ...base, resolution, ...this.rawColumns(deviceId, key, f, t, MAX_POINTS) };
    if (resolution === 'minute' || resolution === 'hour') {
      const size = resolution === 'minute' ? MINUTE_MS : HOUR;
      // Refused up front, before reading anything.
      const n = Math.ceil((toMs - fromMs) / size);
      if (n > MAX_BUCKETS) {
        throw new DomainError('HISTORY_TOO_LARGE', `${n} ${resolution} buckets asked for; one answer holds at most ${MAX_BUCKETS} (${MAX_MINUTE_DAYS} days of minutes): ask for a shorter range or a coarser resolution (or 'auto')`, 422, { limit: MAX_BUCKETS, buckets: n });
      }
      return { ...base, resolution, ...this.rollup(resolution, deviceId, key, fromMs, toMs, size) };
    }
    const nowMs = now.getTime();
    if (fromMs >= nowMs - this.rawDays * DAY) {
      const n = (this.db.prepare(`SELECT count(*) AS n FROM (SELECT 1 FROM reading WHERE device_id = ? AND at >= ? AND at < ? AND ${key} IS NOT NULL LIMIT ${AUTO_MAX_POINTS + 1})`)
        .get(deviceId, f, t) as { n: number }).n;
      if (n <= AUTO_MAX_POINTS) return { ...base, resolution: 'raw', ...this.rawColumns(deviceId, key, f, t, AUTO_MAX_POINTS) };
    }
    const spanS = (toMs - fromMs) / 1000;
    let step = STEPS_S.find((s) => spanS / s <= AUTO_MAX_POINTS) ?? Math.ceil(spanS / AUTO_MAX_POINTS / 86_400) * 86_400;
    const table = step < 3600 && fromMs >= nowMs - this.minuteDays * DAY ? 'minute' : 'hour';
    if (table === 'hour') step = Math.max(step, 3600);
    return { ...base, resolution: table, ...this.rollup(table, deviceId, key, fromMs, toMs, step * 1000) };
  }

  private rawColumns(deviceId: string, key: NumericKey, f: string, t: string, limit: number) {
    const rows = this.db.prepare(`SELECT at, ${key} FROM reading WHERE device_id = ? AND at >= ? AND at < ? AND ${key} IS NOT NULL ORDER BY at LIMIT ?`)
      .raw().all(deviceId, f, t, limit + 1) as [string, number][];
    if (rows.length > limit) throw new DomainError('HISTORY_TOO_LARGE', `more than ${limit} readings: ask for a shorter range or a coarser resolution (or 'auto')`, 422, { limit });
    const values = Float64Array.from(rows, (r) => r[1]);
    return { from: null, stepMs: null, t: rows.map((r) => r[0]), min: values, max: values.slice(), avg: values.slice(), count: new Uint32Array(rows.length).fill(1) };
  }

  /** Buckets of `stepMs` (a multiple of the table's bucket, UTC-aligned) from the one that holds `fromMs` up to `toMs`. */
  private rollup(table: 'minute' | 'hour', deviceId: string, key: NumericKey, fromMs: number, toMs: number, stepMs: number) {
    const size = table === 'minute' ? MINUTE_MS : HOUR;
    const start = Math.floor(fromMs / size) * size, n = Math.ceil((toMs - start) / size), first = Math.floor(start / stepMs) * stepMs;
    // Minutes come as dense columns (auto merges them only for spans under 42 days); hour rows go
    // straight into their bucket, whatever the span.
    const b = table === 'hour' ? this.hours(deviceId, key, start, start + n * size, first, stepMs)
      : stepMs === size ? this.minutes.read(deviceId, key, start, n) : coarsen(this.minutes.read(deviceId, key, start, n), stepMs / size, (start - first) / size);
    return { from: new Date(first).toISOString(), stepMs, t: null, ...averages(b) };
  }

  /** Hour rows in [startMs, endMs), merged into `stepMs` buckets from `first`. */
  private hours(deviceId: string, key: NumericKey, startMs: number, endMs: number, first: number, stepMs: number): Buckets {
    const b = emptyBuckets(Math.ceil((endMs - first) / stepMs));
    for (const [bucket, min, max, sum, count] of this.hourRows.all(deviceId, key, new Date(startMs).toISOString(), new Date(endMs).toISOString())) {
      addToBucket(b, Math.floor((Date.parse(bucket) - first) / stepMs), min, max, sum, count);
    }
    return b;
  }
}

/** Preservation metrics of a zone over the 24 h before `now`, from its raw readings (docs/environment.md, "Metrics"). */
export function zoneMetrics(store: ReadingStore, devices: { climate?: string; light?: string }, profile: ZoneProfile, now: Date, timeZone: string) {
  const from = new Date(now.getTime() - DAY).toISOString(), to = now.toISOString();
  const climate = devices.climate ? store.raw(devices.climate, from, to) : [];
  // Physically impossible values (a faulty sensor) are left out rather than fail the whole view.
  const sane = { temperature: [-90, 90], humidity: [Number.MIN_VALUE, 100], illuminance: [0, 1e6] } as const;
  const series = (rows: typeof climate, key: keyof typeof sane): Sample[] => rows.flatMap((r) => {
    const v = r.values[key];
    return v !== undefined && v >= sane[key][0] && v <= sane[key][1] ? [{ at: Date.parse(r.at), value: v }] : [];
  });
  const temperature = series(climate, 'temperature'), humidity = series(climate, 'humidity');
  const rhAt = new Map(humidity.map((h) => [h.at, h.value]));
  const pairs = temperature.flatMap((t) => (rhAt.has(t.at as number) ? [{ at: t.at, temperature: t.value, humidity: rhAt.get(t.at as number)! }] : []));
  const last = pairs.at(-1);
  const tDays = dailyStats(temperature, timeZone), hDays = dailyStats(humidity, timeZone);
  return {
    from, to, readings: climate.length,
    preservationIndexYears: last ? preservationIndex(last.temperature, last.humidity) : null,
    twpi: timeWeightedPreservationIndex(pairs),
    dewPoint: last ? dewPoint(last.temperature, last.humidity) : null,
    mouldRisk: mouldRisk(humidity),
    light: devices.light ? luxHours(series(store.raw(devices.light, from, to), 'illuminance')) : null,
    daily: { temperature: tDays, humidity: hDays },
    swingExceeded: {
      temperature: swingExceedances(tDays, profile.stability.maxDailyTempSwing).map((d) => d.date),
      humidity: swingExceedances(hDays, profile.stability.maxDailyRhSwing).map((d) => d.date),
    },
  };
}

export interface CommandLogEntry {
  id: number; at: string; zoneId: string | null; deviceId: string; role: string; gatewayId: string | null; payload: unknown; state: string | null;
  source: 'control' | 'override' | 'failsafe' | 'alarm'; reason: string; actor: string; result: 'pending' | 'ok' | 'error';
  errorCode: string | null; errorMessage: string | null; completedAt: string | null;
}

/** The actuator command log, newest first. */
export function commandLog(db: Db, f: { id?: number; zoneId?: string; deviceId?: string; beforeId?: number; limit?: number } = {}): CommandLogEntry[] {
  const cond: string[] = [], args: unknown[] = [];
  for (const [col, v] of [['id =', f.id], ['zone_id =', f.zoneId], ['device_id =', f.deviceId], ['id <', f.beforeId]] as const) if (v !== undefined) { cond.push(`${col} ?`); args.push(v); }
  const rows = db.prepare(`SELECT * FROM actuator_command ${cond.length ? `WHERE ${cond.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`).all(...args, f.limit ?? 100) as Record<string, any>[];
  return rows.map((r) => ({ id: r.id, at: r.at, zoneId: r.zone_id, deviceId: r.device_id, role: r.role, gatewayId: r.gateway_id, payload: JSON.parse(r.payload), state: r.state,
    source: r.source, reason: r.reason, actor: r.actor, result: r.result, errorCode: r.error_code, errorMessage: r.error_message, completedAt: r.completed_at }));
}

/** Logs a command before it is sent (result 'pending'); returns its id. */
export function logCommand(db: Db, at: Date, c: Omit<CommandLogEntry, 'id' | 'at' | 'result' | 'errorCode' | 'errorMessage' | 'completedAt'>): number {
  return Number(db.prepare('INSERT INTO actuator_command (at, zone_id, device_id, role, gateway_id, payload, state, source, reason, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
    .run(at.toISOString(), c.zoneId, c.deviceId, c.role, c.gatewayId, JSON.stringify(c.payload), c.state, c.source, c.reason, c.actor).lastInsertRowid);
}
export function logCommandResult(db: Db, id: number, at: Date, error: { code: string; message: string } | null): void {
  db.prepare('UPDATE actuator_command SET result = ?, error_code = ?, error_message = ?, completed_at = ? WHERE id = ?').run(error ? 'error' : 'ok', error?.code ?? null, error?.message ?? null, at.toISOString(), id);
}

/** Manual overrides as stored: at most one open per zone and role; a new one closes the old ('expired' or 'replaced'). */
export const overrides = {
  open: (db: Db, zoneId: string, now: Date) => db.prepare('SELECT role, state, set_by, note, until FROM zone_override WHERE zone_id = ? AND cleared_at IS NULL AND until > ?')
    .all(zoneId, now.toISOString()) as { role: string; state: string; set_by: string; note: string | null; until: string }[],
  record(db: Db, zoneId: string, o: { role: string; state: string; until: Date; note?: string }, by: string, now: Date) {
    db.prepare("UPDATE zone_override SET cleared_at = ?, cleared_by = CASE WHEN until <= ? THEN 'expired' ELSE 'replaced' END WHERE zone_id = ? AND role = ? AND cleared_at IS NULL")
      .run(now.toISOString(), now.toISOString(), zoneId, o.role);
    db.prepare('INSERT INTO zone_override (zone_id, role, state, set_by, note, set_at, until) VALUES (?, ?, ?, ?, ?, ?, ?)').run(zoneId, o.role, o.state, by, o.note ?? null, now.toISOString(), o.until.toISOString());
  },
  /** Closes the override in force; false when there is none. */
  close: (db: Db, zoneId: string, role: string, by: string, now: Date) => db.prepare('UPDATE zone_override SET cleared_at = ?, cleared_by = ? WHERE zone_id = ? AND role = ? AND cleared_at IS NULL AND until > ?')
    .run(now.toISOString(), by, zoneId, role, now.toISOString()).changes > 0,
};
