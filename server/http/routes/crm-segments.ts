import { createRoute, z } from '@hono/zod-openapi';
import { systemClock } from '../../clock.js';
import { DomainError } from '../../errors.js';
import { getPatron } from '../../patrons/patrons.js';
import { AudienceSpec, resolveAudience } from '../../crm/audience.js';
import { FILTER_FIELDS, FilterSchema, compileFilter } from '../../crm/filters.js';
import { churnRiskList, crmAnalytics, currentSegments, keyPatronList, MIN_GROUP, segmentMovement, segmentSizesOverTime, shown } from '../../crm/analytics.js';
import { applyServices, ClcClass, createServicePolicy, endServicePolicy, libraryToday, listServicePolicies, ServicePolicyInput } from '../../crm/services.js';
import { recomputeCrm } from '../../crm/recompute.js';
import { keySettings, setKeySettings } from '../../crm/scores.js';
import type { AppDeps } from '../app.js';
import { audit, auditPatronReads, patronTarget } from '../audit.js';
import { ADMIN_SESSION, STAFF_SESSION } from '../auth.js';
import { actorOf, router, staffNameOf } from '../env.js';
import { problems } from '../problem.js';
import { IdParam, IsoInstant, json, Obj, ok } from '../schemas/common.js';


export const SavedSegmentBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  description: z.string().trim().max(2000).optional(),
  filter: FilterSchema,
}).openapi('SavedSegmentCreate');
const Weight = z.number().min(0).max(1);
export const CrmSettingsBody = z.strictObject({
  priorityClasses: z.array(ClcClass).max(22).optional(),
  keyShare: z.number().min(0.001).max(0.5).optional(),
  keyWeights: z.strictObject({ engagement: Weight, breadth: Weight, tenure: Weight, participation: Weight, priority: Weight })
    .refine((w) => Object.values(w).some((v) => v > 0), 'at least one weight above 0').optional(),
}).openapi('CrmSettings');
export const PinBody = z.strictObject({ pinned: z.boolean(), reason: z.string().trim().min(3).max(1000) }).openapi('KeyPatronPin');
export const EventBody = z.strictObject({
  title: z.string().trim().min(1).max(300),
  kind: z.enum(['event', 'lecture', 'workshop', 'exhibition', 'training']),
  branchId: z.string().min(1).max(64).optional(),
  startsAt: IsoInstant,
  endsAt: IsoInstant.optional(),
  subjects: z.array(ClcClass).max(22).default([]),
  capacity: z.number().int().positive().optional(),
}).openapi('LibraryEventCreate');
export const AttendanceBody = z.strictObject({
  patronId: z.number().int().positive(),
  status: z.enum(['invited', 'registered', 'attended', 'no_show', 'cancelled']),
}).openapi('AttendanceChange');

/**
 * Segments, key patrons, differentiated services, library events and the CRM's analytics, for staff.
 * No group under MIN_GROUP (10) patrons is shown: its size is withheld and its members not listed.
 */
