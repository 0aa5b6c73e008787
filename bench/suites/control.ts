// control: a climate reading that crosses the band, published on MQTT, to the zigbee.set command arriving at the gateway.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { topics, type EnvReadingPayload } from '../../contract/mqtt.js';
import { Gateway } from '../../gateway/gateway.js';
import { fixedClock } from '../../server/clock.js';
import { loadConfig, dbFile } from '../../server/config.js';
import { DEFAULT_TIMING } from '../../server/environment/controller.js';
import { resolveProfile } from '../../server/environment/profiles.js';
import { startShelfsense } from '../../server/main.js';
import { openDb } from '../../server/store/db.js';
import { median, percentile, round } from '../lib/stats.js';
import { suiteWorker } from '../lib/worker.js';
import type { BenchSuite, Figures } from '../lib/suite.js';
import { env } from '../lib/suite.js';

const SITE = 'bench';
const GATEWAY = 'gw-bench';
const ZONE = 'main-stacks';
const SENSOR = `${ZONE}-climate`;
const AC = `${ZONE}-ac`;
const START = Date.parse('2026-03-02T02:00:00.000Z');
/** One time base for both threads: performance.now() of each thread counts from its own origin. */
const stamp = () => performance.timeOrigin + performance.now();

interface GatewayJob { url: string }
/** main → worker: publish one reading; worker → main: when it was published and when its command arrived. */
type ToWorker = { type: 'read'; n: number; ts: string; temperature: number } | { type: 'stop' };
type FromWorker = { type: 'ready' } | { type: 'command'; n: number; publishedAt: number; arrivedAt: number; deviceId: unknown; payload: unknown } | { type: 'error'; error: string };

/** The gateway in a worker thread: the real Gateway class (presence, commands answered on the response topic), answering zigbee.set with ok. */
class GatewayThread {
  private readonly worker: Worker;
  private readonly queue: FromWorker[] = [];
  private wake: (() => void) | null = null;
  private failure: Error | null = null;

  constructor(job: GatewayJob) {
    this.worker = suiteWorker(import.meta.url, job);
    const fail = (e: Error) => { this.failure ??= e; this.wake?.(); };
    this.worker.on('message', (m: FromWorker) => { if (m.type === 'error') fail(new Error(m.error)); else { this.queue.push(m); this.wake?.(); } });
    this.worker.once('error', fail);
    this.worker.once('exit', (code) => { if (code !== 0) fail(new Error(`gateway worker exited with ${code}`)); });
  }

  send(m: ToWorker) { this.worker.postMessage(m); }

  async next(timeoutMs: number): Promise<FromWorker> {
    const deadline = Date.now() + timeoutMs;
    while (!this.queue.length) {
      if (this.failure) throw this.failure;
      if (Date.now() > deadline) throw new Error(`gateway worker: nothing within ${timeoutMs} ms`);
      await new Promise<void>((r) => { this.wake = r; setTimeout(r, Math.max(1, deadline - Date.now())); });
      this.wake = null;
    }
    return this.queue.shift()!;
  }

  async stop() {
    this.send({ type: 'stop' });
    await new Promise((r) => setTimeout(r, 100));
    await this.worker.terminate();
  }
}

/** Branch main with a stacks zone: its climate sensor and its air conditioning behind gateway gw-bench. */
function buildSite(file: string) {
  const db = openDb(file);
  const ts = new Date(START).toISOString();
  db.transaction(() => {
    db.prepare("INSERT INTO branch (id, name) VALUES ('main', 'Main library')").run();
    db.prepare("INSERT INTO zone (id, branch_id, name, profile) VALUES (?, 'main', 'Stacks', 'stacks')").run(ZONE);
    const device = db.prepare("INSERT INTO device (id, kind, branch_id, zone_id, name, role, config, created_at) VALUES (?, ?, 'main', ?, ?, ?, ?, ?)");
    device.run(GATEWAY, 'gateway', null, 'bench gateway', null, '{}', ts);
    // Reports hourly as far as staleness goes: the clock jumps between crossings, and the sensor must not go stale in the jump.
    device.run(SENSOR, 'sensor', ZONE, 'temperature/humidity', 'climate', JSON.stringify({ gateway: GATEWAY, z2mName: 'main/stacks/climate', interval_s: 3600 }), ts);
    device.run(AC, 'actuator', ZONE, 'air conditioning', 'ac', JSON.stringify({ gateway: GATEWAY, z2mName: 'main/stacks/ac' }), ts);
  }).immediate();
  db.close();
}

