// SIP2 2.00 error detection: a message may end in `AY<sequence digit>AZ<checksum>`, where the checksum
// is the two's complement of the 16-bit sum of every byte up to and including `AZ`, sent as four
// uppercase hexadecimal digits.

const A = 0x41, Y = 0x59, Z = 0x5a;

/** The checksum of `bytes` as four uppercase hex digits (`941AY0AZ` → `FDFD`). */
export function checksum(bytes: Uint8Array): string {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum += bytes[i]!;
  return ((-sum) & 0xffff).toString(16).toUpperCase().padStart(4, '0');
}

export interface Trailer {
  /** Where the message body ends (the index of `AY`, or of `AZ` when there is no sequence number). */
  bodyEnd: number;
  /** The sequence digit, when the message carries `AY`. */
  sequence: string | null;
  /** The checksum as sent. */
  checksum: string;
  /** Whether the sent checksum matches the bytes. */
  valid: boolean;
}

const isHex = (b: number) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;

/**
 * Finds an error-detection trailer at the end of a message. `AY<digit>AZxxxx` is always a trailer;
 * a bare `AZxxxx` only when it follows the field delimiter or ends the fixed part at `fixedEnd`
 * (as in `97AZFEF5`), so that a field value ending in "AZ" plus four hex digits is not mistaken for one.
 */
export function findTrailer(line: Uint8Array, delimiter: number, fixedEnd: number | null): Trailer | null {
  const n = line.length;
  if (n < 6) return null;
  const az = n - 6;
  if (line[az] !== A || line[az + 1] !== Z) return null;
  for (let i = az + 2; i < n; i++) if (!isHex(line[i]!)) return null;
  let bodyEnd = az;
  let sequence: string | null = null;
  if (az >= 3 && line[az - 3] === A && line[az - 2] === Y && isDigit(line[az - 1]!)) {
    bodyEnd = az - 3;
    sequence = String.fromCharCode(line[az - 1]!);
  } else if (!(az > 0 && line[az - 1] === delimiter) && az !== fixedEnd) {
    return null;
  }
  const sent = String.fromCharCode(...line.subarray(az + 2, n)).toUpperCase();
  return { bodyEnd, sequence, checksum: sent, valid: checksum(line.subarray(0, az + 2)) === sent };
}
