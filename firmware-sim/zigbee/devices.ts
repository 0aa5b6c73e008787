/**
 * Simulated Zigbee devices as zigbee2mqtt (2.x) shows them: one real model per role, its
 * `bridge/devices` entry, its state payload and how it answers `<name>/set` and `<name>/get`.
 * Sources (Koenkk/zigbee2mqtt @6835cbf5, Koenkk/zigbee-herdsman-converters "zhc" @df720053):
 * - entry fields: zigbee2mqtt lib/extension/bridge.ts publishDevices(); definition: getDefinitionPayload();
 *   z2m appends linkquality to every device's exposes (lib/model/device.ts exposes()).
 * - exposes: zhc src/lib/exposes.ts presets; models in src/devices/{lumi,feibit,heiman,sonoff,ikea}.ts;
 *   calibration/precision options added per numeric expose (zhc src/index.ts prepareDefinition).
 * - state: lib/controller.ts publishEntityState(): with cache_state (default on) every message is the
 *   whole cached state plus linkquality, serialised by json-stable-stringify (keys sorted).
 * - set: lib/extension/publish.ts; zhc toZigbee on_off returns the optimistic {state}; cover_state returns
 *   nothing (the cover reports its moves, fz.cover_position_tilt: position 100 = open, state CLOSE only at 0);
 *   cover_position_tilt returns {position}; warning returns nothing. A key without converter is only logged.
 * Left out: converter options (occupancy_timeout, invert_cover…), icons, last_seen, bindings.
 */
import type { ZigbeeDeviceConfig } from '../../contract/mqtt.js';
import { hashString, rng, type Room } from './room.js';

export type Payload = Record<string, unknown>;
type Expose = Record<string, unknown>;
export type Role = 'climate' | 'light' | 'smoke' | 'water' | 'motion' | 'contact' | 'ac' | 'ventilation' | 'curtain' | 'siren';
export const ROLES: readonly Role[] = ['climate', 'light', 'smoke', 'water', 'motion', 'contact', 'ac', 'ventilation', 'curtain', 'siren'];
export type TriggerKind = 'smoke' | 'water_leak' | 'occupancy' | 'contact' | 'tamper';

// Access bits (zhc exposes.ts `access`): 1 in the published state, 2 settable via /set, 4 readable via /get.
const label = (n: string) => { const l = n.replace(/_/g, ' '); return l.charAt(0).toUpperCase() + l.slice(1); };
interface X { unit?: string; min?: number; max?: number; step?: number; category?: 'config' | 'diagnostic' }
const x = (o: X): Expose => ({ unit: o.unit, value_min: o.min, value_max: o.max, value_step: o.step, category: o.category });
const num = (name: string, access: number, description: string, o: X = {}): Expose =>
  ({ type: 'numeric', name, label: label(name), property: name, access, description, ...x(o) });
const bin = (name: string, access: number, on: unknown, off: unknown, description: string, o: X = {}): Expose =>
  ({ type: 'binary', name, label: label(name), property: name, access, value_on: on, value_off: off, description, ...x(o) });
const enm = (name: string, access: number, values: string[], description?: string, o: X = {}): Expose =>
  ({ type: 'enum', name, label: label(name), property: name, access, values, description, ...x(o) });
const E = {
  battery: () => num('battery', 1, 'Remaining battery in %, can take up to 24 hours before reported', { unit: '%', min: 0, max: 100, category: 'diagnostic' }),
  voltage: () => num('voltage', 1, 'Voltage of the battery in millivolts', { unit: 'mV', category: 'diagnostic' }),
  batteryLow: () => bin('battery_low', 1, true, false, 'Indicates if the battery of this device is almost empty', { category: 'diagnostic' }),
  tamper: () => bin('tamper', 1, true, false, 'Indicates whether the device is tampered'),
  deviceTemperature: () => num('device_temperature', 1, 'Temperature of the device', { unit: '°C', category: 'diagnostic' }),
  powerOutages: () => num('power_outage_count', 1, 'Number of power outages', { category: 'diagnostic' }),
  linkquality: () => num('linkquality', 1, 'Link quality (signal strength)', { unit: 'lqi', min: 0, max: 255, category: 'diagnostic' }),
};
const SWITCH: Expose = { type: 'switch', features: [{ ...bin('state', 7, 'ON', 'OFF', 'On/off state of the switch'), value_toggle: 'TOGGLE' }] };

