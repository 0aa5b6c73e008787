/**
 * The alarm book: safety and equipment alarms through the life cycle of ANSI/ISA-18.2-2016
 * ("Management of Alarm Systems for the Process Industries"), its alarm state transition diagram:
 *   normal → active_unack (condition appears) → active_ack (operator acknowledges) → normal (condition goes)
 *   active_unack → cleared_unack (condition goes first: "returned to normal, unacknowledged") → normal (acknowledged)
 *   cleared_unack → active_unack (condition returns before acknowledgement)
 * Latched alarms (ISA-18.2 latching; OPC UA Part 9 §4.8 LatchedState) stay active after the condition
 * goes, until an operator resets them: reset needs the condition gone and the alarm acknowledged.
 * Shelving (ISA-18.2: an operator-initiated, time-limited suppression) hides an alarm from escalation
 * until a time, at most 24 h ahead; critical alarms are not shelvable (ISA-18.2 lets a philosophy
 * exclude safety alarms from shelving, and a smoke or intrusion alarm must never be silent).
 * We worked from summaries of the standard (the OPC UA alarm model, vendor guides), not the printed text.
 * Escalation: an alarm still active_unack N minutes (setting alarms.escalate_after_minutes, default 10)
 * after it was raised, and not shelved, is e-mailed once to alarms.escalate_to; the send is recorded.
 * Each operation is one SQLite transaction with an alarm_event row; changes go to `onChange` after commit.
 * Every alarm carries the cameras of its zone (an intrusion: the detector's zone and the branch's
 * entrances), looked up when the alarm is read (cameras.ts), so the dashboard shows them at once.
 */
import type { Transaction } from 'better-sqlite3';
import { systemClock, type Clock } from '../clock.js';
import { DomainError } from '../errors.js';
import { getSetting, type Db } from '../store/db.js';
import type { Mailer } from '../mail.js';
import { CameraIndex, type CameraView } from './cameras.js';

export type AlarmKind = 'smoke' | 'water_leak' | 'intrusion' | 'tamper' | 'battery_low' | 'sensor_stale' | 'sensor_offline' | 'actuator_offline';
export type AlarmSeverity = 'critical' | 'high' | 'low';
export const ALARM_STATES = ['active_unack', 'active_ack', 'cleared_unack', 'normal'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];
export type AlarmAction = 'raise' | 'realarm' | 'clear' | 'acknowledge' | 'shelve' | 'unshelve' | 'reset' | 'escalate';

/** Priority and latching per kind (ISA-18.2 prioritisation; our choices, in docs/environment.md). */
export const ALARM_RULES: Record<AlarmKind, { severity: AlarmSeverity; latched: boolean }> = {
  smoke: { severity: 'critical', latched: true },
  intrusion: { severity: 'critical', latched: true },
  water_leak: { severity: 'critical', latched: false },
  sensor_stale: { severity: 'high', latched: false },
  sensor_offline: { severity: 'high', latched: false },
  actuator_offline: { severity: 'high', latched: false },
  tamper: { severity: 'low', latched: false },
  battery_low: { severity: 'low', latched: false },
};
export const MAX_SHELVE_MS = 24 * 3_600_000;


export interface Alarm {
  id: number; kind: AlarmKind; source: string; branchId: string | null; zoneId: string | null; deviceId: string | null;
  severity: AlarmSeverity; state: AlarmState; latched: boolean; conditionActive: boolean; shelved: boolean; shelvedUntil: string | null;
  shelvedBy: string | null; message: string; raisedAt: string; acknowledgedAt: string | null; acknowledgedBy: string | null;
  ackComment: string | null; clearedAt: string | null; resetAt: string | null; resetBy: string | null; escalatedAt: string | null;
  escalatedTo: string[] | null; closedAt: string | null; updatedAt: string;
  /** The cameras to show with it, as they are configured now. */
  cameras: CameraView[];
}
export interface AlarmChange { alarm: Alarm; action: AlarmAction; from: AlarmState | null; by: string | null }

/** A refused alarm operation: a stable code and the HTTP status it maps to. */
export class AlarmError extends DomainError {
  constructor(code: string, message: string, status: 404 | 409 | 422, detail?: Record<string, unknown>) {
    super(code, message, status, detail);
    this.name = 'AlarmError';
  }
}

interface Row {
  id: number; kind: AlarmKind; source: string; branch_id: string | null; zone_id: string | null; device_id: string | null; severity: AlarmSeverity;
  state: AlarmState; latched: number; condition: number; message: string; raised_at: string; acknowledged_at: string | null; acknowledged_by: string | null;
  ack_comment: string | null; cleared_at: string | null; shelved_until: string | null; shelved_by: string | null; reset_at: string | null; reset_by: string | null;
  escalated_at: string | null; escalated_to: string | null; closed_at: string | null; updated_at: string;
}

