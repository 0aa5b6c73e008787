import { crc16Mcrf4xx } from './crc.js';

/**
 * FEIG ID ISC (OBID i-scan) host protocol frames, shared by the gateway's FEIG driver and the
 * firmware simulator's FEIG reader. Sources: FEIG "System-Manual ID ISC.MR/PR/PRH101" (H60301-3e),
 * "ID ISC.MR200" (H40801-5e) and "ID ISC.MR102" (H01113-4e), chapter "Serial Data Format and
 * Protocol Frames"; CRC parameters from the same chapter.
 *
 *   standard frame: LEN COM-ADR CMD [STATUS] DATA CRC16         LEN = whole frame incl. CRC, 5/6..255
 *   advanced frame: STX(0x02) ALEN-MSB ALEN-LSB COM-ADR CMD [STATUS] DATA CRC16   ALEN = whole frame, 7/8..65535
 *
 * STATUS is only in reader → host frames. CRC16 = CRC-16/MCRF4XX (poly 0x8408 reflected, init 0xFFFF)
 * over every byte before it, sent LSB first.
 */

/** FEIG ISC host protocol: first byte of an advanced protocol frame (no standard frame is this short). */
export const FEIG_STX = 0x02;
/** FEIG ISC host protocol: COM-ADR 255 reaches a reader whatever its bus address. */
export const FEIG_BROADCAST = 0xff;

/** FEIG ISC host protocol control bytes used here. */
export const FeigCmd = {
  /** [0xB0] Host commands for ISO 15693 mandatory and optional commands. */
  ISO: 0xb0,
  /** [0xB1] Host commands for ISO 15693 custom and proprietary commands (byte 4 = MFR code). */
  CUSTOM: 0xb1,
} as const;

/** ISO 15693 request codes carried as the first REQUEST-DATA byte of [0xB0] (FEIG manuals, chapter 6.1). */
export const IsoCmd = { INVENTORY: 0x01, READ_MULTIPLE: 0x23, WRITE_MULTIPLE: 0x24, WRITE_AFI: 0x27, SYSTEM_INFO: 0x2b } as const;

/** NXP ICODE SLI custom commands under [0xB1] with MFR 0x04 (FEIG H60301-3e chapter 8.3). */
export const NxpCmd = { SET_EAS: 0xa2, RESET_EAS: 0xa3, EAS_ALARM: 0xa5 } as const;
/** ISO/IEC 7816-6 IC manufacturer code of NXP (FEIG [0xB1] MFR table: 0x04 Philips). */
export const MFR_NXP = 0x04;

/** FEIG ISC host protocol MODE byte bits ([0xB0] request data byte 2). */
export const FeigMode = {
  /** ADR field (bits 0..2): b000 non-addressed, b001 addressed (8-byte UID follows), b010 selected. */
  ADDRESSED: 0x01,
  SELECTED: 0x02,
  /** [0x23] SEC: send the block security status of each block. */
  SEC: 0x08,
  /** [0x01] ANT: the request carries ANT_SEL and each data set carries antenna information. */
  ANT: 0x10,
  /** [0x01] MORE: continue an inventory answered with STATUS 0x94. */
  MORE: 0x80,
} as const;

/** FEIG "ANNEX: Index of Status Bytes" (H60301-3e Annex D, H01113-4e Annex E). */
export const FeigStatus = {
  OK: 0x00, NO_TRANSPONDER: 0x01, DATA_FALSE: 0x02, WRITE_ERROR: 0x03, ADDRESS_ERROR: 0x04, WRONG_TRANSPONDER_TYPE: 0x05,
  COLLISION: 0x0b, UNKNOWN_COMMAND: 0x80, LENGTH_ERROR: 0x81, COMMAND_NOT_AVAILABLE: 0x82, RF_COMMUNICATION_ERROR: 0x83,
  RF_WARNING: 0x84, DATA_BUFFER_OVERFLOW: 0x93, MORE_DATA: 0x94, ISO_ERROR: 0x95,
} as const;

/** ISO/IEC 15693-3 response error codes, passed on by FEIG readers after STATUS 0x95. */
export const IsoError = {
  NOT_SUPPORTED: 0x01, NOT_RECOGNIZED: 0x02, OPTION_NOT_SUPPORTED: 0x03, UNKNOWN: 0x0f, BLOCK_NOT_AVAILABLE: 0x10,
  BLOCK_ALREADY_LOCKED: 0x11, BLOCK_LOCKED: 0x12, NOT_PROGRAMMED: 0x13, NOT_LOCKED: 0x14,
} as const;

