import type { Db } from '../store/db.js';
import { DomainError, notFound } from '../errors.js';

/**
 * Patron data protection: reading history kept only by consent, a patron's export and erasure.
 *
 * Which tables hold a patron's data is read from the schema itself (every table with a `patron_id`
 * column), so a table added by a later feature is exported and erased without being listed here.
 */

/** How long a returned loan of a patron who keeps no reading history stays linked (the policy promises less than 24 h). */
export const UNLINK_AFTER_MS = 3_600_000;
/** Client transaction ids (retry protection) are kept a day: their stored results name patron and item. */
export const CLIENT_TXN_KEEP_MS = 86_400_000;
const NO_HISTORY = 'SELECT p.id FROM patron p LEFT JOIN patron_consent c ON c.patron_id = p.id WHERE coalesce(c.reading_history, 0) = 0';

/**
 * Unlinks what a patron borrowed from the patron, for every patron without reading-history consent,
 * once the loan is returned (after `UNLINK_AFTER_MS`, so a desk can still undo a mistaken checkin):
 * loans, circulation events that name an item, finished holds, finished kiosk sessions. Aggregates that
 * identify nobody (the loan row with its item and dates) stay. Also drops stale client transaction ids.
 * Run hourly, so nothing stays linked more than a day.
 */
export function unlinkReadingHistory(db: Db, now: Date): { loans: number; events: number; holds: number; kioskSessions: number; clientTxns: number } {
  const cutoff = new Date(now.getTime() - UNLINK_AFTER_MS).toISOString();
  return db.transaction(() => {
    const events = db.prepare(`UPDATE circ_event SET patron_id = NULL, actor = CASE WHEN actor LIKE 'patron:%' THEN NULL ELSE actor END WHERE patron_id IN (${NO_HISTORY}) AND item_id IS NOT NULL AND ts < ?
        AND (loan_id IS NULL OR loan_id NOT IN (SELECT id FROM loan WHERE closed_at IS NULL))`).run(cutoff).changes;
    const loans = db.prepare(`UPDATE loan SET patron_id = NULL WHERE patron_id IN (${NO_HISTORY}) AND closed_at IS NOT NULL AND closed_at < ?
        AND id NOT IN (SELECT loan_id FROM fee WHERE loan_id IS NOT NULL AND paid_cents < amount_cents)`).run(cutoff).changes;
    const holds = db.prepare(`DELETE FROM hold WHERE patron_id IN (${NO_HISTORY}) AND status IN ('fulfilled', 'cancelled', 'expired') AND closed_at < ?`).run(cutoff).changes;
    const kioskSessions = db.prepare(`UPDATE kiosk_session SET patron_id = NULL WHERE patron_id IN (${NO_HISTORY}) AND ended_at IS NOT NULL AND ended_at < ?`).run(cutoff).changes;
    const clientTxns = db.prepare('DELETE FROM client_txn WHERE at < ?').run(new Date(now.getTime() - CLIENT_TXN_KEEP_MS).toISOString()).changes;
    return { loans, events, holds, kioskSessions, clientTxns };
  })();
}

/** Consent withdrawn for profiling: the derived reading profile, segments and recommendations go now. */
export function clearProfiling(db: Db, patronId: number): void {
  db.transaction(() => {
    db.prepare('UPDATE patron_profile SET class_shares = NULL, breadth = NULL, tier = NULL, cluster = NULL WHERE patron_id = ?').run(patronId);
    db.prepare('DELETE FROM patron_recommendation WHERE patron_id = ?').run(patronId);
    db.prepare('UPDATE patron_segment_history SET tier = NULL, cluster = NULL WHERE patron_id = ?').run(patronId);
    db.prepare('UPDATE survey_response SET tier = NULL, cluster = NULL WHERE patron_id = ?').run(patronId);
  })();
}

/** Every table with a patron_id column, as the schema says now. */
export function patronTables(db: Db): string[] {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
  return tables.filter((t) => (db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(t) as string[]).includes('patron_id'));
}

/** Tables without a patron_id whose rows belong to a patron's row (erased with it by ON DELETE CASCADE). */
const CHILD_TABLES: Record<string, string> = {
  crm_case_event: 'case_id IN (SELECT id FROM crm_case WHERE patron_id = ?)',
  survey_answer: 'response_id IN (SELECT id FROM survey_response WHERE patron_id = ?)',
};

