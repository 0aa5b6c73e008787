import { createRoute, z } from '@hono/zod-openapi';
import { refusal, type ItemRef, type PatronRef } from '../../circulation/circulation.js';
import { systemClock } from '../../clock.js';
import type { AppDeps } from '../app.js';
import { audit, patronTarget } from '../audit.js';
import { STAFF_SESSION, allow } from '../auth.js';
import { actorOf, router } from '../env.js';
import { deskContext } from '../op-context.js';
import { granted, problems, refusalProblem } from '../problem.js';
import {
  CancelHoldResultSchema, CheckinResultSchema, CheckoutResultSchema, HoldResultSchema, LostResultSchema, PatronStatusSchema,
  PaymentResultSchema, RenewAllResultSchema, RenewResultSchema,
} from '../schemas/circulation.js';
import { BranchId, Code, DeskFields, IdempotencyHeaders, IdParam, IsoInstant, json, ok, SESSION_OR_DEVICE, TagUid } from '../schemas/common.js';

const Id = z.number().int().positive();
const PatronRefFields = { patronId: Id.optional(), cardNumber: Code.optional(), cardTagUid: TagUid.optional() };
const ItemRefFields = { barcode: Code.optional(), tagUid: TagUid.optional(), itemId: Id.optional() };
const PATRON_KEYS = ['cardNumber', 'cardTagUid', 'patronId'] as const;
const ITEM_KEYS = ['barcode', 'tagUid', 'itemId'] as const;

