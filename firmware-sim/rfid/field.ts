import { SimTag } from './tag.js';

/**
 * The RF field of one simulated reader: tags placed on and removed from its antennas over time.
 * Reader simulators ask the field which tags answer; a tag removed while a command is running
 * stops answering from that moment (a tag pulled away in the middle of a write).
 */
export class ReaderField {
  private readonly placed = new Map<string, { tag: SimTag; antenna: number }>();
  private random: () => number;

  constructor(readonly antennas = 1, seed = 1) {
    this.random = mulberry32(seed);
  }

  place(tag: SimTag, antenna = 1): void {
    if (antenna < 1 || antenna > this.antennas) throw new Error(`antenna ${antenna} outside 1..${this.antennas}`);
    this.placed.set(tag.uid, { tag, antenna });
  }

  remove(uid: string): boolean { return this.placed.delete(uid); }

  clear(): void { this.placed.clear(); }

  /** Schedules the removal of a tag after `ms` (for "pulled away mid-write" scenarios). */
  removeAfter(uid: string, ms: number): NodeJS.Timeout { return setTimeout(() => this.remove(uid), ms); }

  /**
   * The next write that reaches this tag is its last: the write lands (the tag was still powered)
   * and the tag leaves the field at once, so whatever the reader does next with it fails.
   */
  pullOnWrite(uid: string): void {
    const p = this.placed.get(uid);
    if (!p) throw new Error(`tag ${uid} is not in the field`);
    p.tag.onWrite = () => { p.tag.onWrite = null; this.remove(uid); };
  }

  has(uid: string): boolean { return this.placed.has(uid); }

  /** Tags on one antenna (or all antennas), in placement order. */
  tags(antenna?: number): SimTag[] {
    return [...this.placed.values()].filter((p) => antenna === undefined || p.antenna === antenna).map((p) => p.tag);
  }

  antennaOf(uid: string): number | null { return this.placed.get(uid)?.antenna ?? null; }

  /** A tag in the field that answers this command, or null (absent, or it failed this time by its failure rate). */
  answering(uid: string): SimTag | null {
    const p = this.placed.get(uid);
    if (!p) return null;
    return this.random() < p.tag.failureRate ? null : p.tag;
  }

  /**
   * ISO 15693 16-slot anticollision as readers run it: each answering tag picks the slot given by
   * the next 4 bits of its UID (LSB first, after the mask); slots with several tags collide and are
   * resolved in further rounds with a longer mask. Returns the UIDs found, in the order found, and
   * the number of collisions met on the way.
   */
  anticollision(antenna?: number): { uids: string[]; collisions: number } {
    const answering = this.tags(antenna).filter((t) => this.random() >= t.failureRate);
    const found: string[] = [];
    let collisions = 0;
    const round = (tags: SimTag[], maskBits: number) => {
      const slots = new Map<number, SimTag[]>();
      for (const t of tags) {
        const v = BigInt('0x' + t.uid);
        const slot = Number((v >> BigInt(maskBits)) & 0xfn);
        slots.set(slot, [...(slots.get(slot) ?? []), t]);
      }
      for (const slot of [...slots.keys()].sort((a, b) => a - b)) {
        const inSlot = slots.get(slot)!;
        if (inSlot.length === 1) found.push(inSlot[0]!.uid);
        else if (maskBits + 4 < 64) { collisions++; round(inSlot, maskBits + 4); }
      }
    };
    round(answering, 0);
    return { uids: found, collisions };
  }
}

/** Small deterministic PRNG so simulated failures are reproducible from a seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
