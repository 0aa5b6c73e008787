import { describe, expect, it } from 'vitest';
import { evaluateSparsePatrons, evaluateTemporalHoldout } from '../../../server/crm/recs/evaluate.js';
import { trainRecommender } from '../../../server/crm/recs/model.js';
import { describeExplanation, recommend, recommendAll, similarItems } from '../../../server/crm/recs/recommend.js';
import type { TrainingData } from '../../../server/crm/recs/types.js';
import { loadSibgmuLog } from '../../../server/crm/sibgmu.js';

/** A library from [patron, item, day] rows; every item in class 0 unless `itemClass` says otherwise. */
function library(rows: [number, number, number][], itemCount: number, itemClass?: number[]): TrainingData {
  const patronCount = Math.max(...rows.map((r) => r[0])) + 1;
  return {
    loans: { patron: Int32Array.from(rows, (r) => r[0]), item: Int32Array.from(rows, (r) => r[1]), day: Int32Array.from(rows, (r) => r[2]) },
    patronCount, itemCount, itemClass: itemClass ?? new Array<number>(itemCount).fill(0), classCount: 4,
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

describe('recommend', () => {
  it('never recommends what the patron already borrowed, even when the list runs short', () => {
    // Patrons 1–6 borrowed items 0, 1 and 2 together; patron 0 borrowed 0 and 1.
    const rows: [number, number, number][] = range(1, 7).flatMap((p) => [[p, 0, 10], [p, 1, 10], [p, 2, 40]] as [number, number, number][]);
    rows.push([0, 0, 10], [0, 1, 12]);
    const model = trainRecommender(library(rows, 3));

    const recs = recommend(model, 0, 5);
    expect(recs.map((r) => r.item)).toEqual([2]);
    const table = recommendAll(model, 5);
    expect([...table.item.subarray(0, 5)]).toEqual([2, -1, -1, -1, -1]);
  });

  it('explains a pick by the borrowed items that contributed most, strongest first, and only those', () => {
    const A = 0, B = 1, C = 2, D = 3, E = 4;
    const rows: [number, number, number][] = [];
    for (const p of range(10, 20)) rows.push([p, A, 0], [p, B, 100]);   // A, then B
    for (const p of range(20, 30)) rows.push([p, C, 0], [p, D, 100]);   // C, then D
    for (const p of range(30, 33)) rows.push([p, A, 0], [p, E, 100]);   // E after A (three readers) …
    rows.push([33, C, 0], [33, E, 100]);                                 // … and after C (one)
    rows.push([0, C, 190], [0, A, 200]);                                 // patron 0: C first, then A
    const model = trainRecommender(library(rows, 5));

    const recs = recommend(model, 0, 3);
    const why = Object.fromEntries(recs.map((r) => [r.item, r.explanation]));
    expect(recs.map((r) => r.item).sort()).toEqual([B, D, E]);
    expect(why[B]).toEqual({ kind: 'co-borrowed', because: [A] });
    expect(why[D]).toEqual({ kind: 'co-borrowed', because: [C] });
    expect(why[E]).toEqual({ kind: 'co-borrowed', because: [A, C] });
    const names = ['Anatomy', 'Biochemistry', 'Chemistry', 'Dermatology', 'Embryology'];
    expect(describeExplanation(why[E]!, (i) => names[i]!, String)).toBe('because you borrowed Anatomy, Chemistry');
    const one = recommend(trainRecommender(library(rows, 5), { explainItems: 1 }), 0, 3).find((r) => r.item === E);
    expect(one?.explanation).toEqual({ kind: 'co-borrowed', because: [A] });
  });

  it('weights "borrowed A, later borrowed B" above the reverse', () => {
    const rows: [number, number, number][] = range(0, 8).flatMap((p) => [[p, 0, 0], [p, 1, 180]] as [number, number, number][]);
    const model = trainRecommender(library(rows, 2));
    const afterA = similarItems(model, 0, 5), afterB = similarItems(model, 1, 5);
    expect(afterA.map((s) => s.item)).toEqual([1]);
    expect(afterB.map((s) => s.item)).toEqual([0]);
    expect(afterB[0]!.score).toBeLessThan(afterA[0]!.score);
    expect(afterB[0]!.score).toBeCloseTo(afterA[0]!.score * model.options.backwardWeight, 6);
  });

  it('fills the list from popularity in the patron\'s subject classes, then among newcomers, and says so', () => {
    // Patron 0's only loan (item 0, class 2) was borrowed by nobody else; items 1–3 are class 2, 4 is class 1.
    const rows: [number, number, number][] = [[0, 0, 50]];
    for (const p of range(1, 6)) rows.push([p, 1, 10]);
    for (const p of range(1, 4)) rows.push([p, 2, 20]);
    for (const p of range(1, 10)) rows.push([p, 4, 30]);
    const model = trainRecommender(library(rows, 5, [2, 2, 2, 2, 1]));

    const recs = recommend(model, 0, 3);
    expect(recs.map((r) => r.item)).toEqual([1, 2, 4]);
    expect(recs.map((r) => r.explanation)).toEqual([{ kind: 'subject', subjectClass: 2 }, { kind: 'subject', subjectClass: 2 }, { kind: 'popular' }]);
    expect(describeExplanation(recs[0]!.explanation, String, (c) => ['A', 'B', 'R', 'Q'][c]!)).toBe('popular in your subjects: R');
  });
});

describe('the cold-start fallback', () => {
  // Readers 1–10 have borrowed for years and all end up borrowing item 1 (the most popular overall);
  // newcomers 11–16 each borrowed item 0 on their first day. Patron 0 has no loans.
  const rows: [number, number, number][] = [];
  for (const p of range(1, 11)) rows.push([p, 10 + p, 0], [p, 1, 400], [p, 1, 500]);
  for (const p of range(11, 17)) rows.push([p, 0, 300 + p], [p, 30 + p, 360 + p]);
  rows.push([0, 2, 1]);
  const data = library(rows, 50);
  const withoutPatron0 = { ...data, loans: { patron: data.loans.patron.slice(0, -1), item: data.loans.item.slice(0, -1), day: data.loans.day.slice(0, -1) } };

  it('gives a patron with no loans what newcomers borrow first, not what is most borrowed overall', () => {
    const model = trainRecommender(withoutPatron0);
    const recs = recommend(model, 0, 3);
    expect(recs[0]).toMatchObject({ item: 0, explanation: { kind: 'popular' } });
    expect(recs.map((r) => r.item)).not.toContain(1);
    expect(describeExplanation(recs[0]!.explanation, String, String)).toBe('popular with new readers');
  });

  it('only fills the list of a patron who has loans, below their co-borrowing and subject picks', () => {
    // Patron 0 borrowed item 2 (class 0), which nobody else did; the newcomers' item 0 is class 1.
    const model = trainRecommender({ ...data, itemClass: range(0, 50).map((i) => (i === 0 ? 1 : 0)) });
    const recs = recommend(model, 0, 50);
    expect(recs[0]).toMatchObject({ item: 1, explanation: { kind: 'subject', subjectClass: 0 } });
    expect(recs.at(-1)).toMatchObject({ item: 0, explanation: { kind: 'popular' } });
    expect(recs.slice(0, -1).every((r) => r.explanation.kind === 'subject')).toBe(true);
  });
});

describe('on the real borrowing log (train < 2021, test = books newly borrowed in 2021)', () => {
  const result = evaluateTemporalHoldout(loadSibgmuLog());

  it('evaluates the 465 patrons the dataset README counts, against the README\'s popularity baseline', () => {
    expect(result.users).toBe(465);
    expect(result.baseline.hitRate).toBeCloseTo(0.217, 3);
  });

  it('reaches hit@10 of at least 2.5 × the most-popular baseline', () => {
    expect(result.hitRateRatio).toBeGreaterThanOrEqual(2.5);
    expect(result.engine.ndcg).toBeGreaterThan(result.baseline.ndcg * 2.5);
  });

  it('serves patrons with fewer than 3 training loans (here: new patrons, none) better than global popularity does', () => {
    expect(result.cold.users).toBe(265);
    expect(result.cold.engine.hitRate).toBeGreaterThan(result.cold.baseline.hitRate);
  });

  it('serves patrons with one or two loans better than global popularity does (monthly cutoffs, 2016–2020)', () => {
    const sparse = evaluateSparsePatrons(loadSibgmuLog());
    expect(sparse.users).toBeGreaterThan(50);
    expect(sparse.engine.hitRate).toBeGreaterThan(sparse.baseline.hitRate);
  });
});
