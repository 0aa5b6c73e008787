/**
 * ISO 28560 library tag data: the ISO 28560-3 fixed-length "Danish" basic block, and the object
 * encoding of ISO 28560-2 (rules from ISO/IEC 15962), both mapped to one `TagData`.
 *
 * Detection (decodeTagMemory), in this order:
 * 1. Nothing read → unknown. Every byte 0x00, or every byte 0xFF → blank.
 * 2. DSFID 0x06 (ISO/IEC 15962 access method 0 "no directory", data format 6 = ISO 28560-2): parse as
 *    -2, tolerating an object cut off by the end of what was read (the reader reads 64 bytes). If that
 *    fails, a -3 block with a good CRC is still accepted (mislabelled tag); anything else is unknown.
 * 3. High nibble of byte 0 = 1 (ISO 28560-3 version 1) → -3, crcOk from its CRC. A -2 precursor 0x11
 *    (integer-compacted item id, no offset) has that nibble too, so when the CRC fails, the block does
 *    not even look like -3 (set numbers out of range, strings not NUL-padded ASCII) and no DSFID was
 *    written (undefined or 0x00), a -2 reading is taken if it passes the strict parse below and also
 *    holds only OIDs 1..5 followed by nothing but zeros. Otherwise: the -3 fields with crcOk false.
 * 4. Otherwise, with no DSFID written, a strict -2 parse: OID 1 first, no OID repeated, every object
 *    whole, non-empty and written exactly as its compaction scheme writes it, a content parameter
 *    listing exactly the OIDs present, and the data ending with a 0x00 precursor or at the end.
 * 5. Anything else → unknown (null fields, crcOk false). Blank and -2 report crcOk true (-2 has no CRC).
 *
 * typeOfUsage is the ISO 28560-1 main type 0..15 in every format (-3: low nibble of byte 0; -2: high
 * nibble of the type-of-usage octet, sub-type dropped). isil is the whole ISIL as the tag holds it
 * (ISO 15511, e.g. CN-110000-1); for -2, country is the ISIL's two-letter prefix.
 */
import type { TagData } from '../mqtt.js';
import { crc16CcittFalse } from './crc.js';

export interface TagFields {
  typeOfUsage: number;
  primaryItemId: string;
  partsInSet: number;
  partNumber: number;
  country: string;
  isil: string;
}

/** ISO/IEC 15962 DSFID of ISO 28560-2 tags: access method 0 (no directory), data format 6. */
export const DSFID_ISO28560_2 = 0x06;

/** ISO 28560-1 type of usage, main type (TagData.typeOfUsage): the two a library's circulation uses. */
export const USAGE_CIRCULATING_ITEM = 1;
export const USAGE_PATRON_CARD = 8;

const NOTHING: TagData = { format: 'unknown', typeOfUsage: null, primaryItemId: null, partsInSet: null, partNumber: null, country: null, isil: null, crcOk: false };

// ---------------------------------------------------------------------------------------------
// Input checks shared by both encoders

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

function checkFields(d: TagFields): void {
  const int = (name: string, v: unknown, min: number, max: number) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new Error(`${name} must be an integer ${min}..${max}, got ${String(v)}`);
  };
  // ISO 28560-1: type of usage main type is one hex digit.
  int('typeOfUsage', d.typeOfUsage, 0, 15);
  // ISO 28560-3 basic block: parts in set and part number are one byte each, 1-based.
  int('partsInSet', d.partsInSet, 1, 255);
  int('partNumber', d.partNumber, 1, 255);
  if (d.partNumber > d.partsInSet) throw new Error(`partNumber ${d.partNumber} is greater than partsInSet ${d.partsInSet}`);
  if (typeof d.primaryItemId !== 'string' || d.primaryItemId === '') throw new Error('primaryItemId must not be empty');
  if (!PRINTABLE_ASCII.test(d.primaryItemId)) throw new Error(`primaryItemId must be printable ASCII, got ${JSON.stringify(d.primaryItemId)}`);
  // ISO 3166-1 alpha-2.
  if (typeof d.country !== 'string' || !/^[A-Z]{2}$/.test(d.country)) throw new Error(`country must be two upper-case letters (ISO 3166-1 alpha-2), got ${JSON.stringify(d.country)}`);
  if (typeof d.isil !== 'string' || !PRINTABLE_ASCII.test(d.isil)) throw new Error(`isil must be a printable ASCII string, got ${JSON.stringify(d.isil)}`);
}

