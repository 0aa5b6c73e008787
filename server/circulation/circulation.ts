import type { Statement, Transaction } from 'better-sqlite3';
import type { Db } from '../store/db.js';
import { afterWrites, getSetting } from '../store/db.js';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { ItemRow } from '../catalogue/items.js';
import type { PatronRow } from '../patrons/patrons.js';
import { Calendars, addDays, daysBetween, localDate, type DueDateStrategy } from './calendar.js';
import { PolicyBook, type Policy } from './policy.js';
import { REASONS, type ReasonCode } from './reasons.js';

export type Channel = 'kiosk' | 'sip2' | 'desk' | 'opac' | 'system';

export interface OpContext {
  channel: Channel;
  /** Branch where the operation happens (the kiosk's, the SIP2 login's, the desk's). */
  branchId: string;
  /** Staff user, device or patron acting, for the event log. */
  actor?: string;
  /** Client transaction id: a retried request with the same id returns the first result. */
  txnId?: string;
  /** Effective time for offline backlog (SIP2 no-block transactions); defaults to the clock. */
  at?: Date;
}

export type PatronRef = { cardNumber: string } | { cardTagUid: string } | { patronId: number };
export type ItemRef = { barcode: string } | { tagUid: string } | { itemId: number };

export interface Refusal {
  ok: false;
  code: ReasonCode;
  message: { en: string; zh: string };
  detail?: Record<string, unknown>;
  replayed?: boolean;
}
export type Result<T> = ({ ok: true; replayed?: boolean } & T) | Refusal;

export interface LoanView {
  id: number; itemId: number; barcode: string; recordId: number; title: string; patronId: number | null;
  branchId: string; checkedOutAt: string; dueAt: string; renewals: number; closedAt: string | null;
}
export interface ItemBrief {
  id: number; barcode: string; recordId: number; title: string; status: string; location: string | null; callNumber: string | null;
  itemType: string; homeBranch: string;
}
export type Disposition =
  | { action: 'reshelve'; branchId: string; location: string | null }
  | { action: 'hold_shelf'; branchId: string; holdId: number; patronId: number; pickupDeadline: string }
  | { action: 'transit'; branchId: string; to: string; holdId?: number };

export interface CheckoutData { loan: LoanView; item: ItemBrief; patronId: number; dueAt: string; renewal: boolean; fulfilledHoldId: number | null }
export interface CheckinData { item: ItemBrief; loan: LoanView | null; wasOnLoan: boolean; fineCents: number; disposition: Disposition; foundLost: boolean }
export interface RenewData { loan: LoanView; item: ItemBrief; dueAt: string }
export interface RenewAllData { renewed: RenewData[]; refused: { barcode: string; code: ReasonCode; message: { en: string; zh: string } }[] }
export interface HoldView { id: number; recordId: number; title: string; patronId: number; pickupBranch: string; itemId: number | null; status: string; placedAt: string; expiresAt: string | null; pickupDeadline: string | null; queuePosition: number | null }
export interface HoldData { hold: HoldView }
export interface CancelHoldData { hold: HoldView; releasedItem: { barcode: string } | null }
export interface LostData { item: ItemBrief; feeCents: number; loan: LoanView | null }
export interface PayData { paidCents: number; balanceCents: number }

export type PatronBlock = Extract<ReasonCode, 'CARD_EXPIRED' | 'CARD_LOST' | 'PATRON_BLOCKED' | 'MAX_LOANS_REACHED' | 'TOO_MANY_OVERDUE' | 'FINES_OVER_LIMIT'>;
export interface PatronStatus {
  patronId: number; cardNumber: string; name: string; category: string; blocks: PatronBlock[];
  loans: number; overdue: number; holdsWaiting: number; holdsReady: number; balanceCents: number; expiryDate: string;
  blockedReason: string | null;
}

/** Where an item stands: its open loan, the length of its title's hold queue, and the hold it goes to next. */
export interface ItemCirculation {
  loan: LoanView | null;
  holdQueueLength: number;
  /** The hold trapped on this item (in transit or ready), else the title's first waiting hold. */
  nextHold: HoldView | null;
}
export interface AccountLoan extends LoanView { overdue: boolean }
export interface AccountHold extends HoldView { barcode: string | null }
export interface AccountFee { id: number; kind: 'overdue' | 'lost' | 'manual'; amountCents: number; owedCents: number; createdAt: string; note: string | null; barcode: string | null }
/** A patron's open loans, active holds and unpaid fees, oldest first. */
export interface PatronAccount { loans: AccountLoan[]; holds: AccountHold[]; fees: AccountFee[] }
export interface HoldChange { pickupBranch?: string; expiresAt?: string }

export interface CircEvent {
  id: number; ts: string; op: string; outcome: 'ok' | 'refused'; reason: string | null; channel: Channel; actor: string | null;
  branchId: string; patronId: number | null; itemId: number | null; loanId: number | null; holdId: number | null;
  detail: Record<string, unknown> | null;
}

interface LoanRow { id: number; item_id: number; patron_id: number | null; branch_id: string; checked_out_at: string; due_at: string; renewals: number; closed_at: string | null }
interface HoldRow { id: number; record_id: number; patron_id: number; pickup_branch: string; item_id: number | null; status: string; placed_at: string; expires_at: string | null; pickup_deadline: string | null }

interface Job { run: () => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void }
/** The most operations one group commit holds. */
const MAX_GROUP = 64;

/** Ties an operation's outcome to the subjects the event log records. */
interface Outcome<T> { result: Result<T>; patronId?: number | null; itemId?: number | null; loanId?: number | null; holdId?: number | null; detail?: Record<string, unknown> }

class Refused extends Error {
  constructor(readonly code: ReasonCode, readonly subjects: { patronId?: number | null; itemId?: number | null }, readonly detail?: Record<string, unknown>) {
    super(code);
  }
}
const refuse = (code: ReasonCode, subjects: { patronId?: number | null; itemId?: number | null } = {}, detail?: Record<string, unknown>): never => {
  throw new Refused(code, subjects, detail);
};
export const refusal = (code: ReasonCode, detail?: Record<string, unknown>): Refusal =>
  ({ ok: false, code, message: REASONS[code], ...(detail ? { detail } : {}) });

const ACTIVE_HOLD = "status IN ('waiting', 'in_transit', 'ready')";

/**
 * A patron as circulation sees one: the columns its rules read, plus the extras of the patron's active
 * CRM services. Operations read only these (a whole row costs several times as much to fetch);
 * adapters that need the rest ask findPatron.
 */
type CircPatron = Pick<PatronRow, 'id' | 'card_number' | 'name' | 'category' | 'expiry_date' | 'blocked_reason' | 'card_lost'>
  & { extra_days: number; extra_loans: number };
