import type { ReadingValues } from '../../contract/mqtt.js';

/**
 * Pure converters between zigbee-herdsman's decoded ZCL messages (Controller 'message' events:
 * `{type, cluster, data}` with attributes keyed by their herdsman names) and the contract's
 * ReadingValues, named as zigbee2mqtt names them. Spec references are to the ZCL (CSA 07-5123,
 * revision 8); cluster, attribute and command names are zigbee-herdsman 10.9.5's
 * (dist/zspec/zcl/definition/cluster.js).
 */

/** The message types that carry attribute values or zone state (zigbee-herdsman controller.js onZclPayload). */
export const READING_MESSAGE_TYPES = ['attributeReport', 'readResponse', 'commandStatusChangeNotification'] as const;

export interface ZclMessage {
  type: string;
  cluster: string | number;
  data: unknown;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

/** ZCL §4.4 msTemperatureMeasurement (0x0402) MeasuredValue: int16, 0.01 °C; 0x8000 = invalid. */
export function temperature(v: unknown): number | undefined {
  const n = num(v);
  return n === undefined || n === -0x8000 || n < -27315 || n > 32767 ? undefined : round(n / 100, 2);
}

/** ZCL §4.7 msRelativeHumidity (0x0405) MeasuredValue: uint16, 0.01 %, 0..10000; 0xFFFF = invalid. */
export function humidity(v: unknown): number | undefined {
  const n = num(v);
  return n === undefined || n < 0 || n > 10000 ? undefined : round(n / 100, 2);
}

/**
 * ZCL §4.2 msIlluminanceMeasurement (0x0400) MeasuredValue = 10000·log10(lux) + 1, uint16;
 * 0 = too low to be measured (reported as 0 lx), 0xFFFF = invalid.
 */
export function illuminance(v: unknown): number | undefined {
  const n = num(v);
  if (n === undefined || n < 0 || n >= 0xffff) return undefined;
  return n === 0 ? 0 : round(10 ** ((n - 1) / 10000), 1);
}

/** ZCL §3.3 genPowerCfg (0x0001) BatteryPercentageRemaining: uint8, 0.5 % units (200 = 100 %); 0xFF = invalid. */
export function batteryPercent(v: unknown): number | undefined {
  const n = num(v);
  return n === undefined || n < 0 || n > 200 ? undefined : Math.round(n / 2);
}

/** ZCL §3.3 genPowerCfg BatteryVoltage: uint8, 0.1 V; 0xFF = invalid. Published in mV, as zigbee2mqtt's `voltage`. */
export function batteryMillivolts(v: unknown): number | undefined {
  const n = num(v);
  return n === undefined || n < 0 || n >= 0xff ? undefined : n * 100;
}

/**
 * ZCL §8.2 ssIasZone (0x0500) ZoneStatus, map16: bit 0 Alarm1, bit 1 Alarm2, bit 2 Tamper,
 * bit 3 Battery (low). Alarm1 means what the zone type says, so the device's role decides its key
 * (zigbee2mqtt's ias_*_alarm_1 converters): smoke → smoke, water → water_leak, motion → occupancy,
 * contact → contact, which is true when closed (Alarm1 = opened). Alarm2 is left alone, as there.
 */
export function zoneStatus(status: unknown, role: string): ReadingValues {
  const n = num(status);
  if (n === undefined || n < 0 || n > 0xffff) return {};
  const alarm1 = (n & 0x1) !== 0;
  const values: ReadingValues = { tamper: (n & 0x4) !== 0, battery_low: (n & 0x8) !== 0 };
  if (role === 'smoke') values.smoke = alarm1;
  else if (role === 'water') values.water_leak = alarm1;
  else if (role === 'motion') values.occupancy = alarm1;
  else if (role === 'contact') values.contact = !alarm1;
  return values;
}

/** ZCL §3.8 genOnOff (0x0006) OnOff: boolean (0 = off). */
export function onOffState(v: unknown): 'ON' | 'OFF' | undefined {
  if (v === true || v === 1) return 'ON';
  if (v === false || v === 0) return 'OFF';
  return undefined;
}

/**
 * ZCL §7.4 closuresWindowCovering (0x0102) CurrentPositionLiftPercentage: uint8, % closed
 * (0 = fully open), 0xFF = invalid. Our position is zigbee2mqtt's (100 = open), so 100 − value.
 */
export function coverPosition(v: unknown): number | undefined {
  const n = num(v);
  return n === undefined || n < 0 || n > 100 ? undefined : 100 - n;
}

/** Keeps the defined entries only (a report may carry an invalid value next to valid ones). */
function defined(values: Record<string, unknown>): ReadingValues {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as ReadingValues;
}

/** The reading in one Controller message, `{}` when it carries nothing we publish. */
export function readingFromMessage(msg: ZclMessage, role: string): ReadingValues {
  if (!(READING_MESSAGE_TYPES as readonly string[]).includes(msg.type)) return {};
  const data = msg.data !== null && typeof msg.data === 'object' && !Array.isArray(msg.data) && !Buffer.isBuffer(msg.data)
    ? (msg.data as Record<string, unknown>) : {};
  if (msg.type === 'commandStatusChangeNotification') {
    // ZCL §8.2 IAS Zone, Zone Status Change Notification (server → client): zone status, extended status, zone id, delay.
    return msg.cluster === 'ssIasZone' ? zoneStatus(data.zonestatus, role) : {};
  }
  switch (msg.cluster) {
    case 'msTemperatureMeasurement': return defined({ temperature: temperature(data.measuredValue) });
    case 'msRelativeHumidity': return defined({ humidity: humidity(data.measuredValue) });
    case 'msIlluminanceMeasurement': return defined({ illuminance: illuminance(data.measuredValue) });
    case 'genPowerCfg': return defined({ battery: batteryPercent(data.batteryPercentageRemaining), voltage: batteryMillivolts(data.batteryVoltage) });
    case 'ssIasZone': return 'zoneStatus' in data ? zoneStatus(data.zoneStatus, role) : {};
    case 'genOnOff': return defined({ state: onOffState(data.onOff) });
    case 'closuresWindowCovering': return defined({ position: coverPosition(data.currentPositionLiftPercentage) });
    default: return {};
  }
}

/** One ZCL cluster command, as `Endpoint.command(cluster, command, payload)` takes it. */
export interface ZclCommand {
  cluster: 'genOnOff' | 'closuresWindowCovering' | 'ssIasWd';
  command: 'on' | 'off' | 'upOpen' | 'downClose' | 'stop' | 'goToLiftPercentage' | 'startWarning';
  payload: Record<string, number>;
}

// ZCL §8.4.2.3.1 IAS WD Start Warning: warning mode in bits 4–7, strobe in bit 2, siren level in bits 0–1.
const WARNING_MODES: Record<string, number> = { stop: 0, burglar: 1, fire: 2, emergency: 3, police_panic: 4, fire_panic: 5, emergency_panic: 6 };
const WARNING_LEVELS: Record<string, number> = { low: 0, medium: 1, high: 2, very_high: 3 };

/** zigbee2mqtt's `{"warning": {mode, level?, strobe?, duration?, strobe_level?, strobe_duty_cycle?}}` as Start Warning (its defaults). */
function warningCommand(w: unknown): CommandCheck {
  if (w === null || typeof w !== 'object' || Array.isArray(w)) return { ok: false, error: 'warning must be a JSON object' };
  const o = w as Record<string, unknown>;
  const mode = WARNING_MODES[String(o.mode ?? 'emergency')];
  const level = WARNING_LEVELS[String(o.level ?? 'medium')];
  const strobeLevel = WARNING_LEVELS[String(o.strobe_level ?? 'low')];
  if (mode === undefined) return { ok: false, error: `warning mode must be one of ${Object.keys(WARNING_MODES).join(', ')} (got ${JSON.stringify(o.mode)})` };
  if (level === undefined || strobeLevel === undefined) return { ok: false, error: `warning level and strobe_level must be one of ${Object.keys(WARNING_LEVELS).join(', ')}` };
  const duration = o.duration ?? 10, duty = o.strobe_duty_cycle ?? 1, strobe = o.strobe ?? true;
  if (typeof duration !== 'number' || !Number.isInteger(duration) || duration < 0 || duration > 0xffff) return { ok: false, error: `warning duration must be whole seconds 0..65535 (got ${JSON.stringify(o.duration)})` };
  if (typeof duty !== 'number' || !Number.isInteger(duty) || duty < 0 || duty > 10) return { ok: false, error: `strobe_duty_cycle must be 0..10 (got ${JSON.stringify(o.strobe_duty_cycle)})` };
  if (typeof strobe !== 'boolean') return { ok: false, error: 'warning strobe must be true or false' };
  return {
    ok: true,
    command: {
      cluster: 'ssIasWd', command: 'startWarning',
      payload: { startwarninginfo: (mode << 4) | ((strobe ? 1 : 0) << 2) | level, warningduration: duration, strobedutycycle: duty * 10, strobelevel: strobeLevel },
    },
  };
}

export type CommandCheck = { ok: true; command: ZclCommand } | { ok: false; error: string };

/**
 * A zigbee2mqtt `<name>/set` payload as one ZCL command: `{"state":"ON"|"OFF"}` → genOnOff on/off
 * (ZCL §3.8), `{"state":"OPEN"|"CLOSE"|"STOP"}` → closuresWindowCovering upOpen/downClose/stop
 * (ZCL §7.4), `{"position": 0..100}` (100 = open) → goToLiftPercentage(100 − position),
 * `{"warning": {...}}` → ssIasWd startWarning (ZCL §8.4.2.3.1), for sirens and strobes.
 * The state is taken in any case, as zigbee2mqtt does; anything else is refused.
 */
export function commandFromPayload(payload: unknown): CommandCheck {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return { ok: false, error: 'payload must be a JSON object' };
  const p = payload as Record<string, unknown>;
  const keys = Object.keys(p);
  if (keys.length !== 1) return { ok: false, error: `payload must have exactly one of state, position, warning (got ${keys.join(', ') || 'none'})` };
  if ('state' in p) {
    const state = typeof p.state === 'string' ? p.state.toUpperCase() : '';
    const byState: Record<string, ZclCommand> = {
      ON: { cluster: 'genOnOff', command: 'on', payload: {} },
      OFF: { cluster: 'genOnOff', command: 'off', payload: {} },
      OPEN: { cluster: 'closuresWindowCovering', command: 'upOpen', payload: {} },
      CLOSE: { cluster: 'closuresWindowCovering', command: 'downClose', payload: {} },
      STOP: { cluster: 'closuresWindowCovering', command: 'stop', payload: {} },
    };
    const command = byState[state];
    return command ? { ok: true, command } : { ok: false, error: `state must be ON, OFF, OPEN, CLOSE or STOP (got ${JSON.stringify(p.state)})` };
  }
  if ('position' in p) {
    const n = p.position;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 100) return { ok: false, error: `position must be an integer 0..100 (got ${JSON.stringify(n)})` };
    return { ok: true, command: { cluster: 'closuresWindowCovering', command: 'goToLiftPercentage', payload: { percentageliftvalue: 100 - n } } };
  }
  if ('warning' in p) return warningCommand(p.warning);
  return { ok: false, error: `unknown key '${keys[0]}' (known: state, position, warning)` };
}

