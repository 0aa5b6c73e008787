import type { ProgramTagParams, TagReport } from '../../contract/mqtt.js';
import { USAGE_CIRCULATING_ITEM } from '../../contract/rfid/tag-data.js';
import type { Circulation } from '../circulation/circulation.js';
import type { Clock } from '../clock.js';
import type { Db } from '../store/db.js';
import type { ReaderDirectory } from './directory.js';
import { RfidError } from './errors.js';
import type { GatewayCommands } from './security.js';



export interface ProgrammedTag { readerId: string; uid: string; itemId: number; barcode: string; isil: string; country: string; tag: TagReport }

/**
 * Tag programming at an intake station: the one tag on the pad gets the item's ISO 28560-3 data
 * (barcode as primary item id, the owner library's ISIL and country), AFI in stock and EAS on; the
 * gateway reads it back and compares; only then is the tag's UID bound to the item.
 */
export class IntakeStations {
  constructor(private readonly deps: { db: Db; circulation: Circulation; clock: Clock; readers: ReaderDirectory; link: GatewayCommands }) {}

  async program(readerId: string, barcode: string, opts: { overwrite?: boolean; partsInSet?: number; partNumber?: number } = {}): Promise<ProgrammedTag> {
    const { db, circulation, readers, link } = this.deps;
    const reader = readers.get(readerId);
    if (!reader) throw new RfidError('READER_NOT_FOUND', `no reader ${readerId}`, 404);
    if (reader.role !== 'intake_station') throw new RfidError('NOT_AN_INTAKE_STATION', `reader ${readerId} is a ${reader.role}, not an intake station`, 409);
    const item = circulation.findItem({ barcode });
    if (!item) throw new RfidError('ITEM_NOT_FOUND', `no item with barcode ${barcode}`, 404);
    const tags = readers.inField(readerId);
    if (tags.length === 0) throw new RfidError('NO_TAG_ON_READER', `put one tag on ${readerId}`, 409);
    if (tags.length > 1) throw new RfidError('SEVERAL_TAGS_ON_READER', `${tags.length} tags are on ${readerId}; leave exactly one`, 409);
    const tag = tags[0]!;
    const bound = circulation.findItem({ tagUid: tag.uid });
    if (bound && bound.id !== item.id) throw new RfidError('TAG_BOUND_TO_OTHER_ITEM', `tag ${tag.uid} belongs to item ${bound.barcode}`, 409);
    const format = tag.data?.format ?? 'unknown';
    const sameItem = tag.data?.primaryItemId === barcode;
    if (format !== 'blank' && !sameItem && !opts.overwrite) {
      throw new RfidError('TAG_NOT_BLANK', `tag ${tag.uid} already holds data (${format}${tag.data?.primaryItemId ? ` ${tag.data.primaryItemId}` : ''}); pass overwrite to replace it`, 409);
    }
    const branch = db.prepare('SELECT isil FROM branch WHERE id = ?').get(item.home_branch) as { isil: string | null } | undefined;
    const isil = item.owner_isil ?? branch?.isil ?? '';
    // ISO 15511: an ISIL starts with its country prefix (CN-…); the tag's country field is that prefix.
    const country = /^[A-Z]{2}-/.test(isil) ? isil.slice(0, 2) : 'CN';
    const partsInSet = opts.partsInSet ?? 1;
    const partNumber = opts.partNumber ?? 1;
    const params: ProgramTagParams = {
      readerId, uid: tag.uid, afi: readers.security().afiInStock,
      data: { typeOfUsage: USAGE_CIRCULATING_ITEM, primaryItemId: barcode, partsInSet, partNumber, country, isil },
    };
    const res = await link.command<TagReport>(reader.gatewayId, 'rfid.programTag', params as unknown as Record<string, unknown>, 10_000);
    if (res.status !== 'ok') throw new RfidError(`PROGRAMMING_FAILED`, `${res.error.code}: ${res.error.message}`, 502);
    const back = res.data.data;
    if (!back || back.primaryItemId !== barcode || back.crcOk === false) {
      throw new RfidError('PROGRAMMING_FAILED', `the tag read back ${back?.primaryItemId ?? 'nothing'} instead of ${barcode}`, 502);
    }
    const eas = await link.command(reader.gatewayId, 'rfid.writeSecurity', { readerId, uid: tag.uid, afi: params.afi, eas: true }, 5000);
    if (eas.status !== 'ok') throw new RfidError('PROGRAMMING_FAILED', `security: ${eas.error.code}: ${eas.error.message}`, 502);
    // Only a verified tag is bound; partsInSet > 1 tags share the item (the first part carries the UID binding).
    if (partNumber === 1) {
      db.prepare('UPDATE item SET tag_uid = ?, updated_at = ? WHERE id = ?').run(tag.uid, this.deps.clock.now().toISOString(), item.id);
    }
    readers.track(readerId, 'enter', res.data);
    return { readerId, uid: tag.uid, itemId: item.id, barcode, isil, country, tag: res.data };
  }
}
