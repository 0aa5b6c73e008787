// Runs one CRM recompute on a library file and prints its time and this process's peak memory (JSON).
import { performance } from 'node:perf_hooks';
import { openDb } from '../../server/store/db.js';
import { recomputeCrm } from '../../server/crm/recompute.js';

const [file, now] = process.argv.slice(2);
const db = openDb(file!);
const t0 = performance.now();
const summary = recomputeCrm(db, new Date(now!), { trigger: 'manual', log: (line) => console.error(`  ${line}`) });
const seconds = (performance.now() - t0) / 1000;
db.close();
console.log(JSON.stringify({ seconds, peakMb: process.resourceUsage().maxRSS / 1024, summary }));
