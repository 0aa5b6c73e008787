// Hyper-parameter selection on validation splits *inside* the training period only: train before
// 2019 → validate on books newly borrowed in 2019, and train before 2020 → validate on 2020. The 2021
// test never takes part. DEFAULT_OPTIONS (types.ts) holds the result of this search as first run, and
// the test figures are measured with exactly those. `node bin/run-ts.mjs server/crm/recs/tune.ts`
// repeats the search from the plain cosine and checks that no single move from DEFAULT_OPTIONS gains
// MIN_GAIN on validation. (The search is path-dependent: since the scorer's backfills were added, a
// fresh search ends at a different local optimum, 0.776 against DEFAULT_OPTIONS' 0.800.)
import { resolve } from 'node:path';
import { loadSibgmuLog, type LogLoan } from '../sibgmu.js';
import { evaluateTemporalHoldout } from './evaluate.js';
import { DEFAULT_OPTIONS, type RecommenderOptions } from './types.js';

export const VALIDATION_FOLDS = [
  { trainBefore: '2019-01-01', testBefore: '2020-01-01' },
  { trainBefore: '2020-01-01', testBefore: '2021-01-01' },
] as const;

/**
 * The values tried per parameter, in order; a later value must beat the current one by MIN_GAIN.
 * Neighbours stop at 100: at 100,000 items the table is then ≤ 80 MB (a product limit, not a finding).
 */
export const TUNING_GRID: { [K in keyof RecommenderOptions]?: number[] } = {
  neighbours: [10, 20, 50, 100],
  alpha: [0.3, 0.4, 0.5, 0.6, 0.7],
  backwardWeight: [1, 0.5, 0.25, 0.1, 0],
  sameDayWeight: [1, 0.5, 0.25, 0.1],
  pairHalfLifeDays: [Infinity, 480, 240, 120],
  patronExponent: [0, 0.25, 0.5],
  historyHalfLifeDays: [Infinity, 960, 480, 240, 120, 60],
  subjectWeight: [0, 0.05, 0.1, 0.2],
  popularityHalfLifeDays: [Infinity, 730, 365, 180, 90],
  newcomerDays: [100_000, 240, 120, 60, 30, 0],
};

/**
 * Where the search starts: the plain item-to-item cosine, all-time popularity fallback, and the scale
 * bounds (pairSpan, maxBorrowersPerItem, historyItems) loose enough not to bind on this log. The
 * bounds in DEFAULT_OPTIONS were set after the search, checked on the same folds to cost nothing there
 * (hit@10 0.7998 with them, 0.7960 without), and are not searched: they trade accuracy for time only at scale.
 */
export const TUNING_START: Partial<RecommenderOptions> = {
  neighbours: 100, alpha: 0.5, backwardWeight: 1, sameDayWeight: 1, pairHalfLifeDays: Infinity, patronExponent: 0,
  historyHalfLifeDays: Infinity, subjectWeight: 0, popularityHalfLifeDays: Infinity, newcomerDays: 100_000,
  pairSpan: 100, maxBorrowersPerItem: 500, historyItems: 1000,
};

export interface ValidationScore { hitRate: number; coldHitRate: number; ndcg: number; objective: number }

/** Mean over the folds; the objective is the warm hit rate plus the cold (no-history) hit rate. */
export function validate(log: readonly LogLoan[], options: Partial<RecommenderOptions>): ValidationScore {
  let hitRate = 0, coldHitRate = 0, ndcg = 0;
  for (const fold of VALIDATION_FOLDS) {
    const r = evaluateTemporalHoldout(log, { ...fold, recommender: options });
    hitRate += r.engine.hitRate / VALIDATION_FOLDS.length;
    ndcg += r.engine.ndcg / VALIDATION_FOLDS.length;
    coldHitRate += r.cold.engine.hitRate / VALIDATION_FOLDS.length;
  }
  return { hitRate, coldHitRate, ndcg, objective: hitRate + coldHitRate };
}