interface Spec {
  model: string; vendor: string; description: string; modelId: string; manufacturer: string;
  type: 'EndDevice' | 'Router'; power: 'Battery' | 'Mains (single phase)'; oui: string; ota: boolean;
  input: string[]; output: string[]; exposes: Expose[]; reportings?: Payload[];
}
/** AC and ventilation are switched by a relay, as zigbee2mqtt sees them: a plain on/off switch. */
const RELAY: Spec = { model: 'BASICZBR3', vendor: 'SONOFF', description: 'Zigbee smart switch', modelId: 'BASICZBR3', manufacturer: 'SONOFF', type: 'Router',
  power: 'Mains (single phase)', oui: '00124b00', ota: false, input: ['genBasic', 'genIdentify', 'genGroups', 'genScenes', 'genOnOff'], output: [], exposes: [SWITCH] };
const lumi = { manufacturer: 'LUMI', type: 'EndDevice', power: 'Battery', oui: '00158d00', ota: false } as const;
export const MODELS: Record<Role, Spec> = {
  climate: { ...lumi, model: 'WSDCGQ11LM', vendor: 'Aqara', description: 'Temperature and humidity sensor', modelId: 'lumi.weather',
    input: ['genBasic', 'genIdentify', 'msTemperatureMeasurement', 'msPressureMeasurement', 'msRelativeHumidity'], output: ['genBasic', 'genGroups'],
    exposes: [E.battery(), num('temperature', 1, 'Measured temperature value', { unit: '°C' }), num('humidity', 1, 'Measured relative humidity', { unit: '%' }),
      num('pressure', 1, 'The measured atmospheric pressure', { unit: 'hPa' }), E.voltage()] },
  light: { ...lumi, model: 'GZCGQ01LM', vendor: 'Xiaomi', description: 'Mi light sensor', modelId: 'lumi.sen_ill.mgl01',
    input: ['genBasic', 'genPowerCfg', 'genIdentify', 'msIlluminanceMeasurement'], output: ['genIdentify'],
    exposes: [E.battery(), E.voltage(), num('illuminance', 5, 'Measured illuminance', { unit: 'lx' })] },
  motion: { ...lumi, model: 'RTCGQ11LM', vendor: 'Aqara', description: 'Motion sensor', modelId: 'lumi.sensor_motion.aq2',
    input: ['genBasic', 'msIlluminanceMeasurement', 'msOccupancySensing'], output: ['genBasic', 'genOta'],
    exposes: [E.battery(), bin('occupancy', 1, true, false, 'Indicates whether the device detected occupancy'), E.deviceTemperature(), E.voltage(),
      num('illuminance', 1, 'Measured illuminance', { unit: 'lx' }), E.powerOutages()] },
  contact: { ...lumi, model: 'MCCGQ11LM', vendor: 'Aqara', description: 'Door and window sensor', modelId: 'lumi.sensor_magnet.aq2',
    input: ['genBasic', 'genIdentify', 'genOnOff'], output: ['genBasic', 'genGroups'],
    exposes: [E.battery(), { ...bin('contact', 1, false, true, 'Indicates if the contact is closed (= true) or open (= false)'), homeassistant: { name: null } },
      E.deviceTemperature(), E.voltage(), E.powerOutages(),
      num('trigger_count', 1, 'Indicates how many times the sensor was triggered (since last scheduled report)', { category: 'diagnostic' })] },
  smoke: { model: 'SSA01ZB', vendor: 'Feibit', description: 'Smoke detector', modelId: 'FNB56-SMF06FB1.6', manufacturer: 'feibit', type: 'EndDevice',
    power: 'Battery', oui: '00124b00', ota: false, input: ['genBasic', 'genPowerCfg', 'genIdentify', 'ssIasZone'], output: [],
    exposes: [bin('smoke', 1, true, false, 'Indicates whether the device detected smoke'), E.batteryLow(), E.tamper(), E.battery()] },
  water: { model: 'HS1WL/HS3WL', vendor: 'Heiman', description: 'Water leakage sensor', modelId: 'WaterSensor-N', manufacturer: 'HEIMAN', type: 'EndDevice',
    power: 'Battery', oui: '000d6f00', ota: false, input: ['genBasic', 'genPowerCfg', 'genIdentify', 'ssIasZone'], output: [],
    exposes: [bin('water_leak', 1, true, false, 'Indicates whether the device detected a water leak'), E.batteryLow(), E.tamper(), E.battery()] },
  ac: RELAY,
  ventilation: RELAY,
  curtain: { model: 'E1757', vendor: 'IKEA', description: 'FYRTUR roller blind, block-out', modelId: 'FYRTUR block-out roller blind',
    manufacturer: 'IKEA of Sweden', type: 'EndDevice', power: 'Battery', oui: '000b57fffe', ota: true,
    input: ['genBasic', 'genPowerCfg', 'genIdentify', 'genGroups', 'genScenes', 'genPollCtrl', 'closuresWindowCovering', 'touchlink'], output: ['genOta', 'touchlink'],
    reportings: [{ cluster: 'closuresWindowCovering', attribute: 'currentPositionLiftPercentage', minimum_report_interval: 1, maximum_report_interval: 65000, reportable_change: 1 }],
    exposes: [{ type: 'cover', features: [enm('state', 3, ['OPEN', 'CLOSE', 'STOP']), num('position', 7, 'Position of this cover', { unit: '%', min: 0, max: 100 })] },
      enm('identify', 2, ['identify'], 'Initiate device identification', { category: 'config' }),
      num('battery', 5, 'Remaining battery in %', { unit: '%', min: 0, max: 100, category: 'diagnostic' })] },
  siren: { model: 'HS2WD-E', vendor: 'Heiman', description: 'Smart siren', modelId: 'WarningDevice', manufacturer: 'HEIMAN', type: 'Router',
    power: 'Mains (single phase)', oui: '000d6f00', ota: false, input: ['genBasic', 'genPowerCfg', 'genIdentify', 'ssIasZone', 'ssIasWd'], output: ['genOta'],
    exposes: [E.battery(), { type: 'composite', name: 'warning', label: 'Warning', property: 'warning', access: 2, features: [
      bin('strobe', 2, true, false, 'Turn on/off the strobe (light) during warning'), num('strobe_duty_cycle', 2, 'Length of the flash cycle', { min: 0, max: 10 }),
      num('duration', 2, 'Duration in seconds of the alarm', { unit: 's' }), enm('mode', 2, ['stop', 'emergency'], 'Mode of the warning (sound effect)')] },
    num('max_duration', 7, 'Maximum time that the alarm will be active', { unit: 's', min: 0, max: 65534, step: 1 })] },
};

