/**
 * The server's environment and safety feature. Readings (topics.envReading) are batched into the store
 * (a group commit that adapts to the load, see receive(); duplicates dropped there), then go to the
 * zone's ZoneController, the intrusion guard and the safety rules (smoke, water leak, battery low,
 * tamper → alarms). Commands go out as `zigbee.set` and are logged with reason and result; fire and
 * intrusion alarms sound the branch's sirens until acknowledged or reset. Everything is ticked every
 * second. Rules: docs/environment.md.
 */
import { topics, type CommandResponse, type EnvAvailabilityPayload, type GatewayCommandName, type ReadingValues } from '../../contract/mqtt.js';
import { Calendars } from '../circulation/calendar.js';
import type { Clock } from '../clock.js';
import { DomainError } from '../errors.js';
import type { MqttLink } from '../mqtt/link.js';
import { getSetting, type Db } from '../store/db.js';
import { AlarmBook, type AlarmChange, type AlarmKind } from './alarms.js';
import type { Mailer } from '../mail.js';
import { ZoneController, type ActuatorCommand, type ActuatorRole, type ActuatorState } from './controller.js';
import { IntrusionGuard, type IntrusionEvent } from './intrusion.js';
import { resolveProfile, type ProfileOverrides, type ZoneProfile, type ZoneProfileName } from './profiles.js';
import { commandLog, logCommand, logCommandResult, overrides, ReadingStore, type CommandLogEntry, type IngestResult, type StoredReading } from './store.js';
import { audit } from '../store/audit.js';

export const ENV_ROLES = ['climate', 'light', 'smoke', 'water', 'motion', 'contact', 'beam', 'ac', 'ventilation', 'curtain', 'siren'] as const;
export type EnvRole = (typeof ENV_ROLES)[number];
const ACTUATORS: readonly string[] = ['ac', 'ventilation', 'curtain'];
const SAFETY: [keyof ReadingValues, AlarmKind][] = [['smoke', 'smoke'], ['water_leak', 'water_leak'], ['battery_low', 'battery_low'], ['tamper', 'tamper']];
const SIREN: Partial<Record<AlarmKind, 'fire' | 'burglar'>> = { smoke: 'fire', intrusion: 'burglar' };
/** After a flush, the next waits this many times as long as it took (see receive()). */
const FLUSH_WAIT_FACTOR = 3;

/** What the feature tells the dashboard (the lead's bus topic `environment`). */
export type EnvironmentBusEvent = { kind: 'alarm'; change: AlarmChange } | { kind: 'command'; command: CommandLogEntry } | { kind: 'intrusion'; event: IntrusionEvent }
  | { kind: 'zone'; zoneId: string; change: 'profile' | 'override' | 'devices' }
  | { kind: 'camera'; cameraId: string; change: 'created' | 'updated' | 'deleted'; branchId: string | null; zoneIds: string[] };

export interface EnvironmentDeps {
  db: Db; clock: Clock; mailer?: Mailer; log?: (line: string) => void;
  link: Pick<MqttLink, 'subscribe' | 'site'> & { command(gatewayId: string, name: GatewayCommandName, params?: Record<string, unknown>, timeoutMs?: number): Promise<CommandResponse<unknown>> };
  /** The EventBus, once bus.ts has `environment: EnvironmentBusEvent`. */
  bus?: { emit(topic: 'environment', payload: EnvironmentBusEvent): void };
  /** Pass circulation.calendars, so edited opening hours apply at once. */
  calendars?: Calendars;
  /** Called after a device's zone or role changed: republish the gateway configurations. */
  onDevicesChanged?: () => void;
  /** Batching of readings: the longest a reading waits (default 200 ms) and the largest batch (default 2000); the zigbee.set timeout (default 5 s). */
  flushMs?: number; batchSize?: number; commandTimeoutMs?: number;
}

