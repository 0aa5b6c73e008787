import type { Duplex } from 'node:stream';
import type { ReaderConfig } from '../../contract/mqtt.js';
import {
  encodeSystemInfo, errorResponse, ISO_CMD, ISO_ERROR, isNxp, isoCrcOk, NXP_MANUFACTURER, okResponse, parseIsoRequest, WRITE_COMMANDS, withIsoCrc,
  type IsoRequest,
} from '../../contract/rfid/iso15693.js';
import {
  BREAK_ACK, DAMAGED_LINE, encodeAnswer, END_OF_FRAME, inventoryAnswerLines, MetratecLineDecoder, OK, revisionAnswer, stripLineCrc, tagAnswerLines,
} from '../../contract/rfid/metratec-protocol.js';
import type { ReaderField } from './field.js';
import type { ReaderSimulator, SimulatorFactory } from './sim-readers.js';
import { TagFault, type SimTag } from './tag.js';

export interface MetratecSimOptions {
  /** `REV` answer parts (metraTec readers answer e.g. `DESKID_ISO      02000307`). */
  device?: string; hardware?: string; firmware?: string;
  /** Pause between two inventories in continuous mode (CNR INV). */
  cnrIntervalMs?: number;
  /** Most tag data one answer may carry; beyond it the reader answers RDL (read data too long). */
  maxAnswerBytes?: number;
  /** Whether the tags implement write multiple blocks (0x24, optional in ISO 15693-3; ICODE SLIX has none). */
  writeMultiple?: boolean;
}

/** Faults to inject, counted down as they are used. */
export interface MetratecSimFaults { collisions: number; badTagCrc: number; silent: number }

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
// NXP ICODE SLIX data sheet, EAS ALARM: with the option flag clear the answer is the 32-byte EAS sequence
const EAS_SEQUENCE = Buffer.alloc(32, 0xa5);
const TAG_FAULT_CODE: Record<TagFault['code'], number> = {
  BLOCK_OUT_OF_RANGE: ISO_ERROR.blockNotAvailable, BAD_LENGTH: ISO_ERROR.unknown, LOCKED: ISO_ERROR.blockLocked, NOT_SUPPORTED: ISO_ERROR.notSupported,
};

/**
 * A metraTec ISO 15693 reader (DeskID ISO, Dwarf15, QuasarMX, …) on a byte stream, answering
 * from the tags in a ReaderField. Commands and answers follow the metraTec ISO 15693 protocol guide
 * as contract/rfid/metratec-protocol.ts encodes them; the reader starts with end of frame and line
 * CRC off and its RF interface not configured, as after power-up.
 */
export class MetratecReaderSim implements ReaderSimulator {
  readonly faults: MetratecSimFaults = { collisions: 0, badTagCrc: 0, silent: 0 };
  private device: Duplex | null = null;
  private readonly decoder = new MetratecLineDecoder();
  private readonly onData = (chunk: Buffer) => this.receive(chunk);
  private queue: Promise<void> = Promise.resolve();
  private eof = false;
  private crc = false;
  private rfReady = false;
  private port = 0;
  private continuous: { running: boolean; done: Promise<void> } | null = null;

  constructor(readonly cfg: ReaderConfig, readonly field: ReaderField, readonly opts: MetratecSimOptions = {}) {}

  attach(device: Duplex): void {
    this.detach();
    this.device = device;
    device.on('data', this.onData);
  }

  detach(): void {
    this.device?.off('data', this.onData);
    this.device = null;
    if (this.continuous) this.continuous.running = false;
  }

  private receive(chunk: Buffer): void {
    for (const line of this.decoder.push(chunk)) {
      if (line === END_OF_FRAME) continue;
      const bare = line === DAMAGED_LINE ? null : this.crc ? stripLineCrc(line) : (stripLineCrc(line) ?? line);
      // with CRC on (CON), a line without a valid CRC is answered CCE (MetratecReaderAscii.configureConnection)
      if (bare === null) { this.answer([this.crc ? 'CCE' : 'UCO']); continue; }
      if (this.continuous?.running) {
        // continuous mode listens for BRK only; BRA follows the inventory in progress
        if (/^BRK$/i.test(bare.trim())) this.continuous.running = false;
        continue;
      }
      this.queue = this.queue.then(() => this.execute(bare)).catch(() => undefined);
    }
  }

  private answer(lines: string[]): void {
    const d = this.device;
    if (d && !d.destroyed && d.writable) d.write(encodeAnswer(lines, { crc: this.crc, eof: this.eof }));
  }

