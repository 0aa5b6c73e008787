// Runs the benchmark suites in bench/suites/*.ts: `npm run bench` runs all, `npm run bench -- circulation` one.
// Each figure is printed on stdout as `BENCH <suite>.<metric> <value> <unit>` (see /work/shared/BENCH.md)
// and written to bench/results/<suite>.json; progress goes to stderr.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cpus } from 'node:os';
import type { BenchSuite } from './lib/suite.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const SUITES_DIR = join(BENCH_DIR, 'suites');
const RESULTS_DIR = join(BENCH_DIR, 'results');

const suiteNames = () => readdirSync(SUITES_DIR).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort();

/** Imports suites/<name>.ts; the file name is the suite's name, so one suite runs without loading the others. */
async function loadSuite(name: string): Promise<BenchSuite> {
  const mod = (await import(pathToFileURL(join(SUITES_DIR, `${name}.ts`)).href)) as { default?: BenchSuite };
  const suite = mod.default;
  if (!suite || suite.name !== name || typeof suite.run !== 'function') {
    throw new Error(`bench/suites/${name}.ts must export default { name: '${name}', summary, run }`);
  }
  return suite;
}

async function main(): Promise<number> {
  const known = suiteNames();
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    const suites = await Promise.all(known.map(loadSuite));
    console.log(`Usage: npm run bench [-- <suite>…]\n\nSuites:\n${suites.map((s) => `  ${s.name.padEnd(14)} ${s.summary}`).join('\n')}`);
    return 0;
  }
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((w) => !known.includes(w));
  if (unknown.length) {
    console.error(`bench: unknown suite ${unknown.join(', ')} (known: ${known.join(', ')})`);
    return 2;
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  let failed = 0;
  for (const name of wanted.length ? wanted : known) {
    const log = (line: string) => process.stderr.write(`[${name}] ${line}\n`);
    const started = Date.now();
    try {
      const suite = await loadSuite(name);
      const figures = await suite.run(log);
      for (const [metric, f] of Object.entries(figures)) console.log(`BENCH ${suite.name}.${metric} ${f.value} ${f.unit}`);
      writeFileSync(join(RESULTS_DIR, `${suite.name}.json`), `${JSON.stringify({
        suite: suite.name, at: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cpus: cpus().length,
        seconds: Math.round((Date.now() - started) / 100) / 10, figures,
      }, null, 2)}\n`);
    } catch (e) {
      failed++;
      console.error(`bench: suite ${name} failed:`, e);
    }
  }
  return failed ? 1 : 0;
}

process.exitCode = await main();
