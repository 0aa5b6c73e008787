import type { Disposition } from '../../circulation/circulation.js';
import type { ItemRow } from '../../catalogue/items.js';
import type { ResolvedAccount } from '../account.js';

/** SIP2 2.00 media type (CK): 000 other, 001 book, 002 magazine, 003 bound journal, 004 audio tape, 005 video tape, 006 CD/CD-ROM, … */
export const mediaType = (account: ResolvedAccount, item: Pick<ItemRow, 'item_type'>) => account.mediaTypes[item.item_type] ?? '001';

export const isMagnetic = (account: ResolvedAccount, item: Pick<ItemRow, 'item_type'>) => account.magneticItemTypes.includes(item.item_type);

/** Koha's inhouse_item_types / inhouse_patron_categories: lent for use in the library, so never desensitised. */
export const inLibraryUse = (account: ResolvedAccount, itemType: string, patronCategory: string | undefined) =>
  account.inLibraryUse.itemTypes.includes(itemType) || (patronCategory !== undefined && account.inLibraryUse.patronCategories.includes(patronCategory));

/** The sort bin (CL) for a checked-in item: the first configured rule whose conditions all hold. */
export function sortBin(account: ResolvedAccount, item: Pick<ItemRow, 'item_type' | 'location'>, d: Disposition): string | undefined {
  const destination = d.action === 'transit' ? d.to : undefined;
  return account.sortBins.find((r) => (r.action === undefined || r.action === d.action)
    && (r.itemType === undefined || r.itemType === item.item_type)
    && (r.location === undefined || r.location === item.location)
    && (r.destination === undefined || r.destination === destination))?.bin;
}

/**
 * SIP2 2.00 circulation status: 01 other, 02 on order, 03 available, 04 charged, 05 charged; not to be
 * recalled until earliest recall date, 06 in process, 07 recalled, 08 waiting on hold shelf, 09 waiting
 * to be re-shelved, 10 in transit between library locations, 11 claimed returned, 12 lost, 13 missing.
 */
export const CIRCULATION_STATUS: Record<ItemRow['status'], string> = {
  available: '03', on_loan: '04', in_processing: '06', on_hold_shelf: '08', in_transit: '10', lost: '12', missing: '13', withdrawn: '01',
};
