import { afterEach, describe, expect, it } from 'vitest';
import { DAY, KIOSK, MONDAY_10H, SIP_MONDAY_10H, openSip2Library, parse, type Sip2Library } from './helpers.js';
import type { Sip2Account } from '../../../server/sip2/account.js';

let lib: Sip2Library;
afterEach(async () => { await lib?.close(); });

const NO_DATE = ' '.repeat(18);
const checkout = (card: string, barcode: string, extra = '', fixed = `YN${SIP_MONDAY_10H}${NO_DATE}`) => `11${fixed}AOSHELF|AA${card}|AB${barcode}|${extra}`;
const checkin = (barcode: string, extra = '', fixed = `N${SIP_MONDAY_10H}${SIP_MONDAY_10H}`) => `09${fixed}APdoor|AOSHELF|AB${barcode}|${extra}`;
const itemInfo = (barcode: string) => `17${SIP_MONDAY_10H}AOSHELF|AB${barcode}|`;
const renew = (card: string, barcode: string) => `29NN${SIP_MONDAY_10H}${NO_DATE}AOSHELF|AA${card}|AB${barcode}|`;
const hold = (mode: string, card: string, barcode: string, extra = '') => `15${mode}${SIP_MONDAY_10H}${extra}AOSHELF|AA${card}|AB${barcode}|`;
const desk = { channel: 'desk' as const, branchId: 'main' };
/** SIP2 date of a local calendar day at 23:59:59 (the due time of loans). */
const dueOn = (ymd: string) => `${ymd.replaceAll('-', '')}    235959`;
const sipLocal = (iso: string) => {
  const d = new Date(Date.parse(iso) + 8 * 3_600_000); // Asia/Shanghai has no DST
  return `${d.toISOString().slice(0, 10).replaceAll('-', '')}    ${d.toISOString().slice(11, 19).replaceAll(':', '')}`;
};

