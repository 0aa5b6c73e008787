#!/usr/bin/env node
// The shelfsense command: see `shelfsense --help`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../server/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