/** Columns never exported: secrets, not data about the patron. */
const SECRET_COLUMNS = new Set(['pin_hash', 'token_hash', 'password_hash', 'csrf_token']);
const strip = (row: Record<string, unknown>) => Object.fromEntries(Object.entries(row).filter(([k]) => !SECRET_COLUMNS.has(k)));

/** Everything held about one patron: the patron row, every table naming them, and the audit of who saw it. */
export function exportPatron(db: Db, patronId: number): { patron: Record<string, unknown>; tables: Record<string, Record<string, unknown>[]>; audit: Record<string, unknown>[] } {
  const patron = db.prepare('SELECT * FROM patron WHERE id = ?').get(patronId) as Record<string, unknown> | undefined;
  if (!patron) throw notFound('patron', patronId);
  const tables: Record<string, Record<string, unknown>[]> = {};
  for (const t of patronTables(db)) {
    const rows = db.prepare(`SELECT * FROM "${t}" WHERE patron_id = ?`).all(patronId) as Record<string, unknown>[];
    if (rows.length) tables[t] = rows.map(strip);
  }
  // Rows that name the patron through a parent row.
  for (const [table, where] of Object.entries(CHILD_TABLES)) {
    const rows = db.prepare(`SELECT * FROM "${table}" WHERE ${where}`).all(patronId) as Record<string, unknown>[];
    if (rows.length) tables[table] = rows.map(strip);
  }
  const sessions = db.prepare("SELECT kind, created_at, expires_at FROM session WHERE kind = 'patron' AND subject_id = ?").all(patronId) as Record<string, unknown>[];
  if (sessions.length) tables.session = sessions;
  const audit = db.prepare('SELECT ts, actor, action, detail FROM audit_log WHERE target = ? ORDER BY id').all(`patron:${patronId}`) as Record<string, unknown>[];
  return { patron: strip(patron), tables, audit };
}

/**
 * Erases a patron: refused while they have items on loan or money owed (both are the library's to
 * settle first). Returned loans and circulation events are kept without the patron (the collection's
 * statistics need them); every other row naming the patron is deleted. The audit log keeps who saw the
 * record, by id only, and gains an entry for the erasure.
 */
export function erasePatron(db: Db, patronId: number): { removed: Record<string, number> } {
  return db.transaction(() => {
    if (!db.prepare('SELECT 1 FROM patron WHERE id = ?').get(patronId)) throw notFound('patron', patronId);
    const open = (db.prepare('SELECT count(*) FROM loan WHERE patron_id = ? AND closed_at IS NULL').pluck().get(patronId) as number);
    if (open > 0) throw new DomainError('PATRON_HAS_LOANS', `the patron has ${open} item(s) on loan; check them in or mark them lost first`, 409, { loans: open });
    const owed = (db.prepare('SELECT coalesce(sum(amount_cents - paid_cents), 0) FROM fee WHERE patron_id = ?').pluck().get(patronId) as number);
    if (owed > 0) throw new DomainError('PATRON_OWES', `the patron owes ${owed} cents; settle or waive the fees first`, 409, { owedCents: owed });
    const removed: Record<string, number> = {};
    const keepAnonymous = new Set(['loan', 'circ_event']);
    // An operation the patron did themselves (online catalogue) names them as its actor too.
    db.prepare('UPDATE circ_event SET actor = NULL, detail = NULL WHERE patron_id = ? OR actor = ?').run(patronId, `patron:${patronId}`);
    for (const t of patronTables(db)) {
      const n = keepAnonymous.has(t) && nullable(db, t)
        ? db.prepare(`UPDATE "${t}" SET patron_id = NULL WHERE patron_id = ?`).run(patronId).changes
        : db.prepare(`DELETE FROM "${t}" WHERE patron_id = ?`).run(patronId).changes;
      if (n) removed[t] = n;
    }
    removed.session = db.prepare("DELETE FROM session WHERE kind = 'patron' AND subject_id = ?").run(patronId).changes;
    db.prepare('DELETE FROM patron WHERE id = ?').run(patronId);
    return { removed };
  })();
}

const nullable = (db: Db, table: string) =>
  (db.prepare('SELECT "notnull" FROM pragma_table_info(?) WHERE name = ?').pluck().get(table, 'patron_id') as number) === 0;
