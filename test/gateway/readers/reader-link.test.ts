import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReaderConfig, ReaderProtocol, ReaderStatusPayload, ReaderTagEvent } from '../../../contract/mqtt.js';
import { FeigCmd, FeigFrameDecoder, FeigStatus, IsoCmd } from '../../../contract/rfid/feig-frame.js';
import { decodeTagMemory, encodeTagMemory } from '../../../contract/rfid/tag-data.js';
import { feigSimulator } from '../../../firmware-sim/rfid/feig-sim.js';
import { ReaderField } from '../../../firmware-sim/rfid/field.js';
import { metratecSimulator } from '../../../firmware-sim/rfid/metratec-sim.js';
import { simTag, type TagSpec } from '../../../firmware-sim/rfid/population.js';
import type { ReaderSimulator } from '../../../firmware-sim/rfid/sim-readers.js';
import type { SimTag } from '../../../firmware-sim/rfid/tag.js';
import { openMockLine, type MockLine } from '../../../firmware-sim/serial/mock-line.js';
import { ReaderError, type RfidDriver } from '../../../gateway/readers/driver.js';
import { createFeigDriver } from '../../../gateway/readers/feig.js';
import { createMetratecDriver } from '../../../gateway/readers/metratec.js';
import { NotVerifiedError, ReaderLink } from '../../../gateway/readers/reader.js';

// ReaderLink with the real drivers, talking to the simulated readers over in-process serial lines
// (SerialPortMock). Only the RF field is simulated.

const BOOK = 'E004015000000A01';
const DVD = 'E004015000000B02';
const BLANK = 'E004015000000C03';
const AFI_IN_STOCK = 0x07;
const AFI_ON_LOAN = 0xc2;

/** One FEIG frame seen on the line: requests (host → reader) and replies (reader → host). */
interface Seen { at: number; command: number; status: number; data: Buffer }

interface Rig {
  link: ReaderLink;
  cfg: ReaderConfig;
  field: ReaderField;
  sim: ReaderSimulator;
  events: ReaderTagEvent[];
  statuses: ReaderStatusPayload[];
  lines: MockLine[];
  /** Times openStream was called (successful or not). */
  opens: number[];
  /** FEIG frames on the current line (FEIG rigs only). */
  requests: Seen[];
  replies: Seen[];
  /** Makes the next openStream calls fail, as a USB reader that is not back yet. */
  failOpens: number;
  /** Called as each tag event arrives / as each FEIG reply is seen (before the driver sees it). */
  onEvent?: (e: ReaderTagEvent) => void;
  onReply?: (f: Seen) => void;
}

const rigs: Rig[] = [];
let n = 0;

afterEach(async () => {
  for (const r of rigs.splice(0)) {
    await r.link.stop();
    r.sim.detach?.();
    for (const l of r.lines) await l.close();
  }
});

async function rig(o: { protocol?: ReaderProtocol; antennas?: number; pollMs?: number; replyTimeoutMs?: number } = {}): Promise<Rig> {
  const protocol = o.protocol ?? 'feig';
  const id = `${protocol}-${++n}`;
  const cfg: ReaderConfig = { id, role: 'kiosk_pad', protocol, port: `/dev/ttyMOCK-link-${process.pid}-${id}`, antennas: o.antennas ?? 1, pollMs: o.pollMs ?? 20 };
  const field = new ReaderField(cfg.antennas, 11);
  const sim = protocol === 'feig' ? feigSimulator(cfg, field) : metratecSimulator(cfg, field);
  const r: Rig = { cfg, field, sim, events: [], statuses: [], lines: [], opens: [], requests: [], replies: [], failOpens: 0, link: null as unknown as ReaderLink };
  const openStream = async (c: ReaderConfig): Promise<Duplex> => {
    r.opens.push(Date.now());
    if (r.failOpens > 0) { r.failOpens--; throw new Error(`ENOENT: no such file or directory, open '${c.port}'`); }
    const line = await openMockLine(`${c.port}-${r.lines.length}`);
    r.lines.push(line);
    if (protocol === 'feig') sniffFeig(r, line);
    sim.attach(line.device);
    return line.host;
  };
  const createDriver = (c: ReaderConfig, s: Duplex): RfidDriver =>
    protocol === 'feig' ? createFeigDriver(c, s, { replyTimeoutMs: o.replyTimeoutMs ?? 300 }) : createMetratecDriver(c, s, { timeoutMs: o.replyTimeoutMs ?? 300 });
  r.link = new ReaderLink(cfg, {
    gatewayId: 'gw-test', openStream, createDriver,
    onTagEvent: (e) => { r.events.push(e); r.onEvent?.(e); },
    onStatus: (s) => r.statuses.push(s),
  });
  rigs.push(r);
  await r.link.start();
  return r;
}

