// Engagement tiers: RFM scoring (recency, frequency, monetary) adapted to a library, where the
// "monetary" column becomes breadth (distinct classes borrowed from), plus explicit cold start.
import type { PatronFeatures } from './features.js';

export const TIERS = ['champion', 'regular', 'occasional', 'lapsing', 'dormant', 'new'] as const;
export type Tier = (typeof TIERS)[number];

export interface EngagementOptions {
  /** Fewer loans than this and still active: cold start, tier `new` (default 5). */
  newMinLoans?: number;
  /** Tenure (days since the first loan) under this: tier `new` (default 90). */
  newMaxTenureDays?: number;
  /** No loan for more than this many days: `lapsing` (default 180, a semester and its break). */
  lapsingDays?: number;
  /** No loan for more than this many days: `dormant` (default 365). */
  dormantDays?: number;
}

export interface Engagement {
  tiers: Tier[];
  /** `patrons × 3` scores 1–5 (recency, frequency, breadth) among the scored patrons; 0 for `new`, `lapsing` and `dormant`. */
  rfm: Uint8Array;
}

/**
 * Tiers in this order: dormant (no loan for `dormantDays`), then new (too few loans or too short a
 * tenure to judge), then lapsing (no loan for `lapsingDays`); the rest, the active established
 * patrons, are scored 1–5 per column by quintile among themselves and tiered by the sum:
 * champion = sum ≥ 12 with frequency ≥ 4, regular = sum ≥ 9, occasional below.
 */
export function engagementTiers(f: PatronFeatures, options: EngagementOptions = {}): Engagement {
  const newMinLoans = options.newMinLoans ?? 5, newMaxTenureDays = options.newMaxTenureDays ?? 90;
  const lapsingDays = options.lapsingDays ?? 180, dormantDays = options.dormantDays ?? 365;
  const n = f.patrons.length;
  const tiers = new Array<Tier>(n);
  const scored: number[] = [];
  for (let p = 0; p < n; p++) {
    if (f.recencyDays[p]! > dormantDays) tiers[p] = 'dormant';
    else if (f.loans[p]! < newMinLoans || f.tenureDays[p]! < newMaxTenureDays) tiers[p] = 'new';
    else if (f.recencyDays[p]! > lapsingDays) tiers[p] = 'lapsing';
    else scored.push(p);
  }
  const rfm = new Uint8Array(n * 3);
  const columns = [(p: number) => -f.recencyDays[p]!, (p: number) => f.recentLoans[p]!, (p: number) => f.breadth[p]!];
  columns.forEach((value, c) => {
    const scores = quintileScores(scored.map(value));
    scored.forEach((p, i) => { rfm[p * 3 + c] = scores[i]!; });
  });
  for (const p of scored) {
    const r = rfm[p * 3]!, fr = rfm[p * 3 + 1]!, b = rfm[p * 3 + 2]!;
    tiers[p] = r + fr + b >= 12 && fr >= 4 ? 'champion' : r + fr + b >= 9 ? 'regular' : 'occasional';
  }
  return { tiers, rfm };
}

/** Score 1–5 of each value by its mid-rank percentile (ties share a score): 1 + ⌊5 × (below + equal/2) / n⌋. */
export function quintileScores(values: number[]): Uint8Array {
  const n = values.length;
  const sorted = Float64Array.from(values).sort();
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const below = lowerBound(sorted, values[i]!), equal = lowerBound(sorted, values[i]!, true) - below;
    out[i] = Math.min(5, 1 + Math.floor((5 * (below + equal / 2)) / n));
  }
  return out;
}

/** First index whose value is ≥ v (or > v when `after`). */
function lowerBound(sorted: Float64Array, v: number, after = false): number {
  let lo = 0, hi = sorted.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (after ? sorted[mid]! <= v : sorted[mid]! < v) lo = mid + 1; else hi = mid; }
  return lo;
}
