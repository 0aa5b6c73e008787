import { encodeTagMemory, USAGE_CIRCULATING_ITEM, USAGE_PATRON_CARD } from '../../contract/rfid/tag-data.js';
import { SimTag } from './tag.js';


/** A tag as a library labels it: an item's barcode or a patron's card number, and the owner library. */
export interface TagSpec {
  uid: string;
  /** Item barcode (primary item identifier). */
  item?: string;
  /** Patron card number. */
  card?: string;
  isil?: string;
  country?: string;
  partsInSet?: number;
  partNumber?: number;
  /** AFI as found on the tag (default: 0x07 in stock for items, 0 for cards and blank tags). */
  afi?: number;
  eas?: boolean;
  /** A blank tag, as it arrives from the supplier (for the intake station). */
  blank?: boolean;
  latencyMs?: number;
  failureRate?: number;
}

/** A simulated tag programmed as the spec says (ISO 28560-3 memory, AFI, EAS). */
export function simTag(spec: TagSpec): SimTag {
  const uid = spec.uid.toUpperCase();
  const base = { uid, latencyMs: spec.latencyMs, failureRate: spec.failureRate };
  if (spec.blank || (!spec.item && !spec.card)) return new SimTag({ ...base, afi: spec.afi ?? 0, eas: spec.eas ?? false });
  const memory = encodeTagMemory({
    typeOfUsage: spec.card ? USAGE_PATRON_CARD : USAGE_CIRCULATING_ITEM,
    primaryItemId: (spec.card ?? spec.item)!,
    partsInSet: spec.partsInSet ?? 1,
    partNumber: spec.partNumber ?? 1,
    country: spec.country ?? 'CN',
    isil: spec.isil ?? '',
  });
  return new SimTag({ ...base, memory, afi: spec.afi ?? (spec.card ? 0 : 0x07), eas: spec.eas ?? !spec.card, supportsEas: !spec.card });
}

/**
 * The tags of a simulated library, addressed as `item:<barcode>`, `card:<card number>` or by UID.
 * A tag is one object wherever it goes: a book desensitised at the kiosk is still desensitised at
 * the gate.
 */
export class TagPopulation {
  private readonly byKey = new Map<string, SimTag>();

  add(spec: TagSpec, name?: string): SimTag {
    const tag = simTag(spec);
    this.byKey.set(tag.uid, tag);
    if (spec.item) this.byKey.set(`item:${spec.item}`, tag);
    if (spec.card) this.byKey.set(`card:${spec.card}`, tag);
    if (name) this.byKey.set(name, tag);
    return tag;
  }

  get(key: string): SimTag {
    const tag = this.byKey.get(key) ?? this.byKey.get(key.toUpperCase());
    if (!tag) throw new Error(`no simulated tag ${key}`);
    return tag;
  }

  has(key: string): boolean { return this.byKey.has(key); }
}
