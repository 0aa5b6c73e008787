// kiosk: self-check through the whole RFID chain, and the gateway's frame decoding per reader stream.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ReaderConfig } from '../../contract/mqtt.js';
import { encodeFeigFrame, FeigFrameDecoder, FeigStatus } from '../../contract/rfid/feig-frame.js';
import { END_OF_FRAME, MetratecLineDecoder } from '../../contract/rfid/metratec-protocol.js';
import { ReaderField } from '../../firmware-sim/rfid/field.js';
import { SIMULATORS } from '../../firmware-sim/rfid/protocols.js';
import { TagPopulation } from '../../firmware-sim/rfid/population.js';
import { openMockLine, type MockLine } from '../../firmware-sim/serial/mock-line.js';
import { DRIVERS } from '../../gateway/readers/drivers.js';
import { ReaderLink } from '../../gateway/readers/reader.js';
import { GatewayRuntime } from '../../gateway/runtime.js';
import { upsertPolicyRule } from '../../server/circulation/policy.js';
import { loadConfig, dbFile } from '../../server/config.js';
import { startShelfsense } from '../../server/main.js';
import { openDb } from '../../server/store/db.js';
import { buildLibrary } from '../lib/library-data.js';
import { median, percentile, round } from '../lib/stats.js';
import type { BenchSuite, Figures } from '../lib/suite.js';
import { env } from '../lib/suite.js';

const SIZE = { records: 20_000, items: 40_000, patrons: 4_000, openLoans: 2_000 };
const BOOKS_PER_PATRON = 10;
/** Both pads at 115,200 baud, 8N1 (FEIG ID ISC readers and metraTec USB readers run at it). */
const BAUD = 115_200;

/** The hops of one checkout, as instants (performance.now()) on the one clock all parts share here. */
interface Trace { decoded?: number; published?: number; atServer?: number; commandSent?: number; atGateway?: number; writeStarted?: number; verified?: number }
const HOPS: [string, keyof Trace, keyof Trace][] = [
  ['gateway_read', 'decoded', 'published'], ['to_server', 'published', 'atServer'], ['server_checkout', 'atServer', 'commandSent'],
  ['to_gateway', 'commandSent', 'atGateway'], ['line_wait', 'atGateway', 'writeStarted'], ['write_verify', 'writeStarted', 'verified'],
];

/**
 * 1,000 kiosk checkouts (half on a FEIG pad, half on a metraTec pad), one book at a time as patrons
 * put them down: the simulated reader answers the gateway's inventory on a serial line, the gateway
 * reads the tag and publishes it, the server lends it in one SQLite transaction and asks the gateway
 * to desensitise it, the gateway writes AFI and EAS and reads them back. Latency runs from the tag's
 * inventory frame decoded in the gateway to the verified write. Everything runs in this one process
 * (broker, server, gateway, simulators), so the figures include their sharing of one event loop.
 * With `wireTime` the serial line delivers bytes at the pads' baud rate (10 bits a byte), as a UART
 * does; the `line_wait` and `write_verify` hops then carry the time on the wire.
 */
