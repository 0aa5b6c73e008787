import type { Duplex } from 'node:stream';
import type { ReaderConfig } from '../../contract/mqtt.js';
import {
  easRequest, getSystemInfoRequest, ISO_CMD, ISO_ERROR, isNxp, isoCrcOk, parseIsoResponse, parseSystemInfo, readMultipleBlocksRequest,
  writeAfiRequest, writeMultipleBlocksRequest, writeSingleBlockRequest,
} from '../../contract/rfid/iso15693.js';
import {
  BREAK_ACK, DAMAGED_LINE, encodeLine, END_OF_FRAME, isMetratecWord, MetratecLineDecoder, OK, parseInventoryAnswer, parseTagAnswer,
  requestCommand, stripLineCrc,
} from '../../contract/rfid/metratec-protocol.js';
import { ReaderError, type DriverCounters, type InventoriedTag, type ReaderErrorCode, type RfidDriver, type TagSystemInfo } from './driver.js';

export interface MetratecDriverOptions {
  /** Milliseconds to wait for an answer (default 1500). */
  timeoutMs?: number;
  /** Protect the serial link with the reader's line CRC (`CON`, default true). */
  linkCrc?: boolean;
  log?: (line: string) => void;
}

/** The metraTec driver: the RfidDriver, plus the reader's continuous inventory and its identity. */
export interface MetratecDriver extends RfidDriver {
  readonly protocol: 'metratec';
  /** The answer to `REV` (device name, hardware and firmware revision) once the reader was set up. */
  readonly identity: string | null;
  /** `CNR INV` on one antenna: the reader inventories until stopped; every inventory goes to `onInventory`. */
  startContinuous(antenna: number, onInventory: (tags: InventoriedTag[]) => void): Promise<void>;
  /** `BRK`: ends continuous inventory (answer `BRA`, or `NCM` when none was running). */
  stopContinuous(): Promise<void>;
}

/** Bytes of tag memory asked for in one REQ; the readers answer RDL ("read data too long") beyond their buffer. */
const MAX_BYTES_PER_REQUEST = 64;
const TNR_RETRIES = 1;
const COLLISION_RETRIES = 3;

type Accept = (lines: readonly string[]) => boolean;
interface Pending { accept: Accept; resolve(lines: string[] | null): void; reject(e: Error): void; timer: NodeJS.Timeout }

const isSetting: Accept = (l) => l.length === 1 && (l[0] === OK || isMetratecWord(l[0]!));
const isTagAnswer: Accept = (l) => parseTagAnswer(l) !== null;
const isInventory: Accept = (l) => parseInventoryAnswer(l) !== null || (l.length === 1 && isMetratecWord(l[0]!));
/** Before the link is set up the reader may still be in CRC mode: compare words without their CRC. */
const bare = (line: string) => stripLineCrc(line) ?? line;

export function createMetratecDriver(cfg: ReaderConfig, stream: Duplex, opts: MetratecDriverOptions = {}): MetratecDriver {
  return new MetratecReaderDriver(cfg, stream, opts);
}

class MetratecReaderDriver implements MetratecDriver {
  readonly protocol = 'metratec' as const;
  identity: string | null = null;
  private readonly decoder = new MetratecLineDecoder();
  private readonly timeoutMs: number;
  private frame: string[] = [];
  private frameDamaged = false;
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private ready = false;
  private eof = false;
  private linkCrc = false;
  private port: number | null = null;
  private continuous: ((tags: InventoriedTag[]) => void) | null = null;
  private continuousAntenna = 0;
  private closed = false;
  private readonly antennaOf = new Map<string, number>();
  private readonly blockSizeOf = new Map<string, number>();
  private readonly noWriteMultiple = new Set<string>();
  private readonly extra = { badCrc: 0, resyncs: 0, timeouts: 0 };
  private readonly onData = (chunk: Buffer) => this.receive(chunk);
  private readonly onGone = () => this.fail(new ReaderError('CLOSED', `reader ${this.cfg.id}: serial line closed`));

  constructor(private readonly cfg: ReaderConfig, private readonly stream: Duplex, private readonly opts: MetratecDriverOptions) {
    this.timeoutMs = opts.timeoutMs ?? 1500;
    stream.on('data', this.onData);
    stream.once('close', this.onGone);
    stream.on('error', this.onGone);
  }

