import { createRoute, z } from '@hono/zod-openapi';
import { systemClock } from '../../clock.js';
import { DomainError } from '../../errors.js';
import { getPatron } from '../../patrons/patrons.js';
import { CASE_KINDS, CaseQuery, CaseUpdate, caseEvents, getCase, listCases, openCase, updateCase } from '../../crm/cases.js';
import { consentOf, patronProfile, patronTimeline, recommendationsOf } from '../../crm/profile.js';
import { clearProfiling, erasePatron, exportPatron } from '../../crm/privacy.js';
import { ClcClass } from '../../crm/services.js';
import type { AppDeps } from '../app.js';
import { audit, patronTarget } from '../audit.js';
import { ADMIN_SESSION, PATRON_SESSION, STAFF_SESSION } from '../auth.js';
import { actorOf, router, staffNameOf } from '../env.js';
import { problems } from '../problem.js';
import { IdParam, IsoInstant, json, Obj, ok } from '../schemas/common.js';


export const ConsentBody = z.strictObject({
  readingHistory: z.boolean().optional(), profiling: z.boolean().optional(), marketing: z.boolean().optional(),
  channels: z.strictObject({ email: z.boolean().optional(), sms: z.boolean().optional(), inApp: z.boolean().optional() }).optional(),
}).openapi('ConsentChange');
export const FeedbackBody = z.strictObject({
  kind: z.enum(['evaluation', 'impression', 'suggestion', 'praise']),
  rating: z.number().int().min(1).max(5).optional(),
  text: z.string().trim().min(1).max(5000),
  channel: z.enum(['email', 'phone', 'sms', 'in_person', 'messaging_app', 'in_app', 'letter', 'opac']).default('in_person'),
}).openapi('FeedbackCreate');
export const NeedBody = z.strictObject({
  kind: z.enum(['subject_alert', 'accessibility', 'other']),
  value: z.string().trim().min(1).max(200),
  note: z.string().trim().max(2000).optional(),
}).refine((v) => v.kind !== 'subject_alert' || ClcClass.safeParse(v.value).success, { message: 'a subject alert names a CLC top-level class letter', path: ['value'] }).openapi('NeedCreate');
export const CommunicationBody = z.strictObject({
  at: IsoInstant.optional(),
  channel: z.enum(['email', 'phone', 'sms', 'in_person', 'messaging_app', 'in_app', 'letter']),
  direction: z.enum(['in', 'out']),
  summary: z.string().trim().min(1).max(5000),
}).openapi('CommunicationCreate');
export const RetentionBody = z.strictObject({
  action: z.string().trim().min(1).max(500),
  outcome: z.enum(['pending', 'returned', 'no_response', 'declined']).optional(),
  note: z.string().trim().max(2000).optional(),
}).openapi('RetentionEffortCreate');
export const CaseBody = z.strictObject({
  patronId: z.number().int().positive().nullable(),
  kind: z.enum(CASE_KINDS),
  subject: z.string().trim().min(1).max(300),
  detail: z.string().trim().max(10_000).optional(),
  source: z.string().min(1).max(40).default('staff'),
  owner: z.string().min(1).max(100).optional(),
  dueAt: IsoInstant.optional(),
}).openapi('CaseCreate');
export const MyCaseBody = z.strictObject({
  kind: z.enum(CASE_KINDS),
  subject: z.string().trim().min(1).max(300),
  detail: z.string().trim().max(10_000).optional(),
}).openapi('MyCaseCreate');
const TimelineQuery = z.object({ before: IsoInstant.optional(), limit: z.coerce.number().int().min(1).max(500).default(100) });
const NeedParams = z.object({ id: IdParam.shape.id, needId: z.coerce.number().int().positive().openapi({ param: { name: 'needId', in: 'path' } }) });

