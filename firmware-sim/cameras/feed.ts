/**
 * Simulated IP cameras: a small HTTP server (node:http, loopback by default) that plays each camera
 * the way cheap IP cameras are usually read by a browser:
 *   GET /cameras                      the cameras, with their URLs (JSON)
 *   GET /cameras/<id>/snapshot.jpg    one frame (image/jpeg), drawn now
 *   GET /cameras/<id>/stream.mjpg     Motion JPEG: multipart/x-mixed-replace, a new frame every second,
 *                                     until the client goes away
 * A frame is synthetic: a grey gradient (its shade differs per camera), a bar that moves with time, the
 * time as HH:MM:SS in block digits and the camera's id as a row of blocks at the bottom, encoded by the
 * baseline encoder in jpeg.ts. CORS is open (Access-Control-Allow-Origin: *, Cross-Origin-Resource-Policy:
 * cross-origin) so the dashboard of any origin shows them in <img> and may also fetch() them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { encodeGreyJpeg } from './jpeg.js';
import { DEFAULT_SIM_CAMERA_PORT, SIM_CAMERA_ID, simCameraUrls } from './port.js';

export interface SimCamera { id: string; name: string }

export interface CameraFeedOptions {
  /** Default 127.0.0.1: the feed is for the demo on this machine. */
  host?: string;
  /** Default 8090 (port.ts); 0 picks a free one. */
  port?: number;
  /** The cameras; a function is asked on every request (a list that changes while the feed runs). */
  cameras?: SimCamera[] | (() => SimCamera[]);
  /** Also serve ids not in the list (any id SIM_CAMERA_ID accepts), named by their id. Default false. */
  anyId?: boolean;
  /** Between two frames of a stream; default 1000 ms. */
  frameIntervalMs?: number;
  /** The time frames show; default the system clock. */
  now?: () => Date;
  /** The time zone of the time drawn; default the process's. */
  timeZone?: string;
  width?: number;
  height?: number;
  /** JPEG quality 1..100, default 80. */
  quality?: number;
  log?: (line: string) => void;
}

export interface CameraFeed {
  readonly server: Server;
  readonly port: number;
  /** http://host:port */
  readonly url: string;
  /** Streams being served now. */
  streams(): number;
  close(): Promise<void>;
}

export const MJPEG_BOUNDARY = 'shelfsense-frame';
const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
  'Access-Control-Allow-Headers': '*',
  'Access-Control-Max-Age': '600',
  'Cross-Origin-Resource-Policy': 'cross-origin',
  'X-Content-Type-Options': 'nosniff',
};
const NO_STORE = { 'Cache-Control': 'no-store, no-cache, must-revalidate', Pragma: 'no-cache' };

/** 3×5 block glyphs, rows top to bottom, 3 bits each (MSB left). */
const GLYPHS: Record<string, number[]> = {
  0: [7, 5, 5, 5, 7], 1: [2, 6, 2, 2, 7], 2: [7, 1, 7, 4, 7], 3: [7, 1, 7, 1, 7], 4: [5, 5, 7, 1, 1],
  5: [7, 4, 7, 1, 7], 6: [7, 4, 7, 5, 7], 7: [7, 1, 1, 1, 1], 8: [7, 5, 7, 5, 7], 9: [7, 5, 7, 1, 7], ':': [0, 2, 0, 2, 0],
};

/** FNV-1a of the id: what makes one camera's frame look unlike another's. */
function hashOf(id: string): number {
  let h = 0x811c9dc5;
  for (const ch of Buffer.from(id, 'utf8')) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
  return h;
}

/** HH:MM:SS of `at` in a time zone (24 h). */
const formats = new Map<string, Intl.DateTimeFormat>();
function clockText(at: Date, timeZone?: string): string {
  let f = formats.get(timeZone ?? '');
  if (!f) formats.set(timeZone ?? '', (f = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZone })));
  const parts = f.formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '00';
  return `${get('hour')}:${get('minute')}:${get('second')}`;
}

/** One synthetic grey frame of a camera at a time (row-major, 8-bit). */
export function renderFrame(cameraId: string, at: Date, opts: { width?: number; height?: number; timeZone?: string } = {}): Uint8Array {
  const width = opts.width ?? 160, height = opts.height ?? 120;
  const px = new Uint8Array(width * height);
  const h = hashOf(cameraId), shade = h % 48, second = Math.floor(at.getTime() / 1000);
  // Background: left-to-right gradient, a little darker towards the bottom.
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) px[y * width + x] = 40 + shade + Math.round((x / width) * 140) - Math.round((y / height) * 24);
  const fill = (x0: number, y0: number, w: number, hgt: number, v: number) => {
    for (let y = Math.max(0, y0); y < Math.min(height, y0 + hgt); y++) for (let x = Math.max(0, x0); x < Math.min(width, x0 + w); x++) px[y * width + x] = v;
  };
  // A bar that moves 8 px a second, wrapping round: a frozen picture is seen at once.
  const bar = 10, travel = width + bar;
  fill(((second * 8) % travel) - bar, 0, bar, height, 230);
  // The time, 3 px per glyph block, on a dark plate.
  const text = clockText(at, opts.timeZone), scale = 3, advance = 4 * scale;
  fill(4, 4, text.length * advance + 2 * scale - scale, 5 * scale + 2 * scale, 16);
  [...text].forEach((ch, i) => GLYPHS[ch]?.forEach((bits, row) => {
    for (let col = 0; col < 3; col++) if (bits & (4 >> col)) fill(4 + scale + i * advance + col * scale, 4 + scale + row * scale, scale, scale, 240);
  }));
  // The camera's id as 16 blocks (bits of its hash) along the bottom.
  for (let b = 0; b < 16; b++) fill(4 + b * 9, height - 12, 8, 8, (h >>> b) & 1 ? 235 : 24);
  return px;
}

