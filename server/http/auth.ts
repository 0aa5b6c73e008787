import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { systemClock } from '../clock.js';
import type { AppDeps } from './app.js';
import type { AppContext, AppEnv, GuardedEnv, Role } from './env.js';
import { HttpProblem } from './problem.js';
import { SESSION } from './schemas/common.js';
import { findDevice, findSession, sessionCookieName } from './sessions.js';
import { CSRF_HEADER } from './types.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Resolves who is calling: a device by `Authorization: Bearer <token>`, else a staff or patron session by
 * its cookie. A bearer token that matches no device is refused at once; a stale cookie just means "nobody".
 */
export function authenticate(deps: AppDeps): MiddlewareHandler<AppEnv> {
  const clock = deps.clock ?? systemClock;
  const cookieName = sessionCookieName(deps.config);
  return async function authenticateRequest(c, next) {
    const authorization = c.req.header('Authorization');
    if (authorization !== undefined) {
      // RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token
      const token = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization.trim())?.[1];
      const device = token ? findDevice(deps.db, token) : null;
      if (!device) {
        throw new HttpProblem(401, 'INVALID_TOKEN', 'the bearer token is not a device token', {}, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
      }
      c.set('principal', device);
    } else {
      const token = getCookie(c, cookieName);
      c.set('principal', token ? findSession(deps.db, token, clock.now()) : null);
    }
    await next();
  };
}

function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Lets a request through only for the given roles. A request authorised by a session cookie that changes
 * state must also carry the session's CSRF token in X-CSRF-Token (synchronizer token pattern); device
 * tokens travel in a header a browser never adds by itself, so they need none.
 */
export function allow<R extends Role>(...roles: R[]): MiddlewareHandler<GuardedEnv<R>> {
  const allowed = new Set<Role>(roles);
  return async function allowRoles(c, next) {
    const principal = (c as unknown as AppContext).get('principal');
    if (!principal) {
      throw new HttpProblem(401, 'AUTH_REQUIRED', 'sign in first (session cookie) or send a device token (Authorization: Bearer)');
    }
    if (principal.kind !== 'device' && !SAFE_METHODS.has(c.req.method) && !sameSecret(c.req.header(CSRF_HEADER), principal.session.csrfToken)) {
      throw new HttpProblem(403, 'CSRF_TOKEN_INVALID', `a state-changing request with a session cookie needs the session's ${CSRF_HEADER} header`);
    }
    if (!allowed.has(principal.role)) {
      throw new HttpProblem(403, 'FORBIDDEN', `${principal.role} may not ${c.req.method} ${c.req.path}`);
    }
    await next();
  };
}

/** Staff of either role. */
export const staffOnly = () => allow('admin', 'librarian');

/** What most routes ask of their caller, for createRoute: a session cookie, and who it must belong to. */
export const STAFF_SESSION = { security: SESSION, middleware: staffOnly() };
export const ADMIN_SESSION = { security: SESSION, middleware: allow('admin') };
export const PATRON_SESSION = { security: SESSION, middleware: allow('patron') };

/** The client's address as the socket saw it (no proxy headers are trusted); 'unknown' under app.request(). */
export function clientAddress(c: { env: unknown }): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'unknown';
}
