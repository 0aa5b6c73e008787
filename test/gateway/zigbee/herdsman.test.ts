import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Controller, setLogger, Zcl, Zdo, type Events } from 'zigbee-herdsman';
import { Adapter } from 'zigbee-herdsman/dist/adapter/adapter.js';
import {
  MQTT_PROTOCOL_VERSION, topics, type CommandResponse, type EnvAvailabilityPayload, type EnvReadingPayload, type ZigbeeDeviceConfig,
} from '../../../contract/mqtt.js';
import { Gateway } from '../../../gateway/gateway.js';
import { Outbox } from '../../../gateway/outbox.js';
import { HerdsmanSource, herdsmanLogger, type HerdsmanSourceStatusPayload } from '../../../gateway/zigbee/herdsman-source.js';
import { startBroker, type EmbeddedBroker } from '../../../server/mqtt/broker.js';
import { COORDINATOR_IEEE, FakeAdapter, SimDevice } from './herdsman-fake-adapter.js';

// The herdsman source on zigbee-herdsman's real Controller (database file, interview, ZCL parsing,
// Endpoint.command), a real aedes broker, Gateway and Outbox. Only the coordinator is simulated
// (herdsman-fake-adapter.ts), behind Adapter.create.

const SITE = 'hz';
const GW = 'gw-1';
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async <T>(what: string, get: () => T | undefined | false, ms = 10_000): Promise<T> => {
  for (const deadline = Date.now() + ms; ; await wait(10)) {
    const v = get();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
};

const BASIC = (modelId: string, powerSource: number) => ({ modelId, manufacturerName: 'Shelfsense Sim', powerSource, zclVersion: 8 });
// HA device ids: 0x0302 temperature sensor, 0x0106 light sensor, 0x0402 IAS zone, 0x0009 mains power outlet.
const climate = new SimDevice({ ieee: '0x00158d0001a2b3c4', nwk: 0x1a2b, logicalType: 2, deviceId: 0x0302, clusters: ['genBasic', 'genPowerCfg', 'msTemperatureMeasurement', 'msRelativeHumidity'], attributes: { genBasic: BASIC('SS-TH01', 3) } });
const light = new SimDevice({ ieee: '0x00158d0001a2b3c5', nwk: 0x1a2c, logicalType: 2, deviceId: 0x0106, clusters: ['genBasic', 'msIlluminanceMeasurement'], attributes: { genBasic: BASIC('SS-LX01', 3) } });
// zoneType 0x0028 fire sensor; not enrolled yet: the interview writes the CIE address and sends enrollRsp.
const smoke = new SimDevice({ ieee: '0x00158d0001a2b3c6', nwk: 0x1a2d, logicalType: 2, deviceId: 0x0402, clusters: ['genBasic', 'genPowerCfg', 'ssIasZone'], attributes: { genBasic: BASIC('SS-SM01', 3), ssIasZone: { zoneState: 0, zoneType: 0x0028, zoneStatus: 0, iasCieAddr: '0x0000000000000000' } } });
const plug = new SimDevice({ ieee: '0x00158d0001a2b3c7', nwk: 0x1a2e, logicalType: 1, deviceId: 0x0009, clusters: ['genBasic', 'genOnOff'], attributes: { genBasic: BASIC('SS-PL01', 1), genOnOff: { onOff: 0 } } });

const DEVICES: ZigbeeDeviceConfig[] = [
  { id: 'rr-climate', ieee: climate.spec.ieee, role: 'climate', zoneId: 'reading-room' },
  { id: 'rr-light', ieee: light.spec.ieee.toUpperCase().replace('0X', '0x'), role: 'light', zoneId: 'reading-room' },
  { id: 'rr-smoke', ieee: smoke.spec.ieee, role: 'smoke', zoneId: 'reading-room' },
  { id: 'rr-ac', ieee: plug.spec.ieee, role: 'ac', zoneId: 'reading-room' },
  { id: 'rr-curtain', ieee: '00:15:8d:00:01:a2:b3:c8', role: 'curtain', zoneId: 'reading-room' }, // configured, never joined
  { id: 'z2m-only', z2mName: 'hall/lamp', role: 'light' }, // the zigbee2mqtt source's
];

let dir: string;
let broker: EmbeddedBroker;
let gateway: Gateway;
let outbox: Outbox;
let client: MqttClient;
let controller: Controller;
let source: HerdsmanSource;
const adapters: FakeAdapter[] = [];
const air = new Map<number, SimDevice>();
const inbox: { topic: string; body: Record<string, unknown> }[] = [];
const herdsmanLog: string[] = [];

const adapter = () => adapters.at(-1)!;
const newController = () => new Controller({
  network: { panID: 0x1a62, channelList: [15] },
  serialPort: { path: '/dev/ttyFAKE0', adapter: 'ember' },
  databasePath: join(dir, 'database.db'),
  databaseBackupPath: join(dir, 'database.db.backup'),
  backupPath: join(dir, 'coordinator_backup.json'),
  adapter: { disableLED: false },
  acceptJoiningDeviceHandler: async () => true,
});
const newSource = (c: Controller, availabilityCheckMs?: number) => new HerdsmanSource({ gateway, outbox, controller: c, availabilityCheckMs, log: (l) => herdsmanLog.push(l) });

const readings = (deviceId: string) => inbox.filter((m) => m.topic === topics.envReading(SITE) && m.body.deviceId === deviceId).map((m) => m.body as unknown as EnvReadingPayload);
const reading = (deviceId: string, key: string) => until(`${deviceId} ${key}`, () => readings(deviceId).find((r) => key in r.values));
const lastOn = <T>(topic: string) => inbox.filter((m) => m.topic === topic).at(-1)?.body as T | undefined;
const status = () => lastOn<HerdsmanSourceStatusPayload>(topics.envSourceStatus(SITE, GW));
const availability = (id: string) => lastOn<EnvAvailabilityPayload>(topics.envAvailability(SITE, id))?.online;

async function command(name: string, params: Record<string, unknown>): Promise<CommandResponse> {
  const transaction = randomUUID();
  await client.publishAsync(topics.gatewayCommand(SITE, GW), JSON.stringify({ transaction, command: name, params, ts: new Date().toISOString() }), { qos: 1 });
  return until(`response to ${name}`, () => lastOnTransaction(transaction));
}
const lastOnTransaction = (t: string) => inbox.find((m) => m.topic === topics.gatewayCommandResponse(SITE, GW) && m.body.transaction === t)?.body as CommandResponse | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'shelfsense-herdsman-'));
  setLogger(herdsmanLogger((l) => herdsmanLog.push(l)));
  // The seam: the Controller's Adapter.create (dist/adapter/adapter.js) builds our adapter instead of probing a serial port.
  vi.spyOn(Adapter, 'create').mockImplementation(async (net, serial, backupPath, opts) => {
    adapters.push(new FakeAdapter(net, serial, backupPath, opts, air));
    return adapter();
  });
  broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: 0 });
  gateway = new Gateway({ site: SITE, gatewayId: GW, mqttUrl: broker.url });
  outbox = new Outbox(join(dir, 'outbox.db'));
  const started = gateway.start();
  outbox.attach(gateway.mqtt!);
  await started;
  client = await mqtt.connectAsync(broker.url, { protocolVersion: MQTT_PROTOCOL_VERSION, clientId: `test-${randomUUID()}` });
  client.on('message', (topic, payload) => inbox.push({ topic, body: JSON.parse(payload.toString()) }));
  await client.subscribeAsync([topics.envReading(SITE), topics.envAvailabilityAll(SITE), topics.envSourceStatus(SITE, GW), topics.gatewayCommandResponse(SITE, GW)], { qos: 1 });

  controller = newController();
  source = newSource(controller);
  source.setDevices(DEVICES);
  expect(await source.start()).toBe(true);
});

