/**
 * Table-driven CRC-16s used around library RFID.
 *
 * Parameters as in the RevEng "Catalogue of parametrised CRC algorithms" (width 16):
 * - CRC-16/CCITT-FALSE (listed there as CRC-16/IBM-3740): poly 0x1021, init 0xFFFF, refin/refout false,
 *   xorout 0, check("123456789") = 0x29B1. ISO 28560-3 (Annex C) protects its basic block with it.
 * - CRC-16/MCRF4XX: poly 0x1021 reflected (0x8408), init 0xFFFF, refin/refout true, xorout 0,
 *   check = 0x6F91. The FEIG ISO host protocol frames use it.
 *
 * Both take an optional running value, so a CRC over non-contiguous ranges is
 * `crc(b, crc(a))` (what ISO 28560-3 needs to skip its own CRC bytes).
 */

function table(entry: (n: number) => number): Uint16Array {
  const t = new Uint16Array(256);
  for (let n = 0; n < 256; n++) t[n] = entry(n);
  return t;
}

// MSB-first table: the CRC of byte n shifted in at the top of a zero register.
const CCITT = table((n) => {
  let c = n << 8;
  for (let i = 0; i < 8; i++) c = c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1;
  return c & 0xffff;
});

// LSB-first (reflected) table for poly 0x8408.
const MCRF = table((n) => {
  let c = n;
  for (let i = 0; i < 8; i++) c = c & 1 ? (c >>> 1) ^ 0x8408 : c >>> 1;
  return c;
});

/** CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, not reflected, no final XOR. */
export function crc16CcittFalse(buf: Uint8Array, crc = 0xffff): number {
  for (let i = 0; i < buf.length; i++) crc = ((crc << 8) ^ CCITT[((crc >>> 8) ^ buf[i]!) & 0xff]!) & 0xffff;
  return crc;
}

/** CRC-16/MCRF4XX: poly 0x8408 (0x1021 reflected), init 0xFFFF, reflected, no final XOR. */
export function crc16Mcrf4xx(buf: Uint8Array, crc = 0xffff): number {
  for (let i = 0; i < buf.length; i++) crc = (crc >>> 8) ^ MCRF[(crc ^ buf[i]!) & 0xff]!;
  return crc;
}
