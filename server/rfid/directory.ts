import type { ReaderRole, TagReport } from '../../contract/mqtt.js';
import type { Db } from '../store/db.js';
import { getSetting } from '../store/db.js';

/** A reader as the server knows it: its role, branch, gateway and role-specific settings. */
export interface ReaderInfo {
  id: string;
  role: ReaderRole;
  branchId: string;
  gatewayId: string;
  /** Returns slot: sorter bin names by decision; `locations` maps a home-location prefix to a bin. */
  bins: SorterBins;
}

export interface SorterBins { hold: string; transit: string; reshelve: string; exception: string; locations: Record<string, string> }

const DEFAULT_BINS: SorterBins = { hold: 'hold', transit: 'transit', reshelve: 'reshelve', exception: 'exception', locations: {} };

/** The security values a library writes to its tags (ISO 28560-1 recommends AFI 0x07 in stock, 0xC2 on loan). */
export interface SecurityValues { afiInStock: number; afiOnLoan: number }

/** The AFI values a library's tags carry in stock and on loan (settings; ISO 28560-1 defaults). */
export const rfidSecurityValues = (db: Db): SecurityValues =>
  ({ afiInStock: getSetting(db, 'rfid_afi_in_stock', 0x07), afiOnLoan: getSetting(db, 'rfid_afi_on_loan', 0xc2) });

/**
 * Readers from the device table, and what each one has in its field now (from the enter and leave
 * events its gateway sent). Reload after devices change.
 */
export class ReaderDirectory {
  private readers = new Map<string, ReaderInfo>();
  private securityValues: SecurityValues = { afiInStock: 0x07, afiOnLoan: 0xc2 };
  private readonly fields = new Map<string, Map<string, TagReport>>();

  constructor(private readonly db: Db) { this.reload(); }

  reload(): void {
    const rows = this.db.prepare("SELECT id, role, branch_id, config FROM device WHERE kind = 'reader'").all() as { id: string; role: ReaderRole; branch_id: string; config: string }[];
    const next = new Map<string, ReaderInfo>();
    for (const r of rows) {
      let c: Record<string, any> = {};
      try { c = JSON.parse(r.config); } catch { /* a reader with a broken config is skipped below */ }
      if (typeof c.gateway !== 'string') continue;
      next.set(r.id, {
        id: r.id, role: r.role, branchId: r.branch_id, gatewayId: c.gateway,
        bins: { ...DEFAULT_BINS, ...(typeof c.bins === 'object' && c.bins ? c.bins : {}), locations: { ...(c.bins?.locations ?? {}) } },
      });
    }
    this.readers = next;
    this.securityValues = rfidSecurityValues(this.db);
  }

  get(id: string): ReaderInfo | undefined { return this.readers.get(id); }
  all(): ReaderInfo[] { return [...this.readers.values()]; }

  /** Read with the readers at reload(), not on every security write and gate event. */
  security(): SecurityValues { return this.securityValues; }

  /** Records a tag entering or leaving a reader's field. */
  track(readerId: string, event: 'enter' | 'leave', tag: TagReport): void {
    let field = this.fields.get(readerId);
    if (!field) this.fields.set(readerId, (field = new Map()));
    if (event === 'enter') field.set(tag.uid, tag);
    else field.delete(tag.uid);
  }

  /** Tags in a reader's field now. */
  inField(readerId: string): TagReport[] { return [...(this.fields.get(readerId)?.values() ?? [])]; }

  forgetField(readerId: string): void { this.fields.delete(readerId); }
}
