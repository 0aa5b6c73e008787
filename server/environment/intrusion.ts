/**
 * Intrusion detection per branch: staff arm and disarm (librarians and admins alike: whoever locks
 * up), the opening hours arm it at closing time and disarm it at opening. Arming runs an exit delay
 * (setting intrusion.exit_delay_s, default 5 min), then it is armed. While armed, motion
 * (occupancy true), a door opening (contact false) or a beam (occupancy true or contact false) starts
 * an entry delay (intrusion.entry_delay_s, default 30 s); disarming in it cancels it, else an
 * intrusion alarm is raised. Arming is refused while a door reads open, unless that door is bypassed
 * (bypasses last until the next disarm). Disarmed, the same readings do nothing.
 * A door still open when the exit delay ends trips the entry delay, as an exit fault on a panel does.
 * State is in intrusion_state, so a running delay survives a restart; each operation is one transaction.
 */
import type { Transaction } from 'better-sqlite3';
import type { ReadingValues } from '../../contract/mqtt.js';
import { Calendars, addDays, localDate, zonedTimeToUtc } from '../circulation/calendar.js';
import { systemClock, type Clock } from '../clock.js';
import { DomainError } from '../errors.js';
import { getSetting, type Db } from '../store/db.js';

export type IntrusionMode = 'disarmed' | 'arming' | 'armed';
export const INTRUSION_ROLES = ['motion', 'contact', 'beam'] as const;
export const SCHEDULE = 'schedule';

export class IntrusionError extends DomainError {
  constructor(code: string, message: string, status: 404 | 409 | 422, detail?: Record<string, unknown>) {
    super(code, message, status, detail);
    this.name = 'IntrusionError';
  }
}

export interface IntrusionStatus {
  branchId: string; state: IntrusionMode; changedBy: string; changedAt: string; armedAt: string | null; bypassed: string[];
  entry: { deadline: string; deviceId: string } | null; blocked: { openDoors: string[]; since: string } | null;
  sensors: { id: string; role: string; tripped: boolean; bypassed: boolean }[];
}
export type IntrusionEvent =
  | { type: 'arming' | 'armed' | 'disarmed' | 'blocked' | 'entry'; branchId: string; by: string; at: Date; status: IntrusionStatus }
  | { type: 'intrusion'; branchId: string; deviceId: string; message: string; at: Date; status: IntrusionStatus };

interface Row {
  branch_id: string; state: IntrusionMode; changed_by: string; changed_at: string; armed_at: string | null; bypassed: string; entry_deadline: string | null;
  entry_device: string | null; auto_armed_for: string | null; auto_disarmed_for: string | null; blocked: string | null;
}

/**
 * A branch's opening hours as instants: open now or not, and the last opening or closing. A branch
 * without any opening hours has no schedule: it counts as always open and is never armed by it.
 */
export class BranchSchedule {
  private readonly anyHours;
  constructor(db: Db, readonly calendars: Calendars) {
    this.anyHours = db.prepare('SELECT 1 FROM opening_hours WHERE branch_id = ? LIMIT 1');
  }

  hasHours(branchId: string): boolean { return this.anyHours.get(branchId) !== undefined; }

  openAt(branchId: string, at: Date): boolean {
    const tz = this.calendars.timeZone, date = localDate(at, tz);
    const h = this.calendars.hours(branchId, date);
    if (!h) return !this.hasHours(branchId);
    return zonedTimeToUtc(date, `${h.opens}:00`, tz) <= at && at < zonedTimeToUtc(date, `${h.closes}:00`, tz);
  }

  /** The last opening or closing at or before `at`, looking back up to 8 days; null without hours. */
  lastEvent(branchId: string, at: Date): { kind: 'open' | 'close'; at: Date } | null {
    const tz = this.calendars.timeZone, today = localDate(at, tz);
    let best: { kind: 'open' | 'close'; at: Date } | null = null;
    for (let i = 0; i <= 8 && !best; i++) {
      const date = addDays(today, -i);
      const h = this.calendars.hours(branchId, date);
      if (!h) continue;
      for (const [kind, time] of [['open', h.opens], ['close', h.closes]] as const) {
        const t = zonedTimeToUtc(date, `${time}:00`, tz);
        if (t <= at && (!best || t > best.at)) best = { kind, at: t };
      }
    }
    return best;
  }
}

const tripped = (role: string, v: ReadingValues) =>
  role === 'motion' ? v.occupancy === true : role === 'contact' ? v.contact === false : v.occupancy === true || v.contact === false;

export interface IntrusionOptions {
  db: Db;
  clock?: Clock;
  calendars?: Calendars;
  exitDelayMs?: number;
  entryDelayMs?: number;
  onEvent?: (e: IntrusionEvent) => void;
}

export class IntrusionGuard {
  private readonly db: Db;
  private readonly clock: Clock;
  readonly schedule: BranchSchedule;
  private sensors = new Map<string, { id: string; branchId: string; role: string }>();
  /** Each intrusion sensor's last reading (contact and occupancy), for the open-door check. */
  private readonly last = new Map<string, ReadingValues>();
  private readonly txn: Transaction<(body: () => unknown) => unknown>;

