import type { Db } from '../store/db.js';
import type { Config } from '../config.js';
import { newToken, tokenHash } from '../auth/passwords.js';
import type { DevicePrincipal, PatronPrincipal, StaffPrincipal } from './env.js';

// Sessions live in table `session`, keyed by the SHA-256 of the cookie's token: a copy of the
// database does not hand out working cookies. Device tokens are kept the same way (device.token_hash).

/** With Secure cookies the name carries the __Host- prefix: the browser then refuses it without HTTPS, Path=/ and no Domain. */
export const sessionCookieName = (config: Config) => (config.http.secureCookies ? '__Host-shelfsense_session' : 'shelfsense_session');

export interface NewSession { token: string; csrfToken: string; expiresAt: Date }

export function createSession(db: Db, kind: 'staff' | 'patron', subjectId: number, now: Date, hours: number): NewSession {
  const token = newToken();
  const csrfToken = newToken();
  const expiresAt = new Date(now.getTime() + hours * 3_600_000);
  db.transaction(() => {
    db.prepare('DELETE FROM session WHERE expires_at <= ?').run(now.toISOString());
    db.prepare('INSERT INTO session (token_hash, kind, subject_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(tokenHash(token), kind, subjectId, csrfToken, now.toISOString(), expiresAt.toISOString());
  })();
  return { token, csrfToken, expiresAt };
}

interface SessionRow { token_hash: string; kind: 'staff' | 'patron'; subject_id: number; csrf_token: string; expires_at: string }

/** The principal of a live session: a staff user who is not disabled, or a patron. Null when unknown or expired. */
export function findSession(db: Db, token: string, now: Date): StaffPrincipal | PatronPrincipal | null {
  const row = db.prepare('SELECT * FROM session WHERE token_hash = ?').get(tokenHash(token)) as SessionRow | undefined;
  if (!row) return null;
  if (row.expires_at <= now.toISOString()) {
    deleteSession(db, row.token_hash);
    return null;
  }
  const session = { tokenHash: row.token_hash, csrfToken: row.csrf_token, expiresAt: row.expires_at };
  if (row.kind === 'patron') {
    return db.prepare('SELECT 1 FROM patron WHERE id = ?').get(row.subject_id)
      ? { kind: 'patron', role: 'patron', patronId: row.subject_id, session } : null;
  }
  const user = db.prepare('SELECT id, username, display_name, role FROM staff_user WHERE id = ? AND disabled = 0').get(row.subject_id) as
    { id: number; username: string; display_name: string; role: 'admin' | 'librarian' } | undefined;
  return user ? { kind: 'staff', role: user.role, userId: user.id, username: user.username, displayName: user.display_name, session } : null;
}

export function deleteSession(db: Db, tokenHashValue: string): void {
  db.prepare('DELETE FROM session WHERE token_hash = ?').run(tokenHashValue);
}

/** Ends every session of a staff user or patron (disabled account, changed password or PIN). */
export function deleteSessionsOf(db: Db, kind: 'staff' | 'patron', subjectId: number): void {
  db.prepare('DELETE FROM session WHERE kind = ? AND subject_id = ?').run(kind, subjectId);
}

/** Kiosks and gateways authenticate with `Authorization: Bearer <token>`; other device kinds hold no token. */
export function findDevice(db: Db, token: string): DevicePrincipal | null {
  const row = db.prepare("SELECT id, kind, branch_id FROM device WHERE token_hash = ? AND kind IN ('kiosk', 'gateway')").get(tokenHash(token)) as
    { id: string; kind: 'kiosk' | 'gateway'; branch_id: string | null } | undefined;
  return row ? { kind: 'device', role: row.kind, deviceId: row.id, branchId: row.branch_id } : null;
}
