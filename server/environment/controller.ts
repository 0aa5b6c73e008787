/**
 * The climate controller of one zone. It switches the air conditioning on temperature, the
 * ventilation (or a dehumidifier) on RH and the curtains on illuminance, all as on/off control with
 * hysteresis. It also applies minimum on/off times, the opening-hours setback band, manual overrides
 * from the dashboard and a fail-safe for silent or offline sensors. Rules, defaults and safe states:
 * docs/environment.md.
 *
 * Pure domain logic, no MQTT or timers. Feed it onReading / onAvailability, call tick() often
 * enough, or at nextDueAt(). It answers through callbacks: commands in zigbee2mqtt `<name>/set`
 * payloads, each with its reason, and alarms raised (active) and cleared.
 * Time is the reading's own timestamp, or the Clock when none is given. It never runs backwards.
 */
import type { ReadingValues } from '../../contract/mqtt.js';
import { systemClock, type Clock } from '../clock.js';
import { bandsAt, type ZoneProfile } from './profiles.js';

export type ActuatorRole = 'ac' | 'ventilation' | 'curtain';
export type SensorRole = 'climate' | 'light';
export type ActuatorState = 'ON' | 'OFF' | 'OPEN' | 'CLOSE';
/** zigbee2mqtt set payloads: switches take state ON/OFF, covers state OPEN/CLOSE or a position (100 = open). */
export type ActuatorPayload = { state: 'ON' | 'OFF' } | { state: 'OPEN' | 'CLOSE' } | { position: number };
export type CommandSource = 'control' | 'override' | 'failsafe';

export interface ActuatorCommand {
  zoneId: string; device: string; role: ActuatorRole; command: ActuatorPayload; state: ActuatorState;
  source: CommandSource; reason: string; at: Date;
}
export interface EnvAlarm {
  zoneId: string; kind: 'sensor_stale' | 'sensor_offline' | 'actuator_offline'; device: string; role: string;
  /** true when raised, false when cleared. */
  active: boolean; message: string; at: Date;
}
export interface Override { state: ActuatorState; by: string; until: Date; note?: string; setAt: Date }

export interface ZoneControllerOptions {
  zoneId: string;
  profile: ZoneProfile;
  /** Driving sensors; intervalS is the expected report interval (device config interval_s; default 300 s). */
  sensors: Partial<Record<SensorRole, { device: string; intervalS?: number }>>;
  actuators: Partial<Record<ActuatorRole, string>>;
  /** Opening hours; the profile's setback band applies while closed. Default: always open. */
  isOpen?: (at: Date) => boolean;
  /** Defaults 0.5 °C, 3 % RH, 10 % of maxLux. */
  hysteresis?: { temperature?: number; humidity?: number; lightFraction?: number };
  /** "On" means ON for switches and CLOSE for curtains. Defaults: ac and ventilation 3 min on / 5 min off, curtain 30 min closed / 1 min open. */
  timing?: Partial<Record<ActuatorRole, { minOnMs?: number; minOffMs?: number }>>;
  /** Defaults: ac OFF, ventilation ON, curtain CLOSE. */
  safeState?: Partial<Record<ActuatorRole, ActuatorState>>;
  /** Curtain payloads: {state: OPEN|CLOSE} (default) or {position: 100|0}. */
  curtainCommand?: 'state' | 'position';
  clock?: Clock;
  onCommand: (command: ActuatorCommand) => void;
  onAlarm?: (alarm: EnvAlarm) => void;
}

const MIN = 60_000;
export const DEFAULT_HYSTERESIS = { temperature: 0.5, humidity: 3, lightFraction: 0.1 } as const;
export const DEFAULT_TIMING: Record<ActuatorRole, { minOnMs: number; minOffMs: number }> = {
  ac: { minOnMs: 3 * MIN, minOffMs: 5 * MIN }, ventilation: { minOnMs: 3 * MIN, minOffMs: 5 * MIN },
  // The light sensor is inside the room: once the curtain is closed it sees electric light, not the
  // sun, so "dark enough to open" is only known by opening. Closed curtains stay closed 30 min before
  // they open to look again (a brighter-than-allowed reading then closes them after 1 min).
  curtain: { minOnMs: 30 * MIN, minOffMs: MIN },
};
export const DEFAULT_SAFE_STATE: Record<ActuatorRole, ActuatorState> = { ac: 'OFF', ventilation: 'ON', curtain: 'CLOSE' };
export const DEFAULT_SENSOR_INTERVAL_S = 300;
/** A sensor is stale after this many report intervals without a report. */
export const STALE_INTERVALS = 2;

