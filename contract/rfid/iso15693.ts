/**
 * ISO/IEC 15693-3 request and response frames as the air interface carries them, for the reader
 * protocols that pass raw tag frames through (metraTec REQ/WRQ). Both the gateway driver and the
 * simulated reader build and parse frames here, so both ends agree byte for byte.
 *
 * Frame layout (ISO/IEC 15693-3 §7.3): request = flags, command code, [IC manufacturer code for
 * custom commands], [UID, 8 bytes LSB first, when the address flag is set], parameters, CRC16;
 * response = flags (bit 0 = error), [error code] or data, CRC16.
 */
import { crc16Mcrf4xx } from './crc.js';

/** ISO/IEC 15693-3 §7.3.1 request flags (bits 1..4 when the inventory flag is clear). */
export const REQ_FLAG = { subcarrier2: 0x01, highDataRate: 0x02, inventory: 0x04, protocolExt: 0x08, select: 0x10, address: 0x20, option: 0x40 } as const;
/** Addressed, single subcarrier, high data rate: what every addressed command here uses. */
export const ADDRESSED = REQ_FLAG.address | REQ_FLAG.highDataRate;

/** ISO/IEC 15693-3 §10.3–10.4 command codes, and the NXP ICODE custom commands (manufacturer 0x04). */
export const ISO_CMD = {
  readSingleBlock: 0x20, writeSingleBlock: 0x21, lockBlock: 0x22, readMultipleBlocks: 0x23, writeMultipleBlocks: 0x24,
  writeAfi: 0x27, lockAfi: 0x28, writeDsfid: 0x29, lockDsfid: 0x2a, getSystemInfo: 0x2b,
  // NXP ICODE SLIX data sheet (SL2S2002) §9.4: SET EAS A2, RESET EAS A3, LOCK EAS A4, EAS ALARM A5
  nxpSetEas: 0xa2, nxpResetEas: 0xa3, nxpLockEas: 0xa4, nxpEasAlarm: 0xa5,
} as const;
/** ISO/IEC 7816-6 IC manufacturer code of NXP, sent after custom command codes. */
export const NXP_MANUFACTURER = 0x04;
/** ISO 15693 UIDs are E0, the IC manufacturer code, then the serial: NXP's custom commands (EAS) only reach NXP tags. */
export const isNxp = (uid: string) => /^E004/i.test(uid);

/** ISO/IEC 15693-3 §7.4.2 response error codes. */
export const ISO_ERROR = {
  notSupported: 0x01, notRecognized: 0x02, optionNotSupported: 0x03, unknown: 0x0f,
  blockNotAvailable: 0x10, blockAlreadyLocked: 0x11, blockLocked: 0x12, notProgrammed: 0x13, notLocked: 0x14,
} as const;

/** Commands that change tag memory: readers must wait the longer write response time for them. */
export const WRITE_COMMANDS: ReadonlySet<number> = new Set([0x21, 0x22, 0x24, 0x27, 0x28, 0x29, 0x2a, 0xa2, 0xa3, 0xa4]);

/** Custom and proprietary command codes (ISO/IEC 15693-3 §10.5): the IC manufacturer code follows the command. */
export const isCustomCommand = (cmd: number) => cmd >= 0xa0 && cmd <= 0xdf;

/**
 * CRC-16 of ISO/IEC 15693-3 §7.2 (annex C; CRC-16/X-25): polynomial 0x1021 reflected (0x8408),
 * preset 0xFFFF, ones' complement of the result (so CRC-16/MCRF4XX complemented), sent least
 * significant byte first.
 */
export function iso15693Crc(data: Uint8Array, start = 0, end = data.length): number {
  return ~crc16Mcrf4xx(data.subarray(start, end)) & 0xffff;
}

export function withIsoCrc(frame: Uint8Array): Buffer {
  const crc = iso15693Crc(frame);
  return Buffer.concat([frame, Buffer.from([crc & 0xff, crc >>> 8])]);
}

/** True when the last two bytes are the CRC of the bytes before them (LSB first). */
export function isoCrcOk(frame: Uint8Array): boolean {
  if (frame.length < 3) return false;
  const crc = iso15693Crc(frame, 0, frame.length - 2);
  return frame[frame.length - 2] === (crc & 0xff) && frame[frame.length - 1] === crc >>> 8;
}

/** UID as 16 hex digits MSB first (`E004…`) → the 8 bytes on air, LSB first (ISO/IEC 15693-3 §7.1). */
export function uidToWire(uid: string): Buffer {
  if (!/^[0-9A-Fa-f]{16}$/.test(uid)) throw new RangeError(`UID must be 16 hex digits, got ${uid}`);
  return Buffer.from(uid, 'hex').reverse();
}

export function uidFromWire(bytes: Uint8Array, offset = 0): string {
  return Buffer.from(bytes.subarray(offset, offset + 8)).reverse().toString('hex').toUpperCase();
}

