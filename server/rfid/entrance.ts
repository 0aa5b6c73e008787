import { randomUUID } from 'node:crypto';
import type { EntranceDecisionPayload, TagReport } from '../../contract/mqtt.js';
import type { Circulation, PatronBlock } from '../circulation/circulation.js';
import type { Clock } from '../clock.js';
import type { Db } from '../store/db.js';
import type { ReaderInfo } from './directory.js';
import { identifyTag } from './identify.js';
import { RFID_TEXTS } from './texts.js';

/** Blocks that keep a patron out of the building. Loans, overdues and fees do not: they stop borrowing, not reading. */
const ENTRY_BLOCKS: PatronBlock[] = ['CARD_EXPIRED', 'CARD_LOST', 'PATRON_BLOCKED'];

export interface EntranceDeps {
  db: Db;
  circulation: Circulation;
  clock: Clock;
  /** Opens the barrier or shows the refusal (published on the reader's entrance topic). */
  decide(payload: EntranceDecisionPayload): void;
}

/**
 * Entrance gates: a patron card (RFID card tag) is allowed in or refused with the reason, and each
 * presentation is recorded as a visit (the CRM counts visits). A card held in the field is one visit.
 */
export class EntranceGates {
  constructor(private readonly deps: EntranceDeps) {}

  onTag(reader: ReaderInfo, event: 'enter' | 'leave', tag: TagReport): EntranceDecisionPayload | null {
    if (event !== 'enter') return null;
    const id = identifyTag(this.deps.circulation, tag);
    if (id.kind !== 'card') return null;
    return this.present(reader, id.patron, id.presented);
  }

  /** A card number presented by barcode. */
  presentCard(reader: ReaderInfo, cardNumber: string): EntranceDecisionPayload {
    return this.present(reader, { cardNumber }, cardNumber);
  }

  private present(reader: ReaderInfo, ref: Parameters<Circulation['patronStatus']>[0], presented: string): EntranceDecisionPayload {
    const status = this.deps.circulation.patronStatus(ref, reader.branchId);
    const block = status?.blocks.find((b) => ENTRY_BLOCKS.includes(b));
    const reason = !status ? 'PATRON_NOT_FOUND' : block ?? null;
    const at = this.deps.clock.now().toISOString();
    this.deps.db.prepare('INSERT INTO visit (patron_id, card, branch_id, device_id, at, allowed, reason) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(status?.patronId ?? null, presented, reader.branchId, reader.id, at, reason ? 0 : 1, reason);
    const payload: EntranceDecisionPayload = {
      id: randomUUID(), ts: at, readerId: reader.id, allowed: !reason, reason, message: RFID_TEXTS[reason ?? 'ENTRY_ALLOWED'],
      ...(status ? { patronName: status.name } : {}),
    };
    this.deps.decide(payload);
    return payload;
  }
}
