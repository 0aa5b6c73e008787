import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MJPEG_BOUNDARY, readSimCameras, renderFrame, startCameraFeed, type CameraFeed } from '../../firmware-sim/cameras/feed.js';
import { encodeGreyJpeg } from '../../firmware-sim/cameras/jpeg.js';
import { DEFAULT_SIM_CAMERA_PORT, simCameraPort, simCameraUrls } from '../../firmware-sim/cameras/port.js';

let feed: CameraFeed | undefined;
afterEach(async () => { await feed?.close(); feed = undefined; });

// --- A baseline JPEG reader written from T.81 for these tests, independent of the encoder's code. ---
interface Segment { marker: number; body: Buffer }
interface Parsed { segments: Segment[]; width: number; height: number; scan: Buffer; quant: number[]; dc: Map<string, number>; ac: Map<string, number> }
const ZZ = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
  35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63];

/** Walks the markers: SOI, length-prefixed segments up to SOS, the entropy-coded data (0xFF always stuffed), EOI at the very end. */
function parseJpeg(buf: Buffer): Parsed {
  expect([buf[0], buf[1]]).toEqual([0xff, 0xd8]);
  const segments: Segment[] = [];
  let i = 2;
  for (;;) {
    expect(buf[i], `marker at ${i}`).toBe(0xff);
    const marker = buf[i + 1]!, length = buf.readUInt16BE(i + 2);
    expect(length).toBeGreaterThanOrEqual(2);
    segments.push({ marker, body: buf.subarray(i + 4, i + 2 + length) });
    i += 2 + length;
    if (marker === 0xda) break;
    expect(i).toBeLessThan(buf.length);
  }
  const scanStart = i;
  for (; i < buf.length - 1; i++) {
    if (buf[i] !== 0xff) continue;
    if (buf[i + 1] === 0x00) { i++; continue; }
    break;
  }
  expect(i, 'the scan ends at EOI, the last two bytes').toBe(buf.length - 2);
  expect([buf[i], buf[i + 1]]).toEqual([0xff, 0xd9]);
  const scan = buf.subarray(scanStart, i);

  const of = (m: number) => segments.filter((s) => s.marker === m);
  const app0 = of(0xe0)[0]!.body;
  expect(app0.subarray(0, 5).toString('latin1')).toBe('JFIF\0');
  const [dqt] = of(0xdb);
  expect(dqt!.body.length).toBe(65);
  expect(dqt!.body[0]).toBe(0x00); // 8-bit, table 0
  const quant = new Array<number>(64);
  for (let k = 0; k < 64; k++) quant[ZZ[k]!] = dqt!.body[1 + k]!;
  const sof = of(0xc0)[0]!.body;
  expect(sof[0]).toBe(8);
  expect([...sof.subarray(5)]).toEqual([1, 1, 0x11, 0]); // one component: id 1, 1×1 sampling, quant table 0
  const tables = new Map<number, Map<string, number>>();
  for (const s of of(0xc4)) {
    let p = 0;
    while (p < s.body.length) {
      const tc = s.body[p]!, counts = [...s.body.subarray(p + 1, p + 17)], n = counts.reduce((a, b) => a + b, 0);
      const values = s.body.subarray(p + 17, p + 17 + n);
      expect(values.length).toBe(n);
      const map = new Map<string, number>();
      let code = 0, k = 0;
      counts.forEach((count, len) => { for (let j = 0; j < count; j++) map.set(`${len + 1}:${code++}`, values[k++]!); code <<= 1; });
      tables.set(tc, map);
      p += 17 + n;
    }
  }
  expect([...of(0xda)[0]!.body]).toEqual([1, 1, 0x00, 0, 63, 0]);
  expect(segments.map((s) => s.marker).filter((m) => m !== 0xfe)).toEqual([0xe0, 0xdb, 0xc0, 0xc4, 0xda]);
  return { segments, width: sof.readUInt16BE(3), height: sof.readUInt16BE(1), scan, quant, dc: tables.get(0x00)!, ac: tables.get(0x10)! };
}