  get counters(): DriverCounters {
    const d = this.decoder;
    return { frames: d.frames, badCrc: d.badCrc + this.extra.badCrc, resyncs: d.resyncs + this.extra.resyncs, timeouts: this.extra.timeouts };
  }

  // ---- RfidDriver -------------------------------------------------------------------------

  inventory(antenna: number): Promise<InventoriedTag[]> {
    return this.op(async () => {
      await this.selectAntenna(antenna);
      for (let attempt = 0; ; attempt++) {
        const lines = await this.exchange('INV', isInventory);
        const inv = parseInventoryAnswer(lines);
        if (!inv) throw this.wordError(lines[0], 'INV');
        // metraTec guide, INV: IVF nn is the number of tags found; fewer UID lines means one was lost on the line: ask once more
        if (inv.uids.length !== inv.reported) { this.extra.resyncs++; if (attempt === 0) continue; }
        for (const uid of inv.uids) this.antennaOf.set(uid, antenna);
        return inv.uids.map((uid) => ({ uid, antenna }));
      }
    });
  }

  systemInfo(uid: string): Promise<TagSystemInfo> {
    return this.op(() => this.readSystemInfo(uid));
  }

  readBlocks(uid: string, firstBlock: number, count: number): Promise<Buffer> {
    return this.op(async () => {
      const size = this.blockSizeOf.get(uid) ?? 4;
      const perRequest = Math.max(1, Math.floor(MAX_BYTES_PER_REQUEST / size));
      const parts: Buffer[] = [];
      for (let b = firstBlock; b < firstBlock + count; b += perRequest) {
        const n = Math.min(perRequest, firstBlock + count - b);
        // ISO 15693-3 §10.4.5: read multiple blocks answers n × block size bytes (no security status without the option flag)
        const data = await this.request('REQ', uid, readMultipleBlocksRequest(uid, b, n));
        const known = this.blockSizeOf.get(uid);
        if (data.length === 0 || data.length % n !== 0 || (known !== undefined && data.length !== n * known)) throw new ReaderError('TAG_ERROR', `tag ${uid}: ${data.length} bytes for ${n} blocks`);
        parts.push(data);
      }
      return Buffer.concat(parts);
    });
  }

  writeBlocks(uid: string, firstBlock: number, data: Buffer, blockSize: number): Promise<void> {
    return this.op(async () => {
      if (blockSize < 1 || data.length % blockSize !== 0) throw new ReaderError('TAG_ERROR', `${data.length} bytes are not whole blocks of ${blockSize}`);
      const blocks = data.length / blockSize;
      const perRequest = Math.max(1, Math.floor(MAX_BYTES_PER_REQUEST / blockSize));
      for (let i = 0; i < blocks;) {
        if (!this.noWriteMultiple.has(uid)) {
          const n = Math.min(perRequest, blocks - i);
          try {
            // WRQ "if the data on the tag is to be changed/written" (ISOReaderAscii.sendWritingRequest): the reader waits the write response time
            await this.request('WRQ', uid, writeMultipleBlocksRequest(uid, firstBlock + i, n, data.subarray(i * blockSize, (i + n) * blockSize)));
            i += n;
            continue;
          } catch (e) {
            // write multiple blocks (0x24) is optional in ISO 15693-3 and ICODE SLIX lacks it: fall back to write single block
            if (!(e instanceof ReaderError && e.code === 'NOT_SUPPORTED')) throw e;
            this.noWriteMultiple.add(uid);
          }
        }
        await this.request('WRQ', uid, writeSingleBlockRequest(uid, firstBlock + i, data.subarray(i * blockSize, (i + 1) * blockSize)));
        i++;
      }
    });
  }

  writeAfi(uid: string, afi: number): Promise<void> {
    return this.op(async () => { await this.request('WRQ', uid, writeAfiRequest(uid, afi & 0xff)); });
  }

  /**
   * NXP EAS ALARM (ICODE SLIX data sheet: answers the EAS sequence when EAS is set and stays
   * silent when it is not). Silence is told apart from an absent tag by asking for its system information.
   */
  readEas(uid: string): Promise<boolean | null> {
    if (!isNxp(uid)) return Promise.resolve(null); // NXP custom commands only reach NXP tags: no EAS to read
    return this.op(async () => {
      try {
        // Silence is an answer here (EAS off), so it is not retried: the system information below tells it from absence.
        await this.request('REQ', uid, easRequest(uid, ISO_CMD.nxpEasAlarm), 0);
        return true;
      } catch (e) {
        if (!(e instanceof ReaderError)) throw e;
        if (e.code === 'NOT_SUPPORTED') return null;
        if (e.code !== 'NO_TAG') throw e;
      }
      await this.readSystemInfo(uid);
      return false;
    });
  }

