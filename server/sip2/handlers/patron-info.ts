import { REASONS } from '../../circulation/reasons.js';
import type { PatronAccount } from '../../circulation/circulation.js';
import type { Handler } from '../exchange.js';
import { amount, count } from '../fields.js';
import type { ResponseFor } from '../responses.js';
import { TEXTS } from '../texts.js';
import { UNKNOWN_PATRON_STATUS, blockText, patronStatusField } from './patron.js';

/** The most items one list carries when the SC names no end item (BQ). */
const DEFAULT_LIST_LENGTH = 100;

type ListField = 'holdItems' | 'overdueItems' | 'chargedItems' | 'fineItems' | 'recallItems' | 'unavailableHoldItems';

/**
 * SIP2 2.00 summary, positions 0–5: hold items (AS), overdue items (AT), charged items (AU), fine items
 * (AV), recall items (BU), unavailable holds (CD). The first Y picks the list; positions 6–9 are not
 * defined and are ignored.
 */
const SUMMARY: readonly [ListField, (a: PatronAccount) => string[]][] = [
  ['holdItems', (a) => a.holds.filter((h) => h.status === 'ready').map((h) => h.barcode ?? h.title)],
  ['overdueItems', (a) => a.loans.filter((l) => l.overdue).map((l) => l.barcode)],
  ['chargedItems', (a) => a.loans.map((l) => l.barcode)],
  ['fineItems', (a) => a.fees.map((f) => [amount(f.owedCents), f.kind, f.barcode ?? f.note ?? ''].join(' ').trim())],
  ['recallItems', () => []], // there are no recalls in this library system
  ['unavailableHoldItems', (a) => a.holds.filter((h) => h.status !== 'ready').map((h) => h.barcode ?? h.title)],
];

/** BP/BQ: 1-based, inclusive item positions; anything unreadable falls back to the whole list. */
function page(items: string[], start?: string, end?: string): string[] {
  const from = /^\d+$/.test(start?.trim() ?? '') ? Math.max(1, Number(start)) : 1;
  const to = /^\d+$/.test(end?.trim() ?? '') ? Number(end) : from + DEFAULT_LIST_LENGTH - 1;
  return items.slice(from - 1, Math.max(from - 1, Math.min(to, from + DEFAULT_LIST_LENGTH - 1)));
}

export const patronInfo: Handler<'63'> = {
  code: '63',
  async handle(req, x) {
    const patron = x.patron(req.patronIdentifier);
    if (!patron) return patronInfo.refuse(req, x.now, x.say(REASONS.PATRON_NOT_FOUND, req.language));
    const status = x.circulation.patronStatus({ patronId: patron.id }, x.account.branchId)!;
    const account = x.circulation.patronAccount(patron.id);
    const policy = x.circulation.policyForPatron(x.account.branchId, { patronId: patron.id }, '*')!;
    const pinOk = req.patronPassword === undefined ? undefined : await x.pinMatches(patron, req.patronPassword);
    const res: ResponseFor<'64'> = {
      code: '64', patronStatus: patronStatusField(status.blocks), language: req.language, transactionDate: x.now,
      holdItemsCount: status.holdsReady, overdueItemsCount: status.overdue, chargedItemsCount: status.loans,
      fineItemsCount: account.fees.length, recallItemsCount: 0, unavailableHoldsCount: status.holdsWaiting,
      institutionId: req.institutionId ?? x.account.institutionId, patronIdentifier: req.patronIdentifier ?? '', personalName: patron.name,
      holdItemsLimit: count(policy.maxHolds), overdueItemsLimit: count(policy.blockOverdueItems), chargedItemsLimit: count(policy.maxLoans),
      validPatron: 'Y', validPatronPassword: pinOk === undefined ? undefined : pinOk ? 'Y' : 'N',
      currencyType: x.deps.currency, feeAmount: amount(status.balanceCents),
      feeLimit: policy.blockFinesCents > 0 ? amount(policy.blockFinesCents) : undefined,
      patronClass: patron.category, homeLibrary: patron.home_branch ?? undefined,
      screenMessage: pinOk === false ? x.say(TEXTS.WRONG_PIN, req.language) : blockText(x, status, req.language),
    };
    if (x.account.patronDetails) {
      Object.assign(res, { emailAddress: patron.email ?? undefined, homePhoneNumber: patron.phone ?? undefined, birthDate: patron.birth_date?.replaceAll('-', '') });
    }
    // A wrong PIN shows no lists: they are the patron's own loans and holds.
    const wanted = pinOk === false ? -1 : SUMMARY.findIndex((_, i) => req.summary[i] === 'Y' || req.summary[i] === 'y');
    if (wanted >= 0) {
      const [field, list] = SUMMARY[wanted]!;
      res[field] = page(list(account), req.startItem, req.endItem);
    }
    return res;
  },
  refuse: (req, now, screenMessage) => ({
    code: '64', patronStatus: UNKNOWN_PATRON_STATUS, language: req.language, transactionDate: now, holdItemsCount: 0, overdueItemsCount: 0,
    chargedItemsCount: 0, fineItemsCount: 0, recallItemsCount: 0, unavailableHoldsCount: 0, institutionId: req.institutionId ?? '',
    patronIdentifier: req.patronIdentifier ?? '', personalName: '', validPatron: 'N', screenMessage,
  }),
};