/** zhc's default precisions (utils.ts); numeric exposes named so get calibration (+ precision when ≠ 0) options. */
const PRECISION: Record<string, number> = { temperature: 2, humidity: 2, pressure: 1, voltage: 2, device_temperature: 0, illuminance: 0 };
function options(exposes: Expose[]): Expose[] {
  const out: Expose[] = [];
  for (const e of exposes) {
    const n = e.name as string;
    if (e.type !== 'numeric' || !(n in PRECISION) || (n === 'voltage' && e.unit === 'mV')) continue;
    const kind = ['voltage', 'illuminance'].includes(n) ? 'percentual' : 'absolute';
    out.push(num(`${n}_calibration`, 2, `Calibrates the ${n} value (${kind} offset), takes into effect on next report of device.`, { step: 0.1 }));
    if (PRECISION[n] !== 0) out.push(num(`${n}_precision`, 2, `Number of digits after decimal point for ${n}, takes into effect on next report of device. This option can only decrease the precision, not increase it.`, { min: 0, max: 3 }));
  }
  return out;
}

/** JSON with object keys sorted at every level, undefined members dropped: what json-stable-stringify gives zigbee2mqtt. */
export function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((i) => (i === undefined ? 'null' : stableStringify(i))).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

const round = (v: number, d: number) => Math.round(v * 10 ** d) / 10 ** d;
const MIN_REPORT_MS = 10_000; // zhc reporting min "10_SECONDS" for temperature/humidity/illuminance
const HEARTBEAT_MS = 3_000_000; // battery sensors check in about every 50 min (zhc quirkCheckinInterval allows 1 h)
export const OCCUPANCY_TIMEOUT_MS = 90_000; // fz.occupancy_with_timeout default occupancy_timeout 90 s
export const COVER_TRAVEL_MS = 30_000; // full travel of the blind, our assumption; reports ≥ 1 s apart (reporting min 1 s, change 1 %)

