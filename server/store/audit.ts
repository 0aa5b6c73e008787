import type { Db } from './db.js';

/** One row in audit_log: who read or changed personal data, access control or a device, and when. */
export function audit(db: Db, at: Date, actor: string, action: string, target: string | null, detail?: Record<string, unknown>): void {
  db.prepare('INSERT INTO audit_log (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)')
    .run(at.toISOString(), actor, action, target, detail ? JSON.stringify(detail) : null);
}
