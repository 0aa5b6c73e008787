import { Random } from '../../seed/random.js';

/** 0..n-1 in random order (Fisher–Yates); only the first `m` places are shuffled when `m` is given. */
function shuffled(n: number, random: Random, m = n): Int32Array {
  const all = new Int32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  for (let i = 0; i < Math.min(m, n - 1); i++) {
    const j = i + Math.floor(random.next() * (n - i));
    const t = all[i]!; all[i] = all[j]!; all[j] = t;
  }
  return all;
}

/** `m` distinct indices out of 0..n-1 in increasing order (all of them when m ≥ n). */
export function sampleIndices(n: number, m: number, random: Random): Int32Array {
  return m >= n ? shuffled(n, random, 0) : shuffled(n, random, m).slice(0, m).sort();
}

/** `size` (default n) indices out of 0..n-1 drawn with replacement: one bootstrap resample. */
export function bootstrapIndices(n: number, random: Random, size = n): Int32Array {
  const out = new Int32Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(random.next() * n);
  return out;
}

/** Splits 0..n-1 at random into a training part of `round(share × n)` indices and the held-out rest. */
export function splitIndices(n: number, share: number, random: Random): { train: Int32Array; test: Int32Array } {
  const order = shuffled(n, random);
  const cut = Math.round(share * n);
  return { train: order.slice(0, cut).sort(), test: order.slice(cut).sort() };
}
