import type { TagReport } from '../../contract/mqtt.js';
import { USAGE_PATRON_CARD } from '../../contract/rfid/tag-data.js';
import type { Circulation, PatronRef } from '../circulation/circulation.js';


export type TagIdentity =
  | { kind: 'item'; itemId: number; barcode: string; title: string; status: string; homeBranch: string; location: string | null; partsInSet: number; partNumber: number }
  | { kind: 'card'; patron: PatronRef; presented: string }
  | { kind: 'unknown'; barcode: string | null };

/**
 * What a tag is to this library. A tag bound by UID wins (items.tag_uid, patron.card_tag_uid); else
 * the tag's own data: a patron card's number, or an item's primary item id (= barcode). Tags of
 * other libraries, blank tags and unreadable ones are unknown.
 */
export function identifyTag(circulation: Circulation, tag: TagReport): TagIdentity {
  const data = tag.data && tag.data.crcOk !== false ? tag.data : null;
  const parts = { partsInSet: data?.partsInSet ?? 1, partNumber: data?.partNumber ?? 1 };
  if (data?.typeOfUsage === USAGE_PATRON_CARD && data.primaryItemId) {
    return { kind: 'card', patron: { cardNumber: data.primaryItemId }, presented: data.primaryItemId };
  }
  const byUid = circulation.findItem({ tagUid: tag.uid });
  const item = byUid ?? (data?.primaryItemId && data.typeOfUsage !== USAGE_PATRON_CARD ? circulation.findItem({ barcode: data.primaryItemId }) : undefined);
  if (item) {
    return { kind: 'item', itemId: item.id, barcode: item.barcode, title: item.title, status: item.status, homeBranch: item.home_branch, location: item.location, ...parts };
  }
  if (circulation.findPatron({ cardTagUid: tag.uid })) return { kind: 'card', patron: { cardTagUid: tag.uid }, presented: tag.uid };
  return { kind: 'unknown', barcode: data?.primaryItemId ?? null };
}