/** Decodes the FEIG frames crossing the current line (listeners added before the driver's, so they see a reply first). */
function sniffFeig(r: Rig, line: MockLine): void {
  r.requests = [];
  r.replies = [];
  const requests = new FeigFrameDecoder({ replies: false });
  const replies = new FeigFrameDecoder({ replies: true });
  const keep = (f: { command: number; status: number; data: Buffer }): Seen => ({ at: performance.now(), command: f.command, status: f.status, data: Buffer.from(f.data) });
  line.device.on('data', (c: Buffer) => { for (const f of requests.push(c)) r.requests.push(keep(f)); });
  line.host.on('data', (c: Buffer) => { for (const f of replies.push(c)) { const seen = keep(f); r.replies.push(seen); r.onReply?.(seen); } });
}

const isInventory = (s: Seen) => s.command === FeigCmd.ISO && s.data[0] === IsoCmd.INVENTORY;

function place(r: Rig, spec: TagSpec, antenna = 1): SimTag {
  const tag = simTag(spec);
  r.field.place(tag, antenna);
  return tag;
}

const until = async (what: string, cond: () => boolean, ms = 3000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((res) => setTimeout(res, 5));
  }
};
const wait = (ms: number) => new Promise((res) => setTimeout(res, ms));
const enters = (r: Rig, uid?: string) => r.events.filter((e) => e.event === 'enter' && (uid === undefined || e.tag.uid === uid));
const leaves = (r: Rig, uid?: string) => r.events.filter((e) => e.event === 'leave' && (uid === undefined || e.tag.uid === uid));
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => { throw new Error('resolved, a rejection was expected'); }, (e: unknown) => e);
}

