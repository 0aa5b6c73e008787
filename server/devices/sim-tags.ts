import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../store/db.js';
import { rfidSecurityValues } from '../rfid/directory.js';

/** Blank tags on the demo's intake station roll, as they come from the supplier. */
const BLANK_TAGS = 20;

/**
 * The demo library's tags for the simulator: every item and patron card with a tag UID, in the
 * security state its circulation status implies (AFI on-loan and EAS off for borrowed items), plus
 * a roll of blank tags for the intake station. Written on each start, as loans change.
 */
export function writeSimulatedTags(db: Db, dataDir: string): string {
  const { afiInStock, afiOnLoan } = rfidSecurityValues(db);
  const items = db.prepare("SELECT tag_uid AS uid, barcode, owner_isil AS isil, status FROM item WHERE tag_uid IS NOT NULL").all() as { uid: string; barcode: string; isil: string | null; status: string }[];
  const cards = db.prepare('SELECT card_tag_uid AS uid, card_number AS card FROM patron WHERE card_tag_uid IS NOT NULL').all() as { uid: string; card: string }[];
  const tags = [
    ...items.map((i) => ({ uid: i.uid, item: i.barcode, isil: i.isil ?? '', country: i.isil?.slice(0, 2) ?? 'CN', afi: i.status === 'on_loan' ? afiOnLoan : afiInStock, eas: i.status !== 'on_loan' })),
    ...cards.map((c) => ({ uid: c.uid, card: c.card })),
    ...Array.from({ length: BLANK_TAGS }, (_, n) => ({ uid: `E00401700000${String(n + 1).padStart(4, '0')}`, blank: true })),
  ];
  const file = join(dataDir, 'sim-tags.json');
  writeFileSync(file, JSON.stringify(tags));
  return file;
}
