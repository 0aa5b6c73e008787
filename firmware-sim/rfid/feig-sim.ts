import type { Duplex } from 'node:stream';
import type { ReaderConfig } from '../../contract/mqtt.js';
import {
  encodeFeigFrame, FEIG_BROADCAST, FeigCmd, FeigFrameDecoder, FeigMode, FeigStatus, IsoCmd, IsoError, MFR_NXP, NxpCmd,
  TR_TYPE_ISO15693, type FeigFrame,
} from '../../contract/rfid/feig-frame.js';
import { isNxp } from '../../contract/rfid/iso15693.js';
import type { ReaderField } from './field.js';
import type { ReaderSimulator, SimulatorFactory } from './sim-readers.js';
import { TagFault, type SimTag } from './tag.js';

/**
 * A FEIG ID ISC reader in ISO host mode, byte for byte (FEIG "System-Manual ID ISC.MR/PR/PRH101"
 * H60301-3e chapters 3.2, 6.1, 8.3, Annex D; "ID ISC.MR102" H01113-4e; layouts the manuals leave
 * open as FEIG's SDK fedm-classlib parses them). Behaviour chosen and documented here:
 * - Frames: standard or advanced as the host sent; a reply over 255 bytes goes out as an advanced
 *   frame even to a standard request (H60301-3e 3.2). Garbage is skipped; a frame with a bad CRC
 *   or a request for another bus address gets no reply at all (H01113-4e 3.2: "There is no reply
 *   from the Reader if there is a protocol frame failure").
 * - COM-ADR: the reader answers requests to its address or to 255, with its own address (the
 *   configured one, FEIG's default 0x00 when the configuration says 255).
 * - Inventory: every tag in the field answers (no quiet state kept between inventories), found by
 *   ISO 15693 anticollision; at most `maxDataSets` data sets per reply, the rest after STATUS 0x94
 *   when the host asks again with MORE.
 * - Tags: per-tag latency (per block for writes) and failure rate through the field; a tag that
 *   does not answer is STATUS 0x01; TagFaults are STATUS 0x95 with the ISO 15693 error code; a tag
 *   that leaves the field in the middle of a multi-block write is STATUS 0x03 with DB-ADR-E.
 */
export interface FeigSimOptions {
  /** Inventory data sets per reply before STATUS 0x94 (default 24, what a standard frame holds without antenna data). */
  maxDataSets?: number;
  /** IC-REF reported by Get System Information (default 0x01). */
  icReference?: number;
  /** Quiet time (ms, default 50) after which a partial request is given up (inter-character timeout). */
  idleFlushMs?: number;
}

interface DataSet { uid: string; dsfid: number; antenna: number }
interface Reply { status: number; data?: number[] | Buffer }

const sleep = (ms: number) => (ms > 0 ? new Promise<void>((r) => setTimeout(r, ms)) : Promise.resolve());

export const feigSimulator: SimulatorFactory = (cfg, field) => new FeigReaderSim(cfg, field);

export class FeigReaderSim implements ReaderSimulator {
  private device: Duplex | null = null;
  private readonly own: number;
  private readonly decoder: FeigFrameDecoder;
  private chain: Promise<void> = Promise.resolve();
  private idle: NodeJS.Timeout | null = null;
  /** Data sets of the last inventory not yet sent (STATUS 0x94). */
  private more: DataSet[] = [];
  private readonly onData = (chunk: Buffer) => this.received(chunk);

  constructor(readonly cfg: ReaderConfig, readonly field: ReaderField, private readonly opts: FeigSimOptions = {}) {
    this.own = cfg.address === undefined || cfg.address === FEIG_BROADCAST ? 0x00 : cfg.address & 0xff;
    // A partial frame not addressed to this reader (or to 255) is taken for garbage at once.
    this.decoder = new FeigFrameDecoder({ replies: false, plausible: (adr) => this.forMe(adr) });
  }

  /** Bad CRC frames and skipped bytes seen by the reader. */
  get counters() { return { frames: this.decoder.frames, badCrc: this.decoder.badCrc, resyncs: this.decoder.resyncs }; }

  attach(device: Duplex): void {
    this.detach();
    this.device = device;
    device.on('data', this.onData);
  }

  detach(): void {
    this.device?.off('data', this.onData);
    this.device = null;
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
  }

  private forMe(address: number): boolean { return address === FEIG_BROADCAST || address === this.own; }

  private received(chunk: Buffer): void {
    for (const f of this.decoder.push(chunk)) this.queue(f);
    if (this.idle) clearTimeout(this.idle);
    const flush = () => { this.idle = null; for (const f of this.decoder.flushStalled()) this.queue(f); };
    this.idle = this.decoder.pending > 0 ? setTimeout(flush, this.opts.idleFlushMs ?? 50).unref() : null;
  }

