import { stringify } from 'csv-stringify/sync';
import { ZodError } from 'zod';
import type { Db } from '../store/db.js';
import { DomainError } from '../errors.js';
import { KINDS, type Kind } from './kinds.js';
import { csvRows, jsonRows, CellError, ImportError, type RowProblem, type SourceRow } from './rows.js';

export { ImportError, formatProblem, type RowProblem } from './rows.js';
export { KIND_NAMES, type Kind } from './kinds.js';
export type Format = 'json' | 'csv';

export interface ImportOptions {
  kind: Kind;
  format: Format;
  text: string;
  /** Import the good rows and report the bad ones, instead of importing nothing. */
  skipBad?: boolean;
  onProgress?: (step: string, done: number, total: number) => void;
  now?: Date;
}

export interface ImportReport { kind: Kind; format: Format; rows: number; imported: number; skipped: RowProblem[] }

/** Which field a domain refusal is about, so a bad row names it. */
const FIELD_OF_CODE: Record<string, string> = {
  DUPLICATE_BARCODE: 'barcode', DUPLICATE_CARD_NUMBER: 'cardNumber', RECORD_NOT_FOUND: 'recordId', CLASSIFICATION_INVALID: 'classification',
  CLASS_SCHEME_REQUIRED: 'classScheme', DEFAULT_POLICY_INCOMPLETE: 'branchId',
};

function problemOf(row: SourceRow, e: unknown): RowProblem {
  if (e instanceof ZodError) {
    const issue = e.issues[0]!;
    return { line: row.line, field: issue.path.length ? issue.path.join('.') : null, reason: issue.message };
  }
  if (e instanceof CellError) return { line: row.line, field: e.field, reason: e.message };
  if (e instanceof DomainError) {
    const field = (e.detail?.field as string | undefined) ?? FIELD_OF_CODE[e.code] ?? (e.code === 'DUPLICATE_TAG_UID' ? ('cardTagUid' in row.values ? 'cardTagUid' : 'tagUid') : null)
      ?? (e.code === 'BRANCH_NOT_FOUND' ? ('homeBranch' in row.values ? 'homeBranch' : 'branchId') : null);
    return { line: row.line, field, reason: e.message };
  }
  throw e;
}

/**
 * Imports one kind of data. All or nothing: with any bad row, nothing is written and an ImportError
 * lists every bad row (line, field, reason) — unless skipBad, when the good rows are imported and the
 * bad ones reported.
 */
export async function importData(db: Db, opts: ImportOptions): Promise<ImportReport> {
  const kind = KINDS[opts.kind];
  if (!kind) throw new ImportError([{ line: 0, field: null, reason: `unknown kind ${opts.kind}` }]);
  const rows = opts.format === 'csv' ? csvRows(opts.text) : jsonRows(opts.text);
  const progress = opts.onProgress ?? (() => undefined);
  const now = opts.now ?? new Date();
  const problems: RowProblem[] = [];
  // Work that cannot run inside a transaction (PIN hashing) happens first.
  const prepared = await kind.prepare(rows, problems, progress);
  let imported = 0;
  const apply = db.transaction(() => {
    const state = kind.begin(db);
    prepared.forEach((input, i) => {
      const row = rows[i]!;
      if (input === null) return; // its problem is already recorded
      try {
        db.transaction(() => kind.write(db, input, row, state, now))();
        imported++;
      } catch (e) {
        problems.push(problemOf(row, e));
      }
      if (i % 1000 === 0 || i === rows.length - 1) progress('rows', i + 1, rows.length);
    });
    kind.end?.(db, state);
    if (problems.length && !opts.skipBad) throw new ImportError(problems.sort((a, b) => a.line - b.line));
  });
  apply.immediate();
  return { kind: opts.kind, format: opts.format, rows: rows.length, imported, skipped: problems.sort((a, b) => a.line - b.line) };
}

/** Exports one kind; the output imports back into an empty database unchanged. */
export function exportData(db: Db, opts: { kind: Kind; format: Format }): string {
  const kind = KINDS[opts.kind];
  if (!kind) throw new Error(`unknown kind ${opts.kind}`);
  const objects = kind.read(db);
  if (opts.format === 'json') return `${JSON.stringify(objects, null, 2)}\n`;
  const rows = kind.toCsv ? kind.toCsv(objects) : objects;
  return stringify(rows.map((o) => Object.fromEntries(kind.columns.map((c) => [c, csvCell(o[c])]))), { header: true, columns: kind.columns });
}

const csvCell = (v: unknown) => (v === null || v === undefined ? '' : Array.isArray(v) ? v.join('; ') : String(v));
