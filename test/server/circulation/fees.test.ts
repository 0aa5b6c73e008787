import { afterEach, describe, expect, it } from 'vitest';
import { closeLibraries, desk, expectRefused, granted, openLibrary, type Library } from './library.js';

let lib: Library;
afterEach(closeLibraries);

const fees = () => lib.db.prepare('SELECT patron_id, loan_id, kind, amount_cents, paid_cents, note FROM fee ORDER BY id').all();
const balance = (patronId: number) => lib.circ.patronStatus({ patronId }, 'main')!.balanceCents;

/** Lends a book on Monday 2 March (due Monday 30 March, 23:59:59 Shanghai) and returns it at `returnedAt`. */
function returnLate(returnedAt: string, rule: { finePerDayCents: number; graceDays: number; maxFineCents: number }) {
  lib = openLibrary();
  lib.rule({ patronCategory: 'undergraduate', ...rule });
  const patron = lib.patron();
  const item = lib.book();
  const loan = granted(lib.circ.checkout({ patronId: patron.id }, { itemId: item.id }, desk)).loan;
  expect(loan.dueAt).toBe('2026-03-30T15:59:59.000Z');
  lib.clock.set(returnedAt);
  return { patron, item, loan, checkin: granted(lib.circ.checkin({ itemId: item.id }, desk)) };
}

describe('overdue fines', () => {
  const rule = { finePerDayCents: 50, graceDays: 2, maxFineCents: 500 };

  it('charges nothing for a return on the due date or within the grace days', () => {
    expect(returnLate('2026-03-30T15:59:00.000Z', rule).checkin.fineCents).toBe(0);
    expect(returnLate('2026-04-01T15:00:00.000Z', rule).checkin.fineCents).toBe(0); // 2 days late
    expect(fees()).toEqual([]);
  });

  it('charges the days late beyond the grace days times the fine per day', () => {
    const { patron, loan, checkin } = returnLate('2026-04-04T02:00:00.000Z', rule); // Saturday 4 April: 5 days late
    expect(checkin.fineCents).toBe(150); // (5 − 2) × 50
    expect(fees()).toEqual([{ patron_id: patron.id, loan_id: loan.id, kind: 'overdue', amount_cents: 150, paid_cents: 0, note: '5 days late' }]);
    expect(balance(patron.id)).toBe(150);
    expect(JSON.parse(lib.lastEvent()!.detail as string)).toMatchObject({ fineCents: 150 });
  });

  it('counts days late in the library time zone', () => {
    // 16:30 UTC on 30 March is already 00:30 on 31 March in Shanghai: one day late.
    expect(returnLate('2026-03-30T16:30:00.000Z', { finePerDayCents: 50, graceDays: 0, maxFineCents: 0 }).checkin.fineCents).toBe(50);
  });

  it('caps the fine, and a cap of 0 means no cap', () => {
    expect(returnLate('2026-04-30T02:00:00.000Z', rule).checkin.fineCents).toBe(500);   // 31 days late: 29 × 50 = 1450 → 500
    expect(returnLate('2026-04-30T02:00:00.000Z', { ...rule, maxFineCents: 0 }).checkin.fineCents).toBe(1450);
  });

  it('charges nothing under a fine-free policy', () => {
    expect(returnLate('2026-04-30T02:00:00.000Z', { ...rule, finePerDayCents: 0 }).checkin.fineCents).toBe(0);
    expect(fees()).toEqual([]);
  });
});

