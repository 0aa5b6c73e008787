import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { crc16CcittFalse, crc16Mcrf4xx } from '../../../contract/rfid/crc.js';

const ascii = (s: string) => Buffer.from(s, 'ascii');

// Bit-at-a-time references, straight from the parameter sets, to check the tables against.
function refCcittFalse(b: Uint8Array): number {
  let c = 0xffff;
  for (const x of b) { c ^= x << 8; for (let i = 0; i < 8; i++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff; }
  return c;
}
function refMcrf4xx(b: Uint8Array): number {
  let c = 0xffff;
  for (const x of b) { c ^= x; for (let i = 0; i < 8; i++) c = c & 1 ? (c >>> 1) ^ 0x8408 : c >>> 1; }
  return c;
}

describe('CRC-16', () => {
  it('matches the catalogue check values for "123456789"', () => {
    expect(crc16CcittFalse(ascii('123456789'))).toBe(0x29b1);
    expect(crc16Mcrf4xx(ascii('123456789'))).toBe(0x6f91);
  });

  it('gives the ISO 28560-3 example CRC 0x1AEE of "RFID tag data model" with CCITT-FALSE (not MCRF4XX)', () => {
    expect(crc16CcittFalse(ascii('RFID tag data model'))).toBe(0x1aee);
    expect(crc16Mcrf4xx(ascii('RFID tag data model'))).not.toBe(0x1aee);
  });

  it('returns the initial value for no data', () => {
    expect(crc16CcittFalse(Buffer.alloc(0))).toBe(0xffff);
    expect(crc16Mcrf4xx(Buffer.alloc(0))).toBe(0xffff);
  });

  it('continues from a running value as if the pieces were one buffer', () => {
    const a = ascii('1234'), b = ascii('56789');
    expect(crc16CcittFalse(b, crc16CcittFalse(a))).toBe(0x29b1);
    expect(crc16Mcrf4xx(b, crc16Mcrf4xx(a))).toBe(0x6f91);
  });

  it('agrees with a bitwise implementation on random data', () => {
    for (let n = 0; n < 200; n++) {
      const buf = randomBytes(n);
      expect(crc16CcittFalse(buf)).toBe(refCcittFalse(buf));
      expect(crc16Mcrf4xx(buf)).toBe(refMcrf4xx(buf));
    }
  });
});
