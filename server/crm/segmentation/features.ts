// Reading profiles: from a patron's loans to the numbers the segmentation works on. Input is plain
// values (a patron id, a CLC class, a day number) so that the log loader, a SQLite adapter or a test
// can feed it; output is typed arrays, one row per patron.
import { CLC_CLASSES } from '../../catalogue/classification.js';
import { matrix, type Matrix } from './matrix.js';

export const DAY_MS = 86_400_000;

/** Days since 1970-01-01 (UTC) of a `YYYY-MM-DD` date or an ISO instant. */
export function dayOf(date: string): number {
  const ms = Date.parse(date.length === 10 ? `${date}T00:00:00Z` : date);
  if (Number.isNaN(ms)) throw new RangeError(`dayOf: not a date: ${date}`);
  return Math.floor(ms / DAY_MS);
}

/** One loan as the profile needs it. */
export interface LoanFact {
  patron: string;
  /** CLC top-level class letter (A–Z of `CLC_CLASSES`); any other value counts as an unclassified loan. */
  clc: string;
  /** Loan day, days since 1970-01-01 UTC (see `dayOf`). */
  day: number;
}

/** Per-patron reading profiles; every array has one entry per patron, in the order of `patrons`. */
export interface PatronFeatures {
  patrons: string[];
  /** The day the profiles describe; recency and tenure count back from it. */
  asOfDay: number;
  /** `patrons × 22` share of the patron's classified loans per CLC class, in `CLC_CLASSES` order; a zero row when none is classified. */
  shares: Matrix;
  /** Loans in all (volume). */
  loans: Int32Array;
  /** Loans in the `window` days up to `asOfDay` (frequency). */
  recentLoans: Int32Array;
  /** Distinct CLC classes borrowed from (breadth). */
  breadth: Int32Array;
  /** Days since the last loan (recency). */
  recencyDays: Int32Array;
  /** Days since the first loan (tenure: the log knows no registration dates). */
  tenureDays: Int32Array;
  /** Distinct days with a loan, a proxy for visits (the loan log records no gate counts). */
  visits: Int32Array;
  /** Visits per 30 days of tenure, tenure counted as at least 30 days. */
  visitsPerMonth: Float64Array;
}

const CLASS_INDEX = new Map<string, number>(CLC_CLASSES.map((c, i) => [c, i]));
const UNCLASSIFIED = 255;

/** Collects loans one at a time (in any order), then builds the profiles. Memory: 9 bytes per loan. */
export class FeatureBuilder {
  private readonly index = new Map<string, number>();
  private readonly ids: string[] = [];
  private patronOf = new Int32Array(1024);
  private classOf = new Uint8Array(1024);
  private dayOfLoan = new Int32Array(1024);
  private count = 0;

  add(patron: string, clc: string, day: number): void {
    let p = this.index.get(patron);
    if (p === undefined) { p = this.ids.length; this.index.set(patron, p); this.ids.push(patron); }
    if (this.count === this.patronOf.length) this.grow();
    this.patronOf[this.count] = p;
    this.classOf[this.count] = CLASS_INDEX.get(clc) ?? UNCLASSIFIED;
    this.dayOfLoan[this.count] = day;
    this.count++;
  }

  /** Profiles as of `asOfDay` (default: the last loan day seen); `window` is the frequency window in days (default 365). */
  build(asOfDay?: number, window = 365): PatronFeatures {
    const n = this.ids.length, cols = CLC_CLASSES.length, count = this.count;
    const asOf = asOfDay ?? this.dayOfLoan.subarray(0, count).reduce((m, d) => Math.max(m, d), -Infinity);
    const counts = new Float64Array(n * cols);
    const loans = new Int32Array(n), recentLoans = new Int32Array(n), breadth = new Int32Array(n), visits = new Int32Array(n);
    const first = new Int32Array(n).fill(2 ** 31 - 1), last = new Int32Array(n).fill(-(2 ** 31));
    for (let i = 0; i < count; i++) {
      const p = this.patronOf[i]!, c = this.classOf[i]!, d = this.dayOfLoan[i]!;
      loans[p]!++;
      if (c !== UNCLASSIFIED) counts[p * cols + c]!++;
      if (d > asOf - window && d <= asOf) recentLoans[p]!++;
      if (d < first[p]!) first[p] = d;
      if (d > last[p]!) last[p] = d;
    }
    for (let p = 0, off = 0; p < n; p++, off += cols) {
      let classified = 0;
      for (let j = 0; j < cols; j++) if (counts[off + j]! > 0) { classified += counts[off + j]!; breadth[p]!++; }
      if (classified > 0) for (let j = 0; j < cols; j++) counts[off + j]! /= classified;
    }
    this.countVisits(visits);
    const recencyDays = new Int32Array(n), tenureDays = new Int32Array(n), visitsPerMonth = new Float64Array(n);
    for (let p = 0; p < n; p++) {
      recencyDays[p] = Math.max(0, asOf - last[p]!);
      tenureDays[p] = Math.max(0, asOf - first[p]!);
      visitsPerMonth[p] = visits[p]! / (Math.max(30, tenureDays[p]!) / 30);
    }
    return {
      patrons: [...this.ids], asOfDay: asOf, shares: matrix(n, cols, counts),
      loans, recentLoans, breadth, recencyDays, tenureDays, visits, visitsPerMonth,
    };
  }

  /** Distinct (patron, day) pairs per patron: the loans sorted by patron then day, counted once per run. */
  private countVisits(visits: Int32Array): void {
    const keys = new Float64Array(this.count);
    for (let i = 0; i < this.count; i++) keys[i] = this.patronOf[i]! * 1e6 + (this.dayOfLoan[i]! + 5e5);
    keys.sort();
    for (let i = 0; i < keys.length; i++) if (i === 0 || keys[i] !== keys[i - 1]) visits[Math.floor(keys[i]! / 1e6)]!++;
  }

  private grow(): void {
    const size = this.patronOf.length * 2;
    const p = new Int32Array(size); p.set(this.patronOf); this.patronOf = p;
    const c = new Uint8Array(size); c.set(this.classOf); this.classOf = c;
    const d = new Int32Array(size); d.set(this.dayOfLoan); this.dayOfLoan = d;
  }
}

/** Profiles from a list of loans (see `FeatureBuilder` to stream them instead). */
export function buildFeatures(loans: Iterable<LoanFact>, asOfDay?: number, window?: number): PatronFeatures {
  const builder = new FeatureBuilder();
  for (const l of loans) builder.add(l.patron, l.clc, l.day);
  return builder.build(asOfDay, window);
}
