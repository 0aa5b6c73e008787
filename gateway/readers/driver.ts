import type { Duplex } from 'node:stream';

/**
 * What every reader protocol driver offers the gateway. A driver owns one byte stream (a
 * `serialport` SerialPort, `SerialPortMock`, or any Duplex) and speaks one host protocol over it.
 * UIDs are ISO 15693 UIDs as 16 uppercase hex digits, most significant byte first (`E004…`).
 * Every method rejects with a ReaderError whose code says what went wrong.
 */
export interface RfidDriver {
  readonly protocol: 'feig' | 'metratec';
  /** Tags currently in the field of one antenna (1-based). Several tags are resolved as the reader's anticollision does. */
  inventory(antenna: number): Promise<InventoriedTag[]>;
  /** ISO 15693 get system information: AFI, DSFID, memory size. */
  systemInfo(uid: string): Promise<TagSystemInfo>;
  readBlocks(uid: string, firstBlock: number, count: number): Promise<Buffer>;
  writeBlocks(uid: string, firstBlock: number, data: Buffer, blockSize: number): Promise<void>;
  writeAfi(uid: string, afi: number): Promise<void>;
  /** NXP ICODE EAS: null when the tag or reader does not support it. */
  readEas(uid: string): Promise<boolean | null>;
  setEas(uid: string, on: boolean): Promise<void>;
  /**
   * The security state in one go, in as few commands as the line allows: EAS alarm first, then the
   * system information (AFI), which also tells a silent EAS-off tag from an absent one (NO_TAG).
   */
  readSecurity(uid: string): Promise<{ info: TagSystemInfo; eas: boolean | null }>;
  /** Resynchronisation and error counters since the driver was created. */
  readonly counters: DriverCounters;
  close(): Promise<void>;
}

export interface InventoriedTag { uid: string; antenna: number; dsfid?: number }
export interface TagSystemInfo { uid: string; afi: number | null; dsfid: number | null; blockSize: number; blockCount: number; icReference?: number }
export interface DriverCounters { frames: number; badCrc: number; resyncs: number; timeouts: number }

export type ReaderErrorCode = 'NO_TAG' | 'TAG_GONE' | 'TIMEOUT' | 'TAG_LOCKED' | 'TAG_ERROR' | 'NOT_SUPPORTED' | 'READER_ERROR' | 'CLOSED';

export class ReaderError extends Error {
  constructor(readonly code: ReaderErrorCode, message: string) {
    super(message);
    this.name = 'ReaderError';
  }
}

/** How a driver gets its stream: the gateway passes an open SerialPort, tests a SerialPortMock or a PassThrough pair. */
export type ReaderStream = Duplex;
