import { createRoute, z } from '@hono/zod-openapi';
import { deletePolicyRule, listPolicyRules, PolicyRuleInput, upsertPolicyRule } from '../../circulation/policy.js';
import type { AppDeps } from '../app.js';
import { ADMIN_SESSION, STAFF_SESSION } from '../auth.js';
import { problems } from '../problem.js';
import { IdParam, json, ok } from '../schemas/common.js';
import { router } from '../env.js';

const count = z.number().int().nullable();
const flag = z.boolean().nullable();
export const PolicyRuleSchema = z.object({
  id: z.number().int(), branchId: z.string(), patronCategory: z.string(), itemType: z.string(),
  loanDays: count, maxLoans: count, renewals: count, renewalDays: count, holdsAllowed: flag, maxHolds: count, finePerDayCents: count,
  maxFineCents: count, graceDays: count, inLibraryOnly: flag, blockOverdueItems: count, blockFinesCents: count, lostFeeCents: count,
}).openapi('PolicyRule', { description: 'null: not set here, a less specific rule decides' });

export const PolicyRuleBody = PolicyRuleInput.strict().openapi('PolicyRuleUpsert');

/** Circulation rules (branch × patron category × item type): staff read them, admins change them. */
export function policyRoutes(deps: AppDeps) {
  const { db, circulation } = deps;
  const app = router();
  const tags = ['policies'];

  app.openapi(createRoute({
    method: 'get', path: '/policies', tags, summary: 'List the circulation rules', ...STAFF_SESSION,
    responses: { 200: ok(z.object({ policies: z.array(PolicyRuleSchema) }).openapi('PolicyRuleList'), 'every rule'), ...problems(401, 403) },
  }), (c) => c.json({ policies: listPolicyRules(db) }, 200));

  app.openapi(createRoute({
    method: 'post', path: '/policies', tags, summary: 'Create or replace the rule of one branch × category × item type key', ...ADMIN_SESSION,
    request: { body: json(PolicyRuleBody) },
    responses: { 200: ok(PolicyRuleSchema, 'the rule as stored'), ...problems(400, 401, 403, 404, 422) },
  }), (c) => {
    const rule = upsertPolicyRule(db, c.req.valid('json'));
    circulation.reload();
    return c.json(rule, 200);
  });

  app.openapi(createRoute({
    method: 'delete', path: '/policies/{id}', tags, summary: 'Delete a rule (the default rule stays)', ...ADMIN_SESSION,
    request: { params: IdParam },
    responses: { 204: { description: 'deleted' }, ...problems(400, 401, 403, 404, 409) },
  }), (c) => {
    deletePolicyRule(db, c.req.valid('param').id);
    circulation.reload();
    return c.body(null, 204);
  });

  return app;
}
