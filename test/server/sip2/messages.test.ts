import { describe, expect, it } from 'vitest';
import { checksum, findTrailer } from '../../../server/sip2/checksum.js';
import { decode, encode } from '../../../server/sip2/charset.js';
import { amount, parseAmount, parseSipDate, sipDate } from '../../../server/sip2/fields.js';
import { fixedLength, parseRequest, type RequestFor } from '../../../server/sip2/requests.js';
import { buildResponse, escapeValue } from '../../../server/sip2/responses.js';
import { FIXED_LENGTH, parse } from './helpers.js';

const TZ = 'Asia/Shanghai';
const bytes = (s: string) => Buffer.from(s, 'latin1');
const opts = { delimiter: '|', timeZone: TZ };

describe('SIP2 checksum (error detection)', () => {
  it('is the two\'s complement of the 16-bit byte sum, as four uppercase hex digits', () => {
    expect(checksum(bytes('941AY0AZ'))).toBe('FDFD');
    expect(checksum(bytes('990 402.00AY1AZ'))).toBe('FCB4');
    expect(checksum(bytes('96AZ'))).toBe('FEF6');
    expect(checksum(bytes(''))).toBe('0000');
    // The sum wraps at 16 bits: 300 bytes of 0xFF sum to 76500 = 0x12AD4 → -0x2AD4 & 0xFFFF.
    expect(checksum(Buffer.alloc(300, 0xff))).toBe('D52C');
  });

  it('finds the AY/AZ trailer, the sequence digit and whether the checksum matches', () => {
    expect(findTrailer(bytes('990 402.00AY1AZFCB4'), 0x7c, fixedLength('99'))).toEqual({ bodyEnd: 10, sequence: '1', checksum: 'FCB4', valid: true });
    expect(findTrailer(bytes('990 402.00AY1AZFCB5'), 0x7c, fixedLength('99'))).toMatchObject({ sequence: '1', valid: false });
    expect(findTrailer(bytes('990 402.00AY1AZfcb4'), 0x7c, fixedLength('99'))).toMatchObject({ checksum: 'FCB4', valid: true });
    // 97 carries a checksum but never a sequence number.
    expect(findTrailer(bytes('97AZFEF5'), 0x7c, fixedLength('97'))).toEqual({ bodyEnd: 2, sequence: null, checksum: 'FEF5', valid: true });
    expect(findTrailer(bytes('17x|ABitem|AZ0000'), 0x7c, null)).toMatchObject({ bodyEnd: 11, sequence: null });
  });

  it('does not take a field value that merely ends in AZ and four hex digits for a trailer', () => {
    expect(findTrailer(bytes('1720260302    100000AOSHELF|ABBAZ1234'), 0x7c, fixedLength('17'))).toBeNull();
    expect(findTrailer(bytes('990 402.00'), 0x7c, fixedLength('99'))).toBeNull();
    expect(findTrailer(bytes('AZ'), 0x7c, null)).toBeNull();
  });
});

describe('SIP2 character sets', () => {
  it('round-trips UTF-8, ISO-8859-1 and IBM850, sending ? for what a set cannot carry', () => {
    expect(decode(encode('三体 Müller', 'utf-8'), 'utf-8')).toBe('三体 Müller');
    expect([...encode('Müller', 'iso-8859-1')]).toEqual([0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72]);
    expect(encode('三体', 'iso-8859-1').toString('latin1')).toBe('??');
    // IBM850: ü = 0x81, é = 0x82, Ø = 0x9D, ß = 0xE1, █ = 0xDB, nbsp = 0xFF.
    expect([...encode('üéØß█\u00a0', 'ibm850')]).toEqual([0x81, 0x82, 0x9d, 0xe1, 0xdb, 0xff]);
    expect(decode(Buffer.from([0x81, 0x82, 0x9d, 0xe1, 0x41]), 'ibm850')).toBe('üéØßA');
    expect(encode('€', 'ibm850').toString('latin1')).toBe('?');
    for (let b = 0; b < 256; b++) expect(encode(decode(Buffer.from([b]), 'ibm850'), 'ibm850')[0]).toBe(b);
  });

  it('never throws on malformed UTF-8', () => {
    expect(decode(Buffer.from([0x41, 0xff, 0xc3]), 'utf-8')).toBe('A\ufffd\ufffd');
  });
});