export interface AlarmBookOptions {
  db: Db;
  clock?: Clock;
  mailer?: Mailer;
  /** Default: setting alarms.escalate_after_minutes (10). */
  escalateAfterMinutes?: number;
  /** Default: setting alarms.escalate_to ([]). */
  escalateTo?: string[];
  onChange?: (change: AlarmChange) => void;
  log?: (line: string) => void;
}

export interface RaiseInput { kind: AlarmKind; message: string; source?: string; deviceId?: string | null; zoneId?: string | null; branchId?: string | null }

export class AlarmBook {
  private readonly db: Db;
  private readonly clock: Clock;
  private readonly txn: Transaction<(body: () => unknown) => unknown>;
  private readonly sending = new Set<number>();
  private readonly retryAt = new Map<number, number>();
  private changes: AlarmChange[] = [];

  constructor(private readonly opts: AlarmBookOptions) {
    this.db = opts.db;
    this.clock = opts.clock ?? systemClock;
    this.txn = opts.db.transaction((body: () => unknown) => body());
  }

  /** The process condition is present: opens an alarm, or re-alarms the open one whose condition had gone. */
  raise(input: RaiseInput, at = this.clock.now()): Alarm {
    const source = input.source ?? input.deviceId ?? input.branchId;
    if (!source) throw new Error('an alarm needs a source (device or branch)');
    return this.tx(() => {
      const open = this.openRow(input.kind, source);
      if (!open) {
        const rule = ALARM_RULES[input.kind];
        const id = Number(this.db.prepare(`INSERT INTO alarm (kind, source, branch_id, zone_id, device_id, severity, state, latched, condition, message, raised_at, updated_at)
          VALUES (?, ?, ?, ?, ?, ?, 'active_unack', ?, 1, ?, ?, ?)`).run(input.kind, source, input.branchId ?? null, input.zoneId ?? null, input.deviceId ?? null,
          rule.severity, rule.latched ? 1 : 0, input.message, at.toISOString(), at.toISOString()).lastInsertRowid);
        this.event(id, at, 'raise', null, 'active_unack', null, input.message);
        return this.row(id);
      }
      if (open.condition === 1) return this.view(open);
      // The condition came back before the alarm closed: it annunciates again.
      return this.move(open, at, 'realarm', 'active_unack', { condition: 1, cleared_at: null, message: input.message }, null, input.message);
    });
  }

  /** The process condition went. A latched alarm stays active (until reset); returns the open alarm, or null. */
  clear(kind: AlarmKind, source: string, at = this.clock.now()): Alarm | null {
    return this.tx(() => {
      const open = this.openRow(kind, source);
      if (!open || open.condition === 0) return open ? this.view(open) : null;
      const to: AlarmState = open.latched ? open.state : open.state === 'active_ack' ? 'normal' : 'cleared_unack';
      return this.move(open, at, 'clear', to, { condition: 0, cleared_at: at.toISOString(), ...(to === 'normal' ? { closed_at: at.toISOString() } : {}) }, null, null);
    });
  }

  acknowledge(id: number, by: string, comment?: string | null): Alarm {
    const at = this.clock.now();
    return this.tx(() => {
      const a = this.mustOpen(id);
      if (a.state === 'active_ack') throw new AlarmError('ALARM_ALREADY_ACKNOWLEDGED', `alarm ${id} was acknowledged by ${a.acknowledged_by} at ${a.acknowledged_at}`, 409);
      const to: AlarmState = a.state === 'cleared_unack' ? 'normal' : 'active_ack';
      return this.move(a, at, 'acknowledge', to, {
        acknowledged_at: at.toISOString(), acknowledged_by: by, ack_comment: comment ?? null, ...(to === 'normal' ? { closed_at: at.toISOString() } : {}),
      }, by, comment ?? null);
    });
  }

  /** Hides an alarm from escalation until `until` (at most 24 h ahead). Critical alarms are refused. */
  shelve(id: number, until: Date, by: string, comment?: string | null): Alarm {
    const at = this.clock.now();
    return this.tx(() => {
      const a = this.mustOpen(id);
      if (a.severity === 'critical') throw new AlarmError('ALARM_NOT_SHELVABLE', `alarm ${id} (${a.kind}) is critical; critical alarms cannot be shelved`, 409);
      if (!(until.getTime() > at.getTime()) || until.getTime() - at.getTime() > MAX_SHELVE_MS) {
        throw new AlarmError('INVALID_SHELVE_TIME', `a shelve must end after now and within 24 h (got ${until.toISOString()})`, 422, { until: until.toISOString() });
      }
      return this.move(a, at, 'shelve', a.state, { shelved_until: until.toISOString(), shelved_by: by }, by, comment ?? `until ${until.toISOString()}`);
    });
  }

