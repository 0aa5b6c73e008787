/**
 * A minimal baseline JPEG encoder (ITU-T T.81 / ISO 10918-1, sequential DCT, Huffman, 8-bit) for
 * greyscale frames: one component, the example luminance quantisation table of Annex K.1 scaled as
 * the IJG library scales it for a quality, and the typical luminance Huffman tables of Annex K.3.
 * JFIF APP0 (JFIF 1.01) so every viewer takes it. Width and height need not be multiples of 8: edge
 * blocks repeat the last row and column. Enough for a simulated camera's 160×120 frame (~1 ms).
 */

/** Zig-zag order (T.81 Figure A.6): ZIGZAG[k] is the natural (row-major) index of the k-th coefficient. */
export const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
  35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/** T.81 Table K.1, natural order. */
const LUMINANCE_QUANT = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
  18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/** T.81 Table K.3 (DC luminance) and K.5 (AC luminance): code counts per length 1..16, then the symbols. */
export const DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
export const DC_VALUES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
export const AC_BITS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
export const AC_VALUES = [
  0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08,
  0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
  0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59,
  0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
  0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6,
  0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
  0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
];

interface HuffCode { code: number; length: number }

/** Canonical codes from the counts per length (T.81 Annex C, Figures C.1–C.3): symbol → code. */
export function huffmanCodes(bits: readonly number[], values: readonly number[]): Map<number, HuffCode> {
  if (bits.length !== 16 || bits.reduce((s, n) => s + n, 0) !== values.length) throw new Error('Huffman table: the counts do not add up to the symbols');
  const codes = new Map<number, HuffCode>();
  let code = 0, k = 0;
  for (let length = 1; length <= 16; length++) {
    for (let i = 0; i < bits[length - 1]!; i++) codes.set(values[k++]!, { code: code++, length });
    code <<= 1;
  }
  return codes;
}
const DC_CODES = huffmanCodes(DC_BITS, DC_VALUES);
const AC_CODES = huffmanCodes(AC_BITS, AC_VALUES);

/** The IJG scaling of a base table for quality 1..100 (jcparam.c jpeg_quality_scaling), natural order. */
export function quantTable(quality: number): number[] {
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  const scale = q < 50 ? 5000 / q : 200 - 2 * q;
  return LUMINANCE_QUANT.map((v) => Math.min(255, Math.max(1, Math.floor((v * scale + 50) / 100))));
}

/** cos((2x+1)uπ/16) with the C(u) normalisation folded in: COS[u*8+x]. */
const COS = new Float64Array(64);
for (let u = 0; u < 8; u++) for (let x = 0; x < 8; x++) COS[u * 8 + x] = (u === 0 ? Math.SQRT1_2 : 1) * Math.cos(((2 * x + 1) * u * Math.PI) / 16);

/** Forward DCT of one level-shifted 8×8 block (T.81 A.3.3), separable: rows then columns. */
function fdct(block: Float64Array, out: Float64Array, tmp: Float64Array) {
  for (let y = 0; y < 8; y++) for (let u = 0; u < 8; u++) {
    let s = 0;
    for (let x = 0; x < 8; x++) s += COS[u * 8 + x]! * block[y * 8 + x]!;
    tmp[y * 8 + u] = s / 2;
  }
  for (let u = 0; u < 8; u++) for (let v = 0; v < 8; v++) {
    let s = 0;
    for (let y = 0; y < 8; y++) s += COS[v * 8 + y]! * tmp[y * 8 + u]!;
    out[v * 8 + u] = s / 2;
  }
}

/** Entropy-coded bytes: MSB first, a 0x00 stuffed after every 0xFF (T.81 B.1.1.5), padded with 1-bits. */
class BitWriter {
  private readonly bytes: number[] = [];
  private acc = 0;
  private n = 0;
  write(value: number, length: number) {
    for (let i = length - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((value >>> i) & 1);
      if (++this.n === 8) this.flushByte();
    }
  }
  private flushByte() {
    this.bytes.push(this.acc);
    if (this.acc === 0xff) this.bytes.push(0x00);
    this.acc = 0; this.n = 0;
  }
  finish(): number[] {
    if (this.n > 0) this.write(0xff >> this.n, 8 - this.n); // pad the last byte with 1s
    return this.bytes;
  }
}

