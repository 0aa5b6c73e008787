import { statement, type Db } from '../store/db.js';
import { CLC_NAMES } from '../catalogue/classification.js';
import { getPatron, type Patron } from '../patrons/patrons.js';
import { patronServices, type PatronServiceView } from './services.js';
import { listCases, type CrmCase } from './cases.js';

/**
 * The patron 360° profile: basic data, what the library has recorded about and with the patron, and
 * what it derives from circulation, visits and the CRM. Reading-derived parts (class shares, tier,
 * cluster, recommendations) exist only for patrons who allow profiling; loan history beyond open loans
 * only for those who keep their reading history.
 */
export interface PatronProfile {
  patron: Patron;
  consent: Consent;
  secondary: {
    feedback: { id: number; at: string; kind: string; rating: number | null; text: string; channel: string; recordedBy: string }[];
    needs: { id: number; kind: string; value: string; note: string | null; createdAt: string }[];
    communications: { id: number; at: string; channel: string; direction: string; staff: string | null; summary: string; ref: string | null }[];
    events: { eventId: number; title: string; kind: string; startsAt: string; status: string }[];
    retentionEfforts: { id: number; at: string; staff: string; action: string; outcome: string | null; note: string | null }[];
    cases: CrmCase[];
  };
  derived: {
    loans: { open: number; overdue: number; keptHistory: number; last365d: number; lastAt: string | null };
    holds: { active: number; ready: number };
    visits: { last90d: number; lastAt: string | null };
    fees: { balanceCents: number };
    readingProfile: null | { computedAt: string; breadth: number | null; classes: { class: string; name: string; share: number }[]; tier: string | null; cluster: string | null };
    churnRisk: number | null;
    keyPatron: { isKey: boolean; since: string | null; score: number | null; reasons: unknown; pin: { pinned: boolean; reason: string; by: string; at: string } | null };
    segmentHistory: { at: string; tier: string | null; cluster: string | null }[];
    services: PatronServiceView[];
    recommendations: { recordId: number; title: string; score: number; because: unknown }[];
    /** Survey answers with a score (rating 1–5, recommendation 0–10), newest first. */
    satisfaction: { surveyId: number; title: string; at: string; kind: string; score: number }[];
  };
}

export interface Consent {
  readingHistory: boolean; profiling: boolean; marketing: boolean; channels: { email: boolean; sms: boolean; inApp: boolean }; updatedAt: string | null;
}

export function consentOf(db: Db, patronId: number): Consent {
  const c = statement(db, 'SELECT * FROM patron_consent WHERE patron_id = ?').get(patronId) as Record<string, number | string> | undefined;
  // No row: the defaults of migration 002 (service messages only).
  if (!c) return { readingHistory: false, profiling: false, marketing: false, channels: { email: true, sms: false, inApp: true }, updatedAt: null };
  return {
    readingHistory: c.reading_history === 1, profiling: c.profiling === 1, marketing: c.marketing === 1,
    channels: { email: c.channel_email === 1, sms: c.channel_sms === 1, inApp: c.channel_in_app === 1 }, updatedAt: c.updated_at as string,
  };
}

type Row = Record<string, any>;

