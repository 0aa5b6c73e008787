import { afterEach, describe, expect, it } from 'vitest';
import { KIOSK, SIP_MONDAY_10H, SipClient, field, openSip2Library, parse, withChecksum, type Sip2Library } from './helpers.js';
import { checksum } from '../../../server/sip2/checksum.js';
import { validMessages } from './fuzz.js';

let lib: Sip2Library;
afterEach(async () => { await lib?.close(); });

const itemInfo = (barcode: string) => `17${SIP_MONDAY_10H}AOSHELF|AB${barcode}|`;
const checkout = (patron: string, barcode: string) => `11YN${SIP_MONDAY_10H}${' '.repeat(18)}AOSHELF|AA${patron}|AB${barcode}|`;

describe('SIP2 login (93/94)', () => {
  it('logs in with the configured login and password, and refuses anything else', async () => {
    lib = await openSip2Library();
    const c = await lib.client(null);
    expect(await c.send('9300CNkiosk-1|COwrong|CPmain|')).toBe('940');
    expect(await c.send('9300CNnobody|COkiosk-secret|')).toBe('940');
    expect(await c.send('9310CNkiosk-1|COkiosk-secret|')).toBe('940'); // encrypted user ids are not supported
    expect(await c.send('9300CNkiosk-1|COkiosk-secret|CPmain|')).toBe('941');
  });

  it('closes the connection after five failed logins', async () => {
    lib = await openSip2Library();
    const c = await lib.client(null);
    for (let i = 0; i < 5; i++) expect(await c.send('9300CNkiosk-1|COguess|')).toBe('940');
    await c.closed;
    expect(lib.logs.join('\n')).toMatch(/after 5 failed logins/);
  });
});

describe('SIP2 before login', () => {
  it('answers nothing but Login: other requests get their refusal and change nothing', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    const b = lib.book();
    const before = lib.snapshot();
    const c = await lib.client(null);
    const r = parse(await c.send(checkout(p.cardNumber, b.barcode)));
    expect(r.raw.slice(0, 6)).toBe('120NUN');
    expect(r.fields.AF).toEqual(['Please log in first.']);
    const s = parse(await c.send(`23001${SIP_MONDAY_10H}AOSHELF|AA${p.cardNumber}|`));
    expect(s.fixed.slice(0, 14)).toBe('YYYY          ');
    expect(s.fields.AE).toEqual(['']);
    expect(lib.snapshot()).toEqual(before);
    // SC Status is refused too unless the server allows it before login.
    expect((await c.send('9900302.00')).slice(0, 8)).toBe('98NNNNNN');
  });

  it('answers SC Status before login where configured', async () => {
    lib = await openSip2Library({ server: { statusBeforeLogin: true } });
    const c = await lib.client(null);
    const r = parse(await c.send('9900302.00'));
    expect(r.fixed).toBe(`YYYYYY100005${SIP_MONDAY_10H}2.00`);
    expect(r.fields.BX).toEqual(['YYYYYYYYYYYNYYYY']);
    expect(r.fields.AO).toEqual(['']);
  });
});

describe('SIP2 SC/ACS status (99/98)', () => {
  it('reports online, what is allowed, timeout and retries from the account, the time and exactly the messages implemented', async () => {
    lib = await openSip2Library({ accounts: [{ ...KIOSK, timeoutPeriod: 30, retriesAllowed: 3, terminalLocation: 'Entrance' }] });
    const c = await lib.client();
    const r = parse(await c.send('9900302.00'));
    // online, checkin ok, checkout ok, ACS renewal policy, status update ok (block patron), offline ok
    expect(r.fixed).toBe(`YYYYYY030003${SIP_MONDAY_10H}2.00`);
    expect(r.fields).toEqual({ AO: ['SHELF'], AM: ['main library'], BX: ['YYYYYYYYYYYNYYYY'], AN: ['Entrance'] });
  });
});

