// Composition root of the gateway process. Configuration from the environment:
// SHELFSENSE_SITE, SHELFSENSE_GATEWAY_ID, SHELFSENSE_MQTT_URL, SHELFSENSE_MQTT_USERNAME, SHELFSENSE_MQTT_PASSWORD,
// SHELFSENSE_GATEWAY_DIR (where the outbox and the last configuration are kept; default var/gateway/<id>).
// SHELFSENSE_ZIGBEE_PORT (+ _ADAPTER, _BAUD, _CHANNEL): the site's Zigbee coordinator, driven directly
// through zigbee-herdsman when the server's configuration for this gateway says so.
// The readers and Zigbee devices it runs come from the server, retained on the gateway's config topic.
import { resolve } from 'node:path';
import { DRIVERS } from './readers/drivers.js';
import { GatewayRuntime } from './runtime.js';

const env = process.env;
const gatewayId = env.SHELFSENSE_GATEWAY_ID ?? 'gw-1';
const runtime = new GatewayRuntime({
  site: env.SHELFSENSE_SITE ?? 'demo',
  gatewayId,
  mqttUrl: env.SHELFSENSE_MQTT_URL ?? 'mqtt://127.0.0.1:1883',
  username: env.SHELFSENSE_MQTT_USERNAME,
  password: env.SHELFSENSE_MQTT_PASSWORD,
  version: env.npm_package_version,
  dataDir: resolve(env.SHELFSENSE_GATEWAY_DIR ?? `var/gateway/${gatewayId}`),
  drivers: DRIVERS,
  log: (line) => console.error(line),
  ...(env.SHELFSENSE_ZIGBEE_PORT ? {
    coordinator: {
      port: env.SHELFSENSE_ZIGBEE_PORT, adapter: env.SHELFSENSE_ZIGBEE_ADAPTER,
      baudRate: env.SHELFSENSE_ZIGBEE_BAUD ? Number(env.SHELFSENSE_ZIGBEE_BAUD) : undefined,
      channel: env.SHELFSENSE_ZIGBEE_CHANNEL ? Number(env.SHELFSENSE_ZIGBEE_CHANNEL) : undefined,
    },
  } : {}),
});

await runtime.start();
console.log(`gateway ${gatewayId} connected to ${runtime.gateway.opts.mqttUrl.replace(/\/\/[^@]*@/, '//')}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void runtime.stop().finally(() => process.exit(0)); });
}
