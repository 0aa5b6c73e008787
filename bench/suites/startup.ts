// startup: `shelfsense start` (what `npm start` runs) on an existing data directory until HTTP answers.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type AddressInfo } from 'node:net';
import type { BenchSuite } from '../lib/suite.js';
import { median, round } from '../lib/stats.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const WARM_RUNS = 5;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Starts the system, polls /api/v1/health until it answers 200, stops it; returns seconds to ready. */
async function timeStart(dataDir: string): Promise<number> {
  const [http, mqtt, ws] = [await freePort(), await freePort(), await freePort()];
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(ROOT, 'bin/shelfsense.mjs'), 'start'], {
    cwd: ROOT,
    env: { ...process.env, SHELFSENSE_DATA_DIR: dataDir, SHELFSENSE_HTTP_PORT: String(http), SHELFSENSE_MQTT_PORT: String(mqtt), SHELFSENSE_MQTT_WS_PORT: String(ws), SHELFSENSE_SIP2_PORT: '0' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let exited = false;
  child.once('exit', () => { exited = true; });
  try {
    for (;;) {
      if (exited) throw new Error('shelfsense start exited before HTTP answered');
      if (performance.now() - t0 > 120_000) throw new Error('HTTP did not answer within 120 s');
      try {
        const res = await fetch(`http://127.0.0.1:${http}/api/v1/health`);
        if (res.ok) return (performance.now() - t0) / 1000;
      } catch { /* not listening yet */ }
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    if (!exited) {
      await new Promise<void>((r) => { child.once('exit', () => r()); child.kill('SIGTERM'); });
    }
  }
}

const suite: BenchSuite = {
  name: 'startup',
  summary: '`shelfsense start` until HTTP answers: first start (seeds the demo) and warm starts',
  async run(log) {
    const dataDir = mkdtempSync(join(tmpdir(), 'shelfsense-startup-'));
    try {
      const cold = await timeStart(dataDir);
      log(`first start (with demo seed): ${cold.toFixed(2)} s`);
      const warm: number[] = [];
      for (let i = 0; i < WARM_RUNS; i++) {
        warm.push(await timeStart(dataDir));
        log(`warm start ${i + 1}/${WARM_RUNS}: ${warm.at(-1)!.toFixed(2)} s`);
      }
      return {
        warm_s: { value: round(median(warm), 3), unit: 's' },
        warm_max_s: { value: round(Math.max(...warm), 3), unit: 's' },
        cold_seed_s: { value: round(cold, 3), unit: 's' },
      };
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};
export default suite;