/** Decodes the scan (Huffman, DC prediction, dequantisation, inverse DCT): every block must be there and nothing after them but padding. */
function decodeGrey(buf: Buffer): { width: number; height: number; pixels: Uint8Array } {
  const { width, height, scan, quant, dc, ac } = parseJpeg(buf);
  const bytes: number[] = [];
  for (let i = 0; i < scan.length; i++) { bytes.push(scan[i]!); if (scan[i] === 0xff) i++; }
  let pos = 0;
  const bit = () => { if (pos >= bytes.length * 8) throw new Error('scan ran out'); const b = (bytes[pos >> 3]! >> (7 - (pos & 7))) & 1; pos++; return b; };
  const bits = (n: number) => { let v = 0; for (let i = 0; i < n; i++) v = (v << 1) | bit(); return v; };
  const symbol = (t: Map<string, number>) => { let code = 0; for (let len = 1; len <= 16; len++) { code = (code << 1) | bit(); const s = t.get(`${len}:${code}`); if (s !== undefined) return s; } throw new Error('bad Huffman code'); };
  const extend = (v: number, t: number) => (t && v < 1 << (t - 1) ? v - (1 << t) + 1 : v);
  const pixels = new Uint8Array(width * height);
  const cos = Array.from({ length: 64 }, (_, i) => (i >> 3 ? 1 : Math.SQRT1_2) * Math.cos(((2 * (i & 7) + 1) * (i >> 3) * Math.PI) / 16)); // C(u)·cos((2x+1)uπ/16) at u*8+x
  let pred = 0;
  for (let by = 0; by < Math.ceil(height / 8); by++) for (let bx = 0; bx < Math.ceil(width / 8); bx++) {
    const coef = new Array<number>(64).fill(0);
    const t = symbol(dc);
    pred += extend(bits(t), t);
    coef[0] = pred * quant[0]!;
    for (let k = 1; k < 64;) {
      const rs = symbol(ac), r = rs >> 4, s = rs & 15;
      if (rs === 0x00) break;
      if (rs === 0xf0) { k += 16; continue; }
      k += r;
      expect(k).toBeLessThan(64);
      coef[ZZ[k]!] = extend(bits(s), s) * quant[ZZ[k]!]!;
      k++;
    }
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) {
      let sum = 0;
      for (let v = 0; v < 8; v++) for (let u = 0; u < 8; u++) sum += cos[u * 8 + x]! * cos[v * 8 + y]! * coef[v * 8 + u]!;
      const X = bx * 8 + x, Y = by * 8 + y;
      if (X < width && Y < height) pixels[Y * width + X] = Math.max(0, Math.min(255, Math.round(sum / 4 + 128)));
    }
  }
  const rest = bytes.length * 8 - pos;
  expect(rest, 'only padding after the last block').toBeLessThan(8);
  expect(bits(rest)).toBe((1 << rest) - 1); // padded with 1-bits
  return { width, height, pixels };
}

const meanAbsError = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;
/** libjpeg's djpeg (Debian libjpeg-turbo-progs, installed by the test command): a second, independent decoder. */
const AT = new Date('2026-03-02T02:00:07Z');

