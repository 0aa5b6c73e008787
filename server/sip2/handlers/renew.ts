import type { Handler } from '../exchange.js';
import { sipDate } from '../fields.js';
import { TEXTS } from '../texts.js';
import { isMagnetic, mediaType } from './item.js';

/**
 * Renew (29 → 30) of one item, through the circulation core. Koha and Evergreen: a renewal answers
 * `301YNN` (the item stays desensitised); a refused one `300NUN…` with an empty AH and the reason in AF.
 * Renewal by title alone (AJ without AB) is not supported: the kiosk is asked for the item.
 */
export const renew: Handler<'29'> = {
  code: '29',
  async handle(req, x) {
    const patron = x.patron(req.patronIdentifier);
    const wrongPin = await x.wrongPin(patron, req.patronPassword);
    return x.write(() => {
      const item = req.itemIdentifier ? x.circulation.findItem({ barcode: req.itemIdentifier }) : undefined;
      const refused = (m: string) => ({ ...renew.refuse(req, x.now, m), titleIdentifier: item?.title ?? '' });
      if (wrongPin) return refused(x.say(TEXTS.WRONG_PIN));
      if (!req.itemIdentifier) return refused(x.say(TEXTS.ITEM_REQUIRED));
      const patronRef = patron ? { patronId: patron.id } : { cardNumber: req.patronIdentifier ?? '' };
      const at = req.noBlock ? x.backlogDate(req.transactionDate) : undefined;
      const r = x.circulation.renew(patronRef, item ? { itemId: item.id } : { barcode: req.itemIdentifier }, x.op(req.transactionDate, at));
      if (!r.ok) return refused(x.refusalText(r));
      return {
        code: '30', ok: true, renewalOk: true, magneticMedia: isMagnetic(x.account, item!), desensitize: false, transactionDate: x.now,
        institutionId: req.institutionId ?? x.account.institutionId, patronIdentifier: req.patronIdentifier ?? '', itemIdentifier: req.itemIdentifier,
        titleIdentifier: r.item.title, dueDate: sipDate(new Date(r.dueAt), x.deps.timeZone), mediaType: mediaType(x.account, item!),
        screenMessage: x.say(TEXTS.RENEWED),
      };
    });
  },
  refuse: (req, now, screenMessage) => ({
    code: '30', ok: false, renewalOk: false, magneticMedia: null, desensitize: false, transactionDate: now,
    institutionId: req.institutionId ?? '', patronIdentifier: req.patronIdentifier ?? '', itemIdentifier: req.itemIdentifier ?? '',
    titleIdentifier: '', dueDate: '', screenMessage,
  }),
};
