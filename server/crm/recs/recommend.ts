// Scoring one patron: directional co-borrowing from what they borrowed (time-decayed), blended with
// popularity in their subject classes; the newcomer fallback for a patron with no loans (and to fill a
// short list); already-borrowed items excluded; each pick explained by what contributed most.
import type { RecommenderModel } from './model.js';
import { TopK } from './top-k.js';
import { KIND_CODES, type Explanation, type Recommendation, type RecommendationTable } from './types.js';

/**
 * The least weight of the subject profile: even at subjectWeight 0 it breaks ties between equal
 * co-borrowing scores and fills the list when the neighbours offer fewer than n unborrowed items.
 */
const SUBJECT_BACKFILL = 1e-6;

/**
 * The newcomer fallback's weight for a patron who has loans: below everything else, so it only fills a
 * list. On 68 patrons with one or two loans (monthly cutoffs 2016–2020, `evaluateSparsePatrons`) their
 * co-borrowing alone hit 0.485 at 10 and blending the fallback in at weight 1 only 0.368.
 */
const FALLBACK_BACKFILL = 1e-9;

/** Scratch rows sized to the catalogue, reused from patron to patron (one Scorer per thread). */
export class Scorer {
  /**
   * Co-borrowing score per candidate; all zero between patrons (the selection pass clears what it reads).
   * Before selection the few subject and fallback candidates get their part added, scaled to knn's units.
   */
  private readonly knn: Float64Array;
  /** Subject-profile and fallback popularity, non-zero only for the items listed in `extras`. */
  private readonly subject: Float64Array;
  private readonly popular: Float64Array;
  private readonly extras: Int32Array;
  private nExtras = 0;
  /** stamp[j] = -generation: j is borrowed; = generation: j is a candidate; = generation + 1: j is picked. */
  private readonly stamp: Int32Array;
  private generation = 0;
  private readonly candidates: Int32Array;
  private readonly weights: Float64Array;
  private readonly profile: Float64Array;
  private readonly top: TopK;
  private readonly explainItems: number;
  /** Per pick: its strongest contributing borrowed items and their contributions, `explainItems` each. */
  private readonly contributor: Int32Array;
  private readonly contribution: Float64Array;
  private readonly rankOf: Int32Array;
  private scale = { subject: 0, popular: 0 };
  /** The last patron's picks, best first: `item` in the caller's numbering, `pickedRanks` in the model's. */
  readonly picked: { item: Int32Array; score: Float64Array; count: number };
  private readonly pickedRanks: Int32Array;

  constructor(private readonly model: RecommenderModel, private readonly n: number) {
    const items = model.histories.itemCount;
    this.explainItems = model.options.explainItems;
    this.knn = new Float64Array(items);
    this.subject = new Float64Array(items);
    this.popular = new Float64Array(items);
    this.extras = new Int32Array(items);
    this.stamp = new Int32Array(items);
    this.candidates = new Int32Array(items);
    this.rankOf = new Int32Array(items);
    this.weights = new Float64Array(Math.max(1, Math.min(model.options.historyItems, items)));
    this.profile = new Float64Array(model.classCount);
    this.top = new TopK(n);
    this.contributor = new Int32Array(n * this.explainItems);
    this.contribution = new Float64Array(n * this.explainItems);
    this.picked = { item: new Int32Array(n), score: new Float64Array(n), count: 0 };
    this.pickedRanks = new Int32Array(n);
  }

