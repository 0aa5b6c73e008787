import { describe, expect, it } from 'vitest';
import { CLC_CLASSES } from '../../../server/catalogue/classification.js';
import { loadSibgmuLog } from '../../../server/crm/sibgmu.js';
import { adjustedRandIndex } from '../../../server/crm/segmentation/ari.js';
import { mergeSmallClusters } from '../../../server/crm/segmentation/clusters.js';
import { engagementTiers, quintileScores } from '../../../server/crm/segmentation/engagement.js';
import { buildFeatures, dayOf, type LoanFact } from '../../../server/crm/segmentation/features.js';
import { assignNearest, kmeans, kmeansPlusPlus, lloyd } from '../../../server/crm/segmentation/kmeans.js';
import { nameClusters } from '../../../server/crm/segmentation/labels.js';
import { matrix, takeRows, type Matrix } from '../../../server/crm/segmentation/matrix.js';
import { measureSegmentationQuality } from '../../../server/crm/segmentation/quality.js';
import { segmentPatrons, SHARE_FEATURES } from '../../../server/crm/segmentation/segment.js';
import { silhouette } from '../../../server/crm/segmentation/silhouette.js';
import { fitTree, predictTree, roundThreshold, treeRules, type TreeNode } from '../../../server/crm/segmentation/tree.js';
import { Random } from '../../../server/seed/random.js';

const R = CLC_CLASSES.indexOf('R'), Q = CLC_CLASSES.indexOf('Q'), H = CLC_CLASSES.indexOf('H');

/** `perBlob` rows around each centre, uniform noise of ±`spread` per coordinate. */
function blobs(centres: number[][], perBlob: number, spread: number, seed = 1): { x: Matrix; truth: Int32Array } {
  const random = new Random(seed), cols = centres[0]!.length;
  const x = matrix(centres.length * perBlob, cols), truth = new Int32Array(x.rows);
  centres.forEach((centre, b) => {
    for (let i = 0; i < perBlob; i++) {
      const row = b * perBlob + i;
      truth[row] = b;
      for (let j = 0; j < cols; j++) x.data[row * cols + j] = centre[j]! + (random.next() * 2 - 1) * spread;
    }
  });
  return { x, truth };
}

/** Loans of one patron: `mix` maps a CLC class to how many loans, on consecutive days ending `lastDay`. */
function patronLoans(patron: string, mix: Record<string, number>, lastDay: number): LoanFact[] {
  const classes = Object.entries(mix).flatMap(([clc, n]) => Array<string>(n).fill(clc));
  return classes.map((clc, i) => ({ patron, clc, day: lastDay - (classes.length - 1 - i) * 7 }));
}

describe('k-means', () => {
  it('recovers well-separated blobs exactly, whatever it numbers them', () => {
    const { x, truth } = blobs([[0, 0, 0, 0], [5, 5, 0, 0], [0, 5, 5, 5]], 200, 0.5);
    const fit = kmeans(x, 3, { seed: 3 });
    expect(adjustedRandIndex(fit.labels, truth)).toBe(1);
    expect([...fit.sizes].sort()).toEqual([200, 200, 200]);
  });

  it('gives the same clustering for the same seed', () => {
    const { x } = blobs([[0, 0], [1, 1], [0, 1]], 100, 0.6);
    expect(kmeans(x, 3, { seed: 9 }).labels).toEqual(kmeans(x, 3, { seed: 9 }).labels);
  });

  it('skips distances by its bounds without changing the answer of plain Lloyd iterations', () => {
    const { x } = blobs([[0, 0, 0], [1, 0.5, 0], [0.5, 1, 0.5], [0.2, 0.2, 1]], 250, 0.7, 4);
    const k = 6, start = kmeansPlusPlus(x, k, new Random(2));
    // Plain Lloyd: assign every row to its nearest centroid, move every centroid to its rows' mean.
    const centroids = Float64Array.from(start), labels = new Int32Array(x.rows).fill(-1);
    for (let it = 0; it < 15; it++) {
      assignNearest(x, centroids, k, labels);
      const sums = new Float64Array(k * x.cols), sizes = new Int32Array(k);
      for (let i = 0; i < x.rows; i++) { sizes[labels[i]!]!++; for (let j = 0; j < x.cols; j++) sums[labels[i]! * x.cols + j]! += x.data[i * x.cols + j]!; }
      for (let c = 0; c < k; c++) for (let j = 0; j < x.cols; j++) centroids[c * x.cols + j] = sums[c * x.cols + j]! / sizes[c]!;
    }
    assignNearest(x, centroids, k, labels);
    const fast = lloyd(x, start, k, { maxIterations: 15, tolerance: -1 });
    expect(fast.labels).toEqual(labels);
    fast.centroids.forEach((v, i) => expect(v).toBeCloseTo(centroids[i]!, 9));
  });
});

