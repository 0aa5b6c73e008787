// Composition root of the simulator process: every device of a site, played on real device paths
// and on MQTT, so the gateway and the server run as they would against hardware.
// Configuration from the environment: SHELFSENSE_SITE, SHELFSENSE_MQTT_URL (+ _USERNAME/_PASSWORD),
// SHELFSENSE_SIM_DIR (where the simulated serial lines are made, default var/dev),
// SHELFSENSE_SIM_TAGS (the library's tags as JSON, default <sim dir>/../sim-tags.json).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import mqtt from 'mqtt';
import { MQTT_PROTOCOL_VERSION, sendImmediately, parseJsonObject, topics, type GatewayConfigPayload } from '../contract/mqtt.js';
import { SIMULATORS } from './rfid/protocols.js';
import { TagPopulation, type TagSpec } from './rfid/population.js';
import { SimulatedReaders } from './rfid/sim-readers.js';
import { playScenario, validateScenario, type Scenario } from './scenarios/scenario.js';

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
const readers = new SimulatedReaders({ devDir, factories: SIMULATORS, log });

const client = sendImmediately(mqtt.connect(env.SHELFSENSE_MQTT_URL ?? 'mqtt://127.0.0.1:1883', {
  protocolVersion: MQTT_PROTOCOL_VERSION, username: env.SHELFSENSE_MQTT_USERNAME, password: env.SHELFSENSE_MQTT_PASSWORD, reconnectPeriod: 1000,
}));
client.on('connect', () => { void client.subscribeAsync([topics.gatewayConfigAll(site), topics.simScenario(site)], { qos: 1 }); });
client.on('error', (e) => log(`mqtt: ${e.message}`));
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
    if (!Array.isArray(config.readers)) return;
    queue = queue.then(() => readers.setReaders(config.readers)).catch((e) => log(`readers: ${e instanceof Error ? e.message : e}`));
  }
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void readers.stop().finally(() => client.endAsync().finally(() => process.exit(0))); });
}
