// crm: the patron CRM's numerics. Subject clusters measured on the real Lib-SibGMU log (quality), the
// k-means against ml-kmeans on the same 100k × 22 matrix, and the whole segmentation at 100k patrons.
// Each part is one function returning its figures, so further CRM figures are one more function.
import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../server/store/db.js';
import { buildCrmLibrary, profileLatency, recomputeInChild } from '../lib/crm-scale.js';
import { kmeans as mlKmeans, kmeansGenerator } from 'ml-kmeans';
import { CLC_CLASSES } from '../../server/catalogue/classification.js';
import { loadSibgmuLog, type LogLoan } from '../../server/crm/sibgmu.js';
import { FeatureBuilder, dayOf, type PatronFeatures } from '../../server/crm/segmentation/features.js';
import { assignNearest, kmeans, kmeansPlusPlus, lloyd } from '../../server/crm/segmentation/kmeans.js';
import { takeLabels, takeRows, type Matrix } from '../../server/crm/segmentation/matrix.js';
import { measureSegmentationQuality } from '../../server/crm/segmentation/quality.js';
import { segmentPatrons, type Segmentation } from '../../server/crm/segmentation/segment.js';
import { fitTree } from '../../server/crm/segmentation/tree.js';
import { Random } from '../../server/seed/random.js';
import { median, round } from '../lib/stats.js';
import type { BenchSuite, Figures } from '../lib/suite.js';
import { env } from '../lib/suite.js';

type Log = (line: string) => void;
const NOW_DAY = dayOf('2026-03-02');

/**
 * `patrons` patrons shaped on the real log: each copies a real reader's subject mix and scales its
 * loan count so the library has about `loansPerPatron` loans a patron (BENCH.md's 100k patrons hold
 * 5M loans); 3 % of loans fall on a CLC class drawn uniformly, so all 22 columns are used; tenures of
 * 1–2,000 days end up to 400 days before now, so every engagement tier occurs.
 */
export function syntheticFeatures(realLog: readonly LogLoan[], patrons: number, loansPerPatron: number, seed: number): { features: PatronFeatures; loans: number } {
  const byReader = new Map<string, string[]>();
  for (const l of realLog) {
    const classes = byReader.get(l.reader);
    if (classes) classes.push(l.clc); else byReader.set(l.reader, [l.clc]);
  }
  const readers = [...byReader.values()];
  const scale = loansPerPatron / (realLog.length / readers.length);
  const random = new Random(seed), builder = new FeatureBuilder();
  let loans = 0;
  for (let p = 0; p < patrons; p++) {
    const mix = random.pick(readers), count = Math.max(1, Math.round(mix.length * scale));
    const last = NOW_DAY - random.int(0, 400), first = last - random.int(1, 2000);
    for (let i = 0; i < count; i++) builder.add(`P${p}`, random.chance(0.03) ? random.pick(CLC_CLASSES) : random.pick(mix), random.int(first, last));
    loans += count;
  }
  return { features: builder.build(NOW_DAY), loans };
}

/** Subject clusters on the real log: silhouette, bootstrap stability, tree fidelity, k, smallest cluster. */
export function subjectQuality(realLog: readonly LogLoan[], seed: number, log: Log): Figures {
  const q = measureSegmentationQuality(realLog, { seed });
  for (const c of q.segmentation.clusters) log(`cluster ${c.id} "${c.en}": ${c.size} patrons (${(c.share * 100).toFixed(1)} %); ${c.rules.join(' | ')}`);
  log(`k by silhouette: ${q.segmentation.quality.candidates.map((c) => `${c.k}→${c.silhouette.toFixed(3)}${c.rejected ? ' (rejected)' : ''}`).join(', ')}`);
  return {
    silhouette: { value: round(q.silhouette), unit: 'silhouette' },
    stability_ari: { value: round(q.stability_ari), unit: 'ARI' },
    tree_fidelity: { value: round(q.tree_fidelity), unit: 'share' },
    k: { value: q.k, unit: 'clusters' },
    smallest_segment_share: { value: round(q.smallest_share), unit: 'share' },
  };
}

