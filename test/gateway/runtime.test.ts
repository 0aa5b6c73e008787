import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MQTT_PROTOCOL_VERSION, topics, type CommandRequest, type CommandResponse, type GatewayConfigPayload, type ReaderConfig, type ReaderTagEvent,
} from '../../contract/mqtt.js';
import { FeigCmd, FeigFrameDecoder, IsoCmd, NxpCmd } from '../../contract/rfid/feig-frame.js';
import { ReaderField } from '../../firmware-sim/rfid/field.js';
import { simTag, type TagSpec } from '../../firmware-sim/rfid/population.js';
import { SIMULATORS } from '../../firmware-sim/rfid/protocols.js';
import type { ReaderSimulator } from '../../firmware-sim/rfid/sim-readers.js';
import type { SimTag } from '../../firmware-sim/rfid/tag.js';
import { openMockLine, type MockLine } from '../../firmware-sim/serial/mock-line.js';
import { DRIVERS } from '../../gateway/readers/drivers.js';
import { GatewayRuntime } from '../../gateway/runtime.js';
import { startBroker, type EmbeddedBroker } from '../../server/mqtt/broker.js';
import { freePort } from '../e2e/helpers.js';

// GatewayRuntime as it runs at a site: a real aedes broker, the real drivers, and the simulated
// readers on in-process serial lines (SerialPortMock) behind the runtime's openStream.

const SITE = 'rt';
const GW = 'gw-1';
const KIOSK = 'kiosk-1';
const GATE = 'gate-1';
const BOOK = 'E004015000001001';
const DVD = 'E004015000002002';
const AFI_IN_STOCK = 0x07;
const AFI_ON_LOAN = 0xc2;

const READERS: ReaderConfig[] = [
  { id: KIOSK, role: 'kiosk_pad', protocol: 'feig', port: '/dev/ttyMOCK-rt-kiosk', antennas: 1, pollMs: 20 },
  { id: GATE, role: 'security_gate', protocol: 'metratec', port: '/dev/ttyMOCK-rt-gate', antennas: 2, pollMs: 20 },
];
const config = (readers = READERS): GatewayConfigPayload => ({ gatewayId: GW, ts: new Date().toISOString(), readers, zigbee: { source: 'none', devices: [] } });

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

