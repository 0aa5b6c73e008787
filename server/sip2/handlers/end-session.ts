import type { Handler } from '../exchange.js';
import { TEXTS } from '../texts.js';

/** End Patron Session (35 → 36): the kiosk is done with this patron; a PIN verified here is forgotten. */
export const endSession: Handler<'35'> = {
  code: '35',
  handle(req, x) {
    x.session.verifiedPin = null;
    return {
      code: '36', endSession: true, transactionDate: x.now, institutionId: req.institutionId ?? x.account.institutionId,
      patronIdentifier: req.patronIdentifier ?? '', screenMessage: x.say(TEXTS.THANK_YOU),
    };
  },
  refuse: (req, now, screenMessage) => ({
    code: '36', endSession: false, transactionDate: now, institutionId: req.institutionId ?? '', patronIdentifier: req.patronIdentifier ?? '', screenMessage,
  }),
};
