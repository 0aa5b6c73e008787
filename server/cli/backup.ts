import { parseArgs } from 'node:util';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { loadConfig, dbFile } from '../config.js';
import { progressPrinter, type Command } from './command.js';

export const backupCommand: Command = {
  name: 'backup',
  summary: 'write a consistent copy of the database while the system runs',
  help: `Usage: shelfsense backup [options]

Copies the SQLite database with SQLite's online backup, page by page, so it can run while Shelfsense
is serving. The copy is a complete database file: restore by stopping Shelfsense and putting it in
place of shelfsense.db in the data directory.

Options:
  --data-dir DIR   data directory (default: var, or SHELFSENSE_DATA_DIR)
  --out FILE       where to write (default: DATA_DIR/backups/shelfsense-<UTC time>.db); must not exist
  -h, --help       show this help

Example:
  shelfsense backup --out /mnt/backups/library.db`,
  async run(args) {
    const { values } = parseArgs({ args, options: { 'data-dir': { type: 'string' }, out: { type: 'string' } } });
    const config = loadConfig(values['data-dir'] ? { dataDir: values['data-dir'] } : {});
    const source = dbFile(config);
    if (!existsSync(source)) { console.error(`backup: no database at ${source}`); return 1; }
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, 'Z');
    const out = values.out ?? join(config.dataDir, 'backups', `shelfsense-${stamp}.db`);
    if (existsSync(out)) { console.error(`backup: ${out} already exists; choose another --out`); return 1; }
    mkdirSync(dirname(out), { recursive: true });
    const db = new Database(source, { readonly: true, fileMustExist: true });
    const progress = progressPrinter('backup');
    try {
      await db.backup(out, {
        progress: ({ totalPages, remainingPages }) => { progress('pages', totalPages - remainingPages, totalPages); return 1000; },
      });
      const check = new Database(out, { readonly: true });
      const integrity = check.pragma('integrity_check', { simple: true });
      check.close();
      if (integrity !== 'ok') { console.error(`backup: the copy failed its integrity check: ${integrity}`); return 1; }
      console.log(`Backed up ${source} to ${out}`);
      return 0;
    } finally {
      db.close();
    }
  },
};
