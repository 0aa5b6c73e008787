// k-means on typed arrays: k-means++ seeding (greedy, as scikit-learn's), Lloyd iterations with
// Hamerly's bounds, best of several restarts. Written out rather than taken from ml-kmeans: a plain
// iteration costs about the same in both, but on 100k × 22 a whole ml-kmeans fit took 4–6× as long
// (its k-means++ seeding, no bounds), and it has no restarts or empty-cluster rule. Figures:
// docs/crm-segmentation.md, measured by bench/suites/crm.ts.
import { Random } from '../../seed/random.js';
import { squaredDistance, type Matrix } from './matrix.js';

export interface KMeansOptions {
  /** Seed of the k-means++ draws; the same seed gives the same clustering. */
  seed?: number;
  /** Independent k-means++ starts; the fit with the least inertia wins. */
  restarts?: number;
  maxIterations?: number;
  /**
   * Stop when no label changes, or when the centroids' summed squared shift is at most this times the
   * data's mean per-feature variance (scikit-learn's rule; default 1e-4). A negative value runs `maxIterations`.
   */
  tolerance?: number;
}

export interface KMeansFit {
  k: number;
  /** `k × cols`, row-major. */
  centroids: Float64Array;
  /** Cluster of every row, 0..k-1. */
  labels: Int32Array;
  sizes: Int32Array;
  /** Sum of squared distances of the rows to their centroids. */
  inertia: number;
  iterations: number;
  converged: boolean;
}

/**
 * Nearest centroid of every row, written into `labels`. A label already there (0..k-1) is tried first:
 * between Lloyd iterations most rows keep theirs, and its distance then cuts the other sums short.
 */
export function assignNearest(x: Matrix, centroids: Float64Array, k: number, labels: Int32Array): { inertia: number; changed: number } {
  const { data, rows, cols } = x;
  let inertia = 0, changed = 0;
  for (let i = 0, off = 0; i < rows; i++, off += cols) {
    const previous = labels[i]!;
    let best = Infinity, bestC = -1;
    if (previous >= 0 && previous < k) {
      best = 0; bestC = previous;
      for (let j = 0, co = previous * cols; j < cols; j++) { const t = data[off + j]! - centroids[co + j]!; best += t * t; }
    }
    for (let c = 0, co = 0; c < k; c++, co += cols) {
      if (c === previous) continue;
      let s = 0;
      for (let j = 0; j < cols && s < best; j++) { const t = data[off + j]! - centroids[co + j]!; s += t * t; }
      if (s < best) { best = s; bestC = c; }
    }
    if (bestC !== previous) { labels[i] = bestC; changed++; }
    inertia += best;
  }
  return { inertia, changed };
}

/** Greedy k-means++ (Arthur & Vassilvitskii 2007; 2 + ⌊ln k⌋ candidates per step, as scikit-learn): `k × cols` centroids. */
export function kmeansPlusPlus(x: Matrix, k: number, random: Random): Float64Array {
  const { data, rows, cols } = x;
  if (rows < k) throw new RangeError(`kmeans: ${rows} rows cannot make ${k} clusters`);
  const centroids = new Float64Array(k * cols);
  // nearest[i]: squared distance of row i to its nearest centroid so far; trial/kept: the same with one candidate more.
  let nearest = new Float64Array(rows), trial = new Float64Array(rows), kept = new Float64Array(rows);
  const first = Math.floor(random.next() * rows);
  centroids.set(data.subarray(first * cols, (first + 1) * cols), 0);
  let potential = 0;
  for (let i = 0; i < rows; i++) potential += (nearest[i] = squaredDistance(data, i * cols, centroids, 0, cols));
  const tries = 2 + Math.floor(Math.log(k));
  for (let c = 1; c < k; c++) {
    let bestPotential = Infinity, best = -1;
    for (let t = 0; t < tries; t++) {
      // Draw a row with probability proportional to its squared distance to the nearest centroid so far.
      let pick = rows - 1;
      if (potential === 0) pick = Math.floor(random.next() * rows); // every row sits on a centroid already
      else for (let i = 0, r = random.next() * potential; i < rows; i++) { r -= nearest[i]!; if (r < 0) { pick = i; break; } }
      let p = 0;
      for (let i = 0; i < rows; i++) p += (trial[i] = Math.min(nearest[i]!, squaredDistance(data, i * cols, data, pick * cols, cols)));
      if (p < bestPotential) { bestPotential = p; best = pick; [kept, trial] = [trial, kept]; }
    }
    centroids.set(data.subarray(best * cols, (best + 1) * cols), c * cols);
    potential = bestPotential;
    [nearest, kept] = [kept, nearest];
  }
  return centroids;
}

/**
 * Lloyd's iterations from the given centroids (copied, not changed) until converged or `maxIterations`,
 * with Hamerly's bounds (Hamerly 2010, "Making k-means even faster"): each row keeps an upper bound on
 * its distance to its own centroid and a lower bound on the distance to any other, moved by how far the
 * centroids moved; a row whose bounds prove it stays put costs no distance at all. The result is the
 * same as plain Lloyd's; only the distances that cannot change the answer are skipped.
 */