const PATRON_WITH_EXTRAS = `SELECT p.id, p.card_number, p.name, p.category, p.expiry_date, p.blocked_reason, p.card_lost,
  coalesce(x.extra_days, 0) AS extra_days, coalesce(x.extra_loans, 0) AS extra_loans
  FROM patron p LEFT JOIN patron_policy_extra x ON x.patron_id = p.id`;
/** An item as circulation sees one: what its rules and results read, and the title. */
type CircItem = Pick<ItemRow, 'id' | 'record_id' | 'barcode' | 'home_branch' | 'current_branch' | 'location' | 'call_number' | 'item_type'
  | 'status' | 'transit_to' | 'price_cents'> & { title: string };
const CIRC_ITEM_COLUMNS = `item.id, item.record_id, item.barcode, item.home_branch, item.current_branch, item.location, item.call_number,
  item.item_type, item.status, item.transit_to, item.price_cents, record.title`;
const CIRC_ITEM = `SELECT ${CIRC_ITEM_COLUMNS} FROM item JOIN record ON record.id = item.record_id`;
const LOAN_COLUMNS = 'id, item_id, patron_id, branch_id, checked_out_at, due_at, renewals, closed_at';
/**
 * An item as an operation starts from: the item, its open loan if any (l_*), whether a hold is trapped
 * on it, and whether its title has any active hold, in one statement; the holds themselves are read
 * only when there are some.
 */
type ItemState = CircItem & {
  l_id: number | null; l_patron_id: number | null; l_branch_id: string | null; l_checked_out_at: string | null; l_due_at: string | null;
  l_renewals: number | null; held: 0 | 1; record_holds: 0 | 1;
};
const ITEM_STATE = `SELECT ${CIRC_ITEM_COLUMNS},
  loan.id AS l_id, loan.patron_id AS l_patron_id, loan.branch_id AS l_branch_id, loan.checked_out_at AS l_checked_out_at,
  loan.due_at AS l_due_at, loan.renewals AS l_renewals,
  EXISTS (SELECT 1 FROM hold WHERE hold.item_id = item.id AND hold.status IN ('in_transit', 'ready')) AS held,
  EXISTS (SELECT 1 FROM hold WHERE hold.record_id = item.record_id AND hold.${ACTIVE_HOLD}) AS record_holds
  FROM item JOIN record ON record.id = item.record_id LEFT JOIN loan ON loan.item_id = item.id AND loan.closed_at IS NULL`;
const openLoanOf = (i: ItemState): LoanRow | undefined => i.l_id === null ? undefined : {
  id: i.l_id, item_id: i.id, patron_id: i.l_patron_id, branch_id: i.l_branch_id!, checked_out_at: i.l_checked_out_at!, due_at: i.l_due_at!,
  renewals: i.l_renewals!, closed_at: null,
};

const toLoanView = (l: LoanRow, item: { barcode: string; record_id: number; title: string }): LoanView => ({
  id: l.id, itemId: l.item_id, barcode: item.barcode, recordId: item.record_id, title: item.title, patronId: l.patron_id, branchId: l.branch_id,
  checkedOutAt: l.checked_out_at, dueAt: l.due_at, renewals: l.renewals, closedAt: l.closed_at,
});
const toItemBrief = (r: CircItem): ItemBrief =>
  ({
    id: r.id, barcode: r.barcode, recordId: r.record_id, title: r.title, status: r.status, location: r.location, callNumber: r.call_number,
    itemType: r.item_type, homeBranch: r.home_branch,
  });

/**
 * The one circulation core: kiosks, SIP2, the staff desk and the online catalogue all call these
 * operations. Each runs in one immediate SQLite transaction, is logged as a circulation event (granted
 * or refused), and is idempotent on its client transaction id.
 */
export class Circulation {
  readonly calendars: Calendars;
  private policies: PolicyBook;
  private readonly listeners = new Set<(e: CircEvent) => void>();
  private readonly s: ReturnType<typeof prepare>;
  private readonly holdExpiryDays: number;
  private readonly holdPickupDays: number;
  /** Runs a body in a transaction; made once, as better-sqlite3 builds a wrapper per db.transaction() call. */
  private readonly tx: Transaction<(body: () => unknown) => unknown>;
  /** Branches seen to exist; a branch referenced by loans and items cannot be deleted. */
  private readonly knownBranches = new Set<string>();
  /** Operations waiting for the next group commit (see write). */
  private readonly queue: Job[] = [];
  private flushScheduled = false;
  /** While a group commit is being written: the events it logged, announced once it has committed. */
  private deferred: CircEvent[] | null = null;
  /** A group-commit caller's savepoint was just opened and no operation has used it yet. */
  private spareSavepoint = false;
  /** An operation that ran in its caller's savepoint failed part-way: that caller fails, whatever it did next. */
  private brokenOperation: { error: unknown } | null = null;

  constructor(private readonly db: Db, private readonly clock: Clock = systemClock) {
    this.calendars = new Calendars(db, getSetting(db, 'time_zone', 'UTC'), getSetting<DueDateStrategy>(db, 'due_date_strategy', 'next_open_day'));
    this.policies = PolicyBook.load(db);
    this.holdExpiryDays = getSetting(db, 'hold_expiry_days', 180);
    this.holdPickupDays = getSetting(db, 'hold_pickup_days', 7);
    this.s = prepare(db);
    this.tx = db.transaction((body: () => unknown) => body());
  }

  get timeZone() { return this.calendars.timeZone; }

  /** Call after policies, calendars or branches change. */
  reload() {
    this.policies = PolicyBook.load(this.db);
    this.calendars.invalidate();
    this.knownBranches.clear();
  }

  /** The rules' policy for a branch, patron category and item type. */
  policyFor(branchId: string, category: string, itemType: string): Policy {
    return this.policies.resolve(branchId, category, itemType);
  }

  /** The policy a patron borrows under here: the rules for their category, with their services' extras. */
  policyForPatron(branchId: string, patronRef: PatronRef, itemType: string): Policy | null {
    const p = this.patronRow(patronRef);
    return p ? this.patronPolicy(branchId, p, itemType) : null;
  }