/** An addressed request without CRC: flags, command, [NXP code], UID, parameters. */
export function addressedRequest(command: number, uid: string, params: Uint8Array = Buffer.alloc(0), flags: number = ADDRESSED): Buffer {
  const head = isCustomCommand(command) ? [flags, command, NXP_MANUFACTURER] : [flags, command];
  return Buffer.concat([Buffer.from(head), uidToWire(uid), params]);
}

export const readMultipleBlocksRequest = (uid: string, first: number, count: number) =>
  addressedRequest(ISO_CMD.readMultipleBlocks, uid, Buffer.from([first, count - 1])); // §10.4.5: number of blocks − 1
export const writeSingleBlockRequest = (uid: string, block: number, data: Uint8Array) =>
  addressedRequest(ISO_CMD.writeSingleBlock, uid, Buffer.concat([Buffer.from([block]), data]));
export const writeMultipleBlocksRequest = (uid: string, first: number, count: number, data: Uint8Array) =>
  addressedRequest(ISO_CMD.writeMultipleBlocks, uid, Buffer.concat([Buffer.from([first, count - 1]), data]));
export const writeAfiRequest = (uid: string, afi: number) => addressedRequest(ISO_CMD.writeAfi, uid, Buffer.from([afi]));
export const getSystemInfoRequest = (uid: string) => addressedRequest(ISO_CMD.getSystemInfo, uid);
export const easRequest = (uid: string, command: typeof ISO_CMD.nxpSetEas | typeof ISO_CMD.nxpResetEas | typeof ISO_CMD.nxpEasAlarm) => addressedRequest(command, uid);

export interface IsoRequest { flags: number; command: number; manufacturer: number | null; uid: string | null; params: Buffer }

/** Parses a request without its CRC; null when it is too short for the flags it carries. */
export function parseIsoRequest(frame: Uint8Array): IsoRequest | null {
  if (frame.length < 2) return null;
  const flags = frame[0]!, command = frame[1]!;
  let at = 2;
  let manufacturer: number | null = null;
  if (isCustomCommand(command)) { if (frame.length < 3) return null; manufacturer = frame[2]!; at = 3; }
  let uid: string | null = null;
  if (!(flags & REQ_FLAG.inventory) && flags & REQ_FLAG.address) {
    if (frame.length < at + 8) return null;
    uid = uidFromWire(frame, at);
    at += 8;
  }
  return { flags, command, manufacturer, uid, params: Buffer.from(frame.subarray(at)) };
}

export type IsoResponse = { ok: true; data: Buffer } | { ok: false; error: number };

/** Parses a response without its CRC (ISO/IEC 15693-3 §7.4: flags bit 0 set → one error code byte follows). */
export function parseIsoResponse(frame: Uint8Array): IsoResponse | null {
  if (frame.length < 1) return null;
  if (frame[0]! & 0x01) return frame.length >= 2 ? { ok: false, error: frame[1]! } : null;
  return { ok: true, data: Buffer.from(frame.subarray(1)) };
}

export const okResponse = (data: Uint8Array = Buffer.alloc(0)) => Buffer.concat([Buffer.from([0x00]), data]);
export const errorResponse = (code: number) => Buffer.from([0x01, code]);

export interface SystemInfo { uid: string; dsfid: number | null; afi: number | null; blockCount: number | null; blockSize: number | null; icReference: number | null }

/**
 * ISO/IEC 15693-3 §10.4.12 get system information response data (after the response flags):
 * info flags (bit 0 DSFID, 1 AFI, 2 memory size, 3 IC reference), UID, then the present fields;
 * memory size = number of blocks − 1, then block size in bytes − 1 (low 5 bits).
 */
export function parseSystemInfo(data: Uint8Array): SystemInfo | null {
  if (data.length < 9) return null;
  const info = data[0]!;
  const out: SystemInfo = { uid: uidFromWire(data, 1), dsfid: null, afi: null, blockCount: null, blockSize: null, icReference: null };
  let at = 9;
  const need = (n: number) => data.length >= at + n;
  if (info & 0x01) { if (!need(1)) return null; out.dsfid = data[at++]!; }
  if (info & 0x02) { if (!need(1)) return null; out.afi = data[at++]!; }
  if (info & 0x04) { if (!need(2)) return null; out.blockCount = data[at]! + 1; out.blockSize = (data[at + 1]! & 0x1f) + 1; at += 2; }
  if (info & 0x08) { if (!need(1)) return null; out.icReference = data[at++]!; }
  return out;
}

export function encodeSystemInfo(s: { uid: string; dsfid: number; afi: number; blockCount: number; blockSize: number; icReference?: number }): Buffer {
  const info = 0x07 | (s.icReference === undefined ? 0 : 0x08);
  const tail = [s.dsfid, s.afi, s.blockCount - 1, (s.blockSize - 1) & 0x1f, ...(s.icReference === undefined ? [] : [s.icReference])];
  return Buffer.concat([Buffer.from([info]), uidToWire(s.uid), Buffer.from(tail)]);
}