export function lloyd(x: Matrix, initial: Float64Array, k: number, options: Pick<KMeansOptions, 'maxIterations' | 'tolerance'> = {}): KMeansFit {
  const { data, rows, cols } = x;
  const maxIterations = options.maxIterations ?? 100;
  const tolerance = (options.tolerance ?? 1e-4) * meanVariance(x);
  const centroids = Float64Array.from(initial);
  const sums = new Float64Array(k * cols), sizes = new Int32Array(k);
  const labels = new Int32Array(rows).fill(-1);
  const upper = new Float64Array(rows), lower = new Float64Array(rows);
  const halfGap = new Float64Array(k), moved = new Float64Array(k);
  let iterations = 0, converged = false;
  while (iterations < maxIterations && !converged) {
    iterations++;
    // Half the distance from each centroid to its nearest other: a row closer than that to its own stays.
    halfGap.fill(Infinity);
    for (let c = 0; c < k; c++) for (let o = c + 1; o < k; o++) {
      let s = 0;
      for (let j = 0; j < cols; j++) { const t = centroids[c * cols + j]! - centroids[o * cols + j]!; s += t * t; }
      const half = Math.sqrt(s) / 2;
      if (half < halfGap[c]!) halfGap[c] = half;
      if (half < halfGap[o]!) halfGap[o] = half;
    }
    let changed = 0;
    for (let i = 0, off = 0; i < rows; i++, off += cols) {
      const own = labels[i]!;
      let ownSquared = Infinity;
      if (own >= 0) {
        const bound = Math.max(halfGap[own]!, lower[i]!);
        if (upper[i]! <= bound) continue;
        ownSquared = squaredDistance(data, off, centroids, own * cols, cols);
        upper[i] = Math.sqrt(ownSquared);
        if (upper[i]! <= bound) continue;
      }
      // The bounds do not settle it: the two nearest centroids, exactly. Squared sums stop early once
      // past the second nearest so far, which then cannot be either of the two.
      let d1 = ownSquared, d2 = Infinity, best = Math.max(0, own);
      for (let c = 0, co = 0; c < k; c++, co += cols) {
        if (c === own) continue;
        let s = 0;
        for (let j = 0; j < cols && s < d2; j++) { const t = data[off + j]! - centroids[co + j]!; s += t * t; }
        if (s < d1) { d2 = d1; d1 = s; best = c; } else if (s < d2) d2 = s;
      }
      d1 = Math.sqrt(d1); d2 = Math.sqrt(d2);
      upper[i] = d1; lower[i] = d2;
      if (best !== own) {
        changed++;
        if (own >= 0) { sizes[own]!--; for (let j = 0; j < cols; j++) sums[own * cols + j]! -= data[off + j]!; }
        sizes[best]!++;
        for (let j = 0; j < cols; j++) sums[best * cols + j]! += data[off + j]!;
        labels[i] = best;
      }
    }
    reseedEmpty(x, sizes, sums, labels, upper, lower, k);
    let shift = 0, most = 0, mostC = -1, second = 0;
    for (let c = 0, co = 0; c < k; c++, co += cols) {
      let s = 0;
      for (let j = 0; j < cols; j++) { const v = sums[co + j]! / sizes[c]!; const t = v - centroids[co + j]!; s += t * t; centroids[co + j] = v; }
      shift += s;
      moved[c] = Math.sqrt(s);
      if (moved[c]! > most) { second = most; most = moved[c]!; mostC = c; } else if (moved[c]! > second) second = moved[c]!;
    }
    for (let i = 0; i < rows; i++) {
      const own = labels[i]!;
      upper[i]! += moved[own]!;
      lower[i]! -= own === mostC ? second : most;
    }
    converged = changed === 0 || shift <= tolerance;
  }
  const inertia = assignNearest(x, centroids, k, labels).inertia; // the labels of the final centroids
  return { k, centroids, labels, sizes: countLabels(labels, k), inertia, iterations, converged };
}

/** Mean over the features of their variance across the rows. */
function meanVariance(x: Matrix): number {
  const { data, rows, cols } = x;
  const sum = new Float64Array(cols), squares = new Float64Array(cols);
  for (let i = 0, off = 0; i < rows; i++, off += cols) for (let j = 0; j < cols; j++) { const v = data[off + j]!; sum[j]! += v; squares[j]! += v * v; }
  let total = 0;
  for (let j = 0; j < cols; j++) total += squares[j]! / rows - (sum[j]! / rows) ** 2;
  return total / cols;
}

/** An empty cluster takes the row farthest from its own centroid by its upper bound (scikit-learn's rule, on bounds), so k stays k. */
function reseedEmpty(x: Matrix, sizes: Int32Array, sums: Float64Array, labels: Int32Array, upper: Float64Array, lower: Float64Array, k: number): void {
  const { data, cols } = x;
  for (let c = 0; c < k; c++) {
    if (sizes[c]! > 0) continue;
    let far = -1, farD = -1;
    for (let i = 0; i < labels.length; i++) if (sizes[labels[i]!]! > 1 && upper[i]! > farD) { farD = upper[i]!; far = i; }
    if (far < 0) throw new RangeError('kmeans: fewer distinct rows than clusters');
    const from = labels[far]!;
    for (let j = 0; j < cols; j++) { sums[from * cols + j]! -= data[far * cols + j]!; sums[c * cols + j] = data[far * cols + j]!; }
    sizes[from]!--; sizes[c] = 1; labels[far] = c;
    upper[far] = 0; lower[far] = 0; // its bounds are unknown now: check it next time
  }
}

export function countLabels(labels: Int32Array, k: number): Int32Array {
  const sizes = new Int32Array(k);
  for (let i = 0; i < labels.length; i++) sizes[labels[i]!]!++;
  return sizes;
}

/** k-means with `restarts` k-means++ starts (default 4); returns the fit with the least inertia. */
export function kmeans(x: Matrix, k: number, options: KMeansOptions = {}): KMeansFit {
  const random = new Random(options.seed ?? 1);
  let best: KMeansFit | undefined;
  for (let r = 0; r < (options.restarts ?? 4); r++) {
    const fit = lloyd(x, kmeansPlusPlus(x, k, random), k, options);
    if (!best || fit.inertia < best.inertia) best = fit;
  }
  return best!;
}
