// Silhouette (Rousseeuw 1987) with Euclidean distance, on a random sample of rows as scikit-learn's
// silhouette_score(sample_size): the distances are taken among the sampled rows only. The sample's
// pairwise distances do not depend on the labels, so they are computed once and reused for every k.
import { Random } from '../../seed/random.js';
import type { Matrix } from './matrix.js';
import { sampleIndices } from './sampling.js';

export interface SilhouetteOptions {
  /** Rows sampled (default 3000); all rows when there are fewer. */
  sampleSize?: number;
  seed?: number;
}

/** The sampled rows of a matrix and their pairwise distances (condensed upper triangle, Float32). */
export class SilhouetteSample {
  readonly rows: Int32Array;
  private readonly distances: Float32Array;

  constructor(x: Matrix, options: SilhouetteOptions = {}) {
    const { data, cols } = x;
    this.rows = sampleIndices(x.rows, options.sampleSize ?? 3000, new Random(options.seed ?? 1));
    const m = this.rows.length;
    const packed = new Float64Array(m * cols);
    for (let a = 0; a < m; a++) packed.set(data.subarray(this.rows[a]! * cols, (this.rows[a]! + 1) * cols), a * cols);
    this.distances = new Float32Array((m * (m - 1)) / 2);
    for (let a = 0, at = 0; a < m; a++) {
      for (let b = a + 1, bo = b * cols; b < m; b++, bo += cols) {
        let s = 0;
        for (let j = 0, ao = a * cols; j < cols; j++) { const t = packed[ao + j]! - packed[bo + j]!; s += t * t; }
        this.distances[at++] = Math.sqrt(s);
      }
    }
  }

  /** Mean silhouette of the sampled rows under `labels` (one per row of the matrix); a row alone in its cluster within the sample scores 0. */
  score(labels: Int32Array, k: number): number {
    const m = this.rows.length;
    const own = new Int32Array(m), sizes = new Int32Array(k);
    for (let a = 0; a < m; a++) { own[a] = labels[this.rows[a]!]!; sizes[own[a]!]!++; }
    // sums[a·k + c]: summed distance of sampled row a to the sampled rows of cluster c.
    const sums = new Float64Array(m * k);
    for (let a = 0, at = 0; a < m; a++) {
      const la = own[a]!;
      for (let b = a + 1; b < m; b++) {
        const dist = this.distances[at++]!;
        sums[a * k + own[b]!]! += dist;
        sums[b * k + la]! += dist;
      }
    }
    let total = 0;
    for (let a = 0; a < m; a++) {
      const c = own[a]!;
      if (sizes[c]! < 2) continue;
      const inner = sums[a * k + c]! / (sizes[c]! - 1);
      let nearest = Infinity;
      for (let o = 0; o < k; o++) if (o !== c && sizes[o]! > 0) nearest = Math.min(nearest, sums[a * k + o]! / sizes[o]!);
      if (nearest === Infinity) continue;
      const span = Math.max(inner, nearest);
      total += span > 0 ? (nearest - inner) / span : 0;
    }
    return total / m;
  }
}

/** Mean silhouette of a (sampled) labelling; see `SilhouetteSample` to score several labellings of the same rows. */
export function silhouette(x: Matrix, labels: Int32Array, k: number, options: SilhouetteOptions = {}): number {
  return new SilhouetteSample(x, options).score(labels, k);
}
