import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { loadConfig, dbFile } from '../config.js';
import { openDb } from '../store/db.js';
import { exportData, KIND_NAMES, type Kind } from '../io/index.js';
import { formatOf } from './import.js';
import type { Command } from './command.js';

export const exportCommand: Command = {
  name: 'export',
  summary: 'export records, items, patrons, policies or calendars as CSV or JSON',
  help: `Usage: shelfsense export <kind> [options]

Kinds: ${KIND_NAMES.join(', ')}. What it writes imports back into an empty database (docs/formats.md).
Patron exports never contain PINs.

Options:
  --format csv|json   output format (default: from --out's extension, else json)
  --out FILE          write to FILE (default: standard output)
  --data-dir DIR      data directory (default: var, or SHELFSENSE_DATA_DIR)
  -h, --help          show this help

Examples:
  shelfsense export items --out items.csv
  shelfsense export policies --format json > policies.json`,
  async run(args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: {
      format: { type: 'string' }, out: { type: 'string' }, 'data-dir': { type: 'string' },
    } });
    const [kind] = positionals;
    if (!kind || positionals.length > 1) { console.error('usage: shelfsense export <kind> (see --help)'); return 2; }
    if (!(KIND_NAMES as readonly string[]).includes(kind)) { console.error(`export: unknown kind "${kind}" (one of ${KIND_NAMES.join(', ')})`); return 2; }
    const format = values.format || values.out ? formatOf(values.out, values.format) : 'json';
    if (!format) { console.error('export: give --format csv or --format json'); return 2; }
    const config = loadConfig(values['data-dir'] ? { dataDir: values['data-dir'] } : {});
    const db = openDb(dbFile(config), { synchronous: config.db.synchronous });
    try {
      const text = exportData(db, { kind: kind as Kind, format });
      if (values.out) { writeFileSync(values.out, text); console.error(`Exported ${kind} to ${values.out}`); }
      else process.stdout.write(text);
      return 0;
    } finally {
      db.close();
    }
  },
};
