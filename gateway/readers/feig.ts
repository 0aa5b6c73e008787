import type { Duplex } from 'node:stream';
import type { ReaderConfig } from '../../contract/mqtt.js';
import {
  encodeFeigFrame, FEIG_BROADCAST, FeigCmd, FeigFrameDecoder, FeigMode, FeigStatus, IsoCmd, IsoError, MFR_NXP, NxpCmd,
  TR_TYPE_ISO15693, type FeigFrame,
} from '../../contract/rfid/feig-frame.js';
import { isNxp } from '../../contract/rfid/iso15693.js';
import { ReaderError, type DriverCounters, type InventoriedTag, type ReaderErrorCode, type RfidDriver, type TagSystemInfo } from './driver.js';

/**
 * FEIG ID ISC host protocol driver (ISO host mode, commands [0xB0]/[0xB1]). Sources: FEIG
 * "System-Manual ID ISC.MR/PR/PRH101" H60301-3e (chapters 3.2, 6.1, 8.3, Annex D), "ID ISC.MR102"
 * H01113-4e, "ID ISC.LR200" H90692-16e, and FEIG's own SDK (fedm-classlib FEDM_ISCReader.cpp /
 * FEDM_ISOTabItem.cpp) for the layouts the manuals leave open.
 *
 * Wire conventions (FEIG H60301-3e 3.2: "The data will be sent always as MSB first if the Reader is
 * in the Host Command Mode"):
 * - UID: 8 bytes MSB first (E0 04 … for an NXP tag) — reversed from the ISO 15693 air interface, and
 *   the same order as our hex UIDs, so the hex string is the wire bytes.
 * - Block data: each block MSB first, i.e. the block's bytes in reverse memory order (FEDM swaps
 *   "MSB <-> LSB" per block for [0x23] and [0x24]).
 * - MEM-SIZE of [0x2B]: block size − 1 (bits 0..4), then block count − 1.
 * - Antennas: with more than one antenna, [0x01] Inventory sets MODE.ANT and ANT_SEL = 1 << (antenna − 1)
 *   (FEIG ID ISC.MU02 H90701-3e 10.1.1, Siemens RF290R/FEIG 8.2) and data sets carry antenna records.
 * - EAS: NXP custom commands through [0xB1] with MFR 0x04 (H60301-3e chapter 8).
 */
export interface FeigDriverOptions {
  /** How long a reply may take (ms, default 1000): TIMEOUT after that. */
  replyTimeoutMs?: number;
  /** Quiet time (ms, default 50) after which a partial frame is given up (inter-character timeout). */
  idleFlushMs?: number;
  /** Send requests in advanced frames (STX …); the reader then answers in advanced frames too. */
  advanced?: boolean;
}

interface Pending { command: number; resolve(f: FeigFrame): void; reject(e: Error): void; timer: NodeJS.Timeout }

/** FEIG ID ISC.LR200 H90692-16e 7.1.5: at most 128 data bytes per [0x24] Write Multiple Blocks. */
const MAX_WRITE_BYTES = 128;
const MAX_MORE_ROUNDS = 64; // continuations after STATUS 0x94 before the reader is deemed to loop

export function createFeigDriver(cfg: ReaderConfig, stream: Duplex, opts: FeigDriverOptions = {}): RfidDriver {
  return new FeigDriver(cfg, stream, opts);
}

class FeigDriver implements RfidDriver {
  readonly protocol = 'feig' as const;
  private readonly address: number;
  private readonly decoder: FeigFrameDecoder;
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private timeouts = 0;
  private closed = false;
  private idle: NodeJS.Timeout | null = null;
  private readonly onData = (chunk: Buffer) => this.received(chunk);

  constructor(private readonly cfg: ReaderConfig, private readonly stream: Duplex, private readonly opts: FeigDriverOptions) {
    this.address = (cfg.address ?? FEIG_BROADCAST) & 0xff;
    // A reply belongs to the command on the line and comes from our reader (any address when we broadcast).
    this.decoder = new FeigFrameDecoder({ replies: true, plausible: (adr, cmd) => this.expects(adr, cmd) });
    stream.on('data', this.onData);
  }

  get counters(): DriverCounters {
    return { frames: this.decoder.frames, badCrc: this.decoder.badCrc, resyncs: this.decoder.resyncs, timeouts: this.timeouts };
  }