/** One simulated device. Times are simulated epoch ms. */
export class SimDevice {
  readonly spec: Spec;
  readonly ieee: string;
  readonly networkAddress: number;
  online = true;
  protected readonly values: Payload;
  private readonly rand: () => number;
  private readonly lqi: number;
  private last = -Infinity;
  private sent: Payload = {};
  private target: number | null = null;
  private moved = 0;
  private occupiedUntil = 0;
  private sirenUntil = 0;

  constructor(readonly config: ZigbeeDeviceConfig & { z2mName: string }, readonly role: Role, readonly room: Room, seed = 1) {
    this.spec = MODELS[role];
    const h = hashString(config.id, seed);
    this.rand = rng(h);
    this.ieee = `0x${(this.spec.oui + h.toString(16).padStart(8, '0') + hashString(config.z2mName, h).toString(16).padStart(8, '0')).slice(0, 16)}`;
    this.networkAddress = 1 + (h % 65000);
    this.lqi = 90 + (h % 120);
    const mv = 2980 + (h % 45); // Xiaomi CR2032/CR1632 voltage; battery % = voltageToPercentage 2850..3000 mV
    const xiaomi = { battery: Math.round(Math.min(1, (mv - 2850) / 150) * 100), voltage: mv };
    const ias = { tamper: false, battery_low: false, battery: 100 - 0.5 * (h % 20) };
    this.values = ({
      climate: () => ({ ...xiaomi }), light: () => ({ ...xiaomi }), contact: () => ({ ...xiaomi, contact: true, device_temperature: 24, power_outage_count: h % 7 }),
      motion: () => ({ ...xiaomi, occupancy: false, device_temperature: 24, power_outage_count: h % 7 }),
      smoke: () => ({ smoke: false, ...ias, supervision_reports: false, restore_reports: true, trouble: false, ac_status: false, test: false, battery_defect: false }),
      water: () => ({ water_leak: false, ...ias }), ac: () => ({ state: 'OFF' }), ventilation: () => ({ state: 'OFF' }),
      curtain: () => ({ position: 100, state: 'OPEN', battery: 80 + (h % 20) }), siren: () => ({ battery: 100 }),
    } satisfies Record<Role, () => Payload>)[role]();
    this.sense(this.room.now.getTime(), true);
  }

  get name(): string { return this.config.z2mName; }
  get id(): string { return this.config.id; }
  /** Report interval for scheduled sensors: config intervalS, else 300 s (the server's default expectation). */
  get intervalMs(): number { return (this.config.intervalS ?? 300) * 1000; }
  sirenSounding(nowMs: number): boolean { return nowMs < this.sirenUntil; }

  /** The state as zigbee2mqtt publishes it: every cached value plus the last message's linkquality. */
  payload(): Payload { return { ...this.values, linkquality: Math.max(0, Math.min(255, Math.round(this.lqi + (this.rand() - 0.5) * 16))) }; }

