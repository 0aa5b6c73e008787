import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CircEvent, OpContext, Result } from '../../../server/circulation/circulation.js';
import { closeLibraries, desk, granted, openLibrary, type Library } from './library.js';

let lib: Library;
afterEach(() => { vi.restoreAllMocks(); closeLibraries(); });

describe('the circulation event log', () => {
  it('writes exactly one event per operation, with its channel, actor and branch', () => {
    lib = openLibrary();
    lib.rule({ patronCategory: 'undergraduate', blockFinesCents: 0 });
    const patron = lib.patron();
    const [a, b] = [lib.book(), lib.book()];
    const holdOn = lib.book();
    let holdId = 0;
    const steps: [string, OpContext, (ctx: OpContext) => Result<unknown>][] = [
      ['checkout', { channel: 'kiosk', branchId: 'main', actor: 'kiosk-1' }, (ctx) => lib.circ.checkout({ patronId: patron.id }, { itemId: a.id }, ctx)],
      ['checkout', { channel: 'sip2', branchId: 'east', actor: 'sip2-east' }, (ctx) => lib.circ.checkout({ patronId: patron.id }, { itemId: b.id }, ctx)],
      ['renew', { channel: 'opac', branchId: 'main', actor: `patron:${patron.id}` }, (ctx) => lib.circ.renew({ patronId: patron.id }, { itemId: a.id }, ctx)],
      ['renew_all', { channel: 'sip2', branchId: 'main', actor: 'sip2-main' }, (ctx) => lib.circ.renewAll({ patronId: patron.id }, ctx)],
      ['place_hold', { channel: 'opac', branchId: 'main', actor: 'patron' }, (ctx) => {
        const r = lib.circ.placeHold({ patronId: patron.id }, holdOn.recordId, 'east', ctx);
        holdId = granted(r).hold.id;
        return r;
      }],
      ['change_hold', { channel: 'opac', branchId: 'main', actor: 'patron' }, (ctx) => lib.circ.changeHold(holdId, { pickupBranch: 'main' }, ctx)],
      ['cancel_hold', { channel: 'desk', branchId: 'east', actor: 'librarian-2' }, (ctx) => lib.circ.cancelHold(holdId, ctx)],
      ['checkin', { channel: 'kiosk', branchId: 'east', actor: 'returns-slot' }, (ctx) => lib.circ.checkin({ itemId: a.id }, ctx)],
      ['mark_lost', { channel: 'desk', branchId: 'main', actor: 'librarian-1' }, (ctx) => lib.circ.markLost({ itemId: b.id }, ctx)],
      ['pay_fee', { channel: 'kiosk', branchId: 'main', actor: 'kiosk-1' }, (ctx) => lib.circ.payFee({ patronId: patron.id }, 100, ctx)],
    ];
    for (const [op, ctx, run] of steps) {
      const before = lib.events().length;
      granted(run(ctx));
      const events = lib.events();
      expect(events, op).toHaveLength(before + 1);
      expect(events.at(-1), op).toMatchObject({ op, outcome: 'ok', reason: null, channel: ctx.channel, actor: ctx.actor, branch_id: ctx.branchId });
      lib.clock.advance(60_000);
    }
    expect(lib.events().filter((e) => e.patron_id === patron.id)).toHaveLength(steps.length);
  });

  it('does not log a patron status look-up', () => {
    lib = openLibrary();
    const patron = lib.patron();
    expect(lib.circ.patronStatus({ patronId: patron.id }, 'main')).toMatchObject({ blocks: [], loans: 0 });
    expect(lib.circ.patronStatus({ cardNumber: 'nobody' }, 'main')).toBeNull();
    expect(lib.events()).toEqual([]);
  });

  it('tells listeners after the transaction commits, with the logged event', () => {
    lib = openLibrary();
    const other = new Database(join(lib.dir, 'library.db'), { readonly: true });
    const patron = lib.patron();
    const item = lib.book();
    const heard: { event: CircEvent; committedLoans: number }[] = [];
    lib.circ.onEvent((event) => {
      // A second connection sees only committed data.
      const committedLoans = (other.prepare('SELECT count(*) AS n FROM loan').get() as { n: number }).n;
      heard.push({ event, committedLoans });
    });

    const loan = granted(lib.circ.checkout({ patronId: patron.id }, { itemId: item.id }, { ...desk, actor: 'librarian-9' })).loan;
    other.close();

    expect(heard).toHaveLength(1);
    expect(heard[0]!.committedLoans).toBe(1);
    const row = lib.lastEvent()!;
    expect(heard[0]!.event).toEqual({
      id: row.id, ts: row.ts, op: 'checkout', outcome: 'ok', reason: null, channel: 'desk', actor: 'librarian-9', branchId: 'main',
      patronId: patron.id, itemId: item.id, loanId: loan.id, holdId: null, detail: JSON.parse(row.detail as string),
    });
    expect(heard[0]!.event.detail).toEqual({ barcode: item.barcode, dueAt: loan.dueAt });
  });

  it('tells listeners about refusals too, but not about replays', () => {
    lib = openLibrary();
    const heard: CircEvent[] = [];
    lib.circ.onEvent((e) => heard.push(e));
    const ctx = { ...desk, txnId: 'x-1' };
    lib.circ.checkout({ cardNumber: 'nobody' }, { barcode: 'nothing' }, ctx);
    lib.circ.checkout({ cardNumber: 'nobody' }, { barcode: 'nothing' }, ctx);
    expect(heard).toEqual([expect.objectContaining({ op: 'checkout', outcome: 'refused', reason: 'PATRON_NOT_FOUND' })]);
    expect(lib.events()).toHaveLength(1);
  });

  it('keeps the operation when a listener throws, and stops telling a listener that unsubscribed', () => {
    lib = openLibrary();
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const heard: string[] = [];
    lib.circ.onEvent(() => { throw new Error('listener broke'); });
    const off = lib.circ.onEvent((e) => heard.push(e.op));
    const item = lib.book();
    granted(lib.circ.checkout({ patronId: lib.patron().id }, { itemId: item.id }, desk));
    expect(lib.openLoans(item.id)).toHaveLength(1);
    expect(errors).toHaveBeenCalledWith('circulation listener failed:', expect.objectContaining({ message: 'listener broke' }));
    expect(heard).toEqual(['checkout']);

    off();
    granted(lib.circ.checkin({ itemId: item.id }, desk));
    expect(heard).toEqual(['checkout']);
  });

  it('rolls back the whole operation, event included, when the store fails', () => {
    lib = openLibrary();
    const item = lib.book();
    const patron = lib.patron();
    const heard: CircEvent[] = [];
    lib.circ.onEvent((e) => heard.push(e));
    lib.db.exec("CREATE TRIGGER fail_loan BEFORE INSERT ON loan BEGIN SELECT RAISE(ABORT, 'disk on fire'); END");
    expect(() => lib.circ.checkout({ patronId: patron.id }, { itemId: item.id }, { ...desk, txnId: 'f-1' })).toThrow('disk on fire');
    expect(lib.events()).toEqual([]);
    expect(lib.itemRow(item.id)).toMatchObject({ status: 'available' });
    expect(lib.db.prepare('SELECT count(*) AS n FROM client_txn').get()).toEqual({ n: 0 });
    expect(heard).toEqual([]);

    // The same id works once the store is healthy again.
    lib.db.exec('DROP TRIGGER fail_loan');
    granted(lib.circ.checkout({ patronId: patron.id }, { itemId: item.id }, { ...desk, txnId: 'f-1' }));
  });
});
