// A bounded min-heap over (id, score) in typed arrays: keeps the k best of a stream without allocating.

export class TopK {
  readonly ids: Int32Array;
  readonly scores: Float64Array;
  size = 0;

  constructor(readonly capacity: number) {
    this.ids = new Int32Array(capacity);
    this.scores = new Float64Array(capacity);
  }

  clear(): void { this.size = 0; }

  /** The score an id must beat to enter (-Infinity while not full). */
  get floor(): number { return this.size < this.capacity ? -Infinity : this.scores[0]!; }

  /** Offers an id; once full, one that only equals the floor does not displace it (first come, first kept). */
  push(id: number, score: number): void {
    const { ids, scores } = this;
    if (this.size < this.capacity) {
      let c = this.size++;
      while (c > 0) {
        const parent = (c - 1) >> 1;
        if (scores[parent]! <= score) break;
        ids[c] = ids[parent]!; scores[c] = scores[parent]!; c = parent;
      }
      ids[c] = id; scores[c] = score;
      return;
    }
    if (this.capacity === 0 || score <= scores[0]!) return;
    this.siftDown(id, score);
  }

  private siftDown(id: number, score: number): void {
    const { ids, scores, size } = this;
    let c = 0;
    for (;;) {
      let child = 2 * c + 1;
      if (child >= size) break;
      if (child + 1 < size && scores[child + 1]! < scores[child]!) child++;
      if (scores[child]! >= score) break;
      ids[c] = ids[child]!; scores[c] = scores[child]!; c = child;
    }
    ids[c] = id; scores[c] = score;
  }

  /** Empties the heap into `outIds` / `outScores`, best first; returns how many were written. */
  drainDescending(outIds: Int32Array, outScores?: Float64Array | Float32Array, offset = 0): number {
    const n = this.size;
    for (let r = n - 1; r >= 0; r--) {
      const id = this.ids[0]!, score = this.scores[0]!;
      outIds[offset + r] = id;
      if (outScores) outScores[offset + r] = score;
      const lastId = this.ids[--this.size]!, lastScore = this.scores[this.size]!;
      if (this.size > 0) this.siftDown(lastId, lastScore);
    }
    return n;
  }
}
