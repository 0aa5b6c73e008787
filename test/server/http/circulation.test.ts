import { afterEach, describe, expect, it } from 'vitest';
import { expectProblem, expectRefusal, ok, openApi, type Api, type Session } from './helpers.js';

let api: Api;
afterEach(() => api?.close());

async function desk() {
  api = openApi();
  return api.librarian('desk1');
}

/** Every table circulation writes, its event log included, for "nothing changed" checks. */
const snapshot = (a: Api) => Object.fromEntries(['item', 'loan', 'hold', 'fee', 'payment', 'circ_event', 'client_txn']
  .map((t) => [t, a.db.prepare(`SELECT * FROM ${t} ORDER BY 1`).all()]));

describe('checkout and checkin over HTTP', () => {
  it('checks an item out (item on loan, loan row, event by the staff user) and back in (available)', async () => {
    const s = await desk();
    const patron = await api.patron();
    const item = api.book();
    const out = await ok(await api.call('/circulation/checkout', { as: s, body: { cardNumber: patron.cardNumber, barcode: item.barcode, branchId: 'main' } }));
    expect(out).toMatchObject({ patronId: patron.id, renewal: false, dueAt: '2026-03-30T15:59:59.000Z', item: { barcode: item.barcode, status: 'on_loan' } });
    expect(out).not.toHaveProperty('ok');
    expect(api.itemStatus(item.id)).toBe('on_loan');
    expect(api.count('loan', 'item_id = ? AND patron_id = ? AND closed_at IS NULL', item.id, patron.id)).toBe(1);
    expect(api.db.prepare("SELECT channel, actor, branch_id FROM circ_event WHERE op = 'checkout'").get())
      .toEqual({ channel: 'desk', actor: 'staff:desk1', branch_id: 'main' });

    const back = await ok(await api.call('/circulation/checkin', { as: s, body: { barcode: item.barcode, branchId: 'main' } }));
    expect(back).toMatchObject({ wasOnLoan: true, fineCents: 0, disposition: { action: 'reshelve', branchId: 'main', location: 'stacks' } });
    expect(api.itemStatus(item.id)).toBe('available');
    expect(api.count('loan', 'closed_at IS NULL')).toBe(0);
  });

  it('accepts the item by RFID tag and the patron by id', async () => {
    const s = await desk();
    const patron = await api.patron();
    const item = api.book({ tagUid: 'E004015012345678' });
    await ok(await api.call('/circulation/checkout', { as: s, body: { patronId: patron.id, tagUid: 'E004015012345678', branchId: 'east' } }));
    expect(api.itemStatus(item.id)).toBe('on_loan');
  });

  it('answers a refused checkout with problem+json: the exact refusal code and its English and Chinese words', async () => {
    const s = await desk();
    const [first, second] = [await api.patron(), await api.patron()];
    const item = api.book();
    await ok(await api.call('/circulation/checkout', { as: s, body: { patronId: first.id, barcode: item.barcode, branchId: 'main' } }));
    const body = await expectRefusal(await api.call('/circulation/checkout', { as: s, body: { patronId: second.id, barcode: item.barcode, branchId: 'main' } }), 'ITEM_ON_LOAN');
    expect(body).toMatchObject({ status: 409, detail: 'This item is already on loan.', message: { en: 'This item is already on loan.', zh: '此图书已被借出。' } });
    expect(api.count('loan', 'patron_id = ?', second.id)).toBe(0);

    await expectRefusal(await api.call('/circulation/checkout', { as: s, body: { cardNumber: 'NO-SUCH-CARD', barcode: item.barcode, branchId: 'main' } }), 'PATRON_NOT_FOUND');
    const expired = await api.patron({ expiryDate: '2026-01-31' });
    await expectRefusal(await api.call('/circulation/checkout', { as: s, body: { patronId: expired.id, barcode: api.book().barcode, branchId: 'main' } }), 'CARD_EXPIRED');
  });

  it('validates before acting: bad input gives 422 with field errors and changes nothing, not even the event log', async () => {
    const s = await desk();
    const patron = await api.patron();
    const item = api.book();
    const before = snapshot(api);
    const cases: [unknown, string][] = [
      [{ cardNumber: patron.cardNumber, barcode: item.barcode }, 'branchId'],
      [{ cardNumber: patron.cardNumber, barcode: item.barcode, branchId: 'west' }, 'branchId'],
      [{ cardNumber: patron.cardNumber, barcode: item.barcode, tagUid: 'E004015012345678', branchId: 'main' }, 'tagUid'],
      [{ barcode: item.barcode, branchId: 'main' }, 'cardNumber'],
      [{ cardNumber: patron.cardNumber, barcode: 'has space', branchId: 'main' }, 'barcode'],
      [{ cardNumber: patron.cardNumber, barcode: item.barcode, branchId: 'main', dueDays: 400 }, 'dueDays'],
    ];
    for (const [body, field] of cases) {
      const problem = await expectProblem(await api.call('/circulation/checkout', { as: s, body }), 422, 'VALIDATION_FAILED');
      expect(problem.errors.map((e: { field: string }) => e.field), JSON.stringify(body)).toContain(field);
    }
    await expectProblem(await api.call('/circulation/checkout', { as: s, body: '{"cardNumber": ' }), 400, 'MALFORMED_REQUEST');
    expect(snapshot(api)).toEqual(before);
  });

  it('passes txnId (body or Idempotency-Key header) to the core: a retry replays the first result', async () => {
    const s = await desk();
    const patron = await api.patron();
    const item = api.book();
    const body = { patronId: patron.id, barcode: item.barcode, branchId: 'main' };
    const first = await ok(await api.call('/circulation/checkout', { as: s, body, headers: { 'Idempotency-Key': '"a1b2c3"' } }));
    const retry = await ok(await api.call('/circulation/checkout', { as: s, body: { ...body, txnId: 'a1b2c3' } }));
    expect(retry).toEqual({ ...first, replayed: true });
    expect(api.count('loan')).toBe(1);
    await expectProblem(await api.call('/circulation/checkout', { as: s, body: { ...body, txnId: 'x' }, headers: { 'Idempotency-Key': 'y' } }), 422, 'VALIDATION_FAILED');
  });

  it("scopes transaction ids by caller, so another client's id never replays its result", async () => {
    const s = await desk();
    const other = await api.librarian('desk2');
    const [p1, p2] = [await api.patron(), await api.patron()];
    const [i1, i2] = [api.book(), api.book()];
    await ok(await api.call('/circulation/checkout', { as: s, body: { patronId: p1.id, barcode: i1.barcode, branchId: 'main', txnId: 't-1' } }));
    const theirs = await ok(await api.call('/circulation/checkout', { as: other, body: { patronId: p2.id, barcode: i2.barcode, branchId: 'main', txnId: 't-1' } }));
    expect(theirs).toMatchObject({ patronId: p2.id, item: { barcode: i2.barcode } });
    expect(theirs).not.toHaveProperty('replayed');
  });
});