async function kioskChain(log: (l: string) => void, checkouts: number, wireTime: boolean): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsense-bench-kiosk-'));
  const config = loadConfig({ dataDir: dir, site: 'bench', http: { port: 0 }, mqtt: { port: 0, wsPort: 0 }, sip2: { enabled: false }, demo: { seed: false, devices: false } }, {});
  mkdirSync(dir, { recursive: true });
  const setup = openDb(dbFile(config));
  const lib = buildLibrary(setup, env('BENCH_SEED', 20260302), SIZE, new Date());
  for (const patronCategory of ['undergraduate', 'postgraduate', 'faculty', 'staff', 'public']) upsertPolicyRule(setup, { patronCategory, maxLoans: 100 });
  const ts = new Date().toISOString();
  const device = setup.prepare('INSERT INTO device (id, kind, branch_id, name, role, config, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
  device.run('gw-bench', 'gateway', 'main', 'bench gateway', null, '{}', ts);
  for (const protocol of ['feig', 'metratec']) {
    device.run(`kiosk-${protocol}`, 'reader', 'main', `${protocol} pad`, 'kiosk_pad', JSON.stringify({ gateway: 'gw-bench', protocol, port: `dev/kiosk-${protocol}`, antennas: 1, pollMs: 50, baudRate: BAUD }), ts);
  }
  setup.close();

  const running = await startShelfsense(config, { log: () => undefined });
  const traces = new Map<string, Trace>();
  const mark = (uid: string, k: keyof Trace) => { const t = traces.get(uid); if (t && t[k] === undefined) t[k] = performance.now(); };

  // Instrumentation: each hop stamps the book's trace; nothing else changes.
  const onTagEvent = running.rfid.onTagEvent.bind(running.rfid);
  running.rfid.onTagEvent = (e) => { if (e.event === 'enter') mark(e.tag.uid, 'atServer'); onTagEvent(e); };
  const command = running.link.command.bind(running.link);
  running.link.command = ((gw: string, name: Parameters<typeof command>[1], params?: Record<string, unknown>, timeout?: number) => {
    if (name === 'rfid.writeSecurity' && typeof params?.uid === 'string') mark(params.uid, 'commandSent');
    return command(gw, name, params, timeout);
  }) as typeof command;
  const writeSecurity = ReaderLink.prototype.writeSecurity;
  ReaderLink.prototype.writeSecurity = function (this: ReaderLink, uid: string, afi: number, eas?: boolean) {
    mark(uid, 'atGateway');
    return writeSecurity.call(this, uid, afi, eas).then((s) => { mark(uid, 'verified'); return s; });
  };
  const drivers = Object.fromEntries(Object.entries(DRIVERS).map(([p, make]) => [p, (cfg: ReaderConfig, stream: Parameters<typeof make>[1]) => {
    const d = make(cfg, stream);
    const inventory = d.inventory.bind(d);
    d.inventory = async (a) => { const tags = await inventory(a); for (const t of tags) mark(t.uid, 'decoded'); return tags; };
    const writeAfi = d.writeAfi.bind(d);
    d.writeAfi = (uid, afi) => { mark(uid, 'writeStarted'); return writeAfi(uid, afi); };
    return d;
  }])) as typeof DRIVERS;

  const fields = new Map<string, ReaderField>();
  const lines: MockLine[] = [];
  const gateway = new GatewayRuntime({
    site: 'bench', gatewayId: 'gw-bench', mqttUrl: running.mqttUrl, dataDir: join(dir, 'gateway'), drivers,
    openStream: async (cfg) => {
      const line = await openMockLine(`${cfg.port}-${lines.length}`, cfg.baudRate ?? 38400, { wireTime });
      lines.push(line);
      const field = new ReaderField(1, lines.length);
      fields.set(cfg.id, field);
      SIMULATORS[cfg.protocol](cfg, field).attach(line.device);
      return line.host;
    },
  });
  const enqueue = gateway.outbox.enqueue.bind(gateway.outbox);
  gateway.outbox.enqueue = (topic, payload, retain) => {
    const e = payload as { event?: string; tag?: { uid: string } };
    if (e?.event === 'enter' && e.tag) mark(e.tag.uid, 'published');
    return enqueue(topic, payload, retain);
  };
  await gateway.start();
  const until = async (what: string, cond: () => boolean, ms = 10_000) => {
    const deadline = Date.now() + ms;
    while (!cond()) { if (Date.now() > deadline) throw new Error(`timed out: ${what}`); await new Promise((r) => setImmediate(r)); }
  };
  try {
    await until('both pads open', () => fields.size === 2);
    const population = new TagPopulation();
    const books = lib.lendable.slice(0, checkouts);
    const totals: number[] = [];
    const byProtocol: Record<string, number[]> = { feig: [], metratec: [] };
    const hopSums = Object.fromEntries(HOPS.map(([h]) => [h, 0])) as Record<string, number>;
    let patronIx = 0;
    for (let n = 0; n < books.length; n += BOOKS_PER_PATRON) {
      const protocol = (n / BOOKS_PER_PATRON) % 2 === 0 ? 'feig' : 'metratec';
      const readerId = `kiosk-${protocol}`;
      const field = fields.get(readerId)!;
      const patron = lib.patrons[patronIx++]!;
      const card = population.add({ uid: `E0041${String(patronIx).padStart(11, '0')}`, card: patron.card_number });
      field.place(card);
      await until('session', () => running.rfid.kiosks.current(readerId)?.state === 'active');
      for (const book of books.slice(n, n + BOOKS_PER_PATRON)) {
        const uid = `E0040150${book.id.toString(16).toUpperCase().padStart(8, '0')}`;
        const tag = population.add({ uid, item: book.barcode });
        traces.set(uid, {});
        field.place(tag);
        await until(`checkout of ${book.barcode}`, () => traces.get(uid)!.verified !== undefined);
        const t = traces.get(uid)!;
        const total = t.verified! - t.decoded!;
        totals.push(total);
        byProtocol[protocol]!.push(total);
        for (const [h, from, to] of HOPS) hopSums[h]! += (t[to]! - t[from]!);
        field.remove(uid);
      }
      field.remove(card.uid);
      await until('session end', () => running.rfid.kiosks.current(readerId) === null);
      if (totals.length % 200 === 0) log(`${totals.length} checkouts, p50 ${median(totals).toFixed(1)} ms`);
    }
    await running.rfid.settled();
    const lent = running.db.prepare("SELECT count(*) AS n FROM loan WHERE channel = 'kiosk' AND closed_at IS NULL").get() as { n: number };
    if (lent.n !== books.length) throw new Error(`${lent.n} kiosk loans for ${books.length} books`);
    const sum = totals.reduce((a, b) => a + b, 0);
    const figures: Figures = {
      checkouts: { value: totals.length, unit: 'checkouts' },
      p50_ms: { value: round(median(totals)), unit: 'ms' },
      p99_ms: { value: round(percentile(totals, 99)), unit: 'ms' },
      p99_ms_feig: { value: round(percentile(byProtocol.feig!, 99)), unit: 'ms' },
      p99_ms_metratec: { value: round(percentile(byProtocol.metratec!, 99)), unit: 'ms' },
    };
    for (const [h] of HOPS) figures[`share_${h}_pct`] = { value: round((hopSums[h]! / sum) * 100), unit: '%' };
    return figures;
  } finally {
    ReaderLink.prototype.writeSecurity = writeSecurity;
    await gateway.stop();
    for (const l of lines) await l.close();
    await running.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A reader's reply stream as a gateway reads it: inventories of 1–3 tags and block reads, in serial-sized chunks. */
function feigStream(frames: number): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < frames; i++) {
    const tags = 1 + (i % 3);
    const data = i % 2 === 0
      ? Buffer.concat([Buffer.from([tags]), ...Array.from({ length: tags }, (_, t) => Buffer.from([0x03, 0x00, 0xe0, 0x04, 0x01, 0x50, 0, 0, t, i & 0xff]))])
      : Buffer.alloc(1 + 8 * 5, i & 0xff);
    out.push(encodeFeigFrame({ address: 0xff, command: 0xb0, status: FeigStatus.OK, data }));
  }
  return Buffer.concat(out);
}

