import { REASONS } from '../../circulation/reasons.js';
import type { HoldView, Result } from '../../circulation/circulation.js';
import type { Exchange, Handler } from '../exchange.js';
import { parseSipDate, sipDate } from '../fields.js';
import type { RequestFor } from '../requests.js';
import type { ResponseFor } from '../responses.js';
import { TEXTS } from '../texts.js';

/**
 * Hold (15 → 16), through the circulation core. Holds are title-level: the item (AB) names its title.
 * Mode `+` places a hold (pickup BS, else the login's branch; expiry BW), `-` cancels the patron's
 * hold on the title, `*` changes its pickup branch or expiry. Hold type (BY) is not needed: every hold
 * is for any copy of the title.
 */
export const hold: Handler<'15'> = {
  code: '15',
  async handle(req, x) {
    const patron = x.patron(req.patronIdentifier);
    const wrongPin = await x.wrongPin(patron, req.patronPassword);
    return x.write(() => {
      const item = req.itemIdentifier ? x.circulation.findItem({ barcode: req.itemIdentifier }) : undefined;
      const refused = (m: string) => ({ ...hold.refuse(req, x.now, m), titleIdentifier: item?.title });
      if (!['+', '-', '*'].includes(req.holdMode)) return refused(x.say(TEXTS.HOLD_MODE_INVALID));
      if (wrongPin) return refused(x.say(TEXTS.WRONG_PIN));
      if (!req.itemIdentifier) return refused(x.say(TEXTS.ITEM_REQUIRED));
      if (!item) return refused(x.say(REASONS.ITEM_NOT_FOUND));
      const patronRef = patron ? { patronId: patron.id } : { cardNumber: req.patronIdentifier ?? '' };
      const expires = req.expirationDate ? parseSipDate(req.expirationDate, x.deps.timeZone)?.toISOString() : undefined;
      const ctx = x.op(req.transactionDate);
      let r: Result<{ hold: HoldView }>;
      if (req.holdMode === '+') {
        r = x.circulation.placeHold(patronRef, item.record_id, req.pickupLocation || x.account.branchId, ctx, expires);
      } else {
        if (!patron) return refused(x.say(REASONS.PATRON_NOT_FOUND));
        const current = x.circulation.patronAccount(patron.id).holds.find((h) => h.recordId === item.record_id);
        if (!current) return refused(x.say(TEXTS.NO_HOLD_ON_TITLE));
        r = req.holdMode === '-'
          ? x.circulation.cancelHold(current.id, ctx, patronRef)
          : x.circulation.changeHold(current.id, { pickupBranch: req.pickupLocation || undefined, expiresAt: expires }, ctx, patronRef);
      }
      if (!r.ok) return refused(x.refusalText(r));
      return placed(req, x, r.hold, item.title);
    });
  },
  refuse: (req, now, screenMessage) => ({
    code: '16', ok: false, available: false, transactionDate: now, institutionId: req.institutionId ?? '',
    patronIdentifier: req.patronIdentifier ?? '', itemIdentifier: req.itemIdentifier, screenMessage,
  }),
};

function placed(req: RequestFor<'15'>, x: Exchange, h: HoldView, title: string): ResponseFor<'16'> {
  const tz = x.deps.timeZone;
  const words = req.holdMode === '+' ? TEXTS.HOLD_PLACED : req.holdMode === '-' ? TEXTS.HOLD_CANCELLED : TEXTS.HOLD_CHANGED;
  return {
    code: '16', ok: true, available: h.status === 'ready', transactionDate: x.now,
    expirationDate: h.expiresAt ? sipDate(new Date(h.expiresAt), tz) : undefined,
    queuePosition: h.queuePosition !== null ? String(h.queuePosition) : undefined, pickupLocation: h.pickupBranch,
    institutionId: req.institutionId ?? x.account.institutionId, patronIdentifier: req.patronIdentifier ?? '',
    itemIdentifier: req.itemIdentifier, titleIdentifier: title, screenMessage: x.say(words),
  };
}
