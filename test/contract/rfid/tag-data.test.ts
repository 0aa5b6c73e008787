import { describe, expect, it } from 'vitest';
import type { TagData } from '../../../contract/mqtt.js';
import { decodeTagMemory, DSFID_ISO28560_2, encodeIso28560_2, encodeTagMemory, type TagFields } from '../../../contract/rfid/tag-data.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const pad = (b: Buffer, n = 64) => Buffer.concat([b, Buffer.alloc(Math.max(0, n - b.length))]);
const fields = (o: Partial<TagFields> = {}): TagFields => ({ typeOfUsage: 1, primaryItemId: '11223344', partsInSet: 1, partNumber: 1, country: 'DE', isil: '705', ...o });
const asTagData = (f: TagFields, format: TagData['format']): TagData => ({ format, crcOk: true, ...f });

// libdanrfid / ISO 28560-3 style example: a 32-byte tag, CRC 0x3E51 stored as 51 3E.
const BLOCK32 = hex('11010131313232333334340000000000000000513e4445373035000000000000');

// ISO 28560-2 encoding example (also GB/T 35660.2): PII 123456789012, content parameter, set
// information 1203, shelf location QA268.L55, owner institution US-InU-Mu.
const EXAMPLE_2 = hex(`91 00 05 1c  be 99 1a 14  02 01 d0 14  02 04 b3 46  07 44 1c b6
  e2 e3 35 d6  83 02 07 ac  c0 9e ba a0  6f 6b 00 00`);

