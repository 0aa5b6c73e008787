import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MQTT_PROTOCOL_VERSION, topics, type CommandRequest, type CommandResponse, type EnvAvailabilityPayload, type EnvReadingPayload,
  type GatewayConfigPayload, type ZigbeeDeviceConfig,
} from '../../../contract/mqtt.js';
import { Gateway } from '../../../gateway/gateway.js';
import { Outbox } from '../../../gateway/outbox.js';
import { Zigbee2MqttSource, type EnvSourceStatusPayload } from '../../../gateway/zigbee/z2m-source.js';
import { startBroker } from '../../../server/mqtt/broker.js';

// The source against a real aedes broker, a real Gateway and Outbox; a plain mqtt.js client plays
// zigbee2mqtt (retained bridge/state and bridge/devices, device state, and listening to /set, /get).

const SITE = 'zb';
const GW = 'gw-z';
const DEVICES: ZigbeeDeviceConfig[] = [
  { id: 'climate-1', z2mName: 'main/reading/climate', role: 'climate', zoneId: 'reading', intervalS: 300 },
  { id: 'door-1', z2mName: 'main/reading', role: 'contact' },
  { id: 'lux-1', z2mName: 'main/reading/lux', role: 'light' },
  { id: 'curtain-1', z2mName: 'main/reading/curtain', role: 'curtain' },
  { id: 'ac-1', z2mName: 'main/reading/ac', role: 'ac' },
  { id: 'siren-1', z2mName: 'entrance/siren', role: 'siren' },
  { id: 'ghost-1', z2mName: 'attic/ghost', role: 'water' },
  { id: 'hm-1', ieee: '0x00158d0000aaaaaa', role: 'smoke' }, // a herdsman device: not ours
];
const zigbee = (over: Partial<GatewayConfigPayload['zigbee']> = {}): GatewayConfigPayload['zigbee'] => ({ source: 'zigbee2mqtt', devices: DEVICES, ...over });

const num = (name: string, access = 1) => ({ type: 'numeric', name, label: name, property: name, access });
const bin = (name: string) => ({ type: 'binary', name, label: name, property: name, access: 1, value_on: true, value_off: false });
const dev = (friendly_name: string, ieee_address: string, type: string, exposes: unknown[]) =>
  ({ ieee_address, type, friendly_name, network_address: 1234, supported: true, disabled: false, interview_state: 'SUCCESSFUL', definition: { source: 'native', model: 'M', vendor: 'V', exposes, options: [] }, endpoints: {} });