describe('lost items', () => {
  it('closes the loan, charges the borrower the replacement fee and marks the item lost', () => {
    lib = openLibrary();
    const patron = lib.patron();
    const item = lib.book();
    const loan = granted(lib.circ.checkout({ patronId: patron.id }, { itemId: item.id }, desk)).loan;
    lib.clock.advance(60_000);

    const r = granted(lib.circ.markLost({ barcode: item.barcode }, desk));
    expect(r).toMatchObject({ feeCents: 5000, item: { status: 'lost' }, loan: { id: loan.id, closedAt: lib.clock.now().toISOString() } });
    expect(lib.db.prepare('SELECT close_reason FROM loan WHERE id = ?').get(loan.id)).toEqual({ close_reason: 'lost' });
    expect(lib.openLoans(item.id)).toEqual([]);
    expect(fees()).toEqual([{ patron_id: patron.id, loan_id: loan.id, kind: 'lost', amount_cents: 5000, paid_cents: 0, note: `lost: ${item.barcode}` }]);
    expect(lib.lastEvent()).toMatchObject({ op: 'mark_lost', outcome: 'ok', patron_id: patron.id, item_id: item.id, loan_id: loan.id });
    expect(lib.circ.patronStatus({ patronId: patron.id }, 'main')).toMatchObject({ loans: 0, balanceCents: 5000, blocks: ['FINES_OVER_LIMIT'] });
  });

  it("charges the item's own price over the policy fee, and the item type's policy fee over the default", () => {
    lib = openLibrary();
    lib.rule({ itemType: 'dvd', lostFeeCents: 3000 });
    const patron = lib.patron();
    const priced = lib.book({ priceCents: 8800 });
    const dvd = lib.book({ itemType: 'dvd' });
    for (const i of [priced, dvd]) granted(lib.circ.checkout({ patronId: patron.id }, { itemId: i.id }, desk));
    expect(granted(lib.circ.markLost({ itemId: priced.id }, desk)).feeCents).toBe(8800);
    expect(granted(lib.circ.markLost({ itemId: dvd.id }, desk)).feeCents).toBe(3000);
  });

  it('charges no one for an item lost from the shelf, and sends a trapped hold back to the queue', () => {
    lib = openLibrary();
    const item = lib.book();
    const hold = granted(lib.circ.placeHold({ patronId: lib.patron().id }, item.recordId, 'main', desk)).hold;
    granted(lib.circ.checkin({ itemId: item.id }, desk));
    const r = granted(lib.circ.markLost({ itemId: item.id }, desk));
    expect(r).toMatchObject({ feeCents: 0, loan: null, item: { status: 'lost' } });
    expect(fees()).toEqual([]);
    expect(lib.circ.holdView(hold.id)).toMatchObject({ status: 'waiting', itemId: null, pickupDeadline: null, queuePosition: 1 });
  });
});

describe('paying fees', () => {
  it('pays the oldest fee first, records the payment, and refuses more than is owed', () => {
    lib = openLibrary();
    lib.rule({ patronCategory: 'undergraduate', finePerDayCents: 50, blockFinesCents: 0 });
    const patron = lib.patron();
    const [lost, late] = [lib.book({ priceCents: 1200 }), lib.book()];
    for (const i of [lost, late]) granted(lib.circ.checkout({ patronId: patron.id }, { itemId: i.id }, desk));
    granted(lib.circ.markLost({ itemId: lost.id }, desk));
    lib.clock.set('2026-04-02T02:00:00.000Z'); // 3 days late
    expect(granted(lib.circ.checkin({ itemId: late.id }, desk)).fineCents).toBe(150);
    const paidCents = () => (lib.db.prepare('SELECT paid_cents FROM fee ORDER BY id').all() as { paid_cents: number }[]).map((f) => f.paid_cents);

    expect(granted(lib.circ.payFee({ patronId: patron.id }, 1000, desk))).toMatchObject({ paidCents: 1000, balanceCents: 350 });
    expect(paidCents()).toEqual([1000, 0]);
    expect(granted(lib.circ.payFee({ cardNumber: patron.cardNumber }, 300, { ...desk, channel: 'kiosk' }))).toMatchObject({ balanceCents: 50 });
    expect(paidCents()).toEqual([1200, 100]);

    expectRefused(lib.circ.payFee({ patronId: patron.id }, 51, desk), 'PAYMENT_EXCEEDS_BALANCE');
    expect(paidCents()).toEqual([1200, 100]);
    expect(balance(patron.id)).toBe(50);

    expect(granted(lib.circ.payFee({ patronId: patron.id }, 50, desk)).balanceCents).toBe(0);
    expect(lib.db.prepare('SELECT patron_id, amount_cents, channel FROM payment ORDER BY id').all()).toEqual([
      { patron_id: patron.id, amount_cents: 1000, channel: 'desk' },
      { patron_id: patron.id, amount_cents: 300, channel: 'kiosk' },
      { patron_id: patron.id, amount_cents: 50, channel: 'desk' },
    ]);
    expect(lib.lastEvent()).toMatchObject({ op: 'pay_fee', outcome: 'ok', patron_id: patron.id });
    expectRefused(lib.circ.payFee({ patronId: patron.id }, 1, desk), 'NO_BALANCE');
  });
});
