import { afterEach, describe, expect, it } from 'vitest';
import type { CircEvent, OpContext } from '../../../server/circulation/circulation.js';
import { closeLibraries, DAY, desk, granted, kioskAt, MONDAY_10H, openLibrary, type Library } from './library.js';

let lib: Library;
afterEach(closeLibraries);

const opac: OpContext = { channel: 'opac', branchId: 'main', actor: 'patron' };
const housekeeping: OpContext = { channel: 'system', branchId: '*', actor: 'housekeeping' };
const holdRow = (id: number) => lib.db.prepare('SELECT status, item_id, pickup_deadline, closed_at FROM hold WHERE id = ?').get(id);

/** Three readers queue for one title with one copy, a minute apart; the copy is on loan to a fourth. */
function queue(pickups: [string, string, string] = ['main', 'main', 'main']) {
  lib = openLibrary();
  const item = lib.book({ homeBranch: 'main' });
  const borrower = lib.patron();
  granted(lib.circ.checkout({ patronId: borrower.id }, { itemId: item.id }, desk));
  const readers = pickups.map(() => lib.patron());
  const holds = readers.map((r, i) => {
    const hold = granted(lib.circ.placeHold({ patronId: r.id }, item.recordId, pickups[i]!, opac)).hold;
    lib.clock.advance(60_000);
    return hold;
  });
  return { item, borrower, readers, holds };
}

