import { createRoute, z } from '@hono/zod-openapi';
import { getSetting } from '../../store/db.js';
import { RfidError } from '../../rfid/errors.js';
import { receiptText } from '../../rfid/receipt.js';
import { smtpMailer } from '../../mail.js';
import type { ReaderInfo } from '../../rfid/directory.js';
import type { AppDeps } from '../app.js';
import { STAFF_SESSION, allow } from '../auth.js';
import { actorOf, router, type Principal } from '../env.js';
import { HttpProblem, problems } from '../problem.js';
import { Code, json, ok, SESSION_OR_DEVICE } from '../schemas/common.js';

const ReaderParam = z.object({ readerId: z.string().min(1).max(64).openapi({ param: { name: 'readerId', in: 'path' } }) });
const SessionParam = z.object({ id: z.uuid().openapi({ param: { name: 'id', in: 'path' } }) });
const InventoryParam = z.object({ id: z.coerce.number().int().positive().openapi({ param: { name: 'id', in: 'path' } }) });
const Anything = z.record(z.string(), z.unknown());
const Shelf = z.string().min(1).max(64);

const toProblem = (e: unknown) => (e instanceof RfidError ? new HttpProblem(e.status, e.code, e.message) : e);

/**
 * RFID stations: readers and their state, kiosk sessions (and receipts), gate alarms, tag
 * programming at intake stations, and inventory sessions. Kiosk devices reach only their own pads.
 */