  readSecurity(uid: string): Promise<{ info: TagSystemInfo; eas: boolean | null }> {
    return this.op(async () => {
      // A tag of another maker stays silent to NXP's EAS ALARM: its silence says nothing about EAS.
      if (!isNxp(uid)) return { info: await this.readSystemInfo(uid), eas: null };
      let eas: boolean | null;
      try {
        await this.request('REQ', uid, easRequest(uid, ISO_CMD.nxpEasAlarm), 0);
        eas = true;
      } catch (e) {
        if (!(e instanceof ReaderError) || (e.code !== 'NOT_SUPPORTED' && e.code !== 'NO_TAG')) throw e;
        eas = e.code === 'NOT_SUPPORTED' ? null : false; // silent: EAS off, if the tag answers below
      }
      return { info: await this.readSystemInfo(uid), eas };
    });
  }

  setEas(uid: string, on: boolean): Promise<void> {
    if (!isNxp(uid)) return Promise.reject(new ReaderError('NOT_SUPPORTED', `tag ${uid} is not an NXP ICODE tag: no EAS`));
    return this.op(async () => { await this.request('WRQ', uid, easRequest(uid, on ? ISO_CMD.nxpSetEas : ISO_CMD.nxpResetEas)); });
  }

  startContinuous(antenna: number, onInventory: (tags: InventoriedTag[]) => void): Promise<void> {
    return this.op(async () => {
      await this.selectAntenna(antenna);
      this.continuous = (tags) => { for (const t of tags) this.antennaOf.set(t.uid, antenna); onInventory(tags); };
      this.continuousAntenna = antenna;
      // CNR INV repeats INV until BRK; "CNR INV itself gives no EOF answer of its own. It comes with the first inventory" (MetratecReaderAscii.setEndOfFrame)
      this.send('CNR INV');
    });
  }