describe('SIP2 checkout (11/12)', () => {
  it('lends the item through the circulation core: 121NNY, title, due date in the library time zone, media type', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    const b = lib.book({}, '活着');
    const c = await lib.client();
    const r = parse(await c.send(checkout(p.cardNumber, b.barcode)));
    expect(r.raw.slice(0, 6)).toBe('121NNY');
    expect(r.fixed).toBe(`1NNY${SIP_MONDAY_10H}`);
    expect(r.fields).toEqual({ AO: ['SHELF'], AA: [p.cardNumber], AB: [b.barcode], AJ: ['活着'], AH: [dueOn('2026-03-30')], CK: ['001'], BL: ['Y'] });
    expect(lib.openLoans(b.id)).toMatchObject([{ patron_id: p.id, branch_id: 'main', channel: 'sip2' }]);
    expect(lib.events().at(-1)).toMatchObject({ op: 'checkout', outcome: 'ok', channel: 'sip2', actor: 'sip2:kiosk-1', branch_id: 'main' });
  });

  it('renews what the patron already has when the SC allows renewals (121YNY), and refuses it when not', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    const b = lib.book();
    lib.circ.checkout({ patronId: p.id }, { barcode: b.barcode }, { ...desk, at: new Date(Date.parse(MONDAY_10H) - 7 * DAY) });
    const c = await lib.client();
    const no = parse(await c.send(checkout(p.cardNumber, b.barcode, '', `NN${SIP_MONDAY_10H}${NO_DATE}`)));
    expect(no.raw.slice(0, 6)).toBe('120NUN');
    expect(no.fields.AF).toEqual(['You already have this item.']);
    const yes = parse(await c.send(checkout(p.cardNumber, b.barcode)));
    expect(yes.raw.slice(0, 6)).toBe('121YNY');
    expect(yes.fields.AH).toEqual([dueOn('2026-03-30')]);
    expect(lib.db.prepare('SELECT renewals FROM loan WHERE item_id = ?').get(b.id)).toEqual({ renewals: 1 });
  });

  it('refuses as Koha does: 120NUN, empty AH, the title when the item is known, BL, the reason in AF', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    const other = lib.patron();
    const b = lib.book({}, 'Taken');
    lib.circ.checkout({ patronId: other.id }, { barcode: b.barcode }, desk);
    const c = await lib.client();
    const taken = parse(await c.send(checkout(p.cardNumber, b.barcode)));
    expect(taken.fixed).toBe(`0NUN${SIP_MONDAY_10H}`);
    expect(taken.fields).toEqual({ AO: ['SHELF'], AA: [p.cardNumber], AB: [b.barcode], AJ: ['Taken'], AH: [''], BL: ['Y'], AF: ['This item is already on loan.'] });
    const unknownItem = parse(await c.send(checkout(p.cardNumber, 'NO-SUCH')));
    expect(unknownItem.fields).toMatchObject({ AJ: [''], AH: [''], BL: ['Y'], AF: ['This item is not in our catalogue.'] });
    const unknownPatron = parse(await c.send(checkout('NOBODY', b.barcode)));
    expect(unknownPatron.fields).toMatchObject({ AJ: ['Taken'], BL: ['N'], AF: ['Card not recognised. Please ask at the desk.'] });
    // Every refusal is in the circulation log, through the SIP2 channel.
    expect(lib.events().filter((e) => e.outcome === 'refused').map((e) => [e.channel, e.reason])).toEqual([
      ['sip2', 'ITEM_ON_LOAN'], ['sip2', 'ITEM_NOT_FOUND'], ['sip2', 'PATRON_NOT_FOUND'],
    ]);
  });

  it('refuses a wrong PIN and changes nothing', async () => {
    lib = await openSip2Library();
    const p = await lib.patronWithPin('8642');
    const b = lib.book();
    const c = await lib.client();
    const before = lib.snapshot();
    const r = parse(await c.send(checkout(p.cardNumber, b.barcode, 'AD1111|')));
    expect(r.raw.slice(0, 6)).toBe('120NUN');
    expect(r.fields.AF).toEqual(['The PIN is not correct.']);
    expect(lib.snapshot()).toEqual(before);
    expect((await c.send(checkout(p.cardNumber, b.barcode, 'AD8642|'))).slice(0, 6)).toBe('121NNY');
  });

  it('undoes a checkout it already made when the SC cancels it (BI Y)', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    const b = lib.book();
    const c = await lib.client();
    await c.send(checkout(p.cardNumber, b.barcode));
    const r = parse(await c.send(checkout(p.cardNumber, b.barcode, 'BIY|')));
    expect(r.fixed).toBe(`1NNN${SIP_MONDAY_10H}`);
    expect(r.fields.AF).toEqual(['The checkout was cancelled.']);
    expect(lib.openLoans(b.id)).toEqual([]);
    expect(parse(await c.send(checkout(p.cardNumber, b.barcode, 'BIY|'))).fixed[0]).toBe('0');
  });

  it('checks out in-library-use categories and item types without desensitising them', async () => {
    lib = await openSip2Library({ accounts: [{ ...KIOSK, inLibraryUse: { itemTypes: ['periodical'], patronCategories: ['visitor'] } }] });
    const c = await lib.client();
    const mag = lib.book({ itemType: 'periodical' });
    const r = parse(await c.send(checkout(lib.patron().cardNumber, mag.barcode)));
    expect(r.fixed.slice(0, 4)).toBe('1NNN');
    expect(r.fields.AF).toEqual(['This item is for use in the library only.']);
    const visitor = lib.patron({ category: 'visitor' });
    expect(parse(await c.send(checkout(visitor.cardNumber, lib.book().barcode))).fixed.slice(0, 4)).toBe('1NNN');
    expect(parse(await c.send(checkout(lib.patron().cardNumber, lib.book().barcode))).fixed.slice(0, 4)).toBe('1NNY');
    // A policy that forbids lending at all is the circulation core's refusal, not a SIP2 option.
    lib.rule({ itemType: 'reference', inLibraryOnly: true });
    const ref = lib.book({ itemType: 'reference' });
    expect(parse(await c.send(checkout(lib.patron().cardNumber, ref.barcode))).fields.AF).toEqual(['This item is for use in the library only.']);
  });

  it('applies an offline (no-block) checkout as of its transaction date, and an online one as of now', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    const c = await lib.client();
    const offline = lib.book();
    const threeDaysAgo = new Date(Date.parse(MONDAY_10H) - 3 * DAY + 3_600_000).toISOString(); // Friday 27 Feb, 11:00 local
    const r = parse(await c.send(checkout(p.cardNumber, offline.barcode, '', `YY${sipLocal(threeDaysAgo)}${NO_DATE}`)));
    expect(r.fixed.slice(0, 4)).toBe('1NNY');
    expect(r.fields.AH).toEqual([dueOn('2026-03-27')]);
    expect(lib.openLoans(offline.id)).toMatchObject([{ checked_out_at: threeDaysAgo }]);
    const online = lib.book();
    await c.send(checkout(p.cardNumber, online.barcode, '', `YN${sipLocal(threeDaysAgo)}${NO_DATE}`));
    expect(lib.openLoans(online.id)).toMatchObject([{ checked_out_at: MONDAY_10H }]);
    // Too old for the backlog window (30 days): applied now.
    const ancient = lib.book();
    await c.send(checkout(p.cardNumber, ancient.barcode, '', `YY20060329    203000${NO_DATE}`));
    expect(lib.openLoans(ancient.id)).toMatchObject([{ checked_out_at: MONDAY_10H }]);
  });
});

