import { z } from 'zod';
import type { Db } from '../store/db.js';
import { DomainError, notFound } from '../errors.js';

export const CASE_KINDS = ['complaint', 'friction', 'request'] as const;
export const CASE_STATUSES = ['open', 'in_progress', 'resolved', 'closed'] as const;
export type CaseKind = (typeof CASE_KINDS)[number];
export type CaseStatus = (typeof CASE_STATUSES)[number];

/** Days to resolve, by kind, when the case is opened without a due date. */
export const CASE_DUE_DAYS: Record<CaseKind, number> = { complaint: 3, friction: 7, request: 10 };

/**
 * The workflow: open → in_progress → resolved → closed. A case may be resolved straight from open (a
 * quick fix at the desk); a resolved case may be reopened (back to in_progress) until it is closed;
 * closed is final. Resolving needs a resolution.
 */
const NEXT: Record<CaseStatus, readonly CaseStatus[]> = {
  open: ['in_progress', 'resolved'],
  in_progress: ['resolved'],
  resolved: ['closed', 'in_progress'],
  closed: [],
};

export const CaseInput = z.object({
  patronId: z.number().int().positive().nullable(),
  kind: z.enum(CASE_KINDS),
  subject: z.string().trim().min(1).max(300),
  detail: z.string().trim().max(10_000).optional(),
  source: z.string().min(1).max(40),
  ref: z.string().max(100).optional(),
  owner: z.string().min(1).max(100).optional(),
  dueAt: z.string().datetime().optional(),
});
export type CaseInput = z.input<typeof CaseInput>;

export interface CrmCase {
  id: number; patronId: number | null; kind: CaseKind; subject: string; detail: string | null; source: string;
  status: CaseStatus; owner: string | null; dueAt: string; overdue: boolean; resolution: string | null;
  openedAt: string; updatedAt: string; resolvedAt: string | null; closedAt: string | null; ref: string | null;
}
export interface CaseEvent { at: string; actor: string; action: string; status: CaseStatus | null; note: string | null }

interface CaseRow {
  id: number; patron_id: number | null; kind: CaseKind; subject: string; detail: string | null; source: string; status: CaseStatus;
  owner: string | null; due_at: string; resolution: string | null; opened_at: string; updated_at: string; resolved_at: string | null;
  closed_at: string | null; ref: string | null;
}

const isActive = (s: CaseStatus) => s === 'open' || s === 'in_progress';
const toCase = (r: CaseRow, now: Date): CrmCase => ({
  id: r.id, patronId: r.patron_id, kind: r.kind, subject: r.subject, detail: r.detail, source: r.source, status: r.status,
  owner: r.owner, dueAt: r.due_at, overdue: isActive(r.status) && r.due_at < now.toISOString(), resolution: r.resolution,
  openedAt: r.opened_at, updatedAt: r.updated_at, resolvedAt: r.resolved_at, closedAt: r.closed_at, ref: r.ref,
});

function logEvent(db: Db, caseId: number, at: string, actor: string, action: string, status: CaseStatus | null, note: string | null) {
  db.prepare('INSERT INTO crm_case_event (case_id, at, actor, action, status, note) VALUES (?, ?, ?, ?, ?, ?)')
    .run(caseId, at, actor, action, status, note);
}

/** Opens a complaint, friction or request case; the due date defaults to `CASE_DUE_DAYS` from now. */
export function openCase(db: Db, input: CaseInput, actor: string, now: Date): CrmCase {
  const v = CaseInput.parse(input);
  if (v.patronId !== null && !db.prepare('SELECT 1 FROM patron WHERE id = ?').get(v.patronId)) throw notFound('patron', v.patronId);
  const ts = now.toISOString();
  const due = v.dueAt ?? new Date(now.getTime() + CASE_DUE_DAYS[v.kind] * 86_400_000).toISOString();
  if (due < ts) throw new DomainError('CASE_DUE_IN_PAST', `due date ${due} is before now`, 422);
  return db.transaction(() => {
    const id = Number(db.prepare(`INSERT INTO crm_case (patron_id, kind, subject, detail, source, status, owner, due_at, opened_at, updated_at, ref)
        VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?)`)
      .run(v.patronId, v.kind, v.subject, v.detail ?? null, v.source, v.owner ?? null, due, ts, ts, v.ref ?? null).lastInsertRowid);
    logEvent(db, id, ts, actor, 'opened', 'open', v.detail ?? null);
    if (v.owner) logEvent(db, id, ts, actor, 'assigned', null, v.owner);
    return getCase(db, id, now);
  })();
}

export function getCase(db: Db, id: number, now: Date): CrmCase {
  const row = db.prepare('SELECT * FROM crm_case WHERE id = ?').get(id) as CaseRow | undefined;
  if (!row) throw new DomainError('CASE_NOT_FOUND', `case ${id} not found`, 404);
  return toCase(row, now);
}

export function caseEvents(db: Db, id: number): CaseEvent[] {
  return db.prepare('SELECT at, actor, action, status, note FROM crm_case_event WHERE case_id = ? ORDER BY id').all(id) as CaseEvent[];
}

export const CaseUpdate = z.strictObject({
  status: z.enum(CASE_STATUSES).optional(),
  owner: z.string().min(1).max(100).nullable().optional(),
  dueAt: z.string().datetime().optional(),
  resolution: z.string().trim().min(1).max(10_000).optional(),
  note: z.string().trim().min(1).max(10_000).optional(),
});
export type CaseUpdate = z.input<typeof CaseUpdate>;