// ---------------------------------------------------------------------------------------------
// ISO 28560-3 basic block

// ISO 28560-3 basic block layout (byte offsets).
const B3 = { usage: 0, parts: 1, part: 2, id: 3, idLen: 16, crc: 19, country: 21, isil: 23, isilLen: 11, size: 34 } as const;

/** ISO 28560-3 basic block, 34 bytes; the writer pads it to whole blocks. */
export function encodeTagMemory(d: TagFields): Buffer {
  checkFields(d);
  // ISO 28560-3: primary item id is 16 bytes, ISIL 11 bytes, both NUL padded.
  if (d.primaryItemId.length > B3.idLen) throw new Error(`primaryItemId ${JSON.stringify(d.primaryItemId)} is ${d.primaryItemId.length} bytes; ISO 28560-3 holds at most ${B3.idLen}`);
  if (d.isil.length > B3.isilLen) throw new Error(`isil ${JSON.stringify(d.isil)} is ${d.isil.length} characters; ISO 28560-3 holds at most ${B3.isilLen}`);
  const b = Buffer.alloc(B3.size);
  b[B3.usage] = (1 << 4) | d.typeOfUsage; // ISO 28560-3: version 1 in the high nibble, type of usage in the low
  b[B3.parts] = d.partsInSet;
  b[B3.part] = d.partNumber;
  b.write(d.primaryItemId, B3.id, 'latin1');
  b.write(d.country, B3.country, 'latin1');
  b.write(d.isil, B3.isil, 'latin1');
  b.writeUInt16LE(crc3(b, 34), B3.crc); // ISO 28560-3: CRC stored least significant byte first
  return b;
}

/**
 * ISO 28560-3 CRC-16/CCITT-FALSE over bytes 0..18 and 21..33, skipping the CRC itself (Annex C check
 * value: "RFID tag data model" → 0x1AEE). A 32-byte tag computes it as if bytes 32..33 were 0.
 */
function crc3(b: Buffer, size: 32 | 34): number {
  const crc = crc16CcittFalse(b.subarray(21, size), crc16CcittFalse(b.subarray(0, 19)));
  return size === 34 ? crc : crc16CcittFalse(Buffer.alloc(2), crc);
}

/** Field text: bytes as stored, trailing NULs stripped (ISO 28560-3: strings are NUL padded). */
function text(b: Buffer): string {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return b.toString('latin1', 0, end);
}

/**
 * Decision on the tag size: exactly 32 (or 33) bytes read → a 32-byte tag (8 blocks of 4, ISIL cut
 * to 9 bytes). 34 or more → try the 34-byte CRC first, then the 32-byte variant; when neither
 * matches the block is read as a 34-byte one with crcOk false. Under 32 bytes is no basic block.
 */
function decode3(m: Buffer): TagData | null {
  if (m.length < 32) return null;
  let size: 32 | 34 = m.length >= 34 ? 34 : 32;
  const stored = m.readUInt16LE(B3.crc);
  let crcOk = crc3(m, size) === stored;
  if (!crcOk && size === 34 && crc3(m, 32) === stored) { size = 32; crcOk = true; }
  return {
    format: 'iso28560-3',
    typeOfUsage: m[B3.usage]! & 0x0f,
    partsInSet: m[B3.parts]!,
    partNumber: m[B3.part]!,
    primaryItemId: text(m.subarray(B3.id, B3.id + B3.idLen)),
    country: text(m.subarray(B3.country, B3.country + 2)),
    isil: text(m.subarray(B3.isil, size)),
    crcOk,
  };
}

/**
 * Whether a -3 block whose CRC failed still looks like one: set numbers in range, and the strings
 * printable ASCII followed only by NULs (country: two capitals or empty). A -2 tag whose first
 * precursor is 0x11 practically never does.
 */