/**
 * The patron CRM for staff: the 360° profile and timeline, secondary data (feedback, needs, contacts,
 * retention efforts), complaint and request cases, consent, export and erasure; and the patron's own
 * side through the online catalogue. Every staff read of a profile is audited.
 */
export function crmRoutes(deps: AppDeps) {
  const { db } = deps;
  const clock = deps.clock ?? systemClock;
  const app = router();
  const tags = ['crm'];

  app.openapi(createRoute({
    method: 'get', path: '/crm/patrons/{id}/profile', tags, summary: "A patron's 360° profile (audited)", ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 200: ok(Obj('PatronProfile'), 'basic, secondary and derived data'), ...problems(400, 401, 403, 404) },
  }), (c) => {
    const { id } = c.req.valid('param');
    const now = clock.now();
    const profile = patronProfile(db, id, now);
    audit(db, now, actorOf(c.get('principal')), 'crm.profile.view', patronTarget(id));
    return c.json(profile as unknown as Record<string, unknown>, 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/crm/patrons/{id}/timeline', tags, summary: "A patron's timeline, newest first (audited)", ...STAFF_SESSION,
    request: { params: IdParam, query: TimelineQuery },
    responses: { 200: ok(Obj('PatronTimeline'), 'entries, newest first'), ...problems(400, 401, 403, 404) },
  }), (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    const entries = patronTimeline(db, id, q);
    audit(db, clock.now(), actorOf(c.get('principal')), 'crm.timeline.view', patronTarget(id));
    return c.json({ entries, next: entries.length === q.limit ? entries.at(-1)!.at : null }, 200);
  });

  // ---- secondary data ----------------------------------------------------------------------
  function recorded(id: number, actor: string, action: string, insert: () => number) {
    getPatron(db, id);
    const rowId = db.transaction(() => {
      const rowId = insert();
      audit(db, clock.now(), actor, action, patronTarget(id), { id: rowId });
      return rowId;
    })();
    return { id: rowId };
  }

  app.openapi(createRoute({
    method: 'post', path: '/crm/patrons/{id}/feedback', tags, summary: "Record the patron's evaluation, impression, suggestion or praise", ...STAFF_SESSION,
    request: { params: IdParam, body: json(FeedbackBody) },
    responses: { 201: ok(Obj('Created'), 'recorded'), ...problems(400, 401, 403, 404) },
  }), (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    const actor = c.get('principal');
    return c.json(recorded(id, actorOf(actor), 'crm.feedback.add', () => Number(db.prepare(`INSERT INTO patron_feedback (patron_id, at, kind, rating, text, channel, recorded_by)
        VALUES (?, ?, ?, ?, ?, ?, ?)`).run(id, clock.now().toISOString(), b.kind, b.rating ?? null, b.text, b.channel, actorOf(actor)).lastInsertRowid)), 201);
  });

  app.openapi(createRoute({
    method: 'post', path: '/crm/patrons/{id}/needs', tags, summary: 'Record a special information need (subject alert, accessibility, other)', ...STAFF_SESSION,
    request: { params: IdParam, body: json(NeedBody) },
    responses: { 201: ok(Obj('Created'), 'recorded'), ...problems(400, 401, 403, 404) },
  }), (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    return c.json(recorded(id, actorOf(c.get('principal')), 'crm.need.add', () => Number(db.prepare(`INSERT INTO patron_need (patron_id, kind, value, note, created_at)
        VALUES (?, ?, ?, ?, ?)`).run(id, b.kind, b.value, b.note ?? null, clock.now().toISOString()).lastInsertRowid)), 201);
  });

  app.openapi(createRoute({
    method: 'delete', path: '/crm/patrons/{id}/needs/{needId}', tags, summary: 'End an information need', ...STAFF_SESSION,
    request: { params: NeedParams },
    responses: { 204: { description: 'ended' }, ...problems(400, 401, 403, 404) },
  }), (c) => {
    const { id, needId } = c.req.valid('param');
    const now = clock.now();
    const n = db.prepare('UPDATE patron_need SET ended_at = ? WHERE id = ? AND patron_id = ? AND ended_at IS NULL').run(now.toISOString(), needId, id).changes;
    if (!n) throw new DomainError('NEED_NOT_FOUND', `patron ${id} has no current need ${needId}`, 404);
    audit(db, now, actorOf(c.get('principal')), 'crm.need.end', patronTarget(id), { id: needId });
    return c.body(null, 204);
  });

  app.openapi(createRoute({
    method: 'post', path: '/crm/patrons/{id}/communications', tags, summary: 'Log a contact with the patron (any channel, either direction)', ...STAFF_SESSION,
    request: { params: IdParam, body: json(CommunicationBody) },
    responses: { 201: ok(Obj('Created'), 'logged'), ...problems(400, 401, 403, 404) },
  }), (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    const p = c.get('principal');
    const staffName = staffNameOf(p);
    return c.json(recorded(id, actorOf(p), 'crm.communication.add', () => Number(db.prepare(`INSERT INTO communication (patron_id, at, channel, direction, staff, summary)
        VALUES (?, ?, ?, ?, ?, ?)`).run(id, b.at ?? clock.now().toISOString(), b.channel, b.direction, staffName, b.summary).lastInsertRowid)), 201);
  });

  app.openapi(createRoute({
    method: 'post', path: '/crm/patrons/{id}/retention-efforts', tags, summary: 'Record what was done to keep the patron, and how it went', ...STAFF_SESSION,
    request: { params: IdParam, body: json(RetentionBody) },
    responses: { 201: ok(Obj('Created'), 'recorded'), ...problems(400, 401, 403, 404) },
  }), (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    const p = c.get('principal');
    const staffName = staffNameOf(p);
    return c.json(recorded(id, actorOf(p), 'crm.retention.add', () => Number(db.prepare(`INSERT INTO retention_effort (patron_id, at, staff, action, outcome, note)
        VALUES (?, ?, ?, ?, ?, ?)`).run(id, clock.now().toISOString(), staffName, b.action, b.outcome ?? 'pending', b.note ?? null).lastInsertRowid)), 201);
  });

  // ---- cases ---------------------------------------------------------------------------------
  app.openapi(createRoute({
    method: 'get', path: '/crm/cases', tags, summary: 'Complaint and request cases, most urgent first (overdue ones flagged)', ...STAFF_SESSION,
    request: { query: CaseQuery },
    responses: { 200: ok(Obj('CaseList'), 'cases'), ...problems(400, 401, 403) },
  }), (c) => c.json(listCases(db, c.req.valid('query'), clock.now()) as unknown as Record<string, unknown>, 200));

  app.openapi(createRoute({
    method: 'post', path: '/crm/cases', tags, summary: 'Open a complaint, friction or request case', ...STAFF_SESSION,
    request: { body: json(CaseBody) },
    responses: { 201: ok(Obj('Case'), 'the new case'), ...problems(400, 401, 403, 404, 422) },
  }), (c) => {
    const now = clock.now();
    const actor = actorOf(c.get('principal'));
    const created = openCase(db, c.req.valid('json'), actor, now);
    if (created.patronId) audit(db, now, actor, 'crm.case.open', patronTarget(created.patronId), { caseId: created.id });
    return c.json(created as unknown as Record<string, unknown>, 201);
  });

  app.openapi(createRoute({
    method: 'get', path: '/crm/cases/{id}', tags, summary: 'One case with its history', ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 200: ok(Obj('CaseWithEvents'), 'the case'), ...problems(400, 401, 403, 404) },
  }), (c) => {
    const { id } = c.req.valid('param');
    const now = clock.now();
    const found = getCase(db, id, now);
    if (found.patronId) audit(db, now, actorOf(c.get('principal')), 'crm.case.view', patronTarget(found.patronId), { caseId: id });
    return c.json({ ...found, events: caseEvents(db, id) } as unknown as Record<string, unknown>, 200);
  });

  app.openapi(createRoute({
    method: 'patch', path: '/crm/cases/{id}', tags, summary: 'Move a case along open → in_progress → resolved → closed, assign it, move its due date, add a note', ...STAFF_SESSION,
    request: { params: IdParam, body: json(CaseUpdate) },
    responses: { 200: ok(Obj('Case'), 'the case'), ...problems(400, 401, 403, 404, 409, 422) },
  }), (c) => c.json(updateCase(db, c.req.valid('param').id, c.req.valid('json'), actorOf(c.get('principal')), clock.now()) as unknown as Record<string, unknown>, 200));

  // ---- consent, export, erasure ---------------------------------------------------------------
  function setConsent(patronId: number, change: z.output<typeof ConsentBody>, actor: string) {
    const now = clock.now();
    const cur = consentOf(db, patronId);
    const next = {
      readingHistory: change.readingHistory ?? cur.readingHistory, profiling: change.profiling ?? cur.profiling, marketing: change.marketing ?? cur.marketing,
      email: change.channels?.email ?? cur.channels.email, sms: change.channels?.sms ?? cur.channels.sms, inApp: change.channels?.inApp ?? cur.channels.inApp,
    };
    db.transaction(() => {
      db.prepare(`INSERT INTO patron_consent (patron_id, reading_history, profiling, marketing, channel_email, channel_sms, channel_in_app, updated_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(patron_id) DO UPDATE SET reading_history = excluded.reading_history, profiling = excluded.profiling,
          marketing = excluded.marketing, channel_email = excluded.channel_email, channel_sms = excluded.channel_sms, channel_in_app = excluded.channel_in_app,
          updated_at = excluded.updated_at`)
        .run(patronId, +next.readingHistory, +next.profiling, +next.marketing, +next.email, +next.sms, +next.inApp, now.toISOString());
      if (cur.profiling && !next.profiling) clearProfiling(db, patronId);
      audit(db, now, actor, 'patron.consent.change', patronTarget(patronId), change as Record<string, unknown>);
    })();
    return consentOf(db, patronId);
  }

  app.openapi(createRoute({
    method: 'put', path: '/crm/patrons/{id}/consent', tags, summary: "Record the patron's consent (as given at the desk)", ...STAFF_SESSION,
    request: { params: IdParam, body: json(ConsentBody) },
    responses: { 200: ok(Obj('Consent'), 'consent now'), ...problems(400, 401, 403, 404) },
  }), (c) => {
    const { id } = c.req.valid('param');
    getPatron(db, id);
    return c.json(setConsent(id, c.req.valid('json'), actorOf(c.get('principal'))) as unknown as Record<string, unknown>, 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/crm/patrons/{id}/export', tags, summary: 'Everything held about a patron, for a subject access request (audited)', ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 200: ok(Obj('PatronExport'), 'every table naming the patron'), ...problems(400, 401, 403, 404) },
  }), (c) => {
    const { id } = c.req.valid('param');
    const data = exportPatron(db, id);
    audit(db, clock.now(), actorOf(c.get('principal')), 'patron.export', patronTarget(id));
    return c.json(data as unknown as Record<string, unknown>, 200);
  });

  app.openapi(createRoute({
    method: 'delete', path: '/crm/patrons/{id}', tags, summary: 'Erase a patron and everything derived from them (admin; refused with loans or fees open)', ...ADMIN_SESSION,
    request: { params: IdParam },
    responses: { 200: ok(Obj('Erasure'), 'rows removed per table'), ...problems(400, 401, 403, 404, 409) },
  }), (c) => {
    const { id } = c.req.valid('param');
    const result = erasePatron(db, id);
    audit(db, clock.now(), actorOf(c.get('principal')), 'patron.erase', patronTarget(id), result.removed);
    return c.json(result as unknown as Record<string, unknown>, 200);
  });

  // ---- the patron's own side (online catalogue) ----------------------------------------------
  app.openapi(createRoute({
    method: 'get', path: '/me/consent', tags: ['me'], summary: 'What I agreed to', ...PATRON_SESSION,
    responses: { 200: ok(Obj('MyConsent'), 'my consent'), ...problems(401, 403) },
  }), (c) => c.json(consentOf(db, c.get('principal').patronId) as unknown as Record<string, unknown>, 200));

  app.openapi(createRoute({
    method: 'put', path: '/me/consent', tags: ['me'], summary: 'Change what I agree to (withdrawing profiling clears my profile now)', ...PATRON_SESSION,
    request: { body: json(ConsentBody) },
    responses: { 200: ok(Obj('MyConsent'), 'my consent now'), ...problems(400, 401, 403) },
  }), (c) => {
    const p = c.get('principal');
    return c.json(setConsent(p.patronId, c.req.valid('json'), actorOf(p)) as unknown as Record<string, unknown>, 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/me/export', tags: ['me'], summary: 'Everything the library holds about me', ...PATRON_SESSION,
    responses: { 200: ok(Obj('MyExport'), 'my data'), ...problems(401, 403) },
  }), (c) => {
    const p = c.get('principal');
    audit(db, clock.now(), actorOf(p), 'patron.export', patronTarget(p.patronId));
    return c.json(exportPatron(db, p.patronId) as unknown as Record<string, unknown>, 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/me/recommendations', tags: ['me'], summary: 'Books for me, with why (only if I allow profiling)', ...PATRON_SESSION,
    responses: { 200: ok(Obj('MyRecommendations'), 'my recommendations'), ...problems(401, 403) },
  }), (c) => {
    const { patronId } = c.get('principal');
    const { profiling } = consentOf(db, patronId);
    return c.json({ profiling, recommendations: profiling ? recommendationsOf(db, patronId) : [] }, 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/me/feedback', tags: ['me'], summary: 'Tell the library what I think of it', ...PATRON_SESSION,
    request: { body: json(FeedbackBody) },
    responses: { 201: ok(Obj('Created'), 'recorded'), ...problems(400, 401, 403) },
  }), (c) => {
    const { patronId } = c.get('principal');
    const b = c.req.valid('json');
    const id = Number(db.prepare(`INSERT INTO patron_feedback (patron_id, at, kind, rating, text, channel, recorded_by) VALUES (?, ?, ?, ?, ?, 'opac', 'patron')`)
      .run(patronId, clock.now().toISOString(), b.kind, b.rating ?? null, b.text).lastInsertRowid);
    return c.json({ id }, 201);
  });

  app.openapi(createRoute({
    method: 'post', path: '/me/cases', tags: ['me'], summary: 'Make a complaint or a request', ...PATRON_SESSION,
    request: { body: json(MyCaseBody) },
    responses: { 201: ok(Obj('MyCase'), 'the case'), ...problems(400, 401, 403, 422) },
  }), (c) => {
    const p = c.get('principal');
    const b = c.req.valid('json');
    const created = openCase(db, { patronId: p.patronId, ...b, source: 'opac' }, actorOf(p), clock.now());
    return c.json({ id: created.id, status: created.status, dueAt: created.dueAt }, 201);
  });

  app.openapi(createRoute({
    method: 'get', path: '/me/cases', tags: ['me'], summary: 'My complaints and requests, and where they stand', ...PATRON_SESSION,
    responses: { 200: ok(Obj('MyCases'), 'my cases'), ...problems(401, 403) },
  }), (c) => {
    const { patronId } = c.get('principal');
    const { cases } = listCases(db, { patronId, limit: 100, offset: 0 }, clock.now());
    return c.json({ cases: cases.map(({ owner: _owner, ...rest }) => rest) }, 200);
  });

  return app;
}