/** FEIG Annex A "Codes of Transponder Types": TR-TYPE of ISO 15693 transponders. */
export const TR_TYPE_ISO15693 = 0x03;

export interface FeigFrame {
  advanced: boolean;
  address: number;
  command: number;
  /** STATUS of a reader reply; -1 in host requests, which carry none. */
  status: number;
  /** Bytes between CMD/STATUS and the CRC. May be a view of the chunk handed to the decoder. */
  data: Buffer;
  /** Bytes the frame took on the wire. */
  length: number;
}

export interface FeigFrameFields {
  address: number;
  command: number;
  /** Present in reader replies only. */
  status?: number;
  data?: Uint8Array;
  /** Force the advanced frame; it is used anyway when the frame would exceed 255 bytes. */
  advanced?: boolean;
}

/**
 * One frame, byte for byte. A frame longer than 255 bytes can only be sent as an advanced frame
 * (FEIG H60301-3e 3.2: "If the host request leads to a response with more than 255 Byte the Reader
 * will choose the advanced protocol frame").
 */
export function encodeFeigFrame(f: FeigFrameFields): Buffer {
  const dataLen = f.data?.length ?? 0;
  const body = 2 + (f.status === undefined ? 0 : 1) + dataLen; // COM-ADR CMD [STATUS] DATA
  const advanced = f.advanced === true || body + 3 > 255;
  const len = body + (advanced ? 5 : 3);
  if (len > 0xffff) throw new RangeError(`FEIG frame of ${len} bytes exceeds the advanced frame's 65535`);
  const out = Buffer.allocUnsafe(len);
  let o = 0;
  if (advanced) {
    out[o++] = FEIG_STX;
    out[o++] = len >>> 8; // FEIG: ALENGTH MSB first
    out[o++] = len & 0xff;
  } else {
    out[o++] = len;
  }
  out[o++] = f.address & 0xff;
  out[o++] = f.command & 0xff;
  if (f.status !== undefined) out[o++] = f.status & 0xff;
  if (f.data) out.set(f.data, o);
  const crc = crc16Mcrf4xx(out.subarray(0, len - 2));
  out[len - 2] = crc & 0xff; // FEIG: CRC16 LSB first
  out[len - 1] = crc >>> 8;
  return out;
}

export interface FeigDecoderOptions {
  /** true for reader → host traffic (frames carry STATUS), false for host → reader. */
  replies: boolean;
  /**
   * Checked on a frame still incomplete as soon as its COM-ADR and CMD have arrived: false means the
   * "length" byte was garbage (a stray byte claims up to 255 or 65535 bytes and would stall a
   * request/response line), so it is dropped at once. Complete frames are judged by their CRC only.
   * Without it every length byte is believed until its frame is complete or `flushStalled()` is called.
   */
  plausible?: (address: number, command: number) => boolean;
  /** Largest frame accepted (default 65535). */
  maxLength?: number;
}

const EMPTY: readonly FeigFrame[] = Object.freeze([]);

/**
 * Streaming decoder for both frame types. Partial frames wait for more bytes; a bad CRC or a byte
 * that cannot start a frame makes it drop one byte and search again. Counters: `badCrc` frames
 * that failed their CRC where a frame was due, `resyncs` runs of dropped bytes, `droppedBytes`. Frames found whole inside one
 * chunk view that chunk (no copy; do not reuse the chunk); only frames that span chunks are copied.
 */
export class FeigFrameDecoder {
  frames = 0;
  badCrc = 0;
  resyncs = 0;
  droppedBytes = 0;
  private buf: Buffer = Buffer.allocUnsafe(512);
  private start = 0;
  private end = 0;
  private skipping = false;
  private out: FeigFrame[] | null = null;
  private readonly hdr: number;
  private readonly minStd: number;
  private readonly minAdv: number;
  private readonly maxLength: number;
  private readonly plausible: ((address: number, command: number) => boolean) | null;

