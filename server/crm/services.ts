import { z } from 'zod';
import type { Db } from '../store/db.js';
import { getSetting } from '../store/db.js';
import { addDays, localDate } from '../circulation/calendar.js';
import { DomainError } from '../errors.js';
import { CLC_CLASSES } from '../catalogue/classification.js';
import { resolveAudience, SegmentRef } from './audience.js';

export const SERVICE_KINDS = ['loan_extension', 'extra_items', 'new_arrival_alerts', 'subject_librarian', 'event_invitations'] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];

const IsoDay = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD');
/** A CLC top-level class letter (A–Z without L, M, W, Y). */
export const ClcClass = z.enum(CLC_CLASSES);

/** Each kind's parameters. Loan extensions and extra items feed the circulation policy (patron_policy_extra). */
const PARAMS = {
  loan_extension: z.strictObject({ extraDays: z.number().int().min(1).max(365) }),
  extra_items: z.strictObject({ extraLoans: z.number().int().min(1).max(100) }),
  new_arrival_alerts: z.strictObject({ classes: z.array(ClcClass).max(22).optional() }),
  subject_librarian: z.strictObject({ staff: z.string().min(1).max(100), classes: z.array(ClcClass).max(22).optional() }),
  event_invitations: z.strictObject({ eventKinds: z.array(z.string().min(1).max(40)).max(10).optional() }),
} satisfies Record<ServiceKind, z.ZodType>;

export const ServicePolicyInput = z.strictObject({
  name: z.string().trim().min(1).max(200),
  kind: z.enum(SERVICE_KINDS),
  audience: SegmentRef.refine((s) => s !== 'all', 'a differentiated service is for a segment, not for everyone'),
  params: z.record(z.string(), z.unknown()).default({}),
  effectiveFrom: IsoDay,
  effectiveTo: IsoDay.nullish(),
});
export type ServicePolicyInput = z.input<typeof ServicePolicyInput>;

export interface ServicePolicy {
  id: number; name: string; kind: ServiceKind; audience: string; params: Record<string, unknown>;
  effectiveFrom: string; effectiveTo: string | null; createdBy: string; createdAt: string;
}
interface PolicyRow { id: number; name: string; kind: ServiceKind; audience: string; params: string; effective_from: string; effective_to: string | null; created_by: string; created_at: string }
const toPolicy = (r: PolicyRow): ServicePolicy => ({
  id: r.id, name: r.name, kind: r.kind, audience: r.audience, params: JSON.parse(r.params), effectiveFrom: r.effective_from,
  effectiveTo: r.effective_to, createdBy: r.created_by, createdAt: r.created_at,
});

function validate(v: z.output<typeof ServicePolicyInput>) {
  const parsed = PARAMS[v.kind].safeParse(v.params);
  if (!parsed.success) {
    throw new DomainError('SERVICE_PARAMS_INVALID', `params for ${v.kind}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(params)'} ${i.message}`).join('; ')}`, 422);
  }
  if (v.effectiveTo && v.effectiveTo < v.effectiveFrom) throw new DomainError('SERVICE_DATES_INVALID', 'effectiveTo is before effectiveFrom', 422);
  return parsed.data as Record<string, unknown>;
}

export function createServicePolicy(db: Db, input: ServicePolicyInput, actor: string, now: Date): ServicePolicy {
  const v = ServicePolicyInput.parse(input);
  const params = validate(v);
  const id = Number(db.prepare(`INSERT INTO service_policy (name, kind, audience, params, effective_from, effective_to, created_by, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(v.name, v.kind, v.audience, JSON.stringify(params), v.effectiveFrom, v.effectiveTo ?? null, actor, now.toISOString()).lastInsertRowid);
  return getServicePolicy(db, id);
}

export function getServicePolicy(db: Db, id: number): ServicePolicy {
  const row = db.prepare('SELECT * FROM service_policy WHERE id = ?').get(id) as PolicyRow | undefined;
  if (!row) throw new DomainError('SERVICE_POLICY_NOT_FOUND', `service policy ${id} not found`, 404);
  return toPolicy(row);
}

export function listServicePolicies(db: Db): ServicePolicy[] {
  return (db.prepare('SELECT * FROM service_policy ORDER BY effective_from, id').all() as PolicyRow[]).map(toPolicy);
}

