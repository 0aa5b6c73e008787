import { afterEach, describe, expect, it } from 'vitest';
import type { ReaderConfig } from '../../../contract/mqtt.js';
import { encodeFeigFrame } from '../../../contract/rfid/feig-frame.js';
import { FeigReaderSim } from '../../../firmware-sim/rfid/feig-sim.js';
import { ReaderField } from '../../../firmware-sim/rfid/field.js';
import { SimTag, type SimTagOptions } from '../../../firmware-sim/rfid/tag.js';
import { openMockLine, type MockLine } from '../../../firmware-sim/serial/mock-line.js';
import { ReaderError, type RfidDriver } from '../../../gateway/readers/driver.js';
import { createFeigDriver, type FeigDriverOptions } from '../../../gateway/readers/feig.js';

// Expected frames computed by hand (FEIG ISC host protocol: LEN COM-ADR CMD [STATUS] DATA CRC16,
// CRC-16/MCRF4XX LSB first); the simulated reader answers with its default bus address 0x00.
const UID = 'E004015012345678';
const INVENTORY = [0x07, 0xff, 0xb0, 0x01, 0x00, 0x1c, 0x56];
const INVENTORY_MORE = [0x07, 0xff, 0xb0, 0x01, 0x80, 0x14, 0xd2];
const INVENTORY_ANT2 = [0x08, 0xff, 0xb0, 0x01, 0x10, 0x02, 0xb1, 0x51];
const NO_TAG_REPLY = [0x06, 0x00, 0xb0, 0x01, 0x5c, 0x63];
const ONE_TAG_REPLY = [0x11, 0x00, 0xb0, 0x00, 0x01, 0x03, 0x00, 0xe0, 0x04, 0x01, 0x50, 0x12, 0x34, 0x56, 0x78, 0xba, 0x40];
const READ_BLOCK0 = [0x11, 0xff, 0xb0, 0x23, 0x01, 0xe0, 0x04, 0x01, 0x50, 0x12, 0x34, 0x56, 0x78, 0x00, 0x01, 0x09, 0x39];
const READ_BLOCK0_REPLY = [0x0d, 0x00, 0xb0, 0x00, 0x01, 0x04, 0x00, 0x04, 0x03, 0x02, 0x01, 0xf7, 0xbb];

interface Rig { line: MockLine; field: ReaderField; sim: FeigReaderSim; driver: RfidDriver; sent: Buffer[]; received: Buffer[] }

let n = 0;
let rig: Rig | null = null;
afterEach(async () => {
  if (!rig) return;
  await rig.driver.close();
  rig.sim.detach();
  await rig.line.close();
  rig = null;
});

async function open(o: { antennas?: number; address?: number; simAddress?: number; attach?: boolean; driver?: FeigDriverOptions } = {}): Promise<Rig> {
  const path = `/dev/ttyFEIG${++n}`;
  const line = await openMockLine(path);
  const cfg: ReaderConfig = { id: `feig-${n}`, role: 'kiosk_pad', protocol: 'feig', port: path, antennas: o.antennas ?? 1, address: o.address };
  const field = new ReaderField(cfg.antennas, 7);
  const sim = new FeigReaderSim({ ...cfg, address: o.simAddress ?? o.address }, field);
  if (o.attach !== false) sim.attach(line.device);
  const driver = createFeigDriver(cfg, line.host, { replyTimeoutMs: 500, ...o.driver });
  const [sent, received]: [Buffer[], Buffer[]] = [[], []];
  line.device.on('data', (c: Buffer) => sent.push(c));
  line.host.on('data', (c: Buffer) => received.push(c));
  rig = { line, field, sim, driver, sent, received };
  return rig;
}

const tag = (uid: string, o: Partial<SimTagOptions> = {}) => new SimTag({ uid, ...o });
const nxp = (i: number) => `E00401${i.toString(16).toUpperCase().padStart(10, '0')}`;
const bytes = (chunks: Buffer[]) => [...Buffer.concat(chunks)];
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function rejection(p: Promise<unknown>): Promise<ReaderError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(ReaderError);
  return e as ReaderError;
}