const ROLES: ActuatorRole[] = ['ac', 'ventilation', 'curtain'];
const DRIVER: Record<ActuatorRole, SensorRole> = { ac: 'climate', ventilation: 'climate', curtain: 'light' };
const onState = (r: ActuatorRole): ActuatorState => (r === 'curtain' ? 'CLOSE' : 'ON');
const offState = (r: ActuatorRole): ActuatorState => (r === 'curtain' ? 'OPEN' : 'OFF');
const stateOf = (r: ActuatorRole, on: boolean) => (on ? onState(r) : offState(r));
const fmt = (n: number, digits = 1) => String(Math.round(n * 10 ** digits) / 10 ** digits);

/** Since when a sensor's silence counts: its last report, its start, or its return online, whichever is latest. */
const freshSince = (s: { lastAt: number | null; startedAt: number; backAt: number | null }) => Math.max(s.lastAt ?? s.startedAt, s.backAt ?? -Infinity);

/** "5 min", "2 min 1 s", "45 s", "1 h 5 min". */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return [h ? `${h} h` : '', m ? `${m} min` : '', sec || (!h && !m) ? `${sec} s` : ''].filter(Boolean).join(' ');
}

interface Decision { on: boolean; source: CommandSource; reason: string }
interface Actuator {
  role: ActuatorRole; device: string; on: boolean | null; since: number | null; online: boolean;
  reported: ReadingValues['state'] | number | null; override: Override | null;
  /** How the last override ended, for the next command's reason. */
  ended: string;
  pending: (Decision & { wantedSince: number; until: number }) | null;
}
interface Sensor {
  role: SensorRole; device: string; intervalMs: number; startedAt: number; lastAt: number | null; values: ReadingValues; online: boolean; fault: 'stale' | 'offline' | null;
  /** When its availability last turned online again: freshness counts from then, as from the start for one that never reported. */
  backAt: number | null;
}

export class ZoneController {
  private readonly clock: Clock;
  private readonly hyst: { temperature: number; humidity: number; lightFraction: number };
  private readonly timing: Record<ActuatorRole, { minOnMs: number; minOffMs: number }>;
  private readonly safe: Record<ActuatorRole, ActuatorState>;
  private readonly actuators = new Map<ActuatorRole, Actuator>();
  private readonly sensors = new Map<SensorRole, Sensor>();
  private now: number;

  constructor(private readonly opts: ZoneControllerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.now = this.clock.now().getTime();
    this.hyst = { ...DEFAULT_HYSTERESIS, ...opts.hysteresis };
    if (!(this.hyst.temperature >= 0 && this.hyst.humidity >= 0)) throw new RangeError('hysteresis must not be negative');
    if (!(this.hyst.lightFraction >= 0 && this.hyst.lightFraction < 1)) throw new RangeError('hysteresis.lightFraction must be in 0..1 (exclusive of 1)');
    this.timing = { ...DEFAULT_TIMING };
    this.safe = { ...DEFAULT_SAFE_STATE, ...opts.safeState };
    for (const role of ROLES) {
      const t = { ...DEFAULT_TIMING[role], ...opts.timing?.[role] };
      if (!(t.minOnMs >= 0 && t.minOffMs >= 0)) throw new RangeError(`timing.${role}: minimum times must not be negative`);
      this.timing[role] = t;
      if (![onState(role), offState(role)].includes(this.safe[role])) throw new RangeError(`safeState.${role} must be ${onState(role)} or ${offState(role)}`);
      const device = opts.actuators[role];
      if (device) this.actuators.set(role, { role, device, on: null, since: null, online: true, reported: null, override: null, ended: '', pending: null });
    }
    for (const role of ['climate', 'light'] as const) {
      const s = opts.sensors[role];
      if (!s) continue;
      const intervalS = s.intervalS ?? DEFAULT_SENSOR_INTERVAL_S;
      if (!(intervalS > 0)) throw new RangeError(`sensors.${role}.intervalS must be positive`);
      this.sensors.set(role, { role, device: s.device, intervalMs: intervalS * 1000, startedAt: this.now, lastAt: null, values: {}, online: true, fault: null, backAt: null });
    }
  }

  /** A reading from one of the zone's devices, by role (climate, light, or an actuator reporting its state). */
  onReading(role: string, values: ReadingValues, at?: Date): void {
    const taken = (at ?? this.clock.now()).getTime();
    const t = this.advance(at);
    const s = this.sensors.get(role as SensorRole);
    if (s) {
      if (s.lastAt !== null && taken < s.lastAt) return; // arrived late: a newer reading is already in
      s.lastAt = taken; // freshness counts from when the reading was taken
      s.online = true; // it just reported
      Object.assign(s.values, values);
    }
    const a = this.actuators.get(role as ActuatorRole);
    if (a) {
      a.reported = values.state ?? values.position ?? a.reported;
      // Adopt the device's state only while ours is unknown; otherwise an echo in flight could undo a command.
      if (a.on === null && (values.state === onState(a.role) || values.state === offState(a.role))) {
        a.on = values.state === onState(a.role);
        a.since = t;
      }
    }
    this.run(t);
  }

