// A shallow classification tree (CART, Breiman et al. 1984: binary splits, Gini impurity) grown on
// binned features: every feature is cut once into at most `maxBins` bins of its sorted values, and a
// node's best split is found from per-bin class counts, so growing costs O(rows × features) per level
// instead of a sort per node (ml-cart grows quadratically with rows, unusable past a few thousand).
import type { Matrix } from './matrix.js';

export interface TreeOptions {
  /** Conditions on the longest path (default 4). */
  maxDepth?: number;
  /** Fewest training rows in a leaf (default 5). */
  minLeaf?: number;
  /** Bins per feature (default 256); features with fewer distinct values (in the edge sample) split exactly. */
  maxBins?: number;
}

export type TreeNode =
  | { leaf: true; label: number; size: number; correct: number }
  | { leaf: false; feature: number; threshold: number; size: number; below: TreeNode; atOrAbove: TreeNode };

export interface Tree { root: TreeNode; cols: number; classes: number }

interface Binned {
  /** Row-major bin of every (row, feature). */
  codes: Uint16Array;
  /** Per feature, the largest training value in each bin. */
  highs: Float64Array[];
}

/** Bin edges come from at most this many values per feature (every n-th row), so binning costs O(rows × log bins). */
const EDGE_SAMPLE = 20_000;

function binFeatures(x: Matrix, maxBins: number): Binned {
  const { data, rows, cols } = x;
  const codes = new Uint16Array(rows * cols), highs: Float64Array[] = [];
  const stride = Math.max(1, Math.floor(rows / EDGE_SAMPLE));
  const sorted = new Float64Array(Math.ceil(rows / stride));
  for (let j = 0; j < cols; j++) {
    for (let i = 0, s = 0; i < rows; i += stride, s++) sorted[s] = data[i * cols + j]!;
    sorted.sort();
    // Greedy equal-frequency bins that never split a run of equal values.
    const high: number[] = [];
    const n = sorted.length, target = n / maxBins;
    for (let i = 0; i < n;) {
      let end = i + 1;
      if (high.length === maxBins - 1) end = n;
      else while (end < n && (end - i < target || sorted[end] === sorted[end - 1])) end++;
      high.push(sorted[end - 1]!);
      i = end;
    }
    const h = Float64Array.from(high);
    highs.push(h);
    for (let i = 0; i < rows; i++) {
      let lo = 0, hi = h.length - 1;
      const v = data[i * cols + j]!;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (h[mid]! < v) lo = mid + 1; else hi = mid; }
      codes[i * cols + j] = lo;
    }
  }
  return { codes, highs };
}

/** The roundest number in (lo, hi] (a multiple of the largest power of ten, or half of one, that fits), nearest the middle of the gap. */
export function roundThreshold(lo: number, hi: number): number {
  if (!(hi > lo)) return hi;
  const mid = (lo + hi) / 2;
  for (let e = Math.ceil(Math.log10(hi - lo)) + 1; e > -15; e--) {
    for (const per of [1, 2]) {
      // Candidates q / scale for integers q: steps of 10^e, then of 10^e / 2 (division keeps 0.62 as 62 / 100).
      const scale = e <= 0 ? per * 10 ** -e : per / 10 ** e;
      let first = Math.floor(lo * scale) + 1, last = Math.floor(hi * scale);
      while (first / scale <= lo) first++;
      while ((first - 1) / scale > lo) first--;
      while (last / scale > hi) last--;
      while ((last + 1) / scale <= hi) last++;
      if (first <= last) return Math.min(last, Math.max(first, Math.round(mid * scale))) / scale;
    }
  }
  return hi;
}

