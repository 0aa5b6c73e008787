// Patron histories as compressed sparse rows: each patron's distinct items in order of first loan, and
// the inverted index item → (patron, slot). Everything the engine reads is built here once.
import type { LoanColumns } from './types.js';

export interface PatronHistories {
  readonly patronCount: number;
  readonly itemCount: number;
  /** Patron p's slots are start[p] … start[p+1]-1, ordered by first-loan day. */
  readonly start: Int32Array;
  readonly item: Int32Array;
  readonly firstDay: Int32Array;
  readonly lastDay: Int32Array;
  /** Item i's borrowers are itemStart[i] … itemStart[i+1]-1 in `itemPatron` / `itemSlot`, by patron. */
  readonly itemStart: Int32Array;
  readonly itemPatron: Int32Array;
  readonly itemSlot: Int32Array;
}

/** Sort keys pack a loan as day · 2^26 + item (exact in a double), so items stay below 2^26. */
const ITEM_LIMIT = 2 ** 26;

/** Builds the histories in O(loans · log(loans per patron)); loans need not be sorted. */
export function buildHistories(loans: LoanColumns, patronCount: number, itemCount: number): PatronHistories {
  const n = loans.patron.length;
  if (loans.item.length !== n || loans.day.length !== n) throw new RangeError('loan columns differ in length');
  if (itemCount > ITEM_LIMIT) throw new RangeError(`at most ${ITEM_LIMIT} items`);
  // Counting sort by patron, then each patron's loans by (day, item).
  const loanCount = new Int32Array(patronCount);
  for (let k = 0; k < n; k++) {
    const p = loans.patron[k]!, i = loans.item[k]!;
    if (p < 0 || p >= patronCount || i < 0 || i >= itemCount) throw new RangeError(`loan ${k}: patron ${p} or item ${i} out of range`);
    loanCount[p]!++;
  }
  const loanStart = new Int32Array(patronCount + 1);
  for (let p = 0; p < patronCount; p++) loanStart[p + 1] = loanStart[p]! + loanCount[p]!;
  const fill = loanStart.slice(0, patronCount);
  const key = new Float64Array(n);
  for (let k = 0; k < n; k++) key[fill[loans.patron[k]!]!++] = loans.day[k]! * ITEM_LIMIT + loans.item[k]!;
  for (let p = 0; p < patronCount; p++) if (loanCount[p]! > 1) key.subarray(loanStart[p]!, loanStart[p + 1]!).sort();

  // Distinct items per patron: the first loan opens a slot, repeats move its last day.
  const start = new Int32Array(patronCount + 1);
  const item = new Int32Array(n), firstDay = new Int32Array(n), lastDay = new Int32Array(n);
  const seenBy = new Int32Array(itemCount).fill(-1), slotOf = new Int32Array(itemCount);
  let slots = 0;
  for (let p = 0; p < patronCount; p++) {
    start[p] = slots;
    for (let k = loanStart[p]!; k < loanStart[p + 1]!; k++) {
      const day = Math.floor(key[k]! / ITEM_LIMIT), i = key[k]! - day * ITEM_LIMIT;
      if (seenBy[i] === p) { lastDay[slotOf[i]!] = day; continue; }
      seenBy[i] = p; slotOf[i] = slots;
      item[slots] = i; firstDay[slots] = day; lastDay[slots] = day; slots++;
    }
  }
  start[patronCount] = slots;

  const itemStart = new Int32Array(itemCount + 1);
  for (let s = 0; s < slots; s++) itemStart[item[s]! + 1]!++;
  for (let i = 0; i < itemCount; i++) itemStart[i + 1]! += itemStart[i]!;
  const itemPatron = new Int32Array(slots), itemSlot = new Int32Array(slots);
  const at = itemStart.slice(0, itemCount);
  for (let p = 0; p < patronCount; p++) {
    for (let s = start[p]!; s < start[p + 1]!; s++) {
      const q = at[item[s]!]!++;
      itemPatron[q] = p; itemSlot[q] = s;
    }
  }
  return {
    patronCount, itemCount, start,
    item: item.slice(0, slots), firstDay: firstDay.slice(0, slots), lastDay: lastDay.slice(0, slots),
    itemStart, itemPatron, itemSlot,
  };
}