/** The library's date now (its time zone): effective dates are the library's calendar days. */
export const libraryToday = (db: Db, now: Date) => localDate(now, getSetting(db, 'time_zone', 'UTC'));

/**
 * Ends a policy now: its last day becomes yesterday (effective dates are inclusive), so no apply from
 * today on finds it in effect. It stays on record; a policy that had not begun never takes effect.
 */
export function endServicePolicy(db: Db, id: number, now: Date): ServicePolicy {
  const p = getServicePolicy(db, id);
  const yesterday = addDays(libraryToday(db, now), -1);
  db.prepare('UPDATE service_policy SET effective_to = ? WHERE id = ?').run(p.effectiveTo && p.effectiveTo < yesterday ? p.effectiveTo : yesterday, id);
  return getServicePolicy(db, id);
}

/**
 * Brings every patron's services in line with the policies in effect today (the library's date) and
 * their audiences now:
 * opens a patron_service row for each patron newly in a policy's audience, closes the rows of those who
 * left it or whose policy ended, and rewrites the circulation extras (the largest extension and the
 * largest extra-items allowance of the patron's active services; extras from different policies do not
 * stack). Runs in one transaction.
 */
export function applyServices(db: Db, now: Date): { opened: number; closed: number; withExtras: number } {
  const ts = now.toISOString();
  const today = libraryToday(db, now);
  return db.transaction(() => {
    const policies = listServicePolicies(db);
    const want = new Map<number, Set<number>>();
    for (const p of policies) {
      const active = p.effectiveFrom <= today && (p.effectiveTo === null || p.effectiveTo >= today);
      want.set(p.id, new Set(active ? resolveAudience(db, { segment: p.audience }, now) : []));
    }
    let opened = 0, closed = 0;
    const current = db.prepare('SELECT id, patron_id, policy_id FROM patron_service WHERE ended_at IS NULL').all() as { id: number; patron_id: number; policy_id: number }[];
    const have = new Map<number, Set<number>>();
    const close = db.prepare('UPDATE patron_service SET ended_at = ? WHERE id = ?');
    for (const r of current) {
      if (want.get(r.policy_id)?.has(r.patron_id)) (have.get(r.policy_id) ?? have.set(r.policy_id, new Set()).get(r.policy_id)!).add(r.patron_id);
      else { close.run(ts, r.id); closed++; }
    }
    const open = db.prepare('INSERT INTO patron_service (patron_id, policy_id, started_at, detail) VALUES (?, ?, ?, ?)');
    for (const p of policies) {
      const detail = JSON.stringify({ name: p.name, kind: p.kind, params: p.params, audience: p.audience });
      for (const patronId of want.get(p.id)!) if (!have.get(p.id)?.has(patronId)) { open.run(patronId, p.id, ts, detail); opened++; }
    }
    db.prepare('DELETE FROM patron_policy_extra').run();
    const extras = db.prepare(`INSERT INTO patron_policy_extra (patron_id, extra_days, extra_loans)
        SELECT s.patron_id,
          max(CASE WHEN sp.kind = 'loan_extension' THEN json_extract(sp.params, '$.extraDays') ELSE 0 END),
          max(CASE WHEN sp.kind = 'extra_items' THEN json_extract(sp.params, '$.extraLoans') ELSE 0 END)
        FROM patron_service s JOIN service_policy sp ON sp.id = s.policy_id
        WHERE s.ended_at IS NULL AND sp.kind IN ('loan_extension', 'extra_items') GROUP BY s.patron_id`).run();
    return { opened, closed, withExtras: extras.changes };
  }).immediate();
}

export interface PatronServiceView { policyId: number; name: string; kind: ServiceKind; params: Record<string, unknown>; startedAt: string; endedAt: string | null }

export function patronServices(db: Db, patronId: number): PatronServiceView[] {
  return (db.prepare(`SELECT s.policy_id, sp.name, sp.kind, sp.params, s.started_at, s.ended_at FROM patron_service s
      JOIN service_policy sp ON sp.id = s.policy_id WHERE s.patron_id = ? ORDER BY s.started_at DESC, s.id DESC`).all(patronId) as
      { policy_id: number; name: string; kind: ServiceKind; params: string; started_at: string; ended_at: string | null }[])
    .map((r) => ({ policyId: r.policy_id, name: r.name, kind: r.kind, params: JSON.parse(r.params), startedAt: r.started_at, endedAt: r.ended_at }));
}