/** Lloyd's iterations without bounds: every row against every centroid, then every mean; the plain typed-array loop. */
function plainLloyd(x: Matrix, initial: Float64Array, k: number, iterations: number): void {
  const centroids = Float64Array.from(initial), labels = new Int32Array(x.rows).fill(-1);
  const sums = new Float64Array(k * x.cols), sizes = new Int32Array(k);
  for (let it = 0; it < iterations; it++) {
    assignNearest(x, centroids, k, labels);
    sums.fill(0); sizes.fill(0);
    for (let i = 0, off = 0; i < x.rows; i++, off += x.cols) {
      const co = labels[i]! * x.cols;
      sizes[labels[i]!]!++;
      for (let j = 0; j < x.cols; j++) sums[co + j]! += x.data[off + j]!;
    }
    for (let c = 0; c < k; c++) for (let j = 0; j < x.cols; j++) centroids[c * x.cols + j] = sums[c * x.cols + j]! / sizes[c]!;
  }
}

/**
 * Ours against ml-kmeans on the same matrix, k = 8: per iteration from the same k-means++ centroids
 * (ours with Hamerly's bounds, ours without, ml-kmeans), and a whole fit from each one's own
 * k-means++ seeding to convergence (each library's default tolerance).
 */
export function kmeansVsMlKmeans(features: PatronFeatures, seed: number, rounds: number, log: Log): Figures {
  const k = 8, iterations = 10, x = features.shares;
  const initial = kmeansPlusPlus(x, k, new Random(seed));
  const rows = Array.from({ length: x.rows }, (_, i) => Array.from(x.data.subarray(i * x.cols, (i + 1) * x.cols)));
  const centres = () => Array.from({ length: k }, (_, c) => Array.from(initial.subarray(c * x.cols, (c + 1) * x.cols)));
  const ms = (f: () => void) => { const t = performance.now(); f(); return performance.now() - t; };
  const perIteration = { ours: [] as number[], plain: [] as number[], theirs: [] as number[] };
  const fitSeconds = { ours: [] as number[], theirs: [] as number[] };
  for (let r = 0; r <= rounds; r++) { // round 0 warms everything up and is not counted
    let steps = 0;
    const ours = ms(() => { steps = lloyd(x, initial, k, { maxIterations: iterations, tolerance: -1 }).iterations; }) / steps;
    const plain = ms(() => plainLloyd(x, initial, k, iterations)) / iterations;
    steps = 0; // tolerance −1: ml-kmeans never converges, so it takes exactly `iterations` steps
    const theirs = ms(() => { for (const _ of kmeansGenerator(rows, k, { initialization: centres(), maxIterations: iterations, tolerance: -1 })) steps++; }) / steps;
    if (r === 0) continue;
    perIteration.ours.push(ours); perIteration.plain.push(plain); perIteration.theirs.push(theirs);
    fitSeconds.ours.push(ms(() => kmeans(x, k, { seed: seed + r, restarts: 1 })) / 1000);
    fitSeconds.theirs.push(ms(() => mlKmeans(rows, k, { seed: seed + r })) / 1000);
  }
  log(`k-means on ${x.rows} × ${x.cols}, k = ${k}, ms per iteration over ${iterations}: ours ${median(perIteration.ours).toFixed(1)}, ours without bounds ${median(perIteration.plain).toFixed(1)}, ml-kmeans ${median(perIteration.theirs).toFixed(1)}; whole fit: ours ${median(fitSeconds.ours).toFixed(2)} s, ml-kmeans ${median(fitSeconds.theirs).toFixed(2)} s`);
  return {
    kmeans_iter_ms: { value: round(median(perIteration.ours)), unit: 'ms' },
    kmeans_plain_iter_ms: { value: round(median(perIteration.plain)), unit: 'ms' },
    ml_kmeans_iter_ms: { value: round(median(perIteration.theirs)), unit: 'ms' },
    kmeans_fit_s: { value: round(median(fitSeconds.ours)), unit: 's' },
    ml_kmeans_fit_s: { value: round(median(fitSeconds.theirs)), unit: 's' },
  };
}

