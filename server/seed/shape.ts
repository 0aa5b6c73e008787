import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SIBGMU_LOG = fileURLToPath(new URL('../../datasets/lib-sibgmu/rslib_test.csv', import.meta.url));

/**
 * The shape of a real university library's borrowing (Lib-SibGMU): how many loans each reader
 * makes, what each reader reads (as CLC top-level classes), and in which months.
 */
export interface LogShape {
  /** Loans per reader, one entry per reader in the log (heavy-tailed). */
  loansPerReader: number[];
  /** Per reader, loans per CLC top-level class: the subject mixes demo patrons borrow from. */
  readerMixes: Record<string, number>[];
  /** Share of all loans per CLC class. */
  classShares: Record<string, number>;
  /** Share of loans per calendar month, index 0 = January. */
  monthShares: number[];
}

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

export function shapeFromLog(csvPath = SIBGMU_LOG): LogShape {
  const perReader = new Map<string, Record<string, number>>();
  const months = new Array<number>(12).fill(0);
  const classes: Record<string, number> = {};
  let total = 0;
  const lines = readFileSync(csvPath, 'utf8').split('\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line) continue;
    const [, reader, book, date] = line.split(',');
    if (!reader || !book || !date) continue;
    const clc = clcOfShelfMark(book.split('/')[0] ?? '');
    const mix = perReader.get(reader) ?? {};
    mix[clc] = (mix[clc] ?? 0) + 1;
    perReader.set(reader, mix);
    months[Number(date.slice(5, 7)) - 1]! += 1;
    classes[clc] = (classes[clc] ?? 0) + 1;
    total++;
  }
  const readerMixes = [...perReader.values()];
  return {
    loansPerReader: readerMixes.map((m) => Object.values(m).reduce((s, n) => s + n, 0)),
    readerMixes,
    classShares: Object.fromEntries(Object.entries(classes).map(([k, n]) => [k, n / total])),
    monthShares: months.map((n) => n / total),
  };
}