describe.each(['feig', 'metratec'] as const)('ReaderLink with the %s driver and simulator', (protocol) => {
  it('given a programmed book, when it is placed on the reader, then one enter event carries its ISO 28560 data and security', async () => {
    const r = await rig({ protocol });
    await until('the reader online', () => r.link.isOnline);
    expect(r.statuses.at(-1)).toMatchObject({ readerId: r.cfg.id, online: true, protocol, port: r.cfg.port });

    place(r, { uid: BOOK, item: '31234000012345', isil: 'CN-110000-1', afi: AFI_IN_STOCK, eas: true });
    await until('the enter event', () => r.events.length > 0);
    await wait(100); // several more polls see the tag: it is still one enter

    expect(r.events).toHaveLength(1);
    const [e] = r.events;
    expect(e).toMatchObject({ readerId: r.cfg.id, event: 'enter' });
    expect(e!.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Date(e!.ts).toISOString()).toBe(e!.ts);
    expect(e!.tag).toEqual({
      uid: BOOK, antenna: 1, security: { afi: AFI_IN_STOCK, eas: true },
      data: { format: 'iso28560-3', typeOfUsage: 1, primaryItemId: '31234000012345', partsInSet: 1, partNumber: 1, country: 'CN', isil: 'CN-110000-1', crcOk: true },
    });
    expect(r.link.tags()).toEqual([e!.tag]);
  });

  it('given a tag in the field, when it is taken away, then exactly one leave event follows and the tag is no longer listed', async () => {
    const r = await rig({ protocol });
    place(r, { uid: BOOK, item: 'B-1' });
    await until('the enter event', () => enters(r).length === 1);

    r.field.remove(BOOK);
    await until('the leave event', () => leaves(r).length === 1);
    await wait(100);

    expect(r.events.map((e) => [e.event, e.tag.uid])).toEqual([['enter', BOOK], ['leave', BOOK]]);
    expect(leaves(r)[0]!.tag.data?.primaryItemId).toBe('B-1');
    expect(r.link.tags()).toEqual([]);
  });

  it('given a two-antenna reader, when tags lie on antenna 1 and antenna 2, then each enter event names its antenna', async () => {
    const r = await rig({ protocol, antennas: 2 });
    place(r, { uid: BOOK, item: 'ON-ANTENNA-1' }, 1);
    place(r, { uid: DVD, item: 'ON-ANTENNA-2' }, 2);
    await until('both enter events', () => enters(r).length === 2);

    const byUid = Object.fromEntries(enters(r).map((e) => [e.tag.uid, e.tag]));
    expect(byUid[BOOK]).toMatchObject({ antenna: 1, data: { primaryItemId: 'ON-ANTENNA-1' } });
    expect(byUid[DVD]).toMatchObject({ antenna: 2, data: { primaryItemId: 'ON-ANTENNA-2' } });

    r.field.remove(DVD);
    await until('the leave of the tag on antenna 2', () => leaves(r).length === 1);
    expect(leaves(r)[0]!.tag).toMatchObject({ uid: DVD, antenna: 2 });
    expect(r.link.tags().map((t) => t.uid)).toEqual([BOOK]);
  });

  it('given a book in stock, when writeSecurity sets the on-loan AFI and EAS off, then it returns the state read back and the tag carries it', async () => {
    const r = await rig({ protocol });
    const tag = place(r, { uid: BOOK, item: 'LEND-ME', afi: AFI_IN_STOCK, eas: true });
    await until('the enter event', () => enters(r).length === 1);

    const state = await r.link.writeSecurity(BOOK, AFI_ON_LOAN, false);

    expect(state).toEqual({ afi: AFI_ON_LOAN, eas: false });
    expect([tag.afi, tag.eas]).toEqual([AFI_ON_LOAN, false]);
    expect(r.link.tags()[0]!.security).toEqual({ afi: AFI_ON_LOAN, eas: false });
    // and back on return
    expect(await r.link.writeSecurity(BOOK, AFI_IN_STOCK, true)).toEqual({ afi: AFI_IN_STOCK, eas: true });
    expect([tag.afi, tag.eas]).toEqual([AFI_IN_STOCK, true]);
  });

  it('given a tag whose AFI is locked, when writeSecurity runs, then it rejects with TAG_LOCKED and nothing claims the write happened', async () => {
    const r = await rig({ protocol });
    const tag = place(r, { uid: BOOK, item: 'LOCKED', afi: AFI_IN_STOCK, eas: true });
    tag.afiLocked = true;
    await until('the enter event', () => enters(r).length === 1);

    const e = await rejection(r.link.writeSecurity(BOOK, AFI_ON_LOAN, false));

    expect(e).toBeInstanceOf(ReaderError);
    expect((e as ReaderError).code).toBe('TAG_LOCKED');
    expect([tag.afi, tag.eas]).toEqual([AFI_IN_STOCK, true]);
    expect(r.link.tags()[0]!.security).toEqual({ afi: AFI_IN_STOCK, eas: true });
    expect(r.link.isOnline).toBe(true); // a refusing tag is not a lost reader
  });

  it('given a tag pulled away as the write reaches it, when writeSecurity runs, then it rejects and the tag then leaves', async () => {
    const r = await rig({ protocol });
    const tag = place(r, { uid: BOOK, item: 'PULLED', afi: AFI_IN_STOCK, eas: true });
    await until('the enter event', () => enters(r).length === 1);
    r.field.pullOnWrite(BOOK);

    const e = await rejection(r.link.writeSecurity(BOOK, AFI_ON_LOAN, false));

    expect(e).toBeInstanceOf(ReaderError);
    expect(['NO_TAG', 'TAG_GONE']).toContain((e as ReaderError).code);
    expect(tag.eas).toBe(true); // the EAS write never reached it
    expect(r.link.tags()[0]?.security).toEqual({ afi: AFI_IN_STOCK, eas: true });
    await until('the leave event', () => leaves(r).length === 1);
  });

  it('given a tag that loses the AFI it was written (the read-back differs), when writeSecurity runs, then it rejects with NotVerifiedError', async () => {
    const r = await rig({ protocol });
    const tag = place(r, { uid: BOOK, item: 'FORGETFUL', afi: AFI_IN_STOCK, eas: true });
    await until('the enter event', () => enters(r).length === 1);
    // The write is acknowledged, but the EEPROM does not keep it: the tag reads back the old AFI.
    tag.onWrite = (what) => { if (what === 'afi') queueMicrotask(() => { tag.afi = AFI_IN_STOCK; }); };

    const e = await rejection(r.link.writeSecurity(BOOK, AFI_ON_LOAN));

    expect(e).toBeInstanceOf(NotVerifiedError);
    expect(r.link.tags()[0]!.security).toEqual({ afi: AFI_IN_STOCK, eas: true });
  });

  it('given a blank tag from the supplier, when programTag writes an item, then the memory is written, verified and reported', async () => {
    const r = await rig({ protocol });
    const tag = place(r, { uid: BLANK, blank: true });
    await until('the enter event', () => enters(r).length === 1);
    expect(enters(r)[0]!.tag.data?.format).toBe('blank');
    const fields = { typeOfUsage: 1, primaryItemId: '39999000000017', partsInSet: 1, partNumber: 1, country: 'DE', isil: 'DE-101' };

    const report = await r.link.programTag(BLANK, encodeTagMemory(fields), AFI_IN_STOCK);

    const expected = { format: 'iso28560-3', ...fields, crcOk: true };
    expect(report).toMatchObject({ uid: BLANK, antenna: 1, security: { afi: AFI_IN_STOCK }, data: expected });
    expect(decodeTagMemory(tag.memory, tag.dsfid)).toEqual(expected); // what is really on the tag now
    expect(tag.afi).toBe(AFI_IN_STOCK);
    expect(r.link.tags()[0]!.data).toEqual(expected);
  });
});