describe('SIP2 checkin (09/10)', () => {
  it('returns the item: 101YNN, permanent location, title, the borrower, and reshelves it', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    const b = lib.book({ callNumber: 'I247.5/12' }, 'Returned');
    lib.circ.checkout({ patronId: p.id }, { barcode: b.barcode }, desk);
    const c = await lib.client();
    const r = parse(await c.send(checkin(b.barcode)));
    expect(r.fixed).toBe(`1YNN${SIP_MONDAY_10H}`);
    expect(r.fields).toEqual({ AO: ['SHELF'], AB: [b.barcode], AQ: ['main'], AJ: ['Returned'], AA: [p.cardNumber], CK: ['001'], CR: ['stacks'], CS: ['I247.5/12'] });
    expect(lib.openLoans(b.id)).toEqual([]);
    expect(lib.db.prepare('SELECT status FROM item WHERE id = ?').get(b.id)).toEqual({ status: 'available' });
  });

  it('answers an item that was not on loan with ok 0, or ok 1 for an account with checked_in_ok', async () => {
    lib = await openSip2Library({ accounts: [KIOSK, { ...KIOSK, login: 'sorter', checkedInOk: true }] });
    const b = lib.book();
    const c = await lib.client();
    const r = parse(await c.send(checkin(b.barcode)));
    expect(r.fixed.slice(0, 4)).toBe('0YNN');
    expect(r.fields.AF).toEqual(['This item was not checked out.']);
    const sorter = await lib.client({ ...KIOSK, login: 'sorter' });
    const s = parse(await sorter.send(checkin(b.barcode)));
    expect(s.fixed.slice(0, 4)).toBe('1YNN');
    expect(s.fields.AF).toBeUndefined();
  });

  it('alerts on an unknown item (CV 99) and changes nothing', async () => {
    lib = await openSip2Library();
    const c = await lib.client();
    const before = lib.snapshot();
    const r = parse(await c.send(checkin('NO-SUCH')));
    expect(r.fixed).toBe(`0NUY${SIP_MONDAY_10H}`);
    expect(r.fields).toMatchObject({ AB: ['NO-SUCH'], CV: ['99'], AF: ['This item is not in our catalogue.'] });
    const after = lib.snapshot();
    expect({ ...after, circ_event: [] }).toEqual({ ...before, circ_event: [] });
  });

  it('tells a sorter where the item goes: hold here (CV 01), hold elsewhere (02), another branch (04), with CT, CY, DA and the sort bin', async () => {
    const sorter: Sip2Account = {
      ...KIOSK, sortBins: [{ action: 'hold_shelf', bin: 'H' }, { action: 'transit', destination: 'east', bin: 'T-EAST' }, { itemType: 'dvd', bin: 'AV' }, { bin: 'R' }],
    };
    lib = await openSip2Library({ accounts: [sorter] });
    const c = await lib.client();
    const waiter = lib.patron({ name: 'Hold Here' });
    const here = lib.book();
    lib.circ.placeHold({ patronId: waiter.id }, here.recordId, 'main', desk);
    const r1 = parse(await c.send(checkin(here.barcode)));
    expect(r1.fixed.slice(0, 4)).toBe('0YNY');
    expect(r1.fields).toMatchObject({ CL: ['H'], CT: ['main'], CV: ['01'], CY: [waiter.cardNumber], DA: ['Hold Here'] });

    const farWaiter = lib.patron({ name: 'Hold East' });
    const there = lib.book();
    lib.circ.placeHold({ patronId: farWaiter.id }, there.recordId, 'east', desk);
    const r2 = parse(await c.send(checkin(there.barcode)));
    expect(r2.fields).toMatchObject({ CL: ['T-EAST'], CT: ['east'], CV: ['02'], CY: [farWaiter.cardNumber], DA: ['Hold East'] });

    const eastBook = lib.book({ homeBranch: 'east' });
    const r3 = parse(await c.send(checkin(eastBook.barcode)));
    expect(r3.fields).toMatchObject({ CL: ['T-EAST'], CT: ['east'], CV: ['04'] });
    expect(r3.fields.CY).toBeUndefined();

    expect(parse(await c.send(checkin(lib.book({ itemType: 'dvd' }).barcode))).fields.CL).toEqual(['AV']);
    const plain = parse(await c.send(checkin(lib.book().barcode)));
    expect(plain.fields.CL).toEqual(['R']);
    expect(plain.fixed[3]).toBe('N');
  });

  it('hides the fields an account hides (here the name of the patron a hold is for)', async () => {
    lib = await openSip2Library({ accounts: [{ ...KIOSK, hiddenFields: ['DA', 'CY'] }] });
    const c = await lib.client();
    const b = lib.book();
    lib.circ.placeHold({ patronId: lib.patron().id }, b.recordId, 'main', desk);
    const r = parse(await c.send(checkin(b.barcode)));
    expect(r.fields.CV).toEqual(['01']);
    expect(r.fields.DA).toBeUndefined();
    expect(r.fields.CY).toBeUndefined();
  });

  it('refuses the return of an item a hold waits for, when holds block checkin, and changes nothing', async () => {
    lib = await openSip2Library({ accounts: [{ ...KIOSK, holdsBlockCheckin: true }] });
    const c = await lib.client();
    const borrower = lib.patron();
    const b = lib.book();
    lib.circ.checkout({ patronId: borrower.id }, { barcode: b.barcode }, desk);
    lib.circ.placeHold({ patronId: lib.patron().id }, b.recordId, 'east', desk);
    const before = lib.snapshot();
    const r = parse(await c.send(checkin(b.barcode)));
    expect(r.fixed.slice(0, 4)).toBe('0NNY');
    expect(r.fields).toMatchObject({ CV: ['02'], CT: ['east'], AF: ['This item is reserved: please return it at the desk.'] });
    expect(lib.snapshot()).toEqual(before);
    const free = lib.book();
    lib.circ.checkout({ patronId: borrower.id }, { barcode: free.barcode }, desk);
    expect(parse(await c.send(checkin(free.barcode))).fixed.slice(0, 4)).toBe('1YNN');
  });

  it('applies a past return date (offline backlog): the loan closes then, and the fine is counted to then', async () => {
    lib = await openSip2Library();
    lib.rule({ patronCategory: 'undergraduate', finePerDayCents: 100 });
    const p = lib.patron();
    const b = lib.book();
    lib.circ.checkout({ patronId: p.id }, { barcode: b.barcode }, { ...desk, at: new Date(Date.parse(MONDAY_10H) - 31 * DAY) }); // Friday 30 Jan: due Friday 27 Feb
    const c = await lib.client();
    const returned = new Date(Date.parse(MONDAY_10H) - 2 * DAY).toISOString(); // Saturday 28 Feb: one day late
    const r = parse(await c.send(checkin(b.barcode, '', `Y${SIP_MONDAY_10H}${sipLocal(returned)}`)));
    expect(r.fixed.slice(0, 4)).toBe('1YNN');
    expect(r.fields.AF).toEqual(['Overdue fine charged: 1.00 CNY']);
    expect(lib.db.prepare('SELECT closed_at FROM loan WHERE item_id = ?').get(b.id)).toEqual({ closed_at: returned });
    expect(lib.db.prepare('SELECT amount_cents FROM fee').all()).toEqual([{ amount_cents: 100 }]);
  });

  it('backdates an online return by the gap between its return and transaction dates, whatever the terminal clock says', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    const c = await lib.client();
    const dropped = lib.book();
    lib.circ.checkout({ patronId: p.id }, { barcode: dropped.barcode }, { ...desk, at: new Date(Date.parse(MONDAY_10H) - 5 * DAY) });
    // A book drop emptied now; the terminal's clock is 8 hours behind, and the book went in two days ago by that clock.
    const terminalNow = new Date(Date.parse(MONDAY_10H) - 8 * 3_600_000).toISOString();
    const terminalDrop = new Date(Date.parse(terminalNow) - 2 * DAY).toISOString();
    await c.send(checkin(dropped.barcode, '', `N${sipLocal(terminalNow)}${sipLocal(terminalDrop)}`));
    expect(lib.db.prepare('SELECT closed_at FROM loan WHERE item_id = ?').get(dropped.id)).toEqual({ closed_at: new Date(Date.parse(MONDAY_10H) - 2 * DAY).toISOString() });
    // The same skewed terminal returning a book right now: its dates agree, so the return is now.
    const now = lib.book();
    lib.circ.checkout({ patronId: p.id }, { barcode: now.barcode }, { ...desk, at: new Date(Date.parse(MONDAY_10H) - 5 * DAY) });
    await c.send(checkin(now.barcode, '', `N${sipLocal(terminalNow)}${sipLocal(terminalNow)}`));
    expect(lib.db.prepare('SELECT closed_at FROM loan WHERE item_id = ?').get(now.id)).toEqual({ closed_at: MONDAY_10H });
  });
});

