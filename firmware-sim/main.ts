// Composition root of the simulator process: every device of a site, played on real device paths
// and on MQTT, so the gateway and the server run as they would against hardware.
// Configuration from the environment: SHELFSENSE_SITE, SHELFSENSE_MQTT_URL (+ _USERNAME/_PASSWORD),
// SHELFSENSE_SIM_DIR (where the simulated serial lines are made, default var/dev),
// SHELFSENSE_SIM_TAGS (the library's tags as JSON, default <sim dir>/../sim-tags.json),
// SHELFSENSE_SIM_SPEED (simulated seconds per second for the rooms and Zigbee devices, default 1),
// SHELFSENSE_SIM_CAMERA_PORT (the simulated IP cameras' HTTP port, default 8090), SHELFSENSE_SIM_CAMERAS
// (the cameras as JSON, default <sim dir>/../sim-cameras.json).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import mqtt from 'mqtt';
import { MQTT_PROTOCOL_VERSION, sendImmediately, parseJsonObject, topics, type GatewayConfigPayload, type ZigbeeDeviceConfig } from '../contract/mqtt.js';
import { SIMULATORS } from './rfid/protocols.js';
import { TagPopulation, type TagSpec } from './rfid/population.js';
import { SimulatedReaders } from './rfid/sim-readers.js';
import { playScenario, validateScenario, type Scenario } from './scenarios/scenario.js';
import { SimulatedZigbee2Mqtt } from './zigbee/z2m-bridge.js';
import { readSimCameras, startCameraFeed } from './cameras/feed.js';
import { simCameraPort } from './cameras/port.js';

const env = process.env;
const site = env.SHELFSENSE_SITE ?? 'demo';
const devDir = resolve(env.SHELFSENSE_SIM_DIR ?? 'var/dev');
const tagsFile = resolve(env.SHELFSENSE_SIM_TAGS ?? join(dirname(devDir), 'sim-tags.json'));
const log = (line: string) => console.log(`firmware-sim: ${line}`);

const population = new TagPopulation();
if (existsSync(tagsFile)) {
  const specs = JSON.parse(readFileSync(tagsFile, 'utf8')) as TagSpec[];
  for (const spec of specs) population.add(spec);
  log(`${specs.length} tags from ${tagsFile}`);
}
// Simulated IP cameras on loopback: the server's list, and any other well-formed id as asked.
const camerasFile = resolve(env.SHELFSENSE_SIM_CAMERAS ?? join(dirname(devDir), 'sim-cameras.json'));
const cameraFeed = startCameraFeed({ port: simCameraPort(), cameras: readSimCameras(camerasFile), anyId: true, log })
  .catch((e) => { log(`cameras: ${e instanceof Error ? e.message : e}`); return null; });
const readers = new SimulatedReaders({ devDir, factories: SIMULATORS, log });

