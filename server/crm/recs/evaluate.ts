// Offline evaluation on the real borrowing log with a temporal hold-out: train on loans before
// `trainBefore`, test on the books each patron newly borrowed in [trainBefore, testBefore).
import { CLC_CLASSES } from '../../catalogue/classification.js';
import type { LogLoan } from '../sibgmu.js';
import { trainRecommender } from './model.js';
import { Scorer } from './recommend.js';
import type { RecommenderOptions, TrainingData } from './types.js';

const DAY_MS = 86_400_000;
export const dayNumber = (isoDate: string) => Math.floor(Date.parse(`${isoDate}T00:00:00Z`) / DAY_MS);

/** The log as dense indices: readers and books numbered in order of first appearance, books' CLC class. */
export interface IndexedLog {
  readers: string[];
  books: string[];
  bookClass: Uint16Array;
  patron: Int32Array;
  item: Int32Array;
  day: Int32Array;
}

export function indexLog(log: readonly LogLoan[]): IndexedLog {
  const readerIx = new Map<string, number>(), bookIx = new Map<string, number>(), classes: number[] = [];
  const n = log.length, patron = new Int32Array(n), item = new Int32Array(n), day = new Int32Array(n);
  log.forEach((l, k) => {
    let p = readerIx.get(l.reader);
    if (p === undefined) readerIx.set(l.reader, (p = readerIx.size));
    let i = bookIx.get(l.book);
    if (i === undefined) {
      bookIx.set(l.book, (i = bookIx.size));
      const c = (CLC_CLASSES as readonly string[]).indexOf(l.clc);
      if (c < 0) throw new RangeError(`book ${l.book}: ${l.clc} is not a CLC top-level class`);
      classes.push(c);
    }
    patron[k] = p; item[k] = i; day[k] = dayNumber(l.date);
  });
  return { readers: [...readerIx.keys()], books: [...bookIx.keys()], bookClass: Uint16Array.from(classes), patron, item, day };
}

export interface HoldoutOptions {
  /** Train on loans before this date (YYYY-MM-DD). */
  trainBefore: string;
  /** Test on loans from trainBefore to before this date. */
  testBefore: string;
  /** List length: hit rate and NDCG "at k". */
  k: number;
  /** Patrons with fewer training loans than this form the cold group. */
  coldLoans: number;
  recommender: Partial<RecommenderOptions>;
}

export interface RankingMetrics { hitRate: number; ndcg: number; recall: number }

export interface HoldoutResult {
  trainBefore: string;
  testBefore: string;
  k: number;
  /** Patrons with ≥ 1 training loan and ≥ 1 newly borrowed test book. */
  users: number;
  engine: RankingMetrics;
  /** Most popular in training (loan count), excluding what the patron already borrowed. */
  baseline: RankingMetrics;
  /** engine.hitRate ÷ baseline.hitRate. */
  hitRateRatio: number;
  /** Patrons with fewer than `coldLoans` training loans (none at all included) and ≥ 1 test book. */
  cold: { users: number; engine: RankingMetrics; baseline: RankingMetrics };
}

/** Accumulates hit rate, NDCG (binary relevance, ideal = min(|test|, k) hits on top) and recall over users. */
class MetricSum {
  users = 0; hits = 0; ndcg = 0; recall = 0;
  add(list: ArrayLike<number>, length: number, relevant: Set<number>, k: number): void {
    let dcg = 0, found = 0;
    for (let r = 0; r < Math.min(k, length); r++) if (relevant.has(list[r]!)) { dcg += 1 / Math.log2(r + 2); found++; }
    let ideal = 0;
    for (let r = 0; r < Math.min(k, relevant.size); r++) ideal += 1 / Math.log2(r + 2);
    this.users++; this.hits += found > 0 ? 1 : 0; this.ndcg += dcg / ideal; this.recall += found / relevant.size;
  }
  get metrics(): RankingMetrics {
    const u = this.users || 1;
    return { hitRate: this.hits / u, ndcg: this.ndcg / u, recall: this.recall / u };
  }
}

/** The engine and the most-popular baseline, both trained on the log's loans before `cutoff` (a day number). */
class Cutoff {
  readonly scorer: Scorer;
  /** Each patron's training items and loan count. */
  readonly trained: Set<number>[];
  readonly loans: Int32Array;
  private readonly popular: number[];
  private readonly baselineList: Int32Array;

  constructor(ix: IndexedLog, cutoff: number, private readonly k: number, options: Partial<RecommenderOptions>) {
    const rows: number[] = [];
    for (let r = 0; r < ix.day.length; r++) if (ix.day[r]! < cutoff) rows.push(r);
    const pick = (column: Int32Array) => Int32Array.from(rows, (r) => column[r]!);
    const data: TrainingData = {
      loans: { patron: pick(ix.patron), item: pick(ix.item), day: pick(ix.day) },
      patronCount: ix.readers.length, itemCount: ix.books.length, itemClass: ix.bookClass, classCount: CLC_CLASSES.length, asOfDay: cutoff,
    };
    this.scorer = new Scorer(trainRecommender(data, options), k);
    this.trained = Array.from({ length: ix.readers.length }, () => new Set<number>());
    this.loans = new Int32Array(ix.readers.length);
    const counts = new Float64Array(ix.books.length);
    for (const r of rows) { this.trained[ix.patron[r]!]!.add(ix.item[r]!); this.loans[ix.patron[r]!]!++; counts[ix.item[r]!]!++; }
    this.popular = Array.from(counts.keys()).filter((i) => counts[i]! > 0).sort((a, b) => counts[b]! - counts[a]! || a - b);
    this.baselineList = new Int32Array(k);
  }