describe('SIP2 dates and amounts', () => {
  it('writes 18-character dates in the library time zone, four blanks for the zone', () => {
    expect(sipDate(new Date('2026-03-02T02:00:00Z'), TZ)).toBe('20260302    100000');
    expect(sipDate(new Date('2026-03-30T15:59:59Z'), TZ)).toBe('20260330    235959');
    expect(sipDate(new Date('2026-03-02T02:00:00Z'), 'UTC')).toBe('20260302    020000');
  });

  it('reads local dates in the library time zone, Z dates as UTC, and blanks or nonsense as none', () => {
    expect(parseSipDate('20260302    100000', TZ)?.toISOString()).toBe('2026-03-02T02:00:00.000Z');
    expect(parseSipDate('20260302   Z100000', TZ)?.toISOString()).toBe('2026-03-02T10:00:00.000Z');
    expect(parseSipDate(' '.repeat(18), TZ)).toBeNull();
    expect(parseSipDate('00000000    000000', TZ)).toBeNull();
    expect(parseSipDate('20260231    100000', TZ)).toBeNull();
    expect(parseSipDate('20260302    256000', TZ)).toBeNull();
  });

  it('writes and reads amounts in cents', () => {
    expect(amount(1250)).toBe('12.50');
    expect(amount(5)).toBe('0.05');
    expect(parseAmount('12.5')).toBe(1250);
    expect(parseAmount('12')).toBe(1200);
    expect(parseAmount('0.05')).toBe(5);
    expect(parseAmount('-1')).toBeNull();
    expect(parseAmount('1.234')).toBeNull();
    expect(parseAmount('abc')).toBeNull();
  });
});

describe('SIP2 request parser', () => {
  it('reads the fixed part by position and the fields by id, typed', () => {
    const r = parseRequest('11YN20260302    100000                  AOSHELF|AAP1|ABB1|ADpin|BON|', opts);
    expect(r.ok).toBe(true);
    const req = (r as { request: RequestFor<'11'> }).request;
    expect(req).toMatchObject({ code: '11', scRenewalPolicy: true, noBlock: false, institutionId: 'SHELF', patronIdentifier: 'P1', itemIdentifier: 'B1', patronPassword: 'pin', feeAcknowledged: 'N' });
    expect(req.transactionDate?.toISOString()).toBe('2026-03-02T02:00:00.000Z');
    expect(req.nbDueDate).toBeNull();
  });

  it('does not care about field order, ignores unknown ids and takes the first of a repeated id', () => {
    const a = parseRequest('1720260302    100000AOSHELF|ABB1|', opts);
    const b = parseRequest('1720260302    100000ZZwhatever|ABB1|XYz|AOSHELF|ABB2|', opts);
    expect(b).toEqual(a);
  });

  it('accepts a last field without its delimiter', () => {
    expect(parseRequest('9300CNkiosk|COsecret', opts)).toMatchObject({ ok: true, request: { loginUserId: 'kiosk', loginPassword: 'secret' } });
  });

  it('refuses an unknown message code and a fixed part cut short', () => {
    expect(parseRequest('94AOx|', opts)).toEqual({ ok: false, error: 'unknown_message' });
    expect(parseRequest('11YN2026', opts)).toEqual({ ok: false, error: 'fixed_part_too_short' });
    expect(parseRequest('', opts)).toEqual({ ok: false, error: 'unknown_message' });
  });

  it('knows the fixed length of every request of SIP2 2.00', () => {
    const expected: Record<string, number> = {
      '93': 4, '99': 10, '97': 2, '23': 23, '63': 33, '11': 40, '09': 39, '17': 20, '29': 40, '65': 20, '35': 20, '37': 27, '15': 21,
      '19': 20, '25': 20, '01': 21,
    };
    for (const [code, len] of Object.entries(expected)) expect(fixedLength(code)).toBe(len);
  });
});

