import { z } from 'zod';
import type { Db } from '../store/db.js';
import { DomainError, notFound } from '../errors.js';
import { hashSecret } from '../auth/passwords.js';

export const PATRON_CATEGORIES = ['undergraduate', 'postgraduate', 'faculty', 'staff', 'public'] as const;

const IsoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD').refine((s) => !Number.isNaN(Date.parse(s)) && new Date(s).toISOString().startsWith(s), 'not a calendar date');

// Card numbers are kept exactly as printed on the card.
export const PatronInput = z.object({
  cardNumber: z.string().min(1).max(64).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces'),
  cardTagUid: z.string().regex(/^[0-9A-F]{16}$/, '16 uppercase hex digits (ISO 15693 UID)').nullish(),
  name: z.string().trim().min(1).max(200),
  category: z.string().min(1).max(40),
  department: z.string().max(200).nullish(),
  email: z.string().email().max(254).nullish(),
  phone: z.string().regex(/^\+?[0-9 ()-]{5,20}$/, 'phone number').nullish(),
  birthDate: IsoDate.nullish(),
  homeBranch: z.string().min(1).nullish(),
  expiryDate: IsoDate,
  blockedReason: z.string().trim().min(1).max(500).nullish(),
  cardLost: z.boolean().default(false),
});
export type PatronInput = z.input<typeof PatronInput>;

export interface Patron {
  id: number; cardNumber: string; cardTagUid: string | null; name: string; category: string; department: string | null;
  email: string | null; phone: string | null; birthDate: string | null; homeBranch: string | null; expiryDate: string;
  blockedReason: string | null; cardLost: boolean; hasPin: boolean; createdAt: string; updatedAt: string;
}

export interface PatronRow {
  id: number; card_number: string; card_tag_uid: string | null; name: string; category: string; department: string | null;
  email: string | null; phone: string | null; birth_date: string | null; home_branch: string | null; pin_hash: string | null;
  expiry_date: string; blocked_reason: string | null; card_lost: number; created_at: string; updated_at: string;
}

export const toPatron = (r: PatronRow): Patron => ({
  id: r.id, cardNumber: r.card_number, cardTagUid: r.card_tag_uid, name: r.name, category: r.category, department: r.department,
  email: r.email, phone: r.phone, birthDate: r.birth_date, homeBranch: r.home_branch, expiryDate: r.expiry_date,
  blockedReason: r.blocked_reason, cardLost: r.card_lost === 1, hasPin: r.pin_hash !== null, createdAt: r.created_at, updatedAt: r.updated_at,
});

export const PinInput = z.string().regex(/^\d{4,12}$/, 'PIN: 4 to 12 digits');

function uniqueOr(e: unknown, v: { cardNumber: string; cardTagUid?: string | null }): never {
  const msg = e instanceof Error ? e.message : '';
  if (msg.includes('patron.card_number')) throw new DomainError('DUPLICATE_CARD_NUMBER', `card ${v.cardNumber} is already issued`, 409);
  if (msg.includes('patron.card_tag_uid')) throw new DomainError('DUPLICATE_TAG_UID', `card tag ${v.cardTagUid} is already bound`, 409);
  throw e;
}

function checkBranch(db: Db, branch: string | null | undefined) {
  if (branch && !db.prepare('SELECT 1 FROM branch WHERE id = ?').get(branch)) throw notFound('branch', branch);
}

/** Inserts a patron whose PIN, if any, is already hashed (imports hash before they open the transaction). */
export function insertPatron(db: Db, input: PatronInput, pinHash: string | null, now = new Date()): Patron {
  const v = PatronInput.parse(input);
  checkBranch(db, v.homeBranch);
  const ts = now.toISOString();
  try {
    const info = db.prepare(`INSERT INTO patron (card_number, card_tag_uid, name, category, department, email, phone, birth_date,
        home_branch, pin_hash, expiry_date, blocked_reason, card_lost, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(v.cardNumber, v.cardTagUid ?? null, v.name, v.category, v.department ?? null, v.email ?? null, v.phone ?? null,
        v.birthDate ?? null, v.homeBranch ?? null, pinHash, v.expiryDate, v.blockedReason ?? null, v.cardLost ? 1 : 0, ts, ts);
    return getPatron(db, Number(info.lastInsertRowid));
  } catch (e) { uniqueOr(e, v); }
}

export async function createPatron(db: Db, input: PatronInput & { pin?: string }, now = new Date()): Promise<Patron> {
  const pinHash = input.pin !== undefined ? await hashSecret(PinInput.parse(input.pin)) : null;
  return insertPatron(db, input, pinHash, now);
}

export function updatePatron(db: Db, id: number, patch: Partial<PatronInput>, now = new Date()): Patron {
  const current = getPatron(db, id);
  const v = PatronInput.parse({ ...current, ...patch });
  checkBranch(db, v.homeBranch);
  try {
    db.prepare(`UPDATE patron SET card_number = ?, card_tag_uid = ?, name = ?, category = ?, department = ?, email = ?, phone = ?,
        birth_date = ?, home_branch = ?, expiry_date = ?, blocked_reason = ?, card_lost = ?, updated_at = ? WHERE id = ?`)
      .run(v.cardNumber, v.cardTagUid ?? null, v.name, v.category, v.department ?? null, v.email ?? null, v.phone ?? null,
        v.birthDate ?? null, v.homeBranch ?? null, v.expiryDate, v.blockedReason ?? null, v.cardLost ? 1 : 0, now.toISOString(), id);
  } catch (e) { uniqueOr(e, v); }
  return getPatron(db, id);
}

export async function setPatronPin(db: Db, id: number, pin: string): Promise<void> {
  getPatron(db, id);
  const hash = await hashSecret(PinInput.parse(pin));
  db.prepare('UPDATE patron SET pin_hash = ?, updated_at = ? WHERE id = ?').run(hash, new Date().toISOString(), id);
}

export function getPatron(db: Db, id: number): Patron {
  const row = db.prepare('SELECT * FROM patron WHERE id = ?').get(id) as PatronRow | undefined;
  if (!row) throw notFound('patron', id);
  return toPatron(row);
}

export function findPatronRow(db: Db, ref: { cardNumber?: string; cardTagUid?: string }): PatronRow | null {
  const row = ref.cardNumber !== undefined
    ? db.prepare('SELECT * FROM patron WHERE card_number = ?').get(ref.cardNumber)
    : db.prepare('SELECT * FROM patron WHERE card_tag_uid = ?').get(ref.cardTagUid);
  return (row as PatronRow | undefined) ?? null;
}

export function searchPatrons(db: Db, q: { q?: string; category?: string; limit?: number; offset?: number }) {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.q) {
    const like = `%${q.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    where.push("(name LIKE ? ESCAPE '\\' OR card_number = ?)");
    args.push(like, q.q);
  }
  if (q.category) { where.push('category = ?'); args.push(q.category); }
  const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const total = (db.prepare(`SELECT count(*) AS n FROM patron ${clause}`).get(...args) as { n: number }).n;
  const rows = db.prepare(`SELECT * FROM patron ${clause} ORDER BY id LIMIT ? OFFSET ?`).all(...args, q.limit ?? 50, q.offset ?? 0) as PatronRow[];
  return { total, patrons: rows.map(toPatron) };
}
