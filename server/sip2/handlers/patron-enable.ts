import { REASONS } from '../../circulation/reasons.js';
import type { Handler } from '../exchange.js';
import { TEXTS } from '../texts.js';
import { UNKNOWN_PATRON_STATUS, patronStatusField } from './patron.js';
import { enablePatron } from './patron-block.js';

/**
 * Patron Enable (25 → 26): lifts a block a self-check placed with Block Patron (01); blocks set by staff
 * and blocks the circulation rules impose (expired card, fines, overdues) stay and show in the status.
 * A wrong PIN (AD) changes nothing.
 */
export const patronEnable: Handler<'25'> = {
  code: '25',
  async handle(req, x) {
    const patron = x.patron(req.patronIdentifier);
    if (!patron) return patronEnable.refuse(req, x.now, x.say(REASONS.PATRON_NOT_FOUND));
    const pinOk = req.patronPassword === undefined ? undefined : await x.pinMatches(patron, req.patronPassword);
    const freed = pinOk !== false && await x.write(() => enablePatron(x.deps.db, patron, x.account.actor, x.now));
    const status = x.circulation.patronStatus({ patronId: patron.id }, x.account.branchId)!;
    const words = pinOk === false ? TEXTS.WRONG_PIN : !freed ? TEXTS.STAFF_BLOCK_REMAINS : status.blocks.length === 0 ? TEXTS.ENABLED : undefined;
    return {
      code: '26', patronStatus: patronStatusField(status.blocks), language: '000', transactionDate: x.now,
      institutionId: req.institutionId ?? x.account.institutionId, patronIdentifier: req.patronIdentifier ?? '', personalName: patron.name,
      validPatron: 'Y', validPatronPassword: pinOk === undefined ? undefined : pinOk ? 'Y' : 'N',
      screenMessage: words ? x.say(words) : status.blocks.map((b) => x.say(REASONS[b])).join(' '),
    };
  },
  refuse: (req, now, screenMessage) => ({
    code: '26', patronStatus: UNKNOWN_PATRON_STATUS, language: '000', transactionDate: now, institutionId: req.institutionId ?? '',
    patronIdentifier: req.patronIdentifier ?? '', personalName: '', validPatron: 'N', screenMessage,
  }),
};
