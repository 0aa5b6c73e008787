import type { PatronRow } from '../../patrons/patrons.js';
import { REASONS } from '../../circulation/reasons.js';
import type { Exchange, Handler } from '../exchange.js';
import { amount } from '../fields.js';
import type { ResponseFor } from '../responses.js';
import { TEXTS } from '../texts.js';
import { UNKNOWN_PATRON_STATUS, blockText, patronStatusField } from './patron.js';

interface Asked { language: string; institutionId?: string; patronIdentifier?: string; patronPassword?: string }

/**
 * Patron Status Response (24), also the answer to Block Patron (01). Koha and Evergreen: an unknown
 * patron gets status YYYY and ten blanks, an empty AE, AA echoed, BL N and a screen message; CQ is sent
 * when the request carried a PIN (AD).
 */
export async function patronStatusResponse(x: Exchange, req: Asked, patron: PatronRow | undefined): Promise<ResponseFor<'24'>> {
  const base = { code: '24' as const, language: req.language, transactionDate: x.now, institutionId: req.institutionId ?? x.account.institutionId, patronIdentifier: req.patronIdentifier ?? '' };
  if (!patron) return { ...base, patronStatus: UNKNOWN_PATRON_STATUS, personalName: '', validPatron: 'N', screenMessage: x.say(REASONS.PATRON_NOT_FOUND, req.language) };
  const status = x.circulation.patronStatus({ patronId: patron.id }, x.account.branchId)!;
  const pinOk = req.patronPassword === undefined ? undefined : await x.pinMatches(patron, req.patronPassword);
  return {
    ...base, patronStatus: patronStatusField(status.blocks), personalName: patron.name, validPatron: 'Y',
    validPatronPassword: pinOk === undefined ? undefined : pinOk ? 'Y' : 'N',
    currencyType: x.deps.currency, feeAmount: amount(status.balanceCents),
    screenMessage: pinOk === false ? x.say(TEXTS.WRONG_PIN, req.language) : blockText(x, status, req.language),
  };
}

export const patronStatus: Handler<'23'> = {
  code: '23',
  handle: (req, x) => patronStatusResponse(x, req, x.patron(req.patronIdentifier)),
  refuse: (req, now, screenMessage) => ({
    code: '24', patronStatus: UNKNOWN_PATRON_STATUS, language: req.language, transactionDate: now, institutionId: req.institutionId ?? '',
    patronIdentifier: req.patronIdentifier ?? '', personalName: '', validPatron: 'N', screenMessage,
  }),
};