describe('ISO 28560-3 basic block', () => {
  it('decodes the 32-byte example', () => {
    expect(decodeTagMemory(BLOCK32)).toEqual({
      format: 'iso28560-3', typeOfUsage: 1, partsInSet: 1, partNumber: 1, primaryItemId: '11223344', country: 'DE', isil: '705', crcOk: true,
    });
  });

  it('encodes those fields to the same bytes (34 bytes; the first 32 are the example)', () => {
    const m = encodeTagMemory(fields());
    expect(m.length).toBe(34);
    expect(m.subarray(0, 32)).toEqual(BLOCK32);
    expect(m.subarray(32)).toEqual(Buffer.alloc(2));
  });

  it('decodes the same block read as 64 bytes of a larger tag', () => {
    expect(decodeTagMemory(pad(BLOCK32))).toMatchObject({ format: 'iso28560-3', primaryItemId: '11223344', isil: '705', crcOk: true });
  });

  it('falls back to the 32-byte CRC when bytes 32..33 hold something else', () => {
    const m = Buffer.concat([BLOCK32, Buffer.alloc(32, 0xab)]);
    expect(decodeTagMemory(m)).toMatchObject({ format: 'iso28560-3', isil: '705', crcOk: true });
  });

  it('reads an 11-character ISIL only on a tag of 34 bytes or more', () => {
    const m = encodeTagMemory(fields({ country: 'CN', isil: 'CN-110000-1' }));
    expect(decodeTagMemory(pad(m))).toMatchObject({ isil: 'CN-110000-1', country: 'CN', crcOk: true });
  });

  it.each([
    ['circulating item', fields()],
    ['patron card', fields({ typeOfUsage: 8, primaryItemId: 'P000123456', country: 'CN', isil: 'CN-100001' })],
    ['part 2 of 3', fields({ partsInSet: 3, partNumber: 2 })],
    ['Chinese ISIL of 11 characters', fields({ country: 'CN', isil: 'CN-110000-1' })],
    ['16-character barcode, empty ISIL', fields({ primaryItemId: 'ABCDEFGH12345678', isil: '' })],
    ['barcode with a leading zero and spaces kept', fields({ primaryItemId: '0012 34 ' })],
    ['discarded item', fields({ typeOfUsage: 7 })],
  ])('round-trips a %s', (_, f) => {
    expect(decodeTagMemory(pad(encodeTagMemory(f)))).toEqual(asTagData(f, 'iso28560-3'));
    expect(decodeTagMemory(pad(encodeTagMemory(f)), 0x00)).toEqual(asTagData(f, 'iso28560-3'));
  });

  it('reports crcOk false for any flipped bit in bytes 0..31, and stays -3', () => {
    const good = pad(encodeTagMemory(fields({ partsInSet: 3, partNumber: 2, isil: 'DE-705' })));
    for (let i = 0; i < 32; i++) {
      for (const bit of [0x01, 0x04, 0x40]) {
        if (i === 0 && bit === 0x40) continue; // that one changes the version nibble
        const bad = Buffer.from(good);
        bad[i]! ^= bit;
        const d = decodeTagMemory(bad);
        expect({ i, bit, format: d.format, crcOk: d.crcOk }).toEqual({ i, bit, format: 'iso28560-3', crcOk: false });
      }
    }
  });

  it('reports crcOk false for a flipped byte 32 or 33 when they hold ISIL characters', () => {
    const good = pad(encodeTagMemory(fields({ country: 'CN', isil: 'CN-110000-1' })));
    for (const i of [32, 33]) {
      const bad = Buffer.from(good);
      bad[i]! ^= 0x01;
      expect(decodeTagMemory(bad)).toMatchObject({ format: 'iso28560-3', crcOk: false });
    }
  });

  it('reads a block whose bytes 32..33 changed but were 0 as a 32-byte block (the fields it returns are CRC-checked)', () => {
    const bad = pad(encodeTagMemory(fields()));
    bad[32] = 0x55;
    expect(decodeTagMemory(bad)).toEqual(asTagData(fields(), 'iso28560-3'));
  });

  it('keeps a -3 reading when a flipped byte makes the block look odd, rather than guessing -2', () => {
    // Part 5 of 3 after the flip, and 11 03 05 … parses as -2 objects up to a point.
    const bad = pad(encodeTagMemory(fields({ partsInSet: 3, partNumber: 1 })));
    bad[2] = 0x05;
    expect(decodeTagMemory(bad)).toMatchObject({ format: 'iso28560-3', partsInSet: 3, partNumber: 5, crcOk: false });
  });

  it('accepts a -3 block on a tag that says DSFID 0x06 when its CRC is good', () => {
    expect(decodeTagMemory(pad(encodeTagMemory(fields())), DSFID_ISO28560_2)).toMatchObject({ format: 'iso28560-3', crcOk: true });
  });

  it.each<[string, Partial<TagFields>, RegExp]>([
    ['an empty primary item id', { primaryItemId: '' }, /primaryItemId must not be empty/],
    ['a primary item id over 16 bytes', { primaryItemId: '12345678901234567' }, /17 bytes; ISO 28560-3 holds at most 16/],
    ['a non-ASCII primary item id', { primaryItemId: 'Bücher1' }, /primaryItemId must be printable ASCII/],
    ['a control character in the primary item id', { primaryItemId: 'AB\u0000C' }, /primaryItemId must be printable ASCII/],
    ['an ISIL over 11 characters', { isil: 'CN-110000-12' }, /12 characters; ISO 28560-3 holds at most 11/],
    ['a non-ASCII ISIL', { isil: 'DE-Mü' }, /isil must be a printable ASCII string/],
    ['a 3-letter country', { country: 'DEU' }, /country must be two upper-case letters/],
    ['a lower-case country', { country: 'de' }, /country must be two upper-case letters/],
    ['a country with a digit', { country: 'D1' }, /country must be two upper-case letters/],
    ['0 parts in set', { partsInSet: 0, partNumber: 0 }, /partsInSet must be an integer 1\.\.255, got 0/],
    ['256 parts in set', { partsInSet: 256 }, /partsInSet must be an integer 1\.\.255, got 256/],
    ['part number 0', { partNumber: 0 }, /partNumber must be an integer 1\.\.255, got 0/],
    ['a fractional part number', { partsInSet: 3, partNumber: 1.5 }, /partNumber must be an integer/],
    ['part number above parts in set', { partsInSet: 3, partNumber: 4 }, /partNumber 4 is greater than partsInSet 3/],
    ['type of usage 16', { typeOfUsage: 16 }, /typeOfUsage must be an integer 0\.\.15, got 16/],
    ['negative type of usage', { typeOfUsage: -1 }, /typeOfUsage must be an integer 0\.\.15, got -1/],
  ])('refuses %s', (_, bad, message) => {
    expect(() => encodeTagMemory(fields(bad))).toThrow(message);
  });

  it('refuses fields of the wrong type (as they may arrive over MQTT)', () => {
    expect(() => encodeTagMemory({ ...fields(), typeOfUsage: '1' } as unknown as TagFields)).toThrow(/typeOfUsage must be an integer/);
    expect(() => encodeTagMemory({ ...fields(), isil: undefined } as unknown as TagFields)).toThrow(/isil must be a printable ASCII string/);
  });
});