describe('renewals, holds, lost items and payments', () => {
  async function onLoan(s: Session) {
    const patron = await api.patron();
    const item = api.book({ priceCents: 4200 });
    await ok(await api.call('/circulation/checkout', { as: s, body: { patronId: patron.id, barcode: item.barcode, branchId: 'main' } }));
    return { patron, item };
  }

  it('renews one loan and all loans of a patron', async () => {
    const s = await desk();
    const { patron, item } = await onLoan(s);
    const renewed = await ok(await api.call('/circulation/renew', { as: s, body: { patronId: patron.id, barcode: item.barcode, branchId: 'main' } }));
    expect(renewed.loan.renewals).toBe(1);
    const all = await ok(await api.call('/circulation/renew-all', { as: s, body: { cardNumber: patron.cardNumber, branchId: 'main' } }));
    expect(all).toMatchObject({ renewed: [{ item: { barcode: item.barcode } }], refused: [] });
  });

  it('places a hold that blocks renewal, then cancels it', async () => {
    const s = await desk();
    const { patron, item } = await onLoan(s);
    const waiting = await api.patron();
    const placed = await ok(await api.call('/circulation/holds', {
      as: s, body: { patronId: waiting.id, recordId: item.recordId, pickupBranch: 'east', branchId: 'main', expiresAt: '2026-09-01T00:00:00+08:00' },
    }));
    // Instants are stored in UTC, whatever offset the client wrote.
    expect(placed.hold).toMatchObject({ patronId: waiting.id, status: 'waiting', queuePosition: 1, expiresAt: '2026-08-31T16:00:00.000Z' });
    await expectRefusal(await api.call('/circulation/renew', { as: s, body: { patronId: patron.id, barcode: item.barcode, branchId: 'main' } }), 'ITEM_HAS_HOLDS');
    const cancelled = await ok(await api.call(`/circulation/holds/${placed.hold.id}?branchId=main`, { method: 'DELETE', as: s }));
    expect(cancelled.hold.status).toBe('cancelled');
    await expectRefusal(await api.call(`/circulation/holds/${placed.hold.id}?branchId=main`, { method: 'DELETE', as: s }), 'HOLD_NOT_ACTIVE');
    await expectRefusal(await api.call('/circulation/holds/99999?branchId=main', { method: 'DELETE', as: s }), 'HOLD_NOT_FOUND');
  });

  it('marks an item on loan lost, charges its price, and takes the payment', async () => {
    const s = await desk();
    const { patron, item } = await onLoan(s);
    const lost = await ok(await api.call(`/circulation/items/${item.barcode}/lost`, { as: s, body: { branchId: 'main' } }));
    expect(lost).toMatchObject({ feeCents: 4200, item: { status: 'lost' } });
    expect(api.itemStatus(item.id)).toBe('lost');
    expect(await ok(await api.call(`/patrons/${patron.id}/fees`, { as: s }))).toMatchObject({ balanceCents: 4200, fees: [{ kind: 'lost', owedCents: 4200 }] });

    await expectRefusal(await api.call(`/circulation/patrons/${patron.id}/payments`, { as: s, body: { amountCents: 5000, branchId: 'main' } }), 'PAYMENT_EXCEEDS_BALANCE');
    const paid = await ok(await api.call(`/circulation/patrons/${patron.id}/payments`, { as: s, body: { amountCents: 4200, branchId: 'main' } }));
    expect(paid).toEqual({ paidCents: 4200, balanceCents: 0 });
    await expectProblem(await api.call(`/circulation/patrons/${patron.id}/payments`, { as: s, body: { amountCents: -1, branchId: 'main' } }), 422, 'VALIDATION_FAILED');
  });

  it("shows a patron's status, loans and holds to staff", async () => {
    const s = await desk();
    const { patron, item } = await onLoan(s);
    expect(await ok(await api.call(`/patrons/${patron.id}/status?branchId=main`, { as: s }))).toMatchObject({ patronId: patron.id, loans: 1, blocks: [] });
    expect((await ok(await api.call(`/patrons/${patron.id}/loans`, { as: s }))).loans).toMatchObject([{ barcode: item.barcode }]);
    expect((await ok(await api.call(`/patrons/${patron.id}/holds`, { as: s }))).holds).toEqual([]);
    await expectProblem(await api.call(`/patrons/${patron.id}/status`, { as: s }), 400, 'VALIDATION_FAILED');
    await expectProblem(await api.call('/patrons/9999/loans', { as: s }), 404, 'PATRON_NOT_FOUND');
  });
});

