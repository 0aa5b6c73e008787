// The segmentation pipeline: engagement tiers for every patron, a subject-interest cluster for every
// patron with enough loans, names for the clusters, and a shallow tree that says in words who is in which.
import { CLC_CLASSES, CLC_NAMES } from '../../catalogue/classification.js';
import { Random } from '../../seed/random.js';
import { chooseClusters, type ClusterOptions, type KCandidate } from './clusters.js';
import { engagementTiers, type EngagementOptions, type Tier } from './engagement.js';
import type { PatronFeatures } from './features.js';
import { nameClusters, type ClusterName } from './labels.js';
import { takeLabels, takeRows, type Matrix } from './matrix.js';
import { splitIndices } from './sampling.js';
import { fitTree, predictTree, treeRules, type FeatureText, type Tree, type TreeOptions } from './tree.js';

export interface SegmentOptions extends ClusterOptions {
  /** Fewest loans for a subject cluster (default 5): class shares of fewer loans say little. */
  minClusterLoans?: number;
  /** Fewer patrons with enough loans than this (default 50): no subject clusters at all, only tiers. */
  minClusteredPatrons?: number;
  engagement?: EngagementOptions;
  /** Share of the clustered patrons the tree is trained on (default 0.7); its fidelity is measured on the rest. */
  treeTrainShare?: number;
  /** Tree depth (default 4) and smallest leaf (default max(5, 0.5 % of the training rows)). */
  tree?: TreeOptions;
}

export interface SubjectCluster extends ClusterName {
  id: number;
  /** Patrons in the cluster, and their share of the clustered patrons. */
  size: number;
  share: number;
  /** The centroid: mean share per CLC class, classes with no share left out. */
  centroid: Record<string, number>;
  /** The tree's leaves for this cluster, e.g. `Medicine and health share ≥ 62 % and Biology share < 10 %`. */
  rules: string[];
}

export interface Segmentation {
  /** Per patron, in the order of `features.patrons`. */
  tiers: Tier[];
  /** Subject cluster per patron, -1 for patrons with too few loans. */
  clusterOf: Int32Array;
  /** Clusters found; 0 when too few patrons have enough loans to cluster. */
  k: number;
  clusters: SubjectCluster[];
  quality: {
    /** Sampled silhouette of the final clusters. */
    silhouette: number;
    /** Smallest cluster's share of the clustered patrons. */
    smallestShare: number;
    /** Share of held-out patrons the tree puts in their own cluster. */
    treeFidelity: number;
    /** Every k tried, with its silhouette on the selection sample. */
    candidates: KCandidate[];
    clusteredPatrons: number;
  };
  tree: Tree | null;
  /** The rows that were clustered (indices into `features.patrons`) and their share vectors, for stability checks. */
  clustered: { rows: Int32Array; shares: Matrix };
}

/** Feature names in the tree's rules: "<class name> share", values as whole percentages where the split allows. */
export const SHARE_FEATURES: readonly FeatureText[] = CLC_CLASSES.map((c) => ({
  name: `${CLC_NAMES[c]!.en} share`,
  format: (v: number) => `${Number((v * 100).toFixed(1))} %`,
}));

export function segmentPatrons(features: PatronFeatures, options: SegmentOptions = {}): Segmentation {
  const seed = options.seed ?? 1, minLoans = options.minClusterLoans ?? 5;
  const { tiers } = engagementTiers(features, options.engagement);
  const eligible: number[] = [];
  for (let p = 0; p < features.patrons.length; p++) if (features.loans[p]! >= minLoans && features.breadth[p]! > 0) eligible.push(p);
  const rows = Int32Array.from(eligible);
  const shares = takeRows(features.shares, rows);
  const clusterOf = new Int32Array(features.patrons.length).fill(-1);
  if (rows.length < Math.max(options.minClusteredPatrons ?? 50, (options.kMin ?? 2) + 1)) {
    return {
      tiers, clusterOf, k: 0, clusters: [], tree: null, clustered: { rows, shares },
      quality: { silhouette: 0, smallestShare: 0, treeFidelity: 0, candidates: [], clusteredPatrons: rows.length },
    };
  }
  const chosen = chooseClusters(shares, { ...options, seed });
  const { fit } = chosen;

  rows.forEach((p, i) => { clusterOf[p] = fit.labels[i]!; });

  const { train, test } = splitIndices(rows.length, options.treeTrainShare ?? 0.7, new Random(seed + 101));
  const tree = fitTree(takeRows(shares, train), takeLabels(fit.labels, train), fit.k, {
    maxDepth: 4, minLeaf: Math.max(5, Math.ceil(0.005 * train.length)), ...options.tree,
  });
  const predicted = predictTree(tree, takeRows(shares, test));
  const truth = takeLabels(fit.labels, test);
  let agree = 0;
  for (let i = 0; i < truth.length; i++) if (predicted[i] === truth[i]) agree++;
  const rules = treeRules(tree, SHARE_FEATURES);

  const cols = CLC_CLASSES.length;
  const clusters = nameClusters(fit.centroids, fit.k).map((name, c): SubjectCluster => ({
    id: c, ...name, size: fit.sizes[c]!, share: fit.sizes[c]! / rows.length,
    centroid: Object.fromEntries(CLC_CLASSES.map((cls, j) => [cls, fit.centroids[c * cols + j]!] as const).filter(([, v]) => v > 0)),
    rules: rules.filter((r) => r.label === c).map((r) => r.text),
  }));
  return {
    tiers, clusterOf, k: fit.k, clusters,
    quality: {
      silhouette: chosen.silhouette, smallestShare: chosen.smallestShare,
      treeFidelity: truth.length ? agree / truth.length : 1, candidates: chosen.candidates, clusteredPatrons: rows.length,
    },
    tree, clustered: { rows, shares },
  };
}
