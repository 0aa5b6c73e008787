// Segmentation quality on a real borrowing log (the Lib-SibGMU test split): the figures the crm bench
// suite reports and the tests hold to their targets (silhouette ≥ 0.35, stability ARI ≥ 0.6, tree fidelity ≥ 0.85).
import type { LogLoan } from '../sibgmu.js';
import { FeatureBuilder, dayOf } from './features.js';
import { segmentPatrons, type Segmentation, type SegmentOptions } from './segment.js';
import { bootstrapStability } from './stability.js';

export interface SegmentationQuality {
  silhouette: number;
  /** Median ARI over `runs` bootstrap refits against the full-data labels. */
  stability_ari: number;
  tree_fidelity: number;
  k: number;
  smallest_share: number;
  patrons: number;
  clustered: number;
  segmentation: Segmentation;
}

export function measureSegmentationQuality(log: readonly LogLoan[], options: SegmentOptions & { stabilityRuns?: number } = {}): SegmentationQuality {
  const builder = new FeatureBuilder();
  for (const loan of log) builder.add(loan.reader, loan.clc, dayOf(loan.date));
  const features = builder.build();
  const segmentation = segmentPatrons(features, options);
  if (segmentation.k === 0) throw new RangeError(`measureSegmentationQuality: ${segmentation.quality.clusteredPatrons} patrons with enough loans are too few to cluster`);
  const { shares } = segmentation.clustered;
  const stability = bootstrapStability(shares, segmentation.clusterOf.filter((c) => c >= 0), segmentation.k, {
    runs: options.stabilityRuns ?? 10, seed: (options.seed ?? 1) + 7,
  });
  return {
    silhouette: segmentation.quality.silhouette,
    stability_ari: stability.median,
    tree_fidelity: segmentation.quality.treeFidelity,
    k: segmentation.k,
    smallest_share: segmentation.quality.smallestShare,
    patrons: features.patrons.length,
    clustered: segmentation.quality.clusteredPatrons,
    segmentation,
  };
}