  /** Availability of one of the zone's devices, by role. */
  onAvailability(role: string, online: boolean, at?: Date): void {
    const t = this.advance(at);
    const s = this.sensors.get(role as SensorRole);
    if (s) {
      // Back online: its first report is usually a moment behind; the silence before the outage is not a new fault.
      if (online && !s.online) s.backAt = t;
      s.online = online;
    }
    const a = this.actuators.get(role as ActuatorRole);
    if (a && a.online !== online) {
      a.online = online;
      this.alarm({ kind: 'actuator_offline', device: a.device, role, active: !online, message: `${role} ${a.device} is ${online ? 'online again' : 'offline'}` }, t);
    }
    this.run(t);
  }

  /** Re-evaluates everything: stale sensors, override expiry, opening hours, changes held back by minimum times. */
  tick(at?: Date): void {
    this.run(this.advance(at));
  }

  /** A manual override from the dashboard: holds the actuator in `state` until `until`. */
  setOverride(role: ActuatorRole, state: ActuatorState, o: { by: string; until: Date; note?: string }, at?: Date): void {
    const t = this.advance(at);
    const a = this.actuators.get(role);
    if (!a) throw new Error(`zone ${this.opts.zoneId} has no ${role} actuator`);
    if (state !== onState(role) && state !== offState(role)) throw new Error(`${role} takes ${onState(role)} or ${offState(role)}, not ${state}`);
    if (!o.by.trim()) throw new Error('an override needs the name of who sets it');
    if (!(o.until.getTime() > t)) throw new Error(`override expiry ${o.until.toISOString()} is not in the future`);
    a.override = { state, by: o.by, until: new Date(o.until), note: o.note, setAt: new Date(t) };
    a.ended = '';
    this.run(t);
  }

  /** Ends an override early; control resumes at once. */
  clearOverride(role: ActuatorRole, by: string, at?: Date): void {
    const t = this.advance(at);
    const a = this.actuators.get(role);
    if (!a?.override) return;
    a.override = null;
    a.ended = `override cleared by ${by}; `;
    this.run(t);
  }

  /** The earliest time something may change without a new reading (for a timer), or null. */
  nextDueAt(): Date | null {
    const due: number[] = [];
    for (const a of this.actuators.values()) {
      if (a.pending) due.push(a.pending.until);
      if (a.override) due.push(a.override.until.getTime());
    }
    for (const s of this.sensors.values()) if (!s.fault) due.push(freshSince(s) + STALE_INTERVALS * s.intervalMs + 1);
    return due.length ? new Date(Math.min(...due)) : null;
  }

  /** A snapshot for the dashboard. */
  status() {
    const open = (this.opts.isOpen ?? (() => true))(new Date(this.now));
    return {
      zoneId: this.opts.zoneId, at: new Date(this.now), open, bands: bandsAt(this.opts.profile, open),
      actuators: [...this.actuators.values()].map((a) => ({
        role: a.role, device: a.device, state: a.on === null ? null : stateOf(a.role, a.on), since: a.since === null ? null : new Date(a.since),
        online: a.online, reported: a.reported, override: a.override,
        pending: a.pending && { state: stateOf(a.role, a.pending.on), until: new Date(a.pending.until), reason: a.pending.reason },
      })),
      sensors: [...this.sensors.values()].map((s) => ({
        role: s.role, device: s.device, lastAt: s.lastAt === null ? null : new Date(s.lastAt), values: { ...s.values }, online: s.online, fault: s.fault,
      })),
    };
  }

  private advance(at?: Date): number {
    this.now = Math.max(this.now, (at ?? this.clock.now()).getTime());
    return this.now;
  }

  private run(t: number) {
    for (const s of this.sensors.values()) this.checkHealth(s, t);
    for (const a of this.actuators.values()) {
      if (a.override && a.override.until.getTime() <= t) {
        a.ended = `override by ${a.override.by} expired; `;
        a.override = null;
      }
      this.evaluate(a, t);
    }
  }

