/**
 * The metraTec ASCII protocol of the ISO 15693 readers (DeskID ISO, QuickID, Dwarf15, UM15,
 * QuasarMX), shared by the gateway driver and the simulated reader.
 *
 * Sources: the metraTec "ISO 15693 Protocol Guide for metraTec RFID Readers and Modules" (v2.5
 * 2013, v3.6 2016; its command set: RST, REV, INV, REQ/WRQ, CNR/BRK, EOF, CON/COF, SAP, …) and,
 * for the exact strings on the line, metraTec's own host libraries: github.com/metratec/rfid-sdk-python
 * (`hf_reader_ascii.py`, `reader_ascii.py`) and github.com/metratec/rfid-sdk-java
 * (`ISOReaderAscii.java`, `MetratecReaderAscii.java`, `RFIDErrorCodes.java`).
 */
import { crc16Mcrf4xx } from './crc.js';
import { isoCrcOk } from './iso15693.js';

/**
 * Error and status words the reader answers with (metraTec protocol guide, "Error Codes";
 * RFIDErrorCodes.java). Three upper-case letters on a line of their own.
 */
export const METRATEC_WORDS = {
  // tag communication (REQ/WRQ/INV)
  TNR: 'tag not responding', CDT: 'collision detected', CER: 'CRC error in the tag answer', RDL: 'read data too long',
  TCE: 'tag communication error', TOE: 'timeout error', FLE: 'FIFO length error', RXE: 'response count expected error',
  // parsing and reader state
  UCO: 'unknown command', UPA: 'unknown parameter', EHX: 'error: hex expected', EDX: 'error: decimal expected',
  NOR: 'number out of range', NOS: 'not supported', WDL: 'wrong data length', NCM: 'not in continuous mode',
  NSS: 'no standard selected', NRF: 'no RF field active', RNW: 'registers not written (RF interface not configured)',
  CCE: 'communication CRC error', DNS: 'did not sleep', UER: 'unknown error', URE: 'UART receive error',
  BOF: 'buffer overflow', BOD: 'brown-out detected', CRT: 'command receive timeout', PLE: 'PLL error', EHF: 'hardware failure',
  ARH: 'antenna reflectivity high', SRT: 'reader was reset',
} as const;
export type MetratecWord = keyof typeof METRATEC_WORDS;
export const isMetratecWord = (line: string): line is MetratecWord => line.length === 3 && line in METRATEC_WORDS;

/** Positive answers: `OK!` to settings, `BRA` break acknowledged (continuous mode stopped). */
export const OK = 'OK!';
export const BREAK_ACK = 'BRA';

/**
 * CRC of the host link when CRC mode is on (`CON`; `COF` turns it off): CRC-16 with the reflected
 * polynomial 0x8408, preset 0xFFFF and no final complement (CRC-16/MCRF4XX) over the line text
 * including the space before the CRC, written as 4 upper-case hex digits (MetratecReaderAscii.getCRC;
 * the libraries' fixed `COF 4F5E` and `WAK 5E70` are this CRC).
 */
export function metratecLineCrc(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc16Mcrf4xx(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end));
}

const hex4 = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');

/** One line as sent: `text[ CRC]\r` (protocol guide, Communication Principle: every string ends with CR, 0x0D). */
export function encodeLine(text: string, crc: boolean): string {
  if (!crc) return `${text}\r`;
  const withSpace = `${text} `;
  return `${withSpace}${hex4(metratecLineCrc(Buffer.from(withSpace, 'latin1')))}\r`;
}

/** The text of a line that carries a valid CRC suffix, or null. */
export function stripLineCrc(line: string): string | null {
  if (line.length < 6 || line[line.length - 5] !== ' ') return null;
  const crc = parseInt(line.slice(-4), 16);
  if (!/^[0-9A-Fa-f]{4}$/.test(line.slice(-4)) || crc !== metratecLineCrc(Buffer.from(line.slice(0, -4), 'latin1'))) return null;
  return line.slice(0, -5);
}

/**
 * An answer as sent: its lines, each CR-terminated; with end of frame on (`EOF`), a line feed
 * after the last CR closes the answer ("after every complete message the last CR will be followed
 * by an additional LF", MetratecReaderAscii.setEndOfFrame).
 */