function metratecStream(frames: number): Buffer {
  let s = '';
  for (let i = 0; i < frames; i++) s += i % 4 === 3 ? 'IVF 03\r\n' : i % 4 === 2 ? `00${'1A2B3C4D'.repeat(4)}1234\r\n` : `E0040150${(i * 2654435761 >>> 0).toString(16).toUpperCase().padStart(8, '0')}\r`;
  return Buffer.from(s, 'latin1');
}

/** Frames per second through one decoder, the stream cut in 32-byte chunks as a USB serial adapter delivers it; median of rounds. */
function decodeRate(stream: Buffer, frames: number, decode: () => (chunk: Buffer) => number, rounds: number): number {
  const chunks: Buffer[] = [];
  for (let o = 0; o < stream.length; o += 32) chunks.push(stream.subarray(o, o + 32));
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const push = decode();
    let seen = 0;
    const t0 = performance.now();
    for (const c of chunks) seen += push(c);
    const s = (performance.now() - t0) / 1000;
    if (seen < frames * 0.99) throw new Error(`decoded ${seen} of ${frames} frames`);
    rates.push(seen / s);
  }
  return median(rates);
}

const suite: BenchSuite = {
  name: 'kiosk',
  summary: '1,000 kiosk checkouts through the whole RFID chain (tag frame → verified security write), and frame decoding per reader stream',
  async run(log) {
    const frames = env('BENCH_DECODE_FRAMES', 200_000);
    const rounds = env('BENCH_ROUNDS', 5);
    const feig = decodeRate(feigStream(frames), frames, () => { const d = new FeigFrameDecoder({ replies: true }); return (c) => d.push(c).length; }, rounds);
    const metratec = decodeRate(metratecStream(frames), frames, () => { const d = new MetratecLineDecoder(); return (c) => { let n = 0; for (const l of d.push(c)) if (l !== END_OF_FRAME) n++; return n; }; }, rounds);
    log(`decoding: FEIG ${Math.round(feig)} frames/s, metraTec ${Math.round(metratec)} lines/s`);
    // The chain over the simulated serial line as the tests use it (bytes cross at once): what our
    // software and the broker add. Then the same with bytes timed as on a 115,200-baud UART, which is
    // what a site's latency is made of (the shares then show the wire).
    const chain = await kioskChain(log, env('BENCH_KIOSK_CHECKOUTS', 1000), false);
    const wired = await kioskChain(log, env('BENCH_KIOSK_WIRE_CHECKOUTS', 500), true);
    const atBaud = Object.fromEntries(Object.entries(wired).filter(([k]) => k !== 'checkouts').map(([k, f]) => [`${k}_at_115200_baud`, f]));
    return {
      ...chain,
      ...atBaud,
      decode_frames_per_s_feig: { value: Math.round(feig), unit: 'frames/s' },
      decode_frames_per_s_metratec: { value: Math.round(metratec), unit: 'frames/s' },
    };
  },
};
export default suite;