describe('ReaderLink and its serial line (FEIG)', () => {
  it('given a tag in the field, when it is removed, then leave comes only after leaveAfterMisses polls without it', async () => {
    const r = await rig({ pollMs: 15 });
    r.link.leaveAfterMisses = 3;
    place(r, { uid: BOOK, item: 'MISSES' });
    await until('the enter event', () => enters(r).length === 1);

    const from = r.replies.length;
    const emptyInventories = () => r.replies.slice(from).filter((f) => f.command === FeigCmd.ISO && f.status === FeigStatus.NO_TRANSPONDER).length;
    let missesAtLeave = -1;
    r.onEvent = (e) => { if (e.event === 'leave') missesAtLeave = emptyInventories(); };
    r.field.remove(BOOK);
    await until('the leave event', () => leaves(r).length === 1);

    expect(missesAtLeave).toBe(3);
    expect(r.events.map((e) => e.event)).toEqual(['enter', 'leave']);
  });

  it('given a tag missed by one poll only, when it answers again, then there is neither leave nor a second enter', async () => {
    const r = await rig({ pollMs: 15 });
    place(r, { uid: BOOK, item: 'FLAKY' });
    await until('the enter event', () => enters(r).length === 1);

    // Take it away for exactly one empty inventory reply, then put it back at once.
    const tag = r.field.tags()[0]!;
    let missed = 0;
    r.onReply = (f) => { if (f.status === FeigStatus.NO_TRANSPONDER && !r.field.has(BOOK)) { missed++; r.field.place(tag); } };
    r.field.remove(BOOK);
    await until('one empty inventory', () => missed === 1);
    await wait(150);

    expect(r.events.map((e) => e.event)).toEqual(['enter']);
  });

  it('given a running reader, when its serial line closes, then it reports offline with the error and reopens with exponential backoff', async () => {
    const r = await rig({ pollMs: 20 });
    place(r, { uid: BOOK, item: 'STAYS' });
    await until('the enter event', () => enters(r).length === 1);
    expect(r.opens).toHaveLength(1);

    // The USB reader is unplugged: the line closes, and the device is not back at the first attempt.
    r.failOpens = 1;
    const lostAt = Date.now();
    await r.lines[0]!.close();
    await until('the offline status', () => r.statuses.some((s) => !s.online));
    expect(r.statuses.at(-1)).toMatchObject({ online: false, error: 'serial line closed', counters: { reopens: 0 } });
    expect(r.link.isOnline).toBe(false);
    await expect(r.link.writeSecurity(BOOK, AFI_ON_LOAN)).rejects.toMatchObject({ code: 'CLOSED' });

    await until('the reader online again', () => r.link.isOnline, 4000);
    expect(r.opens).toHaveLength(3);
    const [first, second] = [r.opens[1]! - lostAt, r.opens[2]! - r.opens[1]!];
    expect(first).toBeGreaterThanOrEqual(480);
    expect(first).toBeLessThan(950);
    expect(second).toBeGreaterThanOrEqual(980); // doubled after the failed attempt
    expect(second).toBeLessThan(1950);
    const failed = r.statuses.find((s) => !s.online && s.error?.startsWith('ENOENT'));
    expect(failed?.counters.reopens).toBe(1);
    expect(r.statuses.at(-1)).toMatchObject({ online: true, counters: { reopens: 2 } });
    expect(r.statuses.at(-1)!.error).toBeUndefined();

    // It works again on the new line: the tag still there is no new enter, a write goes through.
    expect(await r.link.writeSecurity(BOOK, AFI_ON_LOAN, false)).toEqual({ afi: AFI_ON_LOAN, eas: false });
    expect(enters(r)).toHaveLength(1);

    // After a successful open the backoff starts again at 0.5 s.
    const lostAgain = Date.now();
    r.lines[1]!.host.destroy(new Error('EIO: input/output error'));
    await until('the second offline status', () => r.statuses.at(-1)!.online === false);
    expect(r.statuses.at(-1)!.error).toBe('EIO: input/output error');
    await until('the reader online once more', () => r.link.isOnline, 2000);
    expect(r.opens[3]! - lostAgain).toBeLessThan(950);
    expect(r.statuses.at(-1)).toMatchObject({ online: true, counters: { reopens: 3 } });
  });

  it('given a reader that stops answering, when it is reopened, then it reports why and polls at its pace on one poll loop only', async () => {
    const pollMs = 80;
    const r = await rig({ pollMs, replyTimeoutMs: 60 });
    place(r, { uid: BOOK, item: 'SILENT' });
    await until('the enter event', () => enters(r).length === 1);

    r.sim.detach?.(); // the reader hangs: nothing answers on the line any more
    await until('the offline status', () => r.statuses.some((s) => !s.online), 3000);
    expect(r.statuses.at(-1)).toMatchObject({ online: false, error: 'the reader stopped answering' });
    expect(r.statuses.at(-1)!.counters.timeouts).toBeGreaterThanOrEqual(3);

    await until('the reader online again', () => r.link.isOnline, 2000);
    expect(r.opens).toHaveLength(2);
    expect(r.statuses.at(-1)).toMatchObject({ online: true, counters: { reopens: 1 } });

    // Polls on the new line come one pollMs apart: a poll loop left over from the lost line would halve the gaps.
    await until('eight inventories on the new line', () => r.requests.filter(isInventory).length >= 8, 3000);
    const times = r.requests.filter(isInventory).map((f) => f.at);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(Math.min(...gaps)).toBeGreaterThan(pollMs * 0.75);
    expect(enters(r)).toHaveLength(1);
  });

  it('given garbage on the line, when the status interval passes, then the republished status counts the resynchronisation', async () => {
    const r = await rig();
    r.link.statusEveryMs = 50;
    await until('the reader online', () => r.link.isOnline);
    const before = r.statuses.length;
    // A burst of noise between frames, as a loose connector makes: the driver drops it and resynchronises.
    r.lines.at(-1)!.device.write(Buffer.from([0x00, 0x13, 0x37, 0xfe, 0x42]));
    await until('a status with the resync counted', () => r.statuses.slice(before).some((s) => s.online && s.counters.resyncs > 0), 3000);
    expect(r.statuses.at(-1)).toMatchObject({ online: true, counters: { reopens: 0 } });
    expect(r.statuses.at(-1)!.counters.frames).toBeGreaterThan(0);
  });

  it('given a polling link, when it is stopped, then it is offline, its line is closed and nothing polls any more', async () => {
    const r = await rig({ pollMs: 10 });
    await until('some polls', () => r.requests.filter(isInventory).length >= 2);

    await r.link.stop();
    const sent = r.requests.length;
    await wait(100);

    expect(r.requests.length).toBe(sent);
    expect(r.link.isOnline).toBe(false);
    expect(r.statuses.at(-1)).toMatchObject({ online: false });
    expect(r.lines[0]!.host.isOpen).toBe(false);
  });
});
