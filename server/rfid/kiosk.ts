import { randomUUID } from 'node:crypto';
import type { TagReport } from '../../contract/mqtt.js';
import type { Circulation, PatronBlock, PatronRef } from '../circulation/circulation.js';
import type { Clock } from '../clock.js';
import type { Db } from '../store/db.js';
import type { ReaderInfo } from './directory.js';
import { identifyTag } from './identify.js';
import type { SecurityWriter } from './security.js';
import { RFID_TEXTS, type Bilingual } from './texts.js';

export type KioskItemStatus = 'waiting_for_card' | 'waiting_for_parts' | 'processing' | 'checked_out' | 'refused' | 'failed';

/** One book (or one multi-part set) on the pad, as the kiosk screen shows it. */
export interface KioskItem {
  barcode: string | null;
  title: string | null;
  uids: string[];
  status: KioskItemStatus;
  /** Reason code for refused and failed items (a circulation refusal, SECURITY_WRITE_FAILED, UNKNOWN_ITEM, …). */
  code?: string;
  message?: Bilingual;
  dueAt?: string;
  parts?: { present: number; of: number };
  /** What the reader answered when a security write failed (TAG_GONE, WRITE_NOT_VERIFIED, …). */
  detail?: string;
}

export interface KioskSessionView {
  id: string;
  readerId: string;
  branchId: string;
  state: 'active' | 'blocked' | 'ended';
  patron: { id: number; name: string; cardNumber: string } | null;
  blocks: PatronBlock[];
  message: Bilingual | null;
  items: KioskItem[];
  startedAt: string;
  endedAt: string | null;
  endReason: 'card_removed' | 'timeout' | 'ended_by_patron' | 'new_card' | null;
}

/** Blocks that stop a kiosk checkout before any book is tried (all of PatronStatus.blocks do). */
interface Session extends KioskSessionView { patronRef: PatronRef | null; cardUid: string | null; lastActivity: number; attempts: Map<number, number> }

export interface KioskDeps {
  db: Db;
  circulation: Circulation;
  clock: Clock;
  security: SecurityWriter;
  /** Tags on the pad now (for parts of a set that arrived before the card). */
  inField(readerId: string): TagReport[];
  onChange(view: KioskSessionView): void;
  /** Idle time after which a session ends (ms). */
  idleTimeoutMs?: number;
}

/**
 * Self-check at kiosk pads: the patron's card (RFID tag, or a scanned barcode) opens a session, each
 * book tag on the pad is checked out and then desensitised (AFI on-loan, EAS off), verified by the
 * gateway's read-back. A book whose security write failed is given back (the loan is reversed) and
 * shown as failed, never as borrowed. Sets of several parts wait until every part is on the pad.
 * The session ends when the card leaves the pad, when the patron ends it, or after an idle time.
 */
