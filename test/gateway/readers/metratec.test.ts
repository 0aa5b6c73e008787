import { afterEach, describe, expect, it } from 'vitest';
import type { ReaderConfig } from '../../../contract/mqtt.js';
import { withIsoCrc } from '../../../contract/rfid/iso15693.js';
import { ReaderError } from '../../../gateway/readers/driver.js';
import { createMetratecDriver, type MetratecDriver, type MetratecDriverOptions } from '../../../gateway/readers/metratec.js';
import { ReaderField } from '../../../firmware-sim/rfid/field.js';
import { createMetratecSimulator, type MetratecReaderSim, type MetratecSimOptions } from '../../../firmware-sim/rfid/metratec-sim.js';
import { SimTag, type SimTagOptions } from '../../../firmware-sim/rfid/tag.js';
import { openMockLine, type MockLine } from '../../../firmware-sim/serial/mock-line.js';

const A = 'E004010012345678', A_ON_AIR = '78563412000104E0';
const B = 'E0040100AABBCCDD';

/** CRC-16/MCRF4XX of the line text and the space before the CRC, written out here on purpose. */
function crcLine(text: string): string {
  let crc = 0xffff;
  for (const c of Buffer.from(`${text} `, 'latin1')) {
    crc ^= c;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >> 1) ^ 0x8408 : crc >> 1;
  }
  return `${text} ${crc.toString(16).toUpperCase().padStart(4, '0')}\r`;
}

interface Rig { line: MockLine; field: ReaderField; sim: MetratecReaderSim; driver: MetratecDriver; toReader(): string; toHost(): string }
let n = 0;
const open: Rig[] = [];

async function rig(o: { antennas?: number; sim?: MetratecSimOptions; driver?: MetratecDriverOptions; attach?: boolean } = {}): Promise<Rig> {
  const antennas = o.antennas ?? 1;
  const path = `/dev/ttyMOCK-metratec-${process.pid}-${++n}`;
  const line = await openMockLine(path);
  const cfg: ReaderConfig = { id: `metratec-${n}`, role: 'kiosk_pad', protocol: 'metratec', port: path, antennas };
  const field = new ReaderField(antennas, 7);
  const sim = createMetratecSimulator(cfg, field, { cnrIntervalMs: 5, ...o.sim });
  if (o.attach !== false) sim.attach(line.device);
  const toReader: Buffer[] = [], toHost: Buffer[] = [];
  line.device.on('data', (b: Buffer) => toReader.push(b));
  line.host.on('data', (b: Buffer) => toHost.push(b));
  const driver = createMetratecDriver(cfg, line.host, { timeoutMs: 300, ...o.driver });
  const r: Rig = { line, field, sim, driver, toReader: () => Buffer.concat(toReader).toString('latin1'), toHost: () => Buffer.concat(toHost).toString('latin1') };
  open.push(r);
  return r;
}

function place(r: Rig, o: SimTagOptions, antenna = 1): SimTag {
  const tag = new SimTag(o);
  r.field.place(tag, antenna);
  return tag;
}

const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (e instanceof ReaderError ? e.code : `not a ReaderError: ${e}`));
const sorted = (uids: { uid: string }[]) => uids.map((t) => t.uid).sort();

afterEach(async () => {
  for (const r of open.splice(0)) {
    await r.driver.close();
    r.sim.detach();
    await r.line.close();
  }
});