function plausible3(d: TagData, m: Buffer): boolean {
  const padded = (b: Buffer) => /^[\x20-\x7e]*\x00*$/.test(b.toString('latin1'));
  return d.partsInSet! >= 1 && d.partNumber! >= 1 && d.partNumber! <= d.partsInSet! && d.primaryItemId !== ''
    && padded(m.subarray(B3.id, B3.id + B3.idLen)) && /^([A-Z]{2})?$/.test(d.country!) && padded(m.subarray(B3.country, B3.country + 2))
    && padded(m.subarray(B3.isil, Math.min(m.length, B3.size)));
}

// ---------------------------------------------------------------------------------------------
// ISO 28560-2 / ISO/IEC 15962 objects

// ISO 28560-2 relative OIDs (1.0.15961.8.x): 1 primary item identifier, 2 content parameter,
// 3 owner institution (ISIL), 4 set information, 5 type of usage, 6 shelf location, 7 ONIX media
// format, 8 MARC media format, 9 supplier identifier, 10 order number, 11 ILL borrowing institution,
// 12 ILL borrowing transaction number, 13 GS1 product identifier, 14 alternative unique item id,
// 15 local data A, 16 local data B, 17 title, 18 product identifier local, 19 media format (other),
// 20 supply chain stage, 21 supplier invoice number, 22 alternative item id, 23 alternative owner
// institution, 24 subsidiary of an owner institution, 25 alternative ILL borrowing institution,
// 26 local data C.
const OID = { pii: 1, contentParameter: 2, owner: 3, setInfo: 4, typeOfUsage: 5, illBorrower: 11 } as const;

const CONTROL = /[\x00-\x1f\x7f]/;

// ISO/IEC 15962 precursor compaction codes (bits 7..5).
const C = { appDefined: 0, integer: 1, numeric: 2, bit5: 3, bit6: 4, bit7: 5, octet: 6, utf8: 7 } as const;

class BitWriter {
  private readonly out: number[] = [];
  private acc = 0;
  private n = 0;
  put(value: number, bits: number): void {
    for (let i = bits - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((value >> i) & 1);
      if (++this.n === 8) { this.out.push(this.acc); this.acc = 0; this.n = 0; }
    }
  }
  /** Fills the last byte: the first pad bit, then the rest. */
  finish(first: 0 | 1, rest: 0 | 1): Buffer {
    if (this.n) { this.put(first, 1); while (this.n) this.put(rest, 1); }
    return Buffer.from(this.out);
  }
}

class BitReader {
  private pos = 0;
  constructor(private readonly b: Uint8Array) {}
  get left(): number { return this.b.length * 8 - this.pos; }
  read(bits: number): number {
    let v = 0;
    for (let i = 0; i < bits; i++, this.pos++) v = (v << 1) | ((this.b[this.pos >> 3]! >> (7 - (this.pos & 7))) & 1);
    return v;
  }
}

// ISO 28560-2 ISIL compaction (application-defined code 0 for OIDs 3 and 11): starts in upper case;
// upper/lower are 5 bits ('-' = 0, letters 1..26, 27 = ':' upper / '/' lower, 28 latch, 29 shift
// to the other case, 30 latch, 31 shift to digits); digits are 4 bits (0..9, 10 '-', 11 ':',
// 12 latch / 13 shift upper, 14 latch / 15 shift lower). The last byte is padded with 1 bits.
// Check: "US-InU-Mu" → AC C0 9E BA A0 6F 6B (ISO 28560-2 encoding example).
type IsilSet = 'u' | 'l' | 'd';
const ISIL_CHARS = /^[A-Za-z0-9:/-]*$/;
const isilSets = (ch: string): IsilSet[] => (ch === '-' ? ['u', 'l', 'd'] : ch === ':' ? ['u', 'd'] : ch === '/' ? ['l'] : /[A-Z]/.test(ch) ? ['u'] : /[a-z]/.test(ch) ? ['l'] : ['d']);
const isilCode = (ch: string, set: IsilSet): number =>
  ch === '-' ? (set === 'd' ? 10 : 0) : ch === ':' ? (set === 'd' ? 11 : 27) : ch === '/' ? 27 : set === 'd' ? ch.charCodeAt(0) - 48 : (ch.charCodeAt(0) & 0x1f);