describe('the JPEG encoder', () => {
  it('writes a baseline JFIF that decodes back to the frame it was given', () => {
    const frame = renderFrame('main-reading-camera', AT, { timeZone: 'Asia/Shanghai' });
    for (const quality of [50, 80, 95]) {
      const jpeg = encodeGreyJpeg(frame, 160, 120, { quality, comment: 'test' });
      const decoded = decodeGrey(jpeg);
      expect([decoded.width, decoded.height]).toEqual([160, 120]);
      expect(meanAbsError(decoded.pixels, frame), `quality ${quality}`).toBeLessThan(quality >= 95 ? 0.8 : quality >= 80 ? 2.5 : 4);
    }
  });

  it('takes sizes that are not multiples of 8, flat frames and extreme contrast', () => {
    const checker = Uint8Array.from({ length: 37 * 21 }, (_, i) => ((i % 37) + Math.floor(i / 37)) % 2 ? 255 : 0);
    expect(decodeGrey(encodeGreyJpeg(checker, 37, 21, { quality: 100 })).pixels.length).toBe(37 * 21);
    const flat = new Uint8Array(16 * 16).fill(128);
    expect(meanAbsError(decodeGrey(encodeGreyJpeg(flat, 16, 16)).pixels, flat)).toBe(0);
    expect(() => encodeGreyJpeg(flat, 10, 10)).toThrow(/expected 100 pixels/);
  });

  it('is read by libjpeg (djpeg) as the same picture', () => {
    if (spawnSync('djpeg', ['-version'], { stdio: 'ignore' }).error) throw new Error('djpeg is missing: apt-get install -y libjpeg-turbo-progs (npm test installs it when run as root)');
    const dir = mkdtempSync(join(tmpdir(), 'shelfsense-jpeg-'));
    try {
      const frame = renderFrame('main-stacks-camera', AT);
      writeFileSync(join(dir, 'f.jpg'), encodeGreyJpeg(frame, 160, 120, { quality: 90 }));
      const pgm = execFileSync('djpeg', ['-pnm', join(dir, 'f.jpg')]);
      const header = /^P5\s+(\d+)\s+(\d+)\s+255\s/.exec(pgm.subarray(0, 32).toString('latin1'))!;
      expect([header[1], header[2]]).toEqual(['160', '120']);
      expect(meanAbsError(pgm.subarray(header[0].length), frame)).toBeLessThan(1.5);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});

describe('synthetic frames', () => {
  it('differ from camera to camera and from second to second (the bar moves, the clock ticks)', () => {
    const a = renderFrame('cam-a', AT), b = renderFrame('cam-b', AT), later = renderFrame('cam-a', new Date(AT.getTime() + 1000));
    expect(meanAbsError(a, b)).toBeGreaterThan(1);
    expect(meanAbsError(a, later)).toBeGreaterThan(0.5);
    expect(renderFrame('cam-a', new Date(AT.getTime() + 400))).toEqual(a); // the same second: the same frame
  });
});

/** Reads a response's body until `enough` says so, then drops the connection. */
function readStream(url: string, enough: (data: Buffer) => boolean): Promise<{ headers: Record<string, string | string[] | undefined>; data: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = get(url, (res) => {
      let data = Buffer.alloc(0);
      res.on('data', (chunk: Buffer) => {
        data = Buffer.concat([data, chunk]);
        if (enough(data)) { req.destroy(); resolve({ headers: res.headers, data }); }
      });
      res.on('end', () => reject(new Error('the stream ended by itself')));
    });
    req.on('error', (e) => { if (!req.destroyed) reject(e); });
  });
}

/** The parts of a multipart/x-mixed-replace body so far (complete ones only). */
function parts(data: Buffer, boundary: string) {
  const out: { headers: Record<string, string>; body: Buffer }[] = [];
  let i = 0;
  for (;;) {
    const start = data.indexOf(`--${boundary}\r\n`, i);
    if (start < 0) return out;
    const headEnd = data.indexOf('\r\n\r\n', start);
    if (headEnd < 0) return out;
    const headers = Object.fromEntries(data.subarray(start + boundary.length + 4, headEnd).toString('latin1').split('\r\n')
      .map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const length = Number(headers['content-length']), bodyStart = headEnd + 4;
    if (data.length < bodyStart + length + 2) return out;
    out.push({ headers, body: data.subarray(bodyStart, bodyStart + length) });
    expect(data.subarray(bodyStart + length, bodyStart + length + 2).toString('latin1')).toBe('\r\n');
    i = bodyStart + length + 2;
  }
}

const until = async (cond: () => boolean, ms = 2000) => { const end = Date.now() + ms; while (!cond()) { if (Date.now() > end) throw new Error('timed out'); await new Promise((r) => setTimeout(r, 10)); } };

describe('the camera feed', () => {
  const cameras = [{ id: 'main-reading-camera', name: 'Reading room' }, { id: 'main-entrance-camera', name: 'Entrance' }];

  it('lists its cameras and serves a snapshot: a valid JPEG with CORS headers', async () => {
    feed = await startCameraFeed({ port: 0, cameras });
    expect(feed.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const list = await fetch(`${feed.url}/cameras`);
    expect(list.headers.get('access-control-allow-origin')).toBe('*');
    expect(await list.json()).toEqual({ cameras: cameras.map((c) => ({ ...c, ...simCameraUrls(c.id, feed!.url) })) });

    const res = await fetch(`${feed.url}/cameras/main-reading-camera/snapshot.jpg`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(res.headers.get('cache-control')).toContain('no-store');
    const jpeg = Buffer.from(await res.arrayBuffer());
    expect(Number(res.headers.get('content-length'))).toBe(jpeg.length);
    expect([...jpeg.subarray(0, 2)]).toEqual([0xff, 0xd8]);
    expect([...jpeg.subarray(-2)]).toEqual([0xff, 0xd9]);
    expect(decodeGrey(jpeg)).toMatchObject({ width: 160, height: 120 });

    const head = await fetch(`${feed.url}/cameras/main-reading-camera/snapshot.jpg`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-type')]).toEqual([200, 'image/jpeg']);
    const preflight = await fetch(`${feed.url}/cameras/main-reading-camera/snapshot.jpg`, { method: 'OPTIONS', headers: { Origin: 'http://127.0.0.1:8080', 'Access-Control-Request-Method': 'GET' } });
    expect([preflight.status, preflight.headers.get('access-control-allow-methods')]).toEqual([204, 'GET, HEAD, OPTIONS']);
    expect((await fetch(`${feed.url}/cameras/main-reading-camera/snapshot.jpg`, { method: 'POST' })).status).toBe(405);
  });

  it('answers 404 for a camera it does not play, unless told to play any id', async () => {
    feed = await startCameraFeed({ port: 0, cameras });
    expect(await (await fetch(`${feed.url}/cameras/nope/snapshot.jpg`)).json()).toEqual({ error: 'CAMERA_NOT_FOUND', path: '/cameras/nope/snapshot.jpg' });
    expect((await fetch(`${feed.url}/cameras/main-reading-camera/other.gif`)).status).toBe(404);
    expect((await fetch(`${feed.url}/cameras/%E0%A4%A/snapshot.jpg`)).status).toBe(404);
    await feed.close();
    feed = await startCameraFeed({ port: 0, anyId: true });
    expect((await fetch(`${feed.url}/cameras/added-later/snapshot.jpg`)).headers.get('content-type')).toBe('image/jpeg');
    expect((await fetch(`${feed.url}/cameras/..%2F..%2Fetc/snapshot.jpg`)).status).toBe(404);
  });

  it('streams Motion JPEG: a new frame every second, each part an image/jpeg, until the client goes away', async () => {
    feed = await startCameraFeed({ port: 0, cameras });
    const t0 = Date.now();
    const { headers, data } = await readStream(`${feed.url}/cameras/main-entrance-camera/stream.mjpg`, (d) => parts(d, MJPEG_BOUNDARY).length >= 2);
    const elapsed = Date.now() - t0;
    expect(headers['content-type']).toBe(`multipart/x-mixed-replace; boundary=${MJPEG_BOUNDARY}`);
    expect(headers['access-control-allow-origin']).toBe('*');
    const [first, second] = parts(data, MJPEG_BOUNDARY);
    for (const p of [first!, second!]) {
      expect(p.headers['content-type']).toBe('image/jpeg');
      expect([...p.body.subarray(0, 2), ...p.body.subarray(-2)]).toEqual([0xff, 0xd8, 0xff, 0xd9]);
      expect(decodeGrey(p.body)).toMatchObject({ width: 160, height: 120 });
    }
    expect(first!.body.equals(second!.body)).toBe(false); // a second later: another frame
    expect(elapsed).toBeGreaterThanOrEqual(900);
    await until(() => feed!.streams() === 0); // the client left: the stream stopped
  });

  it('ends its streams when it closes', async () => {
    feed = await startCameraFeed({ port: 0, cameras, frameIntervalMs: 50 });
    const ended = new Promise<void>((resolve) => {
      request(`${feed!.url}/cameras/main-reading-camera/stream.mjpg`, (res) => { res.resume(); res.on('close', () => resolve()); }).end();
    });
    await until(() => feed!.streams() === 1);
    await feed.close();
    feed = undefined;
    await ended;
  });
});

describe('configuration', () => {
  it('reads the port from SHELFSENSE_SIM_CAMERA_PORT, 8090 by default, and the camera list the server writes', () => {
    expect(simCameraPort({})).toBe(DEFAULT_SIM_CAMERA_PORT);
    expect(DEFAULT_SIM_CAMERA_PORT).toBe(8090);
    expect(simCameraPort({ SHELFSENSE_SIM_CAMERA_PORT: '9123' })).toBe(9123);
    expect(() => simCameraPort({ SHELFSENSE_SIM_CAMERA_PORT: 'eighty' })).toThrow(/SHELFSENSE_SIM_CAMERA_PORT/);
    expect(simCameraUrls('main-reading-camera')).toEqual({
      snapshotUrl: 'http://127.0.0.1:8090/cameras/main-reading-camera/snapshot.jpg', mjpegUrl: 'http://127.0.0.1:8090/cameras/main-reading-camera/stream.mjpg',
    });
    const dir = mkdtempSync(join(tmpdir(), 'shelfsense-cams-'));
    try {
      const file = join(dir, 'sim-cameras.json');
      expect(readSimCameras(file)).toEqual([]);
      writeFileSync(file, JSON.stringify([{ id: 'a', name: 'A' }, { id: '../x' }, { id: 'b' }, 7]));
      expect(readSimCameras(file)).toEqual([{ id: 'a', name: 'A' }, { id: 'b', name: 'b' }]);
      writeFileSync(file, '{oops');
      expect(readSimCameras(file)).toEqual([]);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});
