import type { Db } from '../store/db.js';

export const patronTarget = (patronId: number) => `patron:${patronId}`;

/** One row in audit_log: who read or changed personal data (or access control), and when. */
export function audit(db: Db, at: Date, actor: string, action: string, target: string | null, detail?: Record<string, unknown>): void {
  db.prepare('INSERT INTO audit_log (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)')
    .run(at.toISOString(), actor, action, target, detail ? JSON.stringify(detail) : null);
}

/** Audits a read of several patrons at once (a search result), in one transaction. */
export function auditPatronReads(db: Db, at: Date, actor: string, action: string, patronIds: number[], detail?: Record<string, unknown>): void {
  db.transaction(() => { for (const id of patronIds) audit(db, at, actor, action, patronTarget(id), detail); })();
}