export function crmSegmentRoutes(deps: AppDeps) {
  const { db } = deps;
  const clock = deps.clock ?? systemClock;
  const app = router();
  const tags = ['crm'];

  app.openapi(createRoute({
    method: 'get', path: '/crm/segments', tags, summary: 'Current engagement tiers and subject clusters, with sizes, rules and quality', ...STAFF_SESSION,
    responses: { 200: ok(Obj('Segments'), 'segments'), ...problems(401, 403) },
  }), (c) => c.json(currentSegments(db) as unknown as Record<string, unknown>, 200));

  app.openapi(createRoute({
    method: 'get', path: '/crm/segments/history', tags, summary: 'Segment sizes per recompute, and the latest movement between tiers', ...STAFF_SESSION,
    responses: { 200: ok(Obj('SegmentHistory'), 'sizes and movement'), ...problems(401, 403) },
  }), (c) => c.json({ sizes: segmentSizesOverTime(db), movement: segmentMovement(db) }, 200));

  app.openapi(createRoute({
    method: 'post', path: '/crm/recompute', tags, summary: 'Recompute profiles, segments, key patrons, recommendations and services now', ...STAFF_SESSION,
    responses: { 200: ok(Obj('RecomputeSummary'), 'what the recompute found'), ...problems(401, 403) },
  }), async (c) => {
    const summary = deps.crm ? await deps.crm.recompute('manual') : recomputeCrm(db, clock.now(), { trigger: 'manual' });
    audit(db, clock.now(), actorOf(c.get('principal')), 'crm.recompute', null, { runId: summary.runId });
    return c.json(summary as unknown as Record<string, unknown>, 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/crm/filter-fields', tags, summary: 'The fields a rule-based segment may filter on', ...STAFF_SESSION,
    responses: { 200: ok(Obj('FilterFields'), 'fields'), ...problems(401, 403) },
  }), (c) => c.json({ fields: Object.entries(FILTER_FIELDS).map(([name, f]) => ({ name, kind: f.kind, profiling: !!f.needsProfiling, description: f.description })) }, 200));

  app.openapi(createRoute({
    method: 'post', path: '/crm/audience/preview', tags, summary: 'How many patrons a segment and/or filter reaches (withheld under 10)', ...STAFF_SESSION,
    request: { body: json(AudienceSpec) },
    responses: { 200: ok(Obj('AudiencePreview'), 'the size'), ...problems(400, 401, 403, 404, 422) },
  }), (c) => c.json(shown(resolveAudience(db, c.req.valid('json'), clock.now()).length), 200));

  app.openapi(createRoute({
    method: 'get', path: '/crm/settings', tags, summary: "The library's priority subjects and the key-patron share and weights", ...STAFF_SESSION,
    responses: { 200: ok(Obj('CrmSettingsView'), 'settings'), ...problems(401, 403) },
  }), (c) => c.json(keySettings(db), 200));

  app.openapi(createRoute({
    method: 'put', path: '/crm/settings', tags, summary: 'Change the priority subjects, key-patron share or weights (admin; used from the next recompute)',
    ...ADMIN_SESSION,
    request: { body: json(CrmSettingsBody) },
    responses: { 200: ok(Obj('CrmSettingsView'), 'settings now'), ...problems(400, 401, 403, 422) },
  }), (c) => {
    const b = c.req.valid('json');
    db.transaction(() => {
      setKeySettings(db, b);
      audit(db, clock.now(), actorOf(c.get('principal')), 'crm.settings.change', null, b as Record<string, unknown>);
    })();
    return c.json(keySettings(db), 200);
  });

  // ---- saved rule-based segments ----------------------------------------------------------------
  const savedRow = (id: number) => {
    const r = db.prepare('SELECT * FROM saved_segment WHERE id = ?').get(id) as Record<string, any> | undefined;
    if (!r) throw new DomainError('SEGMENT_NOT_FOUND', `saved segment ${id} not found`, 404);
    return { id: r.id, name: r.name, description: r.description, filter: JSON.parse(r.filter), createdBy: r.created_by, createdAt: r.created_at, updatedAt: r.updated_at };
  };
  const withSize = (s: ReturnType<typeof savedRow>) => ({ ...s, ...shown(resolveAudience(db, { segment: `saved:${s.id}` }, clock.now()).length) });

  app.openapi(createRoute({
    method: 'get', path: '/crm/saved-segments', tags, summary: 'Rule-based segments librarians saved, with their sizes', ...STAFF_SESSION,
    responses: { 200: ok(Obj('SavedSegmentList'), 'saved segments'), ...problems(401, 403) },
  }), (c) => c.json({ segments: (db.prepare('SELECT id FROM saved_segment ORDER BY name').pluck().all() as number[]).map((id) => withSize(savedRow(id))) }, 200));

  app.openapi(createRoute({
    method: 'post', path: '/crm/saved-segments', tags, summary: 'Save a rule-based segment (a filter over profile fields)', ...STAFF_SESSION,
    request: { body: json(SavedSegmentBody) },
    responses: { 201: ok(Obj('SavedSegment'), 'the segment'), ...problems(400, 401, 403, 409, 422) },
  }), (c) => {
    const b = c.req.valid('json');
    const now = clock.now();
    compileFilter(b.filter, now); // refuses a mistyped value before anything is stored
    if (db.prepare('SELECT 1 FROM saved_segment WHERE name = ?').get(b.name)) throw new DomainError('SEGMENT_NAME_TAKEN', `a segment named "${b.name}" exists`, 409);
    const id = Number(db.prepare('INSERT INTO saved_segment (name, description, filter, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(b.name, b.description ?? null, JSON.stringify(b.filter), actorOf(c.get('principal')), now.toISOString(), now.toISOString()).lastInsertRowid);
    return c.json(withSize(savedRow(id)) as unknown as Record<string, unknown>, 201);
  });

  app.openapi(createRoute({
    method: 'put', path: '/crm/saved-segments/{id}', tags, summary: 'Change a saved segment', ...STAFF_SESSION,
    request: { params: IdParam, body: json(SavedSegmentBody) },
    responses: { 200: ok(Obj('SavedSegment'), 'the segment'), ...problems(400, 401, 403, 404, 409, 422) },
  }), (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    const now = clock.now();
    savedRow(id);
    compileFilter(b.filter, now);
    if (db.prepare('SELECT 1 FROM saved_segment WHERE name = ? AND id != ?').get(b.name, id)) throw new DomainError('SEGMENT_NAME_TAKEN', `a segment named "${b.name}" exists`, 409);
    db.prepare('UPDATE saved_segment SET name = ?, description = ?, filter = ?, updated_at = ? WHERE id = ?').run(b.name, b.description ?? null, JSON.stringify(b.filter), now.toISOString(), id);
    return c.json(withSize(savedRow(id)) as unknown as Record<string, unknown>, 200);
  });

  app.openapi(createRoute({
    method: 'delete', path: '/crm/saved-segments/{id}', tags, summary: 'Delete a saved segment (refused while a service policy uses it)', ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 204: { description: 'deleted' }, ...problems(400, 401, 403, 404, 409) },
  }), (c) => {
    const { id } = c.req.valid('param');
    savedRow(id);
    const using = db.prepare("SELECT name FROM service_policy WHERE audience = ? AND (effective_to IS NULL OR effective_to >= ?)").pluck().all(`saved:${id}`, libraryToday(db, clock.now())) as string[];
    if (using.length) throw new DomainError('SEGMENT_IN_USE', `service policies use this segment: ${using.join(', ')}`, 409);
    db.prepare('DELETE FROM saved_segment WHERE id = ?').run(id);
    return c.body(null, 204);
  });

  app.openapi(createRoute({
    method: 'get', path: '/crm/saved-segments/{id}/members', tags, summary: "A saved segment's patrons (refused under 10; audited)", ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 200: ok(Obj('SegmentMembers'), 'patrons'), ...problems(400, 401, 403, 404, 409) },
  }), (c) => {
    const { id } = c.req.valid('param');
    savedRow(id);
    const ids = resolveAudience(db, { segment: `saved:${id}` }, clock.now());
    if (ids.length < MIN_GROUP) throw new DomainError('SEGMENT_TOO_SMALL', `segments under ${MIN_GROUP} patrons are not listed`, 409);
    const shownIds = ids.slice(0, 500);
    auditPatronReads(db, clock.now(), actorOf(c.get('principal')), 'crm.segment.members', shownIds, { segment: id });
    const patrons = db.prepare(`SELECT id, name, category, card_number AS cardNumber FROM patron WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`).all(JSON.stringify(shownIds));
    return c.json({ total: ids.length, patrons }, 200);
  });

  // ---- key patrons --------------------------------------------------------------------------
  app.openapi(createRoute({
    method: 'get', path: '/crm/key-patrons', tags, summary: 'Key patrons, each with the components that explain the flag (audited)', ...STAFF_SESSION,
    responses: { 200: ok(Obj('KeyPatronList'), 'key patrons'), ...problems(401, 403) },
  }), (c) => {
    const list = keyPatronList(db);
    auditPatronReads(db, clock.now(), actorOf(c.get('principal')), 'crm.key-patrons.view', list.map((k) => k.patronId));
    return c.json({ keyPatrons: list }, 200);
  });

  app.openapi(createRoute({
    method: 'put', path: '/crm/key-patrons/{id}/pin', tags, summary: 'Pin a patron as key (pinned: true) or as not key (false), with a reason', ...STAFF_SESSION,
    request: { params: IdParam, body: json(PinBody) },
    responses: { 200: ok(Obj('KeyPatronPinResult'), 'the pin'), ...problems(400, 401, 403, 404) },
  }), (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    const now = clock.now();
    const p = c.get('principal');
    const by = staffNameOf(p);
    getPatron(db, id);
    db.transaction(() => {
      db.prepare(`INSERT INTO key_patron_pin (patron_id, pinned, reason, pinned_by, pinned_at) VALUES (?, ?, ?, ?, ?)
          ON CONFLICT(patron_id) DO UPDATE SET pinned = excluded.pinned, reason = excluded.reason, pinned_by = excluded.pinned_by, pinned_at = excluded.pinned_at`)
        .run(id, b.pinned ? 1 : 0, b.reason, by, now.toISOString());
      // The pin takes effect now; the next recompute keeps it.
      if (b.pinned) {
        db.prepare(`INSERT INTO key_patron (patron_id, since, score, reasons) VALUES (?, ?, coalesce((SELECT key_score FROM patron_profile WHERE patron_id = ?), 0), ?)
            ON CONFLICT(patron_id) DO UPDATE SET reasons = excluded.reasons`).run(id, now.toISOString(), id, JSON.stringify({ pinned: true, reason: b.reason, by }));
      } else {
        db.prepare('DELETE FROM key_patron WHERE patron_id = ?').run(id);
      }
      audit(db, now, actorOf(p), b.pinned ? 'crm.key.pin' : 'crm.key.unpin', patronTarget(id), { reason: b.reason });
    })();
    applyServices(db, now); // services for key patrons follow the pin now, not at the next recompute
    return c.json({ patronId: id, pinned: b.pinned, reason: b.reason, by, at: now.toISOString() }, 200);
  });

  app.openapi(createRoute({
    method: 'delete', path: '/crm/key-patrons/{id}/pin', tags, summary: 'Remove a pin: the score decides again at the next recompute', ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 204: { description: 'removed' }, ...problems(400, 401, 403, 404) },
  }), (c) => {
    const { id } = c.req.valid('param');
    const n = db.prepare('DELETE FROM key_patron_pin WHERE patron_id = ?').run(id).changes;
    if (!n) throw new DomainError('PIN_NOT_FOUND', `patron ${id} is not pinned`, 404);
    audit(db, clock.now(), actorOf(c.get('principal')), 'crm.key.pin.remove', patronTarget(id));
    return c.body(null, 204);
  });

  app.openapi(createRoute({
    method: 'get', path: '/crm/churn-risk', tags, summary: 'Patrons most at risk of lapsing (key patrons first; audited)', ...STAFF_SESSION,
    request: { query: z.object({ minRisk: z.coerce.number().min(0).max(1).default(0.7), limit: z.coerce.number().int().min(1).max(500).default(50) }) },
    responses: { 200: ok(Obj('ChurnRiskList'), 'patrons'), ...problems(400, 401, 403) },
  }), (c) => {
    const q = c.req.valid('query');
    const list = churnRiskList(db, q.minRisk, q.limit);
    auditPatronReads(db, clock.now(), actorOf(c.get('principal')), 'crm.churn-risk.view', list.map((r) => r.patronId));
    return c.json({ patrons: list }, 200);
  });

  // ---- differentiated services ----------------------------------------------------------------
  app.openapi(createRoute({
    method: 'get', path: '/crm/services', tags, summary: 'Service policies attached to segments or key status', ...STAFF_SESSION,
    responses: { 200: ok(Obj('ServicePolicyList'), 'policies'), ...problems(401, 403) },
  }), (c) => c.json({ policies: listServicePolicies(db) }, 200));

  app.openapi(createRoute({
    method: 'post', path: '/crm/services', tags, summary: 'Attach a service to a segment or to key patrons, with effective dates (applied now)', ...STAFF_SESSION,
    request: { body: json(ServicePolicyInput) },
    responses: { 201: ok(Obj('ServicePolicy'), 'the policy, and what applying it did'), ...problems(400, 401, 403, 404, 422) },
  }), (c) => {
    const now = clock.now();
    const policy = createServicePolicy(db, c.req.valid('json'), actorOf(c.get('principal')), now);
    const applied = applyServices(db, now);
    audit(db, now, actorOf(c.get('principal')), 'crm.service.create', null, { policyId: policy.id });
    return c.json({ ...policy, applied }, 201);
  });

  app.openapi(createRoute({
    method: 'post', path: '/crm/services/{id}/end', tags, summary: 'End a service policy now (yesterday becomes its last day)', ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 200: ok(Obj('ServicePolicy'), 'the policy, and what applying it did'), ...problems(400, 401, 403, 404) },
  }), (c) => {
    const now = clock.now();
    const policy = endServicePolicy(db, c.req.valid('param').id, now);
    const applied = applyServices(db, now);
    audit(db, now, actorOf(c.get('principal')), 'crm.service.end', null, { policyId: policy.id });
    return c.json({ ...policy, applied }, 200);
  });

  // ---- library events ----------------------------------------------------------------------
  app.openapi(createRoute({
    method: 'get', path: '/crm/events', tags, summary: 'Library events and lectures, upcoming first, with attendance counts', ...STAFF_SESSION,
    responses: { 200: ok(Obj('LibraryEventList'), 'events'), ...problems(401, 403) },
  }), (c) => c.json({
    events: (db.prepare(`SELECT e.*, (SELECT count(*) FROM event_attendance a WHERE a.event_id = e.id AND a.status IN ('registered', 'attended')) AS registered,
        (SELECT count(*) FROM event_attendance a WHERE a.event_id = e.id AND a.status = 'attended') AS attended FROM library_event e ORDER BY e.starts_at DESC LIMIT 200`).all() as any[])
      .map((e) => ({ id: e.id, title: e.title, kind: e.kind, branchId: e.branch_id, startsAt: e.starts_at, endsAt: e.ends_at, subjects: JSON.parse(e.subjects), capacity: e.capacity, registered: e.registered, attended: e.attended })),
  }, 200));

  app.openapi(createRoute({
    method: 'post', path: '/crm/events', tags, summary: 'Create a library event or lecture', ...STAFF_SESSION,
    request: { body: json(EventBody) },
    responses: { 201: ok(Obj('LibraryEvent'), 'the event'), ...problems(400, 401, 403, 404, 422) },
  }), (c) => {
    const b = c.req.valid('json');
    if (b.branchId && !db.prepare('SELECT 1 FROM branch WHERE id = ?').get(b.branchId)) throw new DomainError('BRANCH_NOT_FOUND', `branch ${b.branchId} not found`, 404);
    if (b.endsAt && b.endsAt < b.startsAt) throw new DomainError('EVENT_DATES_INVALID', 'endsAt is before startsAt', 422);
    const id = Number(db.prepare('INSERT INTO library_event (title, kind, branch_id, starts_at, ends_at, subjects, capacity, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(b.title, b.kind, b.branchId ?? null, b.startsAt, b.endsAt ?? null, JSON.stringify(b.subjects), b.capacity ?? null, clock.now().toISOString()).lastInsertRowid);
    return c.json({ id, ...b }, 201);
  });

  app.openapi(createRoute({
    method: 'put', path: '/crm/events/{id}/attendance', tags, summary: "Record a patron's invitation, registration or attendance", ...STAFF_SESSION,
    request: { params: IdParam, body: json(AttendanceBody) },
    responses: { 200: ok(Obj('Attendance'), 'recorded'), ...problems(400, 401, 403, 404, 409) },
  }), (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    const now = clock.now();
    const ev = db.prepare('SELECT capacity FROM library_event WHERE id = ?').get(id) as { capacity: number | null } | undefined;
    if (!ev) throw new DomainError('EVENT_NOT_FOUND', `event ${id} not found`, 404);
    getPatron(db, b.patronId);
    if (b.status === 'registered' && ev.capacity !== null) {
      const taken = db.prepare("SELECT count(*) FROM event_attendance WHERE event_id = ? AND status IN ('registered', 'attended') AND patron_id != ?").pluck().get(id, b.patronId) as number;
      if (taken >= ev.capacity) throw new DomainError('EVENT_FULL', `event ${id} is full (${ev.capacity} places)`, 409);
    }
    db.prepare(`INSERT INTO event_attendance (event_id, patron_id, status, at) VALUES (?, ?, ?, ?)
        ON CONFLICT(event_id, patron_id) DO UPDATE SET status = excluded.status, at = excluded.at`).run(id, b.patronId, b.status, now.toISOString());
    audit(db, now, actorOf(c.get('principal')), 'crm.event.attendance', patronTarget(b.patronId), { eventId: id, status: b.status });
    return c.json({ eventId: id, patronId: b.patronId, status: b.status, at: now.toISOString() }, 200);
  });

  // ---- analytics -----------------------------------------------------------------------------
  app.openapi(createRoute({
    method: 'get', path: '/crm/analytics', tags, summary: 'Segments and movement, key patrons, churn risk, satisfaction, visits vs loans, subject demand vs collection, complaint turnaround', ...STAFF_SESSION,
    responses: { 200: ok(Obj('CrmAnalytics'), 'the figures'), ...problems(401, 403) },
  }), (c) => {
    const data = crmAnalytics(db, clock.now());
    auditPatronReads(db, clock.now(), actorOf(c.get('principal')), 'crm.churn-risk.view', data.churnRisk.map((r) => r.patronId));
    return c.json(data as unknown as Record<string, unknown>, 200);
  });

  return app;
}
