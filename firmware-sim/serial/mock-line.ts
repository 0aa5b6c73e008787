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

export async function openMockLine(path: string, baudRate = 38400): Promise<MockLine> {
  SerialPortMock.binding.createPort(path, { echo: false, record: false });
  const host = new SerialPortMock({ path, baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) => host.open((e) => (e ? reject(e) : resolve())));
  // @serialport/binding-mock's MockPortBinding (its typings do not resolve under NodeNext exports)
  const binding = host.port as unknown as { isOpen: boolean; emitData(data: Buffer): void; write(buffer: Buffer): Promise<void> };
  const device = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      if (binding.isOpen) binding.emitData(Buffer.from(chunk));
      cb();
    },
  });
  const hostWrite = binding.write.bind(binding);
  binding.write = async (buffer: Buffer) => {
    await hostWrite(buffer);
    device.push(Buffer.from(buffer));
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