describe('FEIG driver against the simulated FEIG reader', () => {
  it('inventory of an empty field: exact request and "no transponder" reply', async () => {
    const { driver, sent, received } = await open();
    expect(await driver.inventory(1)).toEqual([]);
    expect(bytes(sent)).toEqual(INVENTORY);
    expect(bytes(received)).toEqual(NO_TAG_REPLY);
  });

  it('inventory of one tag: UID MSB first on the wire', async () => {
    const { driver, field, received } = await open();
    field.place(tag(UID));
    expect(await driver.inventory(1)).toEqual([{ uid: UID, antenna: 1, dsfid: 0 }]);
    expect(bytes(received)).toEqual(ONE_TAG_REPLY);
  });

  it('inventory of several colliding tags finds them all in anticollision order', async () => {
    const { driver, field } = await open();
    const uids = ['E004010000000001', 'E004010000000011', 'E004010000000021', 'E004010000000003', 'E00401000000001F'];
    for (const u of uids) field.place(tag(u, { dsfid: 0x06 }));
    const expected = field.anticollision(1);
    expect(expected.collisions).toBeGreaterThan(0);
    const found = await driver.inventory(1);
    expect(found.map((t) => t.uid)).toEqual(expected.uids);
    expect(new Set(found.map((t) => t.uid))).toEqual(new Set(uids));
    expect(found.every((t) => t.dsfid === 0x06 && t.antenna === 1)).toBe(true);
  });

  it('two antennas: antenna selection byte and antenna records', async () => {
    const { driver, field, sent } = await open({ antennas: 2 });
    field.place(tag(nxp(1)), 1);
    field.place(tag(nxp(2)), 2);
    field.place(tag(nxp(3)), 2);
    expect(await driver.inventory(1)).toEqual([{ uid: nxp(1), antenna: 1, dsfid: 0 }]);
    sent.length = 0;
    const two = await driver.inventory(2);
    expect(bytes(sent)).toEqual(INVENTORY_ANT2);
    expect(two.map((t) => [t.uid, t.antenna]).sort()).toEqual([[nxp(2), 2], [nxp(3), 2]]);
  });

  it('many tags: STATUS 0x94 and MORE continuation until the full list', async () => {
    const { driver, field, sent, received } = await open();
    for (let i = 0; i < 60; i++) field.place(tag(nxp(i)));
    const found = await driver.inventory(1);
    expect(new Set(found.map((t) => t.uid)).size).toBe(60);
    const requests = Buffer.concat(sent);
    expect([...requests]).toEqual([...INVENTORY, ...INVENTORY_MORE, ...INVENTORY_MORE]); // 24 + 24 + 12 data sets
    const replies = Buffer.concat(received);
    expect(replies[3]).toBe(0x94);
    expect(replies[4]).toBe(24);
  });

  it('big inventories with antenna records go out as advanced frames', async () => {
    const { driver, field, received } = await open({ antennas: 2 });
    for (let i = 0; i < 30; i++) field.place(tag(nxp(i)), 2);
    const found = await driver.inventory(2);
    expect(found).toHaveLength(30);
    expect(found.every((t) => t.antenna === 2)).toBe(true);
    const first = Buffer.concat(received);
    expect(first[0]).toBe(0x02); // STX: 24 data sets of 20 bytes do not fit 255
    expect(first[5]).toBe(0x94);
  });

  it('system information: AFI, DSFID, block size and count, IC reference', async () => {
    const { driver, field } = await open();
    field.place(tag(UID, { afi: 0x07, dsfid: 0x06, blockSize: 4, blockCount: 28 }));
    field.place(tag(nxp(9), { blockSize: 8, blockCount: 300 }));
    expect(await driver.systemInfo(UID)).toEqual({ uid: UID, afi: 0x07, dsfid: 0x06, blockSize: 4, blockCount: 28, icReference: 0x01 });
    expect(await driver.systemInfo(nxp(9))).toMatchObject({ blockSize: 8, blockCount: 300 });
  });

  it('reads blocks byte for byte: each block MSB first on the wire', async () => {
    const { driver, field, sent, received } = await open();
    field.place(tag(UID, { memory: Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]) }));
    expect([...(await driver.readBlocks(UID, 0, 1))]).toEqual([1, 2, 3, 4]);
    expect(bytes(sent)).toEqual(READ_BLOCK0);
    expect(bytes(received)).toEqual(READ_BLOCK0_REPLY);
  });

  it('write and read back blocks, long reads in an advanced frame', async () => {
    const { driver, field, received } = await open();
    const t = tag(UID, { blockCount: 64 });
    field.place(t);
    const image = Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 7 + 3) & 0xff));
    await driver.writeBlocks(UID, 0, image, 4);
    expect(t.memory.equals(image)).toBe(true);
    received.length = 0;
    expect((await driver.readBlocks(UID, 0, 64)).equals(image)).toBe(true);
    expect(received[0]![0]).toBe(0x02);
    expect((await driver.readBlocks(UID, 10, 3)).equals(image.subarray(40, 52))).toBe(true);
  });

  it('writes the AFI', async () => {
    const { driver, field } = await open();
    const t = tag(UID, { afi: 0x07 });
    field.place(t);
    await driver.writeAfi(UID, 0xc2);
    expect(t.afi).toBe(0xc2);
    expect((await driver.systemInfo(UID)).afi).toBe(0xc2);
  });

  it('EAS set, reset and read through [0xB1] MFR 0x04; null where there is no EAS', async () => {
    const { driver, field, sent } = await open();
    const t = tag(UID);
    field.place(t);
    field.place(tag(nxp(2), { supportsEas: false }));
    expect(await driver.readEas(UID)).toBe(false);
    await driver.setEas(UID, true);
    expect(t.eas).toBe(true);
    expect(await driver.readEas(UID)).toBe(true);
    await driver.setEas(UID, false);
    expect(t.eas).toBe(false);
    expect(await driver.readEas(UID)).toBe(false);
    expect(await driver.readEas(nxp(2))).toBeNull();
    expect((await rejection(driver.setEas(nxp(2), true))).code).toBe('NOT_SUPPORTED');
    sent.length = 0;
    expect(await driver.readEas('E007000012345678')).toBeNull(); // a TI tag: no NXP command is sent at all
    expect(sent).toHaveLength(0);
    expect((await rejection(driver.readEas(nxp(77)))).code).toBe('NO_TAG');
  });

  it('locked block and locked AFI answer TAG_LOCKED', async () => {
    const { driver, field } = await open();
    const t = tag(UID);
    t.lockedBlocks.add(2);
    t.afiLocked = true;
    field.place(t);
    const e = await rejection(driver.writeBlocks(UID, 0, Buffer.alloc(16, 0xee), 4));
    expect(e.code).toBe('TAG_LOCKED');
    expect(e.message).toMatch(/block 2/);
    expect([...t.memory.subarray(0, 12)]).toEqual([...Buffer.alloc(8, 0xee), 0, 0, 0, 0]);
    expect((await rejection(driver.writeAfi(UID, 1))).code).toBe('TAG_LOCKED');
    expect((await rejection(driver.readBlocks(UID, 27, 2))).code).toBe('TAG_ERROR'); // block 28 does not exist
  });

  it('absent tag, or one that does not answer, is NO_TAG', async () => {
    const { driver, field } = await open();
    field.place(tag(nxp(5), { failureRate: 1 }));
    expect((await rejection(driver.systemInfo(UID))).code).toBe('NO_TAG');
    expect((await rejection(driver.readBlocks(UID, 0, 1))).code).toBe('NO_TAG');
    expect((await rejection(driver.systemInfo(nxp(5)))).code).toBe('NO_TAG');
    expect(await driver.inventory(1)).toEqual([]);
  });

  it('no reply at all is TIMEOUT, counted', async () => {
    const { driver } = await open({ attach: false, driver: { replyTimeoutMs: 80 } });
    expect((await rejection(driver.inventory(1))).code).toBe('TIMEOUT');
    expect(driver.counters.timeouts).toBe(1);
  });

  it('a reader on another bus address stays silent; the right one answers with its address', async () => {
    const other = await open({ address: 0x05, simAddress: 0x06, driver: { replyTimeoutMs: 80 } });
    other.field.place(tag(UID));
    expect((await rejection(other.driver.inventory(1))).code).toBe('TIMEOUT');
    expect(other.sent[0]![1]).toBe(0x05);
    await other.driver.close();
    other.sim.detach();
    await other.line.close();
    const { driver, field, received } = await open({ address: 0x05 });
    field.place(tag(UID));
    expect(await driver.inventory(1)).toHaveLength(1);
    expect(received[0]![1]).toBe(0x05);
  });

  it('a tag pulled away mid-write: the write lands, the read-back fails', async () => {
    const { driver, field } = await open();
    const t = tag(UID);
    field.place(t);
    field.pullOnWrite(UID);
    await driver.writeBlocks(UID, 0, Buffer.from([9, 8, 7, 6]), 4);
    expect([...t.memory.subarray(0, 4)]).toEqual([9, 8, 7, 6]);
    expect((await rejection(driver.readBlocks(UID, 0, 1))).code).toBe('NO_TAG');
    const u = tag(nxp(3));
    field.place(u);
    field.pullOnWrite(nxp(3));
    const e = await rejection(driver.writeBlocks(nxp(3), 0, Buffer.alloc(12, 0x55), 4));
    expect(e.code).toBe('TAG_ERROR'); // FEIG 0x03 write error at DB-ADR-E 1
    expect(e.message).toMatch(/block 1/);
    expect((await rejection(driver.readBlocks(nxp(3), 0, 3))).code).toBe('NO_TAG');
  });

  it('tag latency delays replies (per block for writes)', async () => {
    const { driver, field } = await open();
    field.place(tag(UID, { latencyMs: 30 }));
    let t0 = Date.now();
    await driver.systemInfo(UID);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    t0 = Date.now();
    await driver.writeBlocks(UID, 0, Buffer.alloc(12), 4);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(85);
  });

  it('counts bad CRC and garbage on the reply line and keeps working', async () => {
    const { driver, field, line } = await open();
    field.place(tag(UID));
    const bad = encodeFeigFrame({ address: 0, command: 0xb0, status: 0, data: Buffer.from([0]) });
    bad[bad.length - 1]! ^= 0x5a;
    line.device.write(Buffer.concat([bad, Buffer.from([0x00, 0xaa, 0x13, 0x37])]));
    await wait(20);
    expect(await driver.inventory(1)).toHaveLength(1);
    // garbage arriving in the middle of a reply's wait
    field.place(tag(nxp(4), { latencyMs: 30 }));
    const pending = driver.inventory(1);
    await wait(5);
    line.device.write(Buffer.from([0xaa, 0x00, 0x11, 0xfe]));
    expect(await pending).toHaveLength(2);
    const c = driver.counters;
    expect(c.badCrc).toBe(1);
    expect(c.resyncs).toBeGreaterThanOrEqual(2);
    expect(c.frames).toBe(2); // the two inventory replies; the bad frame is not one
    expect(c.timeouts).toBe(0);
  });

  it('the reader ignores garbage and stays silent on a request with a bad CRC', async () => {
    const { driver, field, line, sim, received } = await open({ driver: { replyTimeoutMs: 150 } });
    field.place(tag(UID));
    line.device.push(Buffer.from([0x00, 0xaa, 0xff, 0x41]));
    expect(await driver.inventory(1)).toHaveLength(1);
    received.length = 0;
    const bad = encodeFeigFrame({ address: 0xff, command: 0xb0, data: Buffer.from([0x01, 0x00]) });
    bad[bad.length - 2]! ^= 0x01;
    line.host.write(bad);
    await wait(80);
    expect(received).toHaveLength(0);
    expect(sim.counters.badCrc).toBe(1);
    expect(sim.counters.resyncs).toBeGreaterThanOrEqual(2);
    expect(await driver.inventory(1)).toHaveLength(1);
  });

  it('advanced request frames get advanced replies', async () => {
    const { driver, field, sent, received } = await open({ driver: { advanced: true } });
    field.place(tag(UID));
    expect(await driver.inventory(1)).toHaveLength(1);
    expect(sent[0]![0]).toBe(0x02);
    expect(received[0]![0]).toBe(0x02);
  });

  it('a closed driver refuses commands', async () => {
    const { driver } = await open();
    await driver.close();
    expect((await rejection(driver.inventory(1))).code).toBe('CLOSED');
  });
});
