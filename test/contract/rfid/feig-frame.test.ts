import { describe, expect, it } from 'vitest';
import { encodeFeigFrame, FeigFrameDecoder, type FeigFrame } from '../../../contract/rfid/feig-frame.js';

// Expected bytes below were computed by hand (CRC-16/MCRF4XX, poly 0x8408 reflected, init 0xFFFF, LSB
// first — FEIG ISC host protocol, "Serial Data Format and Protocol Frames"), independently of the code
// under test. The 0x80/0x65 frames match the ones published in the MIT-licensed
// InlayTester.Drivers.FeigReader tests (Amarok79), a second, independent check of the framing.
const b = (...xs: number[]) => Buffer.from(xs);
const GET_SOFTWARE_VERSION = b(0x05, 0xff, 0x65, 0xe5, 0xcb);
const INVENTORY = b(0x07, 0xff, 0xb0, 0x01, 0x00, 0x1c, 0x56);
const ONE_TAG = b(0x11, 0x00, 0xb0, 0x00, 0x01, 0x03, 0x00, 0xe0, 0x04, 0x01, 0x50, 0x12, 0x34, 0x56, 0x78, 0xba, 0x40);
const NO_TAG = b(0x06, 0x00, 0xb0, 0x01, 0x5c, 0x63);

const summary = (f: FeigFrame) => ({ advanced: f.advanced, address: f.address, command: f.command, status: f.status, data: [...f.data] });

describe('FEIG frame encoding', () => {
  it('encodes standard frames: LEN COM-ADR CMD DATA CRC16 (LSB first)', () => {
    expect(encodeFeigFrame({ address: 0xff, command: 0x65 })).toEqual(GET_SOFTWARE_VERSION);
    expect(encodeFeigFrame({ address: 0x12, command: 0x80, data: b(0x07) })).toEqual(b(0x06, 0x12, 0x80, 0x07, 0xe5, 0x80));
    expect(encodeFeigFrame({ address: 0xff, command: 0xb0, data: b(0x01, 0x00) })).toEqual(INVENTORY);
    expect(encodeFeigFrame({ address: 0xff, command: 0xb0, data: b(0x01, 0x10, 0x02) })).toEqual(b(0x08, 0xff, 0xb0, 0x01, 0x10, 0x02, 0xb1, 0x51));
  });

  it('encodes reader replies with their STATUS byte', () => {
    expect(encodeFeigFrame({ address: 0x00, command: 0xb0, status: 0x01 })).toEqual(NO_TAG);
    expect(encodeFeigFrame({ address: 0x00, command: 0xb0, status: 0x00, data: ONE_TAG.subarray(4, 15) })).toEqual(ONE_TAG);
  });

  it('encodes advanced frames: STX, length MSB first over the whole frame', () => {
    expect(encodeFeigFrame({ address: 0x12, command: 0x80, data: b(0x07), advanced: true })).toEqual(b(0x02, 0x00, 0x08, 0x12, 0x80, 0x07, 0xa0, 0x2d));
    expect(encodeFeigFrame({ address: 0xff, command: 0x65, advanced: true })).toEqual(b(0x02, 0x00, 0x07, 0xff, 0x65, 0x6e, 0x61));
  });

  it('switches to the advanced frame when a frame would exceed 255 bytes', () => {
    const fits = encodeFeigFrame({ address: 0, command: 0xb0, status: 0, data: Buffer.alloc(249) });
    expect(fits.length).toBe(255);
    expect(fits[0]).toBe(255);
    const long = encodeFeigFrame({ address: 0, command: 0xb0, status: 0, data: Buffer.alloc(250) });
    expect(long.length).toBe(258);
    expect([...long.subarray(0, 6)]).toEqual([0x02, 0x01, 0x02, 0x00, 0xb0, 0x00]);
  });
});

