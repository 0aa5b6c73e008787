import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { KioskSessionView } from '../../server/rfid/kiosk.js';
import type { Db } from '../../server/store/db.js';
import { lendablePair, staffClient } from './helpers.js';
import { startSimulatedSite, until, type SimulatedSite } from './rfid-harness.js';

// The acceptance walk of the RFID edge: real drivers (FEIG and metraTec) on serial lines, played by
// the simulators; gateway, broker, server and SQLite all real. Readers of the demo's main branch:
// kiosk-1 FEIG, kiosk-2 metraTec, gate-1 FEIG, returns-1 FEIG, entrance-1, intake-1, wand-1 metraTec.

let site: SimulatedSite;
let db: Db;
const desk = { branchId: 'main', channel: 'desk' as const, actor: 'test' };
/** What a local SMTP server received (kiosk receipts by e-mail). */
const mails: { to: string[]; body: string }[] = [];
let smtp: SMTPServer;
beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'],
    onData(stream, session, done) {
      let body = '';
      stream.on('data', (d) => { body += d; });
      stream.on('end', () => { mails.push({ to: session.envelope.rcptTo.map((r) => r.address), body }); done(); });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
  const smtpPort = (smtp.server.address() as AddressInfo).port;
  site = await startSimulatedSite({ smtpUrl: `smtp://127.0.0.1:${smtpPort}` });
  db = site.running.db;
}, 120_000);
afterAll(async () => { await site?.stop(); await new Promise<void>((r) => smtp.close(() => r())); });

const field = (reader: string) => site.fields.get(`main-${reader}`)!;
const row = <T>(sql: string, ...args: unknown[]) => db.prepare(sql).get(...args) as T;
const kioskSession = (reader = 'main-kiosk-1') => site.running.rfid.kiosks.current(reader);

/** Available books at the main branch that nobody is waiting for, each of a different title. */
function availableBooks(n: number, skip = 0): string[] {
  return (db.prepare(`SELECT min(i.barcode) AS barcode FROM item i WHERE i.status = 'available' AND i.home_branch = 'main' AND i.item_type = 'book'
      AND NOT EXISTS (SELECT 1 FROM hold h WHERE h.record_id = i.record_id AND h.status IN ('waiting', 'in_transit', 'ready'))
      GROUP BY i.record_id HAVING count(*) >= 2 ORDER BY i.record_id LIMIT ? OFFSET ?`).all(n, skip) as { barcode: string }[]).map((r) => r.barcode);
}

/** Places a hold for pickup at main on the item's title, by the first patron (other than `not`) the core accepts it for. */
function holdByAnother(barcode: string, not: string): void {
  const record = row<{ record_id: number }>('SELECT record_id FROM item WHERE barcode = ?', barcode).record_id;
  const candidates = db.prepare(`SELECT card_number FROM patron p WHERE card_number != ? AND blocked_reason IS NULL AND card_lost = 0
      AND expiry_date > date('now', '+30 day') ORDER BY p.id DESC LIMIT 50`).all(not) as { card_number: string }[];
  for (const c of candidates) if (site.running.circulation.placeHold({ cardNumber: c.card_number }, record, 'main', desk).ok) return;
  throw new Error(`no patron could place a hold on ${barcode}`);
}

