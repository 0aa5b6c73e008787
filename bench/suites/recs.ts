// recs: the recommendation engine, (1) on the real Lib-SibGMU log with the temporal hold-out (train
// < 2021, test = books newly borrowed in 2021) against the most-popular baseline, plus patrons with one
// or two loans at monthly cutoffs before 2021 (the hold-out has none), and (2) at product
// scale on synthetic loans (100k patrons, 5M loans, 100k items), in a child process so its peak RSS is
// the engine's (plus the loans it was handed), not the suite runner's.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { evaluateSparsePatrons, evaluateTemporalHoldout } from '../../server/crm/recs/evaluate.js';
import { validate } from '../../server/crm/recs/tune.js';
import { trainRecommender } from '../../server/crm/recs/model.js';
import { recommendAll } from '../../server/crm/recs/recommend.js';
import type { LoanColumns } from '../../server/crm/recs/types.js';
import { loadSibgmuLog } from '../../server/crm/sibgmu.js';
import { rng, round } from '../lib/stats.js';
import type { BenchSuite, Figures } from '../lib/suite.js';
import { env } from '../lib/suite.js';

const CLASSES = 22, LEVELS = 12, SEMESTER_DAYS = 182;

export interface SyntheticLibrary { loans: LoanColumns; patronCount: number; itemCount: number; itemClass: Uint16Array }

/**
 * A seeded library shaped like a university's: item popularity Zipf(1) over the whole catalogue (ranks shuffled over the ids), each
 * item in one of 22 classes (Zipf) and one of 12 curriculum levels; patrons' loan counts log-normal
 * (σ = 1, so a few borrow hundreds), each patron reading mostly in a home class and moving up one
 * level per semester, borrowing in batches on a few days per semester, over eight years.
 */
export function syntheticLibrary(seed: number, patronCount: number, loanCount: number, itemCount: number): SyntheticLibrary {
  const random = rng(seed);
  const zipfPick = (cum: Float64Array) => {
    const u = random() * cum[cum.length - 1]!;
    let lo = 0, hi = cum.length - 1;
    while (lo < hi) { const m = (lo + hi) >> 1; if (cum[m]! < u) lo = m + 1; else hi = m; }
    return lo;
  };
  const classCum = new Float64Array(CLASSES);
  for (let c = 0, s = 0; c < CLASSES; c++) classCum[c] = s += 1 / (c + 1);
  const itemClass = new Uint16Array(itemCount);
  const cells: number[][] = Array.from({ length: CLASSES * LEVELS }, () => []);
  for (let i = 0; i < itemCount; i++) {
    itemClass[i] = zipfPick(classCum);
    cells[itemClass[i]! * LEVELS + Math.floor(random() * LEVELS)]!.push(i);
  }
  // Popularity 1/(rank+1), the ranks shuffled over the item ids as a catalogue's would be.
  const rank = Int32Array.from({ length: itemCount }, (_, i) => i);
  for (let i = itemCount - 1; i > 0; i--) { const j = Math.floor(random() * (i + 1)); [rank[i], rank[j]] = [rank[j]!, rank[i]!]; }
  const cellCum = cells.map((items) => { let s = 0; return Float64Array.from(items, (i) => (s += 1 / (rank[i]! + 1))); });
  const weights = Float64Array.from({ length: patronCount }, () => Math.exp(Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())));
  const total = weights.reduce((a, b) => a + b, 0);
  const patron = new Int32Array(loanCount), item = new Int32Array(loanCount), day = new Int32Array(loanCount);
  const firstDay = 16_000; // 2013-10
  let k = 0;
  for (let p = 0; p < patronCount && k < loanCount; p++) {
    const n = p === patronCount - 1 ? loanCount - k : Math.min(loanCount - k, Math.max(1, Math.round((weights[p]! / total) * loanCount)));
    const home = zipfPick(classCum), level0 = Math.floor(random() * LEVELS), start = firstDay + Math.floor(random() * 8 * 365);
    const semesters = 1 + Math.floor(random() * 6);
    for (let x = 0; x < n; x++) {
      const semester = Math.floor(random() * semesters);
      const c = random() < 0.7 ? home : zipfPick(classCum);
      let cell = c * LEVELS + Math.min(LEVELS - 1, level0 + semester);
      while (cells[cell]!.length === 0) cell = (cell + 1) % cells.length;
      patron[k] = p;
      item[k] = cells[cell]![zipfPick(cellCum[cell]!)]!;
      day[k] = start + semester * SEMESTER_DAYS + Math.floor(random() * 4) * 30 + Math.floor(random() * 3);
      k++;
    }
  }
  return { loans: { patron: patron.subarray(0, k), item: item.subarray(0, k), day: day.subarray(0, k) }, patronCount, itemCount, itemClass };
}

interface ScaleResult { patrons: number; loans: number; items: number; trainS: number; recommendS: number; trainCpuS: number; recommendCpuS: number; peakMb: number; filled: number }