describe('metraTec driver against the simulated reader', () => {
  it('sets the reader up and inventories an empty field with these exact bytes', async () => {
    const r = await rig();
    expect(await r.driver.inventory(1)).toEqual([]);
    expect(r.toReader()).toBe(['BRK\r', 'EOF\r', 'CON\r', crcLine('REV'), crcLine('MOD 156'), crcLine('SRI SS 100'), crcLine('INV')].join(''));
    expect(r.toHost()).toBe(['NCM\r', 'OK!\r\n', crcLine('OK!'), '\n', crcLine('DESKID_ISO      02000307'), '\n', crcLine('OK!'), '\n', crcLine('OK!'), '\n', crcLine('IVF 00'), '\n'].join(''));
    expect(r.driver.identity).toBe('DESKID_ISO      02000307');
  });

  it('finds one tag, and several tags whose UIDs collide in the first slots', async () => {
    const r = await rig();
    place(r, { uid: A });
    expect(await r.driver.inventory(1)).toEqual([{ uid: A, antenna: 1 }]);
    const many = ['E004010000000001', 'E004010000000011', 'E004010000000021', 'E004010000000102', 'E0040100000000F3'];
    for (const uid of many) place(r, { uid });
    expect(r.field.anticollision(1).collisions).toBeGreaterThan(0);
    expect(sorted(await r.driver.inventory(1))).toEqual([A, ...many].sort());
    expect(r.toHost()).toContain(crcLine('IVF 06'));
  });

  it('selects antennas with SAP (ports from 0) and addresses a tag on the antenna it was seen on', async () => {
    const r = await rig({ antennas: 2 });
    place(r, { uid: A, afi: 0x07 }, 1);
    place(r, { uid: B, afi: 0xc2 }, 2);
    expect(await r.driver.inventory(1)).toEqual([{ uid: A, antenna: 1 }]);
    expect(await r.driver.inventory(2)).toEqual([{ uid: B, antenna: 2 }]);
    expect((await r.driver.systemInfo(A)).afi).toBe(0x07); // back to antenna 1 first
    expect(r.toReader()).toContain(`${crcLine('SAP 0')}${crcLine('INV')}${crcLine('SAP 1')}${crcLine('INV')}${crcLine('SAP 0')}${crcLine(`REQ 222B${A_ON_AIR} CRC`)}`);
    expect(await code(r.driver.inventory(3))).toBe('NOT_SUPPORTED');
  });

  it('sends no SAP to a reader with one antenna', async () => {
    const r = await rig();
    place(r, { uid: A });
    await r.driver.inventory(1);
    await r.driver.systemInfo(A);
    expect(r.toReader()).not.toContain('SAP');
  });

  it('streams inventories with CNR INV until BRK, then works as before', async () => {
    const r = await rig();
    place(r, { uid: A });
    const seen: string[][] = [];
    await r.driver.startContinuous(1, (tags) => seen.push(sorted(tags)));
    await until(() => seen.length >= 3);
    expect(await code(r.driver.inventory(1))).toBe('READER_ERROR'); // one thing at a time on the line
    place(r, { uid: B });
    await until(() => seen.some((s) => s.length === 2));
    await r.driver.stopContinuous();
    const count = seen.length;
    await new Promise((res) => setTimeout(res, 30));
    expect(seen.length).toBe(count);
    expect(seen[0]).toEqual([A]);
    expect(seen.at(-1)).toEqual([A, B].sort());
    expect(r.toReader()).toContain(`${crcLine('CNR INV')}${crcLine('BRK')}`);
    expect(r.toHost()).toContain(`${crcLine('BRA')}\n`);
    expect(sorted(await r.driver.inventory(1))).toEqual([A, B].sort());
  });

  it('reads the system information', async () => {
    const r = await rig();
    place(r, { uid: A, afi: 0x07, dsfid: 0x06, blockSize: 4, blockCount: 28 });
    expect(await r.driver.systemInfo(A)).toEqual({ uid: A, afi: 0x07, dsfid: 0x06, blockSize: 4, blockCount: 28 });
    const answer = withIsoCrc(Buffer.from(`0007${A_ON_AIR}06071B03`, 'hex')).toString('hex').toUpperCase();
    expect(r.toHost()).toContain(`${crcLine('TDT')}${crcLine(answer)}${crcLine('COK')}${crcLine('NCL')}\n`);
  });

  it('writes blocks with write multiple blocks and reads them back, in pieces the reader can carry', async () => {
    const r = await rig();
    const tag = place(r, { uid: A, blockCount: 28 });
    await r.driver.systemInfo(A);
    const image = Buffer.from(Array.from({ length: 112 }, (_, i) => (i * 7 + 1) & 0xff));
    await r.driver.writeBlocks(A, 0, image, 4);
    expect(tag.memory.equals(image)).toBe(true);
    expect(await r.driver.readBlocks(A, 0, 28)).toEqual(image);
    expect(r.toReader()).toContain(crcLine(`WRQ 2224${A_ON_AIR}000F${image.subarray(0, 64).toString('hex').toUpperCase()} CRC`));
    expect(r.toReader()).toContain(crcLine(`REQ 2223${A_ON_AIR}000F CRC`));
    expect(r.toReader()).toContain(crcLine(`REQ 2223${A_ON_AIR}100B CRC`));
  });

  it('falls back to write single block when the tag has no write multiple blocks', async () => {
    const r = await rig({ sim: { writeMultiple: false } });
    const tag = place(r, { uid: A });
    const image = Buffer.from('0102030405060708090A0B0C', 'hex');
    await r.driver.writeBlocks(A, 1, image, 4);
    expect(tag.memory.subarray(4, 16)).toEqual(image);
    expect(r.toReader()).toContain(`${crcLine(`WRQ 2221${A_ON_AIR}0101020304 CRC`)}${crcLine(`WRQ 2221${A_ON_AIR}0205060708 CRC`)}`);
    expect(await r.driver.readBlocks(A, 1, 3)).toEqual(image);
  });

  it('writes the AFI with WRQ', async () => {
    const r = await rig();
    const tag = place(r, { uid: A, afi: 0x07 });
    await r.driver.writeAfi(A, 0xc2);
    expect(tag.afi).toBe(0xc2);
    expect(r.toReader()).toContain(crcLine(`WRQ 2227${A_ON_AIR}C2 CRC`));
    expect((await r.driver.systemInfo(A)).afi).toBe(0xc2);
  });

  it('sets, resets and reads EAS; a tag without EAS reads null', async () => {
    const r = await rig();
    const tag = place(r, { uid: A, eas: false });
    place(r, { uid: B, supportsEas: false });
    expect(await r.driver.readEas(A)).toBe(false);
    await r.driver.setEas(A, true);
    expect(tag.eas).toBe(true);
    expect(await r.driver.readEas(A)).toBe(true);
    await r.driver.setEas(A, false);
    expect(await r.driver.readEas(A)).toBe(false);
    expect(r.toReader()).toContain(crcLine(`WRQ 22A204${A_ON_AIR} CRC`));
    expect(r.toReader()).toContain(crcLine(`WRQ 22A304${A_ON_AIR} CRC`));
    expect(r.toReader()).toContain(crcLine(`REQ 22A504${A_ON_AIR} CRC`));
    expect(await r.driver.readEas(B)).toBeNull();
    expect(await code(r.driver.setEas(B, true))).toBe('NOT_SUPPORTED');
  });

  it('reads the security of another maker\'s tag without NXP commands: EAS unknown, AFI read', async () => {
    const r = await rig();
    const ti = 'E007000012345678';
    place(r, { uid: ti, afi: 0x07 });
    expect(await r.driver.readEas(ti)).toBeNull();
    const sec = await r.driver.readSecurity(ti);
    expect(sec).toMatchObject({ eas: null, info: { afi: 0x07 } });
    expect(await code(r.driver.setEas(ti, true))).toBe('NOT_SUPPORTED');
    expect(r.toReader()).not.toMatch(/22A[2-5]04/); // no NXP custom command went out
  });

  it('answers TAG_LOCKED for a locked block or AFI and leaves the memory alone', async () => {
    const r = await rig();
    const tag = place(r, { uid: A });
    tag.lockedBlocks.add(2);
    expect(await code(r.driver.writeBlocks(A, 0, Buffer.alloc(16, 0xee), 4))).toBe('TAG_LOCKED');
    expect(tag.memory.subarray(0, 16)).toEqual(Buffer.alloc(16));
    tag.afiLocked = true;
    expect(await code(r.driver.writeAfi(A, 0xc2))).toBe('TAG_LOCKED');
    expect(tag.afi).toBe(0);
  });

  it('answers NO_TAG for a tag that is not there, after asking twice', async () => {
    const r = await rig();
    expect(await code(r.driver.systemInfo(B))).toBe('NO_TAG');
    expect(r.toReader().split(crcLine(`REQ 222BDDCCBBAA000104E0 CRC`))).toHaveLength(3);
    expect(r.toHost()).toContain(`${crcLine('TNR')}\n`);
  });

  it('waits out a slow tag and gets nothing from a tag that never answers', async () => {
    const r = await rig();
    place(r, { uid: A, latencyMs: 40 });
    place(r, { uid: B, failureRate: 1 });
    const t0 = Date.now();
    expect((await r.driver.systemInfo(A)).uid).toBe(A);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(35);
    expect(await r.driver.inventory(1)).toEqual([{ uid: A, antenna: 1 }]);
    expect(await code(r.driver.systemInfo(B))).toBe('NO_TAG');
  });

  it('answers TIMEOUT when the reader stays silent, and counts it', async () => {
    const r = await rig({ attach: false, driver: { timeoutMs: 50 } });
    expect(await code(r.driver.inventory(1))).toBe('TIMEOUT');
    expect(r.driver.counters.timeouts).toBe(1);
  });

  it('fails the read-back of a tag pulled away during the write, though the write landed', async () => {
    const r = await rig();
    const tag = place(r, { uid: A });
    r.field.pullOnWrite(A);
    await r.driver.writeBlocks(A, 0, Buffer.alloc(8, 0x42), 4);
    expect(await code(r.driver.readBlocks(A, 0, 2))).toBe('NO_TAG');
    expect(tag.memory.subarray(0, 8)).toEqual(Buffer.alloc(8, 0x42));
  });

  it('retries collisions and a bad CRC in the tag answer, and gives up when they persist', async () => {
    const r = await rig();
    place(r, { uid: A, afi: 0x07 });
    r.sim.faults.collisions = 2;
    expect((await r.driver.systemInfo(A)).afi).toBe(0x07);
    r.sim.faults.badTagCrc = 1;
    expect((await r.driver.systemInfo(A)).afi).toBe(0x07);
    expect(r.driver.counters.badCrc).toBe(1);
    r.sim.faults.badTagCrc = 2;
    expect(await code(r.driver.systemInfo(A))).toBe('TAG_ERROR');
    r.sim.faults.collisions = 4;
    expect(await code(r.driver.systemInfo(A))).toBe('TAG_ERROR');
    expect(r.driver.counters.badCrc).toBe(3);
  });

  it('counts noise and lines with a wrong CRC on the line and keeps working', async () => {
    const r = await rig();
    place(r, { uid: A });
    await r.driver.inventory(1);
    const before = r.driver.counters;
    r.line.device.write(Buffer.from([0x00, 0xff, 0xfe, 0x13]));
    r.line.device.write('OK! 0000\r\n');
    await new Promise((res) => setTimeout(res, 20));
    expect(await r.driver.inventory(1)).toEqual([{ uid: A, antenna: 1 }]);
    const after = r.driver.counters;
    expect(after.badCrc - before.badCrc).toBe(1);
    expect(after.resyncs - before.resyncs).toBe(2); // the noise, and the damaged answer nobody asked for
    expect(after.frames).toBeGreaterThan(before.frames);
  });

  it('takes over a reader an earlier driver left in CRC mode (CCE, then COF 4F5E)', async () => {
    const first = await rig();
    place(first, { uid: A });
    await first.driver.inventory(1);
    const line = await openMockLine(`/dev/ttyMOCK-metratec-${process.pid}-${++n}`);
    first.sim.attach(line.device); // the same reader, still in CRC and end-of-frame mode, on a reopened line
    const toReader: Buffer[] = [];
    line.device.on('data', (b: Buffer) => toReader.push(b));
    const driver = createMetratecDriver({ id: 'again', role: 'kiosk_pad', protocol: 'metratec', port: 'x', antennas: 1 }, line.host, { timeoutMs: 300 });
    try {
      expect(await driver.inventory(1)).toEqual([{ uid: A, antenna: 1 }]);
      expect(Buffer.concat(toReader).toString('latin1')).toMatch(/^BRK\rCOF 4F5E\rBRK\rEOF\rCON\r/);
    } finally {
      await driver.close();
      await line.close();
    }
  });

  it('sets the reader up again when it lost its RF interface set-up (RNW)', async () => {
    const r = await rig();
    place(r, { uid: A });
    await r.driver.inventory(1);
    r.line.host.write(crcLine('SRI OFF'));
    await new Promise((res) => setTimeout(res, 20));
    expect(await r.driver.inventory(1)).toEqual([{ uid: A, antenna: 1 }]);
    expect(r.toHost()).toContain(`${crcLine('RNW')}\n`);
    expect(r.toReader().split(crcLine('SRI SS 100'))).toHaveLength(3);
  });
});

