import type { Db } from '../store/db.js';
import { audit } from '../store/audit.js';

export { audit };

export const patronTarget = (patronId: number) => `patron:${patronId}`;


/** Audits a read of several patrons at once (a search result), in one transaction. */
export function auditPatronReads(db: Db, at: Date, actor: string, action: string, patronIds: number[], detail?: Record<string, unknown>): void {
  db.transaction(() => { for (const id of patronIds) audit(db, at, actor, action, patronTarget(id), detail); })();
}
