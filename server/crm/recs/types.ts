// The recommendation engine's contract: loans in, top-N per patron out. Pure and columnar — no SQLite,
// no strings; the adapter from the database maps patrons and items to dense indices and back.

/** Loans as parallel columns: loan k is `patron[k]` borrowing `item[k]` on day `day[k]` (days since 1970-01-01, UTC). */
export interface LoanColumns {
  readonly patron: Int32Array;
  readonly item: Int32Array;
  readonly day: Int32Array;
}

export interface TrainingData {
  readonly loans: LoanColumns;
  /** Patron indices run 0 … patronCount-1; a patron with no loan gets the cold-start fallback. */
  readonly patronCount: number;
  /** Item indices run 0 … itemCount-1 (an "item" is whatever is recommended: a record, or a title). */
  readonly itemCount: number;
  /** Subject class of each item, 0 … classCount-1 (e.g. the index of its CLC top-level class). */
  readonly itemClass: ArrayLike<number>;
  readonly classCount: number;
  /** The day the model is trained as of; recency weights count back from it. Default: the last loan day + 1. */
  readonly asOfDay?: number;
}

/**
 * Hyper-parameters. The defaults (`DEFAULT_OPTIONS`) were chosen on validation splits inside the
 * training period only (train < 2019 → books newly borrowed in 2019; train < 2020 → 2020) and frozen
 * before the 2021 test; see docs/crm-recommendations.md and `tune.ts`.
 */
export interface RecommenderOptions {
  /** Neighbours kept per item (pruning): the K most similar items. */
  neighbours: number;
  /** Asymmetric cosine: sim(i→j) = co(i,j) / (n_i^alpha · n_j^(1-alpha)); 0.5 is the plain cosine. */
  alpha: number;
  /**
   * Weight of a co-borrowing pair in which j was borrowed *before* i, when scoring "readers who borrowed
   * i went on to borrow j". 1 is symmetric co-borrowing; 0 counts only readers who borrowed j later.
   */
  backwardWeight: number;
  /** Weight of a pair borrowed on the same day (both directions): bought together, weaker evidence of what comes next. */
  sameDayWeight: number;
  /** A pair's weight halves for every this many days between the two loans (Infinity: no decay). */
  pairHalfLifeDays: number;
  /** A loan is paired with at most this many of the patron's loans before it and after it (scale bound for heavy readers). */
  pairSpan: number;
  /** An item's co-borrowing is estimated from at most this many of its borrowers (an even sample; scale bound). */
  maxBorrowersPerItem: number;
  /** Each patron's pairs are weighted 1 / (distinct items)^patronExponent, so heavy readers do not dominate. */
  patronExponent: number;
  /** Scoring uses the patron's this many most recently (first) borrowed items; older ones are only excluded (scale bound). */
  historyItems: number;
  /** The patron's own history: a borrowed item's weight halves every this many days before asOf. */
  historyHalfLifeDays: number;
  /** Recency-weighted popularity (subject profile and fallback): a loan's weight halves every this many days. */
  popularityHalfLifeDays: number;
  /**
   * Blend: final = knn / max(knn) + subjectWeight · subject / max(subject). At 0 the subject profile
   * still breaks ties and fills a short list (its weight never drops below 1e-6).
   */
  subjectWeight: number;
  /**
   * The cold-start fallback is popularity among newcomers: loans within this many days of the patron's
   * first loan. A patron with no loans gets it; for everyone else it only fills a list that runs short.
   */
  newcomerDays: number;
  /** How many contributing borrowed items an explanation names. */
  explainItems: number;
}

/**
 * Chosen by `tuneOnValidation` (tune.ts) on the 2019 and 2020 validation folds, then frozen; the 2021
 * test was run with these. The scale bounds (pairSpan, maxBorrowersPerItem, historyItems) were set
 * afterwards and checked to cost nothing on the same folds; explainItems is a product choice.
 */
export const DEFAULT_OPTIONS: RecommenderOptions = {
  neighbours: 50,
  alpha: 0.7,
  backwardWeight: 0.1,
  sameDayWeight: 0.1,
  pairHalfLifeDays: 480,
  patronExponent: 0.25,
  pairSpan: 20,
  maxBorrowersPerItem: 100,
  historyHalfLifeDays: 120,
  historyItems: 30,
  popularityHalfLifeDays: 90,
  subjectWeight: 0,
  newcomerDays: 0,
  explainItems: 3,
};

/** Why an item is recommended. `because` lists the borrowed items that contributed most, strongest first. */
export type Explanation =
  | { kind: 'co-borrowed'; because: number[] }
  | { kind: 'subject'; subjectClass: number }
  | { kind: 'popular' };

export interface Recommendation {
  item: number;
  score: number;
  explanation: Explanation;
}

/** Everyone's recommendations as columns: patron p's rank r is at p · n + r; item -1 where fewer than n. */
export interface RecommendationTable {
  n: number;
  explainItems: number;
  item: Int32Array;
  score: Float32Array;
  /** 0 co-borrowed, 1 subject, 2 popular. */
  kind: Uint8Array;
  /** Contributing borrowed items, `explainItems` per slot (-1 padded); for kind 1 slot 0 holds the class. */
  because: Int32Array;
}

export const KIND_CODES = { 'co-borrowed': 0, subject: 1, popular: 2 } as const;
