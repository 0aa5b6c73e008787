import type { Db } from '../store/db.js';
import { CLC_CLASSES, CLC_NAMES } from '../catalogue/classification.js';
import { caseTurnaround } from './cases.js';
import { scoresOf, type Scores } from './outreach/survey-results.js';

/** No group smaller than this is shown to staff: its members could be recognised. */
export const MIN_GROUP = 10;

type Count = number | null;
/** A count shown to staff: below MIN_GROUP it is withheld (null) and flagged. */
export const shown = (n: number): { count: Count; suppressed: boolean } => (n >= MIN_GROUP ? { count: n, suppressed: false } : { count: null, suppressed: true });

export interface SegmentView { kind: 'tier' | 'cluster'; name: string; count: Count; suppressed: boolean; rules?: string[]; classes?: string[]; zh?: string }

/** The current segments (from the latest recompute), each with its size; small ones withheld. */
export function currentSegments(db: Db): { runId: number | null; at: string | null; quality: Record<string, unknown> | null; segments: SegmentView[] } {
  const run = db.prepare('SELECT * FROM segment_run ORDER BY id DESC LIMIT 1').get() as Record<string, any> | undefined;
  if (!run) return { runId: null, at: null, quality: null, segments: [] };
  const detail = JSON.parse(run.detail) as { clusters: { label: string; zh: string; classes: string[]; rules: string[] }[] };
  const tiers = db.prepare(`SELECT pp.tier AS name, count(*) AS n FROM patron_profile pp JOIN patron_consent pc ON pc.patron_id = pp.patron_id
      WHERE pc.profiling = 1 AND pp.tier IS NOT NULL GROUP BY pp.tier ORDER BY n DESC`).all() as { name: string; n: number }[];
  const clusters = new Map((db.prepare(`SELECT pp.cluster AS name, count(*) AS n FROM patron_profile pp JOIN patron_consent pc ON pc.patron_id = pp.patron_id
      WHERE pc.profiling = 1 AND pp.cluster IS NOT NULL GROUP BY pp.cluster`).all() as { name: string; n: number }[]).map((r) => [r.name, r.n]));
  return {
    runId: run.id, at: run.at,
    quality: { k: run.k, silhouette: run.silhouette, treeFidelity: run.fidelity, patrons: run.patrons, profiled: run.profiled, durationMs: run.duration_ms },
    segments: [
      ...tiers.map((t): SegmentView => ({ kind: 'tier', name: t.name, ...shown(t.n) })),
      ...detail.clusters.map((c): SegmentView => ({ kind: 'cluster', name: c.label, zh: c.zh, classes: c.classes, rules: c.rules, ...shown(clusters.get(c.label) ?? 0) })),
    ],
  };
}

/** Segment sizes per recompute, for the "over time" chart (from the history rows: each run's state). */
export function segmentSizesOverTime(db: Db, limit = 30): { runId: number; at: string; tiers: Record<string, Count>; clusters: Record<string, Count> }[] {
  const runs = db.prepare('SELECT id, at, detail FROM segment_run ORDER BY id DESC LIMIT ?').all(limit) as { id: number; at: string; detail: string }[];
  return runs.reverse().map((r) => {
    const d = JSON.parse(r.detail) as { tiers: Record<string, number>; clusters: { label: string; size: number }[] };
    return {
      runId: r.id, at: r.at,
      tiers: Object.fromEntries(Object.entries(d.tiers ?? {}).map(([k, n]) => [k, shown(n).count])),
      clusters: Object.fromEntries((d.clusters ?? []).map((c) => [c.label, shown(c.size).count])),
    };
  });
}

/**
 * Movement between segments from the previous recompute to the latest: how many patrons went from
 * each tier to each other tier (cells under MIN_GROUP withheld).
 */