  stopContinuous(): Promise<void> {
    return this.op(async () => {
      const lines = await this.exchange('BRK', (l) => l.length === 1 && (l[0] === BREAK_ACK || isMetratecWord(l[0]!)));
      this.continuous = null;
      if (lines[0] !== BREAK_ACK && lines[0] !== 'NCM') throw this.wordError(lines[0], 'BRK');
    }, true);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.continuous) this.send('BRK');
    this.fail(new ReaderError('CLOSED', `reader ${this.cfg.id}: driver closed`));
    const port = this.stream as Duplex & { isOpen?: boolean; close?: (cb: (e?: Error | null) => void) => void };
    if (typeof port.close === 'function' && port.isOpen) await new Promise<void>((r) => port.close!(() => r()));
    else this.stream.destroy();
  }

  // ---- operations ---------------------------------------------------------------------------

  /** One operation on the line at a time; the reader is set up first (again after it was reset). */
  private op<T>(body: () => Promise<T>, duringContinuous = false): Promise<T> {
    const run = async () => {
      if (this.closed) throw new ReaderError('CLOSED', `reader ${this.cfg.id}: driver closed`);
      if (this.continuous && !duringContinuous) throw new ReaderError('READER_ERROR', `reader ${this.cfg.id}: continuous inventory is running`);
      if (!this.ready) await this.setUp();
      try {
        return await body();
      } catch (e) {
        if (!(e instanceof LostSetup)) throw e;
        this.ready = false;
        await this.setUp();
        return body();
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /**
   * BRK ends a continuous mode left running (BRA) or answers NCM; CCE means the reader still has
   * line CRC on, so COF with its CRC turns it off (MetratecReaderAscii.configureConnection).
   * Then EOF (answers end with LF), CON, REV, MOD 156 (ISO 15693), SRI SS 100 (RF interface on).
   */
  private async setUp(): Promise<void> {
    this.eof = false;
    this.linkCrc = false;
    this.decoder.crc = false;
    this.port = null;
    const word = (l: readonly string[]) => l.length === 1 && (bare(l[0]!) === BREAK_ACK || bare(l[0]!) === OK || isMetratecWord(bare(l[0]!)));
    let brk = bare((await this.exchange('BRK', word))[0]!);
    if (brk === 'CCE') {
      await this.exchange(encodeLine('COF', true).slice(0, -1), word); // "COF 4F5E": COF with its own CRC
      brk = bare((await this.exchange('BRK', word))[0]!);
    }
    if (brk !== BREAK_ACK && brk !== 'NCM') throw this.wordError(brk, 'BRK');
    this.eof = true;
    await this.setting('EOF');
    if (this.opts.linkCrc !== false) {
      const [answer] = await this.exchange('CON', (l) => l.length === 1);
      if (stripLineCrc(answer!) === OK) { this.linkCrc = true; this.decoder.crc = true; }
      else this.opts.log?.(`reader ${this.cfg.id}: no line CRC (${answer})`);
    }
    const [rev] = await this.exchange('REV', (l) => l.length === 1);
    if (isMetratecWord(rev!)) throw this.wordError(rev, 'REV');
    this.identity = rev!;
    await this.setting('MOD 156');
    await this.setting('SRI SS 100');
    this.ready = true;
  }

  private async setting(command: string): Promise<void> {
    const [answer] = await this.exchange(command, isSetting);
    if (answer !== OK) throw this.wordError(answer, command);
  }

  /** SAP n: antenna port n, counted from 0 (ISOReaderAscii.setAntennaPort; "the lowest antenna port (0)"); a one-antenna reader has none to set. */
  private async selectAntenna(antenna: number): Promise<void> {
    if (antenna < 1 || antenna > Math.max(1, this.cfg.antennas)) throw new ReaderError('NOT_SUPPORTED', `reader ${this.cfg.id} has no antenna ${antenna}`);
    if (this.cfg.antennas <= 1 || this.port === antenna - 1) return;
    await this.setting(`SAP ${antenna - 1}`);
    this.port = antenna - 1;
  }

  private async readSystemInfo(uid: string): Promise<TagSystemInfo> {
    const info = parseSystemInfo(await this.request('REQ', uid, getSystemInfoRequest(uid)));
    if (!info || info.uid !== uid) throw new ReaderError('TAG_ERROR', `tag ${uid}: malformed system information`);
    if (info.blockSize === null || info.blockCount === null) throw new ReaderError('NOT_SUPPORTED', `tag ${uid} does not report its memory size`);
    this.blockSizeOf.set(uid, info.blockSize);
    return { uid, afi: info.afi, dsfid: info.dsfid, blockSize: info.blockSize, blockCount: info.blockCount, ...(info.icReference === null ? {} : { icReference: info.icReference }) };
  }

  /**
   * One ISO 15693 request through REQ/WRQ; resolves to the response data after the flags byte.
   * TNR is retried once, collisions (CDT) three times, a wrong ISO CRC once; ISO error codes
   * become typed errors (ISO 15693-3 §7.4.2).
   */
  private async request(kind: 'REQ' | 'WRQ', uid: string, frame: Buffer, silenceRetries = TNR_RETRIES): Promise<Buffer> {
    const antenna = this.antennaOf.get(uid);
    if (antenna !== undefined) await this.selectAntenna(antenna);
    let silent = 0, collisions = 0, badCrc = 0;
    for (;;) {
      const answer = parseTagAnswer(await this.exchange(requestCommand(kind, frame), isTagAnswer))!;
      if (answer.kind === 'word') {
        if (answer.word === 'TNR') { if (silent++ < silenceRetries) continue; throw new ReaderError('NO_TAG', `tag ${uid} is not responding`); }
        if (answer.word === 'CDT') { if (collisions++ < COLLISION_RETRIES) continue; throw new ReaderError('TAG_ERROR', `tag ${uid}: collisions`); }
        throw this.wordError(answer.word, kind);
      }
      if (answer.collision) { if (collisions++ < COLLISION_RETRIES) continue; throw new ReaderError('TAG_ERROR', `tag ${uid}: collisions`); }
      // COK/CER is the reader's check of the tag's CRC; the CRC travels in the hex, so check it here too
      if (!answer.readerCrcOk || !isoCrcOk(answer.frame)) {
        this.extra.badCrc++;
        if (badCrc++ < 1) continue;
        throw new ReaderError('TAG_ERROR', `tag ${uid}: CRC error in the answer, twice`);
      }
      const response = parseIsoResponse(answer.frame.subarray(0, answer.frame.length - 2));
      if (!response) throw new ReaderError('TAG_ERROR', `tag ${uid}: empty answer`);
      if (!response.ok) throw isoError(uid, response.error);
      return response.data;
    }
  }

  // ---- the line -----------------------------------------------------------------------------

  private send(command: string): void {
    this.stream.write(encodeLine(command, this.linkCrc));
  }

  /** Sends one command and waits for the answer it accepts; other answers are stale and dropped. A damaged answer is asked for again once. */
  private async exchange(command: string, accept: Accept): Promise<string[]> {
    for (let attempt = 0; ; attempt++) {
      const lines = await new Promise<string[] | null>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.pending = null;
          this.extra.timeouts++;
          this.decoder.reset();
          this.frame = [];
          this.frameDamaged = false;
          reject(new ReaderError('TIMEOUT', `reader ${this.cfg.id} did not answer ${command}`));
        }, this.timeoutMs);
        this.pending = { accept, resolve, reject, timer };
        this.send(command);
      });
      if (lines) return lines;
      if (attempt >= 1) throw new ReaderError('READER_ERROR', `reader ${this.cfg.id}: answer to ${command} damaged on the line twice`);
    }
  }

  private receive(chunk: Buffer): void {
    for (const item of this.decoder.push(chunk)) {
      if (item === END_OF_FRAME) { this.endFrame(); continue; }
      if (item === DAMAGED_LINE) { this.frameDamaged = true; if (!this.eof) this.endFrame(); continue; }
      if (item === 'HBT') continue; // heartbeat
      if (item === 'SRT') { this.ready = false; continue; } // the reader was reset: set it up again
      this.frame.push(item);
      if (!this.eof) this.endFrame(); // without EOF every line is an answer of its own
    }
  }

  private endFrame(): void {
    const lines = this.frame, damaged = this.frameDamaged;
    this.frame = [];
    this.frameDamaged = false;
    if (lines.length === 0 && !damaged) return;
    if (!damaged && this.continuous) {
      const inv = parseInventoryAnswer(lines);
      if (inv) { this.continuous(inv.uids.map((uid) => ({ uid, antenna: this.continuousAntenna }))); return; }
    }
    const p = this.pending;
    if (p && (damaged || p.accept(lines))) {
      this.pending = null;
      clearTimeout(p.timer);
      if (!damaged && lines.length === 1 && (lines[0] === 'RNW' || lines[0] === 'NSS')) { p.reject(new LostSetup()); return; }
      p.resolve(damaged ? null : lines);
      return;
    }
    this.extra.resyncs++;
  }

  private fail(e: ReaderError): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.off('data', this.onData);
    this.stream.off('close', this.onGone);
    this.stream.off('error', this.onGone);
    const p = this.pending;
    this.pending = null;
    if (p) { clearTimeout(p.timer); p.reject(e); }
  }

  private wordError(word: string | undefined, command: string): ReaderError {
    const code: ReaderErrorCode = word === 'NOS' ? 'NOT_SUPPORTED' : 'READER_ERROR';
    return new ReaderError(code, `reader ${this.cfg.id} answered ${word ?? 'nothing'} to ${command.split(' ')[0]}`);
  }
}

/** The reader lost its RF set-up (RNW registers not written, NSS no standard selected): set it up and try again. */
class LostSetup extends ReaderError {
  constructor() { super('READER_ERROR', 'the reader lost its RF set-up'); }
}

function isoError(uid: string, code: number): ReaderError {
  const hex = `0x${code.toString(16).padStart(2, '0').toUpperCase()}`;
  switch (code) {
    case ISO_ERROR.notSupported: case ISO_ERROR.notRecognized: case ISO_ERROR.optionNotSupported:
      return new ReaderError('NOT_SUPPORTED', `tag ${uid} does not support the command (ISO error ${hex})`);
    case ISO_ERROR.blockAlreadyLocked: case ISO_ERROR.blockLocked: case ISO_ERROR.notProgrammed:
      return new ReaderError('TAG_LOCKED', `tag ${uid} refused the write: locked (ISO error ${hex})`);
    default:
      return new ReaderError('TAG_ERROR', `tag ${uid} answered ISO error ${hex}`);
  }
}