/** Exactly one of the keys must be given: a patron or an item is named one way per request. */
function exactlyOne(keys: readonly string[]) {
  return (v: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const given = keys.filter((k) => v[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({ code: 'custom', path: [given[1] ?? keys[0]!], message: `give exactly one of ${keys.join(', ')}` });
    }
  };
}

export const CheckoutBody = z.strictObject({ ...PatronRefFields, ...ItemRefFields, ...DeskFields })
  .superRefine(exactlyOne(PATRON_KEYS)).superRefine(exactlyOne(ITEM_KEYS)).openapi('CheckoutRequest');
export const CheckinBody = z.strictObject({ ...ItemRefFields, ...DeskFields }).superRefine(exactlyOne(ITEM_KEYS)).openapi('CheckinRequest');
export const RenewBody = CheckoutBody.openapi('RenewRequest');
export const PatronBody = z.strictObject({ ...PatronRefFields, ...DeskFields }).superRefine(exactlyOne(PATRON_KEYS)).openapi('PatronRequest');
export const PatronStatusBody = z.strictObject({ ...PatronRefFields, branchId: DeskFields.branchId }).superRefine(exactlyOne(PATRON_KEYS))
  .openapi('PatronStatusRequest');
export const PlaceHoldBody = z.strictObject({
  ...PatronRefFields, ...DeskFields, recordId: Id, pickupBranch: BranchId, expiresAt: IsoInstant.optional(),
}).superRefine(exactlyOne(PATRON_KEYS)).openapi('PlaceHoldRequest');
export const ChangeHoldBody = z.strictObject({ ...DeskFields, pickupBranch: BranchId.optional(), expiresAt: IsoInstant.optional() }).openapi('ChangeHoldRequest');
export const LostBody = z.strictObject({ ...DeskFields }).openapi('LostRequest');
export const PaymentBody = z.strictObject({ ...DeskFields, amountCents: z.number().int().positive().max(100_000_000) }).openapi('PaymentRequest');

type PatronFields = { patronId?: number; cardNumber?: string; cardTagUid?: string };
type ItemFields = { barcode?: string; tagUid?: string; itemId?: number };
const patronRefOf = (v: PatronFields): PatronRef =>
  v.cardNumber !== undefined ? { cardNumber: v.cardNumber } : v.cardTagUid !== undefined ? { cardTagUid: v.cardTagUid } : { patronId: v.patronId! };
const itemRefOf = (v: ItemFields): ItemRef =>
  v.barcode !== undefined ? { barcode: v.barcode } : v.tagUid !== undefined ? { tagUid: v.tagUid } : { itemId: v.itemId! };

/**
 * The staff desk and kiosks over the one circulation core. A refusal answers problem+json with the
 * refusal code and its words in English and Chinese (404 for …_NOT_FOUND, else 409).
 */
export function circulationRoutes(deps: AppDeps) {
  const { db, circulation } = deps;
  const clock = deps.clock ?? systemClock;
  const app = router();
  const tags = ['circulation'];
  const deskOrKiosk = { security: SESSION_OR_DEVICE, middleware: allow('admin', 'librarian', 'kiosk') };
  const refusals = problems(400, 401, 403, 404, 409, 422);

  app.openapi(createRoute({
    method: 'post', path: '/circulation/checkout', tags, summary: 'Check an item out to a patron (a second checkout by the same patron renews)', ...deskOrKiosk,
    request: { headers: IdempotencyHeaders, body: json(CheckoutBody) },
    responses: { 200: ok(CheckoutResultSchema, 'checked out'), ...refusals },
  }), async (c) => {
    const b = c.req.valid('json');
    return c.json(granted(await circulation.write(() => circulation.checkout(patronRefOf(b), itemRefOf(b), deskContext(c, db, b)))), 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/circulation/checkin', tags, summary: 'Check an item in and learn where it goes (shelf, hold shelf, transit)', ...deskOrKiosk,
    request: { headers: IdempotencyHeaders, body: json(CheckinBody) },
    responses: { 200: ok(CheckinResultSchema, 'checked in'), ...refusals },
  }), async (c) => {
    const b = c.req.valid('json');
    return c.json(granted(await circulation.write(() => circulation.checkin(itemRefOf(b), deskContext(c, db, b)))), 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/circulation/renew', tags, summary: 'Renew one loan', ...deskOrKiosk,
    request: { headers: IdempotencyHeaders, body: json(RenewBody) },
    responses: { 200: ok(RenewResultSchema, 'renewed'), ...refusals },
  }), async (c) => {
    const b = c.req.valid('json');
    return c.json(granted(await circulation.write(() => circulation.renew(patronRefOf(b), itemRefOf(b), deskContext(c, db, b)))), 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/circulation/renew-all', tags, summary: "Renew every loan of a patron that can be renewed", ...deskOrKiosk,
    request: { headers: IdempotencyHeaders, body: json(PatronBody) },
    responses: { 200: ok(RenewAllResultSchema, 'what was renewed and what was refused, per item'), ...refusals },
  }), async (c) => {
    const b = c.req.valid('json');
    return c.json(granted(await circulation.write(() => circulation.renewAll(patronRefOf(b), deskContext(c, db, b)))), 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/circulation/patron-status', tags, summary: "A patron's blocks and counts (a kiosk's first look at a card)", ...deskOrKiosk,
    request: { body: json(PatronStatusBody) },
    responses: { 200: ok(PatronStatusSchema, 'the patron status'), ...refusals },
  }), (c) => {
    const b = c.req.valid('json');
    const ctx = deskContext(c, db, { branchId: b.branchId });
    const status = circulation.patronStatus(patronRefOf(b), ctx.branchId);
    if (!status) throw refusalProblem(refusal('PATRON_NOT_FOUND'));
    const principal = c.get('principal');
    if (principal.kind === 'staff') audit(db, clock.now(), actorOf(principal), 'patron.status.read', patronTarget(status.patronId));
    return c.json(status, 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/circulation/holds', tags, summary: 'Place a hold on a record for a patron', ...STAFF_SESSION,
    request: { headers: IdempotencyHeaders, body: json(PlaceHoldBody) },
    responses: { 200: ok(HoldResultSchema, 'the hold, with its queue position'), ...refusals },
  }), async (c) => {
    const b = c.req.valid('json');
    return c.json(granted(await circulation.write(() => circulation.placeHold(patronRefOf(b), b.recordId, b.pickupBranch, deskContext(c, db, b), b.expiresAt))), 200);
  });

  app.openapi(createRoute({
    method: 'patch', path: '/circulation/holds/{id}', tags, summary: "Change a hold's pickup branch or expiry", ...STAFF_SESSION,
    request: { headers: IdempotencyHeaders, params: IdParam, body: json(ChangeHoldBody) },
    responses: { 200: ok(HoldResultSchema, 'the changed hold'), ...refusals },
  }), async (c) => {
    const { pickupBranch, expiresAt, ...fields } = c.req.valid('json');
    const change = { ...(pickupBranch !== undefined ? { pickupBranch } : {}), ...(expiresAt !== undefined ? { expiresAt } : {}) };
    return c.json(granted(await circulation.write(() => circulation.changeHold(c.req.valid('param').id, change, deskContext(c, db, fields)))), 200);
  });

  app.openapi(createRoute({
    method: 'delete', path: '/circulation/holds/{id}', tags, summary: 'Cancel a hold (a trapped item is released)', ...STAFF_SESSION,
    request: { headers: IdempotencyHeaders, params: IdParam, query: z.object({ branchId: DeskFields.branchId, txnId: DeskFields.txnId }) },
    responses: { 200: ok(CancelHoldResultSchema, 'the cancelled hold'), ...refusals },
  }), async (c) => c.json(granted(await circulation.write(() => circulation.cancelHold(c.req.valid('param').id, deskContext(c, db, c.req.valid('query'))))), 200));

  app.openapi(createRoute({
    method: 'post', path: '/circulation/items/{barcode}/lost', tags, summary: 'Mark an item lost (an open loan is closed and the replacement fee charged)', ...STAFF_SESSION,
    request: { headers: IdempotencyHeaders, params: z.object({ barcode: Code.openapi({ param: { name: 'barcode', in: 'path' } }) }), body: json(LostBody) },
    responses: { 200: ok(LostResultSchema, 'marked lost'), ...refusals },
  }), async (c) => c.json(granted(await circulation.write(() => circulation.markLost({ barcode: c.req.valid('param').barcode }, deskContext(c, db, c.req.valid('json'))))), 200));

  app.openapi(createRoute({
    method: 'post', path: '/circulation/patrons/{id}/payments', tags, summary: "Take a payment toward a patron's fees, oldest first", ...STAFF_SESSION,
    request: { headers: IdempotencyHeaders, params: IdParam, body: json(PaymentBody) },
    responses: { 200: ok(PaymentResultSchema, 'paid'), ...refusals },
  }), async (c) => {
    const { amountCents, ...fields } = c.req.valid('json');
    return c.json(granted(await circulation.write(() => circulation.payFee({ patronId: c.req.valid('param').id }, amountCents, deskContext(c, db, fields)))), 200);
  });

  return app;
}