  private async execute(line: string): Promise<void> {
    const words = line.trim().split(/ +/);
    const cmd = words[0]!.toUpperCase();
    const args = words.slice(1).map((w) => w.toUpperCase());
    switch (cmd) {
      case 'BRK': return this.answer(['NCM']); // not in continuous mode
      case 'REV': return this.answer([revisionAnswer(this.opts.device ?? 'DESKID_ISO', this.opts.hardware ?? '0200', this.opts.firmware ?? '0307')]);
      case 'RST':
        this.answer([OK]);
        this.eof = this.crc = this.rfReady = false;
        this.port = 0;
        return;
      case 'EOF': this.eof = true; return this.answer([OK]);
      case 'NEF': this.eof = false; return this.answer([OK]);
      case 'CON': this.crc = true; return this.answer([OK]);
      case 'COF': this.crc = false; return this.answer([OK]);
      case 'MOD': return this.answer([args[0] === '156' ? OK : args[0] === '14A' || args[0] === '14B' ? 'NOS' : 'UPA']);
      case 'SRI':
        if (args[0] === 'OFF') { this.rfReady = false; return this.answer([OK]); }
        if ((args[0] === 'SS' || args[0] === 'DS') && (args[1] === '100' || args[1] === '10')) { this.rfReady = true; return this.answer([OK]); }
        return this.answer(['UPA']);
      case 'SAP': return this.answer([this.setAntenna(args)]);
      case 'INV': {
        const afi = this.inventoryAfi(args);
        if (afi === 'UPA' || !this.rfReady) return this.answer([afi === 'UPA' ? 'UPA' : 'RNW']);
        return this.answer(await this.inventory(afi));
      }
      case 'CNR': {
        if (args[0] !== 'INV') return this.answer(['NOS']);
        const afi = this.inventoryAfi(args.slice(1));
        if (afi === 'UPA' || !this.rfReady) return this.answer([afi === 'UPA' ? 'UPA' : 'RNW']);
        return this.runContinuous(afi);
      }
      case 'REQ': case 'WRQ':
        if (!this.rfReady) return this.answer(['RNW']); // hf_reader_ascii.py: RNW while the RF interface is not set up (SRI)
        return this.answer(await this.tagRequest(cmd, args));
      default: return this.answer(['UCO']);
    }
  }

  /** `SAP n` / `SAP MAN n` (rfid-sdk-java / rfid-sdk-python): antenna port n, from 0; a DeskID ISO has one integrated antenna: NOS. */
  private setAntenna(args: string[]): string {
    if (this.field.antennas <= 1) return 'NOS';
    const n = args[0] === 'MAN' ? args[1] : args[0];
    if (n === undefined || !/^\d+$/.test(n)) return 'EDX';
    if (Number(n) >= this.field.antennas) return 'NOR';
    this.port = Number(n);
    return OK;
  }

  private inventoryAfi(args: string[]): number | null | 'UPA' {
    if (args.length === 0) return null;
    return args.length === 2 && args[0] === 'AFI' && /^[0-9A-F]{2}$/.test(args[1]!) ? parseInt(args[1]!, 16) : 'UPA';
  }

  /** INV: the field's 16-slot anticollision on the selected antenna; tags with another AFI keep quiet. */
  private async inventory(afi: number | null): Promise<string[]> {
    const antenna = this.port + 1;
    const found = this.field.anticollision(antenna).uids.filter((uid) => afi === null || this.field.tags(antenna).find((t) => t.uid === uid)?.afi === afi);
    const latency = Math.max(0, ...found.map((uid) => this.field.tags(antenna).find((t) => t.uid === uid)?.latencyMs ?? 0));
    if (latency > 0) await sleep(latency);
    return inventoryAnswerLines(found);
  }

  private runContinuous(afi: number | null): Promise<void> {
    const state = { running: true, done: Promise.resolve() };
    state.done = (async () => {
      while (state.running) {
        const lines = await this.inventory(afi);
        if (state.running) this.answer(lines);
        await sleep(this.opts.cnrIntervalMs ?? 20);
      }
      this.continuous = null;
      this.answer([BREAK_ACK]);
    })();
    this.continuous = state;
    return state.done;
  }

  /**
   * REQ/WRQ <hex> [CRC]: the hex goes to the tag as it is; with CRC the reader appends the ISO
   * CRC, without it the last two bytes must be the CRC or no tag answers. A writing command sent
   * with REQ is carried out but its answer comes after the reader stopped listening: TNR.
   */
  private async tagRequest(kind: 'REQ' | 'WRQ', args: string[]): Promise<string[]> {
    const hex = args[0];
    if (hex === undefined || !/^(?:[0-9A-F]{2})+$/.test(hex)) return ['EHX'];
    if (args.length > 2 || (args.length === 2 && args[1] !== 'CRC')) return ['UPA'];
    let frame = Buffer.from(hex, 'hex');
    if (args[1] !== 'CRC') {
      if (!isoCrcOk(frame)) return ['TNR'];
      frame = frame.subarray(0, frame.length - 2);
    }
    const req = parseIsoRequest(frame);
    if (!req) return ['TNR'];
    if (this.faults.collisions > 0) { this.faults.collisions--; return tagAnswerLines(Buffer.from([0x00, 0x5a, 0x13]), { collision: true }); }
    if (this.faults.silent > 0) { this.faults.silent--; return ['TNR']; }
    const antenna = this.port + 1;
    let tag: SimTag | null;
    if (req.uid !== null) tag = this.field.antennaOf(req.uid) === antenna ? this.field.answering(req.uid) : null;
    else {
      const here = this.field.tags(antenna).filter((t) => this.field.answering(t.uid));
      if (here.length > 1) return tagAnswerLines(Buffer.from([0x00, 0xc3, 0x3c]), { collision: true });
      tag = here[0] ?? null;
    }
    if (!tag) return ['TNR'];
    const isWrite = WRITE_COMMANDS.has(req.command);
    const blocks = req.command === ISO_CMD.writeMultipleBlocks && req.params.length >= 2 ? req.params[1]! + 1 : 1;
    if (tag.latencyMs > 0) await sleep(tag.latencyMs * (isWrite ? blocks : 1));
    if (!this.field.has(tag.uid)) return ['TNR']; // taken away while the command ran
    const response = this.tagCommand(tag, req);
    if (response === 'RDL' || response === null) return [response ?? 'TNR'];
    if (isWrite && kind === 'REQ') return ['TNR'];
    const answer = withIsoCrc(response);
    if (this.faults.badTagCrc > 0) { this.faults.badTagCrc--; answer[answer.length - 1] = answer[answer.length - 1]! ^ 0xff; }
    return tagAnswerLines(answer);
  }

