// Composition root of the gateway process. Configuration from the environment:
// SHELFSENSE_SITE, SHELFSENSE_GATEWAY_ID, SHELFSENSE_MQTT_URL, SHELFSENSE_MQTT_USERNAME, SHELFSENSE_MQTT_PASSWORD.
import { Gateway } from './gateway.js';

const env = process.env;
const gateway = new Gateway({
  site: env.SHELFSENSE_SITE ?? 'demo',
  gatewayId: env.SHELFSENSE_GATEWAY_ID ?? 'gw-1',
  mqttUrl: env.SHELFSENSE_MQTT_URL ?? 'mqtt://127.0.0.1:1883',
  username: env.SHELFSENSE_MQTT_USERNAME,
  password: env.SHELFSENSE_MQTT_PASSWORD,
  version: env.npm_package_version,
});

await gateway.start();
console.log(`gateway ${gateway.opts.gatewayId} connected to ${gateway.opts.mqttUrl.replace(/\/\/[^@]*@/, '//')}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void gateway.stop().finally(() => process.exit(0)); });
}