  constructor(private readonly opts: IntrusionOptions) {
    this.db = opts.db;
    this.clock = opts.clock ?? systemClock;
    this.schedule = new BranchSchedule(opts.db, opts.calendars ?? new Calendars(opts.db, getSetting(opts.db, 'time_zone', 'UTC'), 'next_open_day'));
    this.txn = opts.db.transaction((body: () => unknown) => body());
    this.reload();
    const latest = this.db.prepare('SELECT device_id, latest FROM reading_latest').all() as { device_id: string; latest: string }[];
    for (const r of latest) if (this.sensors.has(r.device_id)) this.last.set(r.device_id, JSON.parse(r.latest) as ReadingValues);
  }

  private get exitMs() { return this.opts.exitDelayMs ?? getSetting(this.db, 'intrusion.exit_delay_s', 300) * 1000; }
  private get entryMs() { return this.opts.entryDelayMs ?? getSetting(this.db, 'intrusion.entry_delay_s', 30) * 1000; }

  /** Re-reads the intrusion sensors from the device table (after a device changed). */
  reload() {
    const rows = this.db.prepare(`SELECT id, branch_id, role FROM device WHERE branch_id IS NOT NULL AND role IN (${INTRUSION_ROLES.map(() => '?').join(', ')})`)
      .all(...INTRUSION_ROLES) as { id: string; branch_id: string; role: string }[];
    this.sensors = new Map(rows.map((r) => [r.id, { id: r.id, branchId: r.branch_id, role: r.role }]));
  }

  arm(branchId: string, by: string, bypass: readonly string[] = [], at = this.clock.now()): IntrusionStatus {
    this.tx(() => {
      const row = this.row(branchId);
      if (row.state !== 'disarmed') throw new IntrusionError('ALREADY_ARMED', `branch ${branchId} is already ${row.state}`, 409, { state: row.state });
      const own = this.branchSensors(branchId);
      const unknown = bypass.filter((id) => !own.some((s) => s.id === id));
      if (unknown.length) throw new IntrusionError('UNKNOWN_BYPASS_DEVICE', `not an intrusion sensor of branch ${branchId}: ${unknown.join(', ')}`, 422, { devices: unknown });
      const open = this.openDoors(branchId, bypass);
      if (open.length) throw new IntrusionError('DOOR_OPEN', `cannot arm ${branchId}: ${open.join(', ')} open (close it or bypass it)`, 409, { openDoors: open });
      this.startArming(row, by, [...new Set(bypass)], at, at.getTime() + this.exitMs);
    });
    return this.status(branchId);
  }

  disarm(branchId: string, by: string, at = this.clock.now()): IntrusionStatus {
    this.tx(() => {
      const row = this.row(branchId);
      if (row.state === 'disarmed') throw new IntrusionError('ALREADY_DISARMED', `branch ${branchId} is already disarmed`, 409);
      this.setDisarmed(row, by, at);
    });
    return this.status(branchId);
  }

  /** A fresh reading from any device; intrusion sensors are followed, the rest ignored. */
  onReading(deviceId: string, values: ReadingValues, at = this.clock.now()): void {
    const s = this.sensors.get(deviceId);
    if (!s) return;
    this.last.set(deviceId, { ...this.last.get(deviceId), ...values });
    if (!tripped(s.role, values)) return;
    this.tx(() => {
      const row = this.row(s.branchId);
      if (row.state !== 'armed' || row.entry_deadline || (JSON.parse(row.bypassed) as string[]).includes(deviceId)) return;
      this.startEntry(row, deviceId, at);
    });
  }

  /** Exit and entry delays, and the opening-hours schedule. Call every second or so. */
  tick(now = this.clock.now()): void {
    const branches = this.db.prepare('SELECT id FROM branch ORDER BY id').all() as { id: string }[];
    for (const { id } of branches) {
      this.tx(() => {
        let row = this.row(id);
        const ev = this.schedule.lastEvent(id, now);
        const evAt = ev?.at.toISOString() ?? null;
        if (ev?.kind === 'open' && row.auto_disarmed_for !== evAt) {
          this.update(id, { auto_disarmed_for: evAt, blocked: null });
          row = this.row(id);
          if (row.state !== 'disarmed') this.setDisarmed(row, SCHEDULE, now);
        } else if (ev?.kind === 'close' && row.auto_armed_for !== evAt) {
          if (row.state !== 'disarmed') this.update(id, { auto_armed_for: evAt, blocked: null });
          else {
            const open = this.openDoors(id, []);
            if (open.length === 0) {
              this.update(id, { auto_armed_for: evAt, blocked: null });
              this.startArming(this.row(id), SCHEDULE, [], now, Math.max(ev.at.getTime() + this.exitMs, now.getTime()));
            } else if (row.blocked === null || (JSON.parse(row.blocked) as { openDoors: string[] }).openDoors.join() !== open.join()) {
              this.update(id, { blocked: JSON.stringify({ openDoors: open, since: now.toISOString() }) });
              this.emit({ type: 'blocked', branchId: id, by: SCHEDULE, at: now, status: this.status(id) });
            }
          }
        }
        row = this.row(id);
        if (row.state === 'arming' && row.armed_at && row.armed_at <= now.toISOString()) {
          this.update(id, { state: 'armed', changed_at: now.toISOString() });
          this.emit({ type: 'armed', branchId: id, by: row.changed_by, at: now, status: this.status(id) });
          const fault = this.openDoors(id, JSON.parse(row.bypassed) as string[])[0];
          if (fault) this.startEntry(this.row(id), fault, now);
        }
        row = this.row(id);
        if (row.state === 'armed' && row.entry_deadline && row.entry_deadline <= now.toISOString()) {
          const device = row.entry_device ?? '';
          this.update(id, { entry_deadline: null, entry_device: null });
          const s = this.sensors.get(device);
          const message = `intrusion at ${id}: ${s?.role ?? 'sensor'} ${device} tripped at ${new Date(Date.parse(row.entry_deadline) - this.entryMs).toISOString()}, not disarmed within the entry delay`;
          this.emit({ type: 'intrusion', branchId: id, deviceId: device, message, at: now, status: this.status(id) });
        }
      });
    }
  }

