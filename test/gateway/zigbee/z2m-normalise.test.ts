import { describe, expect, it } from 'vitest';
import {
  actuatorKindOf, checkSetPayload, classifyTopic, exposedProperties, getPayload, isValidBaseTopic, normaliseState, parseBridgeDevices,
  parseBridgeEvent, parseOnline, readingTime,
} from '../../../gateway/zigbee/z2m-normalise.js';

// Expose shapes as zigbee2mqtt publishes them in bridge/devices (herdsman-converters exposes.ts).
const num = (name: string, extra: Record<string, unknown> = {}) => ({ type: 'numeric', name, label: name, property: name, access: 1, ...extra });
const COVER = { type: 'cover', features: [
  { type: 'enum', name: 'state', property: 'state', access: 3, values: ['OPEN', 'CLOSE', 'STOP'] },
  { type: 'numeric', name: 'position', property: 'position', access: 7, value_min: 0, value_max: 100, unit: '%' },
] };
const SWITCH = { type: 'switch', features: [{ type: 'binary', name: 'state', property: 'state', access: 7, value_on: 'ON', value_off: 'OFF', value_toggle: 'TOGGLE' }] };
const WARNING = { type: 'composite', name: 'warning', label: 'Warning', property: 'warning', access: 2, features: [
  { type: 'enum', name: 'mode', property: 'mode', access: 2, values: ['stop', 'burglar', 'fire', 'emergency'] },
  { type: 'binary', name: 'strobe', property: 'strobe', access: 2, value_on: true, value_off: false },
  { type: 'numeric', name: 'duration', property: 'duration', access: 2, unit: 's' },
] };

describe('normaliseState', () => {
  it('keeps the contract keys with their zigbee2mqtt types and drops the rest', () => {
    const msg = {
      temperature: 21.37, humidity: 48.5, pressure: 1012.3, battery: 97, voltage: 3005, linkquality: 132, battery_low: false,
      smoke: false, tamper: true, water_leak: false, occupancy: true, contact: true, vibration: false, state: 'OPEN', position: 100,
      last_seen: '2026-03-01T10:00:00.000Z', device: { model: 'WSDCGQ11LM' }, update: { state: 'idle' },
    };
    expect(normaliseState(msg)).toEqual({
      values: {
        temperature: 21.37, humidity: 48.5, battery: 97, voltage: 3005, linkquality: 132, battery_low: false,
        smoke: false, tamper: true, water_leak: false, occupancy: true, contact: true, vibration: false, state: 'OPEN', position: 100,
      },
      invalid: [],
    });
  });

  it('drops values of the wrong type or out of range, naming them', () => {
    const r = normaliseState({ temperature: '21.4', humidity: 140, battery: -1, linkquality: 300, position: NaN, contact: 'closed', occupancy: 1, state: 'on', illuminance: 50 });
    expect(r.values).toEqual({ illuminance: 50 });
    expect(r.invalid.sort()).toEqual(['battery', 'contact', 'humidity', 'linkquality', 'occupancy', 'position', 'state', 'temperature']);
    expect(normaliseState({ state: 'LOCK' })).toEqual({ values: {}, invalid: ['state'] });
  });

  it('takes illuminance_lux over the raw illuminance of zigbee2mqtt < 2.0, and illuminance (lux) otherwise', () => {
    expect(normaliseState({ illuminance: 20412, illuminance_lux: 110 }).values).toEqual({ illuminance: 110 });
    expect(normaliseState({ illuminance_lux: 0 }).values).toEqual({ illuminance: 0 });
    expect(normaliseState({ illuminance: 110 }).values).toEqual({ illuminance: 110 });
    expect(normaliseState({ illuminance: 20412, illuminance_lux: '110' })).toEqual({ values: { illuminance: 20412 }, invalid: ['illuminance_lux'] });
  });
});

describe('readingTime', () => {
  const now = new Date('2026-03-01T12:00:00.000Z');
  it('uses last_seen (ISO, local ISO or epoch) and falls back to now', () => {
    expect(readingTime({ last_seen: '2026-03-01T10:00:00.000Z' }, now)).toBe('2026-03-01T10:00:00.000Z');
    expect(readingTime({ last_seen: '2026-03-01T11:00:00.000+01:00' }, now)).toBe('2026-03-01T10:00:00.000Z');
    expect(readingTime({ last_seen: Date.parse('2026-03-01T11:59:00Z') }, now)).toBe('2026-03-01T11:59:00.000Z');
    for (const last_seen of [undefined, 'yesterday', '2026-03-01', 12, '2026-03-02T12:00:00Z']) expect(readingTime({ last_seen }, now)).toBe(now.toISOString());
  });
});

