/**
 * A simulated ISO 15693 tag (NXP ICODE SLIX-like): UID, memory blocks, AFI, DSFID, EAS and lock bits.
 * Reader simulators (FEIG, metraTec) operate on these through a ReaderField; the tag itself knows
 * nothing about protocols.
 */
export interface SimTagOptions {
  /** 16 hex digits, MSB first (E0 = ISO 15693, 04 = NXP). */
  uid: string;
  blockSize?: number;
  blockCount?: number;
  /** Initial memory; shorter buffers are zero-padded. */
  memory?: Buffer;
  afi?: number;
  dsfid?: number;
  /** Whether the tag implements the NXP EAS custom commands. */
  supportsEas?: boolean;
  eas?: boolean;
  /** Milliseconds the tag takes to answer one command (per block for writes). */
  latencyMs?: number;
  /** Probability (0..1) that the tag does not answer one command. */
  failureRate?: number;
}

export class SimTag {
  readonly uid: string;
  readonly blockSize: number;
  readonly blockCount: number;
  readonly memory: Buffer;
  afi: number;
  dsfid: number;
  readonly supportsEas: boolean;
  eas: boolean;
  afiLocked = false;
  dsfidLocked = false;
  readonly lockedBlocks = new Set<number>();
  latencyMs: number;
  failureRate: number;
  /** Called as a write reaches the tag (block, AFI or EAS), before it is applied; scenarios use it to pull the tag away mid-write. */
  onWrite: ((what: 'block' | 'afi' | 'eas') => void) | null = null;

  constructor(o: SimTagOptions) {
    if (!/^[0-9A-F]{16}$/.test(o.uid)) throw new Error(`tag UID must be 16 uppercase hex digits, got ${o.uid}`);
    this.uid = o.uid;
    this.blockSize = o.blockSize ?? 4;
    this.blockCount = o.blockCount ?? 28;
    this.memory = Buffer.alloc(this.blockSize * this.blockCount);
    o.memory?.copy(this.memory, 0, 0, Math.min(o.memory.length, this.memory.length));
    this.afi = o.afi ?? 0;
    this.dsfid = o.dsfid ?? 0;
    this.supportsEas = o.supportsEas ?? true;
    this.eas = o.eas ?? false;
    this.latencyMs = o.latencyMs ?? 0;
    this.failureRate = o.failureRate ?? 0;
  }

  /** UID bytes as they travel over the air: least significant byte first. */
  uidLsbFirst(): Buffer { return Buffer.from(this.uid, 'hex').reverse(); }

  readBlock(n: number): Buffer {
    if (n < 0 || n >= this.blockCount) throw new TagFault('BLOCK_OUT_OF_RANGE', `block ${n} outside 0..${this.blockCount - 1}`);
    return Buffer.from(this.memory.subarray(n * this.blockSize, (n + 1) * this.blockSize));
  }

  writeBlock(n: number, data: Buffer): void {
    if (n < 0 || n >= this.blockCount) throw new TagFault('BLOCK_OUT_OF_RANGE', `block ${n} outside 0..${this.blockCount - 1}`);
    if (data.length !== this.blockSize) throw new TagFault('BAD_LENGTH', `block data must be ${this.blockSize} bytes`);
    if (this.lockedBlocks.has(n)) throw new TagFault('LOCKED', `block ${n} is locked`);
    this.onWrite?.('block');
    data.copy(this.memory, n * this.blockSize);
  }

  writeAfi(afi: number): void {
    if (this.afiLocked) throw new TagFault('LOCKED', 'AFI is locked');
    this.onWrite?.('afi');
    this.afi = afi & 0xff;
  }

  setEas(on: boolean): void {
    if (!this.supportsEas) throw new TagFault('NOT_SUPPORTED', 'tag has no EAS');
    this.onWrite?.('eas');
    this.eas = on;
  }
}

/** Why a tag refused a command; simulators map these to their protocol's error replies (ISO 15693 error codes 0x0F/0x10/0x12/0x13). */
export class TagFault extends Error {
  constructor(readonly code: 'BLOCK_OUT_OF_RANGE' | 'BAD_LENGTH' | 'LOCKED' | 'NOT_SUPPORTED', message: string) {
    super(message);
    this.name = 'TagFault';
  }
}
