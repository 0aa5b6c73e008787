// Item-to-item co-borrowing: for each item i, the K items j most borrowed by the same readers, scored
// as "readers who borrowed i went on to borrow j". One dense accumulator row at a time, so memory is
// O(items · K); time is O(Σ over items of min(borrowers, maxBorrowersPerItem) · 2 · pairSpan).
import type { PatronHistories } from './history.js';
import { TopK } from './top-k.js';
import type { RecommenderOptions } from './types.js';

/** Item i's neighbours are start[i] … start[i+1]-1, most similar first. */
export interface ItemNeighbours {
  readonly start: Int32Array;
  readonly item: Int32Array;
  readonly sim: Float32Array;
}

type NeighbourOptions = Pick<RecommenderOptions, 'neighbours' | 'alpha' | 'backwardWeight' | 'sameDayWeight' | 'pairHalfLifeDays' | 'patronExponent' | 'pairSpan' | 'maxBorrowersPerItem'>;

/** Pairs further apart than this many half-lives (weight < 1/128) are not visited at all. */
const WINDOW_HALF_LIVES = 7;

/** Per-patron pair weight: 1 / (distinct items)^exponent. */
function patronWeights(h: PatronHistories, exponent: number): Float32Array {
  const w = new Float32Array(h.patronCount);
  for (let p = 0; p < h.patronCount; p++) {
    const n = h.start[p + 1]! - h.start[p]!;
    w[p] = n > 0 ? n ** -exponent : 0;
  }
  return w;
}

/** The neighbour table in the histories' item numbering. */
export function buildNeighbours(h: PatronHistories, o: NeighbourOptions): ItemNeighbours {
  const { itemCount } = h;
  const uw = patronWeights(h, o.patronExponent);
  // n_i: the weighted number of readers of i, the normaliser of the cosine.
  const norm = new Float64Array(itemCount);
  for (let i = 0; i < itemCount; i++) {
    let s = 0;
    for (let q = h.itemStart[i]!; q < h.itemStart[i + 1]!; q++) s += uw[h.itemPatron[q]!]!;
    norm[i] = s;
  }
  const normA = new Float64Array(itemCount), normB = new Float64Array(itemCount);
  for (let i = 0; i < itemCount; i++) { normA[i] = norm[i]! ** o.alpha; normB[i] = norm[i]! ** (1 - o.alpha); }

  // A pair's weight by the days between its two loans, later (j after i) and earlier (j before i); the
  // same day has no direction and counts sameDayWeight both ways.
  let first = Infinity, last = -Infinity;
  for (const d of h.firstDay) { if (d < first) first = d; if (d > last) last = d; }
  const halfLife = o.pairHalfLifeDays;
  const window = Math.max(0, Math.min(last - first, Number.isFinite(halfLife) ? Math.ceil(halfLife * WINDOW_HALF_LIVES) : Infinity));
  const later = new Float64Array(window + 1), earlier = new Float64Array(window + 1);
  for (let g = 0; g <= window; g++) {
    const decay = Number.isFinite(halfLife) ? 0.5 ** (g / halfLife) : 1;
    later[g] = g === 0 ? o.sameDayWeight : decay;
    earlier[g] = g === 0 ? o.sameDayWeight : o.backwardWeight * decay;
  }
  const lookBack = o.backwardWeight > 0 || o.sameDayWeight > 0;

  const acc = new Float64Array(itemCount);
  const touched = new Int32Array(itemCount);
  const top = new TopK(o.neighbours);
  const outStart = new Int32Array(itemCount + 1);
  let outItem = new Int32Array(Math.min(itemCount * o.neighbours, 1 << 20));
  let outSim = new Float32Array(outItem.length);
  const row = new Int32Array(o.neighbours), rowSim = new Float64Array(o.neighbours);
  let written = 0;
  const { start, item, firstDay, itemStart, itemPatron, itemSlot } = h;

  const span = o.pairSpan, cap = o.maxBorrowersPerItem;
  for (let i = 0; i < itemCount; i++) {
    let nTouched = 0, sampled = 0;
    // A much-borrowed item's co-borrowing is estimated from every stride-th borrower, scaled back up.
    const qBegin = itemStart[i]!, qEnd = itemStart[i + 1]!, stride = Math.max(1, Math.ceil((qEnd - qBegin) / cap));
    for (let q = qBegin; q < qEnd; q += stride) {
      const p = itemPatron[q]!, s = itemSlot[q]!, w = uw[p]!;
      const t = firstDay[s]!;
      sampled += w;
      // Slots are in first-loan order: later loans after s, earlier before it; stop at the window's edge
      // (in days) or after `span` slots, so a patron with thousands of loans costs O(n · span), not O(n²).
      for (let m = s + 1, end = Math.min(start[p + 1]!, s + 1 + span); m < end; m++) {
        const gap = firstDay[m]! - t;
        if (gap > window) break;
        const j = item[m]!, x = w * later[gap]!;
        if (x === 0) continue; // a zero weight would leave acc[j] at 0 and list j twice in `touched`
        if (acc[j] === 0) touched[nTouched++] = j;
        acc[j]! += x;
      }
      if (!lookBack) continue;
      for (let m = s - 1, begin = Math.max(start[p]!, s - span); m >= begin; m--) {
        const gap = t - firstDay[m]!;
        if (gap > window) break;
        const j = item[m]!, x = w * earlier[gap]!;
        if (x === 0) continue;
        if (acc[j] === 0) touched[nTouched++] = j;
        acc[j]! += x;
      }
    }
    top.clear();
    const scale = sampled > 0 ? norm[i]! / sampled / normA[i]! : 0;
    for (let k = 0; k < nTouched; k++) {
      const j = touched[k]!, x = (acc[j]! * scale) / normB[j]!;
      if (x > top.floor) top.push(j, x);
      acc[j] = 0;
    }
    const count = top.drainDescending(row, rowSim);
    if (written + count > outItem.length) {
      const grown = Math.max(outItem.length * 2, written + count);
      const a = new Int32Array(grown); a.set(outItem.subarray(0, written)); outItem = a;
      const b = new Float32Array(grown); b.set(outSim.subarray(0, written)); outSim = b;
    }
    for (let r = 0; r < count; r++) { outItem[written + r] = row[r]!; outSim[written + r] = rowSim[r]!; }
    written += count;
    outStart[i + 1] = written;
  }
  return { start: outStart, item: outItem.slice(0, written), sim: outSim.slice(0, written) };
}
