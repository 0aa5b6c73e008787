import { createRoute, z } from '@hono/zod-openapi';
import { createPatron, getPatron, PatronInput, PinInput, searchPatrons, setPatronPin, updatePatron } from '../../patrons/patrons.js';
import { systemClock } from '../../clock.js';
import { notFound } from '../../errors.js';
import type { AppDeps } from '../app.js';
import { API_BASE } from '../types.js';
import { audit, auditPatronReads, patronTarget } from '../audit.js';
import { STAFF_SESSION } from '../auth.js';
import { actorOf, router } from '../env.js';
import { branchExists } from '../op-context.js';
import { fieldProblem, problems } from '../problem.js';
import { deleteSessionsOf } from '../sessions.js';
import { PatronListSchema, PatronSchema } from '../schemas/catalogue.js';
import { FeeListSchema, HoldListSchema, LoanListSchema, PatronStatusSchema } from '../schemas/circulation.js';
import { BranchId, IdParam, json, ok, Paging, patchOf } from '../schemas/common.js';

export const PatronCreateBody = PatronInput.extend({ pin: PinInput.optional() }).strict().openapi('PatronCreate');
export const PatronPatchBody = patchOf(PatronInput, 'PatronPatch');
export const PinBody = z.strictObject({ pin: PinInput }).openapi('PinChange');
export const PatronQuery = z.object({
  q: z.string().trim().min(1).max(200).optional().openapi({ description: 'part of the name, or the exact card number' }),
  category: z.string().min(1).max(40).optional(),
  ...Paging,
});

/**
 * Patron records, for staff. Patron data is personal data: every read and every change is written to
 * the audit log with the staff user and the patron (target 'patron:<id>').
 */
export function patronRoutes(deps: AppDeps) {
  const { db, circulation } = deps;
  const clock = deps.clock ?? systemClock;
  const app = router();
  const tags = ['patrons'];

  app.openapi(createRoute({
    method: 'get', path: '/patrons', tags, summary: 'Search patrons by name or card number', ...STAFF_SESSION,
    request: { query: PatronQuery },
    responses: { 200: ok(PatronListSchema, 'matching patrons'), ...problems(400, 401, 403) },
  }), (c) => {
    const query = c.req.valid('query');
    const found = searchPatrons(db, query);
    auditPatronReads(db, clock.now(), actorOf(c.get('principal')), 'patron.search', found.patrons.map((p) => p.id),
      { q: query.q ?? null, category: query.category ?? null });
    return c.json(found, 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/patrons', tags, summary: 'Register a patron (optionally with a PIN)', ...STAFF_SESSION,
    request: { body: json(PatronCreateBody) },
    responses: { 201: ok(PatronSchema, 'the new patron'), ...problems(400, 401, 403, 404, 409, 422) },
  }), async (c) => {
    const now = clock.now();
    const patron = await createPatron(db, c.req.valid('json'), now);
    audit(db, now, actorOf(c.get('principal')), 'patron.create', patronTarget(patron.id));
    c.header('Location', `${API_BASE}/patrons/${patron.id}`);
    return c.json(patron, 201);
  });

  app.openapi(createRoute({
    method: 'get', path: '/patrons/{id}', tags, summary: 'Read a patron', ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 200: ok(PatronSchema, 'the patron'), ...problems(400, 401, 403, 404) },
  }), (c) => {
    const patron = getPatron(db, c.req.valid('param').id);
    audit(db, clock.now(), actorOf(c.get('principal')), 'patron.read', patronTarget(patron.id));
    return c.json(patron, 200);
  });

  app.openapi(createRoute({
    method: 'patch', path: '/patrons/{id}', tags, summary: 'Change some fields of a patron', ...STAFF_SESSION,
    request: { params: IdParam, body: json(PatronPatchBody) },
    responses: { 200: ok(PatronSchema, 'the changed patron'), ...problems(400, 401, 403, 404, 409, 422) },
  }), (c) => {
    const patch = c.req.valid('json');
    const now = clock.now();
    const patron = updatePatron(db, c.req.valid('param').id, patch, now);
    audit(db, now, actorOf(c.get('principal')), 'patron.update', patronTarget(patron.id), { fields: Object.keys(patch) });
    return c.json(patron, 200);
  });

  app.openapi(createRoute({
    method: 'put', path: '/patrons/{id}/pin', tags, summary: "Set a patron's PIN (ends the patron's sessions)", ...STAFF_SESSION,
    request: { params: IdParam, body: json(PinBody) },
    responses: { 204: { description: 'PIN set' }, ...problems(400, 401, 403, 404, 422) },
  }), async (c) => {
    const { id } = c.req.valid('param');
    await setPatronPin(db, id, c.req.valid('json').pin);
    deleteSessionsOf(db, 'patron', id);
    audit(db, clock.now(), actorOf(c.get('principal')), 'patron.pin.set', patronTarget(id));
    return c.body(null, 204);
  });

  app.openapi(createRoute({
    method: 'get', path: '/patrons/{id}/status', tags, summary: "A patron's blocks and counts, as a kiosk or SIP2 would see them", ...STAFF_SESSION,
    request: { params: IdParam, query: z.object({ branchId: BranchId.openapi({ description: 'the branch whose rules apply' }) }) },
    responses: { 200: ok(PatronStatusSchema, 'the patron status'), ...problems(400, 401, 403, 404) },
  }), (c) => {
    const { id } = c.req.valid('param');
    const { branchId } = c.req.valid('query');
    if (!branchExists(db, branchId)) throw fieldProblem('branchId', `branch "${branchId}" does not exist`, 'query');
    const status = circulation.patronStatus({ patronId: id }, branchId);
    if (!status) throw notFound('patron', id);
    audit(db, clock.now(), actorOf(c.get('principal')), 'patron.status.read', patronTarget(id));
    return c.json(status, 200);
  });

  /** The open loans, active holds or unpaid fees of a patron, audited as a read. */
  function account(id: number, actor: string, what: 'loans' | 'holds' | 'fees') {
    getPatron(db, id);
    audit(db, clock.now(), actor, `patron.${what}.read`, patronTarget(id));
    return circulation.patronAccount(id);
  }

  app.openapi(createRoute({
    method: 'get', path: '/patrons/{id}/loans', tags, summary: "A patron's open loans, soonest due first", ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 200: ok(LoanListSchema, 'open loans'), ...problems(400, 401, 403, 404) },
  }), (c) => c.json({ loans: account(c.req.valid('param').id, actorOf(c.get('principal')), 'loans').loans }, 200));

  app.openapi(createRoute({
    method: 'get', path: '/patrons/{id}/holds', tags, summary: "A patron's active holds", ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 200: ok(HoldListSchema, 'active holds'), ...problems(400, 401, 403, 404) },
  }), (c) => c.json({ holds: account(c.req.valid('param').id, actorOf(c.get('principal')), 'holds').holds }, 200));

  app.openapi(createRoute({
    method: 'get', path: '/patrons/{id}/fees', tags, summary: "A patron's unpaid fees and balance", ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 200: ok(FeeListSchema, 'unpaid fees'), ...problems(400, 401, 403, 404) },
  }), (c) => {
    const { fees } = account(c.req.valid('param').id, actorOf(c.get('principal')), 'fees');
    return c.json({ fees, balanceCents: fees.reduce((sum, f) => sum + f.owedCents, 0) }, 200);
  });

  return app;
}
