import { afterEach, describe, expect, it } from 'vitest';
import { DAY, MONDAY_10H, SIP_MONDAY_10H, openSip2Library, parse, type Sip2Library } from './helpers.js';

let lib: Sip2Library;
afterEach(async () => { await lib?.close(); });

const status = (card: string, extra = '', lang = '001') => `23${lang}${SIP_MONDAY_10H}AOSHELF|AA${card}|${extra}`;
const info = (card: string, summary = ' '.repeat(10), extra = '') => `63001${SIP_MONDAY_10H}${summary}AOSHELF|AA${card}|${extra}`;
const BLANK = ' '.repeat(14);

describe('SIP2 patron status (23/24)', () => {
  it('describes a patron in good standing: no denials, the language echoed, name, valid patron, balance', async () => {
    lib = await openSip2Library();
    const p = lib.patron({ name: '王小明' });
    const c = await lib.client();
    const r = parse(await c.send(status(p.cardNumber)));
    expect(r.fixed).toBe(`${BLANK}001${SIP_MONDAY_10H}`);
    expect(r.fields).toEqual({ AO: ['SHELF'], AA: [p.cardNumber], AE: ['王小明'], BL: ['Y'], BH: ['CNY'], BV: ['0.00'] });
  });

  it('answers an unknown patron as Koha and Evergreen do: YYYY and blanks, empty AE, AA echoed, BL N, a screen message', async () => {
    lib = await openSip2Library();
    const c = await lib.client();
    const r = parse(await c.send(status('NOBODY')));
    expect(r.fixed).toBe(`YYYY${' '.repeat(10)}001${SIP_MONDAY_10H}`);
    expect(r.fields).toEqual({ AO: ['SHELF'], AA: ['NOBODY'], AE: [''], BL: ['N'], AF: ['Card not recognised. Please ask at the desk.'] });
  });

  it('checks the PIN when one is sent: CQY for the right one, CQN for a wrong one', async () => {
    lib = await openSip2Library();
    const p = await lib.patronWithPin('4321');
    const c = await lib.client();
    expect(parse(await c.send(status(p.cardNumber, 'AD4321|'))).fields.CQ).toEqual(['Y']);
    const wrong = parse(await c.send(status(p.cardNumber, 'AD1111|')));
    expect(wrong.fields.CQ).toEqual(['N']);
    expect(wrong.fields.AF).toEqual(['The PIN is not correct.']);
    // A patron without a PIN matches only the empty PIN.
    const q = lib.patron();
    expect(parse(await c.send(status(q.cardNumber, 'AD|'))).fields.CQ).toEqual(['Y']);
    expect(parse(await c.send(status(q.cardNumber, 'AD1234|'))).fields.CQ).toEqual(['N']);
  });

  it('builds the 14-character status from the real blocks', async () => {
    lib = await openSip2Library();
    const c = await lib.client();
    const st = async (card: string) => parse(await c.send(status(card))).fixed.slice(0, 14);
    expect(await st(lib.patron({ expiryDate: '2026-01-31' }).cardNumber)).toBe('YYYY          ');
    expect(await st(lib.patron({ cardLost: true }).cardNumber)).toBe('YYYYY         ');
    const fined = lib.patron();
    lib.db.prepare("INSERT INTO fee (patron_id, kind, amount_cents, created_at) VALUES (?, 'manual', 1500, ?)").run(fined.id, MONDAY_10H);
    expect(await st(fined.cardNumber)).toBe('YYYY      YY  ');
    lib.rule({ patronCategory: 'undergraduate', maxLoans: 1 });
    const full = lib.patron();
    lib.circ.checkout({ patronId: full.id }, { barcode: lib.book().barcode }, { channel: 'desk', branchId: 'main' });
    expect(await st(full.cardNumber)).toBe('Y    Y        '); // only charging is denied at the loan limit
    lib.rule({ patronCategory: 'undergraduate', maxLoans: 10, blockOverdueItems: 1 });
    const late = lib.patron();
    lib.circ.checkout({ patronId: late.id }, { barcode: lib.book().barcode }, { channel: 'desk', branchId: 'main', at: new Date(Date.parse(MONDAY_10H) - 40 * DAY) });
    expect(await st(late.cardNumber)).toBe('YYYY  Y       ');
    const fields = parse(await c.send(status(late.cardNumber))).fields;
    expect(fields.AF).toEqual(['You have too many overdue items. Please return them first.']);
  });

  it('answers in Chinese when the SC asks for language 019 on a UTF-8 account', async () => {
    lib = await openSip2Library();
    const c = await lib.client();
    const r = parse(await c.send(status('NOBODY', '', '019')));
    expect(r.fixed.slice(14, 17)).toBe('019');
    expect(r.fields.AF).toEqual(['无法识别此读者证，请到服务台咨询。']);
  });
});