  /** The device's `bridge/devices` entry. */
  entry(): Payload {
    const s = this.spec, exposes = [...s.exposes, E.linkquality()];
    return {
      ieee_address: this.ieee, type: s.type, network_address: this.networkAddress, supported: true, friendly_name: this.name, disabled: false,
      definition: { source: 'native', model: s.model, vendor: s.vendor, description: s.description, exposes, supports_ota: s.ota, options: options(exposes), version: '0.0.0' },
      power_source: s.power, model_id: s.modelId, manufacturer: s.manufacturer, interviewing: false, interview_completed: true, interview_state: 'SUCCESSFUL',
      endpoints: { 1: { bindings: [], configured_reportings: s.reportings ?? [], clusters: { input: s.input, output: s.output }, scenes: [] } },
    };
  }

  /** Advances the device to nowMs (call at least every second); true when it sends a report now. */
  tick(nowMs: number): boolean {
    if (this.role === 'curtain' && this.target !== null) return this.move(nowMs);
    if (this.role === 'motion' && this.values.occupancy === true && nowMs >= this.occupiedUntil) return this.report({ occupancy: false }, nowMs);
    if (this.role === 'smoke' && this.values.smoke !== this.room.smokePresent) return this.report({ smoke: this.room.smokePresent }, nowMs);
    return this.sense(nowMs, false);
  }

  /** A physical event at the device (the bridge sets room-wide smoke itself). */
  trigger(kind: TriggerKind, value: boolean, nowMs: number): boolean {
    const ok: Record<TriggerKind, Role[]> = { smoke: ['smoke'], water_leak: ['water'], occupancy: ['motion'], contact: ['contact'], tamper: ['smoke', 'water'] };
    if (!ok[kind].includes(this.role)) throw new Error(`${this.id} (${this.role}) has no ${kind}`);
    if (kind === 'water_leak') this.room.setWaterLeak(this.id, value);
    if (kind === 'contact') this.room.setOpening(this.id, !value); // contact true = closed
    if (kind === 'smoke') this.room.setSmoke(value);
    if (kind === 'occupancy') {
      this.occupiedUntil = value ? nowMs + OCCUPANCY_TIMEOUT_MS : 0;
      return this.report({ occupancy: value, ...(value && { illuminance: Math.round(this.room.illuminance) }) }, nowMs);
    }
    return this.report({ [kind]: value }, nowMs);
  }

  /** A `/set` message; true when zigbee2mqtt publishes a new state (the optimistic result of the converter). */
  set(msg: Payload, nowMs: number): boolean {
    if (!this.online) return false; // delivery fails: zigbee2mqtt logs the error, publishes nothing
    const s = msg.state, pos = msg.position;
    if (this.role === 'ac' || this.role === 'ventilation') {
      const v = typeof s === 'string' ? s.toLowerCase() : null;
      if (v !== 'on' && v !== 'off' && v !== 'toggle') return false;
      const on = v === 'toggle' ? this.values.state !== 'ON' : v === 'on';
      if (this.role === 'ac') this.room.setAc(on); else this.room.setVentilation(on);
      return this.report({ state: on ? 'ON' : 'OFF' }, nowMs);
    }
    if (this.role === 'curtain') {
      const v = typeof s === 'string' ? ({ open: 100, on: 100, close: 0, off: 0, stop: -1 } as Record<string, number>)[s.toLowerCase()] : undefined;
      if (v !== undefined) { this.target = v < 0 ? null : v; this.moved = nowMs; if (v < 0) return this.report(this.coverState(), nowMs); }
      if (typeof pos === 'number' && Number.isFinite(pos)) {
        this.target = Math.max(0, Math.min(100, pos)); this.moved = nowMs;
        return this.report({ position: pos }, nowMs);
      }
      return false;
    }
    if (this.role === 'siren') {
      const w = msg.warning as Payload | undefined;
      if (w && typeof w === 'object') {
        if (w.mode !== undefined && w.mode !== 'stop' && w.mode !== 'emergency') return false;
        const duration = typeof w.duration === 'number' ? w.duration : 10;
        this.sirenUntil = w.mode === 'stop' ? 0 : nowMs + duration * 1000;
      }
      if (typeof msg.max_duration === 'number') return this.report({ max_duration: msg.max_duration }, nowMs);
    }
    return false;
  }