export interface DeviceInfo { id: string; kind: string; name: string; branchId: string | null; zoneId: string | null; role: string | null; gateway: string | null; intervalS?: number }
interface ZoneRow { id: string; branch_id: string; name: string; profile: string; profile_overrides: string }
interface Send { zoneId: string | null; deviceId: string; role: string; payload: unknown; state: string | null; source: CommandLogEntry['source']; reason: string; actor: string }

export class EnvironmentFeature {
  readonly store: ReadingStore;
  readonly alarms: AlarmBook;
  readonly intrusion: IntrusionGuard;
  private devices = new Map<string, DeviceInfo>();
  private readonly controllers = new Map<string, ZoneController>();
  private buffer: unknown[] = [];
  private cancelFlush: (() => void) | null = null;
  /** When the next flush may start (performance.now()): FLUSH_WAIT_FACTOR times the last one's duration after its end. */
  private nextFlushAt = 0;
  private ticker: NodeJS.Timeout | undefined;
  private readonly inflight = new Set<Promise<void>>();
  private readonly unsubscribe: (() => void)[] = [];
  private lastPrune = 0;
  readonly timeZone: string;

  constructor(private readonly deps: EnvironmentDeps) {
    const { db, clock } = deps;
    this.timeZone = getSetting(db, 'time_zone', 'UTC');
    const calendars = deps.calendars ?? new Calendars(db, this.timeZone, 'next_open_day');
    this.store = new ReadingStore(db);
    this.alarms = new AlarmBook({ db, clock, mailer: deps.mailer, log: deps.log, onChange: (c) => this.onAlarmChange(c) });
    this.intrusion = new IntrusionGuard({ db, clock, calendars, onEvent: (e) => this.onIntrusion(e) });
    this.loadDevices();
    for (const z of this.zoneRows()) this.buildController(z);
  }

  start(): void {
    const { link } = this.deps;
    this.unsubscribe.push(link.subscribe(topics.envReading(link.site), (_t, body) => { if (body) this.receive(body); }));
    this.unsubscribe.push(link.subscribe(topics.envAvailabilityAll(link.site), (topic, body) => {
      const deviceId = typeof body?.deviceId === 'string' ? body.deviceId : topic.split('/').at(-2);
      if (body && deviceId && typeof body.online === 'boolean') this.onAvailability({ deviceId, online: body.online, ts: String(body.ts ?? '') });
    }));
    (this.ticker = setInterval(() => this.tick(), 1000)).unref();
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    clearInterval(this.ticker); this.flush();
    await this.settled();
  }

  /**
   * One reading message; stored with the next flush. Group commit that adapts to the load: a flush
   * starts no sooner than FLUSH_WAIT_FACTOR times its predecessor's duration after that one ended, and a
   * reading waits at most flushMs. On a quiet site that moment has long passed when a reading comes, so
   * the readings of this event-loop turn are stored and acted on at its end (a crossing reading reaches
   * its controller at once); under a heavy stream the batches grow until storing takes about a quarter
   * of the time, and each transaction's fixed cost (the rollup and latest rows of every device in it,
   * the pages it writes) is shared by more readings.
   */
  receive(body: unknown): void {
    this.buffer.push(body);
    if (this.buffer.length >= (this.deps.batchSize ?? 2000)) { this.flush(); return; }
    if (this.cancelFlush) return;
    const wait = Math.min(this.deps.flushMs ?? 200, this.nextFlushAt - performance.now());
    if (wait < 1) { const i = setImmediate(() => this.flush()); this.cancelFlush = () => clearImmediate(i); }
    else { const t = setTimeout(() => this.flush(), wait); this.cancelFlush = () => clearTimeout(t); }
  }

  /** Stores what is buffered (one transaction), then hands the fresh readings on. */
  flush(): IngestResult {
    this.cancelFlush?.(); this.cancelFlush = null;
    const started = performance.now();
    const result = this.store.ingest(this.buffer.splice(0), this.deps.clock.now(), (id) => this.devices.get(id)?.zoneId ?? null);
    for (const r of result.accepted) {
      try { this.dispatch(r); } catch (e) { this.deps.log?.(`environment: reading ${r.id} from ${r.deviceId} failed: ${e instanceof Error ? e.stack : e}`); }
    }
    const ended = performance.now();
    this.nextFlushAt = ended + FLUSH_WAIT_FACTOR * (ended - started);
    return result;
  }

