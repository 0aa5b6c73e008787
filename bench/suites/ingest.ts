// ingest: Zigbee readings through the embedded broker into SQLite, sustained, with zero loss; and the bare broker's relay rate in the same run.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import mqtt from 'mqtt';
import { MQTT_PROTOCOL_VERSION, sendImmediately, topics, type EnvReadingPayload } from '../../contract/mqtt.js';
import { loadConfig, dbFile } from '../../server/config.js';
import { startShelfsense } from '../../server/main.js';
import { startBroker } from '../../server/mqtt/broker.js';
import { openDb } from '../../server/store/db.js';
import { rng, round } from '../lib/stats.js';
import { suiteWorker } from '../lib/worker.js';
import type { BenchSuite, Figures } from '../lib/suite.js';
import { env } from '../lib/suite.js';

const SITE = 'bench';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the publishers in the worker do: `gateways` connections, each with its own devices and at most `window` unacknowledged messages. */
interface PublishJob { url: string; topic: string; gateways: number; devicesPerGateway: number; window: number; seed: number }
interface PublishResult { published: number; acked: number; errors: number; firstErrors: string[]; unacked: string[]; seconds: number }
type FromWorker = { type: 'started' } | { type: 'done'; result: PublishResult } | { type: 'error'; error: string };

const gatewayId = (g: number) => `gw-${g + 1}`;
const deviceId = (g: number, d: number) => `${gatewayId(g)}-th-${String(d + 1).padStart(3, '0')}`;

/** One publisher run in a worker thread: `started` once every connection publishes, then `stop` ends it; resolves with what was published and acknowledged. */
class Publishers {
  private readonly worker: Worker;
  private readonly waiting = new Map<string, (m: FromWorker) => void>();
  private failure: Error | null = null;

  constructor(job: PublishJob) {
    this.worker = suiteWorker(import.meta.url, job);
    const fail = (e: Error) => { this.failure = e; for (const w of this.waiting.values()) w({ type: 'error', error: e.message }); };
    this.worker.on('message', (m: FromWorker) => {
      if (m.type === 'error') return fail(new Error(m.error));
      this.waiting.get(m.type)?.(m);
    });
    this.worker.once('error', fail);
    this.worker.once('exit', (code) => { if (code !== 0) fail(new Error(`publisher worker exited with ${code}`)); });
  }