describe('SIP2 item information (17/18)', () => {
  it('reports each circulation status with its details', async () => {
    lib = await openSip2Library();
    const c = await lib.client();
    const p = lib.patron();
    const available = lib.book({ ownerIsil: 'CN-SH-001' }, 'On the shelf');
    const a = parse(await c.send(itemInfo(available.barcode)));
    expect(a.fixed).toBe(`030201${SIP_MONDAY_10H}`);
    expect(a.fields).toEqual({ CF: ['0'], AB: [available.barcode], AJ: ['On the shelf'], BG: ['CN-SH-001'], CK: ['001'], AQ: ['main'], AP: ['main'], CR: ['stacks'] });

    const lent = lib.book();
    lib.circ.checkout({ patronId: p.id }, { barcode: lent.barcode }, desk);
    lib.circ.placeHold({ patronId: lib.patron().id }, lent.recordId, 'main', desk);
    const l = parse(await c.send(itemInfo(lent.barcode)));
    expect(l.fixed.slice(0, 2)).toBe('04');
    expect(l.fields).toMatchObject({ CF: ['1'], AH: [dueOn('2026-03-30')] });

    const shelved = lib.book();
    lib.circ.placeHold({ patronId: p.id }, shelved.recordId, 'main', desk);
    lib.circ.checkin({ barcode: shelved.barcode }, desk);
    const h = parse(await c.send(itemInfo(shelved.barcode)));
    expect(h.fixed.slice(0, 2)).toBe('08');
    expect(h.fields.CM?.[0]).toMatch(/^202603\d\d    235959$/);

    const travelling = lib.book({ homeBranch: 'east' });
    lib.circ.checkin({ barcode: travelling.barcode }, desk);
    expect(parse(await c.send(itemInfo(travelling.barcode))).fields).toMatchObject({ CT: ['east'] });
    expect(parse(await c.send(itemInfo(travelling.barcode))).fixed.slice(0, 2)).toBe('10');

    expect(parse(await c.send(itemInfo(lib.book({ status: 'lost' }).barcode))).fixed.slice(0, 2)).toBe('12');
    expect(parse(await c.send(itemInfo(lib.book({ status: 'missing' }).barcode))).fixed.slice(0, 2)).toBe('13');
    expect(parse(await c.send(itemInfo(lib.book({ status: 'in_processing' }).barcode))).fixed.slice(0, 2)).toBe('06');
  });

  it('answers an unknown item as Koha and Evergreen do: status 01, an empty title', async () => {
    lib = await openSip2Library();
    const c = await lib.client();
    const r = parse(await c.send(itemInfo('NO-SUCH')));
    expect(r.fixed).toBe(`010001${SIP_MONDAY_10H}`);
    expect(r.fields).toEqual({ AB: ['NO-SUCH'], AJ: [''], AF: ['This item is not in our catalogue.'] });
  });
});