/** The whole segmentation (tiers, k by sampled silhouette, clustering, tree) of every patron; and how the tree's fit grows with rows. */
export function segmentationAtScale(features: PatronFeatures, seed: number, rounds: number, log: Log): Figures {
  const seconds: number[] = [];
  let last: Segmentation | undefined;
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    last = segmentPatrons(features, { seed: seed + r });
    seconds.push((performance.now() - t) / 1000);
    log(`segmented ${features.patrons.length} patrons in ${seconds.at(-1)!.toFixed(2)} s: k = ${last.k}, silhouette ${last.quality.silhouette.toFixed(3)}, tree fidelity ${last.quality.treeFidelity.toFixed(3)}`);
  }
  const { shares } = last!.clustered, labels = last!.clusterOf.filter((c) => c >= 0);
  const fits = [8, 4, 2, 1].map((part) => {
    const rows = Int32Array.from({ length: Math.floor(shares.rows / part) }, (_, i) => i);
    const x = takeRows(shares, rows), y = takeLabels(labels, rows);
    const t = performance.now();
    fitTree(x, y, last!.k, { minLeaf: Math.ceil(0.005 * rows.length) });
    return `${rows.length} rows ${(performance.now() - t).toFixed(0)} ms`;
  });
  log(`depth-4 tree fit: ${fits.join(', ')}`);
  return { segment_100k_s: { value: round(median(seconds)), unit: 's' } };
}

/**
 * The whole recompute (profiles, segments, key scores, recommendations, services) on a SQLite library of
 * `patrons` patrons and `loans` loans shaped on the real log, in its own process (peak RSS is its own),
 * then one patron's profile through the HTTP API on that library.
 */
export async function recomputeAtScale(patrons: number, loans: number, seed: number, log: Log): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsense-bench-crm-'));
  const file = join(dir, 'library.db');
  try {
    const now = new Date('2026-11-30T10:00:00.000Z');
    const db = openDb(file);
    const t = performance.now();
    buildCrmLibrary(db, seed, { patrons, loans, records: Math.round(patrons / 2), items: Math.round(patrons / 2) }, now, log);
    db.pragma('wal_checkpoint(TRUNCATE)');
    log(`built the library in ${((performance.now() - t) / 1000).toFixed(1)} s; recomputing in a child process`);
    const r = recomputeInChild(file, now);
    log(`recompute: ${JSON.stringify(r.summary.timings)}; k ${r.summary.k}, ${r.summary.keyPatrons} key patrons, ${r.summary.recommended} recommendations`);
    const latency = await profileLatency(db, patrons, env('BENCH_CRM_PROFILE_REQUESTS', 1000), seed);
    db.close();
    return {
      recompute_s: { value: round(r.seconds), unit: 's' },
      peak_mb: { value: Math.round(r.peakMb), unit: 'MB' },
      profile_p50_ms: { value: round(latency.p50), unit: 'ms' },
      profile_p95_ms: { value: round(latency.p95), unit: 'ms' },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const suite: BenchSuite = {
  name: 'crm',
  summary: 'patron CRM: subject clusters on the real Lib-SibGMU log; k-means vs ml-kmeans on 100k × 22; segmentation of 100k patrons; the full recompute on 100k patrons / 5M loans; a profile through the API',
  async run(log) {
    const seed = env('BENCH_SEED', 20260302), rounds = env('BENCH_ROUNDS', 5);
    const patrons = env('BENCH_CRM_PATRONS', 100_000);
    const realLog = loadSibgmuLog();
    const t = performance.now();
    const { features, loans } = syntheticFeatures(realLog, patrons, env('BENCH_CRM_LOANS_PER_PATRON', 50), seed);
    log(`built profiles of ${patrons} patrons from ${loans} loans in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    return {
      ...subjectQuality(realLog, seed, log),
      ...kmeansVsMlKmeans(features, seed, rounds, log),
      ...segmentationAtScale(features, seed, rounds, log),
      ...(await recomputeAtScale(patrons, env('BENCH_CRM_LOANS', patrons * 50), seed, log)),
    };
  },
} satisfies BenchSuite;

export default suite;