describe('SIP2 response builder', () => {
  const build = (res: Parameters<typeof buildResponse>[0], hidden?: string[]) =>
    buildResponse(res, { timeZone: TZ, delimiter: '|', hidden: hidden ? new Set(hidden) : undefined });
  const now = new Date('2026-03-02T02:00:00Z');

  it('lays out the fixed part exactly as SIP2 2.00 does, for every response', () => {
    const samples = [
      build({ code: '94', ok: true }),
      build({ code: '98', onlineStatus: true, checkinOk: true, checkoutOk: true, acsRenewalPolicy: true, statusUpdateOk: false, offlineOk: false, timeoutPeriod: 30, retriesAllowed: 3, dateTimeSync: now, protocolVersion: '2.00', institutionId: 'I', supportedMessages: 'Y'.repeat(16) }),
      build({ code: '24', patronStatus: ' '.repeat(14), language: '001', transactionDate: now, institutionId: 'I', patronIdentifier: 'P', personalName: 'N' }),
      build({ code: '64', patronStatus: ' '.repeat(14), language: '001', transactionDate: now, holdItemsCount: 1, overdueItemsCount: 2, chargedItemsCount: 3, fineItemsCount: 4, recallItemsCount: 0, unavailableHoldsCount: 12345, institutionId: 'I', patronIdentifier: 'P', personalName: 'N' }),
      build({ code: '12', ok: true, renewalOk: false, magneticMedia: false, desensitize: true, transactionDate: now, institutionId: 'I', patronIdentifier: 'P', itemIdentifier: 'B', titleIdentifier: 'T', dueDate: '' }),
      build({ code: '10', ok: true, resensitize: true, magneticMedia: null, alert: false, transactionDate: now, institutionId: 'I', itemIdentifier: 'B', permanentLocation: 'main' }),
      build({ code: '18', circulationStatus: '03', securityMarker: '02', feeType: '01', transactionDate: now, itemIdentifier: 'B', titleIdentifier: 'T' }),
      build({ code: '30', ok: false, renewalOk: false, magneticMedia: null, desensitize: false, transactionDate: now, institutionId: 'I', patronIdentifier: 'P', itemIdentifier: 'B', titleIdentifier: '', dueDate: '' }),
      build({ code: '66', ok: true, renewedCount: 2, unrenewedCount: 1, transactionDate: now, institutionId: 'I', renewedItems: ['a', 'b'], unrenewedItems: ['c'] }),
      build({ code: '36', endSession: true, transactionDate: now, institutionId: 'I', patronIdentifier: 'P' }),
      build({ code: '38', paymentAccepted: true, transactionDate: now, institutionId: 'I', patronIdentifier: 'P' }),
      build({ code: '16', ok: true, available: false, transactionDate: now, institutionId: 'I', patronIdentifier: 'P' }),
      build({ code: '20', itemPropertiesOk: false, transactionDate: now, itemIdentifier: 'B', titleIdentifier: '' }),
      build({ code: '26', patronStatus: ' '.repeat(14), language: '000', transactionDate: now, institutionId: 'I', patronIdentifier: 'P', personalName: 'N' }),
    ];
    for (const s of samples) {
      const p = parse(s);
      expect(p.fixed.length, s).toBe(FIXED_LENGTH[p.code]);
      expect(s.slice(2 + FIXED_LENGTH[p.code]!)).toMatch(/^([A-Z]{2}[^|]*\|)*$/);
    }
    expect(samples[1]).toBe('98YYYYNN03000320260302    1000002.00AOI|BXYYYYYYYYYYYYYYYY|');
    expect(samples[3]!.slice(0, 61)).toBe(`64${' '.repeat(14)}00120260302    100000000100020003000400009999`);
    expect(samples[4]).toBe('121NNY20260302    100000AOI|AAP|ABB|AJT|AH|');
    expect(samples[8]).toBe('6610002000120260302    100000AOI|BMa|BMb|BNc|');
  });

  it('escapes the delimiter and line ends inside values, and cuts values at 255 characters', () => {
    expect(escapeValue('A|B\rC\nD', '|')).toBe('A&#124;B C D');
    expect(escapeValue('x^y', '^')).toBe('x&#94;y');
    expect(escapeValue('长'.repeat(300), '|')).toBe('长'.repeat(255));
  });

  it('leaves out hidden fields and fields without a value, and sends an empty value when it is empty', () => {
    const s = build({ code: '24', patronStatus: ' '.repeat(14), language: '000', transactionDate: now, institutionId: 'I', patronIdentifier: 'P', personalName: '', screenMessage: 'hi' }, ['AF']);
    expect(s).toBe(`24${' '.repeat(14)}00020260302    100000AOI|AAP|AE|`);
  });

  it('refuses to build a fixed field of the wrong length (a programming error, never sent)', () => {
    expect(() => build({ code: '18', circulationStatus: '3', securityMarker: '02', feeType: '01', transactionDate: now, itemIdentifier: 'B', titleIdentifier: '' })).toThrow(/circulationStatus must be 2/);
  });
});