describe('SIP2 renew (29/30) and renew all (65/66)', () => {
  it('renews a loan (301YNN, new due date) and refuses what it cannot (300NUN, empty AH, reason)', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    const b = lib.book({}, 'Renew me');
    lib.circ.checkout({ patronId: p.id }, { barcode: b.barcode }, { ...desk, at: new Date(Date.parse(MONDAY_10H) - 10 * DAY) });
    const c = await lib.client();
    const r = parse(await c.send(renew(p.cardNumber, b.barcode)));
    expect(r.fixed).toBe(`1YNN${SIP_MONDAY_10H}`);
    expect(r.fields).toMatchObject({ AB: [b.barcode], AJ: ['Renew me'], AH: [dueOn('2026-03-30')], AF: ['Renewed.'] });
    const notLent = lib.book({}, 'Not lent');
    const n = parse(await c.send(renew(p.cardNumber, notLent.barcode)));
    expect(n.fixed).toBe(`0NUN${SIP_MONDAY_10H}`);
    expect(n.fields).toMatchObject({ AJ: ['Not lent'], AH: [''], AF: ['This item is not on loan.'] });
    lib.circ.placeHold({ patronId: lib.patron().id }, b.recordId, 'main', desk);
    expect(parse(await c.send(renew(p.cardNumber, b.barcode))).fields.AF).toEqual(['Another reader is waiting for this title; it cannot be renewed.']);
  });

  it('renews every loan it can and lists the others', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    const a = lib.book();
    const b = lib.book();
    for (const x of [a, b]) lib.circ.checkout({ patronId: p.id }, { barcode: x.barcode }, desk);
    lib.circ.placeHold({ patronId: lib.patron().id }, b.recordId, 'main', desk);
    const c = await lib.client();
    const r = parse(await c.send(`65${SIP_MONDAY_10H}AOSHELF|AA${p.cardNumber}|`));
    expect(r.fixed).toBe(`100010001${SIP_MONDAY_10H}`);
    expect(r.fields).toMatchObject({ BM: [a.barcode], BN: [b.barcode], AF: ['Another reader is waiting for this title; it cannot be renewed.'] });
    const u = parse(await c.send(`65${SIP_MONDAY_10H}AOSHELF|AANOBODY|`));
    expect(u.fixed).toBe(`000000000${SIP_MONDAY_10H}`);
  });
});