describe('ISO 28560-2 objects', () => {
  it('encodes an integer-compacted primary item id as 91 00 05 1C BE 99 1A 14', () => {
    // 0x91: offset bit set, compaction 1 (integer), relative OID 1; 00: no pad bytes follow (the offset
    // byte itself fills the block); 05: five data bytes; 1CBE991A14 = 123456789012.
    const m = encodeIso28560_2(fields({ primaryItemId: '123456789012' }));
    expect(m.subarray(0, 8)).toEqual(hex('91 00 05 1C BE 99 1A 14'));
  });

  it('decodes the standard example, with and without DSFID 0x06', () => {
    const expected = { format: 'iso28560-2', primaryItemId: '123456789012', partsInSet: 12, partNumber: 3, isil: 'US-InU-Mu', country: 'US', typeOfUsage: null, crcOk: true };
    expect(decodeTagMemory(EXAMPLE_2, DSFID_ISO28560_2)).toEqual(expected);
    expect(decodeTagMemory(pad(EXAMPLE_2))).toEqual(expected);
  });

  it('uses ISIL compaction for the owner institution (07 AC C0 9E BA A0 6F 6B for US-InU-Mu)', () => {
    const m = encodeIso28560_2(fields({ primaryItemId: '123456789012', country: 'US', isil: 'US-InU-Mu' }));
    expect(m.includes(hex('03 07 AC C0 9E BA A0 6F 6B'))).toBe(true);
  });

  it('uses 6-bit compaction where it is shortest (QA268.L55 → 44 1C B6 E2 E3 35 D6)', () => {
    const m = encodeIso28560_2(fields({ primaryItemId: 'QA268.L55' }));
    expect(m.subarray(0, 12)).toEqual(hex('C1 02 07 44 1C B6 E2 E3 35 D6 00 00'));
  });

  it('writes set information as number of parts then part number, same width, integer compacted', () => {
    const m = encodeIso28560_2(fields({ primaryItemId: '123456789012', partsInSet: 12, partNumber: 3, isil: '' }));
    expect(m.includes(hex('14 02 04 B3'))).toBe(true);
  });

  it('ends with a 0x00 terminator on 4-byte blocks', () => {
    const m = encodeIso28560_2(fields());
    expect(m.length % 4).toBe(0);
    expect(m[m.length - 1]).toBe(0);
  });

  it.each([
    ['circulating item', fields({ isil: 'DE-705' })],
    ['patron card', fields({ typeOfUsage: 8, primaryItemId: 'P000123456', country: 'CN', isil: 'CN-100001' })],
    ['part 2 of 3', fields({ partsInSet: 3, partNumber: 2, isil: 'DE-705' })],
    ['part 7 of 120', fields({ partsInSet: 120, partNumber: 7, isil: 'DE-705' })],
    ['Chinese ISIL', fields({ country: 'CN', isil: 'CN-110000-1' })],
    ['16-character ISIL with lower case and digits', fields({ country: 'US', isil: 'US-InU-Mu:a/b123' })],
    ['numeric barcode with leading zeros', fields({ primaryItemId: '000123456789', isil: 'DE-705' })],
    ['upper-case barcode', fields({ primaryItemId: 'ABCDEFGH', isil: 'DE-705' })],
    ['mixed-case barcode', fields({ primaryItemId: 'lib-2024/000123', isil: 'DE-705' })],
    ['long barcode', fields({ primaryItemId: '9'.repeat(30), isil: 'DE-705' })],
    ['acquisition item', fields({ typeOfUsage: 0, isil: 'DE-705' })],
  ])('round-trips a %s', (_, f) => {
    const m = encodeIso28560_2(f);
    expect(decodeTagMemory(m, DSFID_ISO28560_2)).toEqual(asTagData(f, 'iso28560-2'));
    expect(decodeTagMemory(pad(m))).toEqual(asTagData(f, 'iso28560-2'));
  });

  it('finds its own -2 tags by structure alone, whatever the fields', () => {
    const ids = ['1', '42', '1234', '65535', '123456789012', '007', 'A', 'AB', 'QA268', 'X-1', 'lib0001', '18446744073709551616'];
    for (const primaryItemId of ids) {
      for (const [partsInSet, partNumber] of [[1, 1], [2, 1], [10, 10]] as const) {
        const f = fields({ primaryItemId, partsInSet, partNumber, isil: 'DE-705', typeOfUsage: 8 });
        expect(decodeTagMemory(pad(encodeIso28560_2(f)))).toEqual(asTagData(f, 'iso28560-2'));
      }
    }
  });

  it('puts the country in front of an ISIL without a prefix', () => {
    expect(decodeTagMemory(encodeIso28560_2(fields()), DSFID_ISO28560_2)).toMatchObject({ isil: 'DE-705', country: 'DE' });
  });

  it('leaves the owner out for an empty ISIL', () => {
    expect(decodeTagMemory(encodeIso28560_2(fields({ isil: '' })), DSFID_ISO28560_2)).toMatchObject({ isil: null, country: null });
  });

  it('tells a -2 tag whose first precursor is 0x11 from a -3 block', () => {
    const m = encodeIso28560_2(fields({ primaryItemId: '1234', isil: 'DE-705' }));
    expect(m.subarray(0, 4)).toEqual(hex('11 02 04 D2'));
    expect(decodeTagMemory(pad(m))).toMatchObject({ format: 'iso28560-2', primaryItemId: '1234', isil: 'DE-705' });
    expect(decodeTagMemory(pad(m), 0)).toMatchObject({ format: 'iso28560-2', primaryItemId: '1234' });
  });

  it('keeps what was read of a longer -2 tag when the DSFID says -2, and refuses it otherwise', () => {
    const m = encodeIso28560_2(fields({ primaryItemId: '123456789012', isil: 'DE-705' })).subarray(0, 12);
    expect(decodeTagMemory(m, DSFID_ISO28560_2)).toMatchObject({ format: 'iso28560-2', primaryItemId: '123456789012', isil: null });
    expect(decodeTagMemory(m).format).toBe('unknown');
  });

  it('skips objects it does not map, including an OID above 14', () => {
    // PII "1234", title (OID 17: precursor 0x7F = UTF-8, OID 15 + next byte 2) "test", type of usage
    // application defined 0x80, owner "DE-705" as an octet string.
    const m = hex('11 02 04 D2  7F 02 04 74 65 73 74  05 01 80  63 06');
    const full = Buffer.concat([m, Buffer.from('DE-705'), Buffer.alloc(1)]);
    expect(decodeTagMemory(full, DSFID_ISO28560_2)).toMatchObject({ primaryItemId: '1234', typeOfUsage: 8, isil: 'DE-705', country: 'DE', partsInSet: 1, partNumber: 1 });
  });

  it('refuses structures that are not -2 without a DSFID: repeated OID, OID 1 not first, object past the end', () => {
    expect(decodeTagMemory(pad(hex('21 01 12  21 01 34'))).format).toBe('unknown');
    expect(decodeTagMemory(pad(hex('03 01 05  11 01 06'))).format).toBe('unknown');
    expect(decodeTagMemory(hex('91 00 05 1C BE 99 1A 14  63 09 41')).format).toBe('unknown');
  });

  it.each<[string, Partial<TagFields>, RegExp]>([
    ['an ISIL with characters ISIL compaction lacks', { isil: 'CN_100001' }, /outside A-Z a-z 0-9 - : \//],
    ['an ISIL over 16 characters', { isil: 'DE-1234567890abcd' }, /17 characters; an ISIL has at most 16/],
    ['an empty primary item id', { primaryItemId: '' }, /primaryItemId must not be empty/],
    ['part number above parts in set', { partsInSet: 2, partNumber: 3 }, /partNumber 3 is greater than partsInSet 2/],
    ['a bad country', { country: 'd' }, /country must be two upper-case letters/],
  ])('refuses %s', (_, bad, message) => {
    expect(() => encodeIso28560_2(fields(bad))).toThrow(message);
  });
});

describe('other memory', () => {
  it('reports blank tags (all 0x00 or all 0xFF)', () => {
    const blank = { format: 'blank', typeOfUsage: null, primaryItemId: null, partsInSet: null, partNumber: null, country: null, isil: null, crcOk: true };
    expect(decodeTagMemory(Buffer.alloc(64))).toEqual(blank);
    expect(decodeTagMemory(Buffer.alloc(32, 0xff))).toEqual(blank);
    expect(decodeTagMemory(Buffer.alloc(64), DSFID_ISO28560_2)).toEqual(blank);
  });

  it('reports anything else as unknown with null fields', () => {
    const unknown = { format: 'unknown', typeOfUsage: null, primaryItemId: null, partsInSet: null, partNumber: null, country: null, isil: null, crcOk: false };
    expect(decodeTagMemory(pad(Buffer.from('Hello, world')))).toEqual(unknown);
    expect(decodeTagMemory(Buffer.alloc(0))).toEqual(unknown);
    expect(decodeTagMemory(BLOCK32.subarray(0, 28))).toEqual(unknown); // too short for a basic block
    expect(decodeTagMemory(pad(Buffer.from('Hello, world')), DSFID_ISO28560_2)).toEqual(unknown);
  });
});