export function encodeAnswer(lines: readonly string[], o: { crc: boolean; eof: boolean }): string {
  let out = '';
  for (const l of lines) out += encodeLine(l, o.crc);
  return o.eof ? `${out}\n` : out;
}

/** Emitted by the decoder for a line feed: the end of one complete answer. */
export const END_OF_FRAME = '\n';
/** Emitted in place of a line that was dropped (garbage inside it, too long, bad CRC): its answer is incomplete. */
export const DAMAGED_LINE = '\u0018';

const CR = 0x0d, LF = 0x0a;

/**
 * Splits a reader (or host) byte stream into lines. Printable ASCII (0x20..0x7E) accumulates;
 * CR ends a line, LF ends an answer. Other bytes are line noise: dropped, and a line they cut into
 * is reported as damaged. Over-long lines are dropped up to their CR. With `crc` on, every line must
 * end in ` XXXX` (the host-link CRC); the suffix is checked and removed.
 * Counters: `frames` good lines, `messages` answers ended by LF, `badCrc` lines with a wrong CRC,
 * `resyncs` runs of noise, damaged and over-long lines.
 */
export class MetratecLineDecoder {
  crc = false;
  frames = 0;
  messages = 0;
  badCrc = 0;
  resyncs = 0;
  private readonly buf: Buffer;
  private len = 0;
  private damaged = false;
  private overlong = false;
  private inNoise = false;

  constructor(readonly maxLineLength = 600) {
    this.buf = Buffer.allocUnsafe(maxLineLength);
  }

  push(chunk: Uint8Array | string): string[] {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    const out: string[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b >= 0x20 && b <= 0x7e) {
        this.inNoise = false;
        if (this.overlong) continue;
        if (this.len === this.maxLineLength) { this.overlong = true; this.resyncs++; continue; }
        this.buf[this.len++] = b;
      } else if (b === CR) {
        this.inNoise = false;
        this.endLine(out);
      } else if (b === LF) {
        this.inNoise = false;
        if (this.len > 0 || this.damaged || this.overlong) { this.resyncs++; this.clear(); out.push(DAMAGED_LINE); }
        this.messages++;
        out.push(END_OF_FRAME);
      } else {
        if (!this.inNoise) this.resyncs++;
        this.inNoise = true;
        if (this.len > 0) { this.damaged = true; this.len = 0; }
      }
    }
    return out;
  }

  /** Forgets a partial line (after a timeout or a reopen). */
  reset(): void { this.clear(); this.inNoise = false; }

  private endLine(out: string[]): void {
    if (this.overlong || this.damaged) { this.clear(); out.push(DAMAGED_LINE); return; }
    const n = this.len;
    this.len = 0;
    if (n === 0) return;
    if (!this.crc) { this.frames++; out.push(this.buf.toString('latin1', 0, n)); return; }
    if (n < 6 || this.buf[n - 5] !== 0x20 || readHex4(this.buf, n - 4) !== metratecLineCrc(this.buf, 0, n - 4)) {
      this.badCrc++;
      out.push(DAMAGED_LINE);
      return;
    }
    this.frames++;
    out.push(this.buf.toString('latin1', 0, n - 5));
  }

  private clear(): void { this.len = 0; this.damaged = false; this.overlong = false; }
}