  /** One request at a time, as the reader's host interface works. */
  private queue(f: FeigFrame): void {
    if (!this.forMe(f.address)) return;
    const device = this.device;
    this.chain = this.chain.then(async () => {
      const reply = await this.handle(f);
      if (this.device !== device || !device || device.destroyed) return;
      device.write(encodeFeigFrame({ address: this.own, command: f.command, status: reply.status, data: reply.data ? Buffer.from(reply.data) : undefined, advanced: f.advanced }));
    }).catch(() => undefined);
  }

  private async handle(f: FeigFrame): Promise<Reply> {
    if (f.command === FeigCmd.ISO) return this.iso(f.data);
    if (f.command === FeigCmd.CUSTOM) return this.custom(f.data);
    return { status: FeigStatus.UNKNOWN_COMMAND };
  }

  private async iso(d: Buffer): Promise<Reply> {
    if (d.length < 2) return { status: FeigStatus.LENGTH_ERROR };
    if (d[0] === IsoCmd.INVENTORY) return this.inventory(d);
    const target = await this.target(d, 2);
    if ('status' in target) return target;
    const { tag, at } = target;
    switch (d[0]) {
      case IsoCmd.SYSTEM_INFO: {
        // DSFID UID(8) AFI MEM-SIZE IC-REF; MEM-SIZE = block size − 1, block count − 1 (2 bytes when > 256 blocks)
        await sleep(tag.latencyMs);
        const blocks = tag.blockCount - 1;
        const mem = blocks > 0xff ? [(tag.blockSize - 1) & 0x1f, blocks >>> 8, blocks & 0xff] : [(tag.blockSize - 1) & 0x1f, blocks];
        return { status: FeigStatus.OK, data: [tag.dsfid, ...Buffer.from(tag.uid, 'hex'), tag.afi, ...mem, this.opts.icReference ?? 0x01] };
      }
      case IsoCmd.READ_MULTIPLE: {
        // DB-ADR DB-N → DB-N DB-SIZE (SEC-STATUS DB){DB-N}, each block MSB first
        if (d.length < at + 2) return { status: FeigStatus.LENGTH_ERROR };
        const first = d[at]!;
        const n = d[at + 1]!;
        await sleep(tag.latencyMs);
        const out = [n, tag.blockSize];
        try {
          for (let b = first; b < first + n; b++) {
            out.push(d[1]! & FeigMode.SEC && tag.lockedBlocks.has(b) ? 0x01 : 0x00, ...tag.readBlock(b).reverse());
          }
        } catch (e) { return fault(e); }
        return { status: FeigStatus.OK, data: out };
      }
      case IsoCmd.WRITE_MULTIPLE: {
        // DB-ADR DB-N DB-SIZE DB{DB-N}
        if (d.length < at + 3) return { status: FeigStatus.LENGTH_ERROR };
        const first = d[at]!;
        const n = d[at + 1]!;
        const size = d[at + 2]!;
        if (d.length !== at + 3 + n * size) return { status: FeigStatus.LENGTH_ERROR };
        for (let k = 0; k < n; k++) {
          // FEIG Annex D 0x03 Write-Error: "Too much distance between Transponder and Reader antenna"
          if (k > 0 && !this.field.has(tag.uid)) return { status: FeigStatus.WRITE_ERROR, data: [first + k] };
          await sleep(tag.latencyMs);
          const block = Buffer.from(d.subarray(at + 3 + k * size, at + 3 + (k + 1) * size)).reverse();
          try { tag.writeBlock(first + k, block); } catch (e) { return fault(e, first + k); }
        }
        return { status: FeigStatus.OK };
      }
      case IsoCmd.WRITE_AFI: {
        if (d.length < at + 1) return { status: FeigStatus.LENGTH_ERROR };
        await sleep(tag.latencyMs);
        try { tag.writeAfi(d[at]!); } catch (e) { return fault(e); }
        return { status: FeigStatus.OK };
      }
      default:
        return { status: FeigStatus.COMMAND_NOT_AVAILABLE };
    }
  }