  /** Scores patron p with the engine and with the baseline, into the two sums. */
  add(p: number, relevant: Set<number>, engine: MetricSum, baseline: MetricSum): void {
    const count = this.scorer.score(p);
    let n = 0;
    for (let q = 0; q < this.popular.length && n < this.k; q++) if (!this.trained[p]!.has(this.popular[q]!)) this.baselineList[n++] = this.popular[q]!;
    engine.add(this.scorer.picked.item, count, relevant, this.k);
    baseline.add(this.baselineList, n, relevant, this.k);
  }
}

/** Per patron, the books they borrowed in [from, to) that they had not borrowed before the cutoff. */
function newBooks(ix: IndexedLog, at: Cutoff, from: number, to: number, who: (p: number) => boolean): Map<number, Set<number>> {
  const tests = new Map<number, Set<number>>();
  for (let r = 0; r < ix.day.length; r++) {
    const d = ix.day[r]!, p = ix.patron[r]!, i = ix.item[r]!;
    if (d < from || d >= to || at.trained[p]!.has(i) || !who(p)) continue;
    let set = tests.get(p);
    if (!set) tests.set(p, (set = new Set()));
    set.add(i);
  }
  return new Map([...tests].sort((a, b) => a[0] - b[0]));
}

const indexCache = new WeakMap<readonly LogLoan[], IndexedLog>();
function indexed(log: readonly LogLoan[]): IndexedLog {
  let ix = indexCache.get(log);
  if (!ix) indexCache.set(log, (ix = indexLog(log)));
  return ix;
}

export function evaluateTemporalHoldout(log: readonly LogLoan[], options: Partial<HoldoutOptions> = {}): HoldoutResult {
  const o: HoldoutOptions = { trainBefore: '2021-01-01', testBefore: '2022-01-01', k: 10, coldLoans: 3, recommender: {}, ...options };
  const ix = indexed(log), split = dayNumber(o.trainBefore);
  const at = new Cutoff(ix, split, o.k, o.recommender);
  const engine = new MetricSum(), baseline = new MetricSum(), coldEngine = new MetricSum(), coldBaseline = new MetricSum();
  for (const [p, relevant] of newBooks(ix, at, split, dayNumber(o.testBefore), () => true)) {
    if (at.loans[p]! >= 1) at.add(p, relevant, engine, baseline);
    if (at.loans[p]! < o.coldLoans) at.add(p, relevant, coldEngine, coldBaseline);
  }
  const e = engine.metrics, b = baseline.metrics;
  return {
    trainBefore: o.trainBefore, testBefore: o.testBefore, k: o.k, users: engine.users,
    engine: e, baseline: b, hitRateRatio: b.hitRate > 0 ? e.hitRate / b.hitRate : Infinity,
    cold: { users: coldEngine.users, engine: coldEngine.metrics, baseline: coldBaseline.metrics },
  };
}

export interface SparseOptions {
  /** Monthly cutoffs from this date (YYYY-MM-DD) … */
  from: string;
  /** … to before this one; test windows end here too. */
  to: string;
  /** A test window: the books newly borrowed in this many days after the cutoff. */
  horizonDays: number;
  k: number;
  /** Patrons with 1 … maxLoans - 1 loans before the cutoff. */
  maxLoans: number;
  recommender: Partial<RecommenderOptions>;
}

export interface SparseResult { users: number; engine: RankingMetrics; baseline: RankingMetrics }

/**
 * Patrons with only one or two loans: rare at any single cutoff (none of the 2021 hold-out's patrons),
 * so this takes a cutoff on the first of every month and evaluates each such patron once, at the first
 * cutoff where they have 1 … maxLoans-1 loans and borrow a new book within the horizon.
 */
export function evaluateSparsePatrons(log: readonly LogLoan[], options: Partial<SparseOptions> = {}): SparseResult {
  const o: SparseOptions = { from: '2016-01-01', to: '2021-01-01', horizonDays: 365, k: 10, maxLoans: 3, recommender: {}, ...options };
  const ix = indexed(log), end = dayNumber(o.to), seen = new Set<number>();
  const engine = new MetricSum(), baseline = new MetricSum();
  for (let month = new Date(`${o.from}T00:00:00Z`); dayNumber(month.toISOString().slice(0, 10)) < end; month.setUTCMonth(month.getUTCMonth() + 1)) {
    const cutoff = dayNumber(month.toISOString().slice(0, 10));
    const at = new Cutoff(ix, cutoff, o.k, o.recommender);
    const sparse = (p: number) => !seen.has(p) && at.loans[p]! >= 1 && at.loans[p]! < o.maxLoans;
    for (const [p, relevant] of newBooks(ix, at, cutoff, Math.min(end, cutoff + o.horizonDays), sparse)) {
      seen.add(p);
      at.add(p, relevant, engine, baseline);
    }
  }
  return { users: engine.users, engine: engine.metrics, baseline: baseline.metrics };
}
