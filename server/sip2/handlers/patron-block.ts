import type { Db } from '../../store/db.js';
import { updatePatron } from '../../patrons/patrons.js';
import type { PatronRow } from '../../patrons/patrons.js';

/** Blocks a self-check sets start with this, so Patron Enable lifts those and never a block set by staff. */
export const SIP_BLOCK_PREFIX = 'SIP2 block:';

const audit = (db: Db, actor: string, action: string, patronId: number, detail: Record<string, unknown>, now: Date) =>
  db.prepare('INSERT INTO audit_log (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)')
    .run(now.toISOString(), actor, action, `patron:${patronId}`, JSON.stringify(detail));

/** Blocks the patron (unless staff already did), with the SC's message; written to the audit log. */
export function blockPatron(db: Db, patron: PatronRow, actor: string, message: string, cardRetained: boolean, now: Date): void {
  if (patron.blocked_reason !== null && !patron.blocked_reason.startsWith(SIP_BLOCK_PREFIX)) return;
  const reason = `${SIP_BLOCK_PREFIX} ${message.trim() || 'blocked by a self-check terminal'}${cardRetained ? ' (card retained)' : ''}`.slice(0, 500);
  db.transaction(() => {
    updatePatron(db, patron.id, { blockedReason: reason }, now);
    audit(db, actor, 'patron.block', patron.id, { reason }, now);
  }).immediate();
}

/** Lifts a block a self-check set; a block set by staff stays. Returns whether the patron is now free of blocks of this kind. */
export function enablePatron(db: Db, patron: PatronRow, actor: string, now: Date): boolean {
  if (patron.blocked_reason === null) return true;
  if (!patron.blocked_reason.startsWith(SIP_BLOCK_PREFIX)) return false;
  db.transaction(() => {
    updatePatron(db, patron.id, { blockedReason: null }, now);
    audit(db, actor, 'patron.enable', patron.id, { lifted: patron.blocked_reason }, now);
  }).immediate();
  return true;
}
