import { afterEach, describe, expect, it } from 'vitest';
import { closeLibraries, DAY, desk, granted, kioskAt, MONDAY_10H, openLibrary, type Library } from './library.js';

let lib: Library;
afterEach(closeLibraries);

/** The loan and item as the store has them, in the shapes the core returns. */
const loanInStore = (id: number) => lib.db.prepare(`SELECT loan.id, item_id AS itemId, barcode, record_id AS recordId, title, patron_id AS patronId,
  branch_id AS branchId, checked_out_at AS checkedOutAt, due_at AS dueAt, renewals, closed_at AS closedAt
  FROM loan JOIN item ON item.id = loan.item_id JOIN record ON record.id = item.record_id WHERE loan.id = ?`).get(id);
const itemInStore = (id: number) => lib.db.prepare(`SELECT item.id, barcode, record_id AS recordId, title, status, location, call_number AS callNumber,
  item_type AS itemType, home_branch AS homeBranch
  FROM item JOIN record ON record.id = item.record_id WHERE item.id = ?`).get(id);

describe('checkout', () => {
  it('lends the item: one open loan with its due date, the item on loan at the lending branch', () => {
    lib = openLibrary();
    const patron = lib.patron();
    const item = lib.book({ homeBranch: 'east' });
    const r = granted(lib.circ.checkout({ cardNumber: patron.cardNumber }, { barcode: item.barcode }, kioskAt('main')));

    expect(r).toMatchObject({ patronId: patron.id, dueAt: '2026-03-30T15:59:59.000Z', renewal: false, fulfilledHoldId: null });
    expect(r.loan).toMatchObject({
      itemId: item.id, barcode: item.barcode, recordId: item.recordId, patronId: patron.id, branchId: 'main',
      checkedOutAt: MONDAY_10H, dueAt: '2026-03-30T15:59:59.000Z', renewals: 0, closedAt: null,
    });
    expect(r.item).toMatchObject({ id: item.id, status: 'on_loan', location: 'stacks' });
    expect(r.loan).toEqual(loanInStore(r.loan.id));
    expect(r.item).toEqual(itemInStore(item.id));
    expect(lib.openLoans(item.id)).toEqual([expect.objectContaining({
      id: r.loan.id, patron_id: patron.id, branch_id: 'main', channel: 'kiosk', checked_out_at: MONDAY_10H, due_at: r.dueAt,
    })]);
    expect(lib.itemRow(item.id)).toMatchObject({ status: 'on_loan', current_branch: 'main', transit_to: null, updated_at: MONDAY_10H });
  });

  it('finds patron and item by their RFID tags too', () => {
    lib = openLibrary();
    const patron = lib.patron({ cardTagUid: 'E0040150A1B2C3D4' });
    const item = lib.book({ tagUid: 'E0040150F0E0D0C0' });
    const r = granted(lib.circ.checkout({ cardTagUid: 'E0040150A1B2C3D4' }, { tagUid: 'E0040150F0E0D0C0' }, kioskAt('main')));
    expect(r.loan).toMatchObject({ patronId: patron.id, itemId: item.id });
  });

  it('renews when the patron checks out what they already have, keeping the same loan', () => {
    lib = openLibrary();
    const patron = lib.patron();
    const item = lib.book();
    const first = granted(lib.circ.checkout({ patronId: patron.id }, { itemId: item.id }, desk));
    lib.clock.advance(10 * DAY); // Thursday 12 March

    const again = granted(lib.circ.checkout({ patronId: patron.id }, { itemId: item.id }, kioskAt('main')));
    expect(again).toMatchObject({ renewal: true, patronId: patron.id, fulfilledHoldId: null, dueAt: '2026-04-09T15:59:59.000Z' });
    expect(again.loan).toMatchObject({ id: first.loan.id, renewals: 1, dueAt: '2026-04-09T15:59:59.000Z', checkedOutAt: MONDAY_10H });
    expect(again.loan).toEqual(loanInStore(first.loan.id));
    expect(again.item).toEqual(itemInStore(item.id));
    expect(lib.db.prepare('SELECT count(*) AS n FROM loan').get()).toEqual({ n: 1 });
    expect(lib.lastEvent()).toMatchObject({ op: 'checkout', outcome: 'ok', loan_id: first.loan.id });
    expect(JSON.parse(lib.lastEvent()!.detail as string)).toMatchObject({ renewals: 1 });
  });
});

