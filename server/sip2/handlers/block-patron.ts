import type { Handler } from '../exchange.js';
import { patronStatusResponse, patronStatus } from './patron-status.js';
import { blockPatron as block } from './patron-block.js';

/**
 * Block Patron (01), answered with a Patron Status Response (24) in language 000, as the spec asks. The
 * SC blocks a card it found misused (and may have kept, card retained Y); the block shows to staff with
 * the SC's message (AL).
 */
export const blockPatron: Handler<'01'> = {
  code: '01',
  async handle(req, x) {
    const patron = x.patron(req.patronIdentifier);
    const fresh = await x.write(() => {
      if (patron) block(x.deps.db, patron, x.account.actor, req.blockedCardMessage ?? '', req.cardRetained, x.now);
      return patron && x.circulation.findPatron({ patronId: patron.id });
    });
    return patronStatusResponse(x, { ...req, language: '000' }, fresh);
  },
  refuse: (req, now, screenMessage) => patronStatus.refuse({ ...req, code: '23', language: '000', transactionDate: now }, now, screenMessage),
};