const client = sendImmediately(mqtt.connect(env.SHELFSENSE_MQTT_URL ?? 'mqtt://127.0.0.1:1883', {
  protocolVersion: MQTT_PROTOCOL_VERSION, username: env.SHELFSENSE_MQTT_USERNAME, password: env.SHELFSENSE_MQTT_PASSWORD, reconnectPeriod: 1000,
}));
client.on('connect', () => { void client.subscribeAsync([topics.gatewayConfigAll(site), topics.simScenario(site)], { qos: 1 }); });
client.on('error', (e) => log(`mqtt: ${e.message}`));
const simSpeed = Number(env.SHELFSENSE_SIM_SPEED ?? '1');
if (!(simSpeed > 0)) throw new Error(`SHELFSENSE_SIM_SPEED must be a number > 0 (got ${env.SHELFSENSE_SIM_SPEED})`);
// zigbee2mqtt as the gateways' configurations describe it: one simulated bridge per base topic.
const zigbeeByGateway = new Map<string, { baseTopic: string; devices: ZigbeeDeviceConfig[] }>();
const zigbee = new Map<string, { bridge: SimulatedZigbee2Mqtt; client: mqtt.MqttClient }>();
// Display cases and special collections are lit below their 50 lx limit; other rooms by the default.
const roomOptions = (key: string) => (/-(exhibition|special)$/.test(key) ? { artificialLux: 40 } : {});
async function syncZigbee(): Promise<void> {
  const byBase = new Map<string, ZigbeeDeviceConfig[]>();
  for (const z of zigbeeByGateway.values()) byBase.set(z.baseTopic, [...(byBase.get(z.baseTopic) ?? []), ...z.devices]);
  for (const [base, z] of zigbee) { if (byBase.has(base)) continue; await z.bridge.stop(); await z.client.endAsync(); zigbee.delete(base); }
  for (const [base, devices] of byBase) {
    const running = zigbee.get(base);
    if (running) { await running.bridge.setDevices(devices); continue; }
    // Its own connection, with zigbee2mqtt's last will (lib/mqtt.ts): the bridge is offline if the simulator dies.
    const zClient = sendImmediately(mqtt.connect(env.SHELFSENSE_MQTT_URL ?? 'mqtt://127.0.0.1:1883', {
      protocolVersion: MQTT_PROTOCOL_VERSION, username: env.SHELFSENSE_MQTT_USERNAME, password: env.SHELFSENSE_MQTT_PASSWORD, reconnectPeriod: 1000,
      will: { topic: `${base}/bridge/state`, payload: Buffer.from('{"state":"offline"}'), retain: true, qos: 1 },
    }));
    zClient.on('error', (e) => log(`zigbee2mqtt ${base}: ${e.message}`));
    const bridge = new SimulatedZigbee2Mqtt({ client: zClient, baseTopic: base, devices, speed: simSpeed, room: roomOptions, log });
    zigbee.set(base, { bridge, client: zClient });
    await bridge.start();
    log(`zigbee2mqtt on ${base}/: ${devices.length} devices, speed ×${simSpeed}`);
  }
}

let queue: Promise<unknown> = Promise.resolve();
client.on('message', (topic, payload) => {
  const body = parseJsonObject(payload);
  if (!body) return;
  if (topic === topics.simScenario(site)) {
    queue = queue.then(async () => {
      const scenario = body as unknown as Scenario;
      let result: { name: unknown; ok: boolean; error?: string };
      try {
        validateScenario(scenario);
        log(`playing scenario "${scenario.name}"`);
        await playScenario(scenario, readers.fields, population);
        result = { name: scenario.name, ok: true };
      } catch (e) {
        result = { name: body.name, ok: false, error: e instanceof Error ? e.message : String(e) };
        log(`scenario failed: ${result.error}`);
      }
      await client.publishAsync(topics.simScenarioDone(site), JSON.stringify(result), { qos: 1 });
    });
  } else {
    const config = body as unknown as GatewayConfigPayload;
    if (config.zigbee?.source === 'zigbee2mqtt') zigbeeByGateway.set(config.gatewayId, { baseTopic: config.zigbee.baseTopic ?? 'zigbee2mqtt', devices: config.zigbee.devices ?? [] });
    else zigbeeByGateway.delete(config.gatewayId);
    queue = queue.then(syncZigbee).catch((e) => log(`zigbee: ${e instanceof Error ? e.message : e}`));
    if (!Array.isArray(config.readers)) return;
    queue = queue.then(() => readers.setReaders(config.readers)).catch((e) => log(`readers: ${e instanceof Error ? e.message : e}`));
  }
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void (async () => {
      await readers.stop().catch(() => undefined);
      await Promise.all([...zigbee.values()].map(async (z) => { await z.bridge.stop(); await z.client.endAsync(); })).catch(() => undefined);
      await (await cameraFeed)?.close().catch(() => undefined);
      await client.endAsync().catch(() => undefined);
      process.exit(0);
    })();
  });
}
