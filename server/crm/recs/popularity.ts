// Popularity signals: recency-weighted loan counts, the same among newcomers (what patrons borrow in
// their first days: the cold-start fallback), and items ranked by popularity within each subject class.
import type { PatronHistories } from './history.js';
import type { LoanColumns } from './types.js';

/** Loans per item, each weighted 0.5^((asOf − day) / halfLife); Infinity counts every loan as 1. */
export function recentPopularity(loans: LoanColumns, itemCount: number, asOfDay: number, halfLifeDays: number): Float64Array {
  const pop = new Float64Array(itemCount);
  const rate = Number.isFinite(halfLifeDays) ? Math.LN2 / halfLifeDays : 0;
  for (let k = 0; k < loans.item.length; k++) pop[loans.item[k]!]! += Math.exp(-rate * Math.max(0, asOfDay - loans.day[k]!));
  return pop;
}

/**
 * Popularity among newcomers: each patron's distinct items first borrowed within `newcomerDays` of
 * their first loan, recency-weighted by that day. Patrons new to the library borrow the first-year
 * curriculum, which overall popularity (dominated by long-standing readers) under-ranks.
 */
export function newcomerPopularity(h: PatronHistories, asOfDay: number, halfLifeDays: number, newcomerDays: number): Float64Array {
  const pop = new Float64Array(h.itemCount);
  const rate = Number.isFinite(halfLifeDays) ? Math.LN2 / halfLifeDays : 0;
  for (let p = 0; p < h.patronCount; p++) {
    const begin = h.start[p]!, end = h.start[p + 1]!;
    if (begin === end) continue;
    const first = h.firstDay[begin]!;
    for (let s = begin; s < end && h.firstDay[s]! - first <= newcomerDays; s++) {
      pop[h.item[s]!]! += Math.exp(-rate * Math.max(0, asOfDay - h.firstDay[s]!));
    }
  }
  return pop;
}

/** Items with a positive score, best first (ties by lower index). */
export function rankItems(score: Float64Array): Int32Array {
  const ids: number[] = [];
  for (let i = 0; i < score.length; i++) if (score[i]! > 0) ids.push(i);
  ids.sort((a, b) => score[b]! - score[a]! || a - b);
  return Int32Array.from(ids);
}

/** Per class, its items with a positive score, best first: class c is start[c] … start[c+1]-1. */
export interface ClassRanking { start: Int32Array; item: Int32Array }

export function rankWithinClasses(score: Float64Array, itemClass: ArrayLike<number>, classCount: number): ClassRanking {
  const ranked = rankItems(score);
  const start = new Int32Array(classCount + 1);
  for (const i of ranked) start[itemClass[i]! + 1]!++;
  for (let c = 0; c < classCount; c++) start[c + 1]! += start[c]!;
  const at = start.slice(0, classCount), item = new Int32Array(ranked.length);
  for (const i of ranked) item[at[itemClass[i]!]!++] = i;
  return { start, item };
}