describe('simulated metraTec reader, byte for byte', () => {
  /** Writes raw bytes as the host and returns the reader's whole answer (the simulator writes each answer at once). */
  async function raw(r: Rig, text: string): Promise<string> {
    const from = r.toHost().length;
    r.line.host.write(text);
    await until(() => r.toHost().length > from);
    await new Promise((res) => setTimeout(res, 5));
    return r.toHost().slice(from);
  }

  it('answers like a reader fresh from power-up', async () => {
    const r = await rig();
    place(r, { uid: A, afi: 0x07 });
    expect(await raw(r, 'INV\r')).toBe('RNW\r');
    expect(await raw(r, 'SRI SS 100\r')).toBe('OK!\r');
    expect(await raw(r, 'INV\r')).toBe(`${A}\rIVF 01\r`);
    expect(await raw(r, 'INV AFI C2\r')).toBe('IVF 00\r');
    expect(await raw(r, 'FOO\r')).toBe('UCO\r');
    expect(await raw(r, 'SAP 1\r')).toBe('NOS\r');
    expect(await raw(r, 'EOF\r')).toBe('OK!\r\n');
    expect(await raw(r, 'REQ 22ZZ CRC\r')).toBe('EHX\r\n');
    // the host may append the ISO CRC itself instead of asking for it with CRC; a wrong one reaches no tag
    const frame = withIsoCrc(Buffer.from(`222B${A_ON_AIR}`, 'hex'));
    expect(await raw(r, `REQ ${frame.toString('hex').toUpperCase()}\r`)).toMatch(/^TDT\r00.*\rCOK\rNCL\r\n$/);
    frame[frame.length - 1] = frame[frame.length - 1]! ^ 1;
    expect(await raw(r, `REQ ${frame.toString('hex').toUpperCase()}\r`)).toBe('TNR\r\n');
    expect(await raw(r, 'BRK\r')).toBe('NCM\r\n');
  });

  it('carries out a write sent with REQ but misses its answer (writes need WRQ timing)', async () => {
    const r = await rig();
    const tag = place(r, { uid: A });
    await raw(r, 'SRI SS 100\r');
    expect(await raw(r, `REQ 2227${A_ON_AIR}C2 CRC\r`)).toBe('TNR\r');
    expect(tag.afi).toBe(0xc2);
    expect(await raw(r, `WRQ 2227${A_ON_AIR}07 CRC\r`)).toBe(`TDT\r${withIsoCrc(Buffer.from([0])).toString('hex').toUpperCase()}\rCOK\rNCL\r`);
    expect(tag.afi).toBe(0x07);
  });

  it('answers a locked block with the ISO error 0x12 and a line without CRC in CRC mode with CCE', async () => {
    const r = await rig();
    const tag = place(r, { uid: A });
    tag.lockedBlocks.add(0);
    await raw(r, 'SRI SS 100\r');
    expect(await raw(r, `WRQ 2221${A_ON_AIR}0011223344 CRC\r`)).toBe(`TDT\r${withIsoCrc(Buffer.from([0x01, 0x12])).toString('hex').toUpperCase()}\rCOK\rNCL\r`);
    expect(await raw(r, 'CON\r')).toBe(crcLine('OK!'));
    expect(await raw(r, 'INV\r')).toBe(crcLine('CCE'));
    expect(await raw(r, 'COF 4F5E\r')).toBe('OK!\r');
  });
});

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((res) => setTimeout(res, 5));
  }
}
