// Adjusted Rand index (Hubert & Arabie 1985): agreement of two partitions of the same items, 1 for
// identical partitions (whatever the label names), about 0 for independent ones.

const pairs = (n: number) => (n * (n - 1)) / 2;

/** ARI of two labelings (non-negative integers) of the same items. */
export function adjustedRandIndex(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (b.length !== n) throw new RangeError(`adjustedRandIndex: ${n} and ${b.length} labels`);
  let ka = 0, kb = 0;
  for (let i = 0; i < n; i++) { ka = Math.max(ka, a[i]! + 1); kb = Math.max(kb, b[i]! + 1); }
  const table = new Float64Array(ka * kb), rowSums = new Float64Array(ka), colSums = new Float64Array(kb);
  for (let i = 0; i < n; i++) { table[a[i]! * kb + b[i]!]!++; rowSums[a[i]!]!++; colSums[b[i]!]!++; }
  let index = 0, sumA = 0, sumB = 0;
  for (const v of table) index += pairs(v);
  for (const v of rowSums) sumA += pairs(v);
  for (const v of colSums) sumB += pairs(v);
  const expected = (sumA * sumB) / pairs(n), max = (sumA + sumB) / 2;
  // Both partitions trivial (one cluster each, or all singletons): they agree perfectly.
  return max === expected ? 1 : (index - expected) / (max - expected);
}
