/**
 * Rollup buckets as columns: one typed array per statistic, one slot per bucket, rather than an
 * object per bucket (a year of minutes is 525,600 buckets). min/max/sum/count so that merging two
 * partial rollups of a bucket is exact; an empty bucket has NaN min and max, sum 0 and count 0.
 */
export interface Buckets { min: Float64Array; max: Float64Array; sum: Float64Array; count: Uint32Array }

export function emptyBuckets(n: number): Buckets {
  return { min: new Float64Array(n).fill(NaN), max: new Float64Array(n).fill(NaN), sum: new Float64Array(n), count: new Uint32Array(n) };
}

/** Merges a partial rollup into slot i. */
export function addToBucket(b: Buckets, i: number, min: number, max: number, sum: number, count: number): void {
  // `!(a <= x)` is also true when a is NaN (an empty slot).
  if (!(b.min[i]! <= min)) b.min[i] = min;
  if (!(b.max[i]! >= max)) b.max[i] = max;
  b.sum[i] = b.sum[i]! + sum;
  b.count[i] = b.count[i]! + count;
}

/**
 * Merges every `factor` consecutive slots into one: output slot j holds input slots
 * j·factor − offset … (j+1)·factor − offset − 1 (offset: how many slots of the first output bucket
 * lie before input slot 0, for buckets aligned to the coarser step).
 */
export function coarsen(b: Buckets, factor: number, offset = 0): Buckets {
  const out = emptyBuckets(Math.ceil((b.count.length + offset) / factor));
  for (let i = 0; i < b.count.length; i++) {
    if (b.count[i]) addToBucket(out, Math.floor((i + offset) / factor), b.min[i]!, b.max[i]!, b.sum[i]!, b.count[i]!);
  }
  return out;
}

/** min, max, avg and count per slot; the sum array becomes the averages (NaN where empty: 0 / 0). */
export function averages(b: Buckets): { min: Float64Array; max: Float64Array; avg: Float64Array; count: Uint32Array } {
  const { min, max, sum: avg, count } = b;
  for (let i = 0; i < avg.length; i++) avg[i] = avg[i]! / count[i]!;
  return { min, max, avg, count };
}
