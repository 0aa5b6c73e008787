const CR = 0x0d, LF = 0x0a;

export type Frame = { kind: 'message'; bytes: Buffer } | { kind: 'too_long'; bytes: number };

/**
 * Cuts a byte stream into SIP2 messages. SIP2 2.00 ends a message with CR; some terminals send CRLF,
 * which arrives as CR plus a stray LF before the next message, and some test tools send a bare LF, so
 * either byte ends a message and empty messages are skipped. Bytes arrive in any pieces, down to one at
 * a time. A message longer than `maxBytes` is dropped as it streams in (never buffered past the limit)
 * and reported once, at its end.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private dropped = 0;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    let start = 0;
    while (start <= chunk.length) {
      const end = nextTerminator(chunk, start);
      if (end === -1) {
        this.take(chunk.subarray(start));
        break;
      }
      this.take(chunk.subarray(start, end));
      const frame = this.cut();
      if (frame) frames.push(frame);
      start = end + 1;
    }
    return frames;
  }

  private take(piece: Buffer) {
    if (piece.length === 0) return;
    if (this.dropped > 0 || this.size + piece.length > this.maxBytes) {
      this.dropped += this.size + piece.length;
      this.parts = [];
      this.size = 0;
      return;
    }
    this.parts.push(piece);
    this.size += piece.length;
  }

  private cut(): Frame | null {
    if (this.dropped > 0) {
      const bytes = this.dropped;
      this.dropped = 0;
      return { kind: 'too_long', bytes };
    }
    if (this.size === 0) return null;
    const bytes = this.parts.length === 1 ? Buffer.from(this.parts[0]!) : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    return { kind: 'message', bytes };
  }
}

function nextTerminator(chunk: Buffer, from: number): number {
  const cr = chunk.indexOf(CR, from);
  const lf = chunk.indexOf(LF, from);
  if (cr === -1) return lf;
  if (lf === -1) return cr;
  return Math.min(cr, lf);
}
