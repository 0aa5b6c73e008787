import { afterEach, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { startBroker } from '../../../server/mqtt/broker.js';
import { MQTT_PROTOCOL_VERSION, type ZigbeeDeviceConfig } from '../../../contract/mqtt.js';
import { SimulatedZigbee2Mqtt, type SimulatedZigbee2MqttOptions } from '../../../firmware-sim/zigbee/z2m-bridge.js';

// The demo's devices (server/seed/demo.ts seedZonesAndDevices), two zones of the main branch, plus one without a zone.
const z = (zone: string, kind: string, role = kind, extra: Partial<ZigbeeDeviceConfig> = {}): ZigbeeDeviceConfig =>
  ({ id: `main-${zone}-${kind}`, role, zoneId: `main-${zone}`, z2mName: `main/${zone}/${kind}`, ...extra });
const DEVICES: ZigbeeDeviceConfig[] = [
  z('reading', 'climate', 'climate', { intervalS: 60 }), z('reading', 'smoke'), z('reading', 'ac'), z('reading', 'light'), z('reading', 'curtain'),
  z('stacks', 'climate', 'climate', { intervalS: 60 }), z('stacks', 'smoke'), z('stacks', 'ac'), z('stacks', 'water'), z('stacks', 'ventilation'),
  z('special', 'climate', 'climate', { intervalS: 60 }),
  { id: 'main-entrance-motion', role: 'motion', zoneId: 'main-reading', z2mName: 'main/entrance/motion' },
  { id: 'main-entrance-door', role: 'contact', zoneId: 'main-reading', z2mName: 'main/entrance/door' },
  { id: 'main-siren', role: 'siren', zoneId: 'main-reading', z2mName: 'main/siren' },
  { id: 'lobby-climate', role: 'climate', z2mName: 'lobby/climate', intervalS: 120 },
  { id: 'herdsman-only', role: 'climate', ieee: '0x00158d0001020304' },
];
const MIN = 60_000;

interface Seen { topic: string; text: string; retain: boolean }
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

async function connect(url: string, reconnectPeriod = 0): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { protocolVersion: MQTT_PROTOCOL_VERSION, reconnectPeriod });
  cleanups.push(() => c.endAsync(true));
  return c;
}

/** A broker, the simulator on a manual clock (simulated time moves only by clock.advance + tick), and a client on zigbee2mqtt/#. */
async function setup(opts: Partial<SimulatedZigbee2MqttOptions> = {}, reconnectPeriod = 0) {
  const broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: 0 });
  let open = true;
  const closeBroker = async () => { if (open) { open = false; await broker.close(); } };
  cleanups.push(closeBroker);
  let wall = 1_000_000;
  const clock = { now: () => wall };
  const simClient = await connect(broker.url, reconnectPeriod);
  const sim = new SimulatedZigbee2Mqtt({
    client: simClient, devices: DEVICES, clock, tickMs: null, speed: 60, seed: 42, simStart: new Date('2026-07-15T05:00:00Z'), // 13:00 local
    ...opts,
  });
  cleanups.push(() => sim.stop());
  const seen: Seen[] = [];
  const observer = await connect(broker.url);
  observer.on('message', (topic, payload, packet) => seen.push({ topic, text: payload.toString(), retain: packet.retain }));
  await observer.subscribeAsync('zigbee2mqtt/#', { qos: 1 });
  let n = 0;
  /** Waits until everything the simulator published so far has reached the observer (a marker on the same connection). */
  const flush = async () => {
    const marker = `zigbee2mqtt/test-marker/${++n}`;
    await simClient.publishAsync(marker, 'x', { qos: 1 });
    await until(() => seen.some((m) => m.topic === marker));
  };
  /** Simulated minutes pass (speed 60: one wall second per simulated minute). */
  const pass = async (simMinutes: number) => { wall += simMinutes * 1000; await sim.tick(); await flush(); };
  const states = (name: string) => seen.filter((m) => m.topic === `zigbee2mqtt/${name}`).map((m) => JSON.parse(m.text) as Record<string, unknown>);
  const last = (name: string) => states(name).at(-1) ?? {};
  const send = async (topic: string, payload: string) => { await observer.publishAsync(`zigbee2mqtt/${topic}`, payload, { qos: 1 }); };
  const start = async () => { await sim.start(); await flush(); };
  /** What the broker has retained on a topic, as a client subscribing now gets it (live messages carry no retain flag in MQTT 3.1.1). */
  const retained = async (topic: string) => {
    const late = await connect(broker.url);
    const got: Seen[] = [];
    late.on('message', (tp, payload, packet) => got.push({ topic: tp, text: payload.toString(), retain: packet.retain }));
    await late.subscribeAsync(`zigbee2mqtt/${topic}`);
    await until(() => got.length > 0);
    await late.endAsync();
    return got[0]!;
  };
  return { broker, closeBroker, simClient, sim, seen, flush, pass, states, last, send, start, retained };
}