describe('renew', () => {
  it('counts the new period from the renewal day and never shortens a loan', () => {
    lib = openLibrary();
    lib.rule({ patronCategory: 'undergraduate', renewalDays: 7 });
    const patron = lib.patron();
    const item = lib.book();
    granted(lib.circ.checkout({ patronId: patron.id }, { itemId: item.id }, desk)); // due 30 March

    // Renewing on day 1 for 7 days would end earlier than the loan: the due date stays.
    const early = granted(lib.circ.renew({ patronId: patron.id }, { itemId: item.id }, desk));
    expect(early.dueAt).toBe('2026-03-30T15:59:59.000Z');
    expect(early.loan.renewals).toBe(1);

    lib.clock.advance(25 * DAY); // Friday 27 March → 3 April
    const late = granted(lib.circ.renew({ patronId: patron.id }, { itemId: item.id }, desk));
    expect(late.dueAt).toBe('2026-04-03T15:59:59.000Z');
    expect(late.loan).toMatchObject({ renewals: 2, dueAt: late.dueAt });
    expect(late.loan).toEqual(loanInStore(late.loan.id));
    expect(late.item).toEqual(itemInStore(item.id));
  });

  it('renews all: reports which loans were renewed and why the others were not', () => {
    lib = openLibrary();
    lib.rule({ patronCategory: 'undergraduate', renewals: 1 });
    const patron = lib.patron();
    const [plain, wanted, spent] = [lib.book(), lib.book(), lib.book()];
    for (const i of [plain, wanted, spent]) granted(lib.circ.checkout({ patronId: patron.id }, { itemId: i.id }, desk));
    granted(lib.circ.renew({ patronId: patron.id }, { itemId: spent.id }, desk));
    granted(lib.circ.placeHold({ patronId: lib.patron().id }, wanted.recordId, 'main', desk));
    lib.clock.advance(20 * DAY);

    const r = granted(lib.circ.renewAll({ patronId: patron.id }, { ...desk, channel: 'sip2' }));
    expect(r.renewed.map((x) => x.item.barcode)).toEqual([plain.barcode]);
    expect(r.renewed[0]!.dueAt).toBe('2026-04-20T15:59:59.000Z'); // Sunday 22 March + 28 = Sunday 19 April, closed → Monday
    expect([...r.refused].sort((a, b) => a.barcode.localeCompare(b.barcode))).toEqual([
      { barcode: wanted.barcode, code: 'ITEM_HAS_HOLDS', message: expect.objectContaining({ zh: expect.any(String) }) },
      { barcode: spent.barcode, code: 'RENEWAL_LIMIT', message: expect.objectContaining({ en: expect.any(String) }) },
    ].sort((a, b) => a.barcode.localeCompare(b.barcode)));
    expect(lib.openLoans(plain.id)[0]).toMatchObject({ renewals: 1, due_at: '2026-04-20T15:59:59.000Z' });
    expect(lib.openLoans(wanted.id)[0]).toMatchObject({ renewals: 0, due_at: '2026-03-30T15:59:59.000Z' });
    expect(lib.lastEvent()).toMatchObject({ op: 'renew_all', outcome: 'ok', channel: 'sip2', patron_id: patron.id });
    expect(JSON.parse(lib.lastEvent()!.detail as string)).toEqual({ renewed: 1, refused: 2 });
  });

  it('lets a blocked patron renew nothing, each loan refused with the block', () => {
    lib = openLibrary();
    const patron = lib.patron();
    const item = lib.book();
    granted(lib.circ.checkout({ patronId: patron.id }, { itemId: item.id }, desk));
    lib.db.prepare("UPDATE patron SET blocked_reason = 'damaged book' WHERE id = ?").run(patron.id);
    const r = granted(lib.circ.renewAll({ patronId: patron.id }, desk));
    expect(r.renewed).toEqual([]);
    expect(r.refused).toEqual([expect.objectContaining({ barcode: item.barcode, code: 'PATRON_BLOCKED' })]);
  });
});