describe('SIP2 hold (15/16)', () => {
  it('places, changes and cancels a title-level hold through the circulation core', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    const q = lib.patron();
    const b = lib.book({}, 'Wanted');
    lib.circ.checkout({ patronId: lib.patron().id }, { barcode: b.barcode }, desk);
    const c = await lib.client();
    const placed = parse(await c.send(hold('+', p.cardNumber, b.barcode, 'BW20260601    120000|BSmain|BY2|')));
    expect(placed.fixed).toBe(`1N${SIP_MONDAY_10H}`);
    expect(placed.fields).toMatchObject({ BW: ['20260601    120000'], BR: ['1'], BS: ['main'], AA: [p.cardNumber], AB: [b.barcode], AJ: ['Wanted'], AF: ['Hold placed.'] });
    expect(parse(await c.send(hold('+', q.cardNumber, b.barcode))).fields.BR).toEqual(['2']);

    const changed = parse(await c.send(hold('*', p.cardNumber, b.barcode, 'BSeast|')));
    expect(changed.fields).toMatchObject({ BS: ['east'], BR: ['1'], AF: ['Hold updated.'] });
    expect(lib.db.prepare('SELECT pickup_branch FROM hold WHERE patron_id = ?').get(p.id)).toEqual({ pickup_branch: 'east' });

    expect(parse(await c.send(hold('-', p.cardNumber, b.barcode))).fixed.slice(0, 2)).toBe('1N');
    expect(lib.db.prepare('SELECT status FROM hold WHERE patron_id = ?').get(p.id)).toEqual({ status: 'cancelled' });
    const again = parse(await c.send(hold('-', p.cardNumber, b.barcode)));
    expect(again.fixed.slice(0, 2)).toBe('0N');
    expect(again.fields.AF).toEqual(['You have no hold on this title.']);
  });

  it('refuses a duplicate hold, an unknown item or patron, and an unknown mode', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    const b = lib.book();
    const c = await lib.client();
    await c.send(hold('+', p.cardNumber, b.barcode));
    expect(parse(await c.send(hold('+', p.cardNumber, b.barcode))).fields.AF).toEqual(['You already have a hold on this title.']);
    expect(parse(await c.send(hold('+', p.cardNumber, 'NO-SUCH'))).fields.AF).toEqual(['This item is not in our catalogue.']);
    expect(parse(await c.send(hold('+', 'NOBODY', b.barcode))).fields.AF).toEqual(['Card not recognised. Please ask at the desk.']);
    expect(parse(await c.send(hold('?', p.cardNumber, b.barcode))).fields.AF).toEqual(['Unknown hold request.']);
  });

  it('will not move the pickup branch of a hold already being filled', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    const b = lib.book();
    lib.circ.placeHold({ patronId: p.id }, b.recordId, 'main', desk);
    lib.circ.checkin({ barcode: b.barcode }, desk); // trapped: ready on the hold shelf
    const c = await lib.client();
    const r = parse(await c.send(hold('*', p.cardNumber, b.barcode, 'BSeast|')));
    expect(r.fixed.slice(0, 2)).toBe('0N');
    expect(r.fields.AF).toEqual(['This hold is already being filled; its pickup branch can no longer be changed.']);
  });
});