  private expects(address: number, command: number): boolean {
    return this.pending !== null && command === this.pending.command && (this.address === FEIG_BROADCAST || address === this.address);
  }

  private received(chunk: Buffer): void {
    for (const f of this.decoder.push(chunk)) this.accept(f);
    if (this.idle) clearTimeout(this.idle);
    const flush = () => { this.idle = null; for (const f of this.decoder.flushStalled()) this.accept(f); };
    this.idle = this.decoder.pending > 0 ? setTimeout(flush, this.opts.idleFlushMs ?? 50).unref() : null;
  }

  /** Replies nobody waits for (late after a timeout, another reader's) are dropped. */
  private accept(f: FeigFrame): void {
    const p = this.pending;
    if (!p || !this.expects(f.address, f.command)) return;
    this.pending = null;
    clearTimeout(p.timer);
    p.resolve(f);
  }

  /** One command at a time: operations queue behind each other (an inventory with its 0x94 continuations is one). */
  private exclusive<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op, op);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Sends one request and waits for its reply (FEIG: no reply at all to a frame with a protocol error). */
  private exchange(command: number, data: number[] | Buffer): Promise<FeigFrame> {
    if (this.closed) return Promise.reject(new ReaderError('CLOSED', 'the FEIG driver is closed'));
    this.decoder.reset(); // leftovers of an earlier, abandoned reply
    const frame = encodeFeigFrame({ address: this.address, command, data: Buffer.from(data), advanced: this.opts.advanced });
    const ms = this.opts.replyTimeoutMs ?? 1000;
    return new Promise<FeigFrame>((resolve, reject) => {
      const fail = (e: ReaderError) => { clearTimeout(timer); this.pending = null; this.decoder.reset(); reject(e); };
      const timer = setTimeout(() => { this.timeouts++; fail(new ReaderError('TIMEOUT', `FEIG reader ${this.cfg.id}: no answer to 0x${hex(command)} within ${ms} ms`)); }, ms);
      this.pending = { command, resolve, reject, timer };
      try { this.stream.write(frame); } catch (e) { fail(new ReaderError('CLOSED', `cannot write to the serial line: ${e instanceof Error ? e.message : e}`)); }
    });
  }

  inventory(antenna: number): Promise<InventoriedTag[]> {
    // FEIG [0xB0][0x01] Inventory: MODE (MORE bit 7, ANT bit 4) [ANT_SEL bit field, bit 0 = antenna 1].
    if (!Number.isInteger(antenna) || antenna < 1 || antenna > 8) return Promise.reject(new ReaderError('READER_ERROR', `antenna ${antenna} outside 1..8`));
    const multi = this.cfg.antennas > 1 || antenna > 1;
    return this.exclusive(async () => {
      const tags: InventoriedTag[] = [];
      let mode: number = multi ? FeigMode.ANT : 0;
      for (let round = 0; ; round++) {
        const reply = await this.exchange(FeigCmd.ISO, multi ? [IsoCmd.INVENTORY, mode, 1 << (antenna - 1)] : [IsoCmd.INVENTORY, mode]);
        if (reply.status === FeigStatus.NO_TRANSPONDER) return tags;
        if (reply.status !== FeigStatus.OK && reply.status !== FeigStatus.MORE_DATA) throw statusError(reply);
        parseDataSets(reply.data, multi, antenna, this.cfg.antennas, tags);
        if (reply.status === FeigStatus.OK) return tags;
        // FEIG H60301-3e 6.1.1: "If the STATUS byte ... has the value 0x94, more UID's can be read out of the Reader with MORE = b1."
        if (round >= MAX_MORE_ROUNDS) throw new ReaderError('READER_ERROR', 'the reader keeps answering 0x94 (more data)');
        mode = (multi ? FeigMode.ANT : 0) | FeigMode.MORE;
      }
    });
  }

  systemInfo(uid: string): Promise<TagSystemInfo> {
    return this.exclusive(() => this.readSystemInfo(uid));
  }

  /** FEIG [0xB0][0x2B] Get System Information: DSFID UID(8) AFI MEM-SIZE(2, or 3 for big tags) IC-REF. */
  private async readSystemInfo(uid: string): Promise<TagSystemInfo> {
    const d = ok(await this.exchange(FeigCmd.ISO, [IsoCmd.SYSTEM_INFO, FeigMode.ADDRESSED, ...uidBytes(uid)])).data;
    if (d.length < 13) throw new ReaderError('READER_ERROR', `system information of ${d.length} bytes, 13 expected`);
    if (d.subarray(1, 9).toString('hex').toUpperCase() !== uid.toUpperCase()) throw new ReaderError('READER_ERROR', 'system information of another tag');
    const big = d.length >= 14; // FEDM: 3-byte MEM-SIZE when the block count needs 2 bytes
    return {
      uid: uid.toUpperCase(), dsfid: d[0]!, afi: d[9]!, blockSize: (d[10]! & 0x1f) + 1,
      blockCount: (big ? (d[11]! << 8) | d[12]! : d[11]!) + 1, icReference: big ? d[13]! : d[12]!,
    };
  }

  readBlocks(uid: string, firstBlock: number, count: number): Promise<Buffer> {
    if (!Number.isInteger(count) || count < 1 || firstBlock < 0 || firstBlock + count > 256) return Promise.reject(new ReaderError('READER_ERROR', `blocks ${firstBlock}+${count} outside the 1-byte DB-ADR range`));
    return this.exclusive(async () => {
      // FEIG [0xB0][0x23] Read Multiple Blocks: 0x23 MODE UID DB-ADR DB-N → DB-N DB-SIZE (SEC-STATUS DB){DB-N}
      const reply = ok(await this.exchange(FeigCmd.ISO, [IsoCmd.READ_MULTIPLE, FeigMode.ADDRESSED, ...uidBytes(uid), firstBlock, count]));
      const { data: d } = reply;
      const [n = 0, size = 0] = d;
      if (n !== count || size < 1 || d.length < 2 + n * (size + 1)) throw new ReaderError('READER_ERROR', `read reply with ${n} blocks of ${size} bytes for ${count} blocks`);
      const out = Buffer.allocUnsafe(n * size);
      // after each SEC-STATUS byte, the block MSB first (reverse memory order)
      for (let b = 0; b < n; b++) for (let k = 0; k < size; k++) out[b * size + k] = d[3 + b * (size + 1) + size - 1 - k]!;
      return out;
    });
  }

  writeBlocks(uid: string, firstBlock: number, data: Buffer, blockSize: number): Promise<void> {
    const count = data.length / blockSize;
    if (!(blockSize >= 1 && blockSize <= 32 && Number.isInteger(count) && count >= 1 && firstBlock >= 0 && firstBlock + count <= 256)) {
      return Promise.reject(new ReaderError('READER_ERROR', `cannot write ${data.length} bytes as ${blockSize}-byte blocks from block ${firstBlock}`));
    }
    const perRequest = Math.max(1, Math.floor(MAX_WRITE_BYTES / blockSize));
    return this.exclusive(async () => {
      for (let b = 0; b < count; b += perRequest) {
        const n = Math.min(perRequest, count - b);
        // FEIG [0xB0][0x24] Write Multiple Blocks: 0x24 MODE UID DB-ADR DB-N DB-SIZE DB{DB-N}
        const req = [IsoCmd.WRITE_MULTIPLE, FeigMode.ADDRESSED, ...uidBytes(uid), firstBlock + b, n, blockSize];
        for (let k = 0; k < n; k++) {
          const block = data.subarray((b + k) * blockSize, (b + k + 1) * blockSize);
          for (let j = blockSize - 1; j >= 0; j--) req.push(block[j]!);
        }
        ok(await this.exchange(FeigCmd.ISO, req));
      }
    });
  }

  writeAfi(uid: string, afi: number): Promise<void> {
    // FEIG [0xB0][0x27] Write AFI: 0x27 MODE UID AFI
    return this.exclusive(async () => { ok(await this.exchange(FeigCmd.ISO, [IsoCmd.WRITE_AFI, FeigMode.ADDRESSED, ...uidBytes(uid), afi & 0xff])); });
  }

  readEas(uid: string): Promise<boolean | null> {
    if (!isNxp(uid)) return Promise.resolve(null); // NXP custom commands only reach NXP tags (IC mfr code 0x04)
    return this.exclusive(async () => {
      // FEIG [0xB1] MFR=0x04 [0xA5] EAS Alarm (H60301-3e 8.3.4): STATUS 0x00 when the EAS bit is 1; with the
      // bit 0 the tag stays silent and the reader reports 0x01 — so a silent tag is checked for presence.
      const reply = await this.exchange(FeigCmd.CUSTOM, [MFR_NXP, NxpCmd.EAS_ALARM, FeigMode.ADDRESSED, ...uidBytes(uid)]);
      if (reply.status === FeigStatus.OK) return true;
      if (unsupported(reply)) return null;
      if (reply.status !== FeigStatus.NO_TRANSPONDER) throw statusError(reply);
      await this.readSystemInfo(uid); // NO_TAG when the tag is really gone
      return false;
    });
  }

  readSecurity(uid: string): Promise<{ info: TagSystemInfo; eas: boolean | null }> {
    return this.exclusive(async () => {
      let eas: boolean | null = null;
      if (isNxp(uid)) {
        const reply = await this.exchange(FeigCmd.CUSTOM, [MFR_NXP, NxpCmd.EAS_ALARM, FeigMode.ADDRESSED, ...uidBytes(uid)]);
        if (reply.status === FeigStatus.OK) eas = true;
        else if (reply.status === FeigStatus.NO_TRANSPONDER) eas = false; // silent: EAS off, if the tag answers below
        else if (!unsupported(reply)) throw statusError(reply);
      }
      return { info: await this.readSystemInfo(uid), eas };
    });
  }

  setEas(uid: string, on: boolean): Promise<void> {
    if (!isNxp(uid)) return Promise.reject(new ReaderError('NOT_SUPPORTED', `tag ${uid} is not an NXP ICODE tag: no EAS`));
    return this.exclusive(async () => {
      // FEIG [0xB1] MFR=0x04 [0xA2] Set EAS / [0xA3] Reset EAS: 0xA2|0xA3 MODE UID (H60301-3e 8.3.1/8.3.2)
      ok(await this.exchange(FeigCmd.CUSTOM, [MFR_NXP, on ? NxpCmd.SET_EAS : NxpCmd.RESET_EAS, FeigMode.ADDRESSED, ...uidBytes(uid)]));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stream.off('data', this.onData);
    if (this.idle) clearTimeout(this.idle);
    const p = this.pending;
    this.pending = null;
    if (p) { clearTimeout(p.timer); p.reject(new ReaderError('CLOSED', 'the FEIG driver was closed')); }
    await this.queue;
    // The driver owns its line (ReaderLink closes nothing else): a SerialPort is closed, any other Duplex destroyed.
    const port = this.stream as Duplex & { isOpen?: boolean; close?: (cb: (e?: Error | null) => void) => void };
    if (typeof port.close !== 'function') this.stream.destroy();
    else if (port.isOpen !== false) await new Promise<void>((r) => port.close!(() => r()));
  }
}

/** Inventory data sets (FEIG H60301-3e 6.1.1; with ANT the layout of FEDM_ISOTabItem::SetSnr_with_Antenna). */
function parseDataSets(d: Buffer, withAntenna: boolean, antenna: number, antennas: number, into: InventoriedTag[]): void {
  let o = 1;
  const take = (n: number) => { if ((o += n) > d.length) throw new ReaderError('READER_ERROR', 'inventory reply cut short'); return o - n; };
  for (let s = 0; s < (d[0] ?? 0); s++) {
    if (!withAntenna) { // TR-TYPE DSFID UID(8)
      const at = take(10);
      if (d[at] !== TR_TYPE_ISO15693) throw new ReaderError('READER_ERROR', `transponder type 0x${hex(d[at]!)} is not ISO 15693`);
      into.push({ uid: d.subarray(at + 2, at + 10).toString('hex').toUpperCase(), antenna, dsfid: d[at + 1]! });
      continue;
    }
    // FLAGS [TR-TYPE DSFID UID_LEN UID] [ANT_CNT (ANT_NR ANT_STATUS RSSI reserved(4)){ANT_CNT}]
    const flags = d[take(1)]!;
    let uid: string | null = null, dsfid = 0, ant = antenna;
    if (flags & 0x01) {
      const at = take(3);
      dsfid = d[at + 1]!;
      const id = take(d[at + 2]!);
      if (d[at] === TR_TYPE_ISO15693 && d[at + 2] === 8) uid = d.subarray(id, id + 8).toString('hex').toUpperCase();
    }
    if (flags & 0x10) {
      const cnt = d[take(1)]!;
      const at = take(cnt * 7);
      if (cnt > 0 && d[at]! >= 1 && d[at]! <= Math.max(antennas, antenna)) ant = d[at]!;
    }
    if (uid) into.push({ uid, antenna: ant, dsfid });
  }
}

function ok(reply: FeigFrame): FeigFrame {
  if (reply.status !== FeigStatus.OK) throw statusError(reply);
  return reply;
}

/** "Not supported" as the reader (0x05, 0x80, 0x82) or the tag (ISO error 0x01..0x03) says it. */
function unsupported({ status: s, data }: FeigFrame): boolean {
  if (s === FeigStatus.WRONG_TRANSPONDER_TYPE || s === FeigStatus.UNKNOWN_COMMAND || s === FeigStatus.COMMAND_NOT_AVAILABLE) return true;
  return s === FeigStatus.ISO_ERROR && data[0]! >= IsoError.NOT_SUPPORTED && data[0]! <= IsoError.OPTION_NOT_SUPPORTED;
}

/** FEIG status bytes (H60301-3e Annex D) → ReaderError codes; after 0x03 comes DB-ADR-E (H60301-3e 6.1.5). */
const STATUS: Record<number, [ReaderErrorCode, string]> = {
  [FeigStatus.NO_TRANSPONDER]: ['NO_TAG', 'no transponder answered'],
  [FeigStatus.DATA_FALSE]: ['TAG_ERROR', 'data false: CRC error in the tag\'s answer'],
  [FeigStatus.WRITE_ERROR]: ['TAG_ERROR', 'write error'],
  [FeigStatus.ADDRESS_ERROR]: ['TAG_ERROR', 'address outside the tag memory'],
  [FeigStatus.COLLISION]: ['TAG_ERROR', 'collision'],
};
/** ISO/IEC 15693-3 error codes after STATUS 0x95 (then DB-ADR-E for writes): 0x11/0x12 are locks, 0x13/0x14 failed programming. */
const ISO: Record<number, [ReaderErrorCode, string]> = {
  [IsoError.BLOCK_ALREADY_LOCKED]: ['TAG_LOCKED', 'already locked'],
  [IsoError.BLOCK_LOCKED]: ['TAG_LOCKED', 'locked'],
  [IsoError.BLOCK_NOT_AVAILABLE]: ['TAG_ERROR', 'block not available'],
  [IsoError.NOT_PROGRAMMED]: ['TAG_ERROR', 'not successfully programmed'],
  [IsoError.NOT_LOCKED]: ['TAG_ERROR', 'not successfully locked'],
};

function statusError(reply: FeigFrame): ReaderError {
  const { status: s, data } = reply;
  const iso = s === FeigStatus.ISO_ERROR ? data[0] ?? IsoError.UNKNOWN : -1;
  const where = (i: number) => (data.length > i ? ` at block ${data[i]}` : '');
  const what = `FEIG status 0x${hex(s)}${iso >= 0 ? `, ISO 15693 error 0x${hex(iso)}` : ''}`;
  if (unsupported(reply)) return new ReaderError('NOT_SUPPORTED', `not supported (${what})`);
  if (iso >= 0) {
    const [code, text] = ISO[iso] ?? ['TAG_ERROR', 'tag error'];
    return new ReaderError(code, `${text}${where(1)} (${what})`);
  }
  const [code, text] = STATUS[s] ?? ['READER_ERROR', 'reader error'];
  return new ReaderError(code, `${text}${s === FeigStatus.WRITE_ERROR ? where(0) : ''} (${what})`);
}

function uidBytes(uid: string): Buffer {
  if (!/^[0-9A-Fa-f]{16}$/.test(uid)) throw new ReaderError('READER_ERROR', `UID must be 16 hex digits, got ${uid}`);
  return Buffer.from(uid, 'hex'); // FEIG: UID MSB first, as written
}

/** ISO 15693 UID: E0, IC manufacturer code (ISO/IEC 7816-6), serial — MSB first. */
const hex = (v: number) => v.toString(16).padStart(2, '0').toUpperCase();
