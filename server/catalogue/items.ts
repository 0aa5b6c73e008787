import { z } from 'zod';
import type { Db } from '../store/db.js';
import { DomainError, notFound } from '../errors.js';

export const ITEM_STATUSES = ['available', 'on_loan', 'on_hold_shelf', 'in_transit', 'lost', 'missing', 'withdrawn', 'in_processing'] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];

// Barcodes and tag UIDs are kept exactly as printed: no trimming, no case change.
const Code = z.string().min(1).max(64).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

export const ItemInput = z.object({
  recordId: z.number().int().positive(),
  barcode: Code,
  tagUid: z.string().regex(/^[0-9A-F]{16}$/, '16 uppercase hex digits (ISO 15693 UID)').nullish(),
  ownerIsil: z.string().max(16).nullish(),
  homeBranch: z.string().min(1),
  location: z.string().max(100).nullish(),
  callNumber: z.string().max(100).nullish(),
  itemType: z.string().min(1).max(40).default('book'),
  // Statuses that circulation owns (on loan, on hold shelf, in transit) are not set by hand.
  status: z.enum(['available', 'lost', 'missing', 'withdrawn', 'in_processing']).default('available'),
  priceCents: z.number().int().min(0).nullish(),
});
export type ItemInput = z.input<typeof ItemInput>;

export interface Item {
  id: number; recordId: number; barcode: string; tagUid: string | null; ownerIsil: string | null;
  homeBranch: string; currentBranch: string | null; location: string | null; callNumber: string | null;
  itemType: string; status: ItemStatus; transitTo: string | null; priceCents: number | null;
  createdAt: string; updatedAt: string;
}

export interface ItemRow {
  id: number; record_id: number; barcode: string; tag_uid: string | null; owner_isil: string | null; home_branch: string;
  current_branch: string | null; location: string | null; call_number: string | null; item_type: string; status: ItemStatus;
  transit_to: string | null; price_cents: number | null; created_at: string; updated_at: string;
}

export const toItem = (r: ItemRow): Item => ({
  id: r.id, recordId: r.record_id, barcode: r.barcode, tagUid: r.tag_uid, ownerIsil: r.owner_isil, homeBranch: r.home_branch,
  currentBranch: r.current_branch, location: r.location, callNumber: r.call_number, itemType: r.item_type, status: r.status,
  transitTo: r.transit_to, priceCents: r.price_cents, createdAt: r.created_at, updatedAt: r.updated_at,
});

function checkRefs(db: Db, v: z.output<typeof ItemInput>) {
  if (!db.prepare('SELECT 1 FROM record WHERE id = ?').get(v.recordId)) throw notFound('record', v.recordId);
  if (!db.prepare('SELECT 1 FROM branch WHERE id = ?').get(v.homeBranch)) throw notFound('branch', v.homeBranch);
}

function uniqueOr(e: unknown, v: { barcode: string; tagUid?: string | null }): never {
  const msg = e instanceof Error ? e.message : '';
  if (msg.includes('item.barcode')) throw new DomainError('DUPLICATE_BARCODE', `barcode ${v.barcode} is already used`, 409);
  if (msg.includes('item.tag_uid')) throw new DomainError('DUPLICATE_TAG_UID', `tag ${v.tagUid} is already bound to an item`, 409);
  throw e;
}

export function createItem(db: Db, input: ItemInput, now = new Date()): Item {
  const v = ItemInput.parse(input);
  checkRefs(db, v);
  const ts = now.toISOString();
  try {
    const info = db.prepare(`INSERT INTO item (record_id, barcode, tag_uid, owner_isil, home_branch, current_branch, location,
        call_number, item_type, status, price_cents, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(v.recordId, v.barcode, v.tagUid ?? null, v.ownerIsil ?? null, v.homeBranch, v.homeBranch, v.location ?? null,
        v.callNumber ?? null, v.itemType, v.status, v.priceCents ?? null, ts, ts);
    return getItem(db, Number(info.lastInsertRowid));
  } catch (e) { uniqueOr(e, v); }
}

export function updateItem(db: Db, id: number, patch: Partial<ItemInput>, now = new Date()): Item {
  const current = getItem(db, id);
  const circulating = ['on_loan', 'on_hold_shelf', 'in_transit'].includes(current.status);
  if (patch.status !== undefined && circulating && patch.status !== current.status) {
    throw new DomainError('ITEM_IN_CIRCULATION', `item ${current.barcode} is ${current.status}; check it in first`, 409);
  }
  const v = ItemInput.parse({ ...current, status: circulating ? 'available' : current.status, ...patch });
  checkRefs(db, v);
  try {
    db.prepare(`UPDATE item SET record_id = ?, barcode = ?, tag_uid = ?, owner_isil = ?, home_branch = ?, location = ?,
        call_number = ?, item_type = ?, status = ?, price_cents = ?, updated_at = ? WHERE id = ?`)
      .run(v.recordId, v.barcode, v.tagUid ?? null, v.ownerIsil ?? null, v.homeBranch, v.location ?? null, v.callNumber ?? null,
        v.itemType, circulating ? current.status : v.status, v.priceCents ?? null, now.toISOString(), id);
  } catch (e) { uniqueOr(e, v); }
  return getItem(db, id);
}

export function getItem(db: Db, id: number): Item {
  const row = db.prepare('SELECT * FROM item WHERE id = ?').get(id) as ItemRow | undefined;
  if (!row) throw notFound('item', id);
  return toItem(row);
}

export function findItem(db: Db, ref: { barcode?: string; tagUid?: string }): Item | null {
  const row = (ref.barcode !== undefined
    ? db.prepare('SELECT * FROM item WHERE barcode = ?').get(ref.barcode)
    : db.prepare('SELECT * FROM item WHERE tag_uid = ?').get(ref.tagUid)) as ItemRow | undefined;
  return row ? toItem(row) : null;
}

export function listItems(db: Db, q: { recordId?: number; status?: ItemStatus; branch?: string; limit?: number; offset?: number }) {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.recordId !== undefined) { where.push('record_id = ?'); args.push(q.recordId); }
  if (q.status) { where.push('status = ?'); args.push(q.status); }
  if (q.branch) { where.push('home_branch = ?'); args.push(q.branch); }
  const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const total = (db.prepare(`SELECT count(*) AS n FROM item ${clause}`).get(...args) as { n: number }).n;
  const rows = db.prepare(`SELECT * FROM item ${clause} ORDER BY id LIMIT ? OFFSET ?`).all(...args, q.limit ?? 50, q.offset ?? 0) as ItemRow[];
  return { total, items: rows.map(toItem) };
}
