import { REASONS } from '../../circulation/reasons.js';
import type { Handler } from '../exchange.js';
import { TEXTS } from '../texts.js';

/**
 * Item Status Update (19 → 20). The item properties (CH) would need a place in the catalogue to be
 * kept, and there is none, so the answer is always "not stored" (0), and BX says N for this message.
 */
export const itemStatusUpdate: Handler<'19'> = {
  code: '19',
  handle(req, x) {
    const item = req.itemIdentifier ? x.circulation.findItem({ barcode: req.itemIdentifier }) : undefined;
    const words = item ? TEXTS.ITEM_PROPERTIES_NOT_STORED : REASONS.ITEM_NOT_FOUND;
    return { ...itemStatusUpdate.refuse(req, x.now, x.say(words)), titleIdentifier: item?.title ?? '' };
  },
  refuse: (req, now, screenMessage) => ({
    code: '20', itemPropertiesOk: false, transactionDate: now, itemIdentifier: req.itemIdentifier ?? '', titleIdentifier: '',
    itemProperties: req.itemProperties, screenMessage,
  }),
};
