import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { MQTT_PROTOCOL_VERSION, parseJsonObject, topics } from '../../contract/mqtt.js';
import { dbFile, loadConfig } from '../config.js';
import { resolveScenarioRefs } from '../devices/scenario-refs.js';
import Database from 'better-sqlite3';
import type { Command } from './command.js';

const LIBRARY = resolve(fileURLToPath(new URL('../../firmware-sim/scenarios/library', import.meta.url)));
const builtIns = () => readdirSync(LIBRARY).filter((f) => f.endsWith('.json')).map((f) => basename(f, '.json')).sort();

export const simulateCommand: Command = {
  name: 'simulate',
  summary: 'play a scenario on the simulated readers of a running system (kiosk checkout, gate alarm, returns, inventory sweep)',
  help: `Usage: shelfsense simulate <scenario> [options]

Sends a scenario to the running simulator (started by \`shelfsense start\`) and waits until it has
been played. <scenario> is the name of one of the scenarios shipped in firmware-sim/scenarios/library
(${builtIns().join(', ')}) or the path of a scenario JSON file. References such as card:$patron or
item:$available1 are resolved against the library's database first (see docs/rfid.md); the
resolved tags are printed.

Options:
  --data-dir DIR    data directory (default: var, or SHELFSENSE_DATA_DIR)
  --mqtt-url URL    the system's broker (default: the embedded broker of the configuration)
  --dry-run         print the resolved scenario and send nothing
  -h, --help        show this help

Examples:
  shelfsense simulate kiosk-checkout
  shelfsense simulate ./my-scenario.json --dry-run`,
  async run(args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { 'data-dir': { type: 'string' }, 'mqtt-url': { type: 'string' }, 'dry-run': { type: 'boolean' } } });
    const name = positionals[0];
    if (!name) { console.error(`simulate: name a scenario (${builtIns().join(', ')}) or a JSON file`); return 2; }
    const file = existsSync(name) ? resolve(name) : join(LIBRARY, `${name}.json`);
    if (!existsSync(file)) { console.error(`simulate: no scenario "${name}" (known: ${builtIns().join(', ')}; or give a file path)`); return 2; }
    const raw = parseJsonObject(readFileSync(file, 'utf8'));
    if (!raw || !Array.isArray(raw.steps)) { console.error(`simulate: ${file} is not a scenario (a JSON object with "name" and "steps")`); return 1; }
    const config = loadConfig(values['data-dir'] ? { dataDir: values['data-dir'] } : {});
    if (!existsSync(dbFile(config))) { console.error(`simulate: no database at ${dbFile(config)}; start Shelfsense first`); return 1; }
    const db = new Database(dbFile(config), { readonly: true, fileMustExist: true });
    let resolved;
    try { resolved = resolveScenarioRefs(db, raw); } finally { db.close(); }
    for (const [ref, tag] of Object.entries(resolved.bindings)) console.log(`  ${ref.padEnd(22)} → ${tag}`);
    if (resolved.shelf) console.log(`  shelf                  → ${resolved.shelf}`);
    if (values['dry-run']) { console.log(JSON.stringify(resolved.scenario, null, 2)); return 0; }

    const url = values['mqtt-url'] ?? (config.mqtt.embedded ? `mqtt://${config.mqtt.host}:${config.mqtt.port}` : config.mqtt.url!);
    const client = await mqtt.connectAsync(url, { protocolVersion: MQTT_PROTOCOL_VERSION, username: config.mqtt.username, password: config.mqtt.password, connectTimeout: 5000, reconnectPeriod: 0 })
      .catch((e: Error) => { throw new Error(`cannot reach the broker at ${url} (is Shelfsense running?): ${e.message}`); });
    try {
      await client.subscribeAsync(topics.simScenarioDone(config.site), { qos: 1 });
      const done = new Promise<Record<string, unknown>>((resolveDone, reject) => {
        const timer = setTimeout(() => reject(new Error('the simulator did not confirm the scenario within 120 s (is it running?)')), 120_000);
        client.on('message', (_t, payload) => {
          const body = parseJsonObject(payload);
          if (body && body.name === resolved.scenario.name) { clearTimeout(timer); resolveDone(body); }
        });
      });
      await client.publishAsync(topics.simScenario(config.site), JSON.stringify(resolved.scenario), { qos: 1 });
      console.log(`Playing "${String(resolved.scenario.name)}"…`);
      const result = await done;
      if (result.ok !== true) { console.error(`simulate: the simulator refused the scenario: ${String(result.error)}`); return 1; }
      console.log('Done. Watch the outcome on the API (GET /api/v1/rfid/…) or the live events (GET /api/v1/events).');
      return 0;
    } finally {
      await client.endAsync();
    }
  },
};