  /** Scores patron p (no history is fine: the fallback). Read the result from `picked` and `explain`. */
  score(p: number): number {
    const m = this.model, o = m.options, h = m.histories;
    const { knn, subject, popular, extras, stamp, candidates, weights } = this;
    for (let k = 0; k < this.nExtras; k++) { const j = extras[k]!; subject[j] = 0; popular[j] = 0; }
    const gen = (this.generation += 2);
    let nc = 0, ne = 0;
    const begin = h.start[p] ?? 0, end = h.start[p + 1] ?? 0;
    for (let s = begin; s < end; s++) stamp[h.item[s]!] = -gen;

    // Co-borrowing: Σ over borrowed i of w_i · sim(i → j); w_i decays with the time since i was last
    // borrowed. The evidence is the patron's `historyItems` most recently first-borrowed items (every
    // borrowed item is excluded all the same).
    const historyRate = Number.isFinite(o.historyHalfLifeDays) ? Math.LN2 / o.historyHalfLifeDays : 0;
    const { start: nStart, item: nItem, sim } = m.neighbours;
    const profile = this.profile.fill(0);
    const evidence = Math.max(begin, end - o.historyItems);
    let profileSum = 0, maxKnn = 0;
    for (let s = evidence; s < end; s++) {
      const i = h.item[s]!, w = (weights[s - evidence] = Math.exp(-historyRate * Math.max(0, m.asOfDay - h.lastDay[s]!)));
      profile[m.itemClass[i]!]! += w; profileSum += w;
      for (let q = nStart[i]!, qEnd = nStart[i + 1]!; q < qEnd; q++) {
        const j = nItem[q]!, st = stamp[j]!;
        if (st === -gen) continue;
        if (st !== gen) { stamp[j] = gen; candidates[nc++] = j; }
        const v = (knn[j] = knn[j]! + w * sim[q]!);
        if (v > maxKnn) maxKnn = v;
      }
    }

    // Subject profile: popularity within the patron's classes, weighted by the class's share of the history.
    let maxSubject = 0, maxPopular = 0;
    if (profileSum > 0) {
      const { start: cStart, item: cItem } = m.byClass;
      for (let c = 0; c < m.classCount; c++) {
        const share = profile[c]! / profileSum;
        if (share === 0) continue;
        for (let q = cStart[c]!, taken = 0; q < cStart[c + 1]! && taken < this.n; q++) {
          const j = cItem[q]!;
          if (stamp[j] === -gen) continue;
          if (stamp[j] !== gen) { stamp[j] = gen; candidates[nc++] = j; }
          extras[ne++] = j;
          subject[j] = share * m.popularity[j]!;
          if (subject[j]! > maxSubject) maxSubject = subject[j]!;
          taken++;
        }
      }
    }

    // The newcomer fallback: all that a patron with no loans gets; for anyone else it only fills the list.
    const hasHistory = end > begin;
    for (let q = 0, taken = 0; q < m.fallbackRanked.length && taken < this.n; q++) {
      const j = m.fallbackRanked[q]!;
      if (stamp[j] === -gen) continue;
      if (stamp[j] !== gen) { stamp[j] = gen; candidates[nc++] = j; }
      if (subject[j] === 0) extras[ne++] = j;
      popular[j] = m.fallback[j]!;
      if (popular[j]! > maxPopular) maxPopular = popular[j]!;
      taken++;
    }
    this.nExtras = ne;

    // final = knn / maxKnn + kS · subject + kP · popular, ranked in knn's units (× maxKnn).
    const kS = maxSubject > 0 ? Math.max(o.subjectWeight, SUBJECT_BACKFILL) / maxSubject : 0;
    const kP = maxPopular > 0 ? (hasHistory ? FALLBACK_BACKFILL : 1) / maxPopular : 0;
    const unit = maxKnn > 0 ? maxKnn : 1;
    this.scale = { subject: kS, popular: kP };
    for (let k = 0; k < ne; k++) { const j = extras[k]!; knn[j] = knn[j]! + unit * (subject[j]! * kS + popular[j]! * kP); }
    const top = this.top;
    top.clear();
    for (let k = 0; k < nc; k++) {
      const j = candidates[k]!, x = knn[j]!;
      knn[j] = 0;
      if (x > top.floor) top.push(j, x);
    }
    const count = (this.picked.count = top.drainDescending(this.pickedRanks, this.picked.score));
    for (let r = 0; r < count; r++) { this.picked.item[r] = m.itemOfRank[this.pickedRanks[r]!]!; this.picked.score[r] = this.picked.score[r]! / unit; }

    // The explanation: a second pass over the neighbours, keeping contributions to the picks only.
    const picked = gen + 1, E = this.explainItems;
    for (let r = 0; r < count; r++) { const j = this.pickedRanks[r]!; stamp[j] = picked; this.rankOf[j] = r; }
    this.contributor.fill(-1, 0, count * E);
    this.contribution.fill(0, 0, count * E);
    if (maxKnn > 0) {
      for (let s = evidence; s < end; s++) {
        const i = h.item[s]!, w = weights[s - evidence]!;
        for (let q = nStart[i]!, qEnd = nStart[i + 1]!; q < qEnd; q++) {
          const j = nItem[q]!;
          if (stamp[j] === picked) this.addContributor(this.rankOf[j]! * E, i, w * sim[q]!);
        }
      }
    }
    return count;
  }

