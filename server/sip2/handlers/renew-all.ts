import type { Handler } from '../exchange.js';
import { TEXTS } from '../texts.js';

/** Renew All (65 → 66): every loan of the patron, through the circulation core; BM renewed, BN not renewed. */
export const renewAll: Handler<'65'> = {
  code: '65',
  async handle(req, x) {
    const patron = x.patron(req.patronIdentifier);
    if (await x.wrongPin(patron, req.patronPassword)) return renewAll.refuse(req, x.now, x.say(TEXTS.WRONG_PIN));
    const patronRef = patron ? { patronId: patron.id } : { cardNumber: req.patronIdentifier ?? '' };
    const r = await x.write(() => x.circulation.renewAll(patronRef, x.op(req.transactionDate)));
    if (!r.ok) return renewAll.refuse(req, x.now, x.refusalText(r));
    const reasons = [...new Set(r.refused.map((f) => x.say(f.message)))];
    return {
      code: '66', ok: true, renewedCount: r.renewed.length, unrenewedCount: r.refused.length, transactionDate: x.now,
      institutionId: req.institutionId ?? x.account.institutionId,
      renewedItems: r.renewed.map((d) => d.item.barcode), unrenewedItems: r.refused.map((f) => f.barcode),
      screenMessage: reasons.length ? reasons.join(' ') : r.renewed.length ? x.say(TEXTS.RENEWED) : undefined,
    };
  },
  refuse: (req, now, screenMessage) => ({
    code: '66', ok: false, renewedCount: 0, unrenewedCount: 0, transactionDate: now, institutionId: req.institutionId ?? '', screenMessage,
  }),
};
