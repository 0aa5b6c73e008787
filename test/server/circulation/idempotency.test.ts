import { afterEach, describe, expect, it } from 'vitest';
import { closeLibraries, DAY, desk, expectRefused, granted, kioskAt, openLibrary, type Library } from './library.js';

let lib: Library;
afterEach(closeLibraries);

const count = (table: string) => (lib.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

describe('client transaction ids', () => {
  it('never checks an item out twice: the retry returns the first loan, marked replayed', () => {
    lib = openLibrary();
    const patron = lib.patron();
    const item = lib.book();
    const ctx = { ...kioskAt('main'), txnId: 'kiosk-main-000001' };
    const first = granted(lib.circ.checkout({ patronId: patron.id }, { itemId: item.id }, ctx));
    expect(first.replayed).toBeUndefined();
    lib.clock.advance(5_000);

    const retry = granted(lib.circ.checkout({ patronId: patron.id }, { itemId: item.id }, ctx));
    expect(retry.replayed).toBe(true);
    expect(retry.loan.id).toBe(first.loan.id);
    expect({ ...retry, replayed: undefined }).toEqual(first);
    expect(retry.renewal).toBe(false); // not turned into a renewal of its own loan
    expect(count('loan')).toBe(1);
    expect(lib.openLoans(item.id)[0]).toMatchObject({ renewals: 0 });
    expect(count('client_txn')).toBe(1);
    expect(lib.events().filter((e) => e.op === 'checkout')).toHaveLength(1);
  });

  it('does not lend again when a checkout is retried after the item came back', () => {
    lib = openLibrary();
    const patron = lib.patron();
    const item = lib.book();
    const ctx = { ...desk, channel: 'sip2' as const, txnId: 'sip2-42' };
    const first = granted(lib.circ.checkout({ patronId: patron.id }, { itemId: item.id }, ctx));
    granted(lib.circ.checkin({ itemId: item.id }, { ...desk, txnId: 'sip2-43' }));

    const late = granted(lib.circ.checkout({ patronId: patron.id }, { itemId: item.id }, ctx));
    expect(late).toMatchObject({ replayed: true, loan: { id: first.loan.id } });
    expect(lib.openLoans(item.id)).toEqual([]);
    expect(lib.itemRow(item.id)).toMatchObject({ status: 'available' });
  });

  it('replays a refusal as the same refusal, even when the operation would now succeed', () => {
    lib = openLibrary();
    const [holder, other] = [lib.patron(), lib.patron()];
    const item = lib.book();
    granted(lib.circ.checkout({ patronId: holder.id }, { itemId: item.id }, desk));
    const ctx = { ...kioskAt('main'), txnId: 'kiosk-7' };
    const refused = lib.circ.checkout({ patronId: other.id }, { itemId: item.id }, ctx);
    expectRefused(refused, 'ITEM_ON_LOAN');
    granted(lib.circ.checkin({ itemId: item.id }, desk));

    const retry = lib.circ.checkout({ patronId: other.id }, { itemId: item.id }, ctx);
    expectRefused(retry, 'ITEM_ON_LOAN');
    expect(retry).toEqual({ ...refused, replayed: true });
    expect(lib.openLoans(item.id)).toEqual([]);
  });

  it('refuses an id reused for another operation, and keeps it bound to the first', () => {
    lib = openLibrary();
    const patron = lib.patron();
    const item = lib.book();
    const first = granted(lib.circ.checkout({ patronId: patron.id }, { itemId: item.id }, { ...desk, txnId: 't-1' }));

    const reused = lib.circ.checkin({ itemId: item.id }, { ...desk, txnId: 't-1' });
    expectRefused(reused, 'TXN_ID_REUSED');
    expect(!reused.ok && reused.detail).toEqual({ txnId: 't-1', op: 'checkout' });
    expect(lib.openLoans(item.id)).toHaveLength(1);

    expect(granted(lib.circ.checkout({ patronId: patron.id }, { itemId: item.id }, { ...desk, txnId: 't-1' }))).toMatchObject({ replayed: true, loan: { id: first.loan.id } });
    expectRefused(lib.circ.checkin({ itemId: item.id }, { ...desk, txnId: 't-1' }), 'TXN_ID_REUSED');
    expect(lib.db.prepare('SELECT op FROM client_txn').all()).toEqual([{ op: 'checkout' }]);
  });

  it('makes renewals, payments and holds idempotent too', () => {
    lib = openLibrary();
    lib.rule({ patronCategory: 'undergraduate', blockFinesCents: 0 });
    const patron = lib.patron();
    const item = lib.book();
    granted(lib.circ.checkout({ patronId: patron.id }, { itemId: item.id }, desk));
    lib.clock.advance(20 * DAY);
    const renew = { ...desk, txnId: 'renew-1' };
    granted(lib.circ.renew({ patronId: patron.id }, { itemId: item.id }, renew));
    expect(granted(lib.circ.renew({ patronId: patron.id }, { itemId: item.id }, renew)).replayed).toBe(true);
    expect(lib.openLoans(item.id)[0]).toMatchObject({ renewals: 1 });

    granted(lib.circ.markLost({ itemId: item.id }, desk));
    const pay = { ...desk, txnId: 'pay-1' };
    granted(lib.circ.payFee({ patronId: patron.id }, 1000, pay));
    expect(granted(lib.circ.payFee({ patronId: patron.id }, 1000, pay))).toMatchObject({ replayed: true, balanceCents: 4000 });
    expect(count('payment')).toBe(1);

    const recordId = lib.book().recordId;
    const place = { ...desk, txnId: 'hold-1' };
    const hold = granted(lib.circ.placeHold({ patronId: patron.id }, recordId, 'main', place)).hold;
    expect(granted(lib.circ.placeHold({ patronId: patron.id }, recordId, 'main', place))).toMatchObject({ replayed: true, hold: { id: hold.id } });
    expect(count('hold')).toBe(1);
  });

  it('lets operations without an id run every time', () => {
    lib = openLibrary();
    const patron = lib.patron();
    const item = lib.book();
    granted(lib.circ.checkout({ patronId: patron.id }, { itemId: item.id }, desk));
    expect(granted(lib.circ.checkout({ patronId: patron.id }, { itemId: item.id }, desk)).renewal).toBe(true);
    expect(count('client_txn')).toBe(0);
  });
});