describe('SIP2 error detection', () => {
  it('checks the checksum and answers with the sequence number and a correct checksum', async () => {
    lib = await openSip2Library();
    const c = await lib.client();
    const r = await c.send('990 402.00AY1AZFCB4');
    expect(r).toMatch(/^98.*\|AY1AZ[0-9A-F]{4}$/);
    expect(r.slice(-4)).toBe(checksum(Buffer.from(r.slice(0, -4), 'utf8')));
  });

  it('answers every message with the request\'s sequence number and a correct checksum when the SC uses error detection', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    const b = lib.book();
    const c = await lib.client(KIOSK, { errorDetection: true });
    const answers: Record<string, string> = { '93': '94', '99': '98', '23': '24', '63': '64', '11': '12', '09': '10', '17': '18', '29': '30', '65': '66', '35': '36', '37': '38', '15': '16', '19': '20', '25': '26', '01': '24' };
    let seq = 1; // the login took 0
    for (const message of validMessages(p.cardNumber, b.barcode)) {
      const r = await c.send(message);
      const code = message.slice(0, 2);
      if (code === '97') {
        expect(r).toMatch(/AY\dAZ[0-9A-F]{4}$/); // the previous response again, its own sequence number included
      } else {
        expect(r.slice(0, 2), message).toBe(answers[code]);
        expect(r.slice(-9, -4), message).toBe(`AY${seq % 10}AZ`);
      }
      expect(r.slice(-4), message).toBe(checksum(Buffer.from(r.slice(0, -4), 'utf8')));
      seq++;
    }
    expect(lib.server.stats()).toMatchObject({ checksumErrors: 0, malformed: 0, internalErrors: 0 });
  });

  it('answers a bad checksum with 96AZFEF6 and changes nothing', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    const b = lib.book();
    const c = await lib.client();
    const before = lib.snapshot();
    const good = withChecksum(checkout(p.cardNumber, b.barcode), 3);
    const bad = good.slice(0, -4) + (good.endsWith('0000') ? '0001' : '0000');
    expect(await c.send(bad)).toBe('96AZFEF6');
    expect(lib.snapshot()).toEqual(before);
    expect(lib.server.stats().checksumErrors).toBe(1);
    // The SC sends it again, intact: now it runs.
    expect((await c.send(good)).slice(0, 6)).toBe('121NNY');
    expect(lib.openLoans(b.id)).toHaveLength(1);
  });

  it('resends the last response, byte for byte, on 97', async () => {
    lib = await openSip2Library();
    const b = lib.book();
    const c = await lib.client();
    const first = await c.send(withChecksum(itemInfo(b.barcode), 4));
    expect(await c.send('97AZFEF5')).toBe(first);
    expect(await c.send('97')).toBe(first);
  });

  it('replays the cached response to an identical retransmission (same AY and checksum) instead of running it twice', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    const b = lib.book();
    const c = await lib.client();
    const message = withChecksum(checkout(p.cardNumber, b.barcode), 5);
    const first = await c.send(message);
    expect(first.slice(0, 6)).toBe('121NNY');
    expect(await c.send(message)).toBe(first);
    expect(lib.events().filter((e) => e.op === 'checkout')).toHaveLength(1);
    expect(lib.db.prepare('SELECT renewals FROM loan WHERE item_id = ?').get(b.id)).toEqual({ renewals: 0 });
  });

  it('never runs a checkout twice when the SC retries it on a new connection after losing the answer', async () => {
    lib = await openSip2Library();
    const p = lib.patron();
    const b = lib.book();
    const message = withChecksum(checkout(p.cardNumber, b.barcode), 7);
    const c1 = await lib.client();
    const first = await c1.send(message);
    c1.destroy();
    const c2 = await lib.client();
    expect(await c2.send(message)).toBe(first);
    expect(lib.events().filter((e) => e.op === 'checkout')).toHaveLength(1);
    expect(lib.openLoans(b.id)).toMatchObject([{ renewals: 0 }]);
    // Without a sequence number a repeated request cannot be told from a new one, so it runs: a checkout
    // of what the patron already has is a renewal, never a second loan.
    const c3 = await lib.client();
    expect((await c3.send(checkout(p.cardNumber, b.barcode))).slice(0, 6)).toBe('121YNY');
    expect(lib.openLoans(b.id)).toMatchObject([{ renewals: 1 }]);
  });

  it('runs identical requests without error detection each time (a client that repeats itself within a second)', async () => {
    lib = await openSip2Library();
    const b = lib.book();
    lib.circ.checkout({ patronId: lib.patron().id }, { barcode: b.barcode }, { channel: 'desk', branchId: 'main' });
    const c = await lib.client();
    const checkin = `09N${SIP_MONDAY_10H}${SIP_MONDAY_10H}APx|AOSHELF|AB${b.barcode}|`;
    expect((await c.send(checkin)).slice(0, 6)).toBe('101YNN');
    expect((await c.send(checkin)).slice(0, 6)).toBe('100YNN'); // no longer on loan
  });

  it('sends no checksum when the request had none, always one when the account asks for it, and none when it is off', async () => {
    lib = await openSip2Library({ accounts: [KIOSK, { ...KIOSK, login: 'always', errorDetection: true }, { ...KIOSK, login: 'never', errorDetection: false }] });
    const plain = await lib.client();
    expect(await plain.send('9900302.00')).not.toMatch(/AZ[0-9A-F]{4}$/);
    const always = await lib.client({ ...KIOSK, login: 'always' });
    const r = await always.send('9900302.00');
    expect(r).toMatch(/\|AZ[0-9A-F]{4}$/);
    expect(r.slice(-4)).toBe(checksum(Buffer.from(r.slice(0, -4), 'utf8')));
    const never = await lib.client({ ...KIOSK, login: 'never' });
    const n = await never.send('990 402.00AY1AZ0000'); // a wrong checksum is not even looked at
    expect(n.slice(0, 2)).toBe('98');
    expect(n).not.toMatch(/AZ[0-9A-F]{4}$/);
  });

  it('asks for a resend (96) of a message it cannot read, with a checksum when the SC uses them', async () => {
    lib = await openSip2Library();
    const c = await lib.client();
    expect(await c.send('XX')).toBe('96');
    expect(await c.send('11YN2026')).toBe('96');
    expect(await c.send(withChecksum('11YN2026', 2))).toBe('96AZFEF6');
    expect(lib.server.stats()).toMatchObject({ malformed: 3, internalErrors: 0 });
  });
});