// [latch, shift] codes from a set to another.
const isilSwitch = (from: IsilSet, to: IsilSet): [number, number] => (from === 'd' ? (to === 'u' ? [12, 13] : [14, 15]) : to === 'd' ? [30, 31] : [28, 29]);

function isilEncode(s: string): Buffer {
  const w = new BitWriter();
  let set: IsilSet = 'u';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const sets = isilSets(ch);
    if (!sets.includes(set)) {
      const to = sets[0]!;
      const next = s[i + 1];
      // Shift for one character when the next one fits the current set again, latch otherwise.
      const [latch, shift] = isilSwitch(set, to);
      const bits = set === 'd' ? 4 : 5;
      if (next === undefined || isilSets(next).includes(set)) { w.put(shift, bits); w.put(isilCode(ch, to), to === 'd' ? 4 : 5); continue; }
      w.put(latch, bits);
      set = to;
    }
    w.put(isilCode(ch, set), set === 'd' ? 4 : 5);
  }
  return w.finish(1, 1);
}

function isilDecode(b: Uint8Array): string | null {
  const r = new BitReader(b);
  let latched: IsilSet = 'u';
  let shifted: IsilSet | null = null;
  let out = '';
  for (;;) {
    const set: IsilSet = shifted ?? latched;
    const bits = set === 'd' ? 4 : 5;
    if (r.left < bits) return out; // pad bits
    const v = r.read(bits);
    const control = set === 'd' ? v >= 12 : v >= 28;
    if (control) {
      if (shifted) return out; // a switch right after a shift is only pad (all 1 bits)
      const to: IsilSet = set === 'd' ? (v < 14 ? 'u' : 'l') : v < 30 ? (set === 'u' ? 'l' : 'u') : 'd';
      if ((v & 1) === 0) latched = to; else shifted = to;
      continue;
    }
    if (set === 'd') out += v < 10 ? String(v) : v === 10 ? '-' : ':';
    else out += v === 0 ? '-' : v === 27 ? (set === 'u' ? ':' : '/') : String.fromCharCode((set === 'u' ? 0x40 : 0x60) | v);
    shifted = null;
  }
}

function packed(s: string, bits: number, first: 0 | 1, rest: 0 | 1): Buffer {
  const w = new BitWriter();
  for (const ch of s) w.put(ch.charCodeAt(0) & ((1 << bits) - 1), bits);
  return w.finish(first, rest);
}

/** ISO/IEC 15962 compaction schemes for strings; null where the string is outside the scheme. */
const SCHEMES: [number, (s: string) => Buffer | null][] = [
  // Integer: digits without a leading zero, big-endian, minimal; kept within 64 bits for other decoders.
  [C.integer, (s) => {
    if (!/^[1-9][0-9]{0,19}$/.test(s) || BigInt(s) >= 1n << 64n) return null;
    const bytes: number[] = [];
    for (let v = BigInt(s); v > 0n; v >>= 8n) bytes.unshift(Number(v & 0xffn));
    return Buffer.from(bytes);
  }],
  // Numeric: 4-bit digits, an odd count padded with 1111 (keeps leading zeros).
  [C.numeric, (s) => (/^[0-9]+$/.test(s) ? packed(s, 4, 1, 1) : null)],
  // 5-bit: 0x41..0x5F, pad 0 bits (00000 is no character).
  [C.bit5, (s) => (/^[\x41-\x5f]+$/.test(s) ? packed(s, 5, 0, 0) : null)],
  // 6-bit: 0x20..0x5F, padded with the start of 100000 (space), so no trailing space.
  [C.bit6, (s) => (/^[\x20-\x5f]*[\x21-\x5f]$/.test(s) ? packed(s, 6, 1, 0) : null)],
  // 7-bit: 0x00..0x7E, pad 1 bits (1111111 is no character).
  [C.bit7, (s) => (/^[\x00-\x7e]+$/.test(s) ? packed(s, 7, 1, 1) : null)],
  // Octet string: ISO/IEC 8859-1.
  [C.octet, (s) => (/^[\x00-\xff]+$/.test(s) ? Buffer.from(s, 'latin1') : null)],
  [C.utf8, (s) => (s ? Buffer.from(s, 'utf8') : null)],
];