export function patronProfile(db: Db, patronId: number, now: Date): PatronProfile {
  const patron = getPatron(db, patronId);
  const nowIso = now.toISOString();
  const yearAgo = new Date(now.getTime() - 365 * 86_400_000).toISOString();
  const consent = consentOf(db, patronId);
  const all = (sql: string, ...args: unknown[]) => db.prepare(sql).all(...args) as Row[];
  const one = (sql: string, ...args: unknown[]) => db.prepare(sql).get(...args) as Row;

  const loans = one(`SELECT count(*) FILTER (WHERE closed_at IS NULL) AS open, count(*) FILTER (WHERE closed_at IS NULL AND due_at < ?) AS overdue,
      count(*) FILTER (WHERE closed_at IS NOT NULL) AS kept, count(*) FILTER (WHERE checked_out_at >= ?) AS recent, max(checked_out_at) AS last
      FROM loan WHERE patron_id = ?`, nowIso, yearAgo, patronId);
  const holds = one(`SELECT count(*) FILTER (WHERE status IN ('waiting', 'in_transit', 'ready')) AS active, count(*) FILTER (WHERE status = 'ready') AS ready
      FROM hold WHERE patron_id = ?`, patronId);
  const visits = one(`SELECT count(*) FILTER (WHERE at >= ?) AS recent, max(at) AS last FROM visit WHERE patron_id = ? AND allowed = 1`,
    new Date(now.getTime() - 90 * 86_400_000).toISOString(), patronId);
  const balance = one('SELECT coalesce(sum(amount_cents - paid_cents), 0) AS b FROM fee WHERE patron_id = ?', patronId).b as number;
  const profile = db.prepare('SELECT * FROM patron_profile WHERE patron_id = ?').get(patronId) as Row | undefined;
  const key = db.prepare('SELECT since, score, reasons FROM key_patron WHERE patron_id = ?').get(patronId) as Row | undefined;
  const pin = db.prepare('SELECT pinned, reason, pinned_by, pinned_at FROM key_patron_pin WHERE patron_id = ?').get(patronId) as Row | undefined;
  const shares = profile?.class_shares && consent.profiling ? (JSON.parse(profile.class_shares) as Record<string, number>) : null;

  return {
    patron,
    consent,
    secondary: {
      feedback: all(`SELECT id, at, kind, rating, text, channel, recorded_by AS recordedBy FROM patron_feedback WHERE patron_id = ? ORDER BY at DESC LIMIT 50`, patronId) as any,
      needs: all(`SELECT id, kind, value, note, created_at AS createdAt FROM patron_need WHERE patron_id = ? AND ended_at IS NULL ORDER BY id`, patronId) as any,
      communications: all(`SELECT id, at, channel, direction, staff, summary, ref FROM communication WHERE patron_id = ? ORDER BY at DESC, id DESC LIMIT 50`, patronId) as any,
      events: all(`SELECT a.event_id AS eventId, e.title, e.kind, e.starts_at AS startsAt, a.status FROM event_attendance a JOIN library_event e ON e.id = a.event_id
          WHERE a.patron_id = ? ORDER BY e.starts_at DESC LIMIT 50`, patronId) as any,
      retentionEfforts: all(`SELECT id, at, staff, action, outcome, note FROM retention_effort WHERE patron_id = ? ORDER BY at DESC LIMIT 50`, patronId) as any,
      cases: listCases(db, { patronId, limit: 50, offset: 0 }, now).cases,
    },
    derived: {
      loans: { open: loans.open, overdue: loans.overdue, keptHistory: loans.kept, last365d: loans.recent, lastAt: loans.last },
      holds: { active: holds.active, ready: holds.ready },
      visits: { last90d: visits.recent, lastAt: visits.last },
      fees: { balanceCents: balance },
      readingProfile: profile && consent.profiling ? {
        computedAt: profile.computed_at, breadth: profile.breadth, tier: profile.tier, cluster: profile.cluster,
        classes: shares ? Object.entries(shares).sort((a, b) => b[1] - a[1]).map(([c, share]) => ({ class: c, name: CLC_NAMES[c]?.en ?? c, share })) : [],
      } : null,
      churnRisk: profile?.churn_risk ?? null,
      keyPatron: {
        isKey: key !== undefined, since: key?.since ?? null, score: key?.score ?? profile?.key_score ?? null,
        reasons: key ? JSON.parse(key.reasons) : profile?.key_components ? { components: JSON.parse(profile.key_components) } : null,
        pin: pin ? { pinned: pin.pinned === 1, reason: pin.reason, by: pin.pinned_by, at: pin.pinned_at } : null,
      },
      segmentHistory: all(`SELECT r.at, h.tier, h.cluster FROM patron_segment_history h JOIN segment_run r ON r.id = h.run_id
          WHERE h.patron_id = ? ORDER BY r.at DESC LIMIT 50`, patronId) as any,
      services: patronServices(db, patronId),
      recommendations: consent.profiling ? recommendationsOf(db, patronId) : [],
      satisfaction: all(`SELECT r.survey_id AS surveyId, s.title, r.submitted_at AS at, q.kind, a.score FROM survey_response r JOIN survey s ON s.id = r.survey_id
          JOIN survey_answer a ON a.response_id = r.id JOIN survey_question q ON q.id = a.question_id
          WHERE r.patron_id = ? AND q.kind IN ('rating', 'nps') AND a.score IS NOT NULL ORDER BY r.submitted_at DESC LIMIT 50`, patronId) as any,
    },
  };
}

/**
 * A patron's stored recommendations, each with why: the borrowed titles that led to it ("because you
 * borrowed …"), the subject it is popular in, or that new readers borrow it.
 */
export function recommendationsOf(db: Db, patronId: number): PatronProfile['derived']['recommendations'] {
  const title = db.prepare('SELECT title FROM record WHERE id = ?').pluck();
  return (db.prepare(`SELECT r.record_id AS recordId, c.title, r.score, r.because FROM patron_recommendation r
      JOIN record c ON c.id = r.record_id WHERE r.patron_id = ? ORDER BY r.rank`).all(patronId) as Row[]).map((r) => {
    const because = JSON.parse(r.because) as { kind: string; recordIds?: number[]; class?: string };
    const titles = (because.recordIds ?? []).map((id) => title.get(id) as string | undefined).filter((t) => t !== undefined);
    const text = because.kind === 'co-borrowed' ? `because you borrowed ${titles.join('; ')}`
      : because.kind === 'subject' ? `popular in your subject: ${CLC_NAMES[because.class ?? '']?.en ?? because.class}`
      : 'popular with new readers';
    return { recordId: r.recordId, title: r.title, score: r.score, because: { ...because, ...(titles.length ? { titles } : {}), text } };
  });
}