describe('parseOnline', () => {
  it('reads the JSON form and the plain strings', () => {
    expect(parseOnline('{"state":"online"}')).toBe(true);
    expect(parseOnline(Buffer.from('{"state":"offline"}'))).toBe(false);
    expect(parseOnline('online')).toBe(true);
    expect(parseOnline(Buffer.from('offline'))).toBe(false);
    for (const p of ['', 'ONLINE', '{"state":true}', '{"state":', '"online"', 'null', '{}']) expect(parseOnline(p), p).toBeNull();
  });
});

describe('classifyTopic', () => {
  const names = ['main/reading', 'main/reading/climate', 'lamp'];
  const c = (t: string) => classifyTopic('zigbee2mqtt', t, names);
  it('matches configured names exactly, the longest one first, and never takes sub-topics for state', () => {
    expect(c('zigbee2mqtt/main/reading/climate')).toEqual({ kind: 'state', name: 'main/reading/climate' });
    expect(c('zigbee2mqtt/main/reading')).toEqual({ kind: 'state', name: 'main/reading' });
    expect(c('zigbee2mqtt/main/reading/climate/availability')).toEqual({ kind: 'availability', name: 'main/reading/climate' });
    expect(c('zigbee2mqtt/main/reading/availability')).toEqual({ kind: 'availability', name: 'main/reading' });
    expect(c('zigbee2mqtt/hall/availability')).toEqual({ kind: 'availability', name: 'hall' });
    for (const t of ['zigbee2mqtt/lamp/set', 'zigbee2mqtt/lamp/get', 'zigbee2mqtt/lamp/set/state', 'zigbee2mqtt/lamp/l1/set', 'zigbee2mqtt/main/reading/climate/set']) expect(c(t), t).toEqual({ kind: 'request' });
    expect(c('zigbee2mqtt/main/reading/climate/temperature')).toEqual({ kind: 'other', name: 'main/reading/climate' });
    expect(c('zigbee2mqtt/main/reading/lux')).toEqual({ kind: 'other', name: 'main/reading' });
    expect(c('zigbee2mqtt/bridge/devices')).toEqual({ kind: 'bridge', sub: 'devices' });
    expect(c('zigbee2mqtt/bridge/response/device/rename')).toEqual({ kind: 'bridge', sub: 'response/device/rename' });
    expect(c('zigbee2mqtt/hall/lamp')).toEqual({ kind: 'unconfigured', name: 'hall/lamp' });
    expect(c('zigbee2mqttx/lamp')).toEqual({ kind: 'foreign' });
  });
  it('checks base topics', () => {
    expect(['zigbee2mqtt', 'site/z2m'].every(isValidBaseTopic)).toBe(true);
    expect(['', '/z2m', 'z2m/', 'z2m/#', 'z/+/x'].some(isValidBaseTopic)).toBe(false);
  });
});

