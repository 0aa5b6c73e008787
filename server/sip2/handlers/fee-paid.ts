import { REASONS } from '../../circulation/reasons.js';
import type { Handler } from '../exchange.js';
import { amount, parseAmount } from '../fields.js';
import { TEXTS } from '../texts.js';

/**
 * Fee Paid (37 → 38), through the circulation core, which pays open fees oldest first. A payment in
 * another currency than the library's is refused. The payment's transaction id (BK), when sent, makes
 * a retried payment count once. Fee type, payment type and fee identifier (CG) are not recorded.
 */
export const feePaid: Handler<'37'> = {
  code: '37',
  async handle(req, x) {
    const patron = x.patron(req.patronIdentifier);
    const refused = (m: string) => feePaid.refuse(req, x.now, m);
    if (await x.wrongPin(patron, req.patronPassword)) return refused(x.say(TEXTS.WRONG_PIN));
    const currency = req.currencyType.trim();
    if (currency !== '' && currency.toUpperCase() !== x.deps.currency.toUpperCase()) return refused(x.say(TEXTS.CURRENCY_MISMATCH));
    const cents = parseAmount(req.feeAmount ?? '');
    if (cents === null || cents === 0) return refused(x.say(REASONS.PAYMENT_INVALID));
    const ctx = x.op(req.transactionDate);
    if (req.transactionId) ctx.txnId = `${x.account.actor}:fee:${req.transactionId}`;
    const patronRef = patron ? { patronId: patron.id } : { cardNumber: req.patronIdentifier ?? '' };
    const r = await x.write(() => x.circulation.payFee(patronRef, cents, ctx));
    if (!r.ok) return refused(x.refusalText(r));
    return {
      code: '38', paymentAccepted: true, transactionDate: x.now, institutionId: req.institutionId ?? x.account.institutionId,
      patronIdentifier: req.patronIdentifier ?? '', transactionId: req.transactionId,
      screenMessage: `${x.say(TEXTS.PAYMENT_ACCEPTED)} ${x.say(TEXTS.STILL_OWED)} ${amount(r.balanceCents)} ${x.deps.currency}`,
    };
  },
  refuse: (req, now, screenMessage) => ({
    code: '38', paymentAccepted: false, transactionDate: now, institutionId: req.institutionId ?? '',
    patronIdentifier: req.patronIdentifier ?? '', transactionId: req.transactionId, screenMessage,
  }),
};
