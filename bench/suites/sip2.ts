import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { openDb, startCheckpointer } from '../../server/store/db.js';
import { Circulation } from '../../server/circulation/circulation.js';
import type { Clock } from '../../server/clock.js';
import { startSip2Server } from '../../server/sip2/server.js';
import type { Sip2Account } from '../../server/sip2/account.js';
import { sipDate } from '../../server/sip2/fields.js';
import { SipClient, withChecksum } from '../../test/server/sip2/helpers.js';
import { runFuzz, validMessages } from '../../test/server/sip2/fuzz.js';
import { buildLibrary } from '../lib/library-data.js';
import { median, percentile } from '../lib/stats.js';
import { suiteWorker } from '../lib/worker.js';
import type { BenchSuite, Figures } from '../lib/suite.js';
import { env } from '../lib/suite.js';

const SIZE = { records: 40_000, items: 100_000, patrons: 20_000, openLoans: 10_000 };
const START = Date.parse('2026-03-02T02:00:00.000Z'); // Monday 10:00 in the library's time zone
const TZ = 'Asia/Shanghai';
const ACCOUNT: Sip2Account = { login: 'bench-kiosk', password: 'bench-secret', institutionId: 'SHELF', branchId: 'main' };

interface LoadJob { kind: 'load'; port: number; offsetMs: number; warmupMs: number; durationMs: number; lanes: { card: string; barcodes: string[] }[] }
interface FuzzJob { kind: 'fuzz'; port: number; count: number; seed: number; card: string; barcode: string }
interface LoadResult { messages: number; seconds: number; latenciesMs: Float64Array; errors: number; firstErrors: string[] }

/**
 * SIP2 under load, as third-party kiosks use it: each connection logs in and loops checkout → checkin
 * over items of its own, with error detection on, against a 100,000-item library written durably
 * (WAL, synchronous NORMAL, every loan in its own transaction with a client transaction id). The
 * clients run in a worker thread so they do not share the server's event loop. Then a million fuzz
 * inputs, with a valid probe every 250 that must be answered.
 */