const until = async (what: string, cond: () => boolean, ms = 8000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** The simulated hardware behind one gateway: a field and a simulator per reader, a fresh mock line per open. */
class Bench {
  readonly fields = new Map<string, ReaderField>();
  readonly opens = new Map<string, number>();
  readonly lines: MockLine[] = [];
  /** FEIG write requests (AFI, blocks, EAS) that reached any FEIG reader. */
  readonly feigWrites: string[] = [];
  private n = 0;
  private readonly sims = new Map<string, ReaderSimulator>();

  constructor() { cleanups.push(() => this.close()); }

  readonly openStream = async (cfg: ReaderConfig): Promise<Duplex> => {
    this.opens.set(cfg.id, (this.opens.get(cfg.id) ?? 0) + 1);
    const line = await openMockLine(`${cfg.port}-${process.pid}-${randomUUID().slice(0, 8)}-${++this.n}`, cfg.baudRate ?? 38400);
    this.lines.push(line);
    const field = this.field(cfg);
    const sim = this.sims.get(cfg.id) ?? SIMULATORS[cfg.protocol](cfg, field);
    this.sims.set(cfg.id, sim);
    if (cfg.protocol === 'feig') {
      const requests = new FeigFrameDecoder({ replies: false });
      line.device.on('data', (c: Buffer) => {
        for (const f of requests.push(c)) {
          const iso = f.command === FeigCmd.ISO && (f.data[0] === IsoCmd.WRITE_AFI || f.data[0] === IsoCmd.WRITE_MULTIPLE);
          const eas = f.command === FeigCmd.CUSTOM && (f.data[1] === NxpCmd.SET_EAS || f.data[1] === NxpCmd.RESET_EAS);
          if (iso || eas) this.feigWrites.push(f.data.toString('hex'));
        }
      });
    }
    sim.attach(line.device);
    return line.host;
  };

  field(cfg: ReaderConfig): ReaderField {
    let f = this.fields.get(cfg.id);
    if (!f) { f = new ReaderField(Math.max(1, cfg.antennas), 3); this.fields.set(cfg.id, f); }
    return f;
  }

  place(readerId: string, spec: TagSpec, antenna = 1): SimTag {
    const tag = simTag(spec);
    this.fields.get(readerId)!.place(tag, antenna);
    return tag;
  }

  async close(): Promise<void> {
    for (const s of this.sims.values()) s.detach?.();
    for (const l of this.lines.splice(0)) await l.close();
  }
}

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsense-gw-runtime-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function broker(port = 0): Promise<EmbeddedBroker> {
  const b = await startBroker({ host: '127.0.0.1', port, wsPort: 0 });
  cleanups.push(() => b.close());
  return b;
}

function runtime(url: string, dir: string, bench: Bench): GatewayRuntime {
  const rt = new GatewayRuntime({ site: SITE, gatewayId: GW, mqttUrl: url, dataDir: dir, drivers: DRIVERS, openStream: bench.openStream, log: () => undefined });
  let stopped = false;
  const stop = rt.stop.bind(rt);
  rt.stop = async () => { if (!stopped) { stopped = true; await stop(); } };
  cleanups.push(() => rt.stop());
  return rt;
}

/** A client on the site's topics: the server's side of the contract. */
async function server(url: string) {
  const client: MqttClient = await mqtt.connectAsync(url, { protocolVersion: MQTT_PROTOCOL_VERSION, reconnectPeriod: 0 });
  cleanups.push(() => client.endAsync(true));
  const tagEvents: (ReaderTagEvent & { topic: string })[] = [];
  const responses: CommandResponse[] = [];
  client.on('message', (topic, payload) => {
    if (topic === topics.gatewayCommandResponse(SITE, GW)) responses.push(JSON.parse(payload.toString()));
    else if (topic.endsWith('/tag')) tagEvents.push({ ...JSON.parse(payload.toString()), topic });
  });
  await client.subscribeAsync([topics.readerTagAll(SITE), topics.gatewayCommandResponse(SITE, GW)], { qos: 1 });
  return {
    client, tagEvents, responses,
    publishConfig: (body: unknown) => client.publishAsync(topics.gatewayConfig(SITE, GW), typeof body === 'string' ? body : JSON.stringify(body), { qos: 1, retain: true }),
    async command(command: CommandRequest['command'], params: Record<string, unknown>): Promise<CommandResponse> {
      const req: CommandRequest = { transaction: randomUUID(), command, params, ts: new Date().toISOString() };
      await client.publishAsync(topics.gatewayCommand(SITE, GW), JSON.stringify(req), { qos: 1 });
      await until(`the response to ${command}`, () => responses.some((r) => r.transaction === req.transaction));
      return responses.find((r) => r.transaction === req.transaction)!;
    },
  };
}

const online = (rt: GatewayRuntime, ...ids: string[]) => () => ids.every((id) => rt.readers.reader(id)?.isOnline === true);

/** A broker, the server's side, the retained configuration, and a started gateway with both readers online. */
async function startedGateway() {
  const b = await broker();
  const srv = await server(b.url);
  await srv.publishConfig(config());
  const bench = new Bench();
  const rt = runtime(b.url, dataDir(), bench);
  await rt.start();
  await until('both readers online', online(rt, KIOSK, GATE));
  return { srv, bench, rt };
}

describe('GatewayRuntime', () => {
  it('given a retained configuration, when the gateway starts, then it opens the readers and publishes tag events with unique ids', async () => {
    const { srv, bench, rt } = await startedGateway();
    expect(Object.fromEntries(bench.opens)).toEqual({ [KIOSK]: 1, [GATE]: 1 });
    expect(rt.current?.readers).toEqual(READERS);

    bench.place(KIOSK, { uid: BOOK, item: '30001', afi: AFI_IN_STOCK, eas: true });
    bench.place(GATE, { uid: DVD, item: '30002' }, 2);
    await until('two enter events', () => srv.tagEvents.length === 2);
    bench.fields.get(KIOSK)!.remove(BOOK);
    await until('the leave event', () => srv.tagEvents.length === 3);

    const at = (topic: string) => srv.tagEvents.filter((e) => e.topic === topic);
    const kiosk = at(topics.readerTag(SITE, KIOSK));
    expect(kiosk.map((e) => [e.event, e.readerId, e.tag.uid])).toEqual([['enter', KIOSK, BOOK], ['leave', KIOSK, BOOK]]);
    expect(kiosk[0]!.tag).toMatchObject({ antenna: 1, security: { afi: AFI_IN_STOCK, eas: true }, data: { format: 'iso28560-3', typeOfUsage: 1, primaryItemId: '30001' } });
    const gate = at(topics.readerTag(SITE, GATE));
    expect(gate).toHaveLength(1);
    expect(gate[0]).toMatchObject({ event: 'enter', readerId: GATE, tag: { uid: DVD, antenna: 2, data: { primaryItemId: '30002' } } });
    const ids = srv.tagEvents.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const e of srv.tagEvents) expect(Date.parse(e.ts)).not.toBeNaN();
    await until('the outbox drained', () => rt.outbox.pending === 0);
  });

  it('given a tag on a reader, when the server sends rfid.writeSecurity, then the answer is ok with the state read back', async () => {
    const { srv, bench, rt } = await startedGateway();
    const book = bench.place(KIOSK, { uid: BOOK, item: '30001', afi: AFI_IN_STOCK, eas: true });
    const dvd = bench.place(GATE, { uid: DVD, item: '30002', afi: AFI_IN_STOCK, eas: true }, 2);
    await until('two enter events', () => srv.tagEvents.length === 2);

    const res = await srv.command('rfid.writeSecurity', { readerId: KIOSK, uid: BOOK.toLowerCase(), afi: AFI_ON_LOAN, eas: false });
    expect(res).toMatchObject({ status: 'ok', data: { afi: AFI_ON_LOAN, eas: false } });
    expect([book.afi, book.eas]).toEqual([AFI_ON_LOAN, false]);

    const viaGate = await srv.command('rfid.writeSecurity', { readerId: GATE, uid: DVD, afi: AFI_ON_LOAN, eas: false });
    expect(viaGate).toMatchObject({ status: 'ok', data: { afi: AFI_ON_LOAN, eas: false } });
    expect([dvd.afi, dvd.eas]).toEqual([AFI_ON_LOAN, false]);
  });

  it('given bad parameters or an unknown reader, when rfid.writeSecurity arrives, then it is answered with an error code and nothing is written', async () => {
    const { srv, bench, rt } = await startedGateway();
    const book = bench.place(KIOSK, { uid: BOOK, item: '30001', afi: AFI_IN_STOCK, eas: true });
    await until('the enter event', () => srv.tagEvents.length === 1);

    const cases: [Record<string, unknown>, string][] = [
      [{ readerId: KIOSK, uid: 'E00401500000100', afi: AFI_ON_LOAN }, 'BAD_REQUEST'], // 15 hex digits
      [{ readerId: KIOSK, uid: 'E00401500000100Z', afi: AFI_ON_LOAN }, 'BAD_REQUEST'],
      [{ readerId: KIOSK, uid: BOOK, afi: 300 }, 'BAD_REQUEST'],
      [{ readerId: KIOSK, uid: BOOK, afi: 1.5 }, 'BAD_REQUEST'],
      [{ readerId: KIOSK, uid: BOOK, afi: '194' }, 'BAD_REQUEST'],
      [{ readerId: KIOSK, uid: BOOK, afi: AFI_ON_LOAN, eas: 'off' }, 'BAD_REQUEST'],
      [{ uid: BOOK, afi: AFI_ON_LOAN }, 'BAD_REQUEST'],
      [{ readerId: 'no-such-reader', uid: BOOK, afi: AFI_ON_LOAN }, 'UNKNOWN_READER'],
    ];
    for (const [params, code] of cases) {
      const res = await srv.command('rfid.writeSecurity', params);
      expect(res.status, JSON.stringify(params)).toBe('error');
      expect(res.status === 'error' && res.error.code, JSON.stringify(params)).toBe(code);
    }
    expect(bench.feigWrites).toEqual([]);
    expect([book.afi, book.eas]).toEqual([AFI_IN_STOCK, true]);

    // A well-formed request for a tag not on the reader reaches the reader, and is TAG_GONE.
    const gone = await srv.command('rfid.writeSecurity', { readerId: KIOSK, uid: DVD, afi: AFI_ON_LOAN });
    expect(gone).toMatchObject({ status: 'error', error: { code: 'TAG_GONE' } });
    expect([book.afi, book.eas]).toEqual([AFI_IN_STOCK, true]);
  });

  it('given a running configuration, when a malformed configuration is published, then it is ignored and the readers stay as they are', async () => {
    const b = await broker();
    const srv = await server(b.url);
    const good = config();
    await srv.publishConfig(good);
    const bench = new Bench();
    const dir = dataDir();
    const rt = runtime(b.url, dir, bench);
    await rt.start();
    await until('both readers online', online(rt, KIOSK, GATE));
    await rt.settled();
    const links = [rt.readers.reader(KIOSK), rt.readers.reader(GATE)];
    const onDisk = readFileSync(join(dir, 'config.json'), 'utf8');

    const malformed: unknown[] = [
      'this is not JSON',
      '[1, 2, 3]',
      { gatewayId: GW, ts: new Date().toISOString(), readers: 'kiosk-1' },
      { gatewayId: GW, ts: new Date().toISOString() },
      { ...good, gatewayId: 'another-gateway', readers: [] },
      { ...good, readers: [{ id: KIOSK }] },
      { ...good, readers: [null] },
      { ...good, readers: [{ ...READERS[0], antennas: 'one' }] },
    ];
    for (const body of malformed) {
      await srv.publishConfig(body);
      // A command after the configuration is handled after it (one connection, in order).
      expect((await srv.command('ping', {})).status).toBe('ok');
      await rt.settled();
      expect(rt.current, JSON.stringify(body)).toEqual(good);
      expect([rt.readers.reader(KIOSK), rt.readers.reader(GATE)], JSON.stringify(body)).toEqual(links);
    }
    expect(online(rt, KIOSK, GATE)()).toBe(true);
    expect(Object.fromEntries(bench.opens)).toEqual({ [KIOSK]: 1, [GATE]: 1 });
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe(onDisk);

    // A valid change is still applied: the gate is removed, the kiosk keeps running untouched.
    await srv.publishConfig(config([READERS[0]!]));
    await until('the gate removed', () => rt.readers.reader(GATE) === undefined);
    await rt.settled();
    expect(rt.readers.reader(KIOSK)).toBe(links[0]);
  });

  it('given a cached configuration and no broker, when the gateway restarts, then its readers run and the events wait in the outbox until a broker comes', async () => {
    // First run: the configuration arrives from the broker and is cached.
    const first = await broker();
    const srv = await server(first.url);
    await srv.publishConfig(config());
    const dir = dataDir();
    const before = new Bench();
    const rt1 = runtime(first.url, dir, before);
    await rt1.start();
    await until('both readers online', online(rt1, KIOSK, GATE));
    await rt1.stop();

    // Second run: nothing listens on the broker's address.
    const port = await freePort();
    const bench = new Bench();
    const rt2 = runtime(`mqtt://127.0.0.1:${port}`, dir, bench);
    const started = rt2.start();
    started.catch(() => undefined);
    await until('both readers online from the cached configuration', online(rt2, KIOSK, GATE));
    expect(rt2.gateway.connected).toBe(false);
    expect(rt2.current?.readers).toEqual(READERS);

    const kioskTags = () => rt2.readers.reader(KIOSK)!.tags().map((t) => t.uid);
    bench.place(KIOSK, { uid: BOOK, item: 'OFFLINE-1' });
    await until('the book seen', () => kioskTags().includes(BOOK));
    bench.fields.get(KIOSK)!.remove(BOOK);
    await until('the book gone', () => !kioskTags().includes(BOOK));
    bench.place(KIOSK, { uid: DVD, item: 'OFFLINE-2' });
    await until('the dvd seen', () => kioskTags().includes(DVD));
    expect(rt2.outbox.pending).toBeGreaterThanOrEqual(3); // 3 tag events (and reader status)

    // A broker appears at the address: everything kept is delivered, in the order it happened.
    const late = await broker(port);
    const delivered: ReaderTagEvent[] = [];
    late.aedes.on('publish', (packet) => { if (packet.topic === topics.readerTag(SITE, KIOSK)) delivered.push(JSON.parse(packet.payload.toString())); });
    await started;
    await until('the outbox drained', () => rt2.outbox.pending === 0);

    expect(delivered.map((e) => [e.event, e.tag.uid, e.tag.data?.primaryItemId])).toEqual([
      ['enter', BOOK, 'OFFLINE-1'], ['leave', BOOK, 'OFFLINE-1'], ['enter', DVD, 'OFFLINE-2'],
    ]);
    expect(new Set(delivered.map((e) => e.id)).size).toBe(3);
    const ts = delivered.map((e) => Date.parse(e.ts));
    expect([...ts].sort((a, c) => a - c)).toEqual(ts);
    await rt2.stop(); // while the broker is still there to take the last reader status
  });
});
