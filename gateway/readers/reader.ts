import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { ReaderConfig, ReaderStatusPayload, ReaderTagEvent, SecurityState, TagReport } from '../../contract/mqtt.js';
import { decodeTagMemory, DSFID_ISO28560_2 } from '../../contract/rfid/tag-data.js';
import { ReaderError, type RfidDriver, type TagSystemInfo } from './driver.js';

/** Bytes read from a tag when it enters the field: the ISO 28560-3 basic block (34 bytes)… */
const BASIC_BLOCK_BYTES = 34;
/** …or, for an ISO 28560-2 data set (or memory that is not an ISO 28560-3 block), the start of it. */
const DATA_SET_BYTES = 64;

export interface ReaderLinkDeps {
  gatewayId: string;
  /** Opens the reader's serial line (a SerialPort in production; a pty or SerialPortMock in tests). */
  openStream(cfg: ReaderConfig): Promise<Duplex>;
  createDriver(cfg: ReaderConfig, stream: Duplex): RfidDriver;
  onTagEvent(e: ReaderTagEvent): void;
  onStatus(s: ReaderStatusPayload): void;
  log?: (line: string) => void;
}

interface Present { report: TagReport; misses: number }

/**
 * One reader as the gateway runs it: opens its line, polls every antenna, turns tags entering and
 * leaving the field into events, executes security writes and tag programming between polls (one
 * command on the line at a time), and reopens a reader that disappeared with exponential backoff.
 */
/** Polls a tag's security is tried on before the tag is reported with it unknown. */
const READ_ATTEMPTS = 3;

export class ReaderLink {
  private stream: Duplex | null = null;
  private driver: RfidDriver | null = null;
  private readonly present = new Map<string, Present>();
  /** Tags whose EAS could not be read when they entered (their `eas: null` means unknown, not "no EAS"). */
  private readonly easUnread = new Set<string>();
  /** Tags in the field whose security could not be read yet, with the reads tried. */
  private readonly unreadable = new Map<string, number>();
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private online = false;
  private lastError: string | undefined;
  private reopens = 0;
  private failuresInRow = 0;
  private backoffMs = 500;
  private readonly counters = { frames: 0, badCrc: 0, resyncs: 0, timeouts: 0 };

  /** Consecutive polls a tag may be missed before it counts as gone (one missed answer is not a leave). */
  leaveAfterMisses = 2;
  /** While online, the status (with its error counters) is republished this often when the counters moved. */
  statusEveryMs = 10_000;
  private lastStatus = { at: 0, counters: '' };

  constructor(readonly cfg: ReaderConfig, private readonly deps: ReaderLinkDeps) {}

  get isOnline(): boolean { return this.online; }

  /** Tags in the field now, as last reported. */
  tags(): TagReport[] { return [...this.present.values()].map((p) => p.report); }

  async start(): Promise<void> {
    this.stopped = false;
    await this.open();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.queue.catch(() => undefined);
    await this.closeLine();
    this.setOnline(false);
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    try {
      const stream = await this.deps.openStream(this.cfg);
      this.stream = stream;
      this.driver = this.deps.createDriver(this.cfg, stream);
      const lost = (why: string) => { if (this.stream === stream) void this.lose(why); };
      stream.once('close', () => lost('serial line closed'));
      stream.once('error', (e: Error) => lost(e.message));
      this.failuresInRow = 0;
      this.backoffMs = 500;
      this.lastError = undefined;
      this.setOnline(true);
      this.schedulePoll(0);
    } catch (e) {
      this.lastError = e instanceof Error ? e.message : String(e);
      this.setOnline(false);
      this.scheduleReopen();
    }
  }

  private async closeLine(): Promise<void> {
    const driver = this.driver;
    this.driver = null;
    this.stream = null;
    if (driver) { this.addCounters(driver); await driver.close().catch(() => undefined); }
  }

  private async lose(why: string): Promise<void> {
    if (this.stopped || !this.driver) return;
    this.deps.log?.(`reader ${this.cfg.id}: ${why}; reopening`);
    this.lastError = why;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.closeLine();
    this.setOnline(false);
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (this.stopped) return;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
    this.timer = setTimeout(() => { this.reopens++; void this.open(); }, wait);
  }

