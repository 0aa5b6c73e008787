import { VERSION } from '../version.js';
import type { Command } from './command.js';
import { startCommand } from './start.js';
import { seedCommand } from './seed.js';
import { importCommand } from './import.js';
import { exportCommand } from './export.js';
import { backupCommand } from './backup.js';
import { simulateCommand } from './simulate.js';

const COMMANDS: Command[] = [startCommand, seedCommand, importCommand, exportCommand, backupCommand, simulateCommand];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `Shelfsense ${VERSION}: RFID self-service lending, climate and safety control, and a patron CRM for libraries.`,
    '',
    'Usage: shelfsense <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `shelfsense <command> --help` for a command\'s options.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') { console.log(usage()); return name ? 0 : 2; }
  if (name === '--version' || name === '-v') { console.log(VERSION); return 0; }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) { console.error(`shelfsense: unknown command "${name}"\n\n${usage()}`); return 2; }
  if (rest.includes('--help') || rest.includes('-h')) { console.log(command.help); return 0; }
  try {
    return await command.run(rest);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.code?.startsWith('ERR_PARSE_ARGS')) { console.error(`shelfsense ${name}: ${err.message}\n\n${command.help}`); return 2; }
    console.error(`shelfsense ${name}: ${err.message}`);
    return 1;
  }
}