describe('SIP2 item status update (19/20)', () => {
  it('answers that item properties are not stored (and BX says so)', async () => {
    lib = await openSip2Library();
    const b = lib.book({}, 'Props');
    const c = await lib.client();
    const r = parse(await c.send(`19${SIP_MONDAY_10H}AOSHELF|AB${b.barcode}|CHbinding: spiral|`));
    expect(r.fixed).toBe(`0${SIP_MONDAY_10H}`);
    expect(r.fields).toEqual({ AB: [b.barcode], AJ: ['Props'], CH: ['binding: spiral'], AF: ['Item properties are not stored by this library system.'] });
  });
});

describe('SIP2 branches', () => {
  it('decides checkouts and returns for the branch of the login', async () => {
    lib = await openSip2Library({ accounts: [KIOSK, { ...KIOSK, login: 'east-kiosk', branchId: 'east' }] });
    const p = lib.patron();
    const b = lib.book();
    const east = await lib.client({ ...KIOSK, login: 'east-kiosk' });
    await east.send(checkout(p.cardNumber, b.barcode));
    expect(lib.openLoans(b.id)).toMatchObject([{ branch_id: 'east' }]);
    const r = parse(await east.send(checkin(b.barcode)));
    expect(r.fields).toMatchObject({ CV: ['04'], CT: ['main'] });
    expect(lib.db.prepare('SELECT status, current_branch, transit_to FROM item WHERE id = ?').get(b.id)).toEqual({ status: 'in_transit', current_branch: 'east', transit_to: 'main' });
  });

  it('refuses to start with an account whose branch does not exist', async () => {
    await expect(openSip2Library({ accounts: [{ ...KIOSK, branchId: 'nowhere' }] })).rejects.toThrow(/branch "nowhere" does not exist/);
  });
});
