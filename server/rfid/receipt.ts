import type { KioskSessionView } from './kiosk.js';

/** Display width of a string on a receipt printer: CJK and full-width characters take two columns. */
const width = (s: string) => [...s].reduce((w, ch) => w + (/[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u.test(ch) ? 2 : 1), 0);

/** Cuts a string to at most `cols` display columns. */
function fit(s: string, cols: number): string {
  let out = '';
  for (const ch of s) {
    if (width(out + ch) > cols) return `${out.slice(0, -1)}…`;
    out += ch;
  }
  return out;
}

const localDay = (iso: string, timeZone: string) => new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(iso));

/**
 * A kiosk receipt in both languages, laid out for a 58 mm thermal printer (32 columns, CJK counted
 * as two): what was borrowed with its due date, and what was not with the reason.
 */
export function receiptText(s: KioskSessionView, library: string, timeZone: string, cols = 32): string {
  const rule = '-'.repeat(cols);
  const lines = [fit(library, cols), `借阅凭条 Loan receipt`, localDay(s.startedAt, timeZone) + ' ' + new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit' }).format(new Date(s.startedAt)), rule];
  if (s.patron) lines.push(fit(`读者 Patron: ${s.patron.cardNumber}`, cols));
  const lent = s.items.filter((i) => i.status === 'checked_out');
  const notLent = s.items.filter((i) => i.status !== 'checked_out');
  lines.push(`已借 Borrowed: ${lent.length}`);
  for (const i of lent) {
    lines.push(fit(i.title ?? i.barcode ?? '', cols), `  ${i.barcode}`, `  应还 Due: ${localDay(i.dueAt!, timeZone)}`);
  }
  if (notLent.length) {
    lines.push(rule, `未借出 Not borrowed: ${notLent.length}`);
    for (const i of notLent) lines.push(fit(i.title ?? i.barcode ?? i.uids[0] ?? '', cols), fit(`  ${i.message?.zh ?? ''}`, cols), fit(`  ${i.message?.en ?? i.code ?? ''}`, cols));
  }
  lines.push(rule, '谢谢 Thank you');
  return `${lines.join('\n')}\n`;
}