/** Grows a tree predicting `y` (0..classes-1) from the rows of `x`. */
export function fitTree(x: Matrix, y: Int32Array, classes: number, options: TreeOptions = {}): Tree {
  const maxDepth = options.maxDepth ?? 4, minLeaf = Math.max(1, options.minLeaf ?? 5);
  const { rows, cols } = x;
  if (y.length !== rows) throw new RangeError(`fitTree: ${rows} rows and ${y.length} labels`);
  const binned = binFeatures(x, Math.min(65_536, options.maxBins ?? 256));
  const maxBin = binned.highs.reduce((m, h) => Math.max(m, h.length), 0);
  const hist = new Float64Array(cols * maxBin * classes);
  const order = new Int32Array(rows);
  for (let i = 0; i < rows; i++) order[i] = i;

  const grow = (from: number, to: number, depth: number): TreeNode => {
    const size = to - from;
    const total = new Float64Array(classes);
    for (let r = from; r < to; r++) total[y[order[r]!]!]!++;
    let label = 0;
    for (let c = 1; c < classes; c++) if (total[c]! > total[label]!) label = c;
    const node: TreeNode = { leaf: true, label, size, correct: total[label]! };
    if (depth >= maxDepth || size < 2 * minLeaf || node.correct === size) return node;
    hist.fill(0);
    const { codes } = binned;
    for (let r = from; r < to; r++) {
      const i = order[r]!, cls = y[i]!;
      for (let j = 0, off = i * cols; j < cols; j++) hist[(j * maxBin + codes[off + j]!) * classes + cls]!++;
    }
    let parentScore = 0;
    for (let c = 0; c < classes; c++) parentScore += (total[c]! * total[c]!) / size;
    // Maximise Σ left²/nLeft + Σ right²/nRight, i.e. minimise the weighted Gini impurity of the children.
    let bestScore = parentScore + 1e-9, bestFeature = -1, bestBin = -1;
    const left = new Float64Array(classes);
    for (let j = 0; j < cols; j++) {
      left.fill(0);
      let nLeft = 0;
      const bins = binned.highs[j]!.length;
      for (let b = 0; b < bins - 1; b++) {
        const base = (j * maxBin + b) * classes;
        let inBin = 0;
        for (let c = 0; c < classes; c++) { left[c]! += hist[base + c]!; inBin += hist[base + c]!; }
        nLeft += inBin;
        if (inBin === 0 || nLeft < minLeaf) continue;
        const nRight = size - nLeft;
        if (nRight < minLeaf) break;
        let score = 0;
        for (let c = 0; c < classes; c++) { const l = left[c]!, rr = total[c]! - l; score += (l * l) / nLeft + (rr * rr) / nRight; }
        if (score > bestScore) { bestScore = score; bestFeature = j; bestBin = b; }
      }
    }
    if (bestFeature < 0) return node;
    // The split falls between the largest value at or below bestBin and the smallest above it, in this node.
    let lo = -Infinity, hi = Infinity;
    let mid = from;
    for (let r = from; r < to; r++) {
      const i = order[r]!, v = x.data[i * cols + bestFeature]!;
      if (binned.codes[i * cols + bestFeature]! <= bestBin) {
        lo = Math.max(lo, v);
        order[r] = order[mid]!; order[mid] = i; mid++;
      } else hi = Math.min(hi, v);
    }
    const threshold = roundThreshold(lo, hi);
    const below = grow(from, mid, depth + 1), atOrAbove = grow(mid, to, depth + 1);
    // Two leaves saying the same thing are one leaf.
    if (below.leaf && atOrAbove.leaf && below.label === atOrAbove.label) return node;
    return { leaf: false, feature: bestFeature, threshold, size, below, atOrAbove };
  };

  return { root: grow(0, rows, 0), cols, classes };
}

export function predictRow(tree: Tree, row: ArrayLike<number>, offset = 0): number {
  let node = tree.root;
  while (!node.leaf) node = row[offset + node.feature]! < node.threshold ? node.below : node.atOrAbove;
  return node.label;
}

export function predictTree(tree: Tree, x: Matrix): Int32Array {
  const out = new Int32Array(x.rows);
  for (let i = 0; i < x.rows; i++) out[i] = predictRow(tree, x.data, i * x.cols);
  return out;
}

/** How a feature reads in a rule: its name and how its values print. */
export interface FeatureText { name: string; format: (value: number) => string }

export interface LeafRule {
  label: number;
  /** One condition per feature on the path, tightest bounds only, e.g. `Medicine share ≥ 62 %`. */
  conditions: string[];
  /** The conditions joined by " and " (`always` for a tree that is one leaf). */
  text: string;
  /** Training rows in the leaf, and the share of them carrying `label`. */
  size: number;
  purity: number;
}

/** Every leaf as a rule a librarian can read, largest leaves first. */
export function treeRules(tree: Tree, features: readonly FeatureText[]): LeafRule[] {
  const out: LeafRule[] = [];
  const walk = (node: TreeNode, bounds: Map<number, { lo?: number; hi?: number }>) => {
    if (node.leaf) {
      const conditions = [...bounds.entries()].sort((a, b) => a[0] - b[0]).map(([j, { lo, hi }]) => {
        const f = features[j] ?? { name: `feature ${j}`, format: String };
        if (lo !== undefined && hi !== undefined) return `${f.format(lo)} ≤ ${f.name} < ${f.format(hi)}`;
        return lo !== undefined ? `${f.name} ≥ ${f.format(lo)}` : `${f.name} < ${f.format(hi!)}`;
      });
      out.push({ label: node.label, conditions, text: conditions.join(' and ') || 'always', size: node.size, purity: node.size ? node.correct / node.size : 0 });
      return;
    }
    const b = bounds.get(node.feature) ?? {};
    walk(node.below, new Map(bounds).set(node.feature, { ...b, hi: Math.min(b.hi ?? Infinity, node.threshold) }));
    walk(node.atOrAbove, new Map(bounds).set(node.feature, { ...b, lo: Math.max(b.lo ?? -Infinity, node.threshold) }));
  };
  walk(tree.root, new Map());
  return out.sort((a, b) => b.size - a.size);
}
