import { Duplex } from 'node:stream';
import { SerialPortMock } from 'serialport';

/**
 * An in-process serial line: the host end is a real `SerialPortMock` (what a gateway driver opens),
 * the device end is a Duplex a simulated reader reads the host's bytes from and writes its replies
 * to. Bytes cross the line exactly as written, chunking included.
 */
export interface MockLine {
  host: SerialPortMock;
  device: Duplex;
  close(): Promise<void>;
}

export interface MockLineOptions {
  /**
   * Deliver bytes no faster than a real UART at the line's baud rate (8N1: 10 bits a byte), each
   * direction in order, instead of at once. Off by default (tests want speed).
   */
  wireTime?: boolean;
}

/** Delays each chunk by its time on the wire, after the chunks before it (one direction of a UART). */
function wire(baudRate: number, deliver: (chunk: Buffer) => void): (chunk: Buffer) => void {
  let freeAt = 0;
  return (chunk) => {
    const now = performance.now();
    freeAt = Math.max(freeAt, now) + (chunk.length * 10 * 1000) / baudRate;
    const wait = freeAt - now;
    if (wait >= 1) setTimeout(() => deliver(chunk), wait);
    else setImmediate(() => deliver(chunk));
  };
}

export async function openMockLine(path: string, baudRate = 38400, opts: MockLineOptions = {}): Promise<MockLine> {
  SerialPortMock.binding.createPort(path, { echo: false, record: false });
  const host = new SerialPortMock({ path, baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) => host.open((e) => (e ? reject(e) : resolve())));
  // @serialport/binding-mock's MockPortBinding (its typings do not resolve under NodeNext exports)
  const binding = host.port as unknown as { isOpen: boolean; emitData(data: Buffer): void; write(buffer: Buffer): Promise<void> };
  const toHost = (chunk: Buffer) => { if (binding.isOpen) binding.emitData(chunk); };
  const toDevice = (chunk: Buffer) => { if (!device.destroyed) device.push(chunk); };
  const upstream = opts.wireTime ? wire(baudRate, toHost) : toHost;
  const downstream = opts.wireTime ? wire(baudRate, toDevice) : toDevice;
  const device: Duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      upstream(Buffer.from(chunk));
      cb();
    },
  });
  const hostWrite = binding.write.bind(binding);
  binding.write = async (buffer: Buffer) => {
    await hostWrite(buffer);
    downstream(Buffer.from(buffer));
  };
  return {
    host,
    device,
    async close() {
      device.push(null);
      device.destroy();
      if (host.isOpen) await new Promise<void>((r) => host.close(() => r()));
    },
  };
}