describe('bridge/devices and bridge/event', () => {
  it('lists devices with the properties their exposes (and nested features) name', () => {
    const devices = [
      { ieee_address: '0x00124b00120144ae', type: 'Coordinator', friendly_name: 'Coordinator', network_address: 0, supported: true },
      { ieee_address: '0x00158d0001a2b3c4', type: 'EndDevice', friendly_name: 'main/reading/climate', definition: { model: 'WSDCGQ11LM', exposes: [num('battery'), num('temperature'), num('humidity'), num('linkquality')] } },
      { ieee_address: '0x84fd27fffe0a1b2c', type: 'Router', friendly_name: 'curtain', definition: { exposes: [COVER, num('linkquality')] } },
      { ieee_address: '0x0017880104a5b6c7', type: 'Router', friendly_name: 'plug', definition: { exposes: [SWITCH, num('power')] } },
      { ieee_address: '0x000d6f0011c2d3e4', type: 'EndDevice', friendly_name: 'siren', definition: { exposes: [WARNING, num('battery')] } },
      { friendly_name: 'no ieee' },
    ];
    expect(parseBridgeDevices(JSON.stringify(devices))).toEqual([
      { friendlyName: 'Coordinator', ieee: '0x00124b00120144ae', type: 'Coordinator', exposes: [], kind: null },
      { friendlyName: 'main/reading/climate', ieee: '0x00158d0001a2b3c4', type: 'EndDevice', exposes: ['battery', 'temperature', 'humidity', 'linkquality'], kind: null },
      { friendlyName: 'curtain', ieee: '0x84fd27fffe0a1b2c', type: 'Router', exposes: ['state', 'position', 'linkquality'], kind: 'cover' },
      { friendlyName: 'plug', ieee: '0x0017880104a5b6c7', type: 'Router', exposes: ['state', 'power'], kind: 'switch' },
      { friendlyName: 'siren', ieee: '0x000d6f0011c2d3e4', type: 'EndDevice', exposes: ['warning', 'battery'], kind: 'warning' },
    ]);
    expect(parseBridgeDevices('{"not":"a list"}')).toBeNull();
    expect(parseBridgeDevices('[{')).toBeNull();
    expect(exposedProperties('junk')).toEqual([]);
    expect(actuatorKindOf([num('temperature')])).toBeNull();
  });

  it('reads events, with the definition of a successful interview', () => {
    expect(parseBridgeEvent({ type: 'device_leave', data: { ieee_address: '0x1' } })).toEqual({ type: 'device_leave', ieee: '0x1' });
    expect(parseBridgeEvent({ type: 'device_interview', data: { friendly_name: 'plug', ieee_address: '0x2', status: 'successful', supported: true, definition: { exposes: [SWITCH] } } }))
      .toEqual({ type: 'device_interview', friendlyName: 'plug', ieee: '0x2', status: 'successful', device: { friendlyName: 'plug', ieee: '0x2', type: 'Unknown', exposes: ['state'], kind: 'switch' } });
    expect(parseBridgeEvent({ type: 'device_joined' })).toBeNull();
    expect(parseBridgeEvent(null)).toBeNull();
  });
});

describe('set and get payloads', () => {
  it('accepts what zigbee2mqtt takes, per kind', () => {
    expect(checkSetPayload('switch', { state: 'ON' })).toEqual({ ok: true, payload: { state: 'ON' } });
    expect(checkSetPayload('cover', { state: 'STOP' })).toEqual({ ok: true, payload: { state: 'STOP' } });
    expect(checkSetPayload('cover', { position: 0 })).toEqual({ ok: true, payload: { position: 0 } });
    const warning = { mode: 'fire', strobe: true, duration: 30, level: 'high' };
    expect(checkSetPayload('warning', { warning })).toEqual({ ok: true, payload: { warning } });
    expect(checkSetPayload('warning', { warning: { mode: 'stop' } })).toEqual({ ok: true, payload: { warning: { mode: 'stop' } } });
  });

  it('refuses anything else', () => {
    const refused: [Parameters<typeof checkSetPayload>[0], unknown][] = [
      ['switch', 'ON'], ['switch', null], ['switch', ['ON']], ['switch', {}], ['switch', { state: 'on' }], ['switch', { state: 'TOGGLE' }],
      ['switch', { state: 'ON', brightness: 3 }], ['switch', { state: 'OPEN' }],
      ['cover', { state: 'ON' }], ['cover', { position: 101 }], ['cover', { position: -1 }], ['cover', { position: '50' }], ['cover', { state: 'OPEN', position: 100 }],
      ['warning', { warning: 'fire' }], ['warning', { warning: { mode: 'party' } }], ['warning', { warning: { strobe: true } }],
      ['warning', { warning: { mode: 'fire', strobe: 'yes' } }], ['warning', { warning: { mode: 'fire', duration: -5 } }],
      ['warning', { warning: { mode: 'fire', duration: 2.5 } }], ['warning', { warning: { mode: 'fire', volume: 11 } }], ['warning', { state: 'ON' }],
    ];
    for (const [kind, payload] of refused) expect(checkSetPayload(kind, payload).ok, `${kind} ${JSON.stringify(payload)}`).toBe(false);
  });

  it('builds get payloads with an empty string per key', () => {
    expect(getPayload(['temperature', 'humidity'])).toEqual({ temperature: '', humidity: '' });
    for (const keys of [[], 'state', [1], ['a/b'], ['']]) expect(getPayload(keys), JSON.stringify(keys)).toBeNull();
  });
});
