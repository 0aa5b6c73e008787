import { loadSibgmuLog, SIBGMU_LOG } from '../crm/sibgmu.js';

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

export function shapeFromLog(csvPath = SIBGMU_LOG): LogShape {
  const perReader = new Map<string, Record<string, number>>();
  const months = new Array<number>(12).fill(0);
  const classes: Record<string, number> = {};
  const loans = loadSibgmuLog(csvPath);
  for (const { reader, clc, date } of loans) {
    const mix = perReader.get(reader) ?? {};
    mix[clc] = (mix[clc] ?? 0) + 1;
    perReader.set(reader, mix);
    months[Number(date.slice(5, 7)) - 1]! += 1;
    classes[clc] = (classes[clc] ?? 0) + 1;
  }
  const total = loans.length;
  const readerMixes = [...perReader.values()];
  return {
    loansPerReader: readerMixes.map((m) => Object.values(m).reduce((s, n) => s + n, 0)),
    readerMixes,
    classShares: Object.fromEntries(Object.entries(classes).map(([k, n]) => [k, n / total])),
    monthShares: months.map((n) => n / total),
  };
}