/** The shortest compaction of a string (ties: the earlier scheme; UTF-8 only when nothing else fits). */
function compact(s: string): { code: number; data: Buffer } {
  let best: { code: number; data: Buffer } | null = null;
  for (const [code, enc] of SCHEMES) {
    const data = enc(s);
    if (data && (!best || data.length < best.data.length)) best = { code, data };
    if (best && code === C.octet) break;
  }
  return best!;
}

/** Text of an object only when the bytes are exactly how the scheme writes that text (strict parsing). */
function canonical(code: number, data: Buffer): string | null {
  const s = expand(code, data);
  const enc = SCHEMES.find(([c]) => c === code)?.[1];
  return s !== null && !CONTROL.test(s) && enc?.(s)?.equals(data) ? s : null;
}

/** Text of a compacted object, or null when the bytes do not follow the scheme. */
function expand(code: number, b: Buffer): string | null {
  if (b.length === 0) return null;
  switch (code) {
    case C.integer: {
      let v = 0n;
      for (const x of b) v = (v << 8n) | BigInt(x);
      return v.toString();
    }
    case C.numeric: {
      let out = '';
      for (const x of b) for (const n of [x >> 4, x & 0x0f]) {
        if (n === 0x0f) return out;
        if (n > 9) return null;
        out += String(n);
      }
      return out;
    }
    case C.bit5: case C.bit6: case C.bit7: {
      const bits = code === C.bit5 ? 5 : code === C.bit6 ? 6 : 7;
      const r = new BitReader(b);
      let out = '';
      while (r.left >= bits) {
        const v = r.read(bits);
        if (bits === 5 && v === 0) break;
        if (r.left === 0 && ((bits === 6 && v === 0x20) || (bits === 7 && v === 0x7f))) break; // a whole pad character
        out += String.fromCharCode(bits === 5 ? v | 0x40 : bits === 6 && v < 0x20 ? v | 0x40 : v);
      }
      return out;
    }
    case C.octet: return b.toString('latin1');
    case C.utf8: return b.toString('utf8');
    default: return null;
  }
}

/** One ISO/IEC 15962 no-directory object: precursor [offset] [OID - 15] length data [pad]. */
function object(oid: number, code: number, data: Buffer, alignTo = 1): Buffer {
  if (data.length > 255) throw new Error(`object ${oid} is ${data.length} bytes after compaction; at most 255 fit`);
  const head = [((code & 7) << 4) | Math.min(oid, 15)];
  if (oid >= 15) head.push(oid - 15);
  let pad = (alignTo - ((head.length + 1 + data.length) % alignTo)) % alignTo;
  // Precursor bit 8 (offset) announces a byte, right after the precursor, that counts the pad
  // bytes after the data; that byte itself takes up one of the places to fill.
  if (pad > 0) { head[0]! |= 0x80; head.splice(1, 0, pad - 1); pad -= 1; }
  return Buffer.concat([Buffer.from(head), Buffer.from([data.length]), data, Buffer.alloc(pad)]);
}

/**
 * ISO 28560-2 memory (write it with DSFID 0x06): primary item id (OID 1, block-aligned so that it can
 * be locked, as in the standard's example), content parameter (OID 2), owner institution ISIL (OID 3,
 * ISIL compaction; `country-` is put in front of an ISIL without a prefix), set information (OID 4,
 * left out for 1 of 1), type of usage (OID 5), then a 0x00 terminator, zero filled to 4-byte blocks.
 */