  constructor(opts: FeigDecoderOptions) {
    this.hdr = opts.replies ? 4 : 3; // LEN COM-ADR CMD [STATUS]
    this.minStd = this.hdr + 2;
    this.minAdv = this.hdr + 4;
    this.maxLength = Math.min(opts.maxLength ?? 0xffff, 0xffff);
    this.plausible = opts.plausible ?? null;
  }

  /** Bytes held back waiting for the rest of a frame. */
  get pending(): number { return this.end - this.start; }

  push(chunk: Buffer): readonly FeigFrame[] {
    this.out = null;
    if (this.end === this.start) {
      const rest = this.parse(chunk, 0, chunk.length, false);
      if (rest < chunk.length) this.keep(chunk, rest);
    } else {
      this.append(chunk);
      this.settle(this.parse(this.buf, this.start, this.end, true));
    }
    return this.out ?? EMPTY;
  }

  /**
   * The line went quiet with a partial frame held: what is held can no longer be a frame start, so
   * drop a byte and search again until nothing is held (the inter-character timeout of a serial
   * protocol). Returns the frames found on the way.
   */
  flushStalled(): readonly FeigFrame[] {
    this.out = null;
    while (this.end > this.start) {
      this.drop(1);
      this.settle(this.parse(this.buf, this.start + 1, this.end, true));
    }
    return this.out ?? EMPTY;
  }

  /** Drops whatever partial frame is held (a host does this before each command); returns the bytes dropped. */
  reset(): number {
    const n = this.end - this.start;
    this.drop(n);
    this.start = this.end = 0;
    this.skipping = false;
    return n;
  }

  private settle(at: number): void {
    this.start = at;
    if (at === this.end) this.start = this.end = 0;
  }

  /** Frame length declared at i: > 0 the length, 0 not known yet, -1 no frame can start here. */
  private declared(src: Buffer, i: number, e: number): number {
    const b = src[i]!;
    if (b !== FEIG_STX) return b >= this.minStd && b <= this.maxLength ? b : -1;
    if (e - i < 3) return 0;
    const n = (src[i + 1]! << 8) | src[i + 2]!;
    return n >= this.minAdv && n <= this.maxLength ? n : -1;
  }

  private crcOk(src: Buffer, i: number, n: number): boolean {
    return crc16Mcrf4xx(src.subarray(i, i + n - 2)) === (src[i + n - 2]! | (src[i + n - 1]! << 8));
  }

  private parse(src: Buffer, i: number, e: number, copy: boolean): number {
    while (i < e) {
      const n = this.declared(src, i, e);
      if (n < 0) { this.drop(1); i++; continue; }
      if (n === 0 || i + n > e) {
        const a = src[i] === FEIG_STX ? i + 3 : i + 1;
        if (this.plausible && n > 0 && a + 1 < e && !this.plausible(src[a]!, src[a + 1]!)) { this.drop(1); i++; continue; }
        break;
      }
      if (!this.crcOk(src, i, n)) {
        if (!this.skipping) this.badCrc++; // a bad frame where a frame was due; inside a resync it is just more garbage
        this.drop(1);
        i++;
        continue;
      }
      this.emit(src, i, n, copy);
      i += n;
    }
    return i;
  }

  private emit(src: Buffer, i: number, n: number, copy: boolean): void {
    const advanced = src[i] === FEIG_STX;
    const a = advanced ? i + 3 : i + 1;
    const view = src.subarray(a + this.hdr - 1, i + n - 2);
    const frame: FeigFrame = {
      advanced, address: src[a]!, command: src[a + 1]!, status: this.hdr === 4 ? src[a + 2]! : -1,
      data: copy ? Buffer.from(view) : view, length: n,
    };
    (this.out ??= []).push(frame);
    this.frames++;
    this.skipping = false;
  }

  private drop(n: number): void {
    if (n <= 0) return;
    if (!this.skipping) { this.resyncs++; this.skipping = true; }
    this.droppedBytes += n;
  }

  private keep(src: Buffer, from: number): void {
    const n = src.length - from;
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
    src.copy(this.buf, 0, from);
    this.start = 0;
    this.end = n;
  }

  private append(chunk: Buffer): void {
    const held = this.end - this.start;
    const need = held + chunk.length;
    if (need > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
      this.buf.copy(next, 0, this.start, this.end);
      this.buf = next;
    } else if (this.start > 0) {
      this.buf.copyWithin(0, this.start, this.end);
    }
    this.start = 0;
    this.end = held;
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }
}
