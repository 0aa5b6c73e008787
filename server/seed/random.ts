/** Deterministic PRNG (mulberry32): the same seed gives the same library on every machine. */
export class Random {
  private a: number;
  constructor(seed: number) { this.a = seed >>> 0; }

  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(min: number, max: number): number { return min + Math.floor(this.next() * (max - min + 1)); }
  pick<T>(xs: readonly T[]): T { return xs[Math.floor(this.next() * xs.length)]!; }
  chance(p: number): boolean { return this.next() < p; }

  /** Index drawn with probability proportional to its weight. */
  weighted(weights: readonly number[]): number {
    const total = weights.reduce((s, w) => s + w, 0);
    let x = this.next() * total;
    for (let i = 0; i < weights.length; i++) { x -= weights[i]!; if (x < 0) return i; }
    return weights.length - 1;
  }

  digits(n: number): string { let s = ''; for (let i = 0; i < n; i++) s += String(this.int(0, 9)); return s; }
  hex(n: number): string { let s = ''; for (let i = 0; i < n; i++) s += '0123456789ABCDEF'[this.int(0, 15)]; return s; }
}