/**
 * Reading in → command out, through the whole chain: the zone's climate sensor reading is published
 * (QoS 1) by a gateway client in a worker thread on topics.envReading, as the gateway's Zigbee source
 * publishes it; the server (startShelfsense: embedded broker, MQTT link, EnvironmentFeature, ReadingStore
 * on SQLite in WAL) stores it, its ZoneController decides, the command is logged and sent as
 * `zigbee.set`; latency runs until that command arrives at the gateway (the real Gateway class, which
 * then answers ok). Readings alternate hot (above the stacks band) and cool (below it less the
 * hysteresis), so every reading is a crossing and must give one command, ON then OFF. The controller
 * keeps its real minimum on/off times (3 and 5 min): the server runs on a fixed clock, moved on 6 minutes
 * before each crossing, and each reading carries that time. One crossing at a time: the next starts once
 * the gateway's answer is logged.
 */
const suite: BenchSuite = {
  name: 'control',
  summary: 'climate reading across the band published on MQTT → controller → zigbee.set at the gateway: p50/p99 over 1,000 crossings',
  async run(log) {
    const crossings = env('BENCH_CONTROL_CROSSINGS', 1000);
    const warmup = env('BENCH_CONTROL_WARMUP', 50);
    const step = Math.max(DEFAULT_TIMING.ac.minOnMs, DEFAULT_TIMING.ac.minOffMs) + 60_000;
    const band = resolveProfile('stacks').temperature;
    const hot = band.max + 3, cool = band.max - 3; // 27 °C above 24, 21 °C below 24 − 0.5
    const dir = mkdtempSync(join(tmpdir(), 'shelfsense-bench-control-'));
    const config = loadConfig({ dataDir: dir, site: SITE, http: { port: 0 }, mqtt: { port: 0, wsPort: 0 }, sip2: { enabled: false }, demo: { seed: false, devices: false } }, {});
    const clock = fixedClock(new Date(START));
    let gateway: GatewayThread | null = null;
    try {
      buildSite(dbFile(config));
      const running = await startShelfsense(config, { clock, log: () => undefined });
      try {
        // Instrumentation only: when the server began storing the batch that held the reading, and when it sent the command.
        let flushStarted = 0, commandSent = 0;
        const flush = running.environment.flush.bind(running.environment);
        running.environment.flush = () => { if (flushStarted === 0) flushStarted = stamp(); return flush(); };
        const command = running.link.command.bind(running.link);
        running.link.command = ((gw: string, name: Parameters<typeof command>[1], params?: Record<string, unknown>, timeout?: number) => {
          if (name === 'zigbee.set' && commandSent === 0) commandSent = stamp();
          return command(gw, name, params, timeout);
        }) as typeof command;

        gateway = new GatewayThread({ url: running.mqttUrl });
        const ready = await gateway.next(30_000);
        if (ready.type !== 'ready') throw new Error(`gateway worker: expected ready, got ${ready.type}`);
        // The controller starts with the AC's state unknown: the first reading (cool) switches it OFF; then every reading crosses.
        const total: number[] = [], toServer: number[] = [], inServer: number[] = [], toGateway: number[] = [];
        let wrong = 0;
        for (let n = 0; n < warmup + crossings; n++) {
          clock.advance(step);
          const isHot = n % 2 === 1;
          flushStarted = 0; commandSent = 0;
          gateway.send({ type: 'read', n, ts: clock.now().toISOString(), temperature: isHot ? hot : cool });
          const m = await gateway.next(10_000);
          if (m.type !== 'command' || m.n !== n) throw new Error(`crossing ${n}: expected its command, got ${JSON.stringify(m).slice(0, 200)}`);
          const state = (m.payload as { state?: string } | null)?.state;
          if (m.deviceId !== AC || state !== (isHot ? 'ON' : 'OFF')) wrong++;
          await running.environment.settled(); // the gateway's answer is logged before the next crossing
          if (n < warmup) continue;
          total.push(m.arrivedAt - m.publishedAt);
          if (flushStarted && commandSent) {
            toServer.push(flushStarted - m.publishedAt); inServer.push(commandSent - flushStarted); toGateway.push(m.arrivedAt - commandSent);
          }
          if ((n - warmup + 1) % 250 === 0) log(`${n - warmup + 1} crossings: p50 ${median(total).toFixed(2)} ms, p99 ${percentile(total, 99).toFixed(2)} ms`);
        }
        const logged = running.environment.commands({ deviceId: AC, limit: warmup + crossings + 10 });
        const failed = logged.filter((c) => c.result !== 'ok').length;
        if (logged.length !== warmup + crossings) throw new Error(`${logged.length} commands logged for ${warmup + crossings} crossings`);
        if (wrong || failed) throw new Error(`${wrong} commands not as expected, ${failed} not answered ok`);
        const figures: Figures = {
          p50_ms: { value: round(median(total)), unit: 'ms' },
          p99_ms: { value: round(percentile(total, 99)), unit: 'ms' },
          max_ms: { value: round(Math.max(...total)), unit: 'ms' },
          crossings: { value: total.length, unit: 'crossings' },
        };
        // Where the time goes (medians): publish → the server starts storing the batch; storing, deciding and logging → zigbee.set sent; → at the gateway.
        if (toServer.length) {
          figures.p50_ms_to_store = { value: round(median(toServer)), unit: 'ms' };
          figures.p50_ms_store_decide = { value: round(median(inServer)), unit: 'ms' };
          figures.p50_ms_to_gateway = { value: round(median(toGateway)), unit: 'ms' };
          figures.p99_ms_to_store = { value: round(percentile(toServer, 99)), unit: 'ms' };
        }
        return figures;
      } finally {
        await gateway?.stop();
        await running.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default suite;

// ---- the gateway, in the worker -----------------------------------------------------------------

async function runGateway(job: GatewayJob): Promise<void> {
  const gw = new Gateway({ site: SITE, gatewayId: GATEWAY, mqttUrl: job.url, version: 'bench' });
  let current: { n: number; publishedAt: number } | null = null;
  gw.handle('zigbee.set', (params) => {
    const arrivedAt = stamp();
    if (current) parentPort!.postMessage({ type: 'command', n: current.n, publishedAt: current.publishedAt, arrivedAt, deviceId: params.deviceId, payload: params.payload });
    current = null;
    return { deviceId: params.deviceId };
  });
  await gw.start();
  parentPort!.on('message', (m: ToWorker) => {
    if (m.type === 'stop') { void gw.stop(); return; }
    const reading: EnvReadingPayload = {
      id: `bench-${m.n}-${Math.random().toString(36).slice(2, 10)}`, ts: m.ts, gatewayId: GATEWAY, deviceId: SENSOR, source: 'zigbee2mqtt',
      values: { temperature: m.temperature, humidity: 52, battery: 90, linkquality: 120 },
    };
    const payload = JSON.stringify(reading);
    current = { n: m.n, publishedAt: stamp() };
    gw.mqtt!.publish(topics.envReading(SITE), payload, { qos: 1 });
  });
  parentPort!.postMessage({ type: 'ready' });
}

if (!isMainThread && (workerData as { job?: GatewayJob })?.job) {
  runGateway((workerData as { job: GatewayJob }).job).catch((e: unknown) => parentPort!.postMessage({ type: 'error', error: e instanceof Error ? e.stack ?? e.message : String(e) }));
}