const suite: BenchSuite = {
  name: 'sip2',
  summary: 'SIP2 checkout/checkin loops at 1, 10 and 50 connections over loopback (100k items), and 1M fuzz inputs',
  async run(log) {
    const seed = env('BENCH_SEED', 20260302);
    const rounds = env('BENCH_ROUNDS', 3);
    const seconds = env('BENCH_SIP2_SECONDS', 8);
    const fuzzCount = env('BENCH_SIP2_FUZZ', 1_000_000);
    const dir = mkdtempSync(join(tmpdir(), 'shelfsense-bench-sip2-'));
    // The server's store: WAL, synchronous NORMAL, checkpoints in a worker thread.
    const db = openDb(join(dir, 'library.db'), { autoCheckpoint: false });
    const checkpointer = startCheckpointer(join(dir, 'library.db'), { writer: db });
    const offsetMs = START - Date.now();
    const clock: Clock = { now: () => new Date(Date.now() + offsetMs) }; // real time, moved to the library's test Monday
    let server: Awaited<ReturnType<typeof startSip2Server>> | null = null;
    try {
      const t0 = performance.now();
      const lib = buildLibrary(db, seed, SIZE, new Date(START));
      log(`built ${SIZE.items} items, ${SIZE.patrons} patrons in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const circulation = new Circulation(db, clock);
      server = await startSip2Server({ db, circulation, accounts: [ACCOUNT], host: '127.0.0.1', port: 0, clock, log });

      // Items lent and returned at their home branch (main), so each pair leaves the library as it found it.
      const items = lib.lendable.filter((i) => i.home_branch === 'main').map((i) => i.barcode);
      const readers = lib.patrons.map((p) => p.card_number);
      const figures: Figures = {};

      // The ceiling, in the same run: the same pairs straight through the circulation core (its group commit,
      // 50 callers), no SIP2, no sockets.
      const reserved = items.splice(-3000);
      const coreRates: number[] = [];
      for (let r = 0; r < rounds; r++) coreRates.push(await coreOpsPerSecond(circulation, reserved, readers, seconds / 2));
      const coreOps = median(coreRates);
      log(`circulation core alone: ${coreRates.map(Math.round).join(', ')} ops/s`);
      figures.core_ops_per_s = { value: Math.round(coreOps), unit: 'ops/s' };
      const counts = (process.env.BENCH_SIP2_CONNECTIONS ?? '50,10,1').split(',').map(Number);
      for (const connections of counts) {
        const per = Math.floor(items.length / connections);
        const lanes = Array.from({ length: connections }, (_, i) => ({ card: readers[(i * 97) % readers.length]!, barcodes: items.slice(i * per, (i + 1) * per) }));
        const results: LoadResult[] = [];
        for (let r = 0; r < rounds; r++) {
          // Every round continues where the last left off in each lane: no item is lent twice in one second.
          const rotated = lanes.map((l) => ({ ...l, barcodes: [...l.barcodes.slice(r * 1000), ...l.barcodes.slice(0, r * 1000)] }));
          const res = await inWorker<LoadResult>({ kind: 'load', port: server.port, offsetMs, warmupMs: 1500, durationMs: seconds * 1000, lanes: rotated });
          if (res.errors) log(`${connections} connections: ${res.errors} unexpected answers, e.g. ${res.firstErrors.join(' / ')}`);
          results.push(res);
          const lat = Array.from(res.latenciesMs);
          log(`${connections} connections, round ${r + 1}/${rounds}: ${Math.round(res.messages / res.seconds)} msg/s, p50 ${percentile(lat, 50).toFixed(2)} ms, p99 ${percentile(lat, 99).toFixed(2)} ms`);
        }
        const suffix = connections === 50 ? '' : `_${connections}`;
        const ms = (x: number) => Math.round(x * 1000) / 1000;
        figures[`msgs_per_s${suffix}`] = { value: Math.round(median(results.map((x) => x.messages / x.seconds))), unit: 'msg/s' };
        figures[`p50_ms${suffix}`] = { value: ms(median(results.map((x) => percentile(Array.from(x.latenciesMs), 50)))), unit: 'ms' };
        figures[`p99_ms${suffix}`] = { value: ms(median(results.map((x) => percentile(Array.from(x.latenciesMs), 99)))), unit: 'ms' };
        figures[`errors${suffix}`] = { value: results.reduce((n, x) => n + x.errors, 0), unit: 'count' };
      }
      figures.ratio_to_core = { value: Math.round((figures.msgs_per_s!.value / coreOps) * 100) / 100, unit: 'ratio' };

      const fuzzLib = { card: readers[1]!, barcode: items[0]! };
      const before = server.stats().internalErrors;
      const t1 = performance.now();
      let hung = 0;
      try {
        await inWorker({ kind: 'fuzz', port: server.port, count: fuzzCount, seed, ...fuzzLib });
      } catch (e) {
        hung = 1;
        log(`fuzz: ${(e as Error).message}`);
      }
      const stats = server.stats();
      log(`fuzz: ${fuzzCount} inputs in ${((performance.now() - t1) / 1000).toFixed(1)} s; ${stats.malformed} malformed, ${stats.checksumErrors} bad checksums, ${stats.internalErrors - before} internal errors`);
      figures.fuzz_inputs = { value: fuzzCount, unit: 'inputs' };
      figures.fuzz_crashes = { value: stats.internalErrors - before + hung, unit: 'count' };
      return figures;
    } finally {
      await server?.close();
      await checkpointer.stop();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default suite;

/**
 * Checkout+checkin pairs straight through the core for `seconds`, as the SIP2 handlers call it: 50
 * callers at once through the core's group commit, each over barcodes of its own. Operations per second.
 */
async function coreOpsPerSecond(circ: Circulation, barcodes: string[], readers: string[], seconds: number): Promise<number> {
  const ctx = { channel: 'sip2' as const, branchId: 'main', actor: 'bench-core' };
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  const lanes = 50;
  const per = Math.floor(barcodes.length / lanes);
  let ops = 0;
  await Promise.all(Array.from({ length: lanes }, async (_, lane) => {
    for (let i = 0; performance.now() < until; i++) {
      const barcode = barcodes[lane * per + (i % per)]!;
      const id = `core-${process.pid}-${Date.now()}-${lane}-${i}`;
      const out = await circ.write(() => circ.checkout({ cardNumber: readers[lane]! }, { barcode }, { ...ctx, txnId: `${id}-o` }));
      const back = await circ.write(() => circ.checkin({ barcode }, { ...ctx, txnId: `${id}-i` }));
      if (!out.ok || !back.ok) throw new Error(`core pair refused: ${JSON.stringify(out.ok ? back : out).slice(0, 200)}`);
      ops += 2;
    }
  }));
  return ops / ((performance.now() - started) / 1000);
}

/** Runs a client job in a worker thread that loads this file through tsx, as bench/run.ts does. */
function inWorker<T>(job: LoadJob | FuzzJob): Promise<T> {
  const worker = suiteWorker(import.meta.url, job);
  return new Promise<T>((resolve, reject) => {
    worker.once('message', (m: { ok: true; result: T } | { ok: false; error: string }) => {
      void worker.terminate();
      if (m.ok) resolve(m.result); else reject(new Error(m.error));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => { if (code !== 0) reject(new Error(`bench worker exited with ${code}`)); });
  });
}

// ---- the client side, in the worker -----------------------------------------------------------

async function load(job: LoadJob): Promise<LoadResult> {
  let second = -1;
  let stamp = '';
  const date = () => {
    const now = Date.now() + job.offsetMs;
    if (Math.floor(now / 1000) !== second) { second = Math.floor(now / 1000); stamp = sipDate(new Date(now), TZ); }
    return stamp;
  };
  const started = performance.now();
  const measureFrom = started + job.warmupMs;
  const stopAt = measureFrom + job.durationMs;
  const latencies: number[] = [];
  let messages = 0;
  let errors = 0;
  const firstErrors: string[] = [];

  const lane = async (l: LoadJob['lanes'][number]) => {
    const c = await SipClient.connect(job.port);
    let seq = 0;
    const send = async (message: string, expect: string) => {
      const t = performance.now();
      c.write(`${withChecksum(message, seq++ % 10)}\r`);
      const answer = await c.next(30_000);
      const done = performance.now();
      if (t >= measureFrom && done <= stopAt) { latencies.push(done - t); messages++; }
      if (!answer.startsWith(expect)) { errors++; if (firstErrors.length < 3) firstErrors.push(answer.slice(0, 120)); }
    };
    await send(`9300CN${ACCOUNT.login}|CO${ACCOUNT.password}|CPmain|`, '941');
    for (let i = 0; performance.now() < stopAt; i = (i + 1) % l.barcodes.length) {
      const barcode = l.barcodes[i]!;
      await send(`11YN${date()}${' '.repeat(18)}AOSHELF|AA${l.card}|AB${barcode}|AC|`, '121');
      await send(`09N${date()}${date()}APmain|AOSHELF|AB${barcode}|AC|`, '101');
    }
    c.destroy();
  };
  await Promise.all(job.lanes.map(lane));
  return { messages, seconds: job.durationMs / 1000, latenciesMs: Float64Array.from(latencies), errors, firstErrors };
}

async function fuzz(job: FuzzJob): Promise<object> {
  return runFuzz({ port: job.port, account: ACCOUNT, count: job.count, seed: job.seed, valid: validMessages(job.card, job.barcode, ACCOUNT) });
}

if (!isMainThread && (workerData as { job?: LoadJob | FuzzJob })?.job) {
  const job = (workerData as { job: LoadJob | FuzzJob }).job;
  (job.kind === 'load' ? load(job) : fuzz(job))
    .then((result) => parentPort!.postMessage({ ok: true, result }))
    .catch((e: unknown) => parentPort!.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) }));
}