  unshelve(id: number, by: string): Alarm {
    const at = this.clock.now();
    return this.tx(() => {
      const a = this.mustOpen(id);
      if (!a.shelved_until || a.shelved_until <= at.toISOString()) throw new AlarmError('ALARM_NOT_SHELVED', `alarm ${id} is not shelved`, 409);
      return this.move(a, at, 'unshelve', a.state, { shelved_until: null, shelved_by: null }, by, null);
    });
  }

  /** Returns a latched alarm to normal: the condition must be gone and the alarm acknowledged. */
  reset(id: number, by: string, comment?: string | null): Alarm {
    const at = this.clock.now();
    return this.tx(() => {
      const a = this.mustOpen(id);
      if (!a.latched) throw new AlarmError('ALARM_NOT_LATCHED', `alarm ${id} (${a.kind}) is not latched; it returns to normal by itself`, 409);
      if (a.condition === 1) throw new AlarmError('ALARM_STILL_ACTIVE', `alarm ${id}: the ${a.kind} condition is still present`, 409);
      if (a.state === 'active_unack') throw new AlarmError('ALARM_NOT_ACKNOWLEDGED', `alarm ${id} must be acknowledged before it is reset`, 409);
      return this.move(a, at, 'reset', 'normal', { reset_at: at.toISOString(), reset_by: by, closed_at: at.toISOString() }, by, comment ?? null);
    });
  }

  get(id: number): Alarm | null {
    const r = this.db.prepare('SELECT * FROM alarm WHERE id = ?').get(id) as Row | undefined;
    return r ? this.view(r) : null;
  }

  /** Newest first; `open` = every state but normal. */
  list(filter: { state?: AlarmState; open?: boolean; limit?: number } = {}): Alarm[] {
    const where = filter.state ? 'state = ?' : filter.open ? "state <> 'normal'" : '1';
    const rows = this.db.prepare(`SELECT * FROM alarm WHERE ${where} ORDER BY id DESC LIMIT ?`)
      .all(...(filter.state ? [filter.state] : []), filter.limit ?? 200) as Row[];
    const cameras = new CameraIndex(this.db);
    return rows.map((r) => this.view(r, cameras));
  }

  events(id: number) {
    return this.db.prepare('SELECT at, action, from_state AS "from", to_state AS "to", actor, comment FROM alarm_event WHERE alarm_id = ? ORDER BY id').all(id) as
      { at: string; action: string; from: AlarmState | null; to: AlarmState; actor: string | null; comment: string | null }[];
  }

  /** Ends shelves whose time passed, and escalates what waited too long; resolves when the mail is sent. */
  async tick(now = this.clock.now()): Promise<void> {
    const iso = now.toISOString();
    const expired = this.db.prepare("SELECT * FROM alarm WHERE state <> 'normal' AND shelved_until IS NOT NULL AND shelved_until <= ?").all(iso) as Row[];
    for (const r of expired) {
      this.tx(() => { const a = this.openRow(r.kind, r.source); if (a?.id === r.id) this.move(a, now, 'unshelve', a.state, { shelved_until: null, shelved_by: null }, 'system', 'shelve time passed'); });
    }
    const minutes = this.opts.escalateAfterMinutes ?? getSetting(this.db, 'alarms.escalate_after_minutes', 10);
    const to = this.opts.escalateTo ?? getSetting<string[]>(this.db, 'alarms.escalate_to', []);
    if (!this.opts.mailer || to.length === 0) return;
    const due = this.db.prepare(`SELECT * FROM alarm WHERE state = 'active_unack' AND escalated_at IS NULL AND (shelved_until IS NULL OR shelved_until <= ?) AND raised_at <= ?`)
      .all(iso, new Date(now.getTime() - minutes * 60_000).toISOString()) as Row[];
    await Promise.all(due.filter((r) => !this.sending.has(r.id) && (this.retryAt.get(r.id) ?? 0) <= now.getTime()).map((r) => this.escalate(r, to, minutes, now)));
  }