export function rfidRoutes(deps: AppDeps) {
  const { db } = deps;
  // One SMTP transport for the receipts, made with the routes, not one per receipt.
  const mailer = deps.config.mail.smtpUrl ? smtpMailer(deps.config.mail.smtpUrl, deps.config.mail.from) : null;
  const app = router();
  const staffOrKiosk = { security: SESSION_OR_DEVICE, middleware: allow('admin', 'librarian', 'kiosk') };
  const feature = () => {
    if (!deps.rfid) throw new HttpProblem(503, 'RFID_UNAVAILABLE', 'the RFID feature is not running');
    return deps.rfid;
  };
  /** The reader, if the principal may use it: staff any reader, a kiosk device the pads in its configuration. */
  const reader = (p: Principal, readerId: string, role?: ReaderInfo['role']): ReaderInfo => {
    const r = feature().readers.get(readerId);
    if (!r) throw new HttpProblem(404, 'READER_NOT_FOUND', `no reader ${readerId}`);
    if (p.kind === 'device') {
      const row = db.prepare('SELECT config FROM device WHERE id = ?').get(p.deviceId) as { config: string } | undefined;
      const readers = (row ? (JSON.parse(row.config) as { readers?: string[] }).readers : undefined) ?? [];
      if (!readers.includes(readerId)) throw new HttpProblem(403, 'FORBIDDEN', `kiosk ${p.deviceId} does not own reader ${readerId}`);
    }
    if (role && r.role !== role) throw new HttpProblem(409, 'WRONG_READER_ROLE', `reader ${readerId} is a ${r.role}, not a ${role}`);
    return r;
  };

  app.openapi(createRoute({
    method: 'get', path: '/rfid/readers', tags: ['rfid'], summary: 'Readers with their role, branch and live status', ...STAFF_SESSION,
    responses: { 200: ok(z.object({ readers: z.array(Anything) }), 'every reader'), ...problems(401, 403, 503) },
  }), (c) => {
    const f = feature();
    const status = new Map(f.readerStatus().map((s) => [s.readerId, s]));
    return c.json({ readers: f.readers.all().map((r) => ({ ...r, status: status.get(r.id) ?? null, tagsInField: f.readers.inField(r.id).length })) }, 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/rfid/kiosks/{readerId}/session', tags: ['rfid'], summary: "The kiosk pad's current self-check session (null when idle)", ...staffOrKiosk,
    request: { params: ReaderParam },
    responses: { 200: ok(z.object({ session: Anything.nullable() }), 'the session'), ...problems(401, 403, 404, 409, 503) },
  }), (c) => {
    const r = reader(c.get('principal') as Principal, c.req.valid('param').readerId, 'kiosk_pad');
    return c.json({ session: feature().kiosks.current(r.id) as Record<string, unknown> | null }, 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/rfid/kiosks/{readerId}/card', tags: ['rfid'], summary: 'A patron card scanned as a barcode at the kiosk opens a session', ...staffOrKiosk,
    request: { params: ReaderParam, body: json(z.strictObject({ cardNumber: Code })) },
    responses: { 200: ok(z.object({ session: Anything }), 'the new session'), ...problems(401, 403, 404, 409, 422, 503) },
  }), async (c) => {
    const r = reader(c.get('principal') as Principal, c.req.valid('param').readerId, 'kiosk_pad');
    return c.json({ session: await feature().kiosks.presentCard(r, c.req.valid('json').cardNumber) as unknown as Record<string, unknown> }, 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/rfid/kiosks/{readerId}/session/end', tags: ['rfid'], summary: "The patron ends the session (the 'Done' button)", ...staffOrKiosk,
    request: { params: ReaderParam },
    responses: { 200: ok(z.object({ session: Anything }), 'the ended session'), ...problems(401, 403, 404, 409, 503) },
  }), (c) => {
    const r = reader(c.get('principal') as Principal, c.req.valid('param').readerId, 'kiosk_pad');
    const ended = feature().kiosks.end(r.id);
    if (!ended) throw new HttpProblem(404, 'NO_KIOSK_SESSION', `no session is open at ${r.id}`);
    return c.json({ session: ended as unknown as Record<string, unknown> }, 200);
  });

  const sessionFor = (p: Principal, id: string) => {
    const s = feature().kiosks.session(id);
    if (!s) throw new HttpProblem(404, 'KIOSK_SESSION_NOT_FOUND', `no kiosk session ${id} (receipts are kept for the last 200 sessions)`);
    reader(p, s.readerId);
    return s;
  };
  const receiptOf = (s: NonNullable<ReturnType<typeof sessionFor>>) => {
    const branch = db.prepare('SELECT name, name_zh FROM branch WHERE id = ?').get(s.branchId) as { name: string; name_zh: string | null } | undefined;
    return receiptText(s, branch ? `${branch.name_zh ?? ''} ${branch.name}`.trim() : s.branchId, getSetting(db, 'time_zone', 'UTC'));
  };

  app.openapi(createRoute({
    method: 'get', path: '/rfid/kiosk-sessions/{id}/receipt', tags: ['rfid'], summary: 'The receipt of a kiosk session, laid out for a 58 mm printer', ...staffOrKiosk,
    request: { params: SessionParam },
    responses: { 200: { description: 'the receipt', content: { 'text/plain': { schema: z.string() } } }, ...problems(400, 401, 403, 404, 503) },
  }), (c) => c.text(receiptOf(sessionFor(c.get('principal') as Principal, c.req.valid('param').id)), 200));

  app.openapi(createRoute({
    method: 'post', path: '/rfid/kiosk-sessions/{id}/receipt/email', tags: ['rfid'], summary: "E-mails the receipt to the patron's address on file", ...staffOrKiosk,
    request: { params: SessionParam },
    responses: { 200: ok(z.object({ sentTo: z.string(), messageId: z.string() }), 'accepted by the mail server'), ...problems(400, 401, 403, 404, 409, 502, 503) },
  }), async (c) => {
    const s = sessionFor(c.get('principal') as Principal, c.req.valid('param').id);
    if (!mailer) throw new HttpProblem(503, 'MAIL_NOT_CONFIGURED', 'no SMTP server is configured (mail.smtpUrl)');
    const email = s.patron ? (db.prepare('SELECT email FROM patron WHERE id = ?').get(s.patron.id) as { email: string | null } | undefined)?.email : null;
    if (!email) throw new HttpProblem(409, 'NO_EMAIL_ON_FILE', 'the patron has no e-mail address on file');
    try {
      const sent = await mailer.send(email, '借阅凭条 Loan receipt', receiptOf(s));
      if (!sent.accepted.includes(email)) throw new Error(`the mail server did not accept ${email}`);
      return c.json({ sentTo: email, messageId: sent.messageId ?? '' }, 200);
    } catch (e) {
      throw new HttpProblem(502, 'MAIL_NOT_SENT', `the receipt was not sent: ${e instanceof Error ? e.message : e}`);
    }
  });

  app.openapi(createRoute({
    method: 'get', path: '/rfid/gate-alarms', tags: ['rfid'], summary: 'Recent security gate alarms, newest first', ...STAFF_SESSION,
    request: { query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }) },
    responses: { 200: ok(z.object({ alarms: z.array(Anything) }), 'alarms'), ...problems(400, 401, 403, 503) },
  }), (c) => c.json({ alarms: feature().gates.recent(c.req.valid('query').limit) as unknown as Record<string, unknown>[] }, 200));

  app.openapi(createRoute({
    method: 'post', path: '/rfid/intake/{readerId}/program', tags: ['rfid'], ...STAFF_SESSION,
    summary: "Programs the one tag on an intake station with an item's ISO 28560-3 data, verifies it and binds its UID to the item",
    request: { params: ReaderParam, body: json(z.strictObject({ barcode: Code, overwrite: z.boolean().default(false), partsInSet: z.number().int().min(1).max(255).default(1), partNumber: z.number().int().min(1).max(255).default(1) })) },
    responses: { 200: ok(Anything, 'the programmed, verified tag'), ...problems(401, 403, 404, 409, 422, 502, 503) },
  }), async (c) => {
    const { readerId } = c.req.valid('param');
    const { barcode, ...opts } = c.req.valid('json');
    if (opts.partNumber > opts.partsInSet) throw new HttpProblem(422, 'VALIDATION_FAILED', 'partNumber is larger than partsInSet');
    try { return c.json(await feature().intake.program(readerId, barcode, opts) as unknown as Record<string, unknown>, 200); } catch (e) { throw toProblem(e); }
  });

  app.openapi(createRoute({
    method: 'post', path: '/rfid/inventory', tags: ['rfid'], summary: 'Starts an inventory sweep with a wand over a shelf range', ...STAFF_SESSION,
    request: { body: json(z.strictObject({ readerId: z.string().min(1).max(64), from: Shelf, to: Shelf, branchId: z.string().min(1).max(64).optional() })) },
    responses: { 201: ok(Anything, 'the open session'), ...problems(401, 403, 404, 409, 422, 503) },
  }), (c) => {
    const body = c.req.valid('json');
    const r = reader(c.get('principal') as Principal, body.readerId);
    try { return c.json(feature().inventory.start(r, body, actorOf(c.get('principal') as Principal)) as unknown as Record<string, unknown>, 201); } catch (e) { throw toProblem(e); }
  });

  app.openapi(createRoute({
    method: 'post', path: '/rfid/inventory/{id}/finish', tags: ['rfid'], summary: 'Ends a sweep: found, missing, misplaced and wrong-status items', ...STAFF_SESSION,
    request: { params: InventoryParam },
    responses: { 200: ok(Anything, 'the inventory report'), ...problems(400, 401, 403, 404, 503) },
  }), (c) => {
    try { return c.json(feature().inventory.finish(c.req.valid('param').id) as unknown as Record<string, unknown>, 200); } catch (e) { throw toProblem(e); }
  });

  return app;
}