  /** [0xB1] MFR REQUEST-DATA: only the NXP ICODE EAS commands (H60301-3e 8.3). */
  private async custom(d: Buffer): Promise<Reply> {
    if (d.length < 3) return { status: FeigStatus.LENGTH_ERROR };
    const target = await this.target(d.subarray(1), 2);
    if ('status' in target) return target;
    const { tag } = target;
    // ISO 15693 custom commands carry the IC manufacturer code: a tag of another maker stays silent.
    if (d[0] !== MFR_NXP || !isNxp(tag.uid)) return { status: FeigStatus.NO_TRANSPONDER };
    await sleep(tag.latencyMs);
    switch (d[1]) {
      case NxpCmd.SET_EAS:
      case NxpCmd.RESET_EAS:
        try { tag.setEas(d[1] === NxpCmd.SET_EAS); } catch (e) { return fault(e); }
        return { status: FeigStatus.OK };
      case NxpCmd.EAS_ALARM:
        // H60301-3e 8.3.4: EAS bit 1 → STATUS 0x00; EAS bit 0 → the tag stays silent → 0x01
        if (!tag.supportsEas) return { status: FeigStatus.ISO_ERROR, data: [IsoError.NOT_SUPPORTED] };
        return { status: tag.eas ? FeigStatus.OK : FeigStatus.NO_TRANSPONDER };
      default:
        return { status: FeigStatus.ISO_ERROR, data: [IsoError.NOT_SUPPORTED] };
    }
  }

  /** The tag a request addresses: MODE at d[1], then the 8-byte UID (MSB first) in addressed mode. */
  private async target(d: Buffer, uidAt: number): Promise<{ tag: SimTag; at: number } | Reply> {
    const adr = d[1]! & 0x07;
    if (adr === FeigMode.ADDRESSED) {
      if (d.length < uidAt + 8) return { status: FeigStatus.LENGTH_ERROR };
      const tag = this.field.answering(d.subarray(uidAt, uidAt + 8).toString('hex').toUpperCase());
      return tag ? { tag, at: uidAt + 8 } : { status: FeigStatus.NO_TRANSPONDER };
    }
    if (adr !== 0) return { status: FeigStatus.NO_TRANSPONDER }; // selected mode: this reader never selects a tag
    // Non-addressed: only one tag may answer (H60301-3e: "Only one Transponder can be read in the non-addressed mode").
    const present = this.field.tags().filter((t) => this.field.answering(t.uid));
    if (present.length === 0) return { status: FeigStatus.NO_TRANSPONDER };
    if (present.length > 1) return { status: FeigStatus.DATA_FALSE }; // the answers collide and fail their CRC
    return { tag: present[0]!, at: uidAt };
  }

  /** [0x01] Inventory: MODE [ANT_SEL] → DATA-SETS (TR-TYPE DSFID UID) or, with ANT, FLAGS … antenna records. */
  private async inventory(d: Buffer): Promise<Reply> {
    const mode = d[1]!;
    const withAnt = (mode & FeigMode.ANT) !== 0;
    if (withAnt && d.length < 3) return { status: FeigStatus.LENGTH_ERROR };
    if (!(mode & FeigMode.MORE)) {
      const sel = withAnt ? d[2]! : 0xff;
      this.more = [];
      let latency = 0;
      for (let antenna = 1; antenna <= this.field.antennas && antenna <= 8; antenna++) {
        if (!(sel & (1 << (antenna - 1)))) continue;
        for (const uid of this.field.anticollision(antenna).uids) {
          const tag = this.field.tags(antenna).find((t) => t.uid === uid)!;
          latency = Math.max(latency, tag.latencyMs);
          this.more.push({ uid, dsfid: tag.dsfid, antenna });
        }
      }
      await sleep(latency);
    }
    if (this.more.length === 0) return { status: FeigStatus.NO_TRANSPONDER };
    const sets = this.more.splice(0, Math.max(1, this.opts.maxDataSets ?? 24));
    const out = [sets.length];
    for (const s of sets) {
      const uid = Buffer.from(s.uid, 'hex');
      // FLAGS 0x11 = UID record and antenna record present; ANT_CNT 1: ANT_NR ANT_STATUS RSSI reserved(4)
      if (withAnt) out.push(0x11, TR_TYPE_ISO15693, s.dsfid, 8, ...uid, 1, s.antenna, 0x00, 0x00, 0, 0, 0, 0);
      else out.push(TR_TYPE_ISO15693, s.dsfid, ...uid);
    }
    return { status: this.more.length > 0 ? FeigStatus.MORE_DATA : FeigStatus.OK, data: out };
  }
}

/** TagFault → STATUS 0x95 with the ISO/IEC 15693-3 error code (and DB-ADR-E for writes). */
function fault(e: unknown, block?: number): Reply {
  if (!(e instanceof TagFault)) throw e;
  const iso = e.code === 'LOCKED' ? IsoError.BLOCK_LOCKED
    : e.code === 'BLOCK_OUT_OF_RANGE' ? IsoError.BLOCK_NOT_AVAILABLE
      : e.code === 'NOT_SUPPORTED' ? IsoError.NOT_SUPPORTED : IsoError.UNKNOWN;
  return { status: FeigStatus.ISO_ERROR, data: block === undefined ? [iso] : [iso, block] };
}
