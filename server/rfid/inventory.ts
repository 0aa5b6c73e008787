import type { TagReport } from '../../contract/mqtt.js';
import type { Circulation } from '../circulation/circulation.js';
import type { Clock } from '../clock.js';
import type { Db } from '../store/db.js';
import type { ReaderInfo } from './directory.js';
import { identifyTag } from './identify.js';
import { RfidError } from './errors.js';

interface Found { itemId: number; barcode: string; title: string; location: string | null; status: string }
export interface InventoryReport {
  sessionId: number; readerId: string; branchId: string; locationFrom: string; locationTo: string; startedAt: string; finishedAt: string;
  /** Expected on these shelves (available, home here, location in range) and seen. */
  found: Found[];
  /** Expected, not seen. */
  missing: Found[];
  /** Seen here, but their home location is elsewhere. */
  misplaced: Found[];
  /** Seen on the shelf but recorded as on loan, lost or missing. */
  wrongStatus: Found[];
  /** Tags seen that are not this library's items. */
  unknownTags: string[];
}

export interface InventorySession { id: number; readerId: string; branchId: string; locationFrom: string; locationTo: string; startedAt: string; seen: number }

/**
 * Shelf checks with an inventory wand: a session covers a shelf range (home locations compared as
 * text, inclusive: `M-R-01` … `M-R-09`); every tag the wand sees is recorded; finishing the session
 * compares what was seen with what the catalogue expects there.
 */
export class InventoryWands {
  constructor(private readonly deps: { db: Db; circulation: Circulation; clock: Clock }) {}

  start(reader: ReaderInfo, range: { from: string; to: string; branchId?: string }, actor: string): InventorySession {
    if (reader.role !== 'inventory_wand') throw new RfidError('NOT_AN_INVENTORY_WAND', `reader ${reader.id} is a ${reader.role}, not an inventory wand`, 409);
    if (range.from > range.to) throw new RfidError('BAD_SHELF_RANGE', `the range starts (${range.from}) after it ends (${range.to})`, 422);
    if (this.open(reader.id)) throw new RfidError('INVENTORY_ALREADY_OPEN', `reader ${reader.id} already has an open inventory session`, 409);
    const at = this.deps.clock.now().toISOString();
    const branchId = range.branchId ?? reader.branchId;
    const id = Number(this.deps.db.prepare(`INSERT INTO inventory_session (reader_id, branch_id, location_from, location_to, started_by, started_at)
        VALUES (?, ?, ?, ?, ?, ?)`).run(reader.id, branchId, range.from, range.to, actor, at).lastInsertRowid);
    return { id, readerId: reader.id, branchId, locationFrom: range.from, locationTo: range.to, startedAt: at, seen: 0 };
  }

  open(readerId: string): InventorySession | null {
    const r = this.deps.db.prepare(`SELECT s.id, s.reader_id AS readerId, s.branch_id AS branchId, s.location_from AS locationFrom, s.location_to AS locationTo,
        s.started_at AS startedAt, (SELECT count(*) FROM inventory_seen WHERE session_id = s.id) AS seen
        FROM inventory_session s WHERE reader_id = ? AND finished_at IS NULL`).get(readerId) as InventorySession | undefined;
    return r ?? null;
  }

  onTag(reader: ReaderInfo, event: 'enter' | 'leave', tag: TagReport): void {
    if (event !== 'enter') return;
    const session = this.open(reader.id);
    if (!session) return;
    const id = identifyTag(this.deps.circulation, tag);
    this.deps.db.prepare('INSERT OR IGNORE INTO inventory_seen (session_id, uid, barcode, at) VALUES (?, ?, ?, ?)')
      .run(session.id, tag.uid, id.kind === 'item' ? id.barcode : null, this.deps.clock.now().toISOString());
  }

  finish(sessionId: number): InventoryReport {
    const { db } = this.deps;
    const s = db.prepare('SELECT * FROM inventory_session WHERE id = ?').get(sessionId) as
      { id: number; reader_id: string; branch_id: string; location_from: string; location_to: string; started_at: string; finished_at: string | null; report: string | null } | undefined;
    if (!s) throw new RfidError('INVENTORY_NOT_FOUND', `no inventory session ${sessionId}`, 404);
    if (s.finished_at) return JSON.parse(s.report!) as InventoryReport;
    const select = `SELECT i.id AS itemId, i.barcode, r.title, i.location, i.status, i.home_branch AS homeBranch FROM item i JOIN record r ON r.id = i.record_id`;
    const expected = db.prepare(`${select} WHERE i.home_branch = ? AND i.location BETWEEN ? AND ? AND i.status = 'available' ORDER BY i.location, i.barcode`)
      .all(s.branch_id, s.location_from, s.location_to) as (Found & { homeBranch: string })[];
    const seenRows = db.prepare('SELECT uid FROM inventory_seen WHERE session_id = ? ORDER BY at').all(s.id) as { uid: string }[];
    const seenItems = new Map<number, Found & { homeBranch: string }>();
    const unknownTags: string[] = [];
    const byId = db.prepare(`${select} WHERE i.id = ?`);
    for (const { uid } of seenRows) {
      const id = identifyTag(this.deps.circulation, { uid, antenna: 1, security: null, data: null });
      if (id.kind !== 'item') { unknownTags.push(uid); continue; }
      seenItems.set(id.itemId, byId.get(id.itemId) as Found & { homeBranch: string });
    }
    const inRange = (f: Found & { homeBranch: string }) => f.homeBranch === s.branch_id && f.location !== null && f.location >= s.location_from && f.location <= s.location_to;
    const strip = ({ homeBranch: _h, ...f }: Found & { homeBranch: string }): Found => f;
    const seen = [...seenItems.values()];
    const report: InventoryReport = {
      sessionId: s.id, readerId: s.reader_id, branchId: s.branch_id, locationFrom: s.location_from, locationTo: s.location_to,
      startedAt: s.started_at, finishedAt: this.deps.clock.now().toISOString(),
      found: expected.filter((e) => seenItems.has(e.itemId)).map(strip),
      missing: expected.filter((e) => !seenItems.has(e.itemId)).map(strip),
      misplaced: seen.filter((f) => !inRange(f)).map(strip),
      wrongStatus: seen.filter((f) => ['on_loan', 'lost', 'missing'].includes(f.status)).map(strip),
      unknownTags,
    };
    db.prepare('UPDATE inventory_session SET finished_at = ?, report = ? WHERE id = ?').run(report.finishedAt, JSON.stringify(report), s.id);
    return report;
  }
}
