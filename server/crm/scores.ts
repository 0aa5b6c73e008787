import type { Db } from '../store/db.js';
import { getSetting, setSetting } from '../store/db.js';

/**
 * Key-patron scores and churn risk, from per-patron figures in typed arrays (one entry per patron).
 * Both are plain, explainable formulas: a librarian can read why a patron is flagged.
 */

export interface KeyWeights { engagement: number; breadth: number; tenure: number; participation: number; priority: number }
export const DEFAULT_KEY_WEIGHTS: KeyWeights = { engagement: 0.35, breadth: 0.15, tenure: 0.15, participation: 0.2, priority: 0.15 };
/** The library's key-patron settings: priority subjects (CLC classes), the flagged share, the weights. */
export interface KeySettings { priorityClasses: string[]; keyShare: number; keyWeights: KeyWeights }

export function keySettings(db: Db): KeySettings {
  return {
    priorityClasses: getSetting<string[]>(db, 'crm_priority_classes', []),
    keyShare: getSetting(db, 'crm_key_share', 0.05),
    keyWeights: getSetting(db, 'crm_key_weights', DEFAULT_KEY_WEIGHTS),
  };
}

export function setKeySettings(db: Db, change: Partial<KeySettings>): void {
  if (change.priorityClasses) setSetting(db, 'crm_priority_classes', [...new Set(change.priorityClasses)]);
  if (change.keyShare !== undefined) setSetting(db, 'crm_key_share', change.keyShare);
  if (change.keyWeights) setSetting(db, 'crm_key_weights', change.keyWeights);
}

/** Tenure counts fully from this many years. */
const FULL_TENURE_YEARS = 5;

export interface KeyInputs {
  /** Loans in the last 365 days. */
  loans365: ArrayLike<number>;
  /** Distinct classes borrowed; -1 when the patron does not allow profiling. */
  breadth: ArrayLike<number>;
  tenureDays: ArrayLike<number>;
  /** Events attended, feedback given and surveys answered in the last 365 days. */
  participation: ArrayLike<number>;
  /** Share of the patron's loans in the library's priority subjects; -1 when the patron does not allow profiling. */
  priorityShare: ArrayLike<number>;
}

export interface KeyScores {
  score: Float64Array;
  /** Per patron, each component's contribution to the score (weight × component value), for the explanation. */
  components: Float64Array[];
  names: (keyof KeyWeights)[];
}

/** Percentile rank in [0, 1] (ties share their average rank); values < 0 are "not known" and rank NaN. */
export function percentileRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const idx: number[] = [];
  for (let i = 0; i < n; i++) if (values[i]! >= 0) idx.push(i);
  idx.sort((a, b) => values[a]! - values[b]!);
  const out = new Float64Array(n).fill(Number.NaN);
  const m = idx.length;
  for (let s = 0; s < m;) {
    let e = s;
    while (e + 1 < m && values[idx[e + 1]!] === values[idx[s]!]) e++;
    const r = m === 1 ? 1 : (s + e) / 2 / (m - 1);
    for (let j = s; j <= e; j++) out[idx[j]!] = values[idx[s]!] === 0 ? 0 : r;
    s = e + 1;
  }
  return out;
}

/**
 * score = Σ weight × component, each component in [0, 1]: engagement and participation as percentile
 * ranks among all patrons (nothing done = 0), breadth as a percentile rank among profiled patrons,
 * tenure as years / 5 (capped), priority as the share of loans in priority subjects. For a patron who
 * does not allow profiling, breadth and priority are not known: the other weights are scaled up to
 * sum to 1, so declining profiling neither raises nor lowers anyone's chance of key status.
 */
export function keyScores(x: KeyInputs, weights: KeyWeights = DEFAULT_KEY_WEIGHTS): KeyScores {
  const n = x.loans365.length;
  const names = Object.keys(weights) as (keyof KeyWeights)[];
  const value: Record<keyof KeyWeights, Float64Array> = {
    engagement: percentileRanks(x.loans365),
    breadth: percentileRanks(x.breadth),
    tenure: Float64Array.from({ length: n }, (_, i) => Math.min(1, x.tenureDays[i]! / 365 / FULL_TENURE_YEARS)),
    participation: percentileRanks(x.participation),
    priority: Float64Array.from({ length: n }, (_, i) => (x.priorityShare[i]! >= 0 ? x.priorityShare[i]! : Number.NaN)),
  };
  const components = names.map(() => new Float64Array(n));
  const score = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let wsum = 0;
    for (const name of names) if (!Number.isNaN(value[name][i]!)) wsum += weights[name];
    if (wsum === 0) continue;
    names.forEach((name, c) => {
      const v = value[name][i]!;
      if (Number.isNaN(v)) return;
      const contribution = (weights[name] / wsum) * v;
      components[c]![i] = contribution;
      score[i]! += contribution;
    });
  }
  return { score, components, names };
}

/**
 * The indices of the top `share` of patrons by score, among those with any activity in the last year
 * (score from tenure alone never makes a key patron).
 */
export function topShare(score: Float64Array, active: ArrayLike<boolean | number>, share: number): Set<number> {
  const candidates: number[] = [];
  for (let i = 0; i < score.length; i++) if (active[i]) candidates.push(i);
  candidates.sort((a, b) => score[b]! - score[a]! || a - b);
  return new Set(candidates.slice(0, Math.ceil(candidates.length * share)));
}

/**
 * Churn risk in [0, 1): how long the patron has been silent (no loan, no visit) against their own usual
 * rhythm. With `a` activities in the last year the expected gap is 365 / a days; risk = 1 − e^(−d / 3g),
 * so silence of three usual gaps gives 0.63 and of nine gives 0.95. A patron with no activity in a year
 * uses a 365-day gap.
 */
export function churnRisk(daysSilent: number, activitiesLastYear: number): number {
  const gap = 365 / Math.max(1, activitiesLastYear);
  return 1 - Math.exp(-Math.max(0, daysSilent) / (3 * gap));
}
