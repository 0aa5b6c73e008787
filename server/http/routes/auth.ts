import { createRoute } from '@hono/zod-openapi';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { hashSecret, tokenHash, verifySecret } from '../../auth/passwords.js';
import { systemClock } from '../../clock.js';
import type { AppDeps } from '../app.js';
import { allow, clientAddress } from '../auth.js';
import { HttpProblem, problems } from '../problem.js';
import { AttemptLimiter } from '../rate-limit.js';
import { MeSchema, PatronLoginBody, PatronMeSchema, StaffLoginBody, StaffMeSchema } from '../schemas/access.js';
import { json, ok, SESSION, SESSION_OR_DEVICE } from '../schemas/common.js';
import { createSession, deleteSession, sessionCookieName } from '../sessions.js';
import { router, type AppContext, type Principal } from '../env.js';

/** Failed sign-ins allowed per identifier (username, card number) and per client address in the window. */
export const SIGN_IN_LIMITS = { perIdentifier: 5, perAddress: 20, windowMs: 15 * 60_000 } as const;

// A hash to verify against when the identifier is unknown, so a wrong name costs the same time as a wrong password.
let decoy: Promise<string> | null = null;
const decoyHash = () => (decoy ??= hashSecret('shelfsense-decoy-secret'));

/** Staff and patron sign-in, sign-out and "who am I". */
export function authRoutes(deps: AppDeps) {
  const { db, config } = deps;
  const clock = deps.clock ?? systemClock;
  const byIdentifier = new AttemptLimiter(SIGN_IN_LIMITS.perIdentifier, SIGN_IN_LIMITS.windowMs, clock);
  const byAddress = new AttemptLimiter(SIGN_IN_LIMITS.perAddress, SIGN_IN_LIMITS.windowMs, clock);
  const cookieName = sessionCookieName(config);
  const app = router();

  /**
   * Runs one sign-in attempt under the limits; `check` returns the subject id, or null for wrong credentials.
   * The attempt counts as a failure before the (slow) check, so parallel guesses cannot slip past the limit.
   */
  async function attempt(c: AppContext, identifier: string, check: () => Promise<number | null>): Promise<number> {
    const address = clientAddress(c);
    const wait = Math.max(byIdentifier.retryAfter(identifier), byAddress.retryAfter(address));
    if (wait > 0) {
      throw new HttpProblem(429, 'TOO_MANY_ATTEMPTS', `too many failed sign-ins; try again in ${wait} s`, { context: { retryAfterSeconds: wait } },
        { 'Retry-After': String(wait) });
    }
    byIdentifier.fail(identifier);
    byAddress.fail(address);
    let subject: number | null;
    try {
      subject = await check();
    } catch (e) {
      byIdentifier.forgive(identifier);
      byAddress.forgive(address);
      throw e;
    }
    if (subject === null) throw new HttpProblem(401, 'INVALID_CREDENTIALS', 'wrong name or secret');
    byIdentifier.reset(identifier);
    byAddress.forgive(address);
    return subject;
  }

  /** A new session for the one who just signed in; a session the browser held before ends now. */
  function startSession(c: AppContext, kind: 'staff' | 'patron', subjectId: number) {
    const previous = getCookie(c, cookieName);
    if (previous) deleteSession(db, tokenHash(previous));
    const s = createSession(db, kind, subjectId, clock.now(), config.http.sessionHours);
    setCookie(c, cookieName, s.token, {
      httpOnly: true, sameSite: 'Strict', path: '/', secure: config.http.secureCookies,
      expires: s.expiresAt, maxAge: Math.floor(config.http.sessionHours * 3600),
    });
    return { csrfToken: s.csrfToken, expiresAt: s.expiresAt.toISOString() };
  }

  app.openapi(createRoute({
    method: 'post', path: '/auth/staff/login', tags: ['auth'],
    summary: 'Staff sign-in: sets the session cookie and returns the CSRF token',
    request: { body: json(StaffLoginBody) },
    responses: { 200: ok(StaffMeSchema, 'signed in'), ...problems(401, 403, 422, 429) },
  }), async (c) => {
    const { username, password } = c.req.valid('json');
    const name = username.trim().toLowerCase();
    const userId = await attempt(c, `staff:${name}`, async () => {
      const row = db.prepare('SELECT id, password_hash, disabled FROM staff_user WHERE username = ?').get(name) as
        { id: number; password_hash: string; disabled: number } | undefined;
      const valid = await verifySecret(password, row?.password_hash ?? await decoyHash());
      if (!row || !valid) return null;
      if (row.disabled) throw new HttpProblem(403, 'ACCOUNT_DISABLED', `staff account ${name} is disabled`);
      return row.id;
    });
    const user = db.prepare('SELECT username, display_name, role FROM staff_user WHERE id = ?').get(userId) as
      { username: string; display_name: string; role: 'admin' | 'librarian' };
    const session = startSession(c, 'staff', userId);
    return c.json({ kind: 'staff' as const, id: userId, username: user.username, displayName: user.display_name, role: user.role, ...session }, 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/auth/patron/login', tags: ['auth'],
    summary: 'Patron sign-in with card number and PIN: sets the session cookie and returns the CSRF token',
    request: { body: json(PatronLoginBody) },
    responses: { 200: ok(PatronMeSchema, 'signed in'), ...problems(401, 403, 422, 429) },
  }), async (c) => {
    const { cardNumber, pin } = c.req.valid('json');
    const patronId = await attempt(c, `patron:${cardNumber}`, async () => {
      const row = db.prepare('SELECT id, pin_hash, card_lost FROM patron WHERE card_number = ?').get(cardNumber) as
        { id: number; pin_hash: string | null; card_lost: number } | undefined;
      const valid = await verifySecret(pin, row?.pin_hash ?? await decoyHash());
      if (!row || !row.pin_hash || !valid) return null;
      if (row.card_lost) throw new HttpProblem(403, 'CARD_LOST', 'this card has been reported lost; ask at the desk');
      return row.id;
    });
    const patron = db.prepare('SELECT name FROM patron WHERE id = ?').get(patronId) as { name: string };
    const session = startSession(c, 'patron', patronId);
    return c.json({ kind: 'patron' as const, id: patronId, cardNumber, name: patron.name, ...session }, 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/auth/logout', tags: ['auth'], summary: 'Sign out: ends the session and clears its cookie',
    security: SESSION, middleware: allow('admin', 'librarian', 'patron'),
    responses: { 204: { description: 'signed out' }, ...problems(401, 403) },
  }), (c) => {
    deleteSession(db, c.get('principal').session.tokenHash);
    deleteCookie(c, cookieName, { path: '/', secure: config.http.secureCookies });
    return c.body(null, 204);
  });

  app.openapi(createRoute({
    method: 'get', path: '/auth/me', tags: ['auth'], summary: 'Who is signed in (and the CSRF token of the session)',
    security: SESSION_OR_DEVICE, middleware: allow('admin', 'librarian', 'patron', 'kiosk', 'gateway'),
    responses: { 200: ok(MeSchema, 'the signed-in staff user, patron or device'), ...problems(401) },
  }), (c) => c.json(describe(c.get('principal')), 200));

  function describe(p: Principal) {
    if (p.kind === 'device') return { kind: 'device' as const, id: p.deviceId, deviceKind: p.role, branchId: p.branchId };
    const session = { csrfToken: p.session.csrfToken, expiresAt: p.session.expiresAt };
    if (p.kind === 'staff') return { kind: 'staff' as const, id: p.userId, username: p.username, displayName: p.displayName, role: p.role, ...session };
    const patron = db.prepare('SELECT card_number, name FROM patron WHERE id = ?').get(p.patronId) as { card_number: string; name: string };
    return { kind: 'patron' as const, id: p.patronId, cardNumber: patron.card_number, name: patron.name, ...session };
  }

  return app;
}