describe('holds', () => {
  it('queues holds first placed, first served, each knowing its position', () => {
    const { item, readers, holds } = queue();
    expect(holds.map((h) => h.queuePosition)).toEqual([1, 2, 3]);
    expect(holds[0]).toMatchObject({
      recordId: item.recordId, patronId: readers[0]!.id, pickupBranch: 'main', itemId: null, status: 'waiting',
      placedAt: MONDAY_10H, pickupDeadline: null,
      expiresAt: '2026-08-29T15:59:59.000Z', // 180 days, at the end of the local day
    });
    expect(lib.lastEvent()).toMatchObject({ op: 'place_hold', outcome: 'ok', channel: 'opac', hold_id: holds[2]!.id, patron_id: readers[2]!.id });
  });

  it('breaks a tie in placing time by the order the holds were recorded', () => {
    lib = openLibrary();
    const recordId = lib.book().recordId;
    const a = granted(lib.circ.placeHold({ patronId: lib.patron().id }, recordId, 'main', desk)).hold;
    const b = granted(lib.circ.placeHold({ patronId: lib.patron().id }, recordId, 'main', desk)).hold;
    expect(a.placedAt).toBe(b.placedAt);
    expect([lib.circ.holdView(a.id).queuePosition, lib.circ.holdView(b.id).queuePosition]).toEqual([1, 2]);
  });

  it('puts a returned item on the hold shelf when the first hold is picked up here, with a pickup deadline', () => {
    const { item, holds, readers } = queue();
    lib.clock.set('2026-03-05T02:00:00.000Z'); // Thursday 5 March
    const r = granted(lib.circ.checkin({ itemId: item.id }, kioskAt('main')));
    // Seven open days at main (closed on Sundays): 6, 7, 9, 10, 11, 12, 13 March.
    const deadline = '2026-03-13T15:59:59.000Z';
    expect(r.disposition).toEqual({ action: 'hold_shelf', branchId: 'main', holdId: holds[0]!.id, patronId: readers[0]!.id, pickupDeadline: deadline });
    expect(lib.itemRow(item.id)).toMatchObject({ status: 'on_hold_shelf', current_branch: 'main', transit_to: null });
    expect(r.item).toMatchObject({ id: item.id, status: 'on_hold_shelf' });
    expect(r.loan).toMatchObject({ closedAt: lib.clock.now().toISOString() });
    expect(lib.circ.holdView(holds[0]!.id)).toMatchObject({ status: 'ready', itemId: item.id, pickupDeadline: deadline, queuePosition: null });
    expect(holds.slice(1).map((h) => lib.circ.holdView(h.id).queuePosition)).toEqual([1, 2]);
    expect(lib.lastEvent()).toMatchObject({ op: 'checkin', hold_id: holds[0]!.id });
  });

  it('sends the item to the pickup branch of the first hold, and onto the hold shelf when it arrives there', () => {
    const { item, holds } = queue(['east', 'main', 'main']);
    const r = granted(lib.circ.checkin({ itemId: item.id }, kioskAt('main')));
    expect(r.disposition).toEqual({ action: 'transit', branchId: 'main', to: 'east', holdId: holds[0]!.id });
    expect(lib.itemRow(item.id)).toMatchObject({ status: 'in_transit', current_branch: 'main', transit_to: 'east' });
    expect(holdRow(holds[0]!.id)).toMatchObject({ status: 'in_transit', item_id: item.id, pickup_deadline: null });

    lib.clock.set('2026-03-03T03:00:00.000Z'); // Tuesday: seven open days at east (Monday–Friday) end on Thursday 12 March
    const arrived = granted(lib.circ.checkin({ itemId: item.id }, kioskAt('east')));
    expect(arrived.disposition).toMatchObject({ action: 'hold_shelf', branchId: 'east', holdId: holds[0]!.id, pickupDeadline: '2026-03-12T15:59:59.000Z' });
    expect(lib.itemRow(item.id)).toMatchObject({ status: 'on_hold_shelf', current_branch: 'east', transit_to: null });
    expect(holdRow(holds[0]!.id)).toMatchObject({ status: 'ready', item_id: item.id });
  });

  it('keeps the pickup deadline when the item on the hold shelf is scanned again', () => {
    const { item, holds } = queue();
    const first = granted(lib.circ.checkin({ itemId: item.id }, desk)).disposition;
    lib.clock.advance(DAY);
    const again = granted(lib.circ.checkin({ itemId: item.id }, desk)).disposition;
    expect(again).toEqual(first);
    expect(holdRow(holds[0]!.id)).toMatchObject({ status: 'ready' });
  });

  it('fills the hold when its patron checks the item out', () => {
    const { item, holds, readers } = queue();
    granted(lib.circ.checkin({ itemId: item.id }, desk));
    const r = granted(lib.circ.checkout({ patronId: readers[0]!.id }, { itemId: item.id }, kioskAt('main')));
    expect(r.fulfilledHoldId).toBe(holds[0]!.id);
    expect(holdRow(holds[0]!.id)).toMatchObject({ status: 'fulfilled', closed_at: lib.clock.now().toISOString() });
    expect(lib.lastEvent()).toMatchObject({ op: 'checkout', hold_id: holds[0]!.id });
    expect(lib.circ.holdView(holds[1]!.id).queuePosition).toBe(1);
  });

  it('fills a waiting hold when its patron borrows another copy from the shelf', () => {
    lib = openLibrary();
    const recordId = lib.record();
    const copy = lib.item(recordId);
    const reader = lib.patron();
    const hold = granted(lib.circ.placeHold({ patronId: reader.id }, recordId, 'main', desk)).hold;
    expect(granted(lib.circ.checkout({ patronId: reader.id }, { itemId: copy.id }, desk)).fulfilledHoldId).toBe(hold.id);
    expect(holdRow(hold.id)).toMatchObject({ status: 'fulfilled' });
  });

  it('releases the copy waiting on the hold shelf when its patron borrows another copy instead', () => {
    lib = openLibrary();
    const recordId = lib.record();
    const [shelved, other] = [lib.item(recordId), lib.item(recordId)];
    const reader = lib.patron();
    const hold = granted(lib.circ.placeHold({ patronId: reader.id }, recordId, 'main', desk)).hold;
    expect(granted(lib.circ.checkin({ itemId: shelved.id }, desk)).disposition.action).toBe('hold_shelf');

    expect(granted(lib.circ.checkout({ patronId: reader.id }, { itemId: other.id }, desk)).fulfilledHoldId).toBe(hold.id);
    expect(holdRow(hold.id)).toMatchObject({ status: 'fulfilled' });
    // The copy on the hold shelf is no longer held for anyone: it is free to lend.
    expect(lib.itemRow(shelved.id)).toMatchObject({ status: 'available' });
    granted(lib.circ.checkout({ patronId: lib.patron().id }, { itemId: shelved.id }, desk));
  });

  it('skips a waiting hold past its expiry when trapping, and lets it not block a renewal', () => {
    lib = openLibrary();
    const item = lib.book();
    const borrower = lib.patron();
    granted(lib.circ.checkout({ patronId: borrower.id }, { itemId: item.id }, desk));
    const stale = granted(lib.circ.placeHold({ patronId: lib.patron().id }, item.recordId, 'main', desk, '2026-03-03T00:00:00.000Z')).hold;
    lib.clock.set('2026-03-04T02:00:00.000Z'); // the hold expired; hourly housekeeping has not run yet

    expect(granted(lib.circ.renew({ patronId: borrower.id }, { itemId: item.id }, desk)).loan.renewals).toBe(1);
    expect(granted(lib.circ.checkin({ itemId: item.id }, desk)).disposition.action).toBe('reshelve');
    expect(holdRow(stale.id)).toMatchObject({ status: 'waiting', item_id: null });
  });

  it('cancels a hold; cancelling a trapped one releases its item', () => {
    const { item, holds, readers } = queue();
    granted(lib.circ.checkin({ itemId: item.id }, desk));
    const r = granted(lib.circ.cancelHold(holds[0]!.id, opac, { patronId: readers[0]!.id }));
    expect(r.releasedItem).toEqual({ barcode: item.barcode });
    expect(r.hold).toMatchObject({ status: 'cancelled' });
    expect(lib.itemRow(item.id)).toMatchObject({ status: 'available' });
    expect(lib.lastEvent()).toMatchObject({ op: 'cancel_hold', outcome: 'ok', channel: 'opac', hold_id: holds[0]!.id, item_id: item.id });

    // Checked in again, it goes to the next reader in the queue.
    const next = granted(lib.circ.checkin({ itemId: item.id }, desk)).disposition;
    expect(next).toMatchObject({ action: 'hold_shelf', holdId: holds[1]!.id });

    const waiting = granted(lib.circ.cancelHold(holds[2]!.id, desk));
    expect(waiting.releasedItem).toBeNull();
  });

  it('expires waiting holds past their expiry and ready holds past their pickup deadline, telling listeners', () => {
    lib = openLibrary();
    const shelved = lib.book();
    const ready = granted(lib.circ.placeHold({ patronId: lib.patron().id }, shelved.recordId, 'main', desk)).hold;
    const deadline = granted(lib.circ.checkin({ itemId: shelved.id }, desk)).disposition;
    expect(deadline).toMatchObject({ action: 'hold_shelf', pickupDeadline: '2026-03-10T15:59:59.000Z' });
    const other = lib.book();
    const waiting = granted(lib.circ.placeHold({ patronId: lib.patron().id }, other.recordId, 'main', desk, '2026-03-05T00:00:00.000Z')).hold;
    const lasting = granted(lib.circ.placeHold({ patronId: lib.patron().id }, other.recordId, 'main', desk)).hold;
    const heard: CircEvent[] = [];
    lib.circ.onEvent((e) => heard.push(e));

    expect(lib.circ.expireHolds({ ...housekeeping, at: new Date('2026-03-04T00:00:00.000Z') })).toEqual({ expired: 0, releasedItems: [] });
    lib.clock.set('2026-03-10T16:00:00.000Z'); // just past the pickup deadline
    expect(lib.circ.expireHolds(housekeeping)).toEqual({ expired: 2, releasedItems: [shelved.barcode] });

    expect(holdRow(ready.id)).toMatchObject({ status: 'expired', closed_at: '2026-03-10T16:00:00.000Z' });
    expect(holdRow(waiting.id)).toMatchObject({ status: 'expired' });
    expect(holdRow(lasting.id)).toMatchObject({ status: 'waiting' });
    expect(lib.itemRow(shelved.id)).toMatchObject({ status: 'available' });
    const logged = lib.events().filter((e) => e.op === 'expire_hold');
    expect(logged.map((e) => e.hold_id).sort()).toEqual([ready.id, waiting.id].sort());
    expect(logged[0]).toMatchObject({ outcome: 'ok', channel: 'system', actor: 'housekeeping', branch_id: '*' });
    expect(heard.map((e) => [e.op, e.holdId, e.id]).sort()).toEqual(logged.map((e) => ['expire_hold', e.hold_id, e.id]).sort());
    expect(lib.circ.expireHolds(housekeeping)).toEqual({ expired: 0, releasedItems: [] });
  });

  it('moves the pickup branch of a waiting hold', () => {
    const { holds, readers } = queue();
    const r = granted(lib.circ.changeHold(holds[1]!.id, { pickupBranch: 'east' }, opac, { patronId: readers[1]!.id }));
    expect(r.hold).toMatchObject({ pickupBranch: 'east', queuePosition: 2 });
    expect(lib.lastEvent()).toMatchObject({ op: 'change_hold', outcome: 'ok', hold_id: holds[1]!.id });
  });
});