describe('checkin routing', () => {
  it('closes the loan and reshelves an item returned at its home branch', () => {
    lib = openLibrary();
    const patron = lib.patron();
    const item = lib.book({ location: 'stacks-3F' });
    const loan = granted(lib.circ.checkout({ patronId: patron.id }, { itemId: item.id }, kioskAt('east'))).loan;
    lib.clock.advance(3 * DAY);
    const back = lib.clock.now().toISOString();

    const r = granted(lib.circ.checkin({ barcode: item.barcode }, kioskAt('main')));
    expect(r).toMatchObject({ wasOnLoan: true, fineCents: 0, foundLost: false, disposition: { action: 'reshelve', branchId: 'main', location: 'stacks-3F' } });
    expect(r.loan).toMatchObject({ id: loan.id, closedAt: back });
    expect(r.loan).toEqual(loanInStore(loan.id));
    expect(r.item).toEqual(itemInStore(item.id));
    expect(lib.db.prepare('SELECT closed_at, close_reason, return_branch FROM loan WHERE id = ?').get(loan.id))
      .toEqual({ closed_at: back, close_reason: 'returned', return_branch: 'main' });
    expect(lib.openLoans(item.id)).toEqual([]);
    expect(lib.itemRow(item.id)).toMatchObject({ status: 'available', current_branch: 'main', transit_to: null });
  });

  it('sends an item returned away from home into transit, and reshelves it when it arrives home', () => {
    lib = openLibrary();
    const item = lib.book({ homeBranch: 'main' });
    granted(lib.circ.checkout({ patronId: lib.patron().id }, { itemId: item.id }, desk));

    const r = granted(lib.circ.checkin({ itemId: item.id }, kioskAt('east')));
    expect(r.disposition).toEqual({ action: 'transit', branchId: 'east', to: 'main' });
    expect(r.item).toEqual(itemInStore(item.id));
    expect(lib.itemRow(item.id)).toMatchObject({ status: 'in_transit', current_branch: 'east', transit_to: 'main' });

    const home = granted(lib.circ.checkin({ itemId: item.id }, kioskAt('main')));
    expect(home).toMatchObject({ wasOnLoan: false, loan: null, disposition: { action: 'reshelve', branchId: 'main' } });
    expect(lib.itemRow(item.id)).toMatchObject({ status: 'available', current_branch: 'main', transit_to: null });
  });

  it('finds a lost item again when it is checked in', () => {
    lib = openLibrary();
    const item = lib.book();
    granted(lib.circ.markLost({ itemId: item.id }, desk));
    const r = granted(lib.circ.checkin({ itemId: item.id }, desk));
    expect(r).toMatchObject({ foundLost: true, wasOnLoan: false, disposition: { action: 'reshelve' } });
    expect(lib.itemRow(item.id)).toMatchObject({ status: 'available' });
  });

  it('uses the effective time of an offline transaction for the loan and the event', () => {
    lib = openLibrary();
    const item = lib.book();
    const at = new Date('2026-03-01T06:00:00.000Z'); // Sunday, the day before the clock
    const r = granted(lib.circ.checkout({ patronId: lib.patron().id }, { itemId: item.id }, { ...kioskAt('main'), channel: 'sip2', at }));
    expect(r.loan.checkedOutAt).toBe(at.toISOString());
    expect(r.dueAt).toBe('2026-03-30T15:59:59.000Z'); // Sunday 29 March is closed → Monday
    expect(lib.lastEvent()).toMatchObject({ ts: at.toISOString() });
  });
});
