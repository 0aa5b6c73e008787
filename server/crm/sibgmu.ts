import { readFileSync } from 'node:fs';
import { clcOfShelfMark, SIBGMU_LOG } from '../seed/shape.js';

/** One loan of the Lib-SibGMU log (`datasets/lib-sibgmu/rslib_test.csv`). */
export interface LogLoan {
  /** Anonymised reader id, 16 hex characters. */
  reader: string;
  /** Book id: `<shelf mark>/<author mark>-<number>`. */
  book: string;
  /** Loan date, `YYYY-MM-DD`. */
  date: string;
  /** The dataset authors' semester number (undocumented; read as study semester). */
  semester: number;
  /** The shelf mark's CLC top-level class (see `clcOfShelfMark`). */
  clc: string;
}

/** Reads the real borrowing log, in file order, skipping malformed rows. */
export function loadSibgmuLog(csvPath = SIBGMU_LOG): LogLoan[] {
  const out: LogLoan[] = [];
  const lines = readFileSync(csvPath, 'utf8').split('\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line) continue;
    const [, reader, book, date, semester] = line.split(',');
    if (!reader || !book || !date || !/^\d{4}-\d{2}-\d{2}$/.test(date)) continue;
    out.push({ reader, book, date, semester: Number(semester ?? 0) || 0, clc: clcOfShelfMark(book.split('/')[0] ?? '') });
  }
  return out;
}
