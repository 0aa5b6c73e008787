/** A dense row-major matrix of `rows × cols` numbers, as the segmentation numerics pass them around. */
export interface Matrix {
  readonly data: Float64Array;
  readonly rows: number;
  readonly cols: number;
}

export function matrix(rows: number, cols: number, data = new Float64Array(rows * cols)): Matrix {
  if (data.length !== rows * cols) throw new RangeError(`matrix: ${data.length} values for ${rows} × ${cols}`);
  return { data, rows, cols };
}

/** The rows at `indices`, in that order (an index may repeat, as in a bootstrap resample). */
export function takeRows(x: Matrix, indices: ArrayLike<number>): Matrix {
  const out = new Float64Array(indices.length * x.cols);
  for (let r = 0; r < indices.length; r++) out.set(x.data.subarray(indices[r]! * x.cols, (indices[r]! + 1) * x.cols), r * x.cols);
  return matrix(indices.length, x.cols, out);
}

/** The values at `indices` of a per-row array. */
export function takeLabels(labels: Int32Array, indices: ArrayLike<number>): Int32Array {
  const out = new Int32Array(indices.length);
  for (let r = 0; r < indices.length; r++) out[r] = labels[indices[r]!]!;
  return out;
}

/** Squared Euclidean distance between row `i` of `a` (offset `ai`) and row of `b` at offset `bi`, over `cols` values. */
export function squaredDistance(a: ArrayLike<number>, ai: number, b: ArrayLike<number>, bi: number, cols: number): number {
  let s = 0;
  for (let j = 0; j < cols; j++) { const t = a[ai + j]! - b[bi + j]!; s += t * t; }
  return s;
}