export function encodeIso28560_2(d: TagFields): Buffer {
  checkFields(d);
  const isil = d.isil === '' || /^[A-Za-z]{1,4}-/.test(d.isil) ? d.isil : `${d.country}-${d.isil}`;
  // ISO 15511: an ISIL has at most 16 characters; ISO 28560-2 ISIL compaction covers A-Z a-z 0-9 - : /.
  if (isil.length > 16) throw new Error(`isil ${JSON.stringify(isil)} is ${isil.length} characters; an ISIL has at most 16`);
  if (!ISIL_CHARS.test(isil)) throw new Error(`isil ${JSON.stringify(isil)} has characters outside A-Z a-z 0-9 - : /`);
  const pii = compact(d.primaryItemId);
  const objects: Buffer[] = [object(OID.pii, pii.code, pii.data, 4)];
  const rest: [number, number, Buffer][] = [];
  if (isil) rest.push([OID.owner, C.appDefined, isilEncode(isil)]);
  if (d.partsInSet !== 1 || d.partNumber !== 1) {
    // ISO 28560-1 4.2.4 / ISO 28560-2: number of parts then ordinal part number, as one digit string
    // with both parts the same width (12 parts, part 3 → "1203"); integer compacted.
    const total = String(d.partsInSet);
    const set = compact(total + String(d.partNumber).padStart(total.length, '0'));
    rest.push([OID.setInfo, set.code, set.data]);
  }
  // ISO 28560-2 type of usage: one octet, main type in the high nibble, sub-type (0) in the low one.
  rest.push([OID.typeOfUsage, C.octet, Buffer.from([d.typeOfUsage << 4])]);
  // ISO 28560-2 content parameter: bit map of the OIDs present from OID 3 on, most significant bit first.
  const map = Buffer.alloc(1);
  for (const [oid] of rest) map[(oid - 3) >> 3]! |= 0x80 >> ((oid - 3) & 7);
  objects.push(object(OID.contentParameter, C.appDefined, map));
  for (const [oid, code, data] of rest) objects.push(object(oid, code, data));
  const body = Buffer.concat([...objects, Buffer.alloc(1)]); // ISO/IEC 15962: a 0x00 precursor ends the data
  return Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
}

/** Maps one object onto r; false when a mapped field (OIDs 1, 3, 4, 5) does not decode. */
function field(r: TagData, oid: number, code: number, data: Buffer): boolean {
  switch (oid) {
    case OID.pii: {
      const s = code === C.appDefined ? null : expand(code, data);
      r.primaryItemId = s && !CONTROL.test(s) ? s : null;
      return r.primaryItemId !== null;
    }
    case OID.owner: {
      const s = code === C.appDefined ? isilDecode(data) : expand(code, data);
      r.isil = s && !CONTROL.test(s) ? s : null;
      r.country = r.isil && /^[A-Z]{2}-/.test(r.isil) ? r.isil.slice(0, 2) : null;
      return r.isil !== null;
    }
    case OID.setInfo: {
      // ISO 28560-2: number of parts, then ordinal part number, both the same number of digits.
      const s = expand(code, data) ?? '';
      const half = /^([0-9]{2})+$/.test(s) ? s.length / 2 : 0;
      const total = Number(s.slice(0, half)), part = Number(s.slice(half));
      const ok = half > 0 && total >= 1 && part >= 1 && part <= total;
      [r.partsInSet, r.partNumber] = ok ? [total, part] : [null, null];
      return ok;
    }
    case OID.typeOfUsage: {
      // One octet (octet string; application defined and integer tolerated); or two hex digits as text.
      const octet = data.length === 1 && (code === C.octet || code === C.appDefined || code === C.integer);
      const s = octet ? null : expand(code, data);
      r.typeOfUsage = octet ? data[0]! >> 4 : s && /^[0-9A-F]{2}$/i.test(s) ? parseInt(s[0]!, 16) : null;
      return r.typeOfUsage !== null;
    }
    default: return true;
  }
}

/** Strict parsing: whether one object is written the way ISO 28560-2 and ISO/IEC 15962 write it. */
function wellFormed(oid: number, code: number, data: Buffer, padding: Buffer): boolean {
  if (data.length === 0 || padding.some((x) => x !== 0)) return false;
  // ISO 28560-2 binary elements: the content parameter is an application-defined bit map; type of
  // usage (5), media format (19) and supply chain stage (20) are one octet.
  if (oid === OID.contentParameter) return code === C.appDefined;
  if (oid === OID.typeOfUsage || oid === 19 || oid === 20) return data.length === 1 && (code === C.octet || code === C.appDefined);
  // ISIL (ISO 15511: at most 16 characters), in ISIL compaction, the only other application-defined use.
  if (oid === OID.owner || oid === OID.illBorrower) {
    const s = code === C.appDefined ? isilDecode(data) : canonical(code, data);
    return !!s && s.length <= 16 && ISIL_CHARS.test(s);
  }
  return code !== C.appDefined && canonical(code, data) !== null; // e.g. no integer with a leading 0x00
}