  /** Resolves when every command sent so far has its result logged. */
  async settled(): Promise<void> { while (this.inflight.size) await Promise.all([...this.inflight]); }

  /** Controllers, intrusion delays and schedule, alarm shelves and escalation; retention hourly. Never throws (it runs on a timer). */
  tick(now = this.deps.clock.now()): Promise<void> {
    const failed = (e: unknown) => this.deps.log?.(`environment: tick failed: ${e instanceof Error ? e.stack : e}`);
    try {
      for (const c of this.controllers.values()) c.tick(now);
      this.intrusion.tick(now);
      if (now.getTime() - this.lastPrune >= 3_600_000) { this.lastPrune = now.getTime(); this.store.prune(now); }
    } catch (e) { failed(e); }
    return this.alarms.tick(now).catch(failed);
  }

  onAvailability(p: EnvAvailabilityPayload): void {
    const d = this.devices.get(p.deviceId), at = this.at(p.ts);
    if (!d?.role) return;
    if (d.zoneId && ['climate', 'light', ...ACTUATORS].includes(d.role)) return this.controllers.get(d.zoneId)?.onAvailability(d.role, p.online, at);
    const kind = d.kind === 'actuator' ? 'actuator_offline' : 'sensor_offline'; // smoke, water, motion, contact, siren: no controller watches them
    if (!p.online) this.alarms.raise({ kind, deviceId: d.id, zoneId: d.zoneId, branchId: d.branchId, message: `${d.role} ${d.id} is offline` }, at);
    else this.alarms.clear(kind, d.id, at);
  }

  /** A message's time, never after now: a gateway clock running ahead must not push control time forward. */
  private at(ts: string): Date { const ms = Date.parse(ts), now = this.deps.clock.now().getTime(); return new Date(Number.isFinite(ms) ? Math.min(ms, now) : now); }

  private dispatch(r: StoredReading) {
    const d = this.devices.get(r.deviceId), at = this.at(r.at);
    if (!d) return;
    if (d.zoneId && d.role) this.controllers.get(d.zoneId)?.onReading(d.role, r.values, at);
    this.intrusion.onReading(d.id, r.values, at);
    for (const [key, kind] of SAFETY) {
      const v = r.values[key];
      if (v === true) this.alarms.raise({ kind, deviceId: d.id, zoneId: d.zoneId, branchId: d.branchId, message: `${kind.replace('_', ' ')} reported by ${d.name} (${d.id})${d.zoneId ? ` in ${d.zoneId}` : ''}` }, at);
      else if (v === false) this.alarms.clear(kind, d.id, at);
    }
  }

  private onControllerCommand(c: ActuatorCommand) {
    const actor = c.source === 'override' ? this.controllers.get(c.zoneId)?.status().actuators.find((a) => a.role === c.role)?.override?.by ?? 'override' : 'controller';
    this.send({ zoneId: c.zoneId, deviceId: c.device, role: c.role, payload: c.command, state: c.state, source: c.source, reason: c.reason, actor });
  }

  private onIntrusion(e: IntrusionEvent) {
    this.deps.bus?.emit('environment', { kind: 'intrusion', event: e });
    if (e.type === 'intrusion') this.alarms.raise({ kind: 'intrusion', source: e.branchId, branchId: e.branchId, deviceId: e.deviceId, zoneId: this.devices.get(e.deviceId)?.zoneId ?? null, message: e.message }, e.at);
    else if (e.type === 'disarmed') this.alarms.clear('intrusion', e.branchId, e.at); // the latched alarm now waits for its reset
  }