describe('the circulation event log', () => {
  it('lists granted and refused operations, newest first, filtered by patron, item, op and time', async () => {
    const s = await desk();
    const [p1, p2] = [await api.patron(), await api.patron()];
    const item = api.book();
    await api.call('/circulation/checkout', { as: s, body: { patronId: p1.id, barcode: item.barcode, branchId: 'main' } });
    api.clock.advance(60_000);
    await api.call('/circulation/checkout', { as: s, body: { patronId: p2.id, barcode: item.barcode, branchId: 'main' } });
    await api.call('/circulation/checkin', { as: s, body: { barcode: item.barcode, branchId: 'main' } });

    const all = (await ok(await api.call('/events/log', { as: s }))).events;
    expect(all.map((e: { op: string; outcome: string }) => `${e.op}:${e.outcome}`)).toEqual(['checkin:ok', 'checkout:refused', 'checkout:ok']);
    expect(all[1]).toMatchObject({ reason: 'ITEM_ON_LOAN', patronId: p2.id, itemId: item.id, channel: 'desk', actor: 'staff:desk1', branchId: 'main' });
    expect((await ok(await api.call(`/events/log?patronId=${p2.id}`, { as: s }))).events).toHaveLength(1);
    expect((await ok(await api.call(`/events/log?itemId=${item.id}&op=checkout&outcome=ok`, { as: s }))).events).toHaveLength(1);
    expect((await ok(await api.call('/events/log?since=2026-03-02T02:00:30Z&limit=1', { as: s }))).events.map((e: { op: string }) => e.op)).toEqual(['checkin']);
    await expectProblem(await api.call('/events/log?since=yesterday', { as: s }), 400, 'VALIDATION_FAILED');
  });
});
