import { parse } from 'csv-parse/sync';

/** One input row, with where it stood in the file: the CSV line where it starts, or the JSON element number. */
export interface SourceRow { line: number; values: Record<string, unknown> }

export interface RowProblem { line: number; field: string | null; reason: string }

export class ImportError extends Error {
  constructor(readonly problems: RowProblem[]) {
    super(`${problems.length} bad row${problems.length === 1 ? '' : 's'}; nothing was imported:\n${problems.slice(0, 20).map(formatProblem).join('\n')}${problems.length > 20 ? `\n… and ${problems.length - 20} more` : ''}`);
    this.name = 'ImportError';
  }
}

export const formatProblem = (p: RowProblem) => `line ${p.line}${p.field ? `, field ${p.field}` : ''}: ${p.reason}`;

/** CSV with a header row; every value stays a string (barcodes and card numbers are never cast). */
export function csvRows(text: string): SourceRow[] {
  let parsed: { record: Record<string, string>; raw: string; info: { lines: number } }[];
  try {
    parsed = parse(text, { columns: true, info: true, raw: true, skip_empty_lines: true, bom: true, cast: false }) as typeof parsed;
  } catch (e) {
    const err = e as Error & { lines?: number };
    throw new ImportError([{ line: err.lines ?? 1, field: null, reason: `not valid CSV: ${err.message}` }]);
  }
  return parsed.map(({ record, raw, info }) => {
    const body = raw.replace(/^(\r?\n)+/, '').replace(/\r?\n$/, '');
    return { line: info.lines - (body.match(/\n/g)?.length ?? 0), values: record };
  });
}

/** JSON: an array of objects; `line` is the element's 1-based position in the array. */
export function jsonRows(text: string): SourceRow[] {
  let data: unknown;
  try { data = JSON.parse(text); } catch (e) {
    throw new ImportError([{ line: 1, field: null, reason: `not valid JSON: ${(e as Error).message}` }]);
  }
  if (!Array.isArray(data)) throw new ImportError([{ line: 1, field: null, reason: 'expected a JSON array of objects' }]);
  return data.map((v, i) => ({ line: i + 1, values: v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { __notAnObject: v } }));
}

// ---- CSV cell conversion: empty cells mean "not given" ------------------------------------------

export class CellError extends Error {
  constructor(readonly field: string, reason: string) { super(reason); }
}

export const text = (v: unknown): string | undefined => (v === undefined || v === null || v === '' ? undefined : String(v));

export function int(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number') return v;
  const s = String(v).trim();
  if (!/^-?\d+$/.test(s)) throw new CellError(field, `"${s}" is not a whole number`);
  return Number(s);
}

export function bool(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'boolean') return v;
  const s = String(v).trim().toLowerCase();
  if (['true', '1', 'yes'].includes(s)) return true;
  if (['false', '0', 'no'].includes(s)) return false;
  throw new CellError(field, `"${v}" is not true or false`);
}

export const list = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.map(String) : v === undefined || v === null || v === '' ? undefined : String(v).split(';').map((s) => s.trim()).filter(Boolean);
