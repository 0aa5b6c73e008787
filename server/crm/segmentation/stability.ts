// Stability of a clustering under resampling: refit on bootstrap resamples, carry every row to its
// nearest refit centroid, and compare with the original labels by adjusted Rand index.
import { Random } from '../../seed/random.js';
import { adjustedRandIndex } from './ari.js';
import { nearestCentroid } from './clusters.js';
import { kmeans } from './kmeans.js';
import { takeRows, type Matrix } from './matrix.js';
import { bootstrapIndices } from './sampling.js';

export interface StabilityOptions {
  /** Bootstrap re-runs (default 10). */
  runs?: number;
  seed?: number;
  restarts?: number;
  /** Rows per resample (default: as many as `x` has, at most 20,000). */
  resampleSize?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median (and every run's) ARI between `labels` and the nearest-centroid labels of k-means refit on bootstrap resamples. */
export function bootstrapStability(x: Matrix, labels: Int32Array, k: number, options: StabilityOptions = {}): { median: number; runs: number[] } {
  const random = new Random(options.seed ?? 1);
  const size = Math.min(x.rows, options.resampleSize ?? 20_000);
  const runs: number[] = [];
  for (let r = 0; r < (options.runs ?? 10); r++) {
    const resample = takeRows(x, bootstrapIndices(x.rows, random, size));
    const refit = kmeans(resample, k, { seed: Math.floor(random.next() * 2 ** 31), restarts: options.restarts ?? 4 });
    runs.push(adjustedRandIndex(labels, nearestCentroid(x, refit.centroids, k)));
  }
  return { median: median(runs), runs };
}