export function segmentMovement(db: Db): { from: string; to: string; count: Count; suppressed: boolean }[] {
  const runs = db.prepare('SELECT id FROM segment_run ORDER BY id DESC LIMIT 2').pluck().all() as number[];
  if (runs.length < 2) return [];
  const [latest] = runs;
  const rows = db.prepare(`SELECT coalesce((SELECT h2.tier FROM patron_segment_history h2 WHERE h2.patron_id = h.patron_id AND h2.run_id < h.run_id
        ORDER BY h2.run_id DESC LIMIT 1), '(none)') AS from_tier, coalesce(h.tier, '(none)') AS to_tier, count(*) AS n
      FROM patron_segment_history h WHERE h.run_id = ? GROUP BY from_tier, to_tier ORDER BY n DESC`).all(latest) as { from_tier: string; to_tier: string; n: number }[];
  return rows.filter((r) => r.from_tier !== r.to_tier).map((r) => ({ from: r.from_tier, to: r.to_tier, ...shown(r.n) }));
}

/** Patrons most at risk of lapsing who were active in the last year: the win-back worklist. */
export function churnRiskList(db: Db, minRisk = 0.7, limit = 50): { patronId: number; name: string; churnRisk: number; lastLoanAt: string | null; lastVisitAt: string | null; isKey: boolean }[] {
  return db.prepare(`SELECT p.id AS patronId, p.name, pp.churn_risk AS churnRisk, pp.last_loan_at AS lastLoanAt, pp.last_visit_at AS lastVisitAt,
        EXISTS (SELECT 1 FROM key_patron k WHERE k.patron_id = p.id) AS isKey
      FROM patron_profile pp JOIN patron p ON p.id = pp.patron_id WHERE pp.churn_risk >= ? AND (pp.loans_365d > 0 OR pp.visits_90d > 0 OR pp.loans_total > 0)
      ORDER BY isKey DESC, pp.churn_risk DESC LIMIT ?`).all(minRisk, limit).map((r: any) => ({ ...r, isKey: r.isKey === 1 })) as any;
}

export function keyPatronList(db: Db, limit = 200): { patronId: number; name: string; category: string; score: number; since: string; reasons: unknown }[] {
  return (db.prepare(`SELECT k.patron_id AS patronId, p.name, p.category, k.score, k.since, k.reasons FROM key_patron k JOIN patron p ON p.id = k.patron_id
      ORDER BY k.score DESC LIMIT ?`).all(limit) as any[]).map((r) => ({ ...r, reasons: JSON.parse(r.reasons) }));
}

/** Visits against loans, per month (UTC), the last `months` months. */
export function visitsAgainstLoans(db: Db, now: Date, months = 12): { month: string; visits: number; loans: number; loansPerVisit: number | null }[] {
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - months + 1, 1)).toISOString();
  const visits = new Map((db.prepare(`SELECT substr(at, 1, 7) AS m, count(*) AS n FROM visit WHERE allowed = 1 AND at >= ? GROUP BY m`).all(from) as { m: string; n: number }[]).map((r) => [r.m, r.n]));
  const loans = new Map((db.prepare(`SELECT substr(checked_out_at, 1, 7) AS m, count(*) AS n FROM loan WHERE checked_out_at >= ? GROUP BY m`).all(from) as { m: string; n: number }[]).map((r) => [r.m, r.n]));
  const out = [];
  for (let i = months - 1; i >= 0; i--) {
    const m = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1)).toISOString().slice(0, 7);
    const v = visits.get(m) ?? 0, l = loans.get(m) ?? 0;
    out.push({ month: m, visits: v, loans: l, loansPerVisit: v ? Math.round((l / v) * 100) / 100 : null });
  }
  return out;
}

/**
 * Subject demand against the collection, per top-level class: loans in the last year and active holds
 * per item. A class whose demand per item is at least twice the library's is under-served.
 */
