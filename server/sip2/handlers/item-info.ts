import { REASONS } from '../../circulation/reasons.js';
import type { Handler } from '../exchange.js';
import { sipDate } from '../fields.js';
import { CIRCULATION_STATUS, mediaType } from './item.js';

/**
 * Item Information (17 → 18): circulation status 01–13, CF hold queue length, AH when on loan, CM the
 * pickup deadline of a hold waiting on the shelf for this copy. Koha and Evergreen: an unknown item is
 * status 01 with an empty title. Security marker 02 (tattle-tape), as Koha and Evergreen report it.
 */
export const itemInfo: Handler<'17'> = {
  code: '17',
  handle(req, x) {
    const item = req.itemIdentifier ? x.circulation.findItem({ barcode: req.itemIdentifier }) : undefined;
    if (!item) return itemInfo.refuse(req, x.now, x.say(REASONS.ITEM_NOT_FOUND));
    const circ = x.circulation.itemCirculation(item.id);
    const tz = x.deps.timeZone;
    const waitingHere = circ.nextHold?.itemId === item.id && circ.nextHold.status === 'ready' ? circ.nextHold : null;
    return {
      code: '18', circulationStatus: CIRCULATION_STATUS[item.status], securityMarker: '02', feeType: '01', transactionDate: x.now,
      holdQueueLength: String(circ.holdQueueLength),
      dueDate: circ.loan ? sipDate(new Date(circ.loan.dueAt), tz) : undefined,
      holdPickupDate: waitingHere?.pickupDeadline ? sipDate(new Date(waitingHere.pickupDeadline), tz) : undefined,
      itemIdentifier: item.barcode, titleIdentifier: item.title, owner: item.owner_isil ?? x.account.institutionId,
      mediaType: mediaType(x.account, item), permanentLocation: item.home_branch, currentLocation: item.current_branch ?? undefined,
      destinationLocation: item.transit_to ?? undefined, collectionCode: item.location ?? undefined, callNumber: item.call_number ?? undefined,
    };
  },
  refuse: (req, now, screenMessage) => ({
    code: '18', circulationStatus: '01', securityMarker: '00', feeType: '01', transactionDate: now,
    itemIdentifier: req.itemIdentifier ?? '', titleIdentifier: '', screenMessage,
  }),
};