  private checkHealth(s: Sensor, t: number) {
    const last = freshSince(s);
    const limit = STALE_INTERVALS * s.intervalMs;
    const fault = !s.online ? 'offline' : t - last > limit ? 'stale' : null;
    if (fault === s.fault) return;
    if (s.fault) this.alarm({ kind: `sensor_${s.fault}`, device: s.device, role: s.role, active: false, message: `${s.role} sensor ${s.device} is reporting again` }, t);
    s.fault = fault;
    if (fault) {
      const message = fault === 'offline' ? `${s.role} sensor ${s.device} is offline`
        : `${s.role} sensor ${s.device} silent for ${formatDuration(t - last)}${last === s.backAt ? ' (no report since it came back online)' : s.lastAt === null ? ' (no report since start)' : ''}, limit ${formatDuration(limit)}`;
      this.alarm({ kind: `sensor_${fault}`, device: s.device, role: s.role, active: true, message }, t);
    }
  }

  private decide(a: Actuator, t: number): Decision | null {
    if (a.override) {
      const { by, until, note, state } = a.override;
      return { on: state === onState(a.role), source: 'override', reason: `manual override by ${by} until ${until.toISOString()}${note ? `: ${note}` : ''}` };
    }
    const s = this.sensors.get(DRIVER[a.role]);
    if (!s) return null;
    if (s.fault) {
      const why = s.fault === 'offline' ? 'offline' : `stale (no report for ${formatDuration(t - (s.lastAt ?? s.startedAt))})`;
      return { on: this.safe[a.role] === onState(a.role), source: 'failsafe', reason: `${s.role} sensor ${s.device} ${why}: safe state ${this.safe[a.role]}` };
    }
    const bands = bandsAt(this.opts.profile, (this.opts.isOpen ?? (() => true))(new Date(t)));
    const note = bands.setback ? ' (closed-hours band)' : '';
    const hyst = (value: number | undefined, max: number | null, h: number, what: string, unit: string, hNote: string, digits = 1): Decision | null => {
      if (value === undefined || max === null) return null;
      if (value > max) return { on: true, source: 'control', reason: `${what} ${fmt(value, digits)} ${unit} above ${fmt(max, digits)} ${unit}${note}` };
      if (value < max - h) return { on: false, source: 'control', reason: `${what} ${fmt(value, digits)} ${unit} below ${fmt(max - h, digits)} ${unit} (${fmt(max, digits)} ${unit} max − ${hNote})${note}` };
      return null; // inside the hysteresis: keep the current state
    };
    switch (a.role) {
      case 'ac': return hyst(s.values.temperature, bands.temperature.max, this.hyst.temperature, 'temperature', '°C', `${fmt(this.hyst.temperature)} °C hysteresis`);
      case 'ventilation': return hyst(s.values.humidity, bands.humidity.max, this.hyst.humidity, 'humidity', '%', `${fmt(this.hyst.humidity)} % hysteresis`);
      case 'curtain': {
        const max = this.opts.profile.maxLux;
        return hyst(s.values.illuminance, max, (max ?? 0) * this.hyst.lightFraction, 'illuminance', 'lx', `${fmt(this.hyst.lightFraction * 100)} %`, 0);
      }
    }
  }

  private evaluate(a: Actuator, t: number) {
    const d = this.decide(a, t);
    if (!d || d.on === a.on) { a.pending = null; a.ended = ''; return; }
    const min = a.on ? this.timing[a.role].minOnMs : this.timing[a.role].minOffMs;
    const until = a.since === null ? t : a.since + min;
    const wantedSince = a.pending?.on === d.on ? a.pending.wantedSince : t;
    let reason = (d.source === 'override' ? '' : a.ended) + d.reason;
    if (until > t) { a.pending = { ...d, reason, wantedSince, until }; return; }
    const held = a.role === 'curtain' ? (a.on ? 'closed' : 'open') : (a.on ? 'on' : 'off');
    if (wantedSince < t) reason += `; held ${formatDuration(t - wantedSince)} for the ${formatDuration(min)} minimum ${held} time`;
    a.on = d.on;
    a.since = t;
    a.pending = null;
    a.ended = '';
    const state = stateOf(a.role, d.on);
    const command: ActuatorPayload = a.role === 'curtain' && this.opts.curtainCommand === 'position'
      ? { position: d.on ? 0 : 100 }
      : ({ state } as ActuatorPayload);
    this.opts.onCommand({ zoneId: this.opts.zoneId, device: a.device, role: a.role, command, state, source: d.source, reason, at: new Date(t) });
  }

  private alarm(a: Omit<EnvAlarm, 'zoneId' | 'at'>, t: number) {
    this.opts.onAlarm?.({ ...a, zoneId: this.opts.zoneId, at: new Date(t) });
  }
}