export function subjectDemand(db: Db, now: Date): { class: string; name: string; items: number; loans365d: number; activeHolds: number; loansPerItem: number | null; holdsPerItem: number | null; underServed: boolean }[] {
  const since = new Date(now.getTime() - 365 * 86_400_000).toISOString();
  const items = new Map((db.prepare(`SELECT r.top_class AS c, count(*) AS n FROM item i JOIN record r ON r.id = i.record_id WHERE i.status != 'withdrawn' GROUP BY c`).all() as { c: string; n: number }[]).map((r) => [r.c, r.n]));
  const loans = new Map((db.prepare(`SELECT r.top_class AS c, count(*) AS n FROM loan l JOIN item i ON i.id = l.item_id JOIN record r ON r.id = i.record_id
      WHERE l.checked_out_at >= ? GROUP BY c`).all(since) as { c: string; n: number }[]).map((r) => [r.c, r.n]));
  const holds = new Map((db.prepare(`SELECT r.top_class AS c, count(*) AS n FROM hold h JOIN record r ON r.id = h.record_id
      WHERE h.status IN ('waiting', 'in_transit', 'ready') GROUP BY c`).all() as { c: string; n: number }[]).map((r) => [r.c, r.n]));
  let totalItems = 0, totalDemand = 0;
  for (const c of CLC_CLASSES) { totalItems += items.get(c) ?? 0; totalDemand += (loans.get(c) ?? 0) + (holds.get(c) ?? 0); }
  const libraryRate = totalItems ? totalDemand / totalItems : 0;
  return CLC_CLASSES.map((c) => {
    const n = items.get(c) ?? 0, l = loans.get(c) ?? 0, h = holds.get(c) ?? 0;
    const rate = n ? (l + h) / n : null;
    return {
      class: c, name: CLC_NAMES[c]!.en, items: n, loans365d: l, activeHolds: h,
      loansPerItem: n ? Math.round((l / n) * 100) / 100 : null, holdsPerItem: n ? Math.round((h / n) * 100) / 100 : null,
      underServed: (l + h) >= MIN_GROUP && (rate === null || (libraryRate > 0 && rate >= 2 * libraryRate)),
    };
  }).filter((r) => r.items > 0 || r.loans365d > 0 || r.activeHolds > 0);
}

/** CSAT and NPS over every survey answered, per month (UTC), the last `months` months. */
export function satisfactionTrend(db: Db, now: Date, months = 12): ({ month: string } & Scores)[] {
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - months + 1, 1)).toISOString();
  const rows = db.prepare(`SELECT substr(r.submitted_at, 1, 7) AS month, r.id AS response, q.kind, a.score FROM survey_answer a
      JOIN survey_response r ON r.id = a.response_id JOIN survey_question q ON q.id = a.question_id
      WHERE q.kind IN ('rating', 'nps') AND r.submitted_at >= ? ORDER BY month`).all(from) as { month: string; response: number; kind: string; score: number | null }[];
  const byMonth = new Map<string, typeof rows>();
  for (const r of rows) (byMonth.get(r.month) ?? byMonth.set(r.month, []).get(r.month)!).push(r);
  return [...byMonth].map(([month, list]) => ({ month, ...scoresOf(list) }));
}

export function crmAnalytics(db: Db, now: Date) {
  return {
    segments: currentSegments(db),
    segmentSizes: segmentSizesOverTime(db),
    movement: segmentMovement(db),
    keyPatrons: { count: (db.prepare('SELECT count(*) FROM key_patron').pluck().get() as number) },
    churnRisk: churnRiskList(db),
    satisfaction: satisfactionTrend(db, now),
    visitsAgainstLoans: visitsAgainstLoans(db, now),
    subjectDemand: subjectDemand(db, now),
    complaintTurnaround: caseTurnaround(db, new Date(now.getTime() - 365 * 86_400_000).toISOString()),
    openCases: db.prepare(`SELECT count(*) AS open, count(*) FILTER (WHERE due_at < ?) AS overdue FROM crm_case WHERE status IN ('open', 'in_progress')`).get(now.toISOString()),
  };
}