describe('SIP2 patron information (63/64)', () => {
  async function patronWithActivity() {
    const p = lib.patron({ email: 'reader@example.org', phone: '+86 21 5555 1234', birthDate: '2001-09-09' });
    const desk = { channel: 'desk' as const, branchId: 'main' };
    const onLoan = [lib.book(), lib.book(), lib.book()];
    for (const b of onLoan) lib.circ.checkout({ patronId: p.id }, { barcode: b.barcode }, desk);
    const overdue = lib.book();
    lib.circ.checkout({ patronId: p.id }, { barcode: overdue.barcode }, { ...desk, at: new Date(Date.parse(MONDAY_10H) - 40 * DAY) });
    // A hold ready on the shelf, and one still waiting.
    const readyTitle = lib.record('Ready title');
    const readyCopy = lib.item(readyTitle);
    lib.circ.placeHold({ patronId: p.id }, readyTitle, 'main', desk);
    lib.circ.checkin({ barcode: readyCopy.barcode }, desk);
    const waitingTitle = lib.record('Waiting title');
    const waitingCopy = lib.item(waitingTitle);
    lib.circ.checkout({ patronId: lib.patron().id }, { barcode: waitingCopy.barcode }, desk);
    lib.circ.placeHold({ patronId: p.id }, waitingTitle, 'main', desk);
    lib.db.prepare("INSERT INTO fee (patron_id, kind, amount_cents, created_at, note) VALUES (?, 'manual', 250, ?, 'lost card')").run(p.id, MONDAY_10H);
    return { p, onLoan, overdue, readyCopy };
  }

  it('counts holds, overdues, loans and fines in the fixed part and gives limits, balance and class', async () => {
    lib = await openSip2Library();
    const { p } = await patronWithActivity();
    const c = await lib.client();
    const r = parse(await c.send(info(p.cardNumber)));
    // hold items 1 (ready), overdue 1, charged 4, fine items 1, recall 0, unavailable holds 1
    expect(r.fixed).toBe(`${BLANK}001${SIP_MONDAY_10H}000100010004000100000001`);
    expect(r.fields).toEqual({
      AO: ['SHELF'], AA: [p.cardNumber], AE: [p.name], BZ: ['0010'], CA: ['0005'], CB: ['0010'], BL: ['Y'], BH: ['CNY'], BV: ['2.50'],
      CC: ['10.00'], PC: ['undergraduate'],
    });
  });

  it('lists the one kind of item the summary asks for (positions 0–5) and ignores positions 6–9', async () => {
    lib = await openSip2Library();
    const { p, onLoan, overdue, readyCopy } = await patronWithActivity();
    const c = await lib.client();
    const list = async (pos: number) => parse(await c.send(info(p.cardNumber, ' '.repeat(pos) + 'Y' + ' '.repeat(9 - pos)))).fields;
    expect((await list(0)).AS).toEqual([readyCopy.barcode]);
    expect((await list(1)).AT).toEqual([overdue.barcode]);
    expect((await list(2)).AU).toEqual([overdue.barcode, ...onLoan.map((b) => b.barcode)]); // by due date
    expect((await list(3)).AV).toEqual(['2.50 manual lost card']);
    expect((await list(4)).BU).toBeUndefined();
    expect((await list(5)).CD).toEqual(['Waiting title']);
    for (const pos of [6, 7, 8, 9]) {
      const f = await list(pos);
      expect(['AS', 'AT', 'AU', 'AV', 'BU', 'CD'].filter((id) => id in f)).toEqual([]);
    }
  });

  it('pages a list with BP and BQ (1-based, inclusive)', async () => {
    lib = await openSip2Library();
    const { p, onLoan } = await patronWithActivity();
    const c = await lib.client();
    const r = parse(await c.send(info(p.cardNumber, '  Y       ', 'BP2|BQ3|')));
    expect(r.fields.AU).toEqual(onLoan.slice(0, 2).map((b) => b.barcode));
  });

  it('sends e-mail, phone and birth date only to accounts configured for patron details', async () => {
    lib = await openSip2Library({ accounts: [{ login: 'kiosk-1', password: 'kiosk-secret', institutionId: 'SHELF', branchId: 'main', patronDetails: true }] });
    const { p } = await patronWithActivity();
    const c = await lib.client();
    const f = parse(await c.send(info(p.cardNumber))).fields;
    expect(f).toMatchObject({ BE: ['reader@example.org'], BF: ['+86 21 5555 1234'], PB: ['20010909'] });
  });

  it('answers an unknown patron with zero counts and BL N, and shows no lists after a wrong PIN', async () => {
    lib = await openSip2Library();
    const c = await lib.client();
    const r = parse(await c.send(info('NOBODY', 'Y         ')));
    expect(r.fixed).toBe(`YYYY${' '.repeat(10)}001${SIP_MONDAY_10H}${'0000'.repeat(6)}`);
    expect(r.fields).toMatchObject({ AA: ['NOBODY'], AE: [''], BL: ['N'] });
    const p = await lib.patronWithPin('2468');
    lib.circ.checkout({ patronId: p.id }, { barcode: lib.book().barcode }, { channel: 'desk', branchId: 'main' });
    const w = parse(await c.send(info(p.cardNumber, '  Y       ', 'AD0000|')));
    expect(w.fields.CQ).toEqual(['N']);
    expect(w.fields.AU).toBeUndefined();
  });
});

