import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { loadConfig, dbFile } from '../config.js';
import { openDb } from '../store/db.js';
import { importData, ImportError, formatProblem, KIND_NAMES, type Format, type Kind } from '../io/index.js';
import { progressPrinter, type Command } from './command.js';

export function formatOf(file: string | undefined, given: string | undefined): Format | null {
  const f = given ?? (file ? extname(file).slice(1).toLowerCase() : undefined);
  return f === 'csv' || f === 'json' ? f : null;
}

export const importCommand: Command = {
  name: 'import',
  summary: 'import records, items, patrons, policies or calendars from CSV or JSON',
  help: `Usage: shelfsense import <kind> <file> [options]

Kinds: ${KIND_NAMES.join(', ')}. Formats and columns: docs/formats.md.
All or nothing: a file with any bad row imports nothing, and every bad row is listed with its line,
field and reason. With --skip-bad the good rows are imported and the bad ones listed.
Patron PINs in the file are hashed; card numbers and barcodes are kept exactly as written.
Import policies and calendars while Shelfsense is stopped, or through the HTTP API, so the running
server sees them at once.

Options:
  --format csv|json   file format (default: from the file's extension)
  --skip-bad          import the good rows, report the bad ones
  --data-dir DIR      data directory (default: var, or SHELFSENSE_DATA_DIR)
  -h, --help          show this help

Exit codes: 0 imported, 1 bad rows (nothing imported) or unreadable file, 2 wrong usage.

Examples:
  shelfsense import patrons new-students.csv
  shelfsense import items items.json --skip-bad`,
  async run(args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: {
      format: { type: 'string' }, 'skip-bad': { type: 'boolean' }, 'data-dir': { type: 'string' },
    } });
    const [kind, file] = positionals;
    if (!kind || !file || positionals.length > 2) { console.error(`usage: shelfsense import <kind> <file> (see --help)`); return 2; }
    if (!(KIND_NAMES as readonly string[]).includes(kind)) { console.error(`import: unknown kind "${kind}" (one of ${KIND_NAMES.join(', ')})`); return 2; }
    const format = formatOf(file, values.format);
    if (!format) { console.error(`import: cannot tell the format of ${file}; give --format csv or --format json`); return 2; }
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch (e) { console.error(`import: cannot read ${file}: ${(e as Error).message}`); return 1; }
    const config = loadConfig(values['data-dir'] ? { dataDir: values['data-dir'] } : {});
    const db = openDb(dbFile(config), { synchronous: config.db.synchronous });
    try {
      const report = await importData(db, { kind: kind as Kind, format, text, skipBad: values['skip-bad'], onProgress: progressPrinter(`import ${kind}`) });
      console.log(`Imported ${report.imported} of ${report.rows} ${kind} from ${file}.`);
      if (report.skipped.length) {
        console.log(`Skipped ${report.skipped.length} bad row${report.skipped.length === 1 ? '' : 's'}:`);
        for (const p of report.skipped) console.log(`  ${formatProblem(p)}`);
      }
      return 0;
    } catch (e) {
      if (!(e instanceof ImportError)) throw e;
      console.error(`import: ${file}: nothing was imported; ${e.problems.length} bad row${e.problems.length === 1 ? '' : 's'}:`);
      for (const p of e.problems) console.error(`  ${formatProblem(p)}`);
      return 1;
    } finally {
      db.close();
    }
  },
};