describe('adjusted Rand index', () => {
  it('is 1 for identical labelings and for the same partition under other names', () => {
    const a = [0, 0, 1, 1, 2, 2, 2];
    expect(adjustedRandIndex(a, a)).toBe(1);
    expect(adjustedRandIndex(a, [2, 2, 0, 0, 1, 1, 1])).toBe(1);
  });

  it('matches the textbook value for a split cluster', () => {
    // scikit-learn's documentation example: adjusted_rand_score([0, 0, 1, 1], [0, 0, 1, 2]) = 0.57…
    expect(adjustedRandIndex([0, 0, 1, 1], [0, 0, 1, 2])).toBeCloseTo(0.5714285714, 9);
  });

  it('is about 0 for independent random labelings', () => {
    const random = new Random(5);
    const a = Array.from({ length: 20_000 }, () => random.int(0, 3)), b = Array.from({ length: 20_000 }, () => random.int(0, 4));
    expect(Math.abs(adjustedRandIndex(a, b))).toBeLessThan(0.005);
  });
});

describe('silhouette', () => {
  it('is the mean of (b − a) / max(a, b) over the rows', () => {
    const x = matrix(4, 1, Float64Array.from([0, 1, 10, 11]));
    const s = silhouette(x, Int32Array.from([0, 0, 1, 1]), 2);
    expect(s).toBeCloseTo((9.5 / 10.5 + 8.5 / 9.5) / 2, 12);
  });

  it('is near 1 for tight far-apart blobs and near 0 for one blob cut in two', () => {
    const apart = blobs([[0, 0], [10, 10]], 100, 0.5);
    expect(silhouette(apart.x, apart.truth, 2)).toBeGreaterThan(0.9);
    const one = blobs([[0, 0]], 400, 1);
    const cut = Int32Array.from({ length: 400 }, (_, i) => (i % 2));
    expect(Math.abs(silhouette(one.x, cut, 2))).toBeLessThan(0.05);
  });
});

describe('decision tree', () => {
  /** Rows of (Biology share, Medicine share) on a 5 % grid; cluster 0 = Medicine ≥ 60 %, 1 = Biology ≥ 20 % otherwise, 2 = the rest. */
  function grid(): { x: Matrix; y: Int32Array } {
    const rows: number[][] = [];
    for (let r = 0; r <= 20; r++) for (let q = 0; q <= 20 - r; q++) rows.push([q * 0.05, r * 0.05]);
    const x = matrix(rows.length, 22), y = new Int32Array(rows.length);
    rows.forEach(([q, r], i) => {
      x.data[i * 22 + Q] = q!; x.data[i * 22 + R] = r!; x.data[i * 22 + H] = 1 - q! - r!;
      y[i] = r! >= 0.6 - 1e-9 ? 0 : q! >= 0.2 - 1e-9 ? 1 : 2;
    });
    return { x, y };
  }

  it('says in words who is in which cluster, with round thresholds', () => {
    const { x, y } = grid();
    const tree = fitTree(x, y, 3, { minLeaf: 1 });
    expect(predictTree(tree, x)).toEqual(y);
    // Greedy Gini splits on Biology first here, so cluster 0 is told in two leaves; every leaf is pure.
    expect(treeRules(tree, SHARE_FEATURES).map((r) => [r.label, r.text, r.size, r.purity])).toEqual([
      [1, 'Biology share ≥ 20 % and Medicine and health share < 60 %', 138, 1],
      [2, 'Biology share < 20 % and Medicine and health share < 60 %', 48, 1],
      [0, 'Biology share < 20 % and Medicine and health share ≥ 60 %', 30, 1],
      [0, 'Biology share ≥ 20 % and Medicine and health share ≥ 60 %', 15, 1],
    ]);
  });

  it('never grows deeper than four conditions, nor leaves smaller than minLeaf', () => {
    const random = new Random(8);
    const x = matrix(3000, 22, Float64Array.from({ length: 3000 * 22 }, () => random.next()));
    const y = Int32Array.from({ length: 3000 }, () => random.int(0, 4));
    const tree = fitTree(x, y, 5, { maxDepth: 4, minLeaf: 20 });
    const depth = (n: TreeNode): number => (n.leaf ? 0 : 1 + Math.max(depth(n.below), depth(n.atOrAbove)));
    expect(depth(tree.root)).toBeLessThanOrEqual(4);
    expect(Math.min(...treeRules(tree, SHARE_FEATURES).map((r) => r.size))).toBeGreaterThanOrEqual(20);
  });

  it('cuts at the roundest number between the two sides', () => {
    expect(roundThreshold(0.61, 0.63)).toBe(0.62);
    expect(roundThreshold(0.3, 0.9)).toBe(0.5);
    expect(roundThreshold(0, 0.02)).toBe(0.01);
    expect(roundThreshold(0.57, 0.575)).toBe(0.575);
    expect(roundThreshold(0.571, 0.574)).toBe(0.573); // 0.572, 0.573, 0.574 are as round: the middle one
    expect(roundThreshold(0.1, 0.1)).toBe(0.1);
  });
});