describe('SIP2 block patron (01 → 24) and patron enable (25/26)', () => {
  it('blocks the patron with the SC\'s message, answers with a patron status, and writes the audit log', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    const c = await lib.client();
    const r = parse(await c.send(`01Y${SIP_MONDAY_10H}AOSHELF|ALCard used by someone else|AA${p.cardNumber}|`));
    expect(r.code).toBe('24');
    expect(r.fixed).toBe(`YYYY${' '.repeat(10)}000${SIP_MONDAY_10H}`);
    expect(r.fields).toMatchObject({ AA: [p.cardNumber], AE: [p.name], BL: ['Y'] });
    expect(lib.db.prepare('SELECT blocked_reason FROM patron WHERE id = ?').get(p.id)).toEqual({ blocked_reason: 'SIP2 block: Card used by someone else (card retained)' });
    expect(lib.db.prepare('SELECT actor, action, target FROM audit_log').all()).toEqual([{ actor: 'sip2:kiosk-1', action: 'patron.block', target: `patron:${p.id}` }]);
    // Blocked: a checkout is refused with the block's words.
    const b = lib.book();
    const out = parse(await c.send(`11YN${SIP_MONDAY_10H}${' '.repeat(18)}AOSHELF|AA${p.cardNumber}|AB${b.barcode}|`));
    expect(out.raw.slice(0, 6)).toBe('120NUN');
    expect(out.fields.AF).toEqual(['Your account is blocked. Please ask at the desk.']);
  });

  it('lifts a block a self-check placed, and only that', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    const staff = lib.patron({ blockedReason: 'Damaged three books' });
    const c = await lib.client();
    await c.send(`01N${SIP_MONDAY_10H}AOSHELF|ALlost|AA${p.cardNumber}|`);
    const r = parse(await c.send(`25${SIP_MONDAY_10H}AOSHELF|AA${p.cardNumber}|`));
    expect(r.code).toBe('26');
    expect(r.fixed).toBe(`${BLANK}000${SIP_MONDAY_10H}`);
    expect(r.fields).toMatchObject({ AE: [p.name], BL: ['Y'], AF: ['Your card can be used again.'] });
    expect(lib.db.prepare('SELECT blocked_reason FROM patron WHERE id = ?').get(p.id)).toEqual({ blocked_reason: null });
    // 01 does not overwrite a staff block, and 25 does not lift it.
    await c.send(`01N${SIP_MONDAY_10H}AOSHELF|ALx|AA${staff.cardNumber}|`);
    const s = parse(await c.send(`25${SIP_MONDAY_10H}AOSHELF|AA${staff.cardNumber}|`));
    expect(s.fixed.slice(0, 4)).toBe('YYYY');
    expect(s.fields.AF).toEqual(['Your account is blocked. Please ask at the desk.']);
    expect(lib.db.prepare('SELECT blocked_reason FROM patron WHERE id = ?').get(staff.id)).toEqual({ blocked_reason: 'Damaged three books' });
    expect(lib.db.prepare('SELECT action FROM audit_log ORDER BY id').all()).toEqual([{ action: 'patron.block' }, { action: 'patron.enable' }]);
  });

  it('changes nothing on a wrong PIN and answers an unknown patron with BL N', async () => {
    lib = await openSip2Library();
    const p = await lib.patronWithPin('1357');
    const c = await lib.client();
    await c.send(`01N${SIP_MONDAY_10H}AOSHELF|AA${p.id ? p.cardNumber : ''}|`);
    const r = parse(await c.send(`25${SIP_MONDAY_10H}AOSHELF|AA${p.cardNumber}|AD9999|`));
    expect(r.fields.CQ).toEqual(['N']);
    expect(r.fixed.slice(0, 4)).toBe('YYYY');
    expect(lib.db.prepare('SELECT blocked_reason FROM patron WHERE id = ?').get(p.id)).toEqual({ blocked_reason: 'SIP2 block: blocked by a self-check terminal' });
    const u = parse(await c.send(`25${SIP_MONDAY_10H}AOSHELF|AANOBODY|`));
    expect(u.fixed.slice(0, 14)).toBe(`YYYY${' '.repeat(10)}`);
    expect(u.fields).toMatchObject({ AE: [''], BL: ['N'] });
  });
});

