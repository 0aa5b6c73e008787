import { randomUUID } from 'node:crypto';
import type { SorterBinPayload, TagReport } from '../../contract/mqtt.js';
import type { Circulation, Disposition } from '../circulation/circulation.js';
import type { Clock } from '../clock.js';
import type { ReaderInfo } from './directory.js';
import { identifyTag } from './identify.js';
import type { SecurityWriter } from './security.js';

export interface ReturnOutcome {
  readerId: string; uid: string; barcode: string | null; title: string | null; bin: string;
  /** reshelve, hold_shelf, transit, or why the item went to the exception bin. */
  reason: string;
  disposition: Disposition | null;
  securityArmed: boolean;
  at: string;
}

export interface ReturnsDeps {
  circulation: Circulation;
  clock: Clock;
  security: SecurityWriter;
  /** Tells the sorter under the slot which bin the item goes to. */
  sort(payload: SorterBinPayload): void;
  onReturn(outcome: ReturnOutcome): void;
}

/**
 * Returns slots: each item dropped in is checked in at the slot's branch, re-armed (AFI in stock,
 * EAS on) and sent to a sorter bin: the hold shelf for a hold here, transit for another branch,
 * else reshelving by home location (a bin per location prefix where configured). What cannot be
 * checked in, or whose tag could not be re-armed, goes to the exception bin for staff.
 */
export class ReturnsSlots {
  private work: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ReturnsDeps) {}

  settled(): Promise<void> { return this.work.then(() => undefined, () => undefined); }

  onTag(reader: ReaderInfo, event: 'enter' | 'leave', tag: TagReport, eventId: string): Promise<ReturnOutcome | null> {
    if (event !== 'enter') return Promise.resolve(null);
    const run = this.work.then(() => this.checkin(reader, tag, eventId));
    this.work = run.catch(() => undefined);
    return run;
  }

  private async checkin(reader: ReaderInfo, tag: TagReport, eventId: string): Promise<ReturnOutcome | null> {
    const { circulation, clock, security } = this.deps;
    const id = identifyTag(circulation, tag);
    if (id.kind === 'card') return null;
    const bins = reader.bins;
    let bin = bins.exception;
    let reason: string = 'UNKNOWN_ITEM';
    let disposition: Disposition | null = null;
    let armed = false;
    if (id.kind === 'item') {
      const ctx = { channel: 'kiosk' as const, branchId: reader.branchId, actor: `reader:${reader.id}`, txnId: `returns:${eventId}` };
      const out = await circulation.write(() => circulation.checkin({ itemId: id.itemId }, ctx));
      if (!out.ok) {
        reason = out.code;
      } else {
        disposition = out.disposition;
        const w = await security.write(reader.id, tag.uid, 'in_stock');
        armed = w.ok;
        if (!w.ok) reason = 'SECURITY_WRITE_FAILED';
        else if (disposition.action === 'hold_shelf') { bin = bins.hold; reason = 'hold_shelf'; }
        else if (disposition.action === 'transit') { bin = bins.transit; reason = 'transit'; }
        else { bin = binForLocation(bins.locations, disposition.location) ?? bins.reshelve; reason = 'reshelve'; }
      }
    }
    const at = clock.now().toISOString();
    const barcode = id.kind === 'item' ? id.barcode : id.barcode;
    this.deps.sort({ id: randomUUID(), ts: at, readerId: reader.id, uid: tag.uid, barcode, bin, reason });
    const outcome: ReturnOutcome = { readerId: reader.id, uid: tag.uid, barcode, title: id.kind === 'item' ? id.title : null, bin, reason, disposition, securityArmed: armed, at };
    this.deps.onReturn(outcome);
    return outcome;
  }
}

/** The bin of the longest configured location prefix that the item's home location starts with. */
function binForLocation(locations: Record<string, string>, location: string | null): string | null {
  if (!location) return null;
  let best: string | null = null;
  let bestLen = -1;
  for (const [prefix, bin] of Object.entries(locations)) {
    if (location.startsWith(prefix) && prefix.length > bestLen) { best = bin; bestLen = prefix.length; }
  }
  return best;
}