describe('RFID self-service, end to end', () => {
  let patron: string;
  let lent: string[] = [];

  it('lends 2 of 3 books at a FEIG kiosk pad and refuses the one on hold for someone else, with its reason', async () => {
    patron = lendablePair(db).cardNumber;
    const [a, b, held] = availableBooks(3);
    // Someone else's hold is trapped on `held`: it sits on the hold shelf for them.
    holdByAnother(held!, patron);
    expect(site.running.circulation.checkin({ barcode: held! }, desk)).toMatchObject({ ok: true, disposition: { action: 'hold_shelf' } });

    const pad = field('kiosk-1');
    pad.place(site.cardTag(patron));
    await until('the kiosk session', () => kioskSession()?.state === 'active');
    for (const bc of [a!, b!, held!]) pad.place(site.itemTag(bc));
    await until('three books handled', () => (kioskSession()?.items ?? []).filter((i) => i.status !== 'processing').length === 3);

    const s = kioskSession()!;
    expect(s.patron?.cardNumber).toBe(patron);
    const byBarcode = new Map(s.items.map((i) => [i.barcode, i]));
    expect(byBarcode.get(a!)).toMatchObject({ status: 'checked_out', dueAt: expect.any(String) });
    expect(byBarcode.get(b!)).toMatchObject({ status: 'checked_out' });
    expect(byBarcode.get(held!)).toMatchObject({ status: 'refused', code: 'ITEM_ON_HOLD_FOR_OTHER', message: { en: expect.stringContaining('reserved'), zh: expect.any(String) } });
    // The tags themselves were desensitised (AFI on loan, EAS off), the refused one untouched.
    expect([site.itemTag(a!).afi, site.itemTag(a!).eas]).toEqual([0xc2, false]);
    expect([site.itemTag(b!).afi, site.itemTag(b!).eas]).toEqual([0xc2, false]);
    expect([site.itemTag(held!).afi, site.itemTag(held!).eas]).toEqual([0x07, true]);
    expect(row<{ status: string }>('SELECT status FROM item WHERE barcode = ?', a).status).toBe('on_loan');
    expect(row<{ status: string }>('SELECT status FROM item WHERE barcode = ?', held).status).toBe('on_hold_shelf');

    // Taking the card off the pad ends the session; the receipt lists what was lent.
    pad.clear();
    await until('the session to end', () => kioskSession() === null);
    const ended = site.rfidEvents.filter((e): e is { kind: 'kiosk'; session: KioskSessionView } => e.kind === 'kiosk').at(-1)!.session;
    expect(ended).toMatchObject({ state: 'ended', endReason: 'card_removed' });
    const librarian = site.running.seeded!.credentials.staff.find((x) => x.role === 'librarian')!;
    const staff = await staffClient(site.running.httpUrl, librarian.username, librarian.password);
    const receipt = await fetch(`${site.running.httpUrl}/api/v1/rfid/kiosk-sessions/${ended.id}/receipt`, {
      headers: { authorization: `Bearer ${site.running.seeded!.credentials.kioskTokens.find((k) => k.branchId === 'main')!.token}` },
    });
    expect(receipt.status).toBe(200);
    const text = await receipt.text();
    expect(text).toContain(a);
    expect(text).toContain('已借 Borrowed: 2');
    expect(text).toContain('Not borrowed: 1');
    expect(text.split('\n').every((l) => [...l].length <= 32)).toBe(true);
    // …and by e-mail to the patron's address on file, through the library's SMTP server.
    const email = row<{ email: string }>('SELECT email FROM patron WHERE card_number = ?', patron).email;
    const sent = await fetch(`${site.running.httpUrl}/api/v1/rfid/kiosk-sessions/${ended.id}/receipt/email`, {
      method: 'POST', headers: { authorization: `Bearer ${site.running.seeded!.credentials.kioskTokens.find((k) => k.branchId === 'main')!.token}` },
    });
    expect(sent.status).toBe(200);
    expect(await sent.json()).toMatchObject({ sentTo: email });
    expect(mails).toHaveLength(1);
    expect(mails[0]!.to).toEqual([email]);
    expect(mails[0]!.body).toContain(a);
    expect((await staff.get('/rfid/readers')).body.readers).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'main-kiosk-1', status: expect.objectContaining({ online: true }) })]));
    lent = [a!, b!];
  });

  it('lends through a metraTec kiosk pad too', async () => {
    const [c] = availableBooks(1, 5);
    const pad = field('kiosk-2');
    pad.place(site.itemTag(c!)); // books first, then the card: both orders work
    pad.place(site.cardTag(patron));
    await until('the metraTec checkout', () => kioskSession('main-kiosk-2')?.items[0]?.status === 'checked_out');
    expect([site.itemTag(c!).afi, site.itemTag(c!).eas]).toEqual([0xc2, false]);
    pad.clear();
    await until('the session to end', () => kioskSession('main-kiosk-2') === null);
    lent.push(c!);
  });

  it('reports a book pulled away in the middle of its security write as failed, and does not lend it', async () => {
    const [d] = availableBooks(1, 8);
    const pad = field('kiosk-1');
    pad.place(site.cardTag(patron));
    await until('the kiosk session', () => kioskSession()?.state === 'active');
    const tag = site.itemTag(d!);
    pad.place(tag);
    pad.pullOnWrite(tag.uid);
    await until('the failed write', () => ['failed', 'checked_out'].includes(kioskSession()?.items[0]?.status ?? ''));
    expect(kioskSession()!.items[0]).toMatchObject({ barcode: d, status: 'failed', code: 'SECURITY_WRITE_FAILED' });
    expect(row<{ status: string }>('SELECT status FROM item WHERE barcode = ?', d).status).toBe('available');
    expect(row<{ n: number }>('SELECT count(*) AS n FROM loan WHERE item_id = (SELECT id FROM item WHERE barcode = ?) AND closed_at IS NULL', d).n).toBe(0);
    // Put back on the pad (as the screen asks), it is lent and desensitised this time.
    pad.remove(tag.uid);
    await new Promise((r) => setTimeout(r, 400));
    pad.place(tag);
    await until('the second attempt', () => kioskSession()?.items.find((i) => i.barcode === d)?.status === 'checked_out');
    expect([tag.afi, tag.eas]).toEqual([0xc2, false]);
    expect(row<{ n: number }>('SELECT count(*) AS n FROM loan WHERE item_id = (SELECT id FROM item WHERE barcode = ?) AND closed_at IS NULL', d).n).toBe(1);
    pad.clear();
    await until('the session to end', () => kioskSession() === null);
  });

  it('lends a set of two parts only when both parts are on the pad, and desensitises both', async () => {
    const [set] = availableBooks(1, 20);
    const uid = row<{ tag_uid: string }>('SELECT tag_uid FROM item WHERE barcode = ?', set).tag_uid;
    const part1 = site.population.add({ uid, item: set!, isil: 'CN-100001', partsInSet: 2, partNumber: 1 });
    const part2 = site.population.add({ uid: 'E004015FFFFF0002', item: set!, isil: 'CN-100001', partsInSet: 2, partNumber: 2 });
    const pad = field('kiosk-1');
    pad.place(site.cardTag(patron));
    await until('the kiosk session', () => kioskSession()?.state === 'active');
    pad.place(part1);
    await until('waiting for the second part', () => kioskSession()?.items[0]?.status === 'waiting_for_parts');
    expect(kioskSession()!.items[0]).toMatchObject({ parts: { present: 1, of: 2 } });
    expect(row<{ status: string }>('SELECT status FROM item WHERE barcode = ?', set).status).toBe('available');
    pad.place(part2);
    await until('the set lent', () => kioskSession()?.items[0]?.status === 'checked_out');
    expect([part1.afi, part2.afi]).toEqual([0xc2, 0xc2]);
    expect(row<{ status: string }>('SELECT status FROM item WHERE barcode = ?', set).status).toBe('on_loan');
    pad.clear();
    await until('the session to end', () => kioskSession() === null);
    site.running.circulation.checkin({ barcode: set! }, desk);
  });

  it('shows a blocked patron why, and lends nothing', async () => {
    const blocked = row<{ card_number: string }>("SELECT card_number FROM patron WHERE card_tag_uid IS NOT NULL ORDER BY id DESC LIMIT 1").card_number;
    db.prepare("UPDATE patron SET blocked_reason = 'test block' WHERE card_number = ?").run(blocked);
    const [e] = availableBooks(1, 25);
    const pad = field('kiosk-1');
    pad.place(site.cardTag(blocked));
    await until('the blocked session', () => kioskSession()?.state === 'blocked');
    expect(kioskSession()!.blocks).toContain('PATRON_BLOCKED');
    pad.place(site.itemTag(e!));
    await until('the refusal', () => kioskSession()?.items[0]?.status === 'refused');
    expect(kioskSession()!.items[0]).toMatchObject({ code: 'PATRON_BLOCKED' });
    expect([site.itemTag(e!).afi, site.itemTag(e!).eas]).toEqual([0x07, true]);
    pad.clear();
    await until('the session to end', () => kioskSession() === null);
    db.prepare('UPDATE patron SET blocked_reason = NULL WHERE card_number = ?').run(blocked);
  });

  it('drops a tag event it has already handled (same event id)', async () => {
    const [f] = availableBooks(1, 30);
    expect(site.running.circulation.checkout({ cardNumber: patron }, { barcode: f! }, desk).ok).toBe(true);
    const uid = site.itemTag(f!).uid;
    const event = { id: 'dup-event-1', ts: new Date().toISOString(), readerId: 'main-returns-1', event: 'enter' as const,
      tag: { uid, antenna: 1, security: { afi: 0xc2, eas: false }, data: null } };
    site.running.rfid.onTagEvent(event);
    site.running.rfid.onTagEvent(event);
    await site.running.rfid.settled();
    const checkins = row<{ n: number }>("SELECT count(*) AS n FROM circ_event WHERE op = 'checkin' AND item_id = (SELECT id FROM item WHERE barcode = ?) AND actor = 'reader:main-returns-1'", f).n;
    expect(checkins).toBe(1);
    expect(row<{ n: number }>("SELECT count(*) AS n FROM reader_event WHERE id = 'dup-event-1'").n).toBe(1);
  });

  it('raises one gate alarm for an item not on loan and none for borrowed ones', async () => {
    const [notLent] = availableBooks(1, 12);
    const gate = field('gate-1');
    const before = site.rfidEvents.filter((e) => e.kind === 'gate_alarm').length;
    for (const bc of lent) gate.place(site.itemTag(bc), 1);
    gate.place(site.itemTag(notLent!), 1);
    await until('the gate alarm', () => site.rfidEvents.filter((e) => e.kind === 'gate_alarm').length > before);
    // Walking on through the second antenna is the same passage: still one alarm.
    gate.remove(site.itemTag(notLent!).uid);
    gate.place(site.itemTag(notLent!), 2);
    await new Promise((r) => setTimeout(r, 600));
    gate.clear();
    const alarms = site.rfidEvents.filter((e) => e.kind === 'gate_alarm').slice(before);
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ alarm: { readerId: 'main-gate-1', barcode: notLent, reason: 'NOT_ON_LOAN' } });
    await until('the alarm light on MQTT', () => site.readerMessages.some((m) => m.topic.endsWith('main-gate-1/alarm') && m.body.on === true && m.body.barcode === notLent));
  });

  it('takes the books back through the returns slot into the right bins and re-arms them', async () => {
    // One title now has a hold for pickup here; one book belongs to the other branch.
    const [holdBook, shelfBook, shelfBook2] = lent;
    holdByAnother(holdBook!, patron);
    const away = row<{ barcode: string }>(`SELECT min(barcode) AS barcode FROM item i WHERE status = 'available' AND home_branch = 'medical' AND item_type = 'book'
      AND NOT EXISTS (SELECT 1 FROM hold h WHERE h.record_id = i.record_id AND h.status IN ('waiting', 'in_transit', 'ready'))`).barcode;
    expect(site.running.circulation.checkout({ cardNumber: patron }, { barcode: away }, { ...desk, branchId: 'medical' }).ok).toBe(true);
    site.itemTag(away).afi = 0xc2;

    const slot = field('returns-1');
    const before = site.rfidEvents.filter((e) => e.kind === 'return').length;
    for (const bc of [holdBook!, shelfBook!, shelfBook2!, away]) {
      slot.place(site.itemTag(bc));
      await new Promise((r) => setTimeout(r, 300));
      slot.remove(site.itemTag(bc).uid);
    }
    await until('four returns', () => site.rfidEvents.filter((e) => e.kind === 'return').length - before === 4);
    const bins = new Map(site.rfidEvents.filter((e) => e.kind === 'return').slice(before).map((e) => [e.outcome.barcode, e.outcome]));
    expect(bins.get(holdBook!)).toMatchObject({ bin: 'hold', reason: 'hold_shelf', securityArmed: true });
    expect(bins.get(shelfBook!)).toMatchObject({ bin: 'reshelve', reason: 'reshelve' });
    expect(bins.get(away)).toMatchObject({ bin: 'transit', reason: 'transit' });
    for (const bc of [holdBook!, shelfBook!, shelfBook2!, away]) expect([site.itemTag(bc).afi, site.itemTag(bc).eas]).toEqual([0x07, true]);
    expect(row<{ n: number }>(`SELECT count(*) AS n FROM loan l JOIN item i ON i.id = l.item_id WHERE i.barcode IN (?, ?, ?, ?) AND l.closed_at IS NULL`, holdBook, shelfBook, shelfBook2, away).n).toBe(0);
    await until('the sorter commands', () => site.readerMessages.filter((m) => m.topic.endsWith('main-returns-1/sorter')).length >= 4);
  });

  it('finds the missing and the misplaced item in an inventory sweep', async () => {
    const shelf = row<{ location: string }>(`SELECT location FROM item WHERE home_branch = 'main' AND status = 'available' AND location IS NOT NULL
      GROUP BY location HAVING count(*) BETWEEN 3 AND 12 ORDER BY location LIMIT 1`).location;
    const expected = (db.prepare(`SELECT barcode FROM item WHERE home_branch = 'main' AND status = 'available' AND location = ? ORDER BY barcode`).all(shelf) as { barcode: string }[]).map((r) => r.barcode);
    const stray = row<{ barcode: string }>(`SELECT barcode FROM item WHERE home_branch = 'main' AND status = 'available' AND location > ? ORDER BY location DESC LIMIT 1`, shelf).barcode;
    const librarian = site.running.seeded!.credentials.staff.find((x) => x.role === 'librarian')!;
    const staff = await staffClient(site.running.httpUrl, librarian.username, librarian.password);
    const started = await staff.post('/rfid/inventory', { readerId: 'main-wand-1', from: shelf, to: shelf });
    expect(started.status).toBe(201);
    const missing = expected[0]!;
    const wand = field('wand-1');
    for (const bc of [...expected.slice(1), stray]) {
      wand.place(site.itemTag(bc));
      await new Promise((r) => setTimeout(r, 250));
      wand.remove(site.itemTag(bc).uid);
    }
    await until('every tag seen', () => (site.running.rfid.inventory.open('main-wand-1')?.seen ?? 0) === expected.length);
    const report = await staff.post(`/rfid/inventory/${started.body.id}/finish`, {});
    expect(report.status).toBe(200);
    expect(report.body.missing.map((f: { barcode: string }) => f.barcode)).toEqual([missing]);
    expect(report.body.misplaced.map((f: { barcode: string }) => f.barcode)).toEqual([stray]);
    expect(report.body.found).toHaveLength(expected.length - 1);
  });

  it('lets a valid card through the entrance gate, records the visit, and refuses an expired card', async () => {
    const expired = row<{ card_number: string }>("SELECT card_number FROM patron WHERE expiry_date < date('now') AND blocked_reason IS NULL AND card_lost = 0 LIMIT 1").card_number;
    const gate = field('entrance-1');
    gate.place(site.cardTag(patron));
    await until('the entrance decision', () => site.readerMessages.some((m) => m.topic.endsWith('main-entrance-1/entrance')));
    gate.clear();
    expect(site.readerMessages.find((m) => m.topic.endsWith('main-entrance-1/entrance'))!.body).toMatchObject({ allowed: true, reason: null });
    expect(row<{ n: number }>('SELECT count(*) AS n FROM visit v JOIN patron p ON p.id = v.patron_id WHERE p.card_number = ? AND allowed = 1', patron).n).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    gate.place(site.cardTag(expired));
    await until('the refusal', () => site.readerMessages.some((m) => m.topic.endsWith('main-entrance-1/entrance') && m.body.allowed === false));
    expect(site.readerMessages.filter((m) => m.topic.endsWith('main-entrance-1/entrance')).at(-1)!.body).toMatchObject({ allowed: false, reason: 'CARD_EXPIRED' });
    expect(row<{ allowed: number; reason: string }>('SELECT allowed, reason FROM visit v JOIN patron p ON p.id = v.patron_id WHERE p.card_number = ?', expired)).toEqual({ allowed: 0, reason: 'CARD_EXPIRED' });
    gate.clear();
  });

  it('programs a blank tag at the intake station, verifies it and binds it to the item', async () => {
    const item = row<{ id: number; barcode: string }>("SELECT id, barcode FROM item WHERE home_branch = 'main' ORDER BY id DESC LIMIT 1");
    db.prepare('UPDATE item SET tag_uid = NULL WHERE id = ?').run(item.id);
    const blank = site.population.add({ uid: 'E004017000009999', blank: true });
    const station = field('intake-1');
    station.place(blank);
    await until('the tag on the station', () => site.running.rfid.readers.inField('main-intake-1').length === 1);
    const librarian = site.running.seeded!.credentials.staff.find((x) => x.role === 'librarian')!;
    const staff = await staffClient(site.running.httpUrl, librarian.username, librarian.password);
    const done = await staff.post('/rfid/intake/main-intake-1/program', { barcode: item.barcode });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ uid: blank.uid, barcode: item.barcode, isil: 'CN-100001', tag: { data: { format: 'iso28560-3', primaryItemId: item.barcode, crcOk: true } } });
    expect(row<{ tag_uid: string }>('SELECT tag_uid FROM item WHERE id = ?', item.id).tag_uid).toBe(blank.uid);
    expect([blank.afi, blank.eas]).toEqual([0x07, true]);
    // The same tag cannot be given to another item.
    const again = await staff.post('/rfid/intake/main-intake-1/program', { barcode: availableBooks(1)[0] });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('TAG_BOUND_TO_OTHER_ITEM');
    station.clear();
  });

  it('shows the readers of a gateway whose connection dropped as offline, and online again when it is back', async () => {
    const gw = site.gateways.find((g) => g.gateway.opts.gatewayId === 'gw-main')!;
    // The connection breaks without a goodbye: the broker publishes the gateway's last will.
    (gw.gateway.mqtt!.stream as { destroy(): void }).destroy();
    await until('the readers offline', () => site.running.rfid.readerStatus().find((r) => r.readerId === 'main-kiosk-1')?.online === false);
    expect(site.running.rfid.readerStatus().find((r) => r.readerId === 'main-kiosk-1')).toMatchObject({ online: false, error: expect.stringContaining('gw-main') });
    expect(site.running.rfid.readerStatus().find((r) => r.readerId === 'medical-kiosk-1')).toMatchObject({ online: true });
    // mqtt.js reconnects; the gateway says again how its readers are.
    await until('the readers online again', () => site.running.rfid.readerStatus().filter((r) => r.readerId.startsWith('main-')).every((r) => r.online), 15_000);
  });
});
