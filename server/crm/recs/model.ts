// Training: histories, item neighbours and the popularity signals, from loans before asOf.
import { buildHistories, type PatronHistories } from './history.js';
import { buildNeighbours, type ItemNeighbours } from './neighbours.js';
import { newcomerPopularity, rankItems, rankWithinClasses, recentPopularity, type ClassRanking } from './popularity.js';
import { DEFAULT_OPTIONS, type RecommenderOptions, type TrainingData } from './types.js';

/**
 * Inside the model items are renumbered by descending loan count ("ranks"), so that the rows every
 * accumulator touches most sit together in cache; histories, neighbours and popularity are all in rank
 * space. `recommend` / `recommendAll` take and return the caller's item indices.
 */
export interface RecommenderModel {
  readonly options: RecommenderOptions;
  readonly itemOfRank: Int32Array;
  readonly rankOfItem: Int32Array;
  readonly asOfDay: number;
  readonly itemClass: Uint16Array;
  readonly classCount: number;
  readonly histories: PatronHistories;
  readonly neighbours: ItemNeighbours;
  /** Recency-weighted popularity and, per class, items ranked by it (the subject profile's candidates). */
  readonly popularity: Float64Array;
  readonly byClass: ClassRanking;
  /** The cold-start fallback: newcomer popularity and items ranked by it. */
  readonly fallback: Float64Array;
  readonly fallbackRanked: Int32Array;
}

export function trainRecommender(data: TrainingData, options: Partial<RecommenderOptions> = {}): RecommenderModel {
  const o: RecommenderOptions = { ...DEFAULT_OPTIONS, ...options };
  if (!(o.neighbours >= 1) || !(o.explainItems >= 1)) throw new RangeError('neighbours and explainItems must be at least 1');
  const { loans, patronCount, itemCount, classCount } = data;
  if (data.itemClass.length !== itemCount) throw new RangeError(`itemClass has ${data.itemClass.length} entries for ${itemCount} items`);
  const counts = new Int32Array(itemCount);
  for (const i of loans.item) {
    if (!(i >= 0 && i < itemCount)) throw new RangeError(`loan of item ${i}, outside 0 … ${itemCount - 1}`);
    counts[i]!++;
  }
  const itemOfRank = Int32Array.from({ length: itemCount }, (_, i) => i).sort((a, b) => counts[b]! - counts[a]! || a - b);
  const rankOfItem = new Int32Array(itemCount);
  for (let r = 0; r < itemCount; r++) rankOfItem[itemOfRank[r]!] = r;
  const itemClass = Uint16Array.from(itemOfRank, (i) => data.itemClass[i]!);
  for (const c of itemClass) if (c >= classCount) throw new RangeError(`item class ${c} ≥ classCount ${classCount}`);
  const ranked = { patron: loans.patron, item: Int32Array.from(loans.item, (i) => rankOfItem[i]!), day: loans.day };
  let lastDay = -Infinity;
  for (const d of loans.day) if (d > lastDay) lastDay = d;
  const asOfDay = data.asOfDay ?? (Number.isFinite(lastDay) ? lastDay + 1 : 0);

  const histories = buildHistories(ranked, patronCount, itemCount);
  const neighbours = buildNeighbours(histories, o);
  const popularity = recentPopularity(ranked, itemCount, asOfDay, o.popularityHalfLifeDays);
  const fallback = newcomerPopularity(histories, asOfDay, o.popularityHalfLifeDays, o.newcomerDays);
  return {
    options: o, itemOfRank, rankOfItem, asOfDay, itemClass, classCount, histories, neighbours,
    popularity, byClass: rankWithinClasses(popularity, itemClass, classCount),
    fallback, fallbackRanked: rankItems(fallback),
  };
}
