import type { PatronBlock, PatronStatus } from '../../circulation/circulation.js';
import { REASONS } from '../../circulation/reasons.js';
import type { Exchange } from '../exchange.js';

/** Koha and Evergreen: an unknown patron is denied charge, renewal, recall and hold privileges. */
export const UNKNOWN_PATRON_STATUS = 'YYYY' + ' '.repeat(10);

/**
 * SIP2 2.00 patron status, 14 positions, 'Y' = denied / true, built from the circulation core's blocks:
 * 0 charge privileges denied, 1 renewal, 2 recall, 3 hold privileges denied, 4 card reported lost,
 * 5 too many items charged, 6 too many items overdue, 7 too many renewals, 8 too many claims of items
 * returned, 9 too many items lost, 10 excessive outstanding fines, 11 excessive outstanding fees,
 * 12 recall overdue, 13 too many items billed.
 */
export function patronStatusField(blocks: readonly PatronBlock[]): string {
  const has = (b: PatronBlock) => blocks.includes(b);
  // Renewals and holds are refused for every block but the loan limit, exactly as the core decides.
  const otherThanLimit = blocks.some((b) => b !== 'MAX_LOANS_REACHED');
  const flags = [
    blocks.length > 0, otherThanLimit, otherThanLimit, otherThanLimit, has('CARD_LOST'), has('MAX_LOANS_REACHED'),
    has('TOO_MANY_OVERDUE'), false, false, false, has('FINES_OVER_LIMIT'), has('FINES_OVER_LIMIT'), false, false,
  ];
  return flags.map((f) => (f ? 'Y' : ' ')).join('');
}

/** The words for a patron's blocks, for the screen message. */
export function blockText(x: Exchange, status: PatronStatus, language?: string): string | undefined {
  if (status.blocks.length === 0) return undefined;
  return status.blocks.map((b) => x.say(REASONS[b], language)).join(' ');
}