describe('SIP2 framing and account encodings', () => {
  it('accepts CR, CRLF, a stray leading LF and a bare LF as the end of a message', async () => {
    lib = await openSip2Library();
    const b = lib.book();
    const c = await lib.client();
    expect(field(await c.send(itemInfo(b.barcode), '\r\n'), 'AB')).toBe(b.barcode);
    expect(field(await c.send(`\n${itemInfo(b.barcode)}`, '\r'), 'AB')).toBe(b.barcode);
    expect(field(await c.send(itemInfo(b.barcode), '\n'), 'AB')).toBe(b.barcode);
  });

  it('ends responses with CRLF for an account that wants it', async () => {
    lib = await openSip2Library({ accounts: [{ ...KIOSK, terminator: 'CRLF' }] });
    const c = await SipClient.connect(lib.server.port);
    const raw = new Promise<Buffer>((resolve) => c.socket.once('data', resolve));
    c.write('9300CNkiosk-1|COkiosk-secret|\r');
    expect((await raw).toString('latin1')).toBe('941\r\n');
    c.destroy();
  });

  it('speaks ISO-8859-1 and IBM850 to accounts that use them', async () => {
    lib = await openSip2Library({ accounts: [{ ...KIOSK, charset: 'iso-8859-1' }, { ...KIOSK, login: 'pc850', charset: 'ibm850' }] });
    const b = lib.book({}, 'Müller: Straße');
    const latin = await lib.client(KIOSK, { encoding: 'latin1' });
    expect(field(await latin.send(itemInfo(b.barcode)), 'AJ')).toBe('Müller: Straße');
    const raw = new Promise<Buffer>((resolve) => latin.socket.once('data', resolve));
    latin.write(`${itemInfo(b.barcode)}\r`);
    expect((await raw).includes(Buffer.from([0x4d, 0xfc, 0x6c]))).toBe(true); // "Mül" in ISO-8859-1
    const pc = await lib.client({ ...KIOSK, login: 'pc850' }, { encoding: 'latin1' });
    const r = await pc.send(itemInfo(b.barcode));
    expect(Buffer.from(field(r, 'AJ')!, 'latin1')).toEqual(Buffer.from([0x4d, 0x81, 0x6c, 0x6c, 0x65, 0x72, 0x3a, 0x20, 0x53, 0x74, 0x72, 0x61, 0xe1, 0x65]));
  });

  it('reads and writes fields with the account\'s delimiter, including at login', async () => {
    lib = await openSip2Library({ accounts: [{ ...KIOSK, delimiter: '^' }] });
    const b = lib.book({}, 'A^B|C');
    const c = await SipClient.connect(lib.server.port);
    expect(await c.send('9300CNkiosk-1^COkiosk-secret^CPmain^')).toBe('941');
    const r = await c.send(`17${SIP_MONDAY_10H}AOSHELF^AB${b.barcode}^`);
    expect(r).toContain(`AB${b.barcode}^AJA&#94;B|C^`);
    c.destroy();
  });

  it('escapes the delimiter and line ends in values', async () => {
    lib = await openSip2Library();
    const b = lib.book({}, 'Pipes | and\rreturns');
    const c = await lib.client();
    expect(field(await c.send(itemInfo(b.barcode)), 'AJ')).toBe('Pipes &#124; and returns');
  });
});
