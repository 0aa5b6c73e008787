import type { ReadingValues } from '../../contract/mqtt.js';

/**
 * Pure helpers of the zigbee2mqtt source: what zigbee2mqtt publishes, turned into the contract's
 * shapes. Sources: Koenkk/zigbee2mqtt (lib/controller.ts, lib/mqtt.ts, lib/extension/{availability,
 * bridge,publish}.ts) and Koenkk/zigbee-herdsman-converters (src/lib/exposes.ts, src/converters/*).
 */

// zigbee2mqtt: settings.schema.json mqtt.base_topic, default "zigbee2mqtt".
export const DEFAULT_BASE_TOPIC = 'zigbee2mqtt';

/** A base topic usable as a subscription prefix: no wildcards, no empty level at either end. */
export function isValidBaseTopic(base: string): boolean {
  return base !== '' && !/[+#\u0000]/.test(base) && !base.startsWith('/') && !base.endsWith('/');
}

// ---------------------------------------------------------------------------------------------
// Topics

export type Z2mTopic =
  | { kind: 'foreign' }
  | { kind: 'bridge'; sub: string }
  | { kind: 'state'; name: string }
  | { kind: 'availability'; name: string }
  /** `<name>/set`, `<name>/get` and their forms with endpoint or attribute: requests to zigbee2mqtt (ours included). */
  | { kind: 'request' }
  /** Below a configured name but not its state: attribute output (`<name>/temperature`), endpoints. */
  | { kind: 'other'; name: string }
  /** What looks like the state of a device (or group) that is not configured. */
  | { kind: 'unconfigured'; name: string };

// zigbee2mqtt lib/extension/publish.ts: `^<base>/(?!bridge)(.+?)/(get|set)(?:/(.+))?$`, the lazy
// match takes the first get/set level; names starting with bridge are not devices.
const REQUEST = /^(.+?)\/(get|set)(?:\/(.+))?$/;

/**
 * Classifies a topic below the base. Friendly names may contain `/` (zigbee2mqtt docs, "MQTT Topics
 * and Messages": `kitchen/floor_light`), so a topic is the state of a configured name only when it is
 * that name exactly, and otherwise belongs to the longest configured name it starts with.
 */
export function classifyTopic(base: string, topic: string, names: Iterable<string>): Z2mTopic {
  if (!topic.startsWith(`${base}/`)) return { kind: 'foreign' };
  const rest = topic.slice(base.length + 1);
  // zigbee2mqtt lib/extension/bridge.ts: bridge/state, bridge/devices, bridge/event, bridge/info, …
  if (rest.startsWith('bridge/')) return { kind: 'bridge', sub: rest.slice('bridge/'.length) };
  let longest: string | null = null;
  for (const n of names) {
    if (n === rest) return { kind: 'state', name: n };
    if (rest.startsWith(`${n}/`) && (longest === null || n.length > longest.length)) longest = n;
  }
  // zigbee2mqtt lib/extension/availability.ts: `${device.name}/availability`.
  if (rest.endsWith('/availability')) return { kind: 'availability', name: rest.slice(0, -'/availability'.length) };
  if (REQUEST.test(rest)) return { kind: 'request' };
  if (longest !== null) return { kind: 'other', name: longest };
  return { kind: 'unconfigured', name: rest };
}

// ---------------------------------------------------------------------------------------------
// State messages

const NUMBERS = ['temperature', 'humidity', 'illuminance', 'battery', 'voltage', 'linkquality', 'position'] as const;
const BOOLEANS = ['battery_low', 'smoke', 'tamper', 'water_leak', 'occupancy', 'contact', 'vibration'] as const;
const STATES = ['ON', 'OFF', 'OPEN', 'CLOSE', 'STOP'] as const;
// herdsman-converters exposes.ts: battery 0..100 %, cover position 0..100 %; zigbee2mqtt
// lib/model/device.ts: linkquality 0..255; relative humidity is a percentage.
const RANGES: Partial<Record<(typeof NUMBERS)[number], [number, number]>> = {
  battery: [0, 100], humidity: [0, 100], position: [0, 100], linkquality: [0, 255],
};

export interface Normalised {
  values: ReadingValues;
  /** Keys we know whose value had the wrong type or range (dropped). Unknown keys are dropped silently. */
  invalid: string[];
}

/** A zigbee2mqtt state message (`<base>/<name>`) → the contract's reading values. */
export function normaliseState(msg: Record<string, unknown>): Normalised {
  const values: ReadingValues = {};
  const invalid: string[] = [];
  const v = values as Record<string, unknown>;
  for (const key of NUMBERS) {
    const x = msg[key];
    if (x === undefined) continue;
    const range = RANGES[key];
    if (typeof x !== 'number' || !Number.isFinite(x) || (range && (x < range[0] || x > range[1]))) invalid.push(key);
    else v[key] = x;
  }
  // herdsman-converters 56232c0c3 "fix!: Remove illuminance_lux" (#8304, zigbee2mqtt 2.0): before
  // it, msIlluminanceMeasurement published the raw measuredValue as `illuminance` and lux as
  // `illuminance_lux`; since, `illuminance` is lux. So an `illuminance_lux` wins over `illuminance`.
  if (msg.illuminance_lux !== undefined) {
    const lux = msg.illuminance_lux;
    if (typeof lux === 'number' && Number.isFinite(lux) && lux >= 0) values.illuminance = lux;
    else invalid.push('illuminance_lux');
  }
  for (const key of BOOLEANS) {
    const x = msg[key];
    if (x === undefined) continue;
    // herdsman-converters exposes.ts: contact is Binary(value_on=false, value_off=true), "closed (= true)".
    if (typeof x === 'boolean') v[key] = x;
    else invalid.push(key);
  }
  if (msg.state !== undefined) {
    // herdsman-converters: switches publish state ON/OFF; covers OPEN/CLOSE (Cover: enum OPEN, CLOSE, STOP).
    if (typeof msg.state === 'string' && (STATES as readonly string[]).includes(msg.state)) values.state = msg.state as ReadingValues['state'];
    else invalid.push('state');
  }
  return { values, invalid };
}

/**
 * When the message was measured: zigbee2mqtt adds `last_seen` (advanced.last_seen: ISO_8601,
 * ISO_8601_local or epoch ms; lib/controller.ts, lib/util/utils.ts formatDate) — the time of the
 * device's last Zigbee message, which also dates a retained state re-sent on subscribe. Without it,
 * or with a value that is not a plausible time (before 2000, more than a minute ahead), it is `now`.
 */
export function readingTime(msg: Record<string, unknown>, now: Date): string {
  const ls = msg.last_seen;
  const ms = typeof ls === 'number' ? ls : typeof ls === 'string' && /T\d\d:\d\d/.test(ls) ? Date.parse(ls) : NaN;
  if (!Number.isFinite(ms) || ms < Date.UTC(2000, 0, 1) || ms > now.getTime() + 60_000) return now.toISOString();
  return new Date(ms).toISOString();
}

/**
 * `<name>/availability` and `bridge/state`: zigbee2mqtt ≥ 1.23 may, and ≥ 2.0 always does, publish
 * `{"state":"online"|"offline"}` (commit 41ece365 "Allow to configure availability payloads to be a JSON
 * object"; settingsMigration.ts: legacy_availability_payload removed in 2.0); older ones the plain
 * strings `online` / `offline`. Anything else → null.
 */
export function parseOnline(payload: Buffer | string): boolean | null {
  const text = (typeof payload === 'string' ? payload : payload.toString('utf8')).trim();
  let state: unknown = text;
  if (text.startsWith('{')) {
    try { state = (JSON.parse(text) as { state?: unknown } | null)?.state; } catch { return null; }
  }
  return state === 'online' ? true : state === 'offline' ? false : null;
}

// ---------------------------------------------------------------------------------------------
// bridge/devices, bridge/event

/**
 * The payload keys a device exposes. herdsman-converters exposes.ts: generic exposes (numeric,
 * binary, enum, …) and composites (e.g. `warning`) carry a `property`, the key in the state and
 * set payloads; specific ones (light, switch, cover, climate, lock, fan) have none but `features`
 * that do. So a property is taken as is, and features are only followed where there is none.
 */
export function exposedProperties(exposes: unknown): string[] {
  const out = new Set<string>();
  const walk = (list: unknown) => {
    if (!Array.isArray(list)) return;
    for (const e of list) {
      if (e === null || typeof e !== 'object') continue;
      const { property, features } = e as { property?: unknown; features?: unknown };
      if (typeof property === 'string' && property !== '') out.add(property);
      else walk(features);
    }
  };
  walk(exposes);
  return [...out];
}

/** What a zigbee2mqtt device takes on `<name>/set`, from its expose types (herdsman-converters exposes.ts). */
export type ActuatorKind = 'switch' | 'cover' | 'warning';

export function actuatorKindOf(exposes: unknown): ActuatorKind | null {
  if (!Array.isArray(exposes)) return null;
  const types = exposes.map((e) => (e !== null && typeof e === 'object' ? e as { type?: unknown; property?: unknown } : {}));
  // exposes.ts: warning = Composite("warning", "warning", SET); Cover; Switch; a light's state is ON/OFF too.
  if (types.some((e) => e.type === 'composite' && e.property === 'warning')) return 'warning';
  if (types.some((e) => e.type === 'cover')) return 'cover';
  if (types.some((e) => e.type === 'switch' || e.type === 'light')) return 'switch';
  return null;
}

export interface Z2mDevice {
  friendlyName: string;
  ieee: string;
  /** Coordinator, Router, EndDevice. */
  type: string;
  exposes: string[];
  kind: ActuatorKind | null;
}

function deviceOf(d: unknown): Z2mDevice | null {
  if (d === null || typeof d !== 'object') return null;
  const r = d as { friendly_name?: unknown; ieee_address?: unknown; type?: unknown; definition?: { exposes?: unknown } | null };
  if (typeof r.friendly_name !== 'string' || typeof r.ieee_address !== 'string') return null;
  // zigbee2mqtt bridge.ts getDefinitionPayload: no definition (coordinator, unsupported, interviewing) → none.
  const exposes = r.definition && typeof r.definition === 'object' ? r.definition.exposes : undefined;
  return {
    friendlyName: r.friendly_name, ieee: r.ieee_address, type: typeof r.type === 'string' ? r.type : 'Unknown',
    exposes: exposedProperties(exposes), kind: actuatorKindOf(exposes),
  };
}

/** `bridge/devices`: zigbee2mqtt bridge.ts publishDevices, a retained JSON array. Null when it is not one. */
export function parseBridgeDevices(payload: Buffer | string): Z2mDevice[] | null {
  let list: unknown;
  try { list = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8')); } catch { return null; }
  if (!Array.isArray(list)) return null;
  return list.map(deviceOf).filter((d): d is Z2mDevice => d !== null);
}

export interface Z2mEvent {
  type: string;
  friendlyName?: string;
  ieee?: string;
  /** device_interview: started, successful, failed. */
  status?: string;
  /** device_interview successful: the device with its definition's exposes. */
  device?: Z2mDevice;
}

/** `bridge/event`: `{type: device_joined|device_leave|device_announce|device_interview, data: {friendly_name, ieee_address, status?, definition?}}` (zigbee2mqtt bridge.ts). */
export function parseBridgeEvent(msg: Record<string, unknown> | null): Z2mEvent | null {
  if (!msg || typeof msg.type !== 'string' || msg.data === null || typeof msg.data !== 'object') return null;
  const d = msg.data as { friendly_name?: unknown; ieee_address?: unknown; status?: unknown };
  const ev: Z2mEvent = { type: msg.type };
  if (typeof d.friendly_name === 'string') ev.friendlyName = d.friendly_name;
  if (typeof d.ieee_address === 'string') ev.ieee = d.ieee_address;
  if (typeof d.status === 'string') ev.status = d.status;
  if (ev.type === 'device_interview' && ev.status === 'successful') ev.device = deviceOf(d) ?? undefined;
  return ev;
}

// ---------------------------------------------------------------------------------------------
// Commands

/** The actuator kind a configured role implies (docs/environment.md roles); other roles: from the exposes. */
export function kindOfRole(role: string): ActuatorKind | null {
  return role === 'curtain' ? 'cover' : role === 'siren' ? 'warning' : role === 'ac' || role === 'ventilation' ? 'switch' : null;
}

// herdsman-converters exposes.ts warning: mode enum, level enum, strobe_level enum, strobe binary,
// strobe_duty_cycle 0..10, duration (s); toZigbee.ts warning: duration is the ZCL warningduration (uint16).
const WARNING_MODES = ['stop', 'burglar', 'fire', 'emergency', 'police_panic', 'fire_panic', 'emergency_panic'];
const LEVELS = ['low', 'medium', 'high', 'very_high'];

export type SetCheck = { ok: true; payload: Record<string, unknown> } | { ok: false; error: string };

const isObject = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);
const intIn = (x: unknown, lo: number, hi: number) => typeof x === 'number' && Number.isInteger(x) && x >= lo && x <= hi;

/** Checks a `<name>/set` payload for the device's kind; returns the payload to publish. */
export function checkSetPayload(kind: ActuatorKind, payload: unknown): SetCheck {
  if (!isObject(payload)) return { ok: false, error: 'payload must be an object' };
  const keys = Object.keys(payload);
  const only = (allowed: string[]) => keys.length > 0 && keys.every((k) => allowed.includes(k));
  if (kind === 'switch') {
    // herdsman-converters exposes.ts Switch.withState: value_on ON, value_off OFF.
    if (!only(['state']) || (payload.state !== 'ON' && payload.state !== 'OFF')) return { ok: false, error: 'a switch takes {"state": "ON"|"OFF"}' };
    return { ok: true, payload: { state: payload.state } };
  }
  if (kind === 'cover') {
    // exposes.ts Cover: state enum OPEN/CLOSE/STOP, position 0..100; fromZigbee.ts: open = 100, close = 0.
    if (only(['state']) && typeof payload.state === 'string' && ['OPEN', 'CLOSE', 'STOP'].includes(payload.state)) return { ok: true, payload: { state: payload.state } };
    if (only(['position']) && typeof payload.position === 'number' && payload.position >= 0 && payload.position <= 100) return { ok: true, payload: { position: payload.position } };
    return { ok: false, error: 'a cover takes {"state": "OPEN"|"CLOSE"|"STOP"} or {"position": 0..100}' };
  }
  const w = payload.warning;
  if (!only(['warning']) || !isObject(w)) return { ok: false, error: 'a warning device takes {"warning": {mode, strobe?, duration?, level?}}' };
  const bad = (msg: string): SetCheck => ({ ok: false, error: `warning.${msg}` });
  if (typeof w.mode !== 'string' || !WARNING_MODES.includes(w.mode)) return bad(`mode must be one of ${WARNING_MODES.join(', ')}`);
  if (w.strobe !== undefined && typeof w.strobe !== 'boolean') return bad('strobe must be a boolean');
  if (w.duration !== undefined && !intIn(w.duration, 0, 65535)) return bad('duration must be whole seconds 0..65535');
  for (const k of ['level', 'strobe_level']) if (w[k] !== undefined && !LEVELS.includes(w[k] as string)) return bad(`${k} must be one of ${LEVELS.join(', ')}`);
  if (w.strobe_duty_cycle !== undefined && !intIn(w.strobe_duty_cycle, 0, 10)) return bad('strobe_duty_cycle must be 0..10');
  const extra = Object.keys(w).filter((k) => !['mode', 'strobe', 'duration', 'level', 'strobe_level', 'strobe_duty_cycle'].includes(k));
  if (extra.length) return bad(`${extra[0]} is not a warning field`);
  return { ok: true, payload: { warning: { ...w } } };
}

/**
 * The warning modes each device of a `bridge/devices` payload lists in its `warning` expose, by
 * friendly name. herdsman-converters narrows some models to fewer modes than tz.warning knows (HEIMAN
 * HS2WD-E: `stop` and `emergency` only, heiman.ts), and such a siren does not sound for the others.
 */
export function parseWarningModes(payload: Buffer | string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let list: unknown;
  try { list = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8')); } catch { return out; }
  if (!Array.isArray(list)) return out;
  for (const d of list) {
    const exposes = isObject(d) && isObject(d.definition) ? d.definition.exposes : undefined;
    if (typeof d?.friendly_name !== 'string' || !Array.isArray(exposes)) continue;
    const warning = exposes.find((e) => isObject(e) && e.type === 'composite' && e.property === 'warning') as Record<string, unknown> | undefined;
    const mode = Array.isArray(warning?.features) ? warning.features.find((f) => isObject(f) && f.property === 'mode') as Record<string, unknown> | undefined : undefined;
    if (Array.isArray(mode?.values) && mode.values.every((v) => typeof v === 'string')) out.set(d.friendly_name, mode.values as string[]);
  }
  return out;
}

/** A checked warning payload for a device that lists `modes`: an alarm mode it does not take (fire, burglar…) sounds as `emergency`. */
export function fitWarningMode(payload: Record<string, unknown>, modes: readonly string[] | undefined): Record<string, unknown> {
  const w = payload.warning as Record<string, unknown>;
  if (!modes || w.mode === 'stop' || modes.includes(w.mode as string) || !modes.includes('emergency')) return payload;
  return { warning: { ...w, mode: 'emergency' } };
}

/** `<name>/get`: zigbee2mqtt docs, a key with an empty string value per property, e.g. `{"state": ""}`. */
export function getPayload(keys: unknown): Record<string, ''> | null {
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'string' && /^[A-Za-z0-9_]+$/.test(k))) return null;
  return Object.fromEntries((keys as string[]).map((k) => [k, ''] as const));
}