describe('reading profiles and engagement tiers', () => {
  const asOf = dayOf('2026-03-01');

  it('counts shares, breadth, volume, recency, tenure and visit days per patron', () => {
    const f = buildFeatures([
      { patron: 'a', clc: 'R', day: asOf - 10 }, { patron: 'a', clc: 'R', day: asOf - 10 },
      { patron: 'a', clc: 'Q', day: asOf - 100 }, { patron: 'a', clc: '?', day: asOf - 400 },
    ], asOf);
    expect(f.patrons).toEqual(['a']);
    expect(f.shares.data[R]).toBeCloseTo(2 / 3, 12);
    expect(f.shares.data[Q]).toBeCloseTo(1 / 3, 12);
    expect([f.loans[0], f.breadth[0], f.recencyDays[0], f.tenureDays[0], f.visits[0], f.recentLoans[0]]).toEqual([4, 2, 10, 400, 3, 3]);
    expect(f.visitsPerMonth[0]).toBeCloseTo(3 / (400 / 30), 12);
  });

  it('puts cold-start patrons in the new tier and gives them no subject cluster', () => {
    const loans = [
      ...patronLoans('newcomer', { R: 2 }, asOf - 3),                 // two loans: too few to profile
      ...patronLoans('fresh', { R: 8 }, asOf).map((l, i) => ({ ...l, day: asOf - i })), // eight loans within 8 days: tenure too short
      ...patronLoans('gone', { R: 20 }, asOf - 500),                  // last loan 500 days ago
      ...patronLoans('halfway', { R: 10 }, asOf - 200),               // last loan 200 days ago
    ];
    const random = new Random(3);
    for (let p = 0; p < 200; p++) loans.push(...patronLoans(`p${p}`, p % 2 ? { R: random.int(5, 30), Q: random.int(0, 3) } : { H: random.int(5, 30), O: random.int(0, 3) }, asOf - random.int(0, 60)));
    const f = buildFeatures(loans, asOf);
    const s = segmentPatrons(f, { seed: 2 });
    const at = (id: string) => f.patrons.indexOf(id);
    expect(s.tiers[at('newcomer')]).toBe('new');
    expect(s.clusterOf[at('newcomer')]).toBe(-1);
    expect(s.tiers[at('fresh')]).toBe('new');
    expect(s.clusterOf[at('fresh')]).toBeGreaterThanOrEqual(0); // enough loans for a subject cluster
    expect(s.tiers[at('gone')]).toBe('dormant');
    expect(s.tiers[at('halfway')]).toBe('lapsing');
    const scored = s.tiers.filter((t, p) => f.patrons[p]!.startsWith('p') && t !== 'new');
    expect(new Set(scored)).toEqual(new Set(['champion', 'regular', 'occasional']));
  });

  it('tiers a library too small to cluster, and gives it no subject clusters', () => {
    const asOf = dayOf('2026-03-01');
    const f = buildFeatures(Array.from({ length: 10 }, (_, p) => patronLoans(`p${p}`, { R: 15 }, asOf - p)).flat(), asOf);
    const s = segmentPatrons(f);
    expect([s.k, s.clusters, s.tree, [...s.clusterOf].every((c) => c === -1)]).toEqual([0, [], null, true]);
    expect(s.tiers.every((t) => t !== 'new')).toBe(true);
  });

  it('scores by quintile, ties sharing a score', () => {
    expect([...quintileScores([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])]).toEqual([1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    expect([...quintileScores([7, 7, 7, 7])]).toEqual([3, 3, 3, 3]);
  });

  it('tiers the active patrons by recency, frequency and breadth', () => {
    const loans: LoanFact[] = [];
    for (let p = 0; p < 50; p++) loans.push(...patronLoans(`p${p}`, { R: 10 + p, Q: p % 5, H: p % 3 }, asOf - (50 - p)));
    const { tiers, rfm } = engagementTiers(buildFeatures(loans, asOf));
    expect(tiers[49]).toBe('champion'); // most recent, most loans, broadest
    expect(tiers[0]).toBe('occasional');
    // Breadth 3 is shared by half the patrons, so their mid-rank puts them all at 4.
    expect([...rfm.subarray(49 * 3, 50 * 3)]).toEqual([5, 5, 4]);
  });
});

describe('subject clusters', () => {
  it('names a cluster by its dominant classes', () => {
    const centroids = new Float64Array(2 * 22);
    centroids[R] = 0.6; centroids[Q] = 0.3; centroids[H] = 0.1;
    centroids[22 + H] = 0.9; centroids[22 + R] = 0.1;
    expect(nameClusters(centroids, 2).map((n) => n.en)).toEqual(['Medicine and health + Biology', 'Languages and linguistics']);
  });

  it('tells apart clusters with the same dominant class by their next ones', () => {
    const centroids = new Float64Array(2 * 22);
    centroids[R] = 0.95; centroids[Q] = 0.05;
    centroids[22 + R] = 0.9; centroids[22 + H] = 0.1;
    const names = nameClusters(centroids, 2);
    expect(names.map((n) => n.classes)).toEqual([['R', 'Q'], ['R', 'H']]);
    expect(names[1]!.zh).toBe('医药、卫生 + 语言、文字');
  });

  it('rejects a k that would make a cluster of under 2 % of the patrons, even at a better silhouette', () => {
    // Three reading groups and a handful (1 %) of patrons who read only law: k = 4 separates the law
    // readers, and scores the best silhouette, but their cluster is too small to act on.
    const asOf = dayOf('2026-03-01'), random = new Random(6), loans: LoanFact[] = [];
    for (let p = 0; p < 600; p++) {
      const groups: Record<string, number>[] = [{ R: random.int(8, 12), Q: random.int(0, 2) }, { H: random.int(8, 12), B: random.int(0, 2) }, { O: random.int(8, 12), N: random.int(0, 2) }];
      loans.push(...patronLoans(`p${p}`, p < 6 ? { D: 10 } : groups[p % 3]!, asOf - random.int(0, 100)));
    }
    const s = segmentPatrons(buildFeatures(loans, asOf), { seed: 4 });
    const four = s.quality.candidates.find((c) => c.k === 4)!, three = s.quality.candidates.find((c) => c.k === 3)!;
    expect(four.silhouette).toBeGreaterThan(three.silhouette);
    expect(four.rejected).toBe(true);
    expect(s.k).toBe(3);
    expect(Math.min(...s.clusters.map((c) => c.share))).toBeGreaterThanOrEqual(0.02);
    expect(s.clusters.map((c) => c.en).sort()).toEqual(['Languages and linguistics', 'Mathematics, physics, chemistry', 'Medicine and health']);
    expect(s.clusters.map((c) => c.size).reduce((a, b) => a + b)).toBe(600);
  });

  it('merges a cluster under the minimum share into its neighbours', () => {
    const { x } = blobs([[0, 0], [10, 0], [5, 30]], 500, 1);
    const tiny = takeRows(x, Int32Array.from({ length: 1005 }, (_, i) => i)); // 500, 500 and 5 rows far off
    const fit = kmeans(tiny, 3, { seed: 1 });
    expect(Math.min(...fit.sizes)).toBe(5);
    const merged = mergeSmallClusters(tiny, fit, 0.02);
    expect(merged.k).toBe(2);
    expect(Math.min(...merged.sizes)).toBeGreaterThanOrEqual(500);
  });

  it('meets the quality targets on the real Lib-SibGMU log', () => {
    const q = measureSegmentationQuality(loadSibgmuLog());
    expect(q.patrons).toBe(1331);
    expect(q.k).toBeGreaterThanOrEqual(2);
    expect(q.k).toBeLessThanOrEqual(8);
    expect(q.silhouette).toBeGreaterThanOrEqual(0.35);
    expect(q.stability_ari).toBeGreaterThanOrEqual(0.6);
    expect(q.tree_fidelity).toBeGreaterThanOrEqual(0.85);
    expect(q.smallest_share).toBeGreaterThanOrEqual(0.02);
    for (const c of q.segmentation.clusters) expect(c.rules.length).toBeGreaterThan(0);
  });
});