/** The scale run itself (in the child): generate, train, recommend 10 for everyone; time and peak RSS. */
function scaleRun(): ScaleResult {
  const lib = syntheticLibrary(env('BENCH_SEED', 20260302), env('BENCH_RECS_SCALE_PATRONS', 100_000), env('BENCH_RECS_SCALE_LOANS', 5_000_000), env('BENCH_RECS_SCALE_ITEMS', 100_000));
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
  const t0 = performance.now(), c0 = cpu();
  const model = trainRecommender({ ...lib, classCount: CLASSES });
  const t1 = performance.now(), c1 = cpu();
  const table = recommendAll(model, 10);
  const t2 = performance.now(), c2 = cpu();
  let filled = 0;
  for (const i of table.item) if (i >= 0) filled++;
  return {
    patrons: lib.patronCount, loans: lib.loans.item.length, items: lib.itemCount,
    trainS: (t1 - t0) / 1000, recommendS: (t2 - t1) / 1000, trainCpuS: c1 - c0, recommendCpuS: c2 - c1,
    peakMb: process.resourceUsage().maxRSS / 1024, filled,
  };
}

const SELF = fileURLToPath(import.meta.url);
const SCALE_FLAG = '--recs-scale-child';

function scaleInChild(): Promise<ScaleResult> {
  const runTs = join(dirname(SELF), '..', '..', 'bin', 'run-ts.mjs');
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [runTs, SELF, SCALE_FLAG], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolvePromise(JSON.parse(out) as ScaleResult) : reject(new Error(`scale run exited with ${code}`))));
  });
}

const suite: BenchSuite = {
  name: 'recs',
  summary: 'recommendations: hit rate and NDCG @10 on the real log (train < 2021, test 2021) vs most-popular; train + recommend time and peak RSS at 100k patrons / 5M loans',
  async run(log) {
    const t = performance.now(), sibgmu = loadSibgmuLog();
    const v = validate(sibgmu, {});
    log(`validation folds (2019, 2020; where the defaults were chosen): hit@10 ${v.hitRate.toFixed(3)}, cold ${v.coldHitRate.toFixed(3)}, NDCG@10 ${v.ndcg.toFixed(3)}`);
    const r = evaluateTemporalHoldout(sibgmu, { trainBefore: '2021-01-01', testBefore: '2022-01-01', k: 10 });
    log(`real log: ${r.users} users, hit@10 ${r.engine.hitRate.toFixed(3)} vs popularity ${r.baseline.hitRate.toFixed(3)} (×${r.hitRateRatio.toFixed(2)}), NDCG@10 ${r.engine.ndcg.toFixed(3)} vs ${r.baseline.ndcg.toFixed(3)}; ` +
      `cold (< 3 training loans): ${r.cold.users} users, ${r.cold.engine.hitRate.toFixed(3)} vs ${r.cold.baseline.hitRate.toFixed(3)} (${((performance.now() - t) / 1000).toFixed(1)} s)`);
    // Patrons with one or two loans: none in the 2021 hold-out, so monthly cutoffs over the training period.
    const sparse = evaluateSparsePatrons(sibgmu, { from: '2016-01-01', to: '2021-01-01' });
    log(`one or two loans (monthly cutoffs 2016–2020, next 365 days): ${sparse.users} users, hit@10 ${sparse.engine.hitRate.toFixed(3)} vs popularity ${sparse.baseline.hitRate.toFixed(3)}`);
    const s = await scaleInChild();
    log(`scale (one thread): ${s.patrons} patrons, ${s.loans} loans, ${s.items} items: train ${s.trainS.toFixed(2)} s (cpu ${s.trainCpuS.toFixed(2)}), recommend ${s.recommendS.toFixed(2)} s (cpu ${s.recommendCpuS.toFixed(2)}), peak ${s.peakMb.toFixed(0)} MB, ${s.filled} recommendations`);
    const figures: Figures = {
      hit_rate_at_10: { value: round(r.engine.hitRate), unit: 'ratio' },
      baseline_hit_rate_at_10: { value: round(r.baseline.hitRate), unit: 'ratio' },
      ndcg_at_10: { value: round(r.engine.ndcg), unit: 'ratio' },
      baseline_ndcg_at_10: { value: round(r.baseline.ndcg), unit: 'ratio' },
      hit_rate_ratio: { value: round(r.hitRateRatio), unit: 'ratio' },
      users: { value: r.users, unit: 'users' },
      cold_hit_rate_at_10: { value: round(r.cold.engine.hitRate), unit: 'ratio' },
      cold_baseline_hit_rate_at_10: { value: round(r.cold.baseline.hitRate), unit: 'ratio' },
      cold_users: { value: r.cold.users, unit: 'users' },
      sparse_hit_rate_at_10: { value: round(sparse.engine.hitRate), unit: 'ratio' },
      sparse_baseline_hit_rate_at_10: { value: round(sparse.baseline.hitRate), unit: 'ratio' },
      sparse_users: { value: sparse.users, unit: 'users' },
      scale_patrons: { value: s.patrons, unit: 'patrons' },
      scale_loans: { value: s.loans, unit: 'loans' },
      scale_train_s: { value: round(s.trainS), unit: 's' },
      scale_recommend_s: { value: round(s.recommendS), unit: 's' },
      scale_total_s: { value: round(s.trainS + s.recommendS), unit: 's' },
      scale_peak_mb: { value: Math.round(s.peakMb), unit: 'MB' },
    };
    return figures;
  },
};
export default suite;

if (process.argv.includes(SCALE_FLAG) && process.argv[1] && resolve(process.argv[1]) === SELF) {
  process.stdout.write(JSON.stringify(scaleRun()));
}