describe('SIP2 end patron session (35/36)', () => {
  it('ends the session and thanks the patron', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    const c = await lib.client();
    const r = parse(await c.send(`35${SIP_MONDAY_10H}AOSHELF|AA${p.cardNumber}|`));
    expect(r.fixed).toBe(`Y${SIP_MONDAY_10H}`);
    expect(r.fields).toEqual({ AO: ['SHELF'], AA: [p.cardNumber], AF: ['Thank you.'] });
  });
});

describe('SIP2 fee paid (37/38)', () => {
  const pay = (card: string, amount: string, extra = '', currency = 'CNY') => `37${SIP_MONDAY_10H}0100${currency}BV${amount}|AOSHELF|AA${card}|${extra}`;

  it('pays open fees oldest first through the circulation core and echoes the transaction id', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    lib.db.prepare("INSERT INTO fee (patron_id, kind, amount_cents, created_at) VALUES (?, 'manual', 500, ?)").run(p.id, MONDAY_10H);
    const c = await lib.client();
    const r = parse(await c.send(pay(p.cardNumber, '2.00', 'BKpos-77|')));
    expect(r.fixed).toBe(`Y${SIP_MONDAY_10H}`);
    expect(r.fields).toMatchObject({ AA: [p.cardNumber], BK: ['pos-77'], AF: ['Payment accepted. Thank you. Still owed: 3.00 CNY'] });
    expect(lib.db.prepare('SELECT amount_cents, channel FROM payment').all()).toEqual([{ amount_cents: 200, channel: 'sip2' }]);
    // The payment system retries with the same transaction id: paid once.
    const again = parse(await c.send(pay(p.cardNumber, '2.00', 'BKpos-77|ACterminal|')));
    expect(again.fixed[0]).toBe('Y');
    expect(lib.db.prepare('SELECT count(*) AS n FROM payment').get()).toEqual({ n: 1 });
  });

  it('refuses a payment over the balance, in another currency, or of no amount', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    lib.db.prepare("INSERT INTO fee (patron_id, kind, amount_cents, created_at) VALUES (?, 'manual', 500, ?)").run(p.id, MONDAY_10H);
    const c = await lib.client();
    const over = parse(await c.send(pay(p.cardNumber, '9.00')));
    expect(over.fixed[0]).toBe('N');
    expect(over.fields.AF).toEqual(['The payment is more than what is owed.']);
    expect(parse(await c.send(pay(p.cardNumber, '1.00', '', 'USD'))).fields.AF).toEqual(['This payment is in a currency the library does not take.']);
    expect(parse(await c.send(pay(p.cardNumber, 'ten'))).fields.AF).toEqual(['The payment amount is not valid.']);
    expect(lib.db.prepare('SELECT count(*) AS n FROM payment').get()).toEqual({ n: 0 });
  });
});
