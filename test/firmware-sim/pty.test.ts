import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterEach, describe, expect, it } from 'vitest';
import { openPtyPair, type PtyPair } from '../../firmware-sim/serial/pty.js';

const open = (path: string) => new Promise<SerialPort>((resolve, reject) => {
  const p = new SerialPort({ path, baudRate: 38400, autoOpen: false });
  p.open((e) => (e ? reject(e) : resolve(p)));
});
const close = (p: SerialPort) => new Promise<void>((r) => (p.isOpen ? p.close(() => r()) : r()));

describe('pty pair (socat)', () => {
  let pair: PtyPair | null = null;
  const ports: SerialPort[] = [];
  afterEach(async () => { for (const p of ports.splice(0)) await close(p); await pair?.close(); pair = null; });

  it('joins two serial device paths so bytes cross unchanged, binary included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shelfsense-pty-'));
    pair = await openPtyPair(join(dir, 'ttyReader'), join(dir, 'ttyReader.sim'));
    const host = await open(pair.hostPath);
    const device = await open(pair.devicePath);
    ports.push(host, device);
    const frame = Buffer.from([0x07, 0xff, 0xb0, 0x01, 0x00, 0x0d, 0x0a]);
    const got: Buffer[] = [];
    const arrived = new Promise<void>((resolve) => device.on('data', (d: Buffer) => { got.push(d); if (Buffer.concat(got).length >= frame.length) resolve(); }));
    host.write(frame);
    await arrived;
    expect([...Buffer.concat(got)]).toEqual([...frame]);
  });
});