const BRIDGE_DEVICES = [
  { ieee_address: '0x00124b00120144ae', type: 'Coordinator', friendly_name: 'Coordinator', network_address: 0, supported: true, disabled: false, endpoints: {} },
  dev('main/reading/climate', '0x00158d0001a2b3c4', 'EndDevice', [num('battery'), num('temperature'), num('humidity'), num('pressure'), num('voltage'), num('linkquality')]),
  dev('main/reading', '0x00158d0001d4e5f6', 'EndDevice', [bin('contact'), num('battery'), num('linkquality')]),
  dev('main/reading/lux', '0x00158d0001f7a8b9', 'EndDevice', [num('illuminance'), num('linkquality')]),
  dev('main/reading/curtain', '0x84fd27fffe0a1b2c', 'Router', [{ type: 'cover', features: [
    { type: 'enum', name: 'state', property: 'state', access: 3, values: ['OPEN', 'CLOSE', 'STOP'] },
    { type: 'numeric', name: 'position', property: 'position', access: 7, value_min: 0, value_max: 100 }] }, num('linkquality')]),
  dev('main/reading/ac', '0x0017880104a5b6c7', 'Router', [{ type: 'switch', features: [{ type: 'binary', name: 'state', property: 'state', access: 7, value_on: 'ON', value_off: 'OFF' }] }, num('power')]),
  dev('entrance/siren', '0x000d6f0011c2d3e4', 'EndDevice', [{ type: 'composite', name: 'warning', property: 'warning', access: 2, features: [
    { type: 'enum', name: 'mode', property: 'mode', access: 2, values: ['stop', 'burglar', 'fire', 'emergency'] }] }, num('battery')]),
  dev('hall/lamp', '0x0017880100000001', 'Router', [{ type: 'light', features: [{ type: 'binary', name: 'state', property: 'state', access: 7 }] }]),
];

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });
const until = async (what: string, cond: () => boolean, ms = 8000) => {
  const deadline = Date.now() + ms;
  while (!cond()) { if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`); await new Promise((r) => setTimeout(r, 10)); }
};

async function client(url: string, filters: string[]) {
  const c: MqttClient = await mqtt.connectAsync(url, { protocolVersion: MQTT_PROTOCOL_VERSION, reconnectPeriod: 0, clientId: `t-${randomUUID().slice(0, 8)}` });
  cleanups.push(() => c.endAsync(true));
  const got: { topic: string; body: string }[] = [];
  c.on('message', (topic, payload) => got.push({ topic, body: payload.toString() }));
  if (filters.length) await c.subscribeAsync(filters, { qos: 1 });
  return { c, got, pub: (t: string, body: unknown, retain = false) => c.publishAsync(t, typeof body === 'string' ? body : JSON.stringify(body), { qos: 1, retain }) };
}

/** zigbee2mqtt's retained bridge/state and bridge/devices, a gateway running the source, and the server's side. */
async function setup(opts: { base?: string; bridge?: string } = {}) {
  const broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: 0 });
  cleanups.push(() => broker.close());
  const base = opts.base ?? 'zigbee2mqtt';
  const z2m = await client(broker.url, [`${base}/#`]);
  await z2m.pub(`${base}/bridge/state`, opts.bridge ?? '{"state":"online"}', true);
  await z2m.pub(`${base}/bridge/devices`, BRIDGE_DEVICES, true);
  const srv = await client(broker.url, [topics.envReading(SITE), topics.envAvailabilityAll(SITE), topics.envSourceStatus(SITE, GW), topics.gatewayCommandResponse(SITE, GW)]);
  const dir = mkdtempSync(join(tmpdir(), 'shelfsense-z2m-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const gateway = new Gateway({ site: SITE, gatewayId: GW, mqttUrl: broker.url });
  const outbox = new Outbox(join(dir, 'outbox.db'));
  const logs: string[] = [];
  const source = new Zigbee2MqttSource({ gateway, outbox, log: (l) => logs.push(l) });
  source.start();
  source.setConfig(zigbee({ baseTopic: opts.base }));
  const started = gateway.start();
  outbox.attach(gateway.mqtt!);
  await started;
  cleanups.push(async () => { source.stop(); await outbox.flushed(2000); await gateway.stop(); outbox.close(); });

  const bodies = <T>(pred: (t: string) => boolean) => srv.got.filter((m) => pred(m.topic)).map((m) => JSON.parse(m.body) as T);
  const readings = () => bodies<EnvReadingPayload>((t) => t === topics.envReading(SITE));
  const statuses = () => bodies<EnvSourceStatusPayload>((t) => t === topics.envSourceStatus(SITE, GW));
  const availability = () => srv.got.filter((m) => m.topic.endsWith('/availability')).map((m) => ({ topic: m.topic, ...(JSON.parse(m.body) as EnvAvailabilityPayload) }));
  const requests = () => z2m.got.filter((m) => /\/(set|get)$/.test(m.topic)).map((m) => [m.topic, JSON.parse(m.body)]);
  const status = () => statuses().at(-1);
  const command = async (name: CommandRequest['command'], params: Record<string, unknown>) => {
    const req: CommandRequest = { transaction: randomUUID(), command: name, params, ts: new Date().toISOString() };
    await srv.pub(topics.gatewayCommand(SITE, GW), req);
    const res = () => bodies<CommandResponse>((t) => t === topics.gatewayCommandResponse(SITE, GW)).find((r) => r.transaction === req.transaction);
    await until(`the response to ${name}`, () => res() !== undefined);
    return res()!;
  };
  await until('the bridge online', () => status()?.bridgeOnline === true && status()!.devices.some((d) => d.known));
  return { broker, base, z2m, srv, source, logs, readings, statuses, status, availability, requests, command };
}

describe('Zigbee2MqttSource', () => {
  it('given retained bridge state and devices, then the status says which configured devices zigbee2mqtt knows and what they expose, following events', async () => {
    const t = await setup();
    const st = t.status()!;
    expect(st).toMatchObject({ source: 'zigbee2mqtt', bridgeOnline: true });
    expect(st.devices).toEqual([
      { id: 'climate-1', z2mName: 'main/reading/climate', known: true, exposes: ['battery', 'temperature', 'humidity', 'pressure', 'voltage', 'linkquality'] },
      { id: 'door-1', z2mName: 'main/reading', known: true, exposes: ['contact', 'battery', 'linkquality'] },
      { id: 'lux-1', z2mName: 'main/reading/lux', known: true, exposes: ['illuminance', 'linkquality'] },
      { id: 'curtain-1', z2mName: 'main/reading/curtain', known: true, exposes: ['state', 'position', 'linkquality'] },
      { id: 'ac-1', z2mName: 'main/reading/ac', known: true, exposes: ['state', 'power'] },
      { id: 'siren-1', z2mName: 'entrance/siren', known: true, exposes: ['warning', 'battery'] },
      { id: 'ghost-1', z2mName: 'attic/ghost', known: false, exposes: [] },
    ]);
    const ghost = () => t.status()!.devices.find((d) => d.id === 'ghost-1')!;
    await t.z2m.pub(`${t.base}/bridge/event`, { type: 'device_joined', data: { friendly_name: 'attic/ghost', ieee_address: '0x00158d000aaaaaaa' } });
    await until('the ghost known', () => ghost().known);
    await t.z2m.pub(`${t.base}/bridge/event`, { type: 'device_interview', data: { friendly_name: 'attic/ghost', ieee_address: '0x00158d000aaaaaaa', status: 'successful', supported: true, definition: { exposes: [bin('water_leak'), num('battery')] } } });
    await until('the ghost interviewed', () => ghost().exposes.length === 2);
    expect(ghost()).toEqual({ id: 'ghost-1', z2mName: 'attic/ghost', known: true, exposes: ['water_leak', 'battery'] });
    await t.z2m.pub(`${t.base}/bridge/event`, { type: 'device_leave', data: { ieee_address: '0x00158d000aaaaaaa' } });
    await until('the ghost gone', () => !ghost().known);
    expect(t.logs.some((l) => l.includes('device_leave') && l.includes('attic/ghost'))).toBe(true);
    const n = t.statuses().length;
    await t.z2m.pub(`${t.base}/bridge/devices`, BRIDGE_DEVICES, true); // the same again: no new status
    await t.z2m.pub(`${t.base}/bridge/state`, '{"state":"offline"}', true);
    await until('the bridge offline', () => t.status()!.bridgeOnline === false);
    expect(t.statuses().length).toBe(n + 1);
  });

  it('given state messages, then exactly one normalised reading per configured device message goes out, and the rest is ignored', async () => {
    const t = await setup();
    const pub = (name: string, body: unknown) => t.z2m.pub(`${t.base}/${name}`, body);
    await pub('main/reading/climate', { temperature: 21.4, humidity: 48.2, pressure: 1012, battery: 97, voltage: 3005, linkquality: 120, last_seen: '2026-03-01T09:30:00.000Z' });
    await pub('main/reading', { contact: false, battery: 88, battery_low: false });
    await pub('main/reading/lux', { illuminance: 20412, illuminance_lux: 110, linkquality: 90 });
    await pub('hall/lamp', { state: 'ON', brightness: 200 }); // not configured
    await pub('main/reading/climate', 'not json {'); // malformed
    await pub('main/reading/climate', { temperature: '21.9', humidity: 49 }); // wrong type
    await pub('main/reading/climate/temperature', '22'); // attribute output
    await pub('main/reading/climate/set', { state: 'ON' }); // a request, not state
    await pub('main/reading/curtain', { state: 'CLOSE', position: 0 });
    await until('five readings', () => t.readings().length === 5);
    const rs = t.readings();
    expect(rs.map((r) => [r.deviceId, r.values])).toEqual([
      ['climate-1', { temperature: 21.4, humidity: 48.2, battery: 97, voltage: 3005, linkquality: 120 }],
      ['door-1', { contact: false, battery: 88, battery_low: false }],
      ['lux-1', { illuminance: 110, linkquality: 90 }],
      ['climate-1', { humidity: 49 }],
      ['curtain-1', { state: 'CLOSE', position: 0 }],
    ]);
    expect(rs[0]!.ts).toBe('2026-03-01T09:30:00.000Z');
    for (const r of rs) {
      expect(r).toMatchObject({ gatewayId: GW, source: 'zigbee2mqtt' });
      expect(Object.keys(r).sort()).toEqual(['deviceId', 'gatewayId', 'id', 'source', 'ts', 'values']);
    }
    expect(new Set(rs.map((r) => r.id)).size).toBe(5);
    expect(t.source.stats).toMatchObject({ readings: 5, unconfigured: 1, malformed: 1, invalidValues: 1 });
  });

  it('given availability in the JSON and the plain form, then each configured device\'s availability is published retained', async () => {
    const t = await setup();
    await t.z2m.pub(`${t.base}/main/reading/climate/availability`, '{"state":"online"}', true);
    await t.z2m.pub(`${t.base}/main/reading/availability`, 'offline', true);
    await t.z2m.pub(`${t.base}/hall/lamp/availability`, 'online', true);
    await t.z2m.pub(`${t.base}/main/reading/availability`, 'online', true);
    await until('three availabilities', () => t.availability().length === 3);
    expect(t.availability().map((a) => [a.topic, a.deviceId, a.online])).toEqual([
      [topics.envAvailability(SITE, 'climate-1'), 'climate-1', true],
      [topics.envAvailability(SITE, 'door-1'), 'door-1', false],
      [topics.envAvailability(SITE, 'door-1'), 'door-1', true],
    ]);
    await until('the status online', () => t.status()!.devices.filter((d) => d.online === true).length === 2);
    const late = await client(t.broker.url, [topics.envAvailability(SITE, 'door-1')]);
    await until('the retained availability', () => late.got.length === 1);
    expect(JSON.parse(late.got[0]!.body)).toMatchObject({ deviceId: 'door-1', online: true });
    expect(t.readings()).toEqual([]); // availability is never state
  });

  it('given zigbee.set and zigbee.get, then zigbee2mqtt gets exactly its <name>/set and <name>/get payloads', async () => {
    const t = await setup();
    const ok = async (name: CommandRequest['command'], params: Record<string, unknown>) =>
      expect(await t.command(name, params), JSON.stringify(params)).toMatchObject({ status: 'ok', data: { deviceId: params.deviceId } });
    await ok('zigbee.set', { deviceId: 'curtain-1', payload: { position: 40 } });
    await ok('zigbee.set', { deviceId: 'curtain-1', payload: { state: 'CLOSE' } });
    await ok('zigbee.set', { deviceId: 'ac-1', payload: { state: 'ON' } });
    await ok('zigbee.set', { deviceId: 'siren-1', payload: { warning: { mode: 'fire', strobe: true, duration: 30 } } });
    await ok('zigbee.get', { deviceId: 'climate-1', keys: ['temperature', 'humidity'] });
    await until('five requests', () => t.requests().length === 5);
    expect(t.requests()).toEqual([
      ['zigbee2mqtt/main/reading/curtain/set', { position: 40 }],
      ['zigbee2mqtt/main/reading/curtain/set', { state: 'CLOSE' }],
      ['zigbee2mqtt/main/reading/ac/set', { state: 'ON' }],
      ['zigbee2mqtt/entrance/siren/set', { warning: { mode: 'fire', strobe: true, duration: 30 } }],
      ['zigbee2mqtt/main/reading/climate/get', { temperature: '', humidity: '' }],
    ]);
    expect(t.readings()).toEqual([]); // our own /set and /get are not state
  });

  it('given bad commands, then they are refused with the right code and nothing reaches zigbee2mqtt', async () => {
    const t = await setup();
    const cases: [CommandRequest['command'], Record<string, unknown>, string][] = [
      ['zigbee.set', { deviceId: 'nope', payload: { state: 'ON' } }, 'UNKNOWN_DEVICE'],
      ['zigbee.set', { deviceId: 'hm-1', payload: { state: 'ON' } }, 'UNKNOWN_DEVICE'],
      ['zigbee.set', { payload: { state: 'ON' } }, 'BAD_REQUEST'],
      ['zigbee.set', { deviceId: 'ac-1', payload: 'ON' }, 'BAD_REQUEST'],
      ['zigbee.set', { deviceId: 'ac-1', payload: ['ON'] }, 'BAD_REQUEST'],
      ['zigbee.set', { deviceId: 'ac-1', payload: { state: 'TOGGLE' } }, 'BAD_REQUEST'],
      ['zigbee.set', { deviceId: 'curtain-1', payload: { state: 'ON' } }, 'BAD_REQUEST'],
      ['zigbee.set', { deviceId: 'curtain-1', payload: { position: 101 } }, 'BAD_REQUEST'],
      ['zigbee.set', { deviceId: 'siren-1', payload: { warning: { mode: 'party' } } }, 'BAD_REQUEST'],
      ['zigbee.set', { deviceId: 'climate-1', payload: { state: 'ON' } }, 'BAD_REQUEST'],
      ['zigbee.get', { deviceId: 'climate-1', keys: [] }, 'BAD_REQUEST'],
      ['zigbee.get', { deviceId: 'ghost', keys: ['state'] }, 'UNKNOWN_DEVICE'],
    ];
    for (const [name, params, code] of cases) {
      const res = await t.command(name, params);
      expect(res.status === 'error' && res.error.code, JSON.stringify(params)).toBe(code);
    }
    await t.z2m.pub(`${t.base}/bridge/state`, '{"state":"offline"}', true);
    await until('the bridge offline', () => t.status()!.bridgeOnline === false);
    const offline = await t.command('zigbee.set', { deviceId: 'ac-1', payload: { state: 'OFF' } });
    expect(offline).toMatchObject({ status: 'error', error: { code: 'SOURCE_OFFLINE' } });
    // Back online, one valid command: any request published before it would have reached zigbee2mqtt first.
    await t.z2m.pub(`${t.base}/bridge/state`, 'online', true); // the plain form of older versions
    await until('the bridge online', () => t.status()!.bridgeOnline === true);
    await t.command('zigbee.set', { deviceId: 'ac-1', payload: { state: 'OFF' } });
    await until('the one request', () => t.requests().length === 1);
    expect(t.requests()).toEqual([['zigbee2mqtt/main/reading/ac/set', { state: 'OFF' }]]);
  });

  it('given a new base topic, then the source follows it and leaves the old one', async () => {
    const t = await setup({ base: 'z2m/east', bridge: 'online' });
    await t.z2m.pub('z2m/east/main/reading/lux', { illuminance: 300 });
    await until('a reading on the configured base', () => t.readings().length === 1);
    await t.z2m.c.subscribeAsync('z2m/west/#', { qos: 1 });
    await t.z2m.pub('z2m/west/bridge/state', { state: 'online' }, true);
    t.source.setConfig(zigbee({ baseTopic: 'z2m/west' }));
    await until('the bridge of the new base', () => t.status()!.bridgeOnline && t.status()!.devices.every((d) => !d.known));
    await t.z2m.pub('z2m/east/main/reading/lux', { illuminance: 301 });
    await t.z2m.pub('z2m/west/main/reading/lux', { illuminance: 302 });
    await until('a reading on the new base', () => t.readings().length === 2);
    expect(t.readings().map((r) => r.values.illuminance)).toEqual([300, 302]);
    expect(await t.command('zigbee.set', { deviceId: 'ac-1', payload: { state: 'ON' } })).toMatchObject({ status: 'ok' });
    await until('the request', () => t.z2m.got.some((m) => m.topic.endsWith('/set')));
    expect(t.z2m.got.filter((m) => m.topic.endsWith('/set')).map((m) => m.topic)).toEqual(['z2m/west/main/reading/ac/set']);

    // Back to the first base: its retained bridge state and devices are fetched again (a fresh SUBSCRIBE).
    t.source.setConfig(zigbee({ baseTopic: 'z2m/east' }));
    await until('the first base known again', () => t.status()!.bridgeOnline && t.status()!.devices.filter((d) => d.known).length === 6);
    await t.z2m.pub('z2m/west/main/reading/lux', { illuminance: 303 });
    await t.z2m.pub('z2m/east/main/reading/lux', { illuminance: 304 });
    await until('a reading on the first base', () => t.readings().length === 3);
    expect(t.readings().map((r) => r.values.illuminance)).toEqual([300, 302, 304]);
  });
});
