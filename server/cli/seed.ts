import { parseArgs } from 'node:util';
import { loadConfig, dbFile } from '../config.js';
import { openDb } from '../store/db.js';
import { seedDemo } from '../seed/demo.js';
import { progressPrinter, type Command } from './command.js';

export const seedCommand: Command = {
  name: 'seed',
  summary: 'seed the demo library into an empty data directory',
  help: `Usage: shelfsense seed [options]

Generates the demo library (two branches with calendars, records and items over the Chinese Library
Classification, patrons in five categories, 12 months of loan history shaped like a real university
library's log, zones and devices) into an empty database. Deterministic: the same --seed gives the
same library. Refuses a database that already has records or patrons.

Options:
  --data-dir DIR   data directory (default: var, or SHELFSENSE_DATA_DIR)
  --seed N         random seed (default: from the configuration)
  -h, --help       show this help

Example:
  shelfsense seed --data-dir /tmp/demo --seed 7`,
  async run(args) {
    const { values } = parseArgs({ args, options: { 'data-dir': { type: 'string' }, seed: { type: 'string' } } });
    const config = loadConfig(values['data-dir'] ? { dataDir: values['data-dir'] } : {});
    const seed = values.seed !== undefined ? Number(values.seed) : config.demo.seedNumber;
    if (!Number.isInteger(seed)) { console.error(`--seed: "${values.seed}" is not an integer`); return 2; }
    const db = openDb(dbFile(config), { synchronous: config.db.synchronous });
    try {
      const summary = await seedDemo(db, { seed, onProgress: progressPrinter('seed') });
      const { credentials, ...counts } = summary;
      console.log(`Seeded ${dbFile(config)}: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')}`);
      console.log(`Staff: ${credentials.staff.map((s) => `${s.username} / ${s.password}`).join(', ')}; patron PIN ${credentials.patronPin}`);
      return 0;
    } catch (e) {
      console.error(`seed: ${(e as Error).message}`);
      return 1;
    } finally {
      db.close();
    }
  },
};
