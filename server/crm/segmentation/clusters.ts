// Subject-interest clusters: k-means on the class-share vectors, k chosen by sampled silhouette over a
// range, no cluster under a minimum share of the clustered patrons.
import { Random } from '../../seed/random.js';
import { assignNearest, countLabels, kmeans, lloyd, type KMeansFit } from './kmeans.js';
import { takeRows, type Matrix } from './matrix.js';
import { sampleIndices } from './sampling.js';
import { SilhouetteSample } from './silhouette.js';

export interface ClusterOptions {
  seed?: number;
  /** Smallest and largest k tried (default 2 and 8). */
  kMin?: number;
  kMax?: number;
  /** A k whose smallest cluster holds less than this share of the rows is rejected (default 0.02). */
  minClusterShare?: number;
  /** k-means++ starts per k (default 4). */
  restarts?: number;
  /** Rows k is chosen on (default 10,000); the chosen fit is then carried to all rows by Lloyd's iterations. */
  selectionSample?: number;
  /** Rows the silhouette is computed on (default 3,000). */
  silhouetteSample?: number;
}

/** How one k fared in the selection. */
export interface KCandidate {
  k: number;
  silhouette: number;
  smallestShare: number;
  rejected: boolean;
}

export interface ClusterResult {
  fit: KMeansFit;
  candidates: KCandidate[];
  /** Sampled silhouette of the final labels over all rows. */
  silhouette: number;
  smallestShare: number;
}

const smallest = (fit: KMeansFit) => Math.min(...fit.sizes) / fit.labels.length;

/**
 * Fits k-means for every k in range on a sample, rejects the k with a cluster under
 * `minClusterShare`, keeps the best silhouette, refits on all rows from its centroids, and merges
 * away any cluster that still falls under the share (or, when every k was rejected, of the best one).
 * Clusters are numbered by size, largest first.
 */
export function chooseClusters(x: Matrix, options: ClusterOptions = {}): ClusterResult {
  const seed = options.seed ?? 1, minShare = options.minClusterShare ?? 0.02;
  const kMin = options.kMin ?? 2, kMax = Math.min(options.kMax ?? 8, x.rows - 1);
  if (kMax < kMin) throw new RangeError(`chooseClusters: ${x.rows} rows are too few for k ≥ ${kMin}`);
  const silhouetteOptions = { sampleSize: options.silhouetteSample ?? 3000, seed };
  const selection = options.selectionSample ?? 10_000;
  const sample = x.rows > selection ? takeRows(x, sampleIndices(x.rows, selection, new Random(seed))) : x;
  const scorer = new SilhouetteSample(sample, silhouetteOptions);
  const candidates: KCandidate[] = [];
  let best: { fit: KMeansFit; silhouette: number; rejected: boolean } | undefined;
  for (let k = kMin; k <= kMax; k++) {
    const fit = kmeans(sample, k, { seed: seed + k, restarts: options.restarts ?? 4 });
    const s = scorer.score(fit.labels, k);
    const rejected = smallest(fit) < minShare;
    candidates.push({ k, silhouette: s, smallestShare: smallest(fit), rejected });
    if (!best || (best.rejected && !rejected) || (best.rejected === rejected && s > best.silhouette)) best = { fit, silhouette: s, rejected };
  }
  let fit = sample === x ? best!.fit : lloyd(x, best!.fit.centroids, best!.fit.k);
  fit = bySize(mergeSmallClusters(x, fit, minShare));
  const final = sample === x ? scorer : new SilhouetteSample(x, silhouetteOptions);
  return { fit, candidates, silhouette: final.score(fit.labels, fit.k), smallestShare: smallest(fit) };
}

/** Drops the smallest cluster while it is under `minShare`, its rows going to the nearest remaining centroid, and re-runs Lloyd. */
export function mergeSmallClusters(x: Matrix, fit: KMeansFit, minShare: number): KMeansFit {
  while (fit.k > 1 && smallest(fit) < minShare) {
    const drop = fit.sizes.indexOf(Math.min(...fit.sizes));
    const kept = fit.centroids.filter((_, i) => Math.floor(i / x.cols) !== drop);
    fit = lloyd(x, kept, fit.k - 1);
  }
  return fit;
}

/** The same fit with clusters renumbered by size, largest first. */
function bySize(fit: KMeansFit): KMeansFit {
  const order = Array.from({ length: fit.k }, (_, c) => c).sort((a, b) => fit.sizes[b]! - fit.sizes[a]! || a - b);
  const rank = new Int32Array(fit.k);
  order.forEach((c, r) => { rank[c] = r; });
  const cols = fit.centroids.length / fit.k;
  const centroids = new Float64Array(fit.centroids.length);
  order.forEach((c, r) => centroids.set(fit.centroids.subarray(c * cols, (c + 1) * cols), r * cols));
  const labels = fit.labels.map((l) => rank[l]!);
  return { ...fit, centroids, labels, sizes: countLabels(labels, fit.k) };
}

/** Cluster of every row of `x` under the given centroids (nearest, squared Euclidean). */
export function nearestCentroid(x: Matrix, centroids: Float64Array, k: number): Int32Array {
  const labels = new Int32Array(x.rows).fill(-1);
  assignNearest(x, centroids, k, labels);
  return labels;
}