function readHex4(b: Uint8Array, at: number): number {
  let v = 0;
  for (let i = at; i < at + 4; i++) {
    const c = b[i]!;
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
    if (d < 0) return -1;
    v = (v << 4) | d;
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Commands (host → reader)

/**
 * A raw ISO 15693 request: `REQ <hex>` for reading commands, `WRQ <hex>` for writing commands
 * (the reader then waits the longer write response time); the trailing `CRC` makes the reader
 * append the ISO 15693 CRC itself (ISOReaderAscii.sendRequest, `automaticCRC ? "CRC"`). The hex
 * is the request as it goes on air, so an addressed request carries the UID LSB first
 * (ISO/IEC 15693-3 §7.3), while INV lists UIDs MSB first.
 */
export function requestCommand(kind: 'REQ' | 'WRQ', frame: Uint8Array, readerAddsCrc = true): string {
  return `${kind} ${Buffer.from(frame).toString('hex').toUpperCase()}${readerAddsCrc ? ' CRC' : ''}`;
}

/** Identity answer to `REV`: device name padded to 16, hardware and firmware revision, 4 digits each. */
export const revisionAnswer = (name: string, hardware: string, firmware: string) => `${name.padEnd(16)}${hardware}${firmware}`;

// ---------------------------------------------------------------------------------------------
// Answers (reader → host)

const UID_LINE = /^[0-9A-F]{16}$/;
const IVF_LINE = /^IVF ([0-9A-F]{2})$/;
const ARP_LINE = /^ARP (\d{1,2})$/;

export interface InventoryAnswer { uids: string[]; reported: number; antennaPort: number | null; tagErrors: string[] }

/**
 * An inventory answer (metraTec guide, INV): one UID per line (16 hex digits, MSB first, `E004…`),
 * an `ARP nn` line when the antenna report is on, per-tag error words (CER, RXE, TOE, FLE,
 * RDL, TCE, which the reader's library skips: ISOReaderAscii.parseInventory), then `IVF nn`, the
 * number of tags found, two digits (read here as hex; the libraries only rely on its place and
 * width, `data[-6:-3] == 'IVF'`). Null when the lines are not an inventory answer.
 */
export function parseInventoryAnswer(lines: readonly string[]): InventoryAnswer | null {
  const last = lines.length > 0 ? IVF_LINE.exec(lines[lines.length - 1]!) : null;
  if (!last) return null;
  const out: InventoryAnswer = { uids: [], reported: parseInt(last[1]!, 16), antennaPort: null, tagErrors: [] };
  for (let i = 0; i < lines.length - 1; i++) {
    const l = lines[i]!;
    const arp = ARP_LINE.exec(l);
    if (UID_LINE.test(l)) out.uids.push(l);
    else if (arp) out.antennaPort = Number(arp[1]);
    else if (isMetratecWord(l)) out.tagErrors.push(l);
    else return null;
  }
  return out;
}

export function inventoryAnswerLines(uids: readonly string[]): string[] {
  return [...uids, `IVF ${uids.length.toString(16).toUpperCase().padStart(2, '0')}`];
}

export type TagAnswer =
  /** `frame`: the tag's response bytes as received, ISO CRC included; `readerCrcOk`: COK (true) or CER; `collision`: CDT instead of NCL. */
  | { kind: 'response'; frame: Buffer; readerCrcOk: boolean; collision: boolean; antennaPort: number | null }
  | { kind: 'word'; word: MetratecWord };

/**
 * The answer to REQ/WRQ: `TDT`, the tag's response in hex (flags, data, CRC), `COK` or `CER`
 * (CRC of the tag answer ok / wrong), `NCL` or `CDT` (no collision / collision detected), and
 * `ARP nn` with the antenna report on (hf_reader_ascii.py `_parse_request`: "TDT<CR>0011112222B7DD
 * <CR>COK<CR>NCL<CR>"); or one word alone: `TNR` no tag answered, `CDT`, `RDL`, or a reader error.
 */
export function parseTagAnswer(lines: readonly string[]): TagAnswer | null {
  if (lines.length === 1) return isMetratecWord(lines[0]!) ? { kind: 'word', word: lines[0]! as MetratecWord } : null;
  if (lines.length < 4 || lines.length > 5 || lines[0] !== 'TDT') return null;
  const hex = lines[1]!, crcWord = lines[2]!, collisionWord = lines[3]!;
  if (!/^(?:[0-9A-F]{2})+$/.test(hex) || (crcWord !== 'COK' && crcWord !== 'CER') || (collisionWord !== 'NCL' && collisionWord !== 'CDT')) return null;
  let antennaPort: number | null = null;
  if (lines.length === 5) {
    const arp = ARP_LINE.exec(lines[4]!);
    if (!arp) return null;
    antennaPort = Number(arp[1]);
  }
  return { kind: 'response', frame: Buffer.from(hex, 'hex'), readerCrcOk: crcWord === 'COK', collision: collisionWord === 'CDT', antennaPort };
}

/** Lines of a tag answer as the reader sends them; `frame` is the tag's response with its CRC. */
export function tagAnswerLines(frame: Uint8Array, o: { collision?: boolean } = {}): string[] {
  return ['TDT', Buffer.from(frame).toString('hex').toUpperCase(), isoCrcOk(frame) ? 'COK' : 'CER', o.collision ? 'CDT' : 'NCL'];
}