  /** Why the r-th pick was made: the component that gave it most of its score. */
  explain(r: number): Explanation {
    const j = this.pickedRanks[r]!, E = this.explainItems;
    const fromSubject = this.subject[j]! * this.scale.subject, fromPopular = this.popular[j]! * this.scale.popular;
    const fromKnn = this.picked.score[r]! - fromSubject - fromPopular;
    if (this.contributor[r * E]! >= 0 && fromKnn >= fromSubject && fromKnn >= fromPopular) {
      const because: number[] = [];
      for (let e = r * E; e < r * E + E && this.contributor[e]! >= 0; e++) because.push(this.model.itemOfRank[this.contributor[e]!]!);
      return { kind: 'co-borrowed', because };
    }
    if (fromSubject > 0 && fromSubject >= fromPopular) return { kind: 'subject', subjectClass: this.model.itemClass[j]! };
    return { kind: 'popular' };
  }

  /** Keeps the E largest contributions in a row, largest first (insertion into E slots). */
  private addContributor(row: number, i: number, c: number): void {
    const E = this.explainItems, { contributor, contribution } = this;
    if (c <= contribution[row + E - 1]!) return;
    let e = E - 1;
    while (e > 0 && contribution[row + e - 1]! < c) {
      contribution[row + e] = contribution[row + e - 1]!;
      contributor[row + e] = contributor[row + e - 1]!;
      e--;
    }
    contribution[row + e] = c; contributor[row + e] = i;
  }
}

/**
 * Patron p's top n, best first, each with its explanation. A patron the model has not seen (an index
 * ≥ patronCount, e.g. registered since training) gets the newcomer fallback. Allocates scratch the size
 * of the catalogue: for many patrons keep one `Scorer`, or use `recommendAll`.
 */
export function recommend(model: RecommenderModel, patron: number, n = 10): Recommendation[] {
  const scorer = new Scorer(model, n);
  const count = scorer.score(patron);
  return Array.from({ length: count }, (_, r) => ({ item: scorer.picked.item[r]!, score: scorer.picked.score[r]!, explanation: scorer.explain(r) }));
}

/** Everyone's top n as columns: patron p's picks at rows p · n … p · n + n - 1. */
export function recommendAll(model: RecommenderModel, n = 10): RecommendationTable {
  const rows = model.histories.patronCount, E = model.options.explainItems;
  const table: RecommendationTable = {
    n, explainItems: E,
    item: new Int32Array(rows * n).fill(-1), score: new Float32Array(rows * n),
    kind: new Uint8Array(rows * n), because: new Int32Array(rows * n * E).fill(-1),
  };
  const scorer = new Scorer(model, n);
  for (let p = 0; p < rows; p++) {
    const count = scorer.score(p), base = p * n;
    for (let r = 0; r < count; r++) {
      table.item[base + r] = scorer.picked.item[r]!;
      table.score[base + r] = scorer.picked.score[r]!;
      const x = scorer.explain(r);
      table.kind[base + r] = KIND_CODES[x.kind];
      if (x.kind === 'co-borrowed') x.because.forEach((i, e) => { table.because[(base + r) * E + e] = i; });
      else if (x.kind === 'subject') table.because[(base + r) * E] = x.subjectClass;
    }
  }
  return table;
}

/** "Readers who borrowed this went on to borrow": the item's nearest neighbours, most similar first. */
export function similarItems(model: RecommenderModel, item: number, n = 10): { item: number; score: number }[] {
  const r = model.rankOfItem[item];
  if (r === undefined) throw new RangeError(`no item ${item}`);
  const { start, item: neighbour, sim } = model.neighbours, out: { item: number; score: number }[] = [];
  for (let q = start[r]!; q < start[r + 1]! && out.length < n; q++) out.push({ item: model.itemOfRank[neighbour[q]!]!, score: sim[q]! });
  return out;
}

/** The explanation as an English sentence, given names for items and classes (the web localises its own). */
export function describeExplanation(x: Explanation, itemName: (i: number) => string, className: (c: number) => string): string {
  switch (x.kind) {
    case 'co-borrowed': return `because you borrowed ${x.because.map(itemName).join(', ')}`;
    case 'subject': return `popular in your subjects: ${className(x.subjectClass)}`;
    case 'popular': return 'popular with new readers';
  }
}