  /**
   * Group commit: runs `fn` (which calls operations, and may read what it decides on) together with
   * the other writes asked for during this turn of the event loop, in order, in one SQLite transaction,
   * and resolves once that transaction has committed. Each caller's `fn` runs in its own savepoint, and
   * each operation in one of its own, so a refusal or a failure undoes only its own writes; if the
   * commit itself fails, nothing in the group happened and every caller gets the error. What a
   * terminal is told has happened has been written. One commit for many operations is what lets many
   * kiosks, desks and SIP2 terminals lend at once: the pages every operation touches (the event log,
   * the loan table and their indexes) are written once per group instead of once per operation. The
   * group runs synchronously, so nothing else runs inside it. Listeners hear a group's events after
   * it has committed.
   */
  write<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run: fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush() {
    this.flushScheduled = false;
    // One group per turn of the event loop: its callers hear back (and their answers go out) while
    // the next group waits its turn, instead of every answer waiting for the whole queue.
    if (this.queue.length > MAX_GROUP) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    const group = this.queue.splice(0, MAX_GROUP);
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    const events: CircEvent[] = [];
    this.deferred = events;
    try {
      this.tx.immediate(() => {
        for (const job of group) {
          const mark = events.length;
          try {
            outcomes.push({ ok: true, value: this.tx(() => this.runJob(job)) });
          } catch (error) {
            events.length = mark; // its savepoint was rolled back: what it logged did not happen
            outcomes.push({ ok: false, error });
          } finally {
            this.spareSavepoint = false;
            this.brokenOperation = null;
          }
        }
      });
    } catch (error) {
      for (const job of group) job.reject(error);
      return;
    } finally {
      this.deferred = null;
    }
    afterWrites(this.db);
    for (const e of events) this.emit(e);
    group.forEach((job, i) => {
      const o = outcomes[i]!;
      if (o.ok) job.resolve(o.value); else job.reject(o.error);
    });
  }

  /**
   * One caller of a group, inside its own savepoint. Its first operation runs in that savepoint instead
   * of opening another (a savepoint per operation is a measurable part of an operation's cost); if
   * that operation fails part-way, the whole caller is undone even if it caught the error.
   */
  private runJob(job: Job): unknown {
    this.spareSavepoint = true;
    this.brokenOperation = null;
    const value = job.run();
    this.spareSavepoint = false;
    const broken = this.brokenOperation as { error: unknown } | null; // set by run(), which job.run() called
    if (broken) throw broken.error;
    return value;
  }