/** Moves a case along the workflow, reassigns it, moves its due date or adds a note; each step is logged. */
export function updateCase(db: Db, id: number, patch: CaseUpdate, actor: string, now: Date): CrmCase {
  const v = CaseUpdate.parse(patch);
  const ts = now.toISOString();
  return db.transaction(() => {
    const current = getCase(db, id, now);
    const statusChanges = v.status !== undefined && v.status !== current.status;
    if (current.status === 'closed' && (v.status || v.owner !== undefined || v.dueAt || v.resolution)) {
      throw new DomainError('CASE_CLOSED', `case ${id} is closed`, 409);
    }
    if (statusChanges && v.status) {
      if (!NEXT[current.status].includes(v.status)) {
        throw new DomainError('CASE_TRANSITION_NOT_ALLOWED', `a ${current.status} case cannot become ${v.status} (allowed: ${NEXT[current.status].join(', ') || 'none'})`, 409,
          { from: current.status, to: v.status });
      }
      const resolution = v.resolution ?? current.resolution;
      if (v.status === 'resolved' && !v.resolution) throw new DomainError('CASE_RESOLUTION_REQUIRED', 'resolving a case needs a resolution', 422);
      db.prepare(`UPDATE crm_case SET status = ?, resolution = ?, resolved_at = CASE WHEN ? = 'resolved' THEN ? WHEN ? = 'in_progress' THEN NULL ELSE resolved_at END,
          closed_at = CASE WHEN ? = 'closed' THEN ? ELSE closed_at END, updated_at = ? WHERE id = ?`)
        .run(v.status, resolution, v.status, ts, v.status, v.status, ts, ts, id);
      logEvent(db, id, ts, actor, 'status', v.status, v.status === 'resolved' ? v.resolution! : v.note ?? null);
    } else if (v.resolution) {
      throw new DomainError('CASE_RESOLUTION_WITHOUT_RESOLVE', 'a resolution is given when the case is resolved (status "resolved")', 422);
    }
    if (v.owner !== undefined && v.owner !== current.owner) {
      db.prepare('UPDATE crm_case SET owner = ?, updated_at = ? WHERE id = ?').run(v.owner, ts, id);
      logEvent(db, id, ts, actor, 'assigned', null, v.owner);
    }
    if (v.dueAt && v.dueAt !== current.dueAt) {
      db.prepare('UPDATE crm_case SET due_at = ?, updated_at = ? WHERE id = ?').run(v.dueAt, ts, id);
      logEvent(db, id, ts, actor, 'due', null, v.dueAt);
    }
    // A status change carries the note with it (a resolution replaces it); otherwise the note is its own entry.
    if (v.note && !(statusChanges && v.status !== 'resolved')) logEvent(db, id, ts, actor, 'note', null, v.note);
    return getCase(db, id, now);
  })();
}

export const CaseQuery = z.object({
  status: z.enum(CASE_STATUSES).optional(),
  kind: z.enum(CASE_KINDS).optional(),
  owner: z.string().min(1).max(100).optional(),
  overdue: z.enum(['true', 'false']).transform((s) => s === 'true').optional(),
  patronId: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

/** Cases, most urgent first: active ones by due date, then the rest newest first. */
export function listCases(db: Db, q: z.output<typeof CaseQuery>, now: Date): { total: number; cases: CrmCase[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.status) { where.push('status = ?'); args.push(q.status); }
  if (q.kind) { where.push('kind = ?'); args.push(q.kind); }
  if (q.owner) { where.push('owner = ?'); args.push(q.owner); }
  if (q.patronId) { where.push('patron_id = ?'); args.push(q.patronId); }
  if (q.overdue !== undefined) {
    where.push(q.overdue ? "(status IN ('open', 'in_progress') AND due_at < ?)" : "NOT (status IN ('open', 'in_progress') AND due_at < ?)");
    args.push(now.toISOString());
  }
  const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const total = (db.prepare(`SELECT count(*) AS n FROM crm_case ${clause}`).get(...args) as { n: number }).n;
  const rows = db.prepare(`SELECT * FROM crm_case ${clause}
      ORDER BY status IN ('open', 'in_progress') DESC, CASE WHEN status IN ('open', 'in_progress') THEN due_at END, opened_at DESC, id DESC
      LIMIT ? OFFSET ?`).all(...args, q.limit, q.offset) as CaseRow[];
  return { total, cases: rows.map((r) => toCase(r, now)) };
}

/** Complaint turnaround: resolved cases' median and 90th-percentile hours from opening, by kind. */
export function caseTurnaround(db: Db, sinceIso: string): { kind: CaseKind; resolved: number; medianHours: number | null; p90Hours: number | null; onTimeShare: number | null }[] {
  return CASE_KINDS.map((kind) => {
    const rows = db.prepare(`SELECT (julianday(resolved_at) - julianday(opened_at)) * 24 AS h, resolved_at <= due_at AS on_time FROM crm_case
        WHERE kind = ? AND resolved_at IS NOT NULL AND opened_at >= ? ORDER BY h`).all(kind, sinceIso) as { h: number; on_time: number }[];
    const at = (p: number) => (rows.length ? Math.round(rows[Math.min(rows.length - 1, Math.floor(p * rows.length))]!.h * 10) / 10 : null);
    return {
      kind, resolved: rows.length, medianHours: at(0.5), p90Hours: at(0.9),
      onTimeShare: rows.length ? Math.round((rows.filter((r) => r.on_time === 1).length / rows.length) * 1000) / 1000 : null,
    };
  });
}