  private schedulePoll(ms: number): void {
    const driver = this.driver;
    if (this.stopped || !driver) return;
    // A poll loop belongs to one opened line: once that line is lost (during the poll, or by it
    // timing out) the loop ends, and the reopen starts a fresh one — never two loops at once.
    this.timer = setTimeout(() => {
      void this.exclusive(() => this.poll()).finally(() => { if (this.driver === driver) this.schedulePoll(this.cfg.pollMs ?? 100); });
    }, ms);
  }

  /** Runs one operation on the line when the previous one is done. */
  private exclusive<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op, op);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async poll(): Promise<void> {
    const driver = this.driver;
    if (!driver) return;
    const seen = new Set<string>();
    try {
      for (let antenna = 1; antenna <= Math.max(1, this.cfg.antennas); antenna++) {
        for (const t of await driver.inventory(antenna)) {
          seen.add(t.uid);
          const known = this.present.get(t.uid);
          if (known) { known.misses = 0; continue; }
          const report = await this.readTag(driver, t.uid, antenna);
          // A tag whose security could not be read (it moved, a collision) is read again at the next polls
          // before it is reported with its state unknown: a gate must not wave an armed book through.
          if (report.security === null) {
            const tries = (this.unreadable.get(t.uid) ?? 0) + 1;
            if (tries < READ_ATTEMPTS) { this.unreadable.set(t.uid, tries); continue; }
          }
          this.unreadable.delete(t.uid);
          this.present.set(t.uid, { report, misses: 0 });
          this.emit('enter', report);
        }
      }
      this.failuresInRow = 0;
    } catch (e) {
      if (e instanceof ReaderError && e.code === 'TIMEOUT' && ++this.failuresInRow >= 3) {
        await this.lose('the reader stopped answering');
      }
      return;
    }
    this.publishCountersNow();
    for (const uid of this.unreadable.keys()) if (!seen.has(uid)) this.unreadable.delete(uid);
    for (const [uid, p] of this.present) {
      if (seen.has(uid)) continue;
      if (++p.misses >= this.leaveAfterMisses) {
        this.present.delete(uid);
        this.easUnread.delete(uid);
        this.emit('leave', p.report);
      }
    }
  }

  /** Security state and memory of a tag; data stays null when the memory could not be read. */
  private async readTag(driver: RfidDriver, uid: string, antenna: number): Promise<TagReport> {
    const report: TagReport = { uid, antenna, security: null, data: null };
    try {
      let info: TagSystemInfo;
      try {
        const sec = await driver.readSecurity(uid);
        info = sec.info;
        report.security = { afi: info.afi ?? 0, eas: sec.eas };
        this.easUnread.delete(uid);
      } catch (e) {
        if (e instanceof ReaderError && (e.code === 'NO_TAG' || e.code === 'TAG_GONE')) throw e;
        info = await driver.systemInfo(uid); // the EAS alarm failed, not the tag: its EAS stays unknown
        report.security = { afi: info.afi ?? 0, eas: null };
        this.easUnread.add(uid);
      }
      // Every byte costs time on the serial line: read the basic block, and more only when it is not one.
      const blocksFor = (bytes: number) => Math.min(info.blockCount, Math.ceil(bytes / info.blockSize));
      const first = blocksFor(info.dsfid === DSFID_ISO28560_2 ? DATA_SET_BYTES : BASIC_BLOCK_BYTES);
      let memory = await driver.readBlocks(uid, 0, first);
      report.data = decodeTagMemory(memory, info.dsfid ?? undefined);
      if (report.data.format === 'unknown' && blocksFor(DATA_SET_BYTES) > first) {
        memory = Buffer.concat([memory, await driver.readBlocks(uid, first, blocksFor(DATA_SET_BYTES) - first)]);
        report.data = decodeTagMemory(memory, info.dsfid ?? undefined);
      }
    } catch (e) {
      this.deps.log?.(`reader ${this.cfg.id}: tag ${uid} could not be read: ${e instanceof Error ? e.message : e}`);
    }
    return report;
  }

  private emit(event: 'enter' | 'leave', tag: TagReport): void {
    this.deps.onTagEvent({ id: randomUUID(), ts: new Date().toISOString(), readerId: this.cfg.id, event, tag });
  }

  /** Writes AFI (and EAS where asked and supported), then reads both back; anything else is a failure. */
  writeSecurity(uid: string, afi: number, eas?: boolean): Promise<SecurityState> {
    return this.exclusive(async () => {
      const driver = this.requireDriver();
      await driver.writeAfi(uid, afi);
      let easSupported = false;
      if (eas !== undefined) {
        // Whether the tag has EAS is known from when it entered the field (null = none); ask only if not.
        const known = this.easUnread.has(uid) ? null : this.present.get(uid)?.report.security;
        const before = known ? known.eas : await driver.readEas(uid);
        if (before !== null) { await driver.setEas(uid, eas); easSupported = true; }
      }
      const back = await driver.readSecurity(uid);
      const info = back.info;
      const easNow = easSupported ? back.eas : null;
      if (info.afi !== afi || (easSupported && easNow !== eas)) {
        throw new NotVerifiedError(`read back AFI ${hex(info.afi)} EAS ${easNow} after writing AFI ${hex(afi)} EAS ${eas}`);
      }
      const state: SecurityState = { afi, eas: easNow };
      const p = this.present.get(uid);
      if (p) p.report.security = state;
      return state;
    });
  }

  readTagNow(uid: string): Promise<TagReport> {
    return this.exclusive(async () => {
      const driver = this.requireDriver();
      const report = await this.readTag(driver, uid, this.present.get(uid)?.report.antenna ?? 1);
      if (!report.security) throw new ReaderError('NO_TAG', `tag ${uid} did not answer`);
      return report;
    });
  }

  /** Writes the memory image, reads it back and compares, then sets the AFI and verifies it. */
  programTag(uid: string, memory: Buffer, afi: number): Promise<TagReport> {
    return this.exclusive(async () => {
      const driver = this.requireDriver();
      const info = await driver.systemInfo(uid);
      const blocks = Math.ceil(memory.length / info.blockSize);
      if (blocks > info.blockCount) throw new ReaderError('TAG_ERROR', `the tag holds ${info.blockCount * info.blockSize} bytes, ${memory.length} needed`);
      const image = Buffer.alloc(blocks * info.blockSize);
      memory.copy(image);
      await driver.writeBlocks(uid, 0, image, info.blockSize);
      const back = await driver.readBlocks(uid, 0, blocks);
      if (!back.equals(image)) throw new NotVerifiedError('the memory read back differs from what was written');
      await driver.writeAfi(uid, afi);
      const report = await this.readTag(driver, uid, this.present.get(uid)?.report.antenna ?? 1);
      if (report.security?.afi !== afi) throw new NotVerifiedError(`read back AFI ${hex(report.security?.afi)} after writing ${hex(afi)}`);
      const p = this.present.get(uid);
      if (p) p.report = report;
      return report;
    });
  }

  private requireDriver(): RfidDriver {
    if (!this.driver) throw new ReaderError('CLOSED', `reader ${this.cfg.id} is offline${this.lastError ? `: ${this.lastError}` : ''}`);
    return this.driver;
  }

  private addCounters(driver: RfidDriver): void {
    for (const k of Object.keys(this.counters) as (keyof typeof this.counters)[]) this.counters[k] += driver.counters[k];
  }

  status(): ReaderStatusPayload {
    const live = this.driver?.counters;
    return {
      readerId: this.cfg.id, online: this.online, ts: new Date().toISOString(), protocol: this.cfg.protocol, port: this.cfg.port,
      ...(this.lastError && !this.online ? { error: this.lastError } : {}),
      counters: {
        frames: this.counters.frames + (live?.frames ?? 0), badCrc: this.counters.badCrc + (live?.badCrc ?? 0),
        resyncs: this.counters.resyncs + (live?.resyncs ?? 0), timeouts: this.counters.timeouts + (live?.timeouts ?? 0), reopens: this.reopens,
      },
    };
  }

  private setOnline(online: boolean): void {
    const changed = online !== this.online;
    this.online = online;
    if (changed || !online) this.publishStatus();
  }

  private publishStatus(): void {
    const s = this.status();
    this.lastStatus = { at: Date.now(), counters: JSON.stringify(s.counters) };
    this.deps.onStatus(s);
  }

  /** Frames, bad CRCs, resyncs and timeouts are counted as they happen; the dashboard sees them within statusEveryMs. */
  private publishCountersNow(): void {
    if (Date.now() - this.lastStatus.at < this.statusEveryMs) return;
    if (JSON.stringify(this.status().counters) !== this.lastStatus.counters) this.publishStatus();
  }
}

/** A write the reader accepted but whose read-back did not show it: a failure, never a success. */
export class NotVerifiedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotVerifiedError';
  }
}

const hex = (v: number | null | undefined) => (v === null || v === undefined ? 'none' : `0x${v.toString(16).padStart(2, '0').toUpperCase()}`);
