import type { CheckinData, HoldView } from '../../circulation/circulation.js';
import type { ItemRow } from '../../catalogue/items.js';
import type { Exchange, Handler } from '../exchange.js';
import { amount } from '../fields.js';
import type { RequestFor } from '../requests.js';
import type { ResponseFor } from '../responses.js';
import { TEXTS } from '../texts.js';
import { isMagnetic, mediaType, sortBin } from './item.js';

/** 3M SIP2 extension CV (alert type): 01 hold for this library, 02 hold for another library, 04 send to another library, 99 other. */
type AlertType = '01' | '02' | '04' | '99';

/**
 * Checkin (09 → 10), through the circulation core, decided for the login's branch. The alert, CV, CT,
 * CY and DA tell a sorter or a kiosk where the item goes; CL is the account's sort bin. Koha: an item
 * not on loan answers ok 0 unless the account has checked_in_ok; with holds_block_checkin an item a
 * hold waits for is refused so it comes to the desk, and nothing changes. A past return date (offline
 * backlog) is applied as of that date (see returnDate).
 */
export const checkin: Handler<'09'> = {
  code: '09',
  handle: (req, x) => x.write(() => giveBack(req, x)),
  refuse: (req, now, screenMessage) => ({
    code: '10', ok: false, resensitize: false, magneticMedia: null, alert: false, transactionDate: now,
    institutionId: req.institutionId ?? '', itemIdentifier: req.itemIdentifier ?? '', permanentLocation: '', screenMessage,
  }),
};

/** The return itself, in the group commit. */
function giveBack(req: RequestFor<'09'>, x: Exchange): ResponseFor<'10'> {
  const barcode = req.itemIdentifier ?? '';
  // The item is looked up before the checkin only when the request needs it first.
  const item = barcode && (req.cancel === 'Y' || x.account.holdsBlockCheckin || returnDate(req, x)) ? x.circulation.findItem({ barcode }) : undefined;
  if (item && req.cancel === 'Y') return { ...checkin.refuse(req, x.now, x.say(TEXTS.CHECKIN_CANCEL_UNSUPPORTED)), titleIdentifier: item.title };
  let returnedAt = returnDate(req, x);
  if (item && (x.account.holdsBlockCheckin || returnedAt)) {
    const itemFields = itemFieldsOf(x, item);
    const circ = x.circulation.itemCirculation(item.id);
    if (x.account.holdsBlockCheckin && circ.nextHold) {
      return {
        ...checkin.refuse(req, x.now, x.say(TEXTS.RETURN_AT_DESK)), ...itemFields, alert: true,
        ...holdAlert(x, circ.nextHold, circ.nextHold.pickupBranch === x.account.branchId ? '01' : '02'),
      };
    }
    // A backdated return never closes a loan before it began.
    if (returnedAt && circ.loan && returnedAt.toISOString() < circ.loan.checkedOutAt) returnedAt = new Date(circ.loan.checkedOutAt);
  }
  const r = x.circulation.checkin(item ? { itemId: item.id } : { barcode }, x.op(req.transactionDate, returnedAt));
  if (!r.ok) return { ...checkin.refuse(req, x.now, x.refusalText(r)), alert: true, alertType: '99' };
  const returned = { item_type: r.item.itemType, title: r.item.title, home_branch: r.item.homeBranch, location: r.item.location, call_number: r.item.callNumber };
  const itemFields = itemFieldsOf(x, returned);
  const borrower = r.loan?.patronId != null ? x.circulation.cardNumberOf(r.loan.patronId) : undefined;
  const alert = alertFor(x, r);
  const messages = [
    !r.wasOnLoan && !x.account.checkedInOk ? x.say(TEXTS.ITEM_NOT_CHECKED_OUT) : undefined,
    r.foundLost ? x.say(TEXTS.ITEM_FOUND) : undefined,
    r.fineCents > 0 ? `${x.say(TEXTS.FINE_CHARGED)} ${amount(r.fineCents)} ${x.deps.currency}` : undefined,
  ].filter((m) => m !== undefined);
  return {
    code: '10', ok: r.wasOnLoan || x.account.checkedInOk, resensitize: !itemFields.magneticMedia,
    alert: alert !== undefined, transactionDate: x.now, institutionId: req.institutionId ?? x.account.institutionId, itemIdentifier: barcode,
    ...itemFields, sortBin: sortBin(x.account, returned, r.disposition), patronIdentifier: borrower, ...alert,
    screenMessage: messages.length ? messages.join(' ') : undefined,
  };
}

/** What a checkin answer says of the item. */
function itemFieldsOf(x: Exchange, item: Pick<ItemRow, 'item_type' | 'home_branch' | 'location' | 'call_number'> & { title: string }) {
  return {
    magneticMedia: isMagnetic(x.account, item), titleIdentifier: item.title, permanentLocation: item.home_branch,
    mediaType: mediaType(x.account, item), collectionCode: item.location ?? undefined, callNumber: item.call_number ?? undefined,
  };
}

/**
 * When a return happened, if not now. Offline (no-block) returns carry their own date. An online
 * checkin whose return date is earlier than its transaction date (a book drop emptied later) happened
 * that long before now: the difference between two dates of the terminal's own clock does not suffer
 * from a terminal clock that is off or set to another time zone.
 */
function returnDate(req: RequestFor<'09'>, x: Exchange): Date | undefined {
  if (req.noBlock) return x.backlogDate(req.returnDate);
  if (!req.returnDate || !req.transactionDate || req.returnDate >= req.transactionDate) return undefined;
  return x.backlogDate(new Date(x.now.getTime() - (req.transactionDate.getTime() - req.returnDate.getTime())));
}

function holdAlert(x: Exchange, hold: HoldView, alertType: AlertType) {
  const patron = x.circulation.findPatron({ patronId: hold.patronId });
  return { alertType, destinationLocation: hold.pickupBranch, holdPatronId: patron?.card_number, holdPatronName: patron?.name };
}

function alertFor(x: Exchange, r: CheckinData) {
  const d = r.disposition;
  if (d.action === 'hold_shelf') return holdAlert(x, x.circulation.holdView(d.holdId), '01');
  if (d.action === 'transit' && d.holdId !== undefined) return holdAlert(x, x.circulation.holdView(d.holdId), '02');
  if (d.action === 'transit') return { alertType: '04' as const, destinationLocation: d.to };
  if (r.foundLost) return { alertType: '99' as const };
  return undefined;
}