export class KioskDesk {
  private readonly sessions = new Map<string, Session>();
  private readonly ended = new Map<string, KioskSessionView>();
  /** Tags seen before any card, per reader (a patron who put the books down first). */
  private readonly early = new Map<string, Map<string, TagReport>>();
  private timer: NodeJS.Timeout | null = null;
  private work: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: KioskDeps) {}

  start(): void {
    this.timer = setInterval(() => this.expireIdle(), 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.work.catch(() => undefined);
  }

  /** Resolves when every tag event so far has been handled. */
  settled(): Promise<void> { return this.work.then(() => undefined, () => undefined); }

  current(readerId: string): KioskSessionView | null {
    const s = this.sessions.get(readerId);
    return s ? view(s) : null;
  }

  session(id: string): KioskSessionView | null {
    for (const s of this.sessions.values()) if (s.id === id) return view(s);
    return this.ended.get(id) ?? null;
  }

  onTag(reader: ReaderInfo, event: 'enter' | 'leave', tag: TagReport): Promise<void> {
    return this.serial(() => (event === 'enter' ? this.enter(reader, tag) : this.leave(reader, tag)));
  }

  /** A card number scanned as a barcode (or typed) at the kiosk. */
  presentCard(reader: ReaderInfo, cardNumber: string): Promise<KioskSessionView> {
    return this.serial(async () => {
      await this.open(reader, { cardNumber }, null);
      return view(this.sessions.get(reader.id)!);
    });
  }

  end(readerId: string, reason: KioskSessionView['endReason'] = 'ended_by_patron'): KioskSessionView | null {
    const s = this.sessions.get(readerId);
    if (!s) return null;
    this.close(s, reason);
    return view(s);
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.work.then(op, op);
    this.work = run.catch(() => undefined);
    return run;
  }

  private async enter(reader: ReaderInfo, tag: TagReport): Promise<void> {
    const id = identifyTag(this.deps.circulation, tag);
    const s = this.sessions.get(reader.id);
    if (id.kind === 'card') {
      if (s && s.cardUid === tag.uid) return;
      await this.open(reader, id.patron, tag.uid);
      return;
    }
    if (!s) {
      let waiting = this.early.get(reader.id);
      if (!waiting) this.early.set(reader.id, (waiting = new Map()));
      waiting.set(tag.uid, tag);
      return;
    }
    s.lastActivity = Date.now();
    await this.book(s, tag);
    this.changed(s);
  }

  private async leave(reader: ReaderInfo, tag: TagReport): Promise<void> {
    this.early.get(reader.id)?.delete(tag.uid);
    const s = this.sessions.get(reader.id);
    if (s && s.cardUid === tag.uid) this.close(s, 'card_removed');
  }

  private async open(reader: ReaderInfo, ref: PatronRef, cardUid: string | null): Promise<void> {
    const previous = this.sessions.get(reader.id);
    if (previous) this.close(previous, 'new_card');
    const status = this.deps.circulation.patronStatus(ref, reader.branchId);
    const now = this.deps.clock.now().toISOString();
    const s: Session = {
      id: randomUUID(), readerId: reader.id, branchId: reader.branchId, patronRef: status ? { patronId: status.patronId } : null, cardUid,
      state: status && !status.blocks.length ? 'active' : 'blocked',
      patron: status ? { id: status.patronId, name: status.name, cardNumber: status.cardNumber } : null,
      blocks: status?.blocks ?? [],
      message: !status ? RFID_TEXTS.PATRON_NOT_FOUND : status.blocks.length ? RFID_TEXTS[status.blocks[0]!] : RFID_TEXTS.WELCOME,
      items: [], startedAt: now, endedAt: null, endReason: null, lastActivity: Date.now(), attempts: new Map(),
    };
    this.sessions.set(reader.id, s);
    this.deps.db.prepare('INSERT INTO kiosk_session (id, reader_id, branch_id, patron_id, started_at) VALUES (?, ?, ?, ?, ?)')
      .run(s.id, reader.id, reader.branchId, s.patron?.id ?? null, now);
    this.changed(s);
    // Books already on the pad (put down before the card, or left on it) are handled now.
    const onPad = new Map<string, TagReport>([...(this.early.get(reader.id) ?? new Map()), ...this.deps.inField(reader.id).map((t) => [t.uid, t] as const)]);
    this.early.delete(reader.id);
    for (const t of onPad.values()) {
      if (t.uid === cardUid || identifyTag(this.deps.circulation, t).kind === 'card') continue;
      await this.book(s, t);
    }
    if (onPad.size) this.changed(s);
  }

  private async book(s: Session, tag: TagReport): Promise<void> {
    const seen = s.items.find((i) => i.uids.includes(tag.uid));
    // A book whose desensitising failed is tried again when it is put back on the pad.
    if (seen && seen.status !== 'failed') return;
    if (seen) s.items.splice(s.items.indexOf(seen), 1);
    const id = identifyTag(this.deps.circulation, tag);
    if (id.kind === 'card') return;
    if (id.kind === 'unknown') {
      s.items.push({ barcode: id.barcode, title: null, uids: [tag.uid], status: 'refused', code: 'UNKNOWN_ITEM', message: RFID_TEXTS.UNKNOWN_ITEM });
      return;
    }
    let item = s.items.find((i) => i.barcode === id.barcode && i.status === 'waiting_for_parts');
    if (!item) {
      item = { barcode: id.barcode, title: id.title, uids: [], status: 'processing' };
      s.items.push(item);
    }
    item.uids.push(tag.uid);
    if (s.state === 'blocked' || !s.patronRef) {
      item.status = 'refused';
      item.code = s.patron ? s.blocks[0] : 'PATRON_NOT_FOUND';
      item.message = s.message ?? undefined;
      return;
    }
    // ISO 28560: a set of several parts is lent as one, once every part is on the pad.
    if (id.partsInSet > 1) {
      item.parts = { present: item.uids.length, of: id.partsInSet };
      if (item.uids.length < id.partsInSet) { item.status = 'waiting_for_parts'; item.message = RFID_TEXTS.WAITING_FOR_PARTS; return; }
      item.message = undefined;
    }
    item.status = 'processing';
    await this.lend(s, item, id.itemId);
  }

  private async lend(s: Session, item: KioskItem, itemId: number): Promise<void> {
    const { circulation, security } = this.deps;
    // One transaction id per attempt: a retried event replays its attempt, a new attempt is new.
    const attempt = (s.attempts.get(itemId) ?? 0) + 1;
    s.attempts.set(itemId, attempt);
    const ctx = { channel: 'kiosk' as const, branchId: s.branchId, actor: `reader:${s.readerId}`, txnId: `kiosk:${s.id}:${itemId}:${attempt}` };
    const out = await circulation.write(() => circulation.checkout(s.patronRef!, { itemId }, ctx));
    if (!out.ok) {
      Object.assign(item, { status: 'refused', code: out.code, message: out.message });
      return;
    }
    const written: string[] = [];
    let failure: { code: string; message: string } | null = null;
    for (const uid of item.uids) {
      const w = await security.write(s.readerId, uid, 'on_loan');
      if (w.ok) written.push(uid);
      else { failure = w.error; break; }
    }
    if (!failure) {
      Object.assign(item, { status: 'checked_out', dueAt: out.dueAt, message: undefined });
      return;
    }
    // The book is still armed: it is not borrowed. Reverse the loan and re-arm the parts already done.
    for (const uid of written) await security.write(s.readerId, uid, 'in_stock');
    if (!out.renewal) await circulation.write(() => circulation.checkin({ itemId }, { ...ctx, txnId: `${ctx.txnId}:undo` }));
    Object.assign(item, { status: 'failed', code: 'SECURITY_WRITE_FAILED', message: RFID_TEXTS.SECURITY_WRITE_FAILED, dueAt: undefined, detail: failure.code });
  }

  private close(s: Session, reason: KioskSessionView['endReason']): void {
    if (s.state === 'ended') return;
    s.state = 'ended';
    s.endReason = reason;
    s.endedAt = this.deps.clock.now().toISOString();
    this.sessions.delete(s.readerId);
    this.deps.db.prepare('UPDATE kiosk_session SET ended_at = ?, end_reason = ?, items = ? WHERE id = ?')
      .run(s.endedAt, reason, JSON.stringify(s.items), s.id);
    const v = view(s);
    this.ended.set(s.id, v);
    if (this.ended.size > 200) this.ended.delete(this.ended.keys().next().value!);
    this.deps.onChange(v);
  }

  private expireIdle(): void {
    const limit = this.deps.idleTimeoutMs ?? 60_000;
    for (const s of [...this.sessions.values()]) if (Date.now() - s.lastActivity > limit) this.close(s, 'timeout');
  }

  private changed(s: Session): void { this.deps.onChange(view(s)); }
}

function view(s: Session | KioskSessionView): KioskSessionView {
  const { id, readerId, branchId, state, patron, blocks, message, items, startedAt, endedAt, endReason } = s;
  return { id, readerId, branchId, state, patron, blocks, message, items: items.map((i) => ({ ...i, uids: [...i.uids] })), startedAt, endedAt, endReason };
}
