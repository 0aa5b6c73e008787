import { afterEach, describe, expect, it } from 'vitest';
import { openMockLine, type MockLine } from '../../firmware-sim/serial/mock-line.js';

describe('in-process serial line', () => {
  let line: MockLine | null = null;
  afterEach(async () => { await line?.close(); line = null; });

  it('carries host bytes to the device and the device reply back to the host', async () => {
    line = await openMockLine('/dev/ttyMOCK-line-1');
    const atDevice = new Promise<Buffer>((r) => line!.device.once('data', r));
    line.host.write(Buffer.from([0x06, 0xff, 0x65, 0x6f, 0xe4]));
    expect([...(await atDevice)]).toEqual([0x06, 0xff, 0x65, 0x6f, 0xe4]);
    const atHost = new Promise<Buffer>((r) => line!.host.once('data', r));
    line.device.write(Buffer.from('IVF 00\r'));
    expect((await atHost).toString()).toBe('IVF 00\r');
  });
});
