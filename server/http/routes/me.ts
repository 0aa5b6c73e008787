import { createRoute, z } from '@hono/zod-openapi';
import type { OpContext } from '../../circulation/circulation.js';
import { DomainError } from '../../errors.js';
import { getPatron } from '../../patrons/patrons.js';
import type { AppDeps } from '../app.js';
import { PATRON_SESSION } from '../auth.js';
import { actorOf, type PatronPrincipal, router } from '../env.js';
import { branchExists, txnIdOf, type HasHeaders } from '../op-context.js';
import { fieldProblem, granted, problems } from '../problem.js';
import { PatronSchema } from '../schemas/catalogue.js';
import {
  CancelHoldResultSchema, FeeListSchema, HoldListSchema, HoldResultSchema, LoanListSchema, RenewAllResultSchema, RenewResultSchema,
} from '../schemas/circulation.js';
import { BranchId, IdempotencyHeaders, IdParam, json, ok } from '../schemas/common.js';

export const MyHoldBody = z.strictObject({
  recordId: z.number().int().positive(),
  pickupBranch: BranchId,
  txnId: z.string().min(1).max(128).optional(),
}).openapi('MyHoldRequest');
const TxnQuery = z.object({ txnId: z.string().min(1).max(128).optional() });

/**
 * A signed-in patron's own account, through the online catalogue (channel 'opac'). There is no patron id
 * in these paths: a patron reaches only their own data, and another patron's loan or hold is "not found".
 */
export function meRoutes(deps: AppDeps) {
  const { db, circulation } = deps;
  const app = router();
  const tags = ['me'];

  /** The opac context: the branch named, else the patron's home branch, else the branch of their first open loan. */
  function opac(c: HasHeaders, p: PatronPrincipal, txnId: string | undefined, branchId?: string): OpContext {
    const home = db.prepare(`SELECT coalesce(p.home_branch, (SELECT branch_id FROM loan INDEXED BY loan_patron WHERE patron_id = p.id AND closed_at IS NULL
      ORDER BY due_at LIMIT 1), '*') AS b FROM patron p WHERE p.id = ?`).get(p.patronId) as { b: string };
    const scoped = txnIdOf(c, p, txnId);
    return { channel: 'opac', branchId: branchId ?? home.b, actor: actorOf(p), ...(scoped ? { txnId: scoped } : {}) };
  }

  app.openapi(createRoute({
    method: 'get', path: '/me', tags, summary: 'My patron record', ...PATRON_SESSION,
    responses: { 200: ok(PatronSchema, 'my record'), ...problems(401, 403) },
  }), (c) => c.json(getPatron(db, c.get('principal').patronId), 200));

  app.openapi(createRoute({
    method: 'get', path: '/me/loans', tags, summary: 'My open loans, soonest due first', ...PATRON_SESSION,
    responses: { 200: ok(LoanListSchema, 'my loans'), ...problems(401, 403) },
  }), (c) => c.json({ loans: circulation.patronAccount(c.get('principal').patronId).loans }, 200));

  app.openapi(createRoute({
    method: 'get', path: '/me/holds', tags, summary: 'My active holds', ...PATRON_SESSION,
    responses: { 200: ok(HoldListSchema, 'my holds'), ...problems(401, 403) },
  }), (c) => c.json({ holds: circulation.patronAccount(c.get('principal').patronId).holds }, 200));

  app.openapi(createRoute({
    method: 'get', path: '/me/fees', tags, summary: 'My unpaid fees and balance', ...PATRON_SESSION,
    responses: { 200: ok(FeeListSchema, 'my fees'), ...problems(401, 403) },
  }), (c) => {
    const { fees } = circulation.patronAccount(c.get('principal').patronId);
    return c.json({ fees, balanceCents: fees.reduce((sum, f) => sum + f.owedCents, 0) }, 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/me/loans/{id}/renew', tags, summary: 'Renew one of my loans', ...PATRON_SESSION,
    request: { headers: IdempotencyHeaders, params: IdParam, query: TxnQuery },
    responses: { 200: ok(RenewResultSchema, 'renewed'), ...problems(400, 401, 403, 404, 409) },
  }), async (c) => {
    const p = c.get('principal');
    const { id } = c.req.valid('param');
    const loan = db.prepare('SELECT item_id, branch_id FROM loan WHERE id = ? AND patron_id = ? AND closed_at IS NULL').get(id, p.patronId) as
      { item_id: number; branch_id: string } | undefined;
    if (!loan) throw new DomainError('LOAN_NOT_FOUND', `you have no open loan ${id}`, 404);
    const ctx = opac(c, p, c.req.valid('query').txnId, loan.branch_id);
    return c.json(granted(await circulation.write(() => circulation.renew({ patronId: p.patronId }, { itemId: loan.item_id }, ctx))), 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/me/loans/renew-all', tags, summary: 'Renew every loan of mine that can be renewed', ...PATRON_SESSION,
    request: { headers: IdempotencyHeaders, query: TxnQuery },
    responses: { 200: ok(RenewAllResultSchema, 'what was renewed and what was refused'), ...problems(400, 401, 403, 404, 409) },
  }), async (c) => {
    const p = c.get('principal');
    return c.json(granted(await circulation.write(() => circulation.renewAll({ patronId: p.patronId }, opac(c, p, c.req.valid('query').txnId)))), 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/me/holds', tags, summary: 'Place a hold on a record for myself', ...PATRON_SESSION,
    request: { headers: IdempotencyHeaders, body: json(MyHoldBody) },
    responses: { 200: ok(HoldResultSchema, 'the hold, with its queue position'), ...problems(400, 401, 403, 404, 409, 422) },
  }), async (c) => {
    const p = c.get('principal');
    const b = c.req.valid('json');
    if (!branchExists(db, b.pickupBranch)) throw fieldProblem('pickupBranch', `branch "${b.pickupBranch}" does not exist`);
    return c.json(granted(await circulation.write(() => circulation.placeHold({ patronId: p.patronId }, b.recordId, b.pickupBranch, opac(c, p, b.txnId, b.pickupBranch)))), 200);
  });

  app.openapi(createRoute({
    method: 'delete', path: '/me/holds/{id}', tags, summary: 'Cancel one of my holds', ...PATRON_SESSION,
    request: { headers: IdempotencyHeaders, params: IdParam, query: TxnQuery },
    responses: { 200: ok(CancelHoldResultSchema, 'the cancelled hold'), ...problems(400, 401, 403, 404, 409) },
  }), async (c) => {
    const p = c.get('principal');
    const ctx = opac(c, p, c.req.valid('query').txnId);
    return c.json(granted(await circulation.write(() => circulation.cancelHold(c.req.valid('param').id, ctx, { patronId: p.patronId }))), 200);
  });

  return app;
}