/** Where zigbee.get finds each reading key: the cluster and attribute that hold it (the ones readingFromMessage converts). */
export const ATTRIBUTE_OF_KEY: Record<string, [cluster: string, attribute: string]> = {
  temperature: ['msTemperatureMeasurement', 'measuredValue'],
  humidity: ['msRelativeHumidity', 'measuredValue'],
  illuminance: ['msIlluminanceMeasurement', 'measuredValue'],
  battery: ['genPowerCfg', 'batteryPercentageRemaining'],
  voltage: ['genPowerCfg', 'batteryVoltage'],
  state: ['genOnOff', 'onOff'],
  position: ['closuresWindowCovering', 'currentPositionLiftPercentage'],
  ...Object.fromEntries(['smoke', 'water_leak', 'occupancy', 'contact', 'tamper', 'battery_low'].map((k) => [k, ['ssIasZone', 'zoneStatus']])),
};

/** zigbee.get keys grouped by cluster, or an error naming the keys we cannot read. */
export function readsFromKeys(keys: unknown): { ok: true; reads: Map<string, string[]> } | { ok: false; error: string } {
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'string')) return { ok: false, error: 'keys must be a non-empty list of property names' };
  const unknown = keys.filter((k) => !(k in ATTRIBUTE_OF_KEY));
  if (unknown.length) return { ok: false, error: `cannot read ${unknown.join(', ')} (known: ${Object.keys(ATTRIBUTE_OF_KEY).join(', ')})` };
  const reads = new Map<string, string[]>();
  for (const k of keys) {
    const [cluster, attribute] = ATTRIBUTE_OF_KEY[k]!;
    const list = reads.get(cluster) ?? [];
    if (!list.includes(attribute)) list.push(attribute);
    reads.set(cluster, list);
  }
  return { ok: true, reads };
}