  /** The tag's response without CRC; null when it stays silent (ISO 15693-3 and NXP ICODE SLIX behaviour). */
  private tagCommand(tag: SimTag, req: IsoRequest): Buffer | 'RDL' | null {
    // ISO 15693 custom commands carry the IC manufacturer code: a tag of another maker stays silent.
    if (req.manufacturer !== null && (req.manufacturer !== NXP_MANUFACTURER || !isNxp(tag.uid))) return null;
    const p = req.params;
    try {
      switch (req.command) {
        case ISO_CMD.readSingleBlock:
          return p.length === 1 ? okResponse(tag.readBlock(p[0]!)) : errorResponse(ISO_ERROR.notRecognized);
        case ISO_CMD.readMultipleBlocks: {
          if (p.length !== 2) return errorResponse(ISO_ERROR.notRecognized);
          const first = p[0]!, count = p[1]! + 1, withStatus = (req.flags & 0x40) !== 0;
          if (count * (tag.blockSize + (withStatus ? 1 : 0)) > (this.opts.maxAnswerBytes ?? 128)) return 'RDL';
          const parts: Buffer[] = [];
          // ISO 15693-3 §10.4.5: with the option flag set, each block is preceded by its security status (bit 0 locked)
          for (let b = first; b < first + count; b++) {
            if (withStatus) parts.push(Buffer.from([tag.lockedBlocks.has(b) ? 1 : 0]));
            parts.push(tag.readBlock(b));
          }
          return okResponse(Buffer.concat(parts));
        }
        case ISO_CMD.writeSingleBlock:
          if (p.length < 1) return errorResponse(ISO_ERROR.notRecognized);
          tag.writeBlock(p[0]!, p.subarray(1));
          return okResponse();
        case ISO_CMD.writeMultipleBlocks: {
          if (this.opts.writeMultiple === false) return errorResponse(ISO_ERROR.notSupported);
          if (p.length < 2) return errorResponse(ISO_ERROR.notRecognized);
          const first = p[0]!, count = p[1]! + 1, data = p.subarray(2);
          if (data.length !== count * tag.blockSize) return errorResponse(ISO_ERROR.unknown);
          for (let b = first; b < first + count; b++) {
            if (b >= tag.blockCount) return errorResponse(ISO_ERROR.blockNotAvailable);
            if (tag.lockedBlocks.has(b)) return errorResponse(ISO_ERROR.blockLocked);
          }
          for (let i = 0; i < count; i++) tag.writeBlock(first + i, data.subarray(i * tag.blockSize, (i + 1) * tag.blockSize));
          return okResponse();
        }
        case ISO_CMD.writeAfi:
          if (p.length !== 1) return errorResponse(ISO_ERROR.notRecognized);
          tag.writeAfi(p[0]!);
          return okResponse();
        case ISO_CMD.getSystemInfo:
          return okResponse(encodeSystemInfo({ uid: tag.uid, dsfid: tag.dsfid, afi: tag.afi, blockCount: tag.blockCount, blockSize: tag.blockSize }));
        case ISO_CMD.nxpSetEas: case ISO_CMD.nxpResetEas:
          tag.setEas(req.command === ISO_CMD.nxpSetEas);
          return okResponse();
        case ISO_CMD.nxpEasAlarm:
          if (!tag.supportsEas) return errorResponse(ISO_ERROR.notSupported);
          return tag.eas ? okResponse(EAS_SEQUENCE) : null; // ICODE SLIX: silent while EAS is off
        default:
          return errorResponse(ISO_ERROR.notSupported);
      }
    } catch (e) {
      if (e instanceof TagFault) return errorResponse(TAG_FAULT_CODE[e.code]);
      throw e;
    }
  }
}

export function createMetratecSimulator(cfg: ReaderConfig, field: ReaderField, opts?: MetratecSimOptions): MetratecReaderSim {
  return new MetratecReaderSim(cfg, field, opts);
}

export const metratecSimulator: SimulatorFactory = (cfg, field) => new MetratecReaderSim(cfg, field);