  private async escalate(r: Row, to: string[], minutes: number, now: Date) {
    this.sending.add(r.id);
    const where = [r.zone_id && `zone ${r.zone_id}`, r.branch_id && `branch ${r.branch_id}`, r.device_id && `device ${r.device_id}`].filter(Boolean).join(', ');
    const subject = `[Shelfsense] ${r.severity.toUpperCase()} alarm not acknowledged: ${r.kind}${where ? ` (${where})` : ''}`;
    const text = [`Alarm ${r.id}: ${r.message}`, `Kind: ${r.kind}, severity ${r.severity}${r.latched ? ', latched' : ''}`, `Raised: ${r.raised_at}`,
      where && `Where: ${where}`, `Nobody acknowledged it within ${minutes} min. Acknowledge it on the dashboard (Alarms).`].filter(Boolean).join('\n');
    try {
      const sent = await this.opts.mailer!.send(to.join(', '), subject, text);
      if (sent.accepted.length === 0) throw new Error('the mail server accepted no recipient');
      const at = this.clock.now();
      this.tx(() => {
        const a = this.db.prepare('SELECT * FROM alarm WHERE id = ? AND escalated_at IS NULL').get(r.id) as Row | undefined;
        if (a) this.move(a, at, 'escalate', a.state, { escalated_at: at.toISOString(), escalated_to: JSON.stringify(sent.accepted) }, 'system', `e-mailed ${sent.accepted.join(', ')}`);
      });
      this.retryAt.delete(r.id);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.opts.log?.(`alarms: escalation of alarm ${r.id} failed: ${message}`);
      this.tx(() => this.event(r.id, this.clock.now(), 'escalation_failed', r.state, r.state, 'system', message));
      this.retryAt.set(r.id, now.getTime() + 5 * 60_000); // try again in 5 min
    } finally {
      this.sending.delete(r.id);
    }
  }

  private tx<T>(body: () => T): T {
    const outer = this.changes;
    this.changes = [];
    let result: T;
    try { result = this.txn.immediate(body) as T; } catch (e) { this.changes = outer; throw e; }
    const done = this.changes;
    this.changes = outer;
    for (const c of done) {
      try { this.opts.onChange?.(c); } catch (e) { this.opts.log?.(`alarms: change handler failed: ${e instanceof Error ? e.stack : e}`); }
    }
    return result;
  }

  private openRow(kind: AlarmKind, source: string) {
    return this.db.prepare("SELECT * FROM alarm WHERE kind = ? AND source = ? AND state <> 'normal'").get(kind, source) as Row | undefined;
  }

  private mustOpen(id: number): Row {
    const a = this.db.prepare('SELECT * FROM alarm WHERE id = ?').get(id) as Row | undefined;
    if (!a) throw new AlarmError('ALARM_NOT_FOUND', `no alarm ${id}`, 404, { id });
    if (a.state === 'normal') throw new AlarmError('ALARM_CLOSED', `alarm ${id} is closed (back to normal at ${a.closed_at})`, 409);
    return a;
  }

  private move(a: Row, at: Date, action: AlarmAction, to: AlarmState, patch: Partial<Record<keyof Row, string | number | null>>, by: string | null, comment: string | null): Alarm {
    const fields = { ...patch, state: to, updated_at: at.toISOString() };
    const cols = Object.keys(fields);
    this.db.prepare(`UPDATE alarm SET ${cols.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`).run(...Object.values(fields), a.id);
    this.event(a.id, at, action, a.state, to, by, comment);
    return this.row(a.id);
  }

  private event(id: number, at: Date, action: AlarmAction | 'escalation_failed', from: AlarmState | null, to: AlarmState, by: string | null, comment: string | null) {
    this.db.prepare('INSERT INTO alarm_event (alarm_id, at, action, from_state, to_state, actor, comment) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id, at.toISOString(), action, from, to, by, comment);
    if (action !== 'escalation_failed') this.changes.push({ alarm: this.row(id), action, from, by });
  }

  private row(id: number): Alarm { return this.view(this.db.prepare('SELECT * FROM alarm WHERE id = ?').get(id) as Row); }

  private view(r: Row, cameras = new CameraIndex(this.db)): Alarm {
    const now = this.clock.now().toISOString();
    return {
      id: r.id, kind: r.kind, source: r.source, branchId: r.branch_id, zoneId: r.zone_id, deviceId: r.device_id, severity: r.severity, state: r.state,
      latched: r.latched === 1, conditionActive: r.condition === 1, shelved: r.shelved_until !== null && r.shelved_until > now && r.state !== 'normal',
      shelvedUntil: r.shelved_until, shelvedBy: r.shelved_by, message: r.message, raisedAt: r.raised_at, acknowledgedAt: r.acknowledged_at,
      acknowledgedBy: r.acknowledged_by, ackComment: r.ack_comment, clearedAt: r.cleared_at, resetAt: r.reset_at, resetBy: r.reset_by,
      escalatedAt: r.escalated_at, escalatedTo: r.escalated_to ? (JSON.parse(r.escalated_to) as string[]) : null, closedAt: r.closed_at, updatedAt: r.updated_at,
      cameras: cameras.forAlarm({ kind: r.kind, zoneId: r.zone_id, branchId: r.branch_id }),
    };
  }
}