  private onAlarmChange(c: AlarmChange) {
    this.deps.bus?.emit('environment', { kind: 'alarm', change: c });
    const mode = SIREN[c.alarm.kind];
    if (!mode || !c.alarm.branchId) return;
    const sirens = (payload: { warning: Record<string, unknown> }, reason: string, actor: string) => [...this.devices.values()]
      .filter((d) => d.role === 'siren' && d.branchId === c.alarm.branchId)
      .forEach((d) => this.send({ zoneId: d.zoneId, deviceId: d.id, role: 'siren', payload, state: String(payload.warning.mode), source: 'alarm', reason, actor }));
    const why = `${c.alarm.kind} alarm ${c.alarm.id}`;
    if (c.action === 'raise' || c.action === 'realarm') sirens({ warning: { mode, strobe: true, duration: 600 } }, `${why}: ${c.alarm.message}`, `alarm:${c.alarm.id}`);
    else if (c.action === 'acknowledge' || c.action === 'reset') {
      // Silenced only when no other fire or intrusion alarm of the branch still waits for someone.
      if (this.alarms.list({ state: 'active_unack' }).some((a) => a.id !== c.alarm.id && a.branchId === c.alarm.branchId && SIREN[a.kind])) return;
      sirens({ warning: { mode: 'stop' } }, `${why} ${c.action === 'reset' ? 'reset' : 'acknowledged'} by ${c.by}`, c.by ?? 'system');
    }
  }