  private next<T extends FromWorker['type']>(type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`publishers: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.set(type, (m) => {
        clearTimeout(timer);
        this.waiting.delete(type);
        if (m.type === 'error') reject(new Error(m.error)); else resolve(m as Extract<FromWorker, { type: T }>);
      });
    });
  }

  started() { return this.next('started', 30_000); }
  async stop(): Promise<PublishResult> {
    const done = this.next('done', 60_000);
    this.worker.postMessage('stop');
    const { result } = await done;
    await this.worker.terminate();
    return result;
  }
}

interface Probe { count: number; storeMs: number; batches: number }
interface Window {
  count: number; seconds: number; perSecond: number; slowestSlice: number; published: PublishResult;
  /** Share of the window this thread's event loop was busy, and the CPU time it used (ms; null off Linux). */
  loopBusy: number; cpuMs: number | null; storeMs: number; batches: number;
  /** Event-loop delay over the window (ms): what any other request on this thread waited at worst. */
  loopDelayP99: number; loopDelayMax: number;
}

/** CPU time (user + system) of this process's main thread so far, in ms, from /proc (null where there is none). */
function mainThreadCpuMs(): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
  } catch { return null; }
}

/**
 * Starts the publishers, lets them warm up, then counts what `probe()` reports over `seconds`, in
 * slices of `sliceS` (the slowest slice shows whether the rate holds). Then stops the publishers,
 * which wait for every PUBACK still outstanding.
 */
async function measure(job: PublishJob, probe: () => Probe, o: { warmupS: number; seconds: number; sliceS: number }, log: (l: string) => void, label: string): Promise<Window> {
  const pubs = new Publishers(job);
  await pubs.started();
  await sleep(o.warmupS * 1000);
  const p0 = probe(), t0 = performance.now(), elu0 = performance.eventLoopUtilization(), cpu0 = mainThreadCpuMs();
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const slices: number[] = [];
  let last = p0, lastT = t0;
  while (performance.now() - t0 < o.seconds * 1000 - 50) {
    await sleep(Math.min(o.sliceS * 1000, o.seconds * 1000 - (performance.now() - t0)));
    const p = probe(), t = performance.now();
    const rate = (p.count - last.count) / ((t - lastT) / 1000);
    if (t - lastT >= o.sliceS * 500) slices.push(rate); // a short tail slice says nothing about the rate
    log(`${label}: ${Math.round((t - t0) / 1000)} s, ${Math.round(rate)}/s`);
    last = p; lastT = t;
  }
  const cpu1 = mainThreadCpuMs();
  delay.disable();
  const elapsed = (lastT - t0) / 1000;
  const loopBusy = performance.eventLoopUtilization(elu0).utilization;
  const published = await pubs.stop();
  return {
    count: last.count - p0.count, seconds: elapsed, perSecond: (last.count - p0.count) / elapsed, slowestSlice: slices.length ? Math.min(...slices) : NaN, published,
    loopBusy, cpuMs: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0, storeMs: last.storeMs - p0.storeMs, batches: last.batches - p0.batches,
    loopDelayP99: delay.percentile(99) / 1e6, loopDelayMax: delay.max / 1e6,
  };
}

/** A site with `gateways` gateways, each with `perGateway` temperature/humidity sensors; one in ten is a zone's climate sensor (no actuators, so no commands). */
function buildSite(file: string, gateways: number, perGateway: number) {
  const db = openDb(file);
  const ts = new Date().toISOString();
  db.transaction(() => {
    db.prepare("INSERT INTO branch (id, name) VALUES ('main', 'Main library')").run();
    const zone = db.prepare("INSERT INTO zone (id, branch_id, name, profile) VALUES (?, 'main', ?, 'stacks')");
    const device = db.prepare("INSERT INTO device (id, kind, branch_id, zone_id, name, role, config, created_at) VALUES (?, ?, 'main', ?, ?, ?, ?, ?)");
    for (let g = 0; g < gateways; g++) {
      device.run(gatewayId(g), 'gateway', null, `gateway ${g + 1}`, null, '{}', ts);
      for (let d = 0; d < perGateway; d++) {
        // Every tenth sensor drives a zone's controller; the others log display cases and shelves.
        const zoneId = d % 10 === 0 ? `z-${g + 1}-${d / 10 + 1}` : null;
        if (zoneId) zone.run(zoneId, `stack ${zoneId}`);
        const id = deviceId(g, d);
        device.run(id, 'sensor', zoneId, `temperature/humidity ${id}`, 'climate', JSON.stringify({ gateway: gatewayId(g), z2mName: `main/${id}`, interval_s: 60 }), ts);
      }
    }
  }).immediate();
  db.close();
}

/** The bare broker for `seconds`: the same publishers and messages, one plain subscriber (QoS 1, as the server's link subscribes) in this thread beside the broker, as the server's link is; it only counts. */
async function bareBroker(job: (url: string) => PublishJob, o: { warmupS: number; seconds: number; sliceS: number }, log: (l: string) => void, label: string): Promise<Window> {
  const broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: 0 });
  const sub = sendImmediately(mqtt.connect(broker.url, { protocolVersion: MQTT_PROTOCOL_VERSION, clientId: `bench-relay-${randomUUID().slice(0, 8)}`, reconnectPeriod: 0 }));
  let received = 0;
  try {
    await new Promise<void>((resolve, reject) => { sub.once('connect', () => resolve()); sub.once('error', reject); });
    await sub.subscribeAsync(topics.envReading(SITE), { qos: 1 });
    sub.on('message', () => { received++; });
    const w = await measure(job(broker.url), () => ({ count: received, storeMs: 0, batches: 0 }), o, log, label);
    log(`${label}: ${Math.round(w.perSecond)} msg/s relayed over ${w.seconds.toFixed(1)} s`);
    return w;
  } finally {
    await sub.endAsync(true);
    await broker.close();
  }
}

/**
 * Sustained ingest as a site's gateways send it: 300 sensors on 4 gateways publish normalised
 * readings (temperature, humidity, battery, link quality; QoS 1) from a worker thread, each gateway
 * keeping at most BENCH_INGEST_WINDOW messages unacknowledged, so they publish as fast as the chain
 * absorbs. The server is startShelfsense itself on a fresh data directory (SQLite in WAL with its
 * checkpointer thread, the embedded aedes broker, the MQTT link, EnvironmentFeature batching into
 * ReadingStore). After the window the publishers stop, every outstanding PUBACK is awaited, and the
 * table must hold every acknowledged reading. The bare broker is measured in the same run, half
 * before and half after the server's window, so drift in the machine's load falls on both sides.
 */
const suite: BenchSuite = {
  name: 'ingest',
  summary: 'Zigbee readings (QoS 1) through the embedded broker into SQLite for 60 s with zero loss, against the bare broker relay rate',
  async run(log) {
    const seconds = env('BENCH_INGEST_SECONDS', 60);
    const brokerSeconds = env('BENCH_INGEST_BROKER_SECONDS', Math.min(seconds, 20));
    const warmupS = env('BENCH_INGEST_WARMUP_SECONDS', 3);
    const sliceS = env('BENCH_INGEST_SLICE_SECONDS', Math.min(10, seconds));
    const drainS = env('BENCH_INGEST_DRAIN_SECONDS', 15);
    const gateways = env('BENCH_INGEST_GATEWAYS', 4);
    const perGateway = env('BENCH_INGEST_DEVICES_PER_GATEWAY', 75);
    const window = env('BENCH_INGEST_WINDOW', 100);
    const seed = env('BENCH_SEED', 20260302);
    const job = (url: string): PublishJob => ({ url, topic: topics.envReading(SITE), gateways, devicesPerGateway: perGateway, window, seed });
    const half = { warmupS, seconds: brokerSeconds / 2, sliceS: Math.min(sliceS, brokerSeconds / 2) };

    const before = await bareBroker(job, half, log, 'bare broker (before)');

    const dir = mkdtempSync(join(tmpdir(), 'shelfsense-bench-ingest-'));
    const config = loadConfig({ dataDir: dir, site: SITE, http: { port: 0 }, mqtt: { port: 0, wsPort: 0 }, sip2: { enabled: false }, demo: { seed: false, devices: false } }, {});
    let server: { w: Window; lost: number; rows: number; drainS: number };
    let walRestarts = { count: 0, ms: 0 };
    try {
      buildSite(dbFile(config), gateways, perGateway);
      const running = await startShelfsense(config, { log: () => undefined });
      try {
        // Instrumentation only: counts what each batch stored and the time spent storing it.
        const store = running.environment.store;
        const ingest = store.ingest.bind(store);
        let stored = 0, batches = 0, storeMs = 0;
        store.ingest = (batch, now, zoneOf) => {
          const t = performance.now();
          const r = ingest(batch, now, zoneOf);
          storeMs += performance.now() - t;
          stored += r.accepted.length; batches++;
          return r;
        };
        // And the WAL restarts the checkpointer asks this connection for (db.ts), which run on this thread too.
        const pragma = running.db.pragma.bind(running.db);
        let truncates = 0, truncateMs = 0;
        running.db.pragma = ((source: string, options?: { simple?: boolean }) => {
          if (!/wal_checkpoint\(RESTART\)/i.test(source)) return pragma(source, options);
          const t = performance.now();
          try { return pragma(source, options); } finally { truncates++; truncateMs += performance.now() - t; }
        }) as typeof running.db.pragma;
        const w = await measure(job(running.mqttUrl), () => ({ count: stored, storeMs, batches }), { warmupS, seconds, sliceS }, log, 'ingest');
        walRestarts = { count: truncates, ms: truncateMs };
        // Drain: everything acknowledged must reach the table.
        const count = running.db.prepare('SELECT count(*) AS n FROM reading');
        const rows = () => (count.get() as { n: number }).n;
        const t0 = performance.now();
        while (rows() < w.published.published && performance.now() - t0 < drainS * 1000) await sleep(100);
        const total = rows();
        const unackedStored = w.published.unacked.length
          ? (running.db.prepare("SELECT count(*) AS n FROM reading JOIN json_each(?) u ON reading.event_id = u.value OR reading.event_id LIKE '%|' || u.value") // the store keeps '<at>|<id>'
            .get(JSON.stringify(w.published.unacked)) as { n: number }).n : 0;
        const lost = w.published.acked - (total - unackedStored);
        const mb = (x: string) => { try { return statSync(`${dbFile(config)}${x}`).size / 2 ** 20; } catch { return 0; } };
        log(`ingest: ${Math.round(w.perSecond)} readings/s stored over ${w.seconds.toFixed(1)} s; ${w.published.published} published, ${w.published.acked} acknowledged, ${total} rows, ${lost} lost, ${w.published.errors} publish errors`);
        log(`ingest: ${batches} batches, store ${((w.storeMs / 1000 / w.seconds) * 100).toFixed(0)} % of the window; database ${mb('').toFixed(0)} MB + WAL ${mb('-wal').toFixed(0)} MB`);
        server = { w, lost, rows: total, drainS: (performance.now() - t0) / 1000 };
      } finally {
        await running.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const after = await bareBroker(job, half, log, 'bare broker (after)');
    const relay = (before.count + after.count) / (before.seconds + after.seconds);
    const { w } = server;
    const relayCpu = before.cpuMs !== null && after.cpuMs !== null ? (before.cpuMs + after.cpuMs) / (before.count + after.count) : null;
    const serverCpu = w.cpuMs !== null ? w.cpuMs / w.count : null;
    const figures: Figures = {
      readings_per_s: { value: Math.round(w.perSecond), unit: 'readings/s' },
      lost: { value: server.lost, unit: 'readings' },
      broker_relay_per_s: { value: Math.round(relay), unit: 'msg/s' },
      ratio_to_broker: { value: round(w.perSecond / relay), unit: 'ratio' },
      readings_per_s_slowest_slice: { value: Math.round(w.slowestSlice), unit: 'readings/s' },
      broker_relay_per_s_before: { value: Math.round(before.perSecond), unit: 'msg/s' },
      broker_relay_per_s_after: { value: Math.round(after.perSecond), unit: 'msg/s' },
      published: { value: w.published.published, unit: 'readings' },
      acknowledged: { value: w.published.acked, unit: 'readings' },
      stored: { value: server.rows, unit: 'readings' },
      publish_errors: { value: w.published.errors, unit: 'count' },
      avg_batch: { value: Math.round(w.count / Math.max(1, w.batches)), unit: 'readings' },
      drain_s: { value: round(server.drainS), unit: 's' },
      store_pct_of_window: { value: round((w.storeMs / 1000 / w.seconds) * 100), unit: '%' },
      store_us_per_reading: { value: round((w.storeMs * 1000) / Math.max(1, w.count)), unit: 'µs' },
      wal_restarts: { value: walRestarts.count, unit: 'count' },
      wal_restart_ms_total: { value: round(walRestarts.ms), unit: 'ms' },
      server_loop_busy_pct: { value: round(w.loopBusy * 100), unit: '%' },
      server_loop_delay_p99_ms: { value: round(w.loopDelayP99), unit: 'ms' },
      server_loop_delay_max_ms: { value: round(w.loopDelayMax), unit: 'ms' },
      broker_loop_busy_pct: { value: round(((before.loopBusy * before.seconds + after.loopBusy * after.seconds) / (before.seconds + after.seconds)) * 100), unit: '%' },
    };
    if (serverCpu !== null && relayCpu !== null) {
      // Main-thread CPU per message: less sensitive than rates to what else runs on the machine.
      figures.server_cpu_us_per_reading = { value: round(serverCpu * 1000), unit: 'µs' };
      figures.broker_cpu_us_per_msg = { value: round(relayCpu * 1000), unit: 'µs' };
      figures.cpu_ratio_to_broker = { value: round(relayCpu / serverCpu), unit: 'ratio' };
    }
    return figures;
  },
};
export default suite;

// ---- the publishers, in the worker --------------------------------------------------------------

/** Gateways publishing normalised readings (EnvReadingPayload, QoS 1, a random UUID each, as z2m-source makes them), each with at most `window` unacknowledged. */
async function publish(job: PublishJob): Promise<void> {
  const random = rng(job.seed);
  let stopping = false;
  const started = performance.now();
  const result: PublishResult = { published: 0, acked: 0, errors: 0, firstErrors: [], unacked: [], seconds: 0 };
  const lanes = await Promise.all(Array.from({ length: job.gateways }, async (_, g) => {
    const client = sendImmediately(mqtt.connect(job.url, { protocolVersion: MQTT_PROTOCOL_VERSION, clientId: `bench-${gatewayId(g)}-${randomUUID().slice(0, 8)}`, reconnectPeriod: 0 }));
    await new Promise<void>((resolve, reject) => { client.once('connect', () => resolve()); client.once('error', reject); });
    // Each sensor drifts around its own climate; battery and link quality as zigbee2mqtt reports them.
    const devices = Array.from({ length: job.devicesPerGateway }, (_, d) => ({
      id: deviceId(g, d), t: 18 + random() * 4, rh: 45 + random() * 10, battery: 60 + Math.floor(random() * 40), lq: 40 + Math.floor(random() * 200),
    }));
    const inflight = new Set<string>();
    let next = 0, closed = false;
    let idle: (() => void) | null = null;
    const send = () => {
      const d = devices[next++ % devices.length]!;
      d.t += (random() - 0.5) * 0.1; d.rh += (random() - 0.5) * 0.4;
      const p: EnvReadingPayload = {
        id: randomUUID(), ts: new Date().toISOString(), gatewayId: gatewayId(g), deviceId: d.id, source: 'zigbee2mqtt',
        values: { temperature: Math.round(d.t * 100) / 100, humidity: Math.round(d.rh * 10) / 10, battery: d.battery, linkquality: (d.lq + next) % 256 },
      };
      inflight.add(p.id);
      result.published++;
      client.publish(job.topic, JSON.stringify(p), { qos: 1 }, (err) => {
        if (closed) return; // given up on at stop: already counted unacknowledged
        inflight.delete(p.id);
        if (err) { result.errors++; result.unacked.push(p.id); if (result.firstErrors.length < 3) result.firstErrors.push(err.message); } else result.acked++;
        if (!stopping) pump(); else if (inflight.size === 0) idle?.();
      });
    };
    const pump = () => { while (!stopping && inflight.size < job.window) send(); };
    return {
      start: pump,
      /** Stops publishing and waits for the PUBACKs still outstanding (what never comes is counted unacknowledged). */
      async stop() {
        if (inflight.size) await Promise.race([new Promise<void>((r) => { idle = r; }), sleep(30_000)]);
        closed = true;
        result.unacked.push(...inflight);
        await client.endAsync(true);
      },
    };
  }));
  parentPort!.once('message', async () => {
    stopping = true;
    await Promise.all(lanes.map((l) => l.stop()));
    result.seconds = (performance.now() - started) / 1000;
    parentPort!.postMessage({ type: 'done', result });
  });
  for (const l of lanes) l.start();
  parentPort!.postMessage({ type: 'started' });
}

if (!isMainThread && (workerData as { job?: PublishJob })?.job) {
  publish((workerData as { job: PublishJob }).job).catch((e: unknown) => parentPort!.postMessage({ type: 'error', error: e instanceof Error ? e.stack ?? e.message : String(e) }));
}