/**
 * Parses -2 objects. Lenient (the DSFID says -2): an object cut off by the end of what was read ends
 * the data, a field that does not decode stays null. Strict (no DSFID, so -2 must be told from other
 * data by its structure): every object whole and wellFormed, OIDs up to 26, fields 1, 3, 4, 5 decoding,
 * a content parameter listing exactly the OIDs >= 3 present. Rival (a failed -3 block competes): also
 * OIDs 1..5 only and nothing but zeros after the data. Always: the primary item id comes first
 * (ISO 28560-2) and no OID repeats.
 */
function decode2(m: Buffer, strict: boolean, rival = false): TagData | null {
  const r: TagData = { format: 'iso28560-2', typeOfUsage: null, primaryItemId: null, partsInSet: 1, partNumber: 1, country: null, isil: null, crcOk: true };
  const seen = new Set<number>();
  let announced: number[] | null = null;
  let i = 0;
  while (i < m.length && m[i] !== 0) { // ISO/IEC 15962: a 0x00 precursor ends the data
    const p = m[i]!;
    const code = (p >> 4) & 7;
    let oid = p & 0x0f;
    let j = i + 1;
    let pad = 0;
    if (oid === 0) return null; // relative OID 0 is no precursor
    if (p & 0x80) pad = m[j++] ?? -1;
    if (oid === 15) oid = 15 + (m[j++] ?? -1000);
    if (oid > (strict ? 26 : 127)) return null; // ISO 28560-2 defines 1..26; one extension byte reaches 127
    const len = m[j++];
    if (pad < 0 || oid < 0 || len === undefined || j + len > m.length) {
      if (strict || seen.size === 0) return null;
      break; // the rest was not read
    }
    const data = m.subarray(j, j + len);
    const padding = m.subarray(j + len, j + len + pad);
    i = j + len + pad;
    if (seen.has(oid) || (seen.size === 0 && oid !== OID.pii)) return null;
    seen.add(oid);
    if (rival && oid > OID.typeOfUsage) return null;
    if (strict && (i > m.length || !wellFormed(oid, code, data, padding))) return null;
    if (oid === OID.contentParameter && code === C.appDefined) {
      announced = [];
      for (let k = 0; k < data.length * 8; k++) if (data[k >> 3]! & (0x80 >> (k & 7))) announced.push(3 + k);
    }
    if (!field(r, oid, code, data) && (strict || oid === OID.pii)) return null;
  }
  if (strict && announced && announced.join() !== [...seen].filter((o) => o >= 3).sort((a, b) => a - b).join()) return null;
  if (rival && m.subarray(i).some((x) => x !== 0)) return null;
  return r.primaryItemId === null ? null : r;
}

// ---------------------------------------------------------------------------------------------

/** Decodes tag memory read from block 0 on; see the detection rules at the top of this file. */
export function decodeTagMemory(memory: Buffer, dsfid?: number): TagData {
  if (memory.length === 0) return { ...NOTHING };
  if (memory.every((x) => x === 0) || memory.every((x) => x === 0xff)) return { ...NOTHING, format: 'blank', crcOk: true };
  if (dsfid === DSFID_ISO28560_2) {
    const minus3 = memory[0]! >> 4 === 1 ? decode3(memory) : null;
    return decode2(memory, false) ?? (minus3?.crcOk ? minus3 : { ...NOTHING });
  }
  const noDsfid = dsfid === undefined || dsfid === 0;
  if (memory[0]! >> 4 === 1) {
    const minus3 = decode3(memory);
    if (minus3?.crcOk || (minus3 && plausible3(minus3, memory))) return minus3;
    return (noDsfid ? decode2(memory, true, true) : null) ?? minus3 ?? { ...NOTHING };
  }
  return (noDsfid ? decode2(memory, true) : null) ?? { ...NOTHING };
}