/**
 * A move must gain this much objective. One patron more or less is worth 0.001 (≈ 500 patrons per fold,
 * two folds averaged), so smaller gains are noise, and chasing them overfits the validation years.
 */
export const MIN_GAIN = 0.003;

/** These interact (direction, same-day weight, gap decay, normalisation), so they are searched jointly first. */
export const JOINT: (keyof RecommenderOptions)[] = ['alpha', 'backwardWeight', 'sameDayWeight', 'pairHalfLifeDays'];

type Tuned = { options: Partial<RecommenderOptions>; score: ValidationScore };

/** The full grid over JOINT from TUNING_START, then coordinate ascent over all of TUNING_GRID. */
export function tuneOnValidation(log: readonly LogLoan[], report: (line: string) => void = () => {}, rounds = 6): Tuned {
  let best = { ...TUNING_START }, score = validate(log, best);
  const combos = JOINT.reduce<Partial<RecommenderOptions>[]>((acc, key) => acc.flatMap((o) => TUNING_GRID[key]!.map((v) => ({ ...o, [key]: v }))), [{}]);
  for (const combo of combos) {
    const candidate = { ...best, ...combo }, s = validate(log, candidate);
    if (s.objective >= score.objective + MIN_GAIN) { best = candidate; score = s; }
  }
  report(`joint grid (${combos.length}) → ${show(best)}: ${score.hitRate.toFixed(3)}/${score.coldHitRate.toFixed(3)}`);
  return coordinateAscent(log, best, report, rounds);
}

/** Moves one parameter at a time to the TUNING_GRID value that gains most, until a round changes nothing. */
export function coordinateAscent(log: readonly LogLoan[], start: Partial<RecommenderOptions>, report: (line: string) => void = () => {}, rounds = 6): Tuned {
  let best = { ...start }, score = validate(log, best);
  for (let round = 1; round <= rounds; round++) {
    let changed = false;
    for (const [key, values] of Object.entries(TUNING_GRID) as [keyof RecommenderOptions, number[]][]) {
      const tried: string[] = [];
      for (const value of values) {
        if (best[key] === value) { tried.push(`${value}:=`); continue; }
        const candidate = { ...best, [key]: value }, s = validate(log, candidate);
        tried.push(`${value}:${s.hitRate.toFixed(3)}/${s.coldHitRate.toFixed(3)}`);
        if (s.objective >= score.objective + MIN_GAIN) { best = candidate; score = s; changed = true; }
      }
      report(`round ${round} ${key}: ${tried.join(' ')} → ${best[key]}`);
    }
    if (!changed) break;
  }
  return { options: best, score };
}

const show = (o: object) => Object.entries(o).map(([k, v]) => `${k}: ${v}`).join(', ');

// The search is path-dependent (the validation surface is bumpy), so the script also checks that the
// frozen DEFAULT_OPTIONS are a local optimum: ascent from them must find no move worth MIN_GAIN.
if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const log = loadSibgmuLog();
  const line = (s: ValidationScore) => `hit@10 ${s.hitRate.toFixed(4)}, cold hit@10 ${s.coldHitRate.toFixed(4)}, NDCG@10 ${s.ndcg.toFixed(4)}`;
  const searched = tuneOnValidation(log, (l) => console.log(l));
  console.log(`search from the plain cosine: ${show(searched.options)}\n  ${line(searched.score)}`);
  const frozen = coordinateAscent(log, { ...DEFAULT_OPTIONS }, (l) => console.log(`(from DEFAULT_OPTIONS) ${l}`));
  const moved = (Object.keys(TUNING_GRID) as (keyof RecommenderOptions)[]).filter((k) => frozen.options[k] !== DEFAULT_OPTIONS[k]);
  console.log(`DEFAULT_OPTIONS: ${line(validate(log, {}))}; ascent from them ${moved.length ? `moves ${moved.join(', ')} → ${line(frozen.score)}` : 'finds no better move'}`);
}