async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out waiting for MQTT messages');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('SimulatedZigbee2Mqtt on a real broker', () => {
  it('publishes retained bridge state, bridge/devices, availability and state exactly as zigbee2mqtt shapes them', async () => {
    const { broker, sim } = await setup();
    await sim.start();
    // A client that connects afterwards gets all of it from the broker's retained store.
    const late = await connect(broker.url);
    const got = new Map<string, Seen>();
    late.on('message', (topic, payload, packet) => got.set(topic, { topic, text: payload.toString(), retain: packet.retain }));
    await late.subscribeAsync('zigbee2mqtt/#');
    await until(() => got.has('zigbee2mqtt/bridge/devices') && got.has('zigbee2mqtt/lobby/climate') && got.has('zigbee2mqtt/main/siren/availability'));

    expect(got.get('zigbee2mqtt/bridge/state')).toEqual({ topic: 'zigbee2mqtt/bridge/state', text: '{"state":"online"}', retain: true });
    const raw = got.get('zigbee2mqtt/bridge/devices')!;
    expect(raw.retain).toBe(true);
    expect(raw.text.startsWith('[{"disabled":false,"endpoints":{"1":{"bindings":[],"clusters":{"input":[],"output":[]}')).toBe(true); // stable-stringify: sorted keys
    const list = JSON.parse(raw.text) as Record<string, any>[];
    expect(list[0]).toMatchObject({ type: 'Coordinator', friendly_name: 'Coordinator', network_address: 0 });
    expect(list.map((d) => d.friendly_name)).toEqual(['Coordinator', ...DEVICES.filter((d) => d.z2mName).map((d) => d.z2mName)]);

    const climate = list.find((d) => d.friendly_name === 'main/reading/climate')!;
    expect(Object.keys(climate).sort()).toEqual(['definition', 'disabled', 'endpoints', 'friendly_name', 'ieee_address', 'interview_completed', 'interview_state',
      'interviewing', 'manufacturer', 'model_id', 'network_address', 'power_source', 'supported', 'type']);
    expect(climate).toMatchObject({ type: 'EndDevice', supported: true, interview_completed: true, interview_state: 'SUCCESSFUL', model_id: 'lumi.weather', power_source: 'Battery' });
    expect(climate.ieee_address).toMatch(/^0x00158d00[0-9a-f]{8}$/);
    expect(climate.definition).toMatchObject({ model: 'WSDCGQ11LM', vendor: 'Aqara', description: 'Temperature and humidity sensor', source: 'native', supports_ota: false });
    expect(climate.definition.exposes.map((e: any) => e.name)).toEqual(['battery', 'temperature', 'humidity', 'pressure', 'voltage', 'linkquality']);
    expect(climate.definition.exposes[1]).toEqual({ access: 1, description: 'Measured temperature value', label: 'Temperature', name: 'temperature', property: 'temperature', type: 'numeric', unit: '°C' });
    expect(climate.definition.exposes[5]).toEqual({ access: 1, category: 'diagnostic', description: 'Link quality (signal strength)', label: 'Linkquality', name: 'linkquality',
      property: 'linkquality', type: 'numeric', unit: 'lqi', value_max: 255, value_min: 0 });
    expect(climate.definition.options.map((o: any) => o.name)).toEqual(['temperature_calibration', 'temperature_precision', 'humidity_calibration', 'humidity_precision', 'pressure_calibration', 'pressure_precision']);

    const ac = list.find((d) => d.friendly_name === 'main/reading/ac')!;
    expect(ac).toMatchObject({ type: 'Router', power_source: 'Mains (single phase)', definition: { model: 'BASICZBR3', vendor: 'SONOFF' } });
    expect(ac.definition.exposes[0]).toEqual({ type: 'switch', features: [{ access: 7, description: 'On/off state of the switch', label: 'State', name: 'state', property: 'state',
      type: 'binary', value_off: 'OFF', value_on: 'ON', value_toggle: 'TOGGLE' }] });
    const cover = list.find((d) => d.friendly_name === 'main/reading/curtain')!.definition.exposes[0];
    expect(cover).toEqual({ type: 'cover', features: [{ access: 3, label: 'State', name: 'state', property: 'state', type: 'enum', values: ['OPEN', 'CLOSE', 'STOP'] },
      { access: 7, description: 'Position of this cover', label: 'Position', name: 'position', property: 'position', type: 'numeric', unit: '%', value_max: 100, value_min: 0 }] });
    const names = (model: string) => list.find((d) => d.definition?.model === model)!.definition.exposes.map((e: any) => e.name ?? e.type);
    expect(names('SSA01ZB')).toEqual(['smoke', 'battery_low', 'tamper', 'battery', 'linkquality']);
    expect(names('HS1WL/HS3WL')).toEqual(['water_leak', 'battery_low', 'tamper', 'battery', 'linkquality']);
    expect(names('RTCGQ11LM')).toEqual(['battery', 'occupancy', 'device_temperature', 'voltage', 'illuminance', 'power_outage_count', 'linkquality']);
    expect(names('MCCGQ11LM')).toContain('contact');
    const siren = list.find((d) => d.definition?.model === 'HS2WD-E')!.definition.exposes[1];
    expect(siren).toMatchObject({ type: 'composite', name: 'warning', property: 'warning', access: 2 });
    expect(siren.features.map((f: any) => f.name)).toEqual(['strobe', 'strobe_duty_cycle', 'duration', 'mode']);

    const state = got.get('zigbee2mqtt/main/reading/climate')!;
    expect(state.retain).toBe(true);
    const values = JSON.parse(state.text);
    expect(Object.keys(values)).toEqual(['battery', 'humidity', 'linkquality', 'pressure', 'temperature', 'voltage']); // sorted, as published
    expect(values.temperature).toBe(Math.round(values.temperature * 100) / 100);
    expect(values.pressure).toBeGreaterThan(990);
    expect(values.voltage).toBeGreaterThan(2900);
    expect(JSON.parse(got.get('zigbee2mqtt/main/reading/ac')!.text)).toEqual({ linkquality: expect.any(Number), state: 'OFF' });
    expect(JSON.parse(got.get('zigbee2mqtt/main/reading/curtain')!.text)).toEqual({ battery: expect.any(Number), linkquality: expect.any(Number), position: 100, state: 'OPEN' });
    expect(got.get('zigbee2mqtt/main/siren/availability')).toMatchObject({ text: '{"state":"online"}', retain: true });
    expect(got.has('zigbee2mqtt/herdsman-only')).toBe(false);
  });

  it('turns the AC on from <name>/set and the room cools and dries over simulated time', async () => {
    const t = await setup({ room: (key) => (key === 'main-reading' ? { weather: 'hot_afternoon', initial: { temperature: 27, humidity: 58 } } : {}) });
    await t.start();
    await t.sim.setOccupancy('main-reading', 20);
    await t.pass(5);
    const before = t.last('main/reading/climate');
    await t.send('main/reading/ac/set', '{"state":"ON"}');
    await until(() => t.last('main/reading/ac').state === 'ON');
    expect(t.sim.room('main-reading')!.acOn).toBe(true);
    await t.pass(30);
    const after = t.last('main/reading/climate');
    expect(after.temperature as number).toBeLessThan((before.temperature as number) - 1.5);
    expect(after.humidity as number).toBeLessThan((before.humidity as number) - 3);
    expect(t.states('main/reading/climate').length).toBeGreaterThanOrEqual(30); // every 60 s (intervalS) or sooner on a 1 °C / 1 % change
    // The other spellings zigbee2mqtt takes: a bare value, and the attribute in the topic.
    await t.send('main/reading/ac/set', 'TOGGLE');
    await until(() => t.last('main/reading/ac').state === 'OFF');
    await t.send('main/reading/ac/set/state', 'ON');
    await until(() => t.last('main/reading/ac').state === 'ON');
    await t.send('main/reading/ac/set', '{"state":"BLINK"}'); // invalid: logged by zigbee2mqtt, nothing published
    await t.send('main/reading/ac/get', '{"state":""}');
    await until(() => t.states('main/reading/ac').length === 5);
    await t.flush();
    expect(t.states('main/reading/ac').map((s) => s.state)).toEqual(['OFF', 'ON', 'OFF', 'ON', 'ON']);
  });

  it('ventilation on a humid day brings the wet outdoor air in: RH rises against a closed room', async () => {
    const t = await setup({ room: () => ({ initial: { temperature: 22, humidity: 50 }, lightsOn: false }) });
    await t.start();
    await t.sim.setWeather(null, 'humid_day');
    await t.send('main/stacks/ventilation/set', '{"state":"ON"}');
    await until(() => t.last('main/stacks/ventilation').state === 'ON');
    await t.pass(60);
    const vented = t.last('main/stacks/climate').humidity as number, closed = t.last('main/special/climate').humidity as number;
    expect(vented).toBeGreaterThan(closed + 8);
    expect(t.sim.room('main-stacks')!.vapourDensity).toBeGreaterThan(t.sim.room('main-special')!.vapourDensity + 3);
  });

  it('closing the curtains cuts the daylight the light sensor reports', async () => {
    const t = await setup({ room: () => ({ weather: 'strong_sun', artificialLux: 350 }), simStart: new Date('2026-07-15T04:00:00Z') }); // noon
    await t.start();
    const open = t.last('main/reading/light').illuminance as number;
    expect(open).toBeGreaterThan(3000);
    await t.send('main/reading/curtain/set', '{"state":"CLOSE"}');
    await t.flush();
    await t.pass(1); // 30 s full travel, reported at least 1 s apart
    const moves = t.states('main/reading/curtain');
    expect(moves.at(-1)).toMatchObject({ position: 0, state: 'CLOSE' });
    const positions = moves.map((m) => m.position as number);
    expect(positions.length).toBeGreaterThan(10);
    expect(positions.slice(1).every((p, i) => p < positions[i]!)).toBe(true);
    expect(moves.slice(1, -1).every((m) => m.state === 'OPEN')).toBe(true);
    await t.pass(5);
    const closed = t.last('main/reading/light').illuminance as number;
    expect(closed).toBeGreaterThan(330);
    expect(closed).toBeLessThan(370);
    await t.send('main/reading/curtain/set', '{"position":50}'); // cover_position_tilt publishes the position at once
    await until(() => t.last('main/reading/curtain').position === 50);
    await t.pass(1);
    expect(t.last('main/reading/curtain')).toMatchObject({ position: 50, state: 'OPEN' });
    expect(t.sim.room('main-reading')!.curtainPosition).toBe(50);
  });

  it('an offline device publishes availability offline, stops reporting and ignores commands', async () => {
    const t = await setup();
    await t.start();
    await t.pass(3);
    await t.sim.setOffline('main-stacks-climate', true);
    await t.sim.setOffline('main-stacks-ac', true);
    await t.flush();
    expect(t.seen.filter((m) => m.topic === 'zigbee2mqtt/main/stacks/climate/availability').map((m) => m.text)).toEqual(['{"state":"online"}', '{"state":"offline"}']);
    expect(await t.retained('main/stacks/climate/availability')).toMatchObject({ text: '{"state":"offline"}', retain: true });
    const reports = t.states('main/stacks/climate').length, others = t.states('main/reading/climate').length;
    await t.send('main/stacks/ac/set', '{"state":"ON"}');
    await t.pass(10);
    expect(t.states('main/stacks/climate').length).toBe(reports);
    expect(t.states('main/reading/climate').length).toBeGreaterThanOrEqual(others + 10);
    expect(t.states('main/stacks/ac').map((s) => s.state)).toEqual(['OFF']);
    expect(t.sim.room('main-stacks')!.acOn).toBe(false);
    await t.sim.setOffline('main-stacks-climate', false);
    await t.flush();
    expect(t.seen.filter((m) => m.topic === 'zigbee2mqtt/main/stacks/climate/availability').at(-1)!.text).toBe('{"state":"online"}');
    expect(t.states('main/stacks/climate').length).toBe(reports + 1);
  });

  it('follows a new configuration: keeps unchanged devices, clears removed ones, announces added ones', async () => {
    const t = await setup();
    await t.start();
    await t.send('main/reading/ac/set', '{"state":"ON"}');
    await until(() => t.last('main/reading/ac').state === 'ON');
    const next = [...DEVICES.filter((d) => d.id !== 'lobby-climate'), { id: 'main-reading-light-2', role: 'light', zoneId: 'main-reading', z2mName: 'main/reading/light2' }];
    await t.sim.setDevices(next);
    await t.flush();
    const list = JSON.parse(t.seen.filter((m) => m.topic === 'zigbee2mqtt/bridge/devices').at(-1)!.text) as { friendly_name: string }[];
    expect(list.map((d) => d.friendly_name)).toContain('main/reading/light2');
    expect(list.map((d) => d.friendly_name)).not.toContain('lobby/climate');
    expect(t.seen.filter((m) => m.topic === 'zigbee2mqtt/lobby/climate').at(-1)!.text).toBe(''); // retained state cleared
    expect(t.last('main/reading/light2')).toMatchObject({ illuminance: expect.any(Number), battery: expect.any(Number) });
    expect(t.sim.device('main-reading-ac')!.room.acOn).toBe(true); // same device, same room, still on
    await t.send('main/reading/light2/get', '{"illuminance":""}'); // access 5: readable
    await t.send('main/reading/climate/get', '{"temperature":""}'); // access 1: zigbee2mqtt has no converter, nothing published
    await until(() => t.states('main/reading/light2').length === 2);
    await t.flush();
    expect(t.states('main/reading/climate')).toHaveLength(1);
  });

  it('publishes everything again after a reconnect, for a broker that lost its retained messages', async () => {
    const t = await setup({}, 50);
    await t.start();
    await t.closeBroker();
    const again = await startBroker({ host: '127.0.0.1', port: t.broker.port, wsPort: 0 }); // a fresh broker: empty retained store
    cleanups.unshift(() => again.close()); // closed last, after the simulator said goodbye
    await until(() => t.simClient.connected);
    await t.sim.tick(); // queued behind the reconnect's republishing
    await t.simClient.publishAsync('zigbee2mqtt/test-marker/reconnected', 'x', { qos: 1 }); // acknowledged after all sent before it
    expect(await t.retained('bridge/state')).toMatchObject({ text: '{"state":"online"}', retain: true });
    expect(JSON.parse((await t.retained('bridge/devices')).text)).toHaveLength(DEVICES.length);
    expect(JSON.parse((await t.retained('main/reading/climate')).text)).toMatchObject({ temperature: expect.any(Number) });
  });

  it('a smoke trigger publishes smoke: true with the rest of the detector state; motion clears after 90 s; stop() says offline', async () => {
    const t = await setup();
    await t.start();
    await t.sim.trigger('main-reading-smoke', 'smoke', true);
    await t.flush();
    expect(t.last('main/reading/smoke')).toMatchObject({ smoke: true, battery_low: false, tamper: false, battery: expect.any(Number), linkquality: expect.any(Number) });
    expect(t.states('main/stacks/smoke').every((s) => s.smoke === false)).toBe(true);
    await t.sim.trigger('main-stacks-water', 'water_leak', true);
    await t.sim.trigger('main-entrance-door', 'contact', false);
    await t.sim.trigger('main-entrance-motion', 'occupancy', true);
    await t.flush();
    expect(t.last('main/stacks/water')).toMatchObject({ water_leak: true });
    expect(t.last('main/entrance/door')).toMatchObject({ contact: false });
    expect(t.last('main/entrance/motion')).toMatchObject({ occupancy: true, illuminance: expect.any(Number) });
    await t.pass(1);
    expect(t.last('main/entrance/motion').occupancy).toBe(true);
    await t.pass(1); // 120 s after the motion: occupancy_timeout (90 s) has passed
    expect(t.last('main/entrance/motion').occupancy).toBe(false);
    await t.send('main/siren/set', '{"warning":{"mode":"emergency","duration":30,"strobe":true}}');
    await until(() => t.sim.device('main-siren')!.sirenSounding(t.sim.now.getTime()));
    await expect(t.sim.trigger('main-reading-ac', 'smoke', true)).rejects.toThrow(/has no smoke/);
    await t.sim.stop();
    await t.flush();
    expect(t.seen.filter((m) => m.topic === 'zigbee2mqtt/bridge/state').map((m) => m.text)).toEqual(['{"state":"online"}', '{"state":"offline"}']);
    expect(await t.retained('bridge/state')).toMatchObject({ text: '{"state":"offline"}', retain: true });
  });
});
