import { z } from 'zod';
import type { Db } from '../store/db.js';
import { DomainError, notFound } from '../errors.js';
import { topClass } from './classification.js';

export const RecordInput = z.object({
  title: z.string().trim().min(1).max(1000),
  authors: z.array(z.string().trim().min(1).max(300)).max(50).default([]),
  publisher: z.string().trim().max(300).nullish(),
  year: z.number().int().min(0).max(2200).nullish(),
  isbn: z.string().trim().regex(/^(97[89])?\d{9}[\dX]$/, 'ISBN-10 or ISBN-13 digits, no hyphens').nullish(),
  language: z.string().trim().regex(/^[a-z]{2,3}$/, 'ISO 639 language code').nullish(),
  classScheme: z.enum(['clc', 'udc', 'ddc']).nullish(),
  classification: z.string().trim().max(100).nullish(),
  subjects: z.array(z.string().trim().min(1).max(300)).max(100).default([]),
});
export type RecordInput = z.input<typeof RecordInput>;

export interface BibRecord {
  id: number;
  title: string;
  authors: string[];
  publisher: string | null;
  year: number | null;
  isbn: string | null;
  language: string | null;
  classScheme: 'clc' | 'udc' | 'ddc' | null;
  classification: string | null;
  topClass: string | null;
  subjects: string[];
  createdAt: string;
  updatedAt: string;
}

interface RecordRow {
  id: number; title: string; authors: string; publisher: string | null; year: number | null; isbn: string | null;
  language: string | null; class_scheme: BibRecord['classScheme']; classification: string | null; top_class: string | null;
  subjects: string; created_at: string; updated_at: string;
}

export const toRecord = (r: RecordRow): BibRecord => ({
  id: r.id, title: r.title, authors: JSON.parse(r.authors), publisher: r.publisher, year: r.year, isbn: r.isbn,
  language: r.language, classScheme: r.class_scheme, classification: r.classification, topClass: r.top_class,
  subjects: JSON.parse(r.subjects), createdAt: r.created_at, updatedAt: r.updated_at,
});

function derivedTopClass(v: z.output<typeof RecordInput>): string | null {
  if (!v.classification) return null;
  if (!v.classScheme) throw new DomainError('CLASS_SCHEME_REQUIRED', 'classification needs classScheme (clc, udc or ddc)', 422);
  const top = topClass(v.classScheme, v.classification);
  if (!top) throw new DomainError('CLASSIFICATION_INVALID', `"${v.classification}" is not a ${v.classScheme.toUpperCase()} mark`, 422);
  return top;
}

export function createRecord(db: Db, input: RecordInput, now = new Date()): BibRecord {
  const v = RecordInput.parse(input);
  const ts = now.toISOString();
  const info = db.prepare(`INSERT INTO record (title, authors, publisher, year, isbn, language, class_scheme, classification,
      top_class, subjects, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    .run(v.title, JSON.stringify(v.authors), v.publisher ?? null, v.year ?? null, v.isbn ?? null, v.language ?? null,
      v.classScheme ?? null, v.classification ?? null, derivedTopClass(v), JSON.stringify(v.subjects), ts, ts);
  return getRecord(db, Number(info.lastInsertRowid));
}

export function updateRecord(db: Db, id: number, patch: Partial<RecordInput>, now = new Date()): BibRecord {
  const current = getRecord(db, id);
  const v = RecordInput.parse({ ...current, ...patch });
  db.prepare(`UPDATE record SET title = ?, authors = ?, publisher = ?, year = ?, isbn = ?, language = ?, class_scheme = ?,
      classification = ?, top_class = ?, subjects = ?, updated_at = ? WHERE id = ?`)
    .run(v.title, JSON.stringify(v.authors), v.publisher ?? null, v.year ?? null, v.isbn ?? null, v.language ?? null,
      v.classScheme ?? null, v.classification ?? null, derivedTopClass(v), JSON.stringify(v.subjects), now.toISOString(), id);
  return getRecord(db, id);
}

export function getRecord(db: Db, id: number): BibRecord {
  const row = db.prepare('SELECT * FROM record WHERE id = ?').get(id) as RecordRow | undefined;
  if (!row) throw notFound('record', id);
  return toRecord(row);
}

export interface RecordQuery { q?: string; isbn?: string; topClass?: string; limit?: number; offset?: number }

/** Title/author substring search; exact ISBN; top-level class filter. */
export function searchRecords(db: Db, query: RecordQuery): { total: number; records: BibRecord[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  if (query.q) {
    where.push("(title LIKE ? ESCAPE '\\' OR authors LIKE ? ESCAPE '\\')");
    const like = `%${query.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    args.push(like, like);
  }
  if (query.isbn) { where.push('isbn = ?'); args.push(query.isbn); }
  if (query.topClass) { where.push('top_class = ?'); args.push(query.topClass); }
  const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const total = (db.prepare(`SELECT count(*) AS n FROM record ${clause}`).get(...args) as { n: number }).n;
  const rows = db.prepare(`SELECT * FROM record ${clause} ORDER BY id LIMIT ? OFFSET ?`)
    .all(...args, query.limit ?? 50, query.offset ?? 0) as RecordRow[];
  return { total, records: rows.map(toRecord) };
}
