import { localDate } from '../../circulation/calendar.js';
import { DomainError } from '../../errors.js';
import type { Db } from '../../store/db.js';

/**
 * Survey results: CSAT over the rating questions and NPS over the recommendation questions, for the
 * whole survey, per segment and per month, and each question's distribution.
 *
 * - CSAT = satisfied answers (4 or 5 on the 1–5 scale) / all rating answers × 100.
 * - NPS = (promoters (9–10) − detractors (0–6)) / all recommendation answers × 100, from −100 to 100.
 *
 * Both are rounded to one decimal (half away from zero) and come with the counts they are made of.
 * The segment of a response is the tier and cluster the patron had when answering (stored with it),
 * counted only while the patron still allows profiling; a segment with fewer than `minGroup`
 * responses has its figures withheld (they would tell staff how its few members answered). The
 * month is the library's local month.
 */

export interface Csat { score: number | null; satisfied: number; answers: number }
export interface Nps { score: number | null; promoters: number; passives: number; detractors: number; answers: number }
export interface Scores { responses: number; csat: Csat; nps: Nps }

interface Row { response: number; patron: number; at: string; tier: string | null; cluster: string | null; question: number; kind: string; score: number | null; choice: string | null; text: string | null }

const round1 = (x: number) => Math.sign(x) * Math.round(Math.abs(x) * 10) / 10;

export function scoresOf(rows: Pick<Row, 'response' | 'kind' | 'score'>[]): Scores {
  const ratings = rows.filter((r) => r.kind === 'rating' && r.score !== null).map((r) => r.score!);
  const nps = rows.filter((r) => r.kind === 'nps' && r.score !== null).map((r) => r.score!);
  const satisfied = ratings.filter((s) => s >= 4).length;
  const promoters = nps.filter((s) => s >= 9).length;
  const detractors = nps.filter((s) => s <= 6).length;
  return {
    responses: new Set(rows.map((r) => r.response)).size,
    csat: { score: ratings.length ? round1((satisfied / ratings.length) * 100) : null, satisfied, answers: ratings.length },
    nps: { score: nps.length ? round1(((promoters - detractors) / nps.length) * 100) : null, promoters, passives: nps.length - promoters - detractors, detractors, answers: nps.length },
  };
}

function groupBy<K extends string>(rows: Row[], key: (r: Row) => K | null): { key: K; scores: Scores }[] {
  const groups = new Map<K, Row[]>();
  for (const r of rows) {
    const k = key(r);
    if (k === null) continue;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(r);
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, g]) => ({ key: k, scores: scoresOf(g) }));
}

export interface QuestionResult {
  id: number; position: number; kind: string; text: string; answers: number;
  /** rating: 1–5, nps: 0–10 → count; choice: option → count. */
  distribution?: Record<string, number>;
  average?: number | null;
  /** text: the latest answers, newest first, without who wrote them. */
  latest?: string[];
}

export type SegmentScores = ({ segment: string; suppressed: false } & Scores) | { segment: string; suppressed: true };

export interface SurveyResults {
  surveyId: number; overall: Scores;
  bySegment: SegmentScores[];
  byMonth: ({ month: string } & Scores)[];
  questions: QuestionResult[];
}

/**
 * The results of one survey; `respondents` narrows them to some patrons (a segment as it is now,
 * resolved by the caller); `minGroup`: see above (the API uses the CRM's MIN_GROUP, 10).
 */
export function surveyResults(db: Db, surveyId: number, timeZone: string, o: { respondents?: Set<number>; minGroup: number }): SurveyResults {
  const all = db.prepare(`SELECT r.id AS response, r.patron_id AS patron, r.submitted_at AS at, a.question_id AS question, q.kind, a.score, a.choice, a.text,
      CASE WHEN pc.profiling = 1 THEN r.tier END AS tier, CASE WHEN pc.profiling = 1 THEN r.cluster END AS cluster
      FROM survey_response r JOIN survey_answer a ON a.response_id = r.id JOIN survey_question q ON q.id = a.question_id
      LEFT JOIN patron_consent pc ON pc.patron_id = r.patron_id
      WHERE r.survey_id = ? ORDER BY r.submitted_at DESC, r.id DESC`).all(surveyId) as Row[];
  const respondents = o.respondents;
  const rows = respondents ? all.filter((r) => respondents.has(r.patron)) : all;
  if (respondents && new Set(rows.map((r) => r.response)).size < o.minGroup) {
    throw new DomainError('GROUP_TOO_SMALL', `fewer than ${o.minGroup} responses from this segment: its results are withheld`, 409);
  }
  const segments = [
    ...groupBy(rows, (r) => (r.tier ? `tier:${r.tier}` : null)),
    ...groupBy(rows, (r) => (r.cluster ? `cluster:${r.cluster}` : null)),
    ...groupBy(rows, (r) => (r.tier || r.cluster ? null : 'unsegmented')),
  ];
  const questions = db.prepare('SELECT id, position, kind, text, options FROM survey_question WHERE survey_id = ? ORDER BY position')
    .all(surveyId) as { id: number; position: number; kind: string; text: string; options: string | null }[];
  return {
    surveyId,
    overall: scoresOf(rows),
    bySegment: segments.map((g): SegmentScores => (g.scores.responses >= o.minGroup
      ? { segment: g.key, suppressed: false, ...g.scores } : { segment: g.key, suppressed: true })),
    byMonth: groupBy(rows, (r) => localDate(new Date(r.at), timeZone).slice(0, 7)).map((g) => ({ month: g.key, ...g.scores })),
    questions: questions.map((q) => questionResult(q, rows.filter((r) => r.question === q.id))),
  };
}

function questionResult(q: { id: number; position: number; kind: string; text: string; options: string | null }, rows: Row[]): QuestionResult {
  const base = { id: q.id, position: q.position, kind: q.kind, text: q.text, answers: rows.length };
  const count = (keys: string[], of: (r: Row) => string | null) =>
    Object.fromEntries(keys.map((k) => [k, rows.filter((r) => of(r) === k).length]));
  const scores = rows.map((r) => r.score).filter((s): s is number => s !== null);
  const average = scores.length ? Math.round((scores.reduce((a, b) => a + b, 0) / scores.length) * 100) / 100 : null;
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
  switch (q.kind) {
    case 'rating': return { ...base, distribution: count(range(1, 5), (r) => String(r.score)), average };
    case 'nps': return { ...base, distribution: count(range(0, 10), (r) => String(r.score)), average };
    case 'choice': return { ...base, distribution: count(JSON.parse(q.options ?? '[]') as string[], (r) => r.choice) };
    default: return { ...base, latest: rows.map((r) => r.text!).filter(Boolean).slice(0, 20) };
  }
}
