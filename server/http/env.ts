import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { validationHook } from './problem.js';

/** Who may do what: staff roles (staff_user.role), signed-in patrons, and device kinds with a token. */
export type Role = 'admin' | 'librarian' | 'patron' | 'kiosk' | 'gateway';

/** The session behind a cookie: its token hash (the session row's key) and the CSRF token it was issued with. */
export interface SessionRef { tokenHash: string; csrfToken: string; expiresAt: string }

export interface StaffPrincipal {
  kind: 'staff'; role: 'admin' | 'librarian'; userId: number; username: string; displayName: string; session: SessionRef;
}
export interface PatronPrincipal { kind: 'patron'; role: 'patron'; patronId: number; session: SessionRef }
export interface DevicePrincipal { kind: 'device'; role: 'kiosk' | 'gateway'; deviceId: string; branchId: string | null }
export type Principal = StaffPrincipal | PatronPrincipal | DevicePrincipal;

/** Request variables every handler can read; `principal` is set by the authenticate middleware. */
export interface AppEnv {
  Variables: { principal: Principal | null };
}
export type AppContext = Context<AppEnv>;

/** The env of a route guarded by `allow(...roles)`: the principal is known and has one of those roles. */
export interface GuardedEnv<R extends Role> {
  Variables: { principal: Extract<Principal, { role: R }> };
}

/** The name a principal goes by in circulation events and the audit log. */
export function actorOf(p: Principal): string {
  if (p.kind === 'staff') return `staff:${p.username}`;
  if (p.kind === 'patron') return `patron:${p.patronId}`;
  return `device:${p.deviceId}`;
}

/** How a CRM record names who did something: a staff member by username, anyone else as in the audit trail. */
export function staffNameOf(p: Principal): string {
  return p.kind === 'staff' ? p.username : actorOf(p);
}

/** A resource's routes: an OpenAPIHono whose failed schema checks become problem+json before any handler runs. */
export const router = () => new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
