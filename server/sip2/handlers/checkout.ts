import { REASONS } from '../../circulation/reasons.js';
import type { PatronRow } from '../../patrons/patrons.js';
import type { Exchange, Handler } from '../exchange.js';
import { sipDate } from '../fields.js';
import type { RequestFor } from '../requests.js';
import type { ResponseFor } from '../responses.js';
import { TEXTS } from '../texts.js';
import { inLibraryUse, isMagnetic, mediaType } from './item.js';

/**
 * Checkout (11 → 12), through the circulation core. Koha and Evergreen: a refused checkout is
 * `120NUN…` with an empty AH, the item's title when the item is known, BL for the patron, and the reason
 * in AF. No-block checkouts (offline backlog) with a past transaction date happen as of that date. A
 * cancel (BI Y) undoes a checkout the ACS already made to this patron.
 */
export const checkout: Handler<'11'> = {
  code: '11',
  async handle(req, x) {
    const patron = x.patron(req.patronIdentifier);
    const wrongPin = await x.wrongPin(patron, req.patronPassword);
    return x.write(() => lend(req, x, patron, wrongPin));
  },
  refuse: (req, now, screenMessage) => ({
    code: '12', ok: false, renewalOk: false, magneticMedia: null, desensitize: false, transactionDate: now,
    institutionId: req.institutionId ?? '', patronIdentifier: req.patronIdentifier ?? '', itemIdentifier: req.itemIdentifier ?? '',
    titleIdentifier: '', dueDate: '', screenMessage,
  }),
};

/** The checkout itself, in the group commit. */
function lend(req: RequestFor<'11'>, x: Exchange, patron: PatronRow | undefined, wrongPin: boolean): ResponseFor<'12'> {
  const barcode = req.itemIdentifier ?? '';
  // The item is looked up here only when an answer needs more than the checkout returns.
  let looked = false;
  let found: ReturnType<Exchange['circulation']['findItem']>;
  const knownItem = () => {
    if (!looked) { looked = true; found = barcode ? x.circulation.findItem({ barcode }) : undefined; }
    return found;
  };
  const refused = (screenMessage: string): ResponseFor<'12'> =>
    ({ ...checkout.refuse(req, x.now, screenMessage), titleIdentifier: knownItem()?.title ?? '', validPatron: patron ? 'Y' : 'N' });

  if (wrongPin) return refused(x.say(TEXTS.WRONG_PIN));
  const lentToPatron = () => {
    const item = knownItem();
    return patron !== undefined && item !== undefined && x.circulation.itemCirculation(item.id).loan?.patronId === patron.id;
  };
  if (req.cancel === 'Y') {
    const item = knownItem();
    if (!item || !lentToPatron()) return refused(x.say(TEXTS.NOTHING_TO_CANCEL));
    const back = x.circulation.checkin({ itemId: item.id }, x.op(req.transactionDate));
    if (!back.ok) return refused(x.refusalText(back));
    return { ...refused(x.say(TEXTS.CHECKOUT_CANCELLED)), ok: true, magneticMedia: isMagnetic(x.account, item), mediaType: mediaType(x.account, item), validPatron: 'Y' };
  }
  // SC renewal policy N: the SC may not renew, so what the patron already has is not lent again as a renewal.
  if (!req.scRenewalPolicy && lentToPatron()) return refused(x.say(TEXTS.ALREADY_YOURS));
  const patronRef = patron ? { patronId: patron.id } : { cardNumber: req.patronIdentifier ?? '' };
  const at = req.noBlock ? x.backlogDate(req.transactionDate) : undefined;
  const r = x.circulation.checkout(patronRef, { barcode }, x.op(req.transactionDate, at));
  if (!r.ok) return refused(x.refusalText(r));
  const itemType = r.item.itemType;
  const inHouse = inLibraryUse(x.account, itemType, patron?.category);
  return {
    code: '12', ok: true, renewalOk: r.renewal, magneticMedia: isMagnetic(x.account, { item_type: itemType }), desensitize: !inHouse,
    transactionDate: x.now, institutionId: req.institutionId ?? x.account.institutionId, patronIdentifier: req.patronIdentifier ?? '',
    itemIdentifier: barcode, titleIdentifier: r.item.title, dueDate: sipDate(new Date(r.dueAt), x.deps.timeZone),
    mediaType: mediaType(x.account, { item_type: itemType }), validPatron: 'Y',
    screenMessage: inHouse ? x.say(REASONS.IN_LIBRARY_USE_ONLY) : r.renewal ? x.say(TEXTS.RENEWED) : undefined,
  };
}