  /** Logs a command (pending), sends it as zigbee.set and logs the gateway's answer. */
  private send(s: Send): void {
    const { db, clock, link } = this.deps;
    const gatewayId = this.devices.get(s.deviceId)?.gateway ?? null;
    const id = logCommand(db, clock.now(), { ...s, gatewayId });
    const done = (error: { code: string; message: string } | null) => {
      logCommandResult(db, id, clock.now(), error);
      for (const command of this.commands({ id })) this.deps.bus?.emit('environment', { kind: 'command', command });
      if (error) this.deps.log?.(`environment: ${s.role} ${s.deviceId} did not take ${JSON.stringify(s.payload)}: ${error.code} ${error.message}`);
    };
    if (!gatewayId) return done({ code: 'NO_GATEWAY', message: `device ${s.deviceId} has no gateway configured` });
    const p = link.command(gatewayId, 'zigbee.set', { deviceId: s.deviceId, payload: s.payload }, this.deps.commandTimeoutMs ?? 5000)
      .then((r) => done(r.status === 'ok' ? null : r.error), (e) => done({ code: 'LINK_ERROR', message: e instanceof Error ? e.message : String(e) }))
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  commands(f: Parameters<typeof commandLog>[1] = {}) { return commandLog(this.deps.db, f); }

  /** Zones with their resolved profile, devices (with their latest readings) and controller status; GET /environment/zones adds the metrics. */
  zones() {
    const latest = this.store.latest();
    return this.zoneRows().map((z) => ({
      id: z.id, branchId: z.branch_id, name: z.name, profileName: z.profile, overrides: JSON.parse(z.profile_overrides) as ProfileOverrides, profile: this.profileOf(z),
      status: this.controllers.get(z.id)?.status() ?? null, devices: [...this.devices.values()].filter((d) => d.zoneId === z.id).map((d) => ({ ...d, latest: latest.get(d.id) ?? null })),
    }));
  }

  setProfile(zoneId: string, change: { profile?: ZoneProfileName; overrides?: ProfileOverrides | null }, actor: string) {
    const z = this.zone(zoneId), name = change.profile ?? z.profile;
    const overrides = change.overrides === undefined ? JSON.parse(z.profile_overrides) : change.overrides ?? {};
    resolveProfile(name, overrides); // throws ProfileError (422 INVALID_ZONE_PROFILE) listing every issue
    this.tx(() => {
      this.deps.db.prepare('UPDATE zone SET profile = ?, profile_overrides = ? WHERE id = ?').run(name, JSON.stringify(overrides), zoneId);
      this.audit(actor, 'zone.profile', `zone:${zoneId}`, { profile: name, overrides });
    });
    this.buildController(this.zone(zoneId));
    this.deps.bus?.emit('environment', { kind: 'zone', zoneId, change: 'profile' });
    return this.zones().find((x) => x.id === zoneId)!;
  }

  setOverride(zoneId: string, o: { role: ActuatorRole; state: ActuatorState; until: Date; note?: string }, by: string, actor: string) {
    const c = this.controller(zoneId), now = this.deps.clock.now();
    this.tx(() => {
      // The controller checks first (an actuator it has, a state it takes, an expiry in the future); nothing is written when it refuses.
      try { c.setOverride(o.role, o.state, { by, until: o.until, note: o.note }, now); } catch (e) { throw new DomainError('INVALID_OVERRIDE', e instanceof Error ? e.message : String(e), 422); }
      overrides.record(this.deps.db, zoneId, o, by, now);
      this.audit(actor, 'zone.override', `zone:${zoneId}`, { ...o, until: o.until.toISOString() });
    });
    this.deps.bus?.emit('environment', { kind: 'zone', zoneId, change: 'override' });
    return c.status();
  }

  /** Ends an override early; control resumes at once. */
  clearOverride(zoneId: string, role: ActuatorRole, by: string, actor: string) {
    const c = this.controller(zoneId);
    this.tx(() => {
      if (!overrides.close(this.deps.db, zoneId, role, by, this.deps.clock.now())) throw new DomainError('OVERRIDE_NOT_FOUND', `zone ${zoneId} has no ${role} override in force`, 404);
      this.audit(actor, 'zone.override.clear', `zone:${zoneId}`, { role });
      c.clearOverride(role, by);
    });
    this.deps.bus?.emit('environment', { kind: 'zone', zoneId, change: 'override' });
    return c.status();
  }

  updateDevice(id: string, change: { zoneId?: string | null; role?: EnvRole; intervalS?: number | null }, actor: string): DeviceInfo {
    const { db } = this.deps;
    const row = db.prepare('SELECT kind, zone_id, config FROM device WHERE id = ?').get(id) as { kind: string; zone_id: string | null; config: string } | undefined;
    if (!row) throw new DomainError('DEVICE_NOT_FOUND', `no device ${id}`, 404, { key: id });
    if (row.kind !== 'sensor' && row.kind !== 'actuator') throw new DomainError('NOT_AN_ENVIRONMENT_DEVICE', `device ${id} is a ${row.kind}, not a sensor or actuator`, 409);
    const zone = change.zoneId ? this.zoneRows(change.zoneId)[0] : undefined; // a zone of another branch moves the device to that branch
    if (change.zoneId && !zone) throw new DomainError('ZONE_NOT_FOUND', `no zone ${change.zoneId}`, 422, { key: change.zoneId });
    const config = { ...(JSON.parse(row.config) as Record<string, unknown>), ...(change.intervalS !== undefined && { interval_s: change.intervalS ?? undefined }) };
    this.tx(() => {
      db.prepare('UPDATE device SET zone_id = ?, branch_id = coalesce(?, branch_id), role = coalesce(?, role), config = ? WHERE id = ?')
        .run(change.zoneId === undefined ? row.zone_id : change.zoneId, zone?.branch_id ?? null, change.role ?? null, JSON.stringify(config), id);
      this.audit(actor, 'device.environment', `device:${id}`, change);
    });
    this.loadDevices();
    const affected = new Set([row.zone_id, this.devices.get(id)?.zoneId].filter((z): z is string => !!z));
    for (const z of this.zoneRows().filter((z) => affected.has(z.id))) this.buildController(z);
    this.intrusion.reload();
    for (const zoneId of affected) this.deps.bus?.emit('environment', { kind: 'zone', zoneId, change: 'devices' });
    this.deps.onDevicesChanged?.();
    return this.devices.get(id)!;
  }

  /** A camera was added, changed or removed (cameras.ts): tells the dashboard, and each zone it was or is in. */
  camerasChanged(e: { cameraId: string; change: 'created' | 'updated' | 'deleted'; branchId: string | null; zoneIds: (string | null)[] }): void {
    const zoneIds = [...new Set(e.zoneIds.filter((z): z is string => !!z))];
    this.deps.bus?.emit('environment', { kind: 'camera', ...e, zoneIds });
    for (const zoneId of zoneIds) this.deps.bus?.emit('environment', { kind: 'zone', zoneId, change: 'devices' });
  }

  private loadDevices() {
    const rows = this.deps.db.prepare("SELECT id, kind, name, branch_id, zone_id, role, config FROM device WHERE kind IN ('sensor', 'actuator')").all() as Record<string, string | null>[];
    this.devices = new Map(rows.map((r): [string, DeviceInfo] => {
      let c: Record<string, unknown> = {};
      try { c = JSON.parse(r.config ?? '{}'); } catch { /* a bad config is no config */ }
      const intervalS = typeof c.interval_s === 'number' ? c.interval_s : undefined;
      return [r.id!, { id: r.id!, kind: r.kind!, name: r.name!, branchId: r.branch_id ?? null, zoneId: r.zone_id ?? null, role: r.role ?? null, gateway: typeof c.gateway === 'string' ? c.gateway : null, intervalS }];
    }));
  }

  private zoneRows(id?: string) { return this.deps.db.prepare(`SELECT * FROM zone ${id ? 'WHERE id = ?' : ''} ORDER BY id`).all(...(id ? [id] : [])) as ZoneRow[]; }
  private zone(id: string): ZoneRow { const z = this.zoneRows(id)[0]; if (!z) throw new DomainError('ZONE_NOT_FOUND', `no zone ${id}`, 404, { key: id }); return z; }
  private controller(zoneId: string) { return this.controllers.get(this.zone(zoneId).id)!; }

  private profileOf(z: ZoneRow): ZoneProfile {
    try { return resolveProfile(z.profile, JSON.parse(z.profile_overrides)); } catch (e) { this.deps.log?.(`environment: zone ${z.id}: ${e}; using stacks defaults`); return resolveProfile('stacks'); }
  }

  /** A zone's controller, fed its devices' last readings and the overrides still in force. */
  private buildController(z: ZoneRow) {
    const { clock, db } = this.deps;
    const mine = [...this.devices.values()].filter((d) => d.zoneId === z.id && d.role), now = clock.now();
    const sensors: Record<string, { device: string; intervalS?: number }> = {}, actuators: Record<string, string> = {};
    for (const d of mine) {
      if ((d.role === 'climate' || d.role === 'light') && !sensors[d.role]) sensors[d.role] = { device: d.id, intervalS: d.intervalS };
      if (ACTUATORS.includes(d.role!) && !actuators[d.role!]) actuators[d.role!] = d.id;
    }
    const c = new ZoneController({
      zoneId: z.id, profile: this.profileOf(z), sensors, actuators, clock, isOpen: (at) => this.intrusion.schedule.openAt(z.branch_id, at),
      onCommand: (cmd) => this.onControllerCommand(cmd),
      onAlarm: (a) => (a.active ? this.alarms.raise({ kind: a.kind, deviceId: a.device, zoneId: a.zoneId, branchId: z.branch_id, message: a.message }, a.at) : this.alarms.clear(a.kind, a.device, a.at)),
    });
    this.controllers.set(z.id, c);
    for (const [id, l] of this.store.latest(mine.map((d) => d.id))) c.onReading(this.devices.get(id)!.role!, l.values, new Date(Math.min(Date.parse(l.at), now.getTime())));
    for (const o of overrides.open(db, z.id, now)) {
      try { c.setOverride(o.role as ActuatorRole, o.state as ActuatorState, { by: o.set_by, until: new Date(o.until), note: o.note ?? undefined }); } catch (e) { this.deps.log?.(`environment: override in ${z.id} dropped: ${e}`); }
    }
  }

  private tx(body: () => void) { this.deps.db.transaction(body).immediate(); }
  private audit(actor: string, action: string, target: string, detail: Record<string, unknown>) {
    audit(this.deps.db, this.deps.clock.now(), actor, action, target, detail);
  }
}