/** SSSS: the number of bits of |v| (T.81 F.1.2.1). */
const category = (v: number) => { let a = Math.abs(v), c = 0; while (a) { c++; a >>= 1; } return c; };
/** The additional bits of v in category c: v itself if positive, else v − 1 in c bits (one's complement). */
const extraBits = (v: number, c: number) => (v >= 0 ? v : v + (1 << c) - 1);

function writeCode(w: BitWriter, table: Map<number, HuffCode>, symbol: number) {
  const h = table.get(symbol);
  if (!h) throw new Error(`no Huffman code for symbol 0x${symbol.toString(16)}`);
  w.write(h.code, h.length);
}

const segment = (marker: number, body: number[]) => [0xff, marker, ((body.length + 2) >> 8) & 0xff, (body.length + 2) & 0xff, ...body];
const u16 = (n: number) => [(n >> 8) & 0xff, n & 0xff];
const huffTable = (classAndId: number, bits: readonly number[], values: readonly number[]) => [classAndId, ...bits, ...values];

export interface JpegOptions { quality?: number; comment?: string }

/** Encodes 8-bit grey pixels (row-major, width × height) as a baseline JFIF JPEG. */
export function encodeGreyJpeg(pixels: Uint8Array, width: number, height: number, opts: JpegOptions = {}): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 65535 || height > 65535) throw new Error(`bad JPEG size ${width}×${height}`);
  if (pixels.length !== width * height) throw new Error(`expected ${width * height} pixels, got ${pixels.length}`);
  const q = quantTable(opts.quality ?? 80);
  const header = [
    0xff, 0xd8, // SOI
    ...segment(0xe0, [0x4a, 0x46, 0x49, 0x46, 0x00, 1, 1, 0, ...u16(1), ...u16(1), 0, 0]), // APP0 JFIF 1.01, aspect 1:1, no thumbnail
    ...(opts.comment ? segment(0xfe, [...Buffer.from(opts.comment.slice(0, 200), 'latin1')]) : []), // COM
    ...segment(0xdb, [0x00, ...ZIGZAG.map((i) => q[i]!)]), // DQT: 8-bit, table 0, zig-zag order
    ...segment(0xc0, [8, ...u16(height), ...u16(width), 1, 1, 0x11, 0]), // SOF0: 8 bits, one component (id 1, 1×1, table 0)
    ...segment(0xc4, [...huffTable(0x00, DC_BITS, DC_VALUES), ...huffTable(0x10, AC_BITS, AC_VALUES)]), // DHT: DC 0, AC 0
    ...segment(0xda, [1, 1, 0x00, 0, 63, 0]), // SOS: component 1 with tables 0/0, Ss 0, Se 63, Ah/Al 0
  ];
  const w = new BitWriter();
  const block = new Float64Array(64), coef = new Float64Array(64), tmp = new Float64Array(64);
  let previousDc = 0;
  for (let by = 0; by < height; by += 8) {
    for (let bx = 0; bx < width; bx += 8) {
      for (let y = 0; y < 8; y++) {
        const row = Math.min(by + y, height - 1) * width;
        for (let x = 0; x < 8; x++) block[y * 8 + x] = pixels[row + Math.min(bx + x, width - 1)]! - 128;
      }
      fdct(block, coef, tmp);
      // AC values stay within the 10 bits the AC table codes, DC within 11 (they do for 8-bit input; the clamp is a guard).
      const zz = ZIGZAG.map((i, k) => Math.max(k ? -1023 : -2047, Math.min(k ? 1023 : 2047, Math.round(coef[i]! / q[i]!))));
      const diff = zz[0]! - previousDc;
      previousDc = zz[0]!;
      const dcCat = category(diff);
      writeCode(w, DC_CODES, dcCat);
      if (dcCat) w.write(extraBits(diff, dcCat), dcCat);
      let run = 0;
      for (let k = 1; k < 64; k++) {
        const v = zz[k]!;
        if (v === 0) { run++; continue; }
        while (run > 15) { writeCode(w, AC_CODES, 0xf0); run -= 16; } // ZRL: sixteen zeros
        const c = category(v);
        writeCode(w, AC_CODES, (run << 4) | c);
        w.write(extraBits(v, c), c);
        run = 0;
      }
      if (run > 0) writeCode(w, AC_CODES, 0x00); // EOB
    }
  }
  return Buffer.concat([Buffer.from(header), Buffer.from(w.finish()), Buffer.from([0xff, 0xd9])]); // EOI
}