/** A camera list file as the server writes it (sim-cameras.json: [{id, name}]); entries that are not cameras are skipped. */
export function readSimCameras(file: string): SimCamera[] {
  if (!existsSync(file)) return [];
  try {
    const list = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (!Array.isArray(list)) return [];
    return list.filter((c): c is SimCamera => typeof c?.id === 'string' && SIM_CAMERA_ID.test(c.id))
      .map((c) => ({ id: c.id, name: typeof c.name === 'string' && c.name ? c.name : c.id }));
  } catch {
    return [];
  }
}

export async function startCameraFeed(opts: CameraFeedOptions = {}): Promise<CameraFeed> {
  const host = opts.host ?? '127.0.0.1';
  const now = opts.now ?? (() => new Date());
  const interval = opts.frameIntervalMs ?? 1000;
  const list = () => (typeof opts.cameras === 'function' ? opts.cameras() : opts.cameras ?? []);
  const live = new Set<{ timer: NodeJS.Timeout; res: ServerResponse }>();
  // One encoding per camera and second, shared by every snapshot and stream asking in that second.
  const cache = new Map<string, { second: number; jpeg: Buffer }>();
  let base = '';

  const frame = (id: string): Buffer => {
    const at = now(), second = Math.floor(at.getTime() / 1000), hit = cache.get(id);
    if (hit?.second === second) return hit.jpeg;
    const width = opts.width ?? 160, height = opts.height ?? 120;
    const jpeg = encodeGreyJpeg(renderFrame(id, at, { width, height, timeZone: opts.timeZone }), width, height,
      { quality: opts.quality ?? 80, comment: `Shelfsense simulated camera ${id} ${at.toISOString()}` });
    if (cache.size > 256) cache.clear();
    cache.set(id, { second, jpeg });
    return jpeg;
  };
  const cameraOf = (id: string): SimCamera | null => list().find((c) => c.id === id) ?? (opts.anyId && SIM_CAMERA_ID.test(id) ? { id, name: id } : null);
  const send = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { ...CORS, ...NO_STORE, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) }).end(text);
  };

  const stream = (req: IncomingMessage, res: ServerResponse, id: string) => {
    res.writeHead(200, { ...CORS, ...NO_STORE, 'Content-Type': `multipart/x-mixed-replace; boundary=${MJPEG_BOUNDARY}`, Connection: 'close' });
    req.socket.setNoDelay(true);
    let waiting = false;
    const push = () => {
      if (waiting || res.destroyed) return; // a slow client skips frames instead of queueing them
      const jpeg = frame(id);
      const head = `--${MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\nX-Timestamp: ${now().toISOString()}\r\n\r\n`;
      res.write(head);
      res.write(jpeg);
      if (!res.write('\r\n')) { waiting = true; res.once('drain', () => { waiting = false; }); }
    };
    const entry = { timer: setInterval(push, interval), res };
    live.add(entry);
    res.on('close', () => { clearInterval(entry.timer); live.delete(entry); });
    push();
  };

  const server = createServer((req, res) => {
    try {
      const method = req.method ?? 'GET';
      if (method === 'OPTIONS') return void res.writeHead(204, CORS).end();
      if (method !== 'GET' && method !== 'HEAD') return send(res.setHeader('Allow', 'GET, HEAD, OPTIONS'), 405, { error: 'METHOD_NOT_ALLOWED' });
      const path = new URL(req.url ?? '/', 'http://feed').pathname;
      if (path === '/cameras' || path === '/cameras/') {
        return send(res, 200, { cameras: list().map((c) => ({ id: c.id, name: c.name, ...simCameraUrls(c.id, base) })) });
      }
      const m = /^\/cameras\/([^/]+)\/(snapshot\.jpg|stream\.mjpg)$/.exec(path);
      let id: string | null = null;
      try { id = m ? decodeURIComponent(m[1]!) : null; } catch { /* a bad escape is no camera */ }
      const camera = id ? cameraOf(id) : null;
      if (!m || !camera) return send(res, 404, { error: m ? 'CAMERA_NOT_FOUND' : 'NOT_FOUND', path });
      if (m[2] === 'stream.mjpg') {
        if (method === 'HEAD') return void res.writeHead(200, { ...CORS, ...NO_STORE, 'Content-Type': `multipart/x-mixed-replace; boundary=${MJPEG_BOUNDARY}` }).end();
        return stream(req, res, camera.id);
      }
      const jpeg = frame(camera.id);
      res.writeHead(200, { ...CORS, ...NO_STORE, 'Content-Type': 'image/jpeg', 'Content-Length': jpeg.length });
      res.end(method === 'HEAD' ? undefined : jpeg);
    } catch (e) {
      opts.log?.(`cameras: ${req.url}: ${e instanceof Error ? e.stack : e}`);
      if (!res.headersSent) send(res, 500, { error: 'INTERNAL' }); else res.destroy();
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE'
      ? new Error(`camera feed: port ${opts.port ?? DEFAULT_SIM_CAMERA_PORT} on ${host} is already in use (set SHELFSENSE_SIM_CAMERA_PORT)`) : e));
    server.listen(opts.port ?? DEFAULT_SIM_CAMERA_PORT, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  base = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  opts.log?.(`cameras: ${list().length} simulated camera(s) on ${base}/cameras`);

  return {
    server, port, url: base,
    streams: () => live.size,
    close: () => new Promise<void>((resolve) => {
      for (const s of live) { clearInterval(s.timer); s.res.destroy(); }
      live.clear();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