  /** A `/get` message: the device answers a read of an attribute its exposes mark readable (access bit 4). */
  get(keys: string[], nowMs: number): boolean {
    if (!this.online) return false;
    const readable = this.spec.exposes.flatMap((e) => [e, ...((e.features as Expose[] | undefined) ?? [])]).filter((e) => ((e.access as number) & 4) !== 0).map((e) => e.property);
    if (!keys.some((k) => readable.includes(k))) return false;
    if (this.role === 'light') this.values.illuminance = Math.round(this.room.illuminance);
    return this.report({}, nowMs);
  }

  private coverState(): Payload {
    const p = Math.round(this.room.curtainPosition);
    return { position: p, state: p === 0 ? 'CLOSE' : 'OPEN' };
  }

  private move(nowMs: number): boolean {
    const target = this.target as number, from = this.room.curtainPosition;
    const step = ((nowMs - this.moved) / COVER_TRAVEL_MS) * 100;
    this.moved = nowMs;
    let next = target > from ? Math.min(target, from + step) : Math.max(target, from - step);
    if (Math.abs(next - target) < 1e-6) next = target;
    this.room.setCurtain(next);
    const arrived = next === target;
    if (arrived) this.target = null;
    const due = arrived || (nowMs - this.last >= 1000 && Math.abs(Math.round(next) - (this.values.position as number)) >= 1);
    return due ? this.report(this.coverState(), nowMs) : false;
  }

  /** Scheduled and threshold reports of the measuring sensors; heartbeats of the others. */
  private sense(nowMs: number, initial: boolean): boolean {
    const since = nowMs - this.last, r = this.room, g = () => (this.rand() + this.rand() + this.rand() - 1.5) * 2; // ≈ N(0,1)
    if (this.role === 'climate') {
      const moved = Math.abs(r.temperature - (this.sent.temperature as number)) >= 1 || Math.abs(r.humidity - (this.sent.humidity as number)) >= 1;
      if (!initial && since < this.intervalMs && !(since >= MIN_REPORT_MS && moved)) return false; // zhc temperature/humidity reporting change: 1 °C, 1 %
      this.sent = { temperature: r.temperature, humidity: r.humidity };
      return this.report({ temperature: round(r.temperature + 0.05 * g(), 2), humidity: round(Math.min(100, Math.max(0, r.humidity + 0.3 * g())), 2),
        pressure: round(r.pressure + 0.1 * g(), 1) }, nowMs);
    }
    if (this.role === 'light') {
      const lux = r.illuminance;
      if (!initial && since < this.intervalMs && !(since >= MIN_REPORT_MS && Math.abs(lux - (this.sent.illuminance as number)) >= 5)) return false; // zhc illuminance: change "5 lux"
      this.sent = { illuminance: lux };
      return this.report({ illuminance: Math.max(0, Math.round(lux * (1 + 0.01 * g()))) }, nowMs);
    }
    if (this.role === 'motion' && initial) this.values.illuminance = Math.round(r.illuminance);
    if (initial) { this.last = nowMs; return false; }
    if ('device_temperature' in this.values) this.values.device_temperature = Math.round(r.temperature);
    return since >= HEARTBEAT_MS && this.role !== 'ac' && this.role !== 'ventilation' ? this.report({}, nowMs) : false;
  }

  private report(values: Payload, nowMs: number): boolean {
    Object.assign(this.values, values);
    this.last = nowMs;
    return this.online;
  }
}

/** The coordinator's entry, first in `bridge/devices` (zigbee2mqtt test/extensions/bridge.test.ts). */
export const coordinatorEntry = (ieee: string): Payload => ({
  ieee_address: ieee, type: 'Coordinator', network_address: 0, supported: true, friendly_name: 'Coordinator', disabled: false,
  interviewing: false, interview_completed: true, interview_state: 'SUCCESSFUL',
  endpoints: { 1: { bindings: [], configured_reportings: [], clusters: { input: [], output: [] }, scenes: [] } },
});