afterAll(async () => {
  await source?.stop();
  await outbox?.flushed(2000);
  await client?.endAsync();
  await gateway?.stop();
  outbox?.close();
  await broker?.close();
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

describe('HerdsmanSource on a real zigbee-herdsman Controller', () => {
  it('joins and interviews devices through the Controller, then reports them in the source status', async () => {
    const interviewed = new Set<string>();
    controller.on('deviceInterview', (e: Events.DeviceInterviewPayload) => { if (e.status === 'successful') interviewed.add(e.device.ieeeAddr); });
    await controller.permitJoin(60);
    for (const d of [climate, light, smoke, plug]) adapter().join(d);
    await until('four interviews', () => interviewed.size === 4, 20_000);

    const herdsmanClimate = controller.getDeviceByIeeeAddr(climate.spec.ieee)!;
    expect(herdsmanClimate).toMatchObject({ type: 'EndDevice', modelID: 'SS-TH01', manufacturerName: 'Shelfsense Sim', powerSource: 'Battery', networkAddress: 0x1a2b });
    expect(herdsmanClimate.getEndpoint(1)!.inputClusters).toEqual([0x0000, 0x0001, 0x0402, 0x0405]);
    expect(controller.getDeviceByIeeeAddr(plug.spec.ieee)).toMatchObject({ type: 'Router', powerSource: 'Mains (single phase)' });
    // The interview asked for the node descriptor, active endpoints and simple descriptor, and enrolled the IAS zone.
    const asked = adapter().zdoRequests.filter((r) => r.networkAddress === climate.spec.nwk).map((r) => r.clusterId);
    expect(asked).toEqual([Zdo.ClusterId.NODE_DESCRIPTOR_REQUEST, Zdo.ClusterId.ACTIVE_ENDPOINTS_REQUEST, Zdo.ClusterId.SIMPLE_DESCRIPTOR_REQUEST]);
    expect(smoke.attr('ssIasZone')).toMatchObject({ iasCieAddr: COORDINATOR_IEEE, zoneState: 1 });

    await until('source status with four devices in the network', () => status()?.devices.filter((d) => d.interview === 'SUCCESSFUL').length === 4);
    const st = status()!;
    expect(st).toMatchObject({ source: 'herdsman', coordinatorOnline: true });
    expect(st.devices.map((d) => d.id)).toEqual(['rr-climate', 'rr-light', 'rr-smoke', 'rr-ac', 'rr-curtain']);
    expect(st.devices.find((d) => d.id === 'rr-ac')).toMatchObject({ ieee: plug.spec.ieee, inNetwork: true, networkAddress: 0x1a2e, modelId: 'SS-PL01', online: true });
    expect(st.devices.find((d) => d.id === 'rr-curtain')).toMatchObject({ ieee: '0x00158d0001a2b3c8', inNetwork: false, online: false });
    for (const id of ['rr-climate', 'rr-light', 'rr-smoke', 'rr-ac']) await until(`${id} online`, () => availability(id) === true);
  });

  it('normalises attribute reports and the IAS zone status change into readings', async () => {
    adapter().receive(climate, climate.report('msTemperatureMeasurement', { measuredValue: 2150 }));
    adapter().receive(climate, climate.report('msRelativeHumidity', { measuredValue: 4550 }));
    adapter().receive(climate, climate.report('genPowerCfg', { batteryPercentageRemaining: 170, batteryVoltage: 29 }));
    adapter().receive(light, light.report('msIlluminanceMeasurement', { measuredValue: 30001 }));
    adapter().receive(smoke, smoke.zoneChange(0b0001));

    expect((await reading('rr-climate', 'temperature')).values).toEqual({ temperature: 21.5, linkquality: 120 });
    expect((await reading('rr-climate', 'humidity')).values).toEqual({ humidity: 45.5, linkquality: 120 });
    expect((await reading('rr-climate', 'battery')).values).toEqual({ battery: 85, voltage: 2900, linkquality: 120 });
    expect((await reading('rr-light', 'illuminance')).values).toEqual({ illuminance: 1000, linkquality: 120 });
    const alarm = await reading('rr-smoke', 'smoke');
    expect(alarm).toMatchObject({ gatewayId: GW, deviceId: 'rr-smoke', source: 'herdsman', values: { smoke: true, tamper: false, battery_low: false } });
    expect(Date.parse(alarm.ts)).toBeGreaterThan(Date.now() - 60_000);
    expect(source.stats.readings).toBe(5);
  });

  it('zigbee.set {"state":"ON"} sends genOnOff on to the device\'s address and endpoint', async () => {
    const before = adapter().zcl.length;
    const res = await command('zigbee.set', { deviceId: 'rr-ac', payload: { state: 'ON' } });
    expect(res).toMatchObject({ status: 'ok', data: { deviceId: 'rr-ac' } });
    const sent = adapter().zcl.slice(before).filter((s) => s.networkAddress === plug.spec.nwk);
    expect(sent).toHaveLength(1);
    const frame = Zcl.Frame.fromBuffer(sent[0]!.clusterId, Zcl.Header.fromBuffer(sent[0]!.data), sent[0]!.data, {});
    expect({ endpoint: sent[0]!.endpoint, cluster: frame.cluster.name, command: frame.command.name, specific: frame.header.isSpecific }).toEqual({ endpoint: 1, cluster: 'genOnOff', command: 'on', specific: true });
    expect(plug.attr('genOnOff').onOff).toBe(1);
    expect((await reading('rr-ac', 'state')).values.state).toBe('ON'); // the plug's report after the command
  });

  it('zigbee.get reads the attributes; the read response arrives as a reading', async () => {
    const res = await command('zigbee.get', { deviceId: 'rr-ac', keys: ['state'] });
    expect(res).toMatchObject({ status: 'ok', data: { deviceId: 'rr-ac' } });
    await until('the read response', () => readings('rr-ac').filter((r) => r.values.state === 'ON').length === 2);
  });

  it('refuses unknown devices and bad payloads', async () => {
    const code = async (params: Record<string, unknown>) => {
      const r = await command('zigbee.set', params);
      return r.status === 'error' ? r.error.code : 'ok';
    };
    expect(await code({ deviceId: 'nope', payload: { state: 'ON' } })).toBe('UNKNOWN_DEVICE');
    expect(await code({ deviceId: 'z2m-only', payload: { state: 'ON' } })).toBe('UNKNOWN_DEVICE');
    expect(await code({ deviceId: 'rr-curtain', payload: { state: 'OPEN' } })).toBe('UNKNOWN_DEVICE'); // configured, not in the network
    expect(await code({ payload: { state: 'ON' } })).toBe('BAD_REQUEST');
    expect(await code({ deviceId: 'rr-ac', payload: { state: 'BLINK' } })).toBe('BAD_REQUEST');
    expect(await code({ deviceId: 'rr-ac', payload: { state: 'ON', brightness: 3 } })).toBe('BAD_REQUEST');
    expect(await code({ deviceId: 'rr-ac', payload: { position: 50 } })).toBe('BAD_REQUEST'); // no closuresWindowCovering cluster
  });

  it('a device that leaves is offline and out of the network', async () => {
    adapter().leave(light);
    await until('rr-light offline', () => availability('rr-light') === false);
    await until('rr-light out of the network', () => status()?.devices.find((d) => d.id === 'rr-light')?.inNetwork === false);
  });

  it('after a restart the Controller knows the devices from its database file, without a new interview', async () => {
    await source.stop();
    await until('coordinator offline', () => status()?.coordinatorOnline === false);
    expect(await command('zigbee.set', { deviceId: 'rr-ac', payload: { state: 'OFF' } })).toMatchObject({ status: 'error', error: { code: 'SOURCE_OFFLINE' } });

    controller = newController();
    source = newSource(controller, 50);
    source.setDevices(DEVICES);
    expect(await source.start()).toBe(true);
    expect(adapters).toHaveLength(2);
    expect(controller.getDeviceByIeeeAddr(plug.spec.ieee)).toMatchObject({ modelID: 'SS-PL01', interviewState: 'SUCCESSFUL' });
    expect(await command('zigbee.set', { deviceId: 'rr-ac', payload: { state: 'OFF' } })).toMatchObject({ status: 'ok' });
    expect(adapter().zdoRequests.filter((r) => r.networkAddress !== 0)).toEqual([]);
    expect(plug.attr('genOnOff').onOff).toBe(0);
    expect(herdsmanLog.filter((l) => / error: /.test(l))).toEqual([]);
  });

  it('a sensor silent for twice its reporting interval goes offline, and comes back with its next report', async () => {
    adapter().receive(climate, climate.report('msTemperatureMeasurement', { measuredValue: 2200 }));
    await until('rr-climate online', () => availability('rr-climate') === true);
    source.setDevices(DEVICES.map((d) => (d.id === 'rr-climate' ? { ...d, intervalS: 0.2 } : d)));
    await until('rr-climate offline', () => availability('rr-climate') === false, 3000);
    const mark = inbox.length; // from here on (the timeout may pass again on a slow machine)
    adapter().receive(climate, climate.report('msTemperatureMeasurement', { measuredValue: 2210 }));
    await until('rr-climate back online', () => inbox.slice(mark).some((m) => m.topic === topics.envAvailability(SITE, 'rr-climate') && m.body.online === true));
    await until('the reading', () => readings('rr-climate').some((r) => r.values.temperature === 22.1));
    expect(readings('rr-climate').map((r) => r.values.temperature).filter(Boolean)).toEqual([21.5, 22, 22.1]);
  });

  it('a lost coordinator (adapter disconnected) shows in the status and answers SOURCE_OFFLINE', async () => {
    adapter().emit('disconnected');
    await until('coordinator offline', () => status()?.coordinatorOnline === false);
    expect(controller.isAdapterDisconnected()).toBe(true);
    expect(await command('zigbee.set', { deviceId: 'rr-ac', payload: { state: 'ON' } })).toMatchObject({ status: 'error', error: { code: 'SOURCE_OFFLINE' } });
  });
});