  status(branchId: string): IntrusionStatus {
    const r = this.db.prepare('SELECT * FROM intrusion_state WHERE branch_id = ?').get(branchId) as Row | undefined;
    const bypassed = r ? (JSON.parse(r.bypassed) as string[]) : [];
    return {
      branchId, state: r?.state ?? 'disarmed', changedBy: r?.changed_by ?? 'system', changedAt: r?.changed_at ?? new Date(0).toISOString(), armedAt: r?.armed_at ?? null, bypassed,
      entry: r?.entry_deadline ? { deadline: r.entry_deadline, deviceId: r.entry_device ?? '' } : null,
      blocked: r?.blocked ? (JSON.parse(r.blocked) as { openDoors: string[]; since: string }) : null,
      sensors: this.branchSensors(branchId).map((s) => ({ id: s.id, role: s.role, tripped: tripped(s.role, this.last.get(s.id) ?? {}), bypassed: bypassed.includes(s.id) })),
    };
  }

  private branchSensors(branchId: string) { return [...this.sensors.values()].filter((s) => s.branchId === branchId).sort((a, b) => (a.id < b.id ? -1 : 1)); }
  private openDoors(branchId: string, bypass: readonly string[]) {
    return this.branchSensors(branchId).filter((s) => s.role === 'contact' && !bypass.includes(s.id) && this.last.get(s.id)?.contact === false).map((s) => s.id);
  }

  private startArming(row: Row, by: string, bypass: string[], at: Date, armAt: number) {
    this.update(row.branch_id, { state: 'arming', changed_by: by, changed_at: at.toISOString(), armed_at: new Date(armAt).toISOString(), bypassed: JSON.stringify(bypass), entry_deadline: null, entry_device: null, blocked: null });
    this.emit({ type: 'arming', branchId: row.branch_id, by, at, status: this.status(row.branch_id) });
  }

  private setDisarmed(row: Row, by: string, at: Date) {
    this.update(row.branch_id, { state: 'disarmed', changed_by: by, changed_at: at.toISOString(), armed_at: null, bypassed: '[]', entry_deadline: null, entry_device: null });
    this.emit({ type: 'disarmed', branchId: row.branch_id, by, at, status: this.status(row.branch_id) });
  }

  private startEntry(row: Row, deviceId: string, at: Date) {
    this.update(row.branch_id, { entry_deadline: new Date(at.getTime() + this.entryMs).toISOString(), entry_device: deviceId });
    this.emit({ type: 'entry', branchId: row.branch_id, by: deviceId, at, status: this.status(row.branch_id) });
  }

  private row(branchId: string): Row {
    const r = this.db.prepare('SELECT * FROM intrusion_state WHERE branch_id = ?').get(branchId) as Row | undefined;
    if (r) return r;
    if (!this.db.prepare('SELECT 1 FROM branch WHERE id = ?').get(branchId)) throw new IntrusionError('BRANCH_NOT_FOUND', `no branch ${branchId}`, 404, { key: branchId });
    this.db.prepare("INSERT INTO intrusion_state (branch_id, state, changed_by, changed_at) VALUES (?, 'disarmed', 'system', ?)").run(branchId, this.clock.now().toISOString());
    return this.db.prepare('SELECT * FROM intrusion_state WHERE branch_id = ?').get(branchId) as Row;
  }

  private update(branchId: string, fields: Partial<Row>) {
    const cols = Object.keys(fields);
    this.db.prepare(`UPDATE intrusion_state SET ${cols.map((c) => `${c} = ?`).join(', ')} WHERE branch_id = ?`).run(...Object.values(fields), branchId);
  }

  private pending: IntrusionEvent[] = [];
  private emit(e: IntrusionEvent) { this.pending.push(e); }

  /** One transaction; events go out after it committed. */
  private tx(body: () => void): void {
    try { this.txn.immediate(body); } catch (e) { this.pending.length = 0; throw e; }
    for (const e of this.pending.splice(0)) this.opts.onEvent?.(e);
  }
}
