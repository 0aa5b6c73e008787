import { randomUUID } from 'node:crypto';
import type { GateAlarmPayload, TagReport } from '../../contract/mqtt.js';
import type { Circulation } from '../circulation/circulation.js';
import type { Clock } from '../clock.js';
import type { Db } from '../store/db.js';
import type { ReaderInfo, SecurityValues } from './directory.js';
import { identifyTag } from './identify.js';

export interface GateAlarm {
  id: number; readerId: string; branchId: string; uid: string; itemId: number | null; barcode: string | null; title: string | null;
  reason: 'NOT_ON_LOAN' | 'SECURITY_ARMED'; at: string;
}

export interface GateDeps {
  db: Db;
  circulation: Circulation;
  clock: Clock;
  security(): SecurityValues;
  /** Switches the gate's alarm light and buzzer (published on the gate's alarm topic). */
  signal(payload: GateAlarmPayload): void;
  onAlarm(alarm: GateAlarm): void;
  /** One passage: the same tag at the same gate within this time raises one alarm (ms). */
  debounceMs?: number;
  /** How long the light and buzzer stay on (ms). */
  alarmMs?: number;
}

/**
 * Security gates: a tag whose item is not on loan, or whose security state still says in stock
 * (AFI in-stock or EAS on), raises an alarm with the item, gate and time; borrowed, desensitised
 * items pass silently. Patron cards and other libraries' tags are not ours to stop. A tag seen on
 * both antennas or lingering in the gate is one passage: one alarm.
 */
export class SecurityGates {
  private readonly lastAlarm = new Map<string, number>();
  private readonly lightOff = new Map<string, NodeJS.Timeout>();

  constructor(private readonly deps: GateDeps) {}

  onTag(reader: ReaderInfo, event: 'enter' | 'leave', tag: TagReport): GateAlarm | null {
    if (event !== 'enter') return null;
    const id = identifyTag(this.deps.circulation, tag);
    if (id.kind !== 'item') return null;
    const { afiInStock } = this.deps.security();
    const onLoan = id.status === 'on_loan';
    const armed = tag.security !== null && (tag.security.afi === afiInStock || tag.security.eas === true);
    if (onLoan && !armed) return null;
    const key = `${reader.id}:${tag.uid}`;
    const now = Date.now();
    const last = this.lastAlarm.get(key);
    if (last !== undefined && now - last < (this.deps.debounceMs ?? 10_000)) return null;
    this.lastAlarm.set(key, now);
    for (const [k, t] of this.lastAlarm) if (now - t > 60_000) this.lastAlarm.delete(k);

    const at = this.deps.clock.now().toISOString();
    const reason = onLoan ? 'SECURITY_ARMED' : 'NOT_ON_LOAN';
    const row = this.deps.db.prepare('INSERT INTO gate_alarm (reader_id, branch_id, uid, item_id, barcode, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(reader.id, reader.branchId, tag.uid, id.itemId, id.barcode, reason, at);
    const alarm: GateAlarm = { id: Number(row.lastInsertRowid), readerId: reader.id, branchId: reader.branchId, uid: tag.uid, itemId: id.itemId, barcode: id.barcode, title: id.title, reason, at };
    this.deps.signal({ id: randomUUID(), ts: at, readerId: reader.id, on: true, uid: tag.uid, barcode: id.barcode });
    clearTimeout(this.lightOff.get(reader.id));
    const off = setTimeout(() => {
      this.lightOff.delete(reader.id);
      this.deps.signal({ id: randomUUID(), ts: this.deps.clock.now().toISOString(), readerId: reader.id, on: false });
    }, this.deps.alarmMs ?? 5000);
    off.unref();
    this.lightOff.set(reader.id, off);
    this.deps.onAlarm(alarm);
    return alarm;
  }

  recent(limit = 50): GateAlarm[] {
    return this.deps.db.prepare(`SELECT g.id, g.reader_id AS readerId, g.branch_id AS branchId, g.uid, g.item_id AS itemId, g.barcode,
        r.title, g.reason, g.at FROM gate_alarm g LEFT JOIN item i ON i.id = g.item_id LEFT JOIN record r ON r.id = i.record_id
        ORDER BY g.id DESC LIMIT ?`).all(limit) as GateAlarm[];
  }

  stop(): void { for (const t of this.lightOff.values()) clearTimeout(t); this.lightOff.clear(); }
}
