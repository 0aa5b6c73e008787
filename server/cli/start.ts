import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { startShelfsense, readDemoCredentials } from '../main.js';
import { progressPrinter, type Command } from './command.js';

export const startCommand: Command = {
  name: 'start',
  summary: 'start the broker, server, gateway and simulators (seeding the demo library on first start)',
  help: `Usage: shelfsense start [options]

Starts the embedded MQTT broker (TCP and WebSocket), the server (HTTP API), and — unless
--no-devices — the site's gateway processes. On an empty data directory the demo library is seeded
first; later starts reuse it. Stop with Ctrl-C.

Options:
  --data-dir DIR     data directory (default: var, or SHELFSENSE_DATA_DIR)
  --port N           HTTP port (default: 8080, or SHELFSENSE_HTTP_PORT)
  --mqtt-url URL     use an external MQTT 3.1.1 broker instead of the embedded one
  --no-seed          do not seed the demo library into an empty data directory
  --no-devices       do not start the gateway and simulators
  -h, --help         show this help

Configuration file: shelfsense.config.json in the working directory (or SHELFSENSE_CONFIG);
see docs/configuration.md.

Examples:
  shelfsense start
  shelfsense start --data-dir /srv/shelfsense --port 9000 --no-seed`,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        'data-dir': { type: 'string' }, port: { type: 'string' }, 'mqtt-url': { type: 'string' },
        'no-seed': { type: 'boolean' }, 'no-devices': { type: 'boolean' },
      },
    });
    const overrides: Record<string, any> = {};
    if (values['data-dir']) overrides.dataDir = values['data-dir'];
    if (values.port !== undefined) {
      const port = Number(values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) { console.error(`--port: "${values.port}" is not a port number`); return 2; }
      overrides.http = { port };
    }
    if (values['mqtt-url']) overrides.mqtt = { embedded: false, url: values['mqtt-url'] };
    if (values['no-seed'] || values['no-devices']) overrides.demo = { ...(values['no-seed'] ? { seed: false } : {}), ...(values['no-devices'] ? { devices: false } : {}) };
    const config = loadConfig(overrides);
    const t0 = performance.now();
    const running = await startShelfsense(config, { onProgress: progressPrinter('seed') });
    const creds = running.seeded?.credentials ?? readDemoCredentials(running.credentialsFile);
    const lines = [
      `Shelfsense is running (ready in ${((performance.now() - t0) / 1000).toFixed(1)} s; data in ${config.dataDir})`,
      `  HTTP API        ${running.httpUrl}/api/v1  (OpenAPI: ${running.httpUrl}/api/v1/openapi.json)`,
      `  Health          ${running.httpUrl}/api/v1/health`,
      `  MQTT            ${running.mqttUrl}${running.mqttWsUrl ? `  (WebSocket: ${running.mqttWsUrl})` : ''}`,
    ];
    if (running.sip2) lines.push(`  SIP2            ${running.sip2.host}:${running.sip2.port}`);
    if (creds) {
      lines.push(`  Demo sign-in    ${creds.staff.map((s) => `${s.username} / ${s.password} (${s.role})`).join(', ')}`);
      lines.push(`  Demo patrons    cards ${creds.patronCards.join(', ')} with PIN ${creds.patronPin}`);
      if (running.sip2 && !config.sip2.accounts.length) lines.push(`  Demo SIP2       ${creds.sip2Accounts.map((a) => `${a.login} / ${a.password} (${a.branchId})`).join(', ')}`);
    }
    console.log(lines.join('\n'));
    await new Promise<void>((resolve) => {
      const shutdown = () => { console.log('Stopping…'); void running.stop().finally(resolve); };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    });
    return 0;
  },
};