describe('FEIG frame decoding', () => {
  it('decodes a known reply frame', () => {
    const d = new FeigFrameDecoder({ replies: true });
    const frames = d.push(ONE_TAG);
    expect(frames.map(summary)).toEqual([{ advanced: false, address: 0, command: 0xb0, status: 0, data: [...ONE_TAG.subarray(4, 15)] }]);
    expect(frames[0]!.length).toBe(17);
    expect(d.frames).toBe(1);
  });

  it('decodes host requests (no STATUS byte)', () => {
    const d = new FeigFrameDecoder({ replies: false });
    expect(d.push(Buffer.concat([GET_SOFTWARE_VERSION, INVENTORY])).map(summary)).toEqual([
      { advanced: false, address: 0xff, command: 0x65, status: -1, data: [] },
      { advanced: false, address: 0xff, command: 0xb0, status: -1, data: [0x01, 0x00] },
    ]);
  });

  it('reassembles frames fed byte by byte', () => {
    const d = new FeigFrameDecoder({ replies: true });
    const advanced = encodeFeigFrame({ address: 3, command: 0xb0, status: 0, data: Buffer.from(Array.from({ length: 400 }, (_, i) => i & 0xff)) });
    const stream = Buffer.concat([ONE_TAG, NO_TAG, advanced, ONE_TAG]);
    const got: FeigFrame[] = [];
    for (const byte of stream) got.push(...d.push(Buffer.from([byte])));
    expect(got.map((f) => f.length)).toEqual([17, 6, 408, 17]);
    expect(got[2]!.advanced).toBe(true);
    expect(got[2]!.data.length).toBe(400);
    expect(got[2]!.data[399]).toBe(399 & 0xff);
    expect(summary(got[3]!)).toEqual(summary(got[0]!));
    expect(d.pending).toBe(0);
    expect({ badCrc: d.badCrc, resyncs: d.resyncs }).toEqual({ badCrc: 0, resyncs: 0 });
  });

  it('keeps frames that span chunks intact after the next chunk arrives', () => {
    const d = new FeigFrameDecoder({ replies: true });
    const first = d.push(Buffer.concat([ONE_TAG, NO_TAG.subarray(0, 3)]));
    const second = d.push(Buffer.concat([NO_TAG.subarray(3), ONE_TAG.subarray(0, 10)]));
    const third = d.push(ONE_TAG.subarray(10));
    expect([first.length, second.length, third.length]).toEqual([1, 1, 1]);
    expect(summary(second[0]!)).toEqual({ advanced: false, address: 0, command: 0xb0, status: 1, data: [] });
    expect(summary(third[0]!)).toEqual(summary(first[0]!));
  });

  it('drops garbage before and between frames and counts one resync per run', () => {
    const d = new FeigFrameDecoder({ replies: true });
    const frames = d.push(Buffer.concat([b(0x00, 0x01, 0x03, 0x04), ONE_TAG, b(0x05, 0x00), NO_TAG]));
    expect(frames.map((f) => f.status)).toEqual([0x00, 0x01]);
    expect({ resyncs: d.resyncs, droppedBytes: d.droppedBytes, badCrc: d.badCrc }).toEqual({ resyncs: 2, droppedBytes: 6, badCrc: 0 });
  });

  it('counts and skips a frame with a bad CRC', () => {
    const bad = Buffer.from(ONE_TAG);
    bad[bad.length - 1]! ^= 0xff;
    const d = new FeigFrameDecoder({ replies: true, plausible: (_adr, cmd) => cmd === 0xb0 });
    const frames = d.push(Buffer.concat([bad, NO_TAG]));
    expect(frames.map(summary)).toEqual([{ advanced: false, address: 0, command: 0xb0, status: 1, data: [] }]);
    expect(d.badCrc).toBe(1);
    expect(d.resyncs).toBe(1);
    expect(d.droppedBytes).toBe(17);
  });

  it('does not stall on a stray length byte when a plausibility check is given', () => {
    // 0xAA claims a 170-byte frame; its "COM-ADR CMD" (0x11 0x00) are no B0 reply, so it is garbage at once.
    const d = new FeigFrameDecoder({ replies: true, plausible: (_adr, cmd) => cmd === 0xb0 });
    expect(d.push(Buffer.concat([b(0xaa), ONE_TAG])).length).toBe(1);
    expect(d.resyncs).toBe(1);
  });

  it('gives up a stalled partial frame when the line goes quiet', () => {
    const d = new FeigFrameDecoder({ replies: true });
    expect(d.push(Buffer.concat([b(0xaa), ONE_TAG])).length).toBe(0); // waits for 170 bytes
    expect(d.pending).toBe(18);
    expect(d.flushStalled().map(summary)).toEqual([summary(new FeigFrameDecoder({ replies: true }).push(ONE_TAG)[0]!)]);
    expect(d.pending).toBe(0);
    expect(d.droppedBytes).toBe(1);
  });

  it('decodes an advanced frame and rejects one with a bad CRC', () => {
    const data = Buffer.alloc(300, 0x5a);
    const frame = encodeFeigFrame({ address: 7, command: 0xb0, status: 0, data });
    expect([...frame.subarray(0, 3)]).toEqual([0x02, 0x01, 0x34]); // 308 bytes, MSB first
    const d = new FeigFrameDecoder({ replies: true });
    const [f] = d.push(frame);
    expect(f && { advanced: f.advanced, address: f.address, status: f.status, length: f.length }).toEqual({ advanced: true, address: 7, status: 0, length: 308 });
    expect(f!.data.equals(data)).toBe(true);
    const broken = Buffer.from(frame);
    broken[100]! ^= 0x01;
    const d2 = new FeigFrameDecoder({ replies: true, plausible: () => false });
    expect(d2.push(Buffer.concat([broken, NO_TAG])).map((x) => x.status)).toEqual([0x01]);
    expect(d2.badCrc).toBe(1);
  });

  it('reset drops a held partial frame and counts it', () => {
    const d = new FeigFrameDecoder({ replies: true });
    d.push(ONE_TAG.subarray(0, 9));
    expect(d.reset()).toBe(9);
    expect(d.push(ONE_TAG).length).toBe(1);
    expect({ resyncs: d.resyncs, droppedBytes: d.droppedBytes }).toEqual({ resyncs: 1, droppedBytes: 9 });
  });
});