  /** Listeners run after the transaction commits; a throwing listener does not undo the operation. */
  onEvent(listener: (e: CircEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- lookups ---------------------------------------------------------------------------------

  private patronRow(ref: PatronRef): CircPatron | undefined {
    if ('patronId' in ref) return this.s.patronById.get(ref.patronId) as CircPatron | undefined;
    if ('cardNumber' in ref) return this.s.patronByCard.get(ref.cardNumber) as CircPatron | undefined;
    return this.s.patronByTag.get(ref.cardTagUid) as CircPatron | undefined;
  }

  /**
   * The rules' policy for this patron, with the extras of their active differentiated services (CRM):
   * longer loans and renewals, more items at once. Extras only add; they never take anything away.
   */
  private patronPolicy(branchId: string, p: CircPatron, itemType: string): Policy {
    const base = this.policies.resolve(branchId, p.category, itemType);
    if (!p.extra_days && !p.extra_loans) return base;
    return { ...base, loanDays: base.loanDays + p.extra_days, renewalDays: base.renewalDays + p.extra_days, maxLoans: base.maxLoans + p.extra_loans };
  }

  private requirePatron(ref: PatronRef): CircPatron {
    return this.patronRow(ref) ?? refuse('PATRON_NOT_FOUND', {}, { ref });
  }

  private requireItem(ref: ItemRef, patronId?: number): ItemState {
    const found = 'itemId' in ref ? this.s.itemStateById.get(ref.itemId) : 'barcode' in ref ? this.s.itemStateByBarcode.get(ref.barcode)
      : this.s.itemStateByTag.get(ref.tagUid);
    return (found as ItemState | undefined) ?? refuse('ITEM_NOT_FOUND', { patronId }, { ref });
  }

  /** The hold trapped on an item, if the item said it has one. */
  private trappedHold(item: ItemState): HoldRow | undefined {
    return item.held ? this.s.trappedHoldForItem.get(item.id) as HoldRow | undefined : undefined;
  }

  /** The branch an operation happens at, when the operation records it on a loan or an item. */
  private requireBranch(branchId: string): void {
    if (this.knownBranches.has(branchId)) return;
    if (!this.s.branchExists.get(branchId)) refuse('BRANCH_NOT_FOUND', {}, { branchId });
    this.knownBranches.add(branchId);
  }

  private balance(patronId: number): number {
    return (this.s.balance.get(patronId) as { b: number }).b;
  }

  /** The blocks that stand against a patron now, in the order a desk would explain them. */
  private blocks(p: CircPatron, policy: Policy, now: Date, forCheckout: boolean): PatronBlock[] {
    const out: PatronBlock[] = [];
    if (p.card_lost) out.push('CARD_LOST');
    if (p.blocked_reason !== null) out.push('PATRON_BLOCKED');
    if (p.expiry_date < this.calendars.today(now)) out.push('CARD_EXPIRED');
    const { overdue, loans } = this.s.loanCounts.get(now.toISOString(), p.id) as { overdue: number; loans: number };
    if (overdue >= policy.blockOverdueItems) out.push('TOO_MANY_OVERDUE');
    if (policy.blockFinesCents > 0 && this.balance(p.id) >= policy.blockFinesCents) out.push('FINES_OVER_LIMIT');
    if (forCheckout && loans >= policy.maxLoans) out.push('MAX_LOANS_REACHED');
    return out;
  }

  /** What a kiosk or SIP2 patron status shows: blocks and counts. Not an operation; not logged. */
  patronStatus(ref: PatronRef, branchId: string): PatronStatus | null {
    const p = this.patronRow(ref);
    if (!p) return null;
    const now = this.clock.now();
    const policy = this.patronPolicy(branchId, p, '*');
    const c = this.s.loanCounts.get(now.toISOString(), p.id) as { overdue: number; loans: number };
    const h = this.s.holdCounts.get(p.id) as { waiting: number; ready: number };
    return {
      patronId: p.id, cardNumber: p.card_number, name: p.name, category: p.category, blocks: this.blocks(p, policy, now, true),
      loans: c.loans, overdue: c.overdue, holdsWaiting: h.waiting, holdsReady: h.ready, balanceCents: this.balance(p.id),
      expiryDate: p.expiry_date, blockedReason: p.blocked_reason,
    };
  }

  // ---- the transaction frame -------------------------------------------------------------------

  private run<T>(op: string, ctx: OpContext, body: (now: Date) => Outcome<T>): Result<T> {
    let event: CircEvent | null = null;
    const frame = (): Result<T> => {
      let reusedBy: string | null = null;
      if (ctx.txnId !== undefined) {
        const prior = this.s.getTxn.get(ctx.txnId) as { op: string; result: string } | undefined;
        if (prior && prior.op === op) return { ...(JSON.parse(prior.result) as Result<T>), replayed: true };
        reusedBy = prior?.op ?? null;
      }
      const now = ctx.at ?? this.clock.now();
      let outcome: Outcome<T>;
      if (reusedBy !== null) {
        // Refused and logged, but not stored: the id stays bound to its first operation.
        outcome = { result: refusal('TXN_ID_REUSED', { txnId: ctx.txnId, op: reusedBy }) };
      } else {
        try {
          outcome = body(now);
        } catch (e) {
          if (!(e instanceof Refused)) throw e;
          outcome = { result: refusal(e.code, e.detail), patronId: e.subjects.patronId, itemId: e.subjects.itemId };
        }
      }
      const { result: r } = outcome;
      const ts = now.toISOString();
      event = this.logEvent(ts, op, ctx, r.ok ? null : r.code, outcome, outcome.detail ?? (r.ok ? null : (r.detail ?? null)));
      if (ctx.txnId !== undefined && reusedBy === null) this.s.insertTxn.run(ctx.txnId, op, JSON.stringify(r), ts);
      return r;
    };
    let result: Result<T>;
    if (this.spareSavepoint) {
      // The first operation of a group-commit caller: the caller's own savepoint is this operation's.
      this.spareSavepoint = false;
      try {
        result = frame();
      } catch (error) {
        this.brokenOperation = { error };
        throw error;
      }
    } else {
      result = this.tx.immediate(frame) as Result<T>;
    }
    if (event) this.announce(event);
    return result;
  }

  /** Tells listeners now, or, inside a group commit, once the group has committed. */
  private announce(event: CircEvent) {
    if (this.deferred) this.deferred.push(event); else this.emit(event);
  }

  /** Writes one circulation event row; the caller hands the returned event to listeners after commit. */
  private logEvent(ts: string, op: string, ctx: OpContext, reason: ReasonCode | null, subjects: Omit<Outcome<unknown>, 'result'>,
    detail: Record<string, unknown> | null): CircEvent {
    const e: CircEvent = {
      id: 0, ts, op, outcome: reason === null ? 'ok' : 'refused', reason, channel: ctx.channel, actor: ctx.actor ?? null,
      branchId: ctx.branchId, patronId: subjects.patronId ?? null, itemId: subjects.itemId ?? null, loanId: subjects.loanId ?? null,
      holdId: subjects.holdId ?? null, detail,
    };
    e.id = Number(this.s.insertEvent.run(ts, op, e.outcome, reason, e.channel, e.actor, e.branchId, e.patronId, e.itemId, e.loanId,
      e.holdId, detail ? JSON.stringify(detail) : null).lastInsertRowid);
    return e;
  }

  private emit(event: CircEvent) {
    for (const l of this.listeners) { try { l(event); } catch (e) { console.error('circulation listener failed:', e); } }
  }

  // ---- views -----------------------------------------------------------------------------------

  private loanView(loanId: number): LoanView {
    const r = this.s.loanView.get(loanId) as LoanRow & { barcode: string; record_id: number; title: string };
    return toLoanView(r, r);
  }

  private itemBrief(itemId: number): ItemBrief {
    return toItemBrief(this.s.itemById.get(itemId) as CircItem);
  }

  /** Sets an item's circulation state, in the store and on the row in hand. */
  private moveItem(item: CircItem, status: ItemRow['status'], branchId: string | null, transitTo: string | null, ts: string) {
    this.s.setItemState.run(status, branchId, transitTo, ts, item.id);
    item.status = status;
    item.current_branch = branchId;
    item.transit_to = transitTo;
  }

  holdView(holdId: number): HoldView {
    const r = this.s.holdView.get(holdId) as HoldRow & { title: string };
    const position = r.status === 'waiting' ? (this.s.holdPosition.get(r.record_id, r.placed_at, r.placed_at, r.id) as { n: number }).n + 1 : null;
    return {
      id: r.id, recordId: r.record_id, title: r.title, patronId: r.patron_id, pickupBranch: r.pickup_branch, itemId: r.item_id,
      status: r.status, placedAt: r.placed_at, expiresAt: r.expires_at, pickupDeadline: r.pickup_deadline, queuePosition: position,
    };
  }

  // ---- operations ------------------------------------------------------------------------------

  checkout(patronRef: PatronRef, itemRef: ItemRef, ctx: OpContext): Result<CheckoutData> {
    return this.run<CheckoutData>('checkout', ctx, (now) => {
      this.requireBranch(ctx.branchId);
      const p = this.requirePatron(patronRef);
      const item = this.requireItem(itemRef, p.id);
      const subjects = { patronId: p.id, itemId: item.id };
      const open = openLoanOf(item);
      if (open) {
        // Koha and Evergreen: checking out what the patron already has is a renewal.
        if (open.patron_id === p.id) {
          const renewed = this.renewLoan(p, item, open, now, ctx);
          return { ...renewed, result: renewed.result.ok ? { ...renewed.result, patronId: p.id, renewal: true, fulfilledHoldId: null } : renewed.result } as Outcome<CheckoutData>;
        }
        refuse('ITEM_ON_LOAN', subjects);
      }
      const trapped = this.trappedHold(item);
      if (trapped && trapped.patron_id !== p.id) refuse('ITEM_ON_HOLD_FOR_OTHER', subjects, { holdId: trapped.id });
      if (['lost', 'missing', 'withdrawn', 'in_processing'].includes(item.status)) refuse('ITEM_NOT_AVAILABLE', subjects, { status: item.status });
      const policy = this.patronPolicy(ctx.branchId, p, item.item_type);
      if (policy.inLibraryOnly) refuse('IN_LIBRARY_USE_ONLY', subjects);
      const blocks = this.blocks(p, policy, now, true);
      if (blocks.length) refuse(blocks[0]!, subjects, blocks.length > 1 ? { blocks } : undefined);

      const ts = now.toISOString();
      const dueAt = this.calendars.dueAt(ctx.branchId, now, policy.loanDays).toISOString();
      const loanId = Number(this.s.insertLoan.run(item.id, p.id, ctx.branchId, ts, dueAt, ctx.channel).lastInsertRowid);
      this.moveItem(item, 'on_loan', ctx.branchId, null, ts);
      // A hold this patron had on the title is filled by this loan, trapped on this item or not.
      const filled = trapped ?? (item.record_holds ? this.s.firstActiveHoldOfPatron.get(item.record_id, p.id) as HoldRow | undefined : undefined);
      if (filled) {
        this.s.closeHold.run('fulfilled', ts, filled.id);
        // The hold was trapped on another copy: that copy is held for no one now.
        if (filled.item_id !== null && filled.item_id !== item.id) this.releaseTrappedItem(filled.item_id, now);
      }
      const loan = toLoanView({
        id: loanId, item_id: item.id, patron_id: p.id, branch_id: ctx.branchId, checked_out_at: ts, due_at: dueAt, renewals: 0, closed_at: null,
      }, item);
      return {
        result: { ok: true, loan, item: toItemBrief(item), patronId: p.id, dueAt, renewal: false, fulfilledHoldId: filled?.id ?? null },
        ...subjects, loanId, holdId: filled?.id ?? null, detail: { barcode: item.barcode, dueAt },
      };
    });
  }

  checkin(itemRef: ItemRef, ctx: OpContext): Result<CheckinData> {
    return this.run<CheckinData>('checkin', ctx, (now) => {
      this.requireBranch(ctx.branchId);
      const item = this.requireItem(itemRef);
      const ts = now.toISOString();
      const open = openLoanOf(item);
      let fineCents = 0;
      if (open) {
        this.s.closeLoan.run(ts, 'returned', ctx.branchId, open.id);
        fineCents = open.patron_id !== null ? this.chargeOverdue(open, item, now) : 0;
      }
      const foundLost = item.status === 'lost' || item.status === 'missing';
      const disposition = this.route(item, ctx.branchId, now);
      const loan = open ? toLoanView({ ...open, closed_at: ts }, item) : null;
      return {
        result: { ok: true, item: toItemBrief(item), loan, wasOnLoan: !!open, fineCents, disposition, foundLost },
        patronId: open?.patron_id ?? null, itemId: item.id, loanId: open?.id ?? null,
        holdId: 'holdId' in disposition ? disposition.holdId ?? null : null,
        detail: { barcode: item.barcode, disposition: disposition.action, ...(fineCents ? { fineCents } : {}) },
      };
    });
  }

  /** Overdue fine for a returned loan: the whole local days late beyond the grace days, times the daily fine, capped. */
  private chargeOverdue(loan: LoanRow, item: CircItem, now: Date): number {
    if (now.toISOString() <= loan.due_at) return 0; // not late: on or before the due date, local time
    const patron = this.s.patronById.get(loan.patron_id) as CircPatron | undefined;
    if (!patron) return 0;
    const policy = this.policies.resolve(loan.branch_id, patron.category, item.item_type);
    if (policy.finePerDayCents === 0) return 0;
    const tz = this.calendars.timeZone;
    const late = daysBetween(localDate(new Date(loan.due_at), tz), localDate(now, tz));
    const chargeable = late - policy.graceDays; // Koha with FinesIncludeGracePeriod off: grace days are never charged
    if (chargeable <= 0) return 0;
    const uncapped = chargeable * policy.finePerDayCents;
    const fine = policy.maxFineCents > 0 ? Math.min(uncapped, policy.maxFineCents) : uncapped; // 0 = no cap
    this.s.insertFee.run(patron.id, loan.id, 'overdue', fine, now.toISOString(), `${late} days late`);
    return fine;
  }

  /**
   * Where a returned (or re-scanned) item goes: to the hold shelf here when the title's first waiting
   * hold is picked up here, to transit for a hold elsewhere or for its home branch, else back on the shelf.
   */
  private route(item: ItemState, branchId: string, now: Date): Disposition {
    const ts = now.toISOString();
    const hold = this.trappedHold(item) ?? (item.record_holds ? this.s.firstWaitingHold.get(item.record_id, ts) as HoldRow | undefined : undefined);
    if (hold) {
      if (hold.pickup_branch === branchId) {
        const deadline = hold.pickup_deadline ?? this.calendars.endOfDay(this.calendars.openDaysAhead(branchId, now, this.holdPickupDays)).toISOString();
        this.s.trapHold.run(item.id, 'ready', deadline, hold.id);
        this.moveItem(item, 'on_hold_shelf', branchId, null, ts);
        return { action: 'hold_shelf', branchId, holdId: hold.id, patronId: hold.patron_id, pickupDeadline: deadline };
      }
      this.s.trapHold.run(item.id, 'in_transit', null, hold.id);
      this.moveItem(item, 'in_transit', branchId, hold.pickup_branch, ts);
      return { action: 'transit', branchId, to: hold.pickup_branch, holdId: hold.id };
    }
    if (item.home_branch !== branchId) {
      this.moveItem(item, 'in_transit', branchId, item.home_branch, ts);
      return { action: 'transit', branchId, to: item.home_branch };
    }
    this.moveItem(item, 'available', branchId, null, ts);
    return { action: 'reshelve', branchId, location: item.location };
  }

  private renewLoan(p: CircPatron, item: CircItem, loan: LoanRow, now: Date, ctx: OpContext): Outcome<RenewData> {
    const subjects = { patronId: p.id, itemId: item.id };
    const policy = this.patronPolicy(loan.branch_id, p, item.item_type);
    const blocks = this.blocks(p, policy, now, false);
    if (blocks.length) refuse(blocks[0]!, subjects);
    if (loan.renewals >= policy.renewals) refuse('RENEWAL_LIMIT', subjects, { renewals: loan.renewals, allowed: policy.renewals });
    const waiting = this.s.otherWaitingHolds.get(item.record_id, p.id, now.toISOString()) as { n: number };
    if (waiting.n > 0) refuse('ITEM_HAS_HOLDS', subjects, { holds: waiting.n });
    const proposed = this.calendars.dueAt(ctx.branchId, now, policy.renewalDays).toISOString();
    const dueAt = proposed > loan.due_at ? proposed : loan.due_at; // a renewal never shortens a loan
    this.s.renewLoan.run(dueAt, loan.id);
    return {
      result: { ok: true, loan: toLoanView({ ...loan, due_at: dueAt, renewals: loan.renewals + 1 }, item), item: toItemBrief(item), dueAt },
      ...subjects, loanId: loan.id, detail: { barcode: item.barcode, dueAt, renewals: loan.renewals + 1 },
    };
  }

  renew(patronRef: PatronRef, itemRef: ItemRef, ctx: OpContext): Result<RenewData> {
    return this.run<RenewData>('renew', ctx, (now) => {
      const p = this.requirePatron(patronRef);
      const item = this.requireItem(itemRef, p.id);
      const loan = openLoanOf(item);
      if (!loan) return refuse('ITEM_NOT_ON_LOAN', { patronId: p.id, itemId: item.id });
      if (loan.patron_id !== p.id) return refuse('NOT_LOANED_TO_PATRON', { patronId: p.id, itemId: item.id });
      return this.renewLoan(p, item, loan, now, ctx);
    });
  }

  renewAll(patronRef: PatronRef, ctx: OpContext): Result<RenewAllData> {
    return this.run<RenewAllData>('renew_all', ctx, (now) => {
      const p = this.requirePatron(patronRef);
      const renewed: RenewData[] = [];
      const refused: RenewAllData['refused'] = [];
      for (const loan of this.s.openLoansOfPatron.all(p.id) as LoanRow[]) {
        const item = this.s.itemById.get(loan.item_id) as CircItem;
        try {
          const r = this.renewLoan(p, item, loan, now, ctx).result;
          if (r.ok) renewed.push(r);
        } catch (e) {
          if (!(e instanceof Refused)) throw e;
          refused.push({ barcode: item.barcode, code: e.code, message: REASONS[e.code] });
        }
      }
      return { result: { ok: true, renewed, refused }, patronId: p.id, detail: { renewed: renewed.length, refused: refused.length } };
    });
  }

  placeHold(patronRef: PatronRef, recordId: number, pickupBranch: string, ctx: OpContext, expiresAt?: string): Result<HoldData> {
    return this.run<HoldData>('place_hold', ctx, (now) => {
      const p = this.requirePatron(patronRef);
      const subjects = { patronId: p.id };
      if (!this.s.recordExists.get(recordId)) refuse('RECORD_NOT_FOUND', subjects, { recordId });
      if (!this.s.branchExists.get(pickupBranch)) refuse('BRANCH_NOT_FOUND', subjects, { branchId: pickupBranch });
      const types = (this.s.lendableItemTypes.all(recordId) as { item_type: string }[]).map((r) => r.item_type);
      if (types.length === 0) refuse('RECORD_NOT_HOLDABLE', subjects, { recordId });
      const policy = this.policies.resolve(pickupBranch, p.category, types[0]!);
      const blocks = this.blocks(p, policy, now, false);
      if (blocks.length) refuse(blocks[0]!, subjects);
      if (!types.some((t) => this.policies.resolve(pickupBranch, p.category, t).holdsAllowed)) refuse('HOLDS_NOT_ALLOWED', subjects, { recordId });
      if (this.s.firstActiveHoldOfPatron.get(recordId, p.id)) refuse('HOLD_ALREADY_PLACED', subjects, { recordId });
      if (this.s.patronHasRecordOnLoan.get(p.id, recordId)) refuse('ALREADY_ON_LOAN_TO_PATRON', subjects, { recordId });
      if ((this.s.holdCounts.get(p.id) as { waiting: number; ready: number; active: number }).active >= policy.maxHolds) {
        refuse('MAX_HOLDS_REACHED', subjects, { max: policy.maxHolds });
      }
      const expires = expiresAt ?? this.calendars.endOfDay(addDays(this.calendars.today(now), this.holdExpiryDays)).toISOString();
      const holdId = Number(this.s.insertHold.run(recordId, p.id, pickupBranch, now.toISOString(), expires).lastInsertRowid);
      return { result: { ok: true, hold: this.holdView(holdId) }, ...subjects, holdId, detail: { recordId, pickupBranch } };
    });
  }

  /** Cancels a hold; a patron may cancel only their own (pass patronRef), staff any. */
  cancelHold(holdId: number, ctx: OpContext, patronRef?: PatronRef): Result<CancelHoldData> {
    return this.run<CancelHoldData>('cancel_hold', ctx, (now) => {
      const hold = this.s.holdById.get(holdId) as HoldRow | undefined;
      const owner = patronRef ? this.requirePatron(patronRef) : undefined;
      if (!hold || (owner && owner.id !== hold.patron_id)) return refuse('HOLD_NOT_FOUND', { patronId: owner?.id }, { holdId });
      if (!['waiting', 'in_transit', 'ready'].includes(hold.status)) refuse('HOLD_NOT_ACTIVE', { patronId: hold.patron_id }, { status: hold.status });
      this.s.closeHold.run('cancelled', now.toISOString(), hold.id);
      const released = hold.item_id !== null ? this.releaseTrappedItem(hold.item_id, now) : null;
      return {
        result: { ok: true, hold: this.holdView(hold.id), releasedItem: released }, patronId: hold.patron_id, itemId: hold.item_id, holdId: hold.id,
      };
    });
  }

  /** A trapped item whose hold ended becomes available; staff check it in again to route it. */
  private releaseTrappedItem(itemId: number, now: Date): { barcode: string } | null {
    const item = this.s.itemById.get(itemId) as CircItem;
    if (item.status !== 'on_hold_shelf' && item.status !== 'in_transit') return null;
    this.s.setItemState.run('available', item.current_branch, null, now.toISOString(), item.id);
    return { barcode: item.barcode };
  }

  /** Marks an item lost; when on loan, closes the loan and charges the borrower the replacement fee. */
  markLost(itemRef: ItemRef, ctx: OpContext): Result<LostData> {
    return this.run<LostData>('mark_lost', ctx, (now) => {
      const item = this.requireItem(itemRef);
      const ts = now.toISOString();
      const loan = openLoanOf(item);
      let feeCents = 0;
      if (loan) {
        this.s.closeLoan.run(ts, 'lost', null, loan.id);
        const patron = loan.patron_id !== null ? (this.s.patronById.get(loan.patron_id) as CircPatron | undefined) : undefined;
        if (patron) {
          feeCents = item.price_cents ?? this.policies.resolve(loan.branch_id, patron.category, item.item_type).lostFeeCents;
          if (feeCents > 0) this.s.insertFee.run(patron.id, loan.id, 'lost', feeCents, ts, `lost: ${item.barcode}`);
        }
      }
      const trapped = this.trappedHold(item);
      if (trapped) this.s.untrapHold.run(trapped.id); // its patron goes back to waiting for another copy
      this.s.setItemState.run('lost', item.current_branch, null, ts, item.id);
      return {
        result: { ok: true, item: this.itemBrief(item.id), feeCents, loan: loan ? this.loanView(loan.id) : null },
        patronId: loan?.patron_id ?? null, itemId: item.id, loanId: loan?.id ?? null, detail: { barcode: item.barcode, feeCents },
      };
    });
  }

  /** Pays toward the patron's open fees, oldest first. */
  payFee(patronRef: PatronRef, amountCents: number, ctx: OpContext): Result<PayData> {
    return this.run<PayData>('pay_fee', ctx, (now) => {
      const p = this.requirePatron(patronRef);
      if (!Number.isSafeInteger(amountCents) || amountCents <= 0) refuse('PAYMENT_INVALID', { patronId: p.id }, { amountCents });
      const balance = this.balance(p.id);
      if (balance === 0) refuse('NO_BALANCE', { patronId: p.id });
      if (amountCents > balance) refuse('PAYMENT_EXCEEDS_BALANCE', { patronId: p.id }, { amountCents, balanceCents: balance });
      let left = amountCents;
      for (const fee of this.s.openFees.all(p.id) as { id: number; owed: number }[]) {
        const pay = Math.min(left, fee.owed);
        this.s.payFee.run(pay, fee.id);
        left -= pay;
        if (left === 0) break;
      }
      this.s.insertPayment.run(p.id, amountCents, now.toISOString(), ctx.channel);
      return { result: { ok: true, paidCents: amountCents, balanceCents: balance - amountCents }, patronId: p.id, detail: { amountCents } };
    });
  }

  /** Changes a waiting hold's pickup branch or expiry; a patron may change only their own (pass patronRef). */
  changeHold(holdId: number, change: HoldChange, ctx: OpContext, patronRef?: PatronRef): Result<HoldData> {
    return this.run<HoldData>('change_hold', ctx, () => {
      const hold = this.s.holdById.get(holdId) as HoldRow | undefined;
      const owner = patronRef ? this.requirePatron(patronRef) : undefined;
      if (!hold || (owner && owner.id !== hold.patron_id)) return refuse('HOLD_NOT_FOUND', { patronId: owner?.id }, { holdId });
      const subjects = { patronId: hold.patron_id };
      if (!['waiting', 'in_transit', 'ready'].includes(hold.status)) refuse('HOLD_NOT_ACTIVE', subjects, { status: hold.status });
      const pickupBranch = change.pickupBranch ?? hold.pickup_branch;
      if (pickupBranch !== hold.pickup_branch) {
        if (!this.s.branchExists.get(pickupBranch)) refuse('BRANCH_NOT_FOUND', subjects, { branchId: pickupBranch });
        if (hold.status !== 'waiting') refuse('HOLD_ALREADY_TRAPPED', subjects, { status: hold.status });
      }
      const expiresAt = change.expiresAt ?? hold.expires_at;
      this.s.changeHold.run(pickupBranch, expiresAt, hold.id);
      return { result: { ok: true, hold: this.holdView(hold.id) }, ...subjects, holdId: hold.id, detail: { pickupBranch, expiresAt } };
    });
  }

  // ---- reads for adapters (SIP2): no rules decided here, nothing logged -------------------------

  /** The whole patron record (contacts, PIN hash), for adapters. */
  findPatron(ref: PatronRef): PatronRow | undefined {
    if ('patronId' in ref) return this.s.fullPatronById.get(ref.patronId) as PatronRow | undefined;
    if ('cardNumber' in ref) return this.s.fullPatronByCard.get(ref.cardNumber) as PatronRow | undefined;
    return this.s.fullPatronByTag.get(ref.cardTagUid) as PatronRow | undefined;
  }

  /** The whole item record (tag, owner, price), with its title, for adapters. */
  findItem(ref: ItemRef): (ItemRow & { title: string }) | undefined {
    if ('itemId' in ref) return this.s.fullItemById.get(ref.itemId) as (ItemRow & { title: string }) | undefined;
    if ('barcode' in ref) return this.s.fullItemByBarcode.get(ref.barcode) as (ItemRow & { title: string }) | undefined;
    return this.s.fullItemByTag.get(ref.tagUid) as (ItemRow & { title: string }) | undefined;
  }

  /** A patron's card number, as a checkin answer names the borrower. */
  cardNumberOf(patronId: number): string | undefined {
    return this.s.cardNumberOf.get(patronId) as string | undefined;
  }

  itemCirculation(itemId: number): ItemCirculation {
    const item = this.s.itemStateById.get(itemId) as ItemState;
    const open = openLoanOf(item);
    const next = this.trappedHold(item) ?? (item.record_holds ? this.s.firstWaitingHold.get(item.record_id, this.clock.now().toISOString()) as HoldRow | undefined : undefined);
    return {
      loan: open ? this.loanView(open.id) : null,
      holdQueueLength: (this.s.activeHoldsOnRecord.get(item.record_id) as { n: number }).n,
      nextHold: next ? this.holdView(next.id) : null,
    };
  }

  patronAccount(patronId: number): PatronAccount {
    const now = this.clock.now().toISOString();
    const loans = (this.s.openLoansOfPatron.all(patronId) as LoanRow[]).map((l) => ({ ...this.loanView(l.id), overdue: l.due_at < now }));
    const holds = (this.s.activeHoldsOfPatron.all(patronId) as { id: number; barcode: string | null }[])
      .map((h) => ({ ...this.holdView(h.id), barcode: h.barcode }));
    const fees = (this.s.openFeesOfPatron.all(patronId) as { id: number; kind: AccountFee['kind']; amount_cents: number; owed: number; created_at: string; note: string | null; barcode: string | null }[])
      .map((f) => ({ id: f.id, kind: f.kind, amountCents: f.amount_cents, owedCents: f.owed, createdAt: f.created_at, note: f.note, barcode: f.barcode }));
    return { loans, holds, fees };
  }

  /** Ends waiting holds past their expiry and ready holds past their pickup deadline; one event per hold. */
  expireHolds(ctx: OpContext): { expired: number; releasedItems: string[] } {
    const now = ctx.at ?? this.clock.now();
    const ts = now.toISOString();
    const releasedItems: string[] = [];
    const events: CircEvent[] = [];
    this.tx.immediate(() => {
      for (const h of this.s.expiredHolds.all(ts, ts) as HoldRow[]) {
        this.s.closeHold.run('expired', ts, h.id);
        events.push(this.logEvent(ts, 'expire_hold', ctx, null, { patronId: h.patron_id, itemId: h.item_id, holdId: h.id }, null));
        if (h.item_id !== null) {
          const released = this.releaseTrappedItem(h.item_id, now);
          if (released) releasedItems.push(released.barcode);
        }
      }
    });
    for (const e of events) this.announce(e);
    return { expired: events.length, releasedItems };
  }
}

function prepare(db: Db) {
  const fullItem = 'SELECT item.*, record.title FROM item JOIN record ON record.id = item.record_id';
  const q = (sql: string): Statement => db.prepare(sql);
  return {
    patronById: q(`${PATRON_WITH_EXTRAS} WHERE p.id = ?`),
    patronByCard: q(`${PATRON_WITH_EXTRAS} WHERE p.card_number = ?`),
    patronByTag: q(`${PATRON_WITH_EXTRAS} WHERE p.card_tag_uid = ?`),
    itemById: q(`${CIRC_ITEM} WHERE item.id = ?`),
    itemStateById: q(`${ITEM_STATE} WHERE item.id = ?`),
    itemStateByBarcode: q(`${ITEM_STATE} WHERE item.barcode = ?`),
    itemStateByTag: q(`${ITEM_STATE} WHERE item.tag_uid = ?`),
    fullPatronById: q('SELECT * FROM patron WHERE id = ?'),
    fullPatronByCard: q('SELECT * FROM patron WHERE card_number = ?'),
    fullPatronByTag: q('SELECT * FROM patron WHERE card_tag_uid = ?'),
    fullItemById: q(`${fullItem} WHERE item.id = ?`),
    fullItemByBarcode: q(`${fullItem} WHERE item.barcode = ?`),
    fullItemByTag: q(`${fullItem} WHERE item.tag_uid = ?`),
    cardNumberOf: q('SELECT card_number FROM patron WHERE id = ?').pluck(),
    recordExists: q('SELECT 1 FROM record WHERE id = ?'),
    branchExists: q('SELECT 1 FROM branch WHERE id = ?'),
    lendableItemTypes: q("SELECT DISTINCT item_type FROM item WHERE record_id = ? AND status NOT IN ('lost', 'missing', 'withdrawn')"),
    balance: q('SELECT coalesce(sum(amount_cents - paid_cents), 0) AS b FROM fee WHERE patron_id = ? AND paid_cents < amount_cents'),
    openFees: q('SELECT id, amount_cents - paid_cents AS owed FROM fee WHERE patron_id = ? AND paid_cents < amount_cents ORDER BY created_at, id'),
    payFee: q('UPDATE fee SET paid_cents = paid_cents + ? WHERE id = ?'),
    insertPayment: q('INSERT INTO payment (patron_id, amount_cents, paid_at, channel) VALUES (?, ?, ?, ?)'),
    insertFee: q('INSERT INTO fee (patron_id, loan_id, kind, amount_cents, created_at, note) VALUES (?, ?, ?, ?, ?, ?)'),
    // INDEXED BY: a patron's open loans are the head of their range in loan_patron (closed_at NULL first);
    // with table statistics SQLite may prefer another index, and every checkout would then grow with history.
    loanCounts: q('SELECT count(*) AS loans, coalesce(sum(due_at < ?), 0) AS overdue FROM loan INDEXED BY loan_patron WHERE patron_id = ? AND closed_at IS NULL'),
    holdCounts: q(`SELECT coalesce(sum(status IN ('waiting', 'in_transit')), 0) AS waiting, coalesce(sum(status = 'ready'), 0) AS ready,
      count(*) AS active FROM hold WHERE patron_id = ? AND ${ACTIVE_HOLD}`),
    openLoansOfPatron: q(`SELECT ${LOAN_COLUMNS} FROM loan INDEXED BY loan_patron WHERE patron_id = ? AND closed_at IS NULL ORDER BY due_at`),
    patronHasRecordOnLoan: q('SELECT 1 FROM loan INDEXED BY loan_patron JOIN item ON item.id = loan.item_id WHERE loan.patron_id = ? AND item.record_id = ? AND loan.closed_at IS NULL'),
    insertLoan: q('INSERT INTO loan (item_id, patron_id, branch_id, checked_out_at, due_at, channel) VALUES (?, ?, ?, ?, ?, ?)'),
    closeLoan: q('UPDATE loan SET closed_at = ?, close_reason = ?, return_branch = ? WHERE id = ?'),
    renewLoan: q('UPDATE loan SET due_at = ?, renewals = renewals + 1 WHERE id = ?'),
    loanView: q('SELECT loan.*, item.barcode, item.record_id, record.title FROM loan JOIN item ON item.id = loan.item_id JOIN record ON record.id = item.record_id WHERE loan.id = ?'),
    setItemState: q('UPDATE item SET status = ?, current_branch = ?, transit_to = ?, updated_at = ? WHERE id = ?'),
    trappedHoldForItem: q("SELECT * FROM hold WHERE item_id = ? AND status IN ('in_transit', 'ready')"),
    firstWaitingHold: q("SELECT * FROM hold WHERE record_id = ? AND status = 'waiting' AND (expires_at IS NULL OR expires_at > ?) ORDER BY placed_at, id LIMIT 1"),
    firstActiveHoldOfPatron: q(`SELECT * FROM hold WHERE record_id = ? AND patron_id = ? AND ${ACTIVE_HOLD} ORDER BY placed_at LIMIT 1`),
    // Holds past their expiry no longer count, as in firstWaitingHold, though housekeeping has not closed them yet.
    otherWaitingHolds: q(`SELECT count(*) AS n FROM hold WHERE record_id = ? AND patron_id <> ? AND ${ACTIVE_HOLD} AND item_id IS NULL
      AND (expires_at IS NULL OR expires_at > ?)`),
    holdById: q('SELECT * FROM hold WHERE id = ?'),
    holdView: q('SELECT hold.*, record.title FROM hold JOIN record ON record.id = hold.record_id WHERE hold.id = ?'),
    holdPosition: q("SELECT count(*) AS n FROM hold WHERE record_id = ? AND status = 'waiting' AND (placed_at < ? OR (placed_at = ? AND id < ?))"),
    insertHold: q("INSERT INTO hold (record_id, patron_id, pickup_branch, status, placed_at, expires_at) VALUES (?, ?, ?, 'waiting', ?, ?)"),
    trapHold: q('UPDATE hold SET item_id = ?, status = ?, pickup_deadline = ? WHERE id = ?'),
    untrapHold: q("UPDATE hold SET item_id = NULL, status = 'waiting', pickup_deadline = NULL WHERE id = ?"),
    closeHold: q('UPDATE hold SET status = ?, closed_at = ? WHERE id = ?'),
    expiredHolds: q("SELECT * FROM hold WHERE (status = 'waiting' AND expires_at <= ?) OR (status = 'ready' AND pickup_deadline <= ?)"),
    insertEvent: q(`INSERT INTO circ_event (ts, op, outcome, reason, channel, actor, branch_id, patron_id, item_id, loan_id, hold_id, detail)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    changeHold: q('UPDATE hold SET pickup_branch = ?, expires_at = ? WHERE id = ?'),
    activeHoldsOnRecord: q(`SELECT count(*) AS n FROM hold WHERE record_id = ? AND ${ACTIVE_HOLD}`),
    activeHoldsOfPatron: q(`SELECT hold.id, item.barcode FROM hold LEFT JOIN item ON item.id = hold.item_id
      WHERE hold.patron_id = ? AND hold.${ACTIVE_HOLD} ORDER BY hold.placed_at, hold.id`),
    openFeesOfPatron: q(`SELECT fee.id, fee.kind, fee.amount_cents, fee.amount_cents - fee.paid_cents AS owed, fee.created_at, fee.note, item.barcode
      FROM fee LEFT JOIN loan ON loan.id = fee.loan_id LEFT JOIN item ON item.id = loan.item_id
      WHERE fee.patron_id = ? AND fee.paid_cents < fee.amount_cents ORDER BY fee.created_at, fee.id`),
    getTxn: q('SELECT op, result FROM client_txn WHERE txn_id = ?'),
    insertTxn: q('INSERT INTO client_txn (txn_id, op, result, at) VALUES (?, ?, ?, ?)'),
  };
}
