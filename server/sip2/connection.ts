import type { Duplex } from 'node:stream';
import type { Sip2Deps } from './exchange.js';
import { LineSplitter } from './framing.js';
import { Sip2Session, type Reply, type Sip2Stats } from './session.js';

/** Messages read ahead of the one being handled before the connection stops reading. */
const MAX_QUEUED = 32;

export interface ConnectionOptions {
  maxLineBytes: number;
  log: (line: string) => void;
}

/**
 * Serves SIP2 on any Duplex (a TCP or TLS socket, or an in-memory pair): splits the bytes into
 * messages, answers them one at a time in order, and stops reading while the SC does not read its
 * answers or has too many messages queued, so one greedy client cannot make the server buffer without
 * bound. Errors of the stream end this connection only.
 */
export function serveSip2(stream: Duplex, deps: Sip2Deps, stats: Sip2Stats, opts: ConnectionOptions): Sip2Session {
  const session = new Sip2Session(deps, stats, opts.log);
  const splitter = new LineSplitter(opts.maxLineBytes);
  const queue: (Buffer | number)[] = [];
  let busy = false;
  let closing = false;

  const flow = () => {
    const full = queue.length >= MAX_QUEUED || stream.writableNeedDrain;
    if (full && !stream.isPaused()) stream.pause();
    else if (!full && stream.isPaused() && !closing) stream.resume();
  };

  const send = (reply: Reply) => {
    if (closing || stream.destroyed) return;
    stream.write(reply.bytes);
    if (reply.close) {
      closing = true;
      stream.end();
    }
  };

  const drain = async () => {
    busy = true;
    while (queue.length > 0 && !closing && !stream.destroyed) {
      const next = queue.shift()!;
      try {
        send(typeof next === 'number' ? session.tooLong(next) : await session.handle(next));
      } catch (e) {
        stats.internalErrors++;
        opts.log(`sip2: connection error: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
        closing = true;
        stream.destroy();
      }
      flow();
    }
    busy = false;
  };

  stream.on('data', (chunk: Buffer) => {
    if (closing) return;
    for (const frame of splitter.push(chunk)) queue.push(frame.bytes);
    flow();
    if (!busy && queue.length > 0) void drain();
  });
  stream.on('drain', flow);
  stream.on('error', () => stream.destroy()); // a reset or broken pipe ends this connection only
  return session;
}
