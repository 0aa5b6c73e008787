import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SIBGMU_LOG = fileURLToPath(new URL('../../datasets/lib-sibgmu/rslib_test.csv', import.meta.url));

const BBK_TO_CLC: Record<string, string> = { Ш: 'H', Т: 'K', Ю: 'B', Х: 'D', У: 'F', С: 'C', Ч: 'G' };

/** Maps the log's shelf mark (UDC digits or a BBK letter) to a CLC top-level class. */
export function clcOfShelfMark(mark: string): string {
  const c = mark[0] ?? '';
  if (c === '6') return mark.startsWith('63') ? 'S' : mark.startsWith('62') ? 'T' : 'R';
  if (c === '5') return /^5[34]/.test(mark) ? 'O' : /^5[78]/.test(mark) ? 'Q' : /^5[0-2]/.test(mark) ? 'N' : 'P';
  if (BBK_TO_CLC[c]) return BBK_TO_CLC[c];
  if (c === '1') return 'B';
  if (c === '3') return 'C';
  if (c === '8') return 'H';
  if (c === '9') return 'K';
  if (c === '7') return 'J';
  if (c === '0') return 'Z';
  return 'Z';
}

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