export interface TimelineEntry { at: string; kind: string; summary: string; ref: string | null }

/**
 * One timeline of everything about a patron, newest first: loans and returns, holds, visits, fees and
 * payments, feedback, contacts, cases, events, retention efforts, segment changes, services, key status.
 * Paged by time: pass the last entry's `at` as `before`.
 */
export function patronTimeline(db: Db, patronId: number, opts: { before?: string; limit?: number } = {}): TimelineEntry[] {
  getPatron(db, patronId);
  const before = opts.before ?? '9999';
  const limit = Math.min(opts.limit ?? 100, 500);
  const parts = [
    `SELECT l.checked_out_at AS at, 'loan' AS kind, 'borrowed ' || r.title AS summary, 'loan:' || l.id AS ref FROM loan l JOIN item i ON i.id = l.item_id JOIN record r ON r.id = i.record_id WHERE l.patron_id = @p`,
    `SELECT l.closed_at, 'return', (CASE l.close_reason WHEN 'lost' THEN 'lost ' ELSE 'returned ' END) || r.title, 'loan:' || l.id FROM loan l JOIN item i ON i.id = l.item_id JOIN record r ON r.id = i.record_id WHERE l.patron_id = @p AND l.closed_at IS NOT NULL`,
    `SELECT h.placed_at, 'hold', 'hold on ' || r.title || ' (' || h.status || ')', 'hold:' || h.id FROM hold h JOIN record r ON r.id = h.record_id WHERE h.patron_id = @p`,
    `SELECT at, 'visit', 'visited ' || branch_id || CASE WHEN allowed = 1 THEN '' ELSE ' (refused: ' || coalesce(reason, '') || ')' END, 'visit:' || id FROM visit WHERE patron_id = @p`,
    `SELECT created_at, 'fee', kind || ' fee ' || amount_cents || ' cents', 'fee:' || id FROM fee WHERE patron_id = @p`,
    `SELECT paid_at, 'payment', 'paid ' || amount_cents || ' cents', 'payment:' || id FROM payment WHERE patron_id = @p`,
    `SELECT at, 'feedback', kind || coalesce(' ' || rating || '/5', '') || ': ' || text, 'feedback:' || id FROM patron_feedback WHERE patron_id = @p`,
    `SELECT at, 'communication', direction || ' ' || channel || ': ' || summary, coalesce(ref, 'communication:' || id) FROM communication WHERE patron_id = @p`,
    `SELECT e.at, 'case', c.kind || ' "' || c.subject || '" ' || e.action || coalesce(' ' || e.status, ''), 'case:' || c.id FROM crm_case_event e JOIN crm_case c ON c.id = e.case_id WHERE c.patron_id = @p AND e.action IN ('opened', 'status')`,
    `SELECT a.at, 'event', a.status || ': ' || e.title, 'event:' || e.id FROM event_attendance a JOIN library_event e ON e.id = a.event_id WHERE a.patron_id = @p`,
    `SELECT at, 'retention', action || coalesce(' → ' || outcome, ''), 'retention:' || id FROM retention_effort WHERE patron_id = @p`,
    `SELECT r.at, 'segment', 'segment: ' || coalesce(h.tier, '–') || ' / ' || coalesce(h.cluster, '–'), 'segment-run:' || r.id FROM patron_segment_history h JOIN segment_run r ON r.id = h.run_id WHERE h.patron_id = @p`,
    `SELECT s.started_at, 'service', 'service started: ' || sp.name, 'service-policy:' || sp.id FROM patron_service s JOIN service_policy sp ON sp.id = s.policy_id WHERE s.patron_id = @p`,
    `SELECT s.ended_at, 'service', 'service ended: ' || sp.name, 'service-policy:' || sp.id FROM patron_service s JOIN service_policy sp ON sp.id = s.policy_id WHERE s.patron_id = @p AND s.ended_at IS NOT NULL`,
    `SELECT since, 'key-patron', 'key patron (score ' || round(score, 2) || ')', NULL FROM key_patron WHERE patron_id = @p`,
    `SELECT coalesce(sent_at, updated_at), 'message', status || ' ' || channel || ': ' || coalesce(subject, occasion) || coalesce(' (' || reason || ')', ''), 'campaign-message:' || id FROM campaign_message WHERE patron_id = @p`,
    `SELECT submitted_at, 'survey', 'answered survey ' || survey_id || ' (' || via || ')', 'survey-response:' || id FROM survey_response WHERE patron_id = @p`,
    `SELECT pinned_at, 'key-patron', CASE pinned WHEN 1 THEN 'pinned as key patron: ' ELSE 'unpinned as key patron: ' END || reason, NULL FROM key_patron_pin WHERE patron_id = @p`,
  ];
  return db.prepare(`SELECT at, kind, summary, ref FROM (${parts.join(' UNION ALL ')}) WHERE at < @before ORDER BY at DESC LIMIT @limit`)
    .all({ p: patronId, before, limit }) as TimelineEntry[];
}
