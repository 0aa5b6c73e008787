import { createHash } from 'node:crypto';
import type { Db } from '../store/db.js';
import { createRecord } from '../catalogue/records.js';
import { createItem } from '../catalogue/items.js';
import { insertPatron } from '../patrons/patrons.js';
import { upsertPolicyRule } from '../circulation/policy.js';
import { Circulation, type Channel } from '../circulation/circulation.js';
import { CLC_CLASSES } from '../catalogue/classification.js';
import { addDays, localDate, zonedTimeToUtc } from '../circulation/calendar.js';
import { hashSecret, tokenHash } from '../auth/passwords.js';
import { fixedClock } from '../clock.js';
import { simCameraUrls } from '../../firmware-sim/cameras/port.js';
import { Random } from './random.js';
import { seedCrm } from './crm.js';
import { shapeFromLog, type LogShape } from './shape.js';
import { CLASS_WORDS, DEPARTMENTS, EN_AUTHORS, GIVEN, HOLIDAYS, PUBLISHERS_EN, PUBLISHERS_ZH, SURNAMES, TITLE_FORMS_EN, TITLE_FORMS_ZH } from './words.js';

export interface SeedOptions {
  seed?: number;
  now?: Date;
  onProgress?: (step: string, done: number, total: number) => void;
  /** Sizes; the defaults make the demo library. */
  records?: number;
  patrons?: number;
}

export interface DemoCredentials {
  staff: { username: string; password: string; role: 'admin' | 'librarian' }[];
  patronPin: string;
  /** Cards of patrons in good standing, to try at a kiosk or in the catalogue. */
  patronCards: string[];
  kioskTokens: { deviceId: string; branchId: string; token: string }[];
  /** SIP2 logins for self-check machines, one per branch. */
  sip2Accounts: { login: string; password: string; branchId: string; institutionId: string }[];
}

export interface SeedSummary {
  branches: number; records: number; items: number; patrons: number; loans: number; openLoans: number; holds: number;
  zones: number; devices: number; credentials: DemoCredentials;
}

const TZ = 'Asia/Shanghai';
const DAY = 86_400_000;
const CATEGORY_WEIGHTS: [string, number][] = [['undergraduate', 0.55], ['postgraduate', 0.2], ['faculty', 0.12], ['staff', 0.06], ['public', 0.07]];
const BRANCHES = [
  { id: 'main', name: 'Main Library', nameZh: '主馆', isil: 'CN-100001', address: '1 University Road',
    hours: { 0: ['09:00', '17:00'], 1: ['08:00', '22:00'], 2: ['08:00', '22:00'], 3: ['08:00', '22:00'], 4: ['08:00', '22:00'], 5: ['08:00', '22:00'], 6: ['09:00', '17:00'] } },
  { id: 'medical', name: 'Medical Branch', nameZh: '医学分馆', isil: 'CN-100002', address: '8 Hospital Street',
    hours: { 1: ['08:30', '18:00'], 2: ['08:30', '18:00'], 3: ['08:30', '18:00'], 4: ['08:30', '18:00'], 5: ['08:30', '18:00'], 6: ['09:00', '12:00'] } },
] as const;
const PATRON_PIN = '1234';

function isbn13(rnd: Random): string {
  const body = `978${rnd.int(0, 1) ? '7' : '0'}${rnd.digits(8)}`;
  const sum = [...body].reduce((s, d, i) => s + Number(d) * (i % 2 ? 3 : 1), 0);
  return body + String((10 - (sum % 10)) % 10);
}

/** Seeds the demo library into an empty database. Deterministic for a seed and a `now`. */
export async function seedDemo(db: Db, opts: SeedOptions = {}): Promise<SeedSummary> {
  if (db.prepare('SELECT 1 FROM record LIMIT 1').get() || db.prepare('SELECT 1 FROM patron LIMIT 1').get()) {
    throw new Error('the database already has records or patrons; the demo library is seeded only into an empty one');
  }
  const seed = opts.seed ?? 20261124;
  const rnd = new Random(seed);
  const now = new Date(Math.floor((opts.now ?? new Date()).getTime() / 1000) * 1000);
  const progress = opts.onProgress ?? (() => undefined);
  const shape = shapeFromLog();
  // scrypt is deliberately slow: the demo PIN is hashed once and shared by every demo patron.
  const [pinHash, adminHash, librarianHash] = await Promise.all([hashSecret(PATRON_PIN), hashSecret('admin-demo-2026'), hashSecret('librarian-demo-2026')]);
  const credentials: DemoCredentials = {
    staff: [{ username: 'admin', password: 'admin-demo-2026', role: 'admin' }, { username: 'librarian', password: 'librarian-demo-2026', role: 'librarian' }],
    patronPin: PATRON_PIN, patronCards: [], kioskTokens: [],
    sip2Accounts: BRANCHES.map((b) => ({ login: `sc-${b.id}`, password: createHash('sha256').update(`shelfsense-demo-sip2:${seed}:${b.id}`).digest('hex').slice(0, 12), branchId: b.id, institutionId: b.isil })),
  };

  const counts = db.transaction(() => {
    const ts = now.toISOString();
    progress('branches and calendars', 0, 1);
    seedBranches(db, now);
    db.prepare('INSERT INTO staff_user (username, display_name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?)')
      .run('admin', '系统管理员 Admin', 'admin', adminHash, ts, 'librarian', '流通馆员 Librarian', 'librarian', librarianHash, ts);
    seedPolicies(db);
    const { zones, devices } = seedZonesAndDevices(db, seed, ts, credentials);
    progress('branches and calendars', 1, 1);
    const itemsByClass = seedCatalogue(db, rnd, shape, opts.records ?? 2200, now, progress);
    const patrons = seedPatrons(db, rnd, shape, opts.patrons ?? 320, pinHash, now, progress);
    const history = seedHistory(db, rnd, shape, patrons, itemsByClass, now, progress);
    seedCrm(db, seed, now);
    credentials.patronCards = (db.prepare(`SELECT card_number FROM patron p WHERE blocked_reason IS NULL AND card_lost = 0 AND expiry_date > ?
        AND NOT EXISTS (SELECT 1 FROM loan WHERE patron_id = p.id AND closed_at IS NULL AND due_at < ?) ORDER BY id LIMIT 3`)
      .all(localDate(now, TZ), ts) as { card_number: string }[]).map((r) => r.card_number);
    return { zones, devices, ...history };
  })();

  const n = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  return {
    branches: BRANCHES.length, records: n('SELECT count(*) AS n FROM record'), items: n('SELECT count(*) AS n FROM item'),
    patrons: n('SELECT count(*) AS n FROM patron'), loans: n('SELECT count(*) AS n FROM loan'),
    openLoans: n('SELECT count(*) AS n FROM loan WHERE closed_at IS NULL'),
    holds: n("SELECT count(*) AS n FROM hold WHERE status IN ('waiting', 'in_transit', 'ready')"),
    zones: counts.zones, devices: counts.devices, credentials,
  };
}

function seedBranches(db: Db, now: Date) {
  const hours = db.prepare('INSERT INTO opening_hours (branch_id, weekday, opens, closes) VALUES (?, ?, ?, ?)');
  const closed = db.prepare('INSERT INTO closed_date (branch_id, date, reason) VALUES (?, ?, ?)');
  const from = addDays(localDate(now, TZ), -400);
  const to = addDays(localDate(now, TZ), 400);
  for (const b of BRANCHES) {
    db.prepare('INSERT INTO branch (id, name, name_zh, isil, address) VALUES (?, ?, ?, ?, ?)').run(b.id, b.name, b.nameZh, b.isil, b.address);
    for (const [weekday, [opens, closes]] of Object.entries(b.hours)) hours.run(b.id, Number(weekday), opens, closes);
    for (const [date, reason] of HOLIDAYS) if (date >= from && date <= to) closed.run(b.id, date, reason);
  }
  closed.run('medical', addDays(localDate(now, TZ), 20), '设备检修 Maintenance');
}

function seedPolicies(db: Db) {
  upsertPolicyRule(db, { patronCategory: 'undergraduate', loanDays: 30, maxLoans: 10, renewals: 1 });
  upsertPolicyRule(db, { patronCategory: 'postgraduate', loanDays: 60, maxLoans: 20 });
  upsertPolicyRule(db, { patronCategory: 'faculty', loanDays: 90, maxLoans: 40, renewals: 3, renewalDays: 60 });
  upsertPolicyRule(db, { patronCategory: 'staff', loanDays: 30, maxLoans: 15 });
  upsertPolicyRule(db, { patronCategory: 'public', loanDays: 21, maxLoans: 5, finePerDayCents: 10, maxFineCents: 2000, graceDays: 2, holdsAllowed: false });
  upsertPolicyRule(db, { itemType: 'reference', inLibraryOnly: true });
  upsertPolicyRule(db, { itemType: 'journal', loanDays: 7, renewals: 0 });
  upsertPolicyRule(db, { branchId: 'medical', itemType: 'media', loanDays: 3, renewals: 0 });
}

function seedZonesAndDevices(db: Db, seed: number, ts: string, credentials: DemoCredentials) {
  const zone = db.prepare('INSERT INTO zone (id, branch_id, name, profile) VALUES (?, ?, ?, ?)');
  const device = db.prepare('INSERT INTO device (id, kind, branch_id, zone_id, name, role, config, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  let zones = 0, devices = 0;
  const add = (id: string, kind: string, branch: string, zoneId: string | null, name: string, role: string | null, config: object, token: string | null = null) => {
    device.run(id, kind, branch, zoneId, name, role, JSON.stringify(config), token ? tokenHash(token) : null, ts);
    devices++;
  };
  for (const b of BRANCHES) {
    const zoneNames = new Map<string, string>();
    const z = (suffix: string, name: string, profile: string) => { zone.run(`${b.id}-${suffix}`, b.id, name, profile); zones++; zoneNames.set(`${b.id}-${suffix}`, name); return `${b.id}-${suffix}`; };
    const stacks = z('stacks', `${b.nameZh}书库 Stacks`, 'stacks');
    const reading = z('reading', `${b.nameZh}阅览室 Reading room`, 'reading_room');
    const zoneIds = [stacks, reading];
    if (b.id === 'main') zoneIds.push(z('special', '特藏室 Special collections', 'special_collections'), z('exhibition', '展厅 Exhibition', 'exhibition'));
    const gw = `gw-${b.id}`;
    add(gw, 'gateway', b.id, null, `${b.name} gateway`, null, {});
    const readers: [string, string, string][] = [['kiosk-1', 'kiosk_pad', 'feig'], ['kiosk-2', 'kiosk_pad', 'metratec'], ['gate-1', 'security_gate', 'feig'],
      ['returns-1', 'returns_slot', 'feig'], ['entrance-1', 'entrance_gate', 'metratec']];
    if (b.id === 'main') readers.push(['intake-1', 'intake_station', 'metratec'], ['wand-1', 'inventory_wand', 'metratec']);
    readers.forEach(([suffix, role, protocol]) => add(`${b.id}-${suffix}`, 'reader', b.id, reading, `${b.name} ${role.replace('_', ' ')}`, role,
      // Relative ports live in the data directory: the demo's simulated serial lines (firmware-sim, socat ptys).
      { gateway: gw, protocol, port: `dev/${b.id}-${suffix}`, antennas: role === 'security_gate' ? 2 : 1 }));
    const token = createHash('sha256').update(`shelfsense-demo:${seed}:${b.id}-kiosk`).digest('base64url');
    add(`${b.id}-kiosk`, 'kiosk', b.id, reading, `${b.name} self-check kiosk`, null, { readers: [`${b.id}-kiosk-1`] }, token);
    credentials.kioskTokens.push({ deviceId: `${b.id}-kiosk`, branchId: b.id, token });
    for (const zoneId of zoneIds) {
      const z2m = (kind: string) => ({ gateway: gw, z2mName: `${b.id}/${zoneId.slice(b.id.length + 1)}/${kind}` });
      add(`${zoneId}-climate`, 'sensor', b.id, zoneId, 'temperature/humidity', 'climate', { ...z2m('climate'), interval_s: 60 });
      add(`${zoneId}-smoke`, 'sensor', b.id, zoneId, 'smoke detector', 'smoke', z2m('smoke'));
      add(`${zoneId}-ac`, 'actuator', b.id, zoneId, 'air conditioning', 'ac', z2m('ac'));
      if (zoneId.endsWith('stacks') || zoneId.endsWith('special')) {
        add(`${zoneId}-water`, 'sensor', b.id, zoneId, 'water leak', 'water', z2m('water'));
        add(`${zoneId}-ventilation`, 'actuator', b.id, zoneId, 'ventilation', 'ventilation', z2m('ventilation'));
      }
      if (zoneId.endsWith('reading') || zoneId.endsWith('exhibition')) {
        add(`${zoneId}-light`, 'sensor', b.id, zoneId, 'illuminance', 'light', z2m('light'));
        add(`${zoneId}-curtain`, 'actuator', b.id, zoneId, 'curtain', 'curtain', z2m('curtain'));
      }
      // Cameras show the simulator's feed (firmware-sim/cameras, port SHELFSENSE_SIM_CAMERA_PORT, default 8090).
      if (b.id === 'main') add(`${zoneId}-camera`, 'camera', b.id, zoneId, `${zoneNames.get(zoneId)} camera`, null, { name: `${zoneNames.get(zoneId)} camera`, ...simCameraUrls(`${zoneId}-camera`) });
    }
    add(`${b.id}-entrance-camera`, 'camera', b.id, null, `${b.name} entrance camera`, null, { name: `${b.name} entrance camera`, ...simCameraUrls(`${b.id}-entrance-camera`), entrance: true });
    add(`${b.id}-entrance-motion`, 'sensor', b.id, reading, 'entrance motion', 'motion', { gateway: gw, z2mName: `${b.id}/entrance/motion` });
    add(`${b.id}-entrance-door`, 'sensor', b.id, reading, 'entrance door', 'contact', { gateway: gw, z2mName: `${b.id}/entrance/door` });
    add(`${b.id}-siren`, 'actuator', b.id, reading, 'siren and strobe', 'siren', { gateway: gw, z2mName: `${b.id}/siren` });
  }
  return { zones, devices };
}

/** Records over the CLC classes weighted like the real log (every class has some), 1–3 items each. */
function seedCatalogue(db: Db, rnd: Random, shape: LogShape, nRecords: number, now: Date, progress: NonNullable<SeedOptions['onProgress']>) {
  const classes = [...CLC_CLASSES];
  const weights = classes.map((c) => 0.004 + (shape.classShares[c] ?? 0));
  const itemsByClass = new Map<string, number[]>(classes.map((c) => [c, []]));
  let barcode = 30000000;
  for (let i = 0; i < nRecords; i++) {
    const cls = i < classes.length ? classes[i]! : classes[rnd.weighted(weights)]!;
    const words = CLASS_WORDS[cls]!;
    const zh = rnd.chance(0.7);
    const form = rnd.pick(zh ? TITLE_FORMS_ZH : TITLE_FORMS_EN);
    const title = form.replace('{w}', rnd.pick(zh ? words.zh : words.en)).replace('{n}', String(rnd.int(2, 9)));
    const authors = zh ? [rnd.pick(SURNAMES) + rnd.pick(GIVEN)] : [rnd.pick(EN_AUTHORS), ...(rnd.chance(0.4) ? [rnd.pick(EN_AUTHORS)] : [])];
    const mark = `${cls}${rnd.int(1, 99)}${rnd.chance(0.5) ? `.${rnd.int(1, 9)}` : ''}`;
    const record = createRecord(db, {
      title, authors, publisher: zh ? rnd.pick(PUBLISHERS_ZH) : rnd.pick(PUBLISHERS_EN), year: rnd.int(1990, now.getUTCFullYear()),
      isbn: isbn13(rnd), language: zh ? 'zh' : 'en', classScheme: 'clc', classification: mark, subjects: [words.subject],
    }, now);
    const copies = rnd.weighted([0, 0.45, 0.4, 0.15]);
    for (let c = 0; c < copies; c++) {
      const type = rnd.chance(0.04) ? 'reference' : cls === 'Z' && rnd.chance(0.5) ? 'reference' : rnd.chance(0.03) ? 'journal' : rnd.chance(0.02) ? 'media' : 'book';
      const home = rnd.chance(cls === 'R' || cls === 'Q' ? 0.45 : 0.15) ? 'medical' : 'main';
      const status = rnd.chance(0.01) ? 'in_processing' : rnd.chance(0.005) ? 'withdrawn' : rnd.chance(0.005) ? 'missing' : 'available';
      const item = createItem(db, {
        recordId: record.id, barcode: String(barcode++), tagUid: `E0040150${rnd.hex(8)}`, ownerIsil: home === 'main' ? 'CN-100001' : 'CN-100002',
        homeBranch: home, location: `${home === 'main' ? 'M' : 'Y'}-${cls}-${String(rnd.int(1, 40)).padStart(2, '0')}`,
        callNumber: `${mark}/${rnd.int(1, 999)}`, itemType: type, status, priceCents: rnd.int(20, 300) * 100,
      }, now);
      if (type !== 'reference' && status === 'available') itemsByClass.get(cls)!.push(item.id);
    }
    if (i % 200 === 0 || i === nRecords - 1) progress('records and items', i + 1, nRecords);
  }
  return itemsByClass;
}

/**
 * Demo consent, derived from the card number so it does not shift the seeded stream: about 70 % keep
 * their reading history and allow profiling, about 55 % accept care messages; e-mail and in-app on.
 */
function seedConsent(db: Db, patronId: number, cardNumber: string, now: Date) {
  const h = createHash('sha256').update(`consent:${cardNumber}`).digest();
  const share = (byte: number) => h[byte]! / 256;
  const history = share(0) < 0.7;
  db.prepare(`INSERT INTO patron_consent (patron_id, reading_history, profiling, marketing, channel_email, channel_sms, channel_in_app, updated_at)
    VALUES (?, ?, ?, ?, 1, 0, 1, ?)`).run(patronId, history ? 1 : 0, history && share(1) < 0.95 ? 1 : 0, share(2) < 0.55 ? 1 : 0, now.toISOString());
}

interface DemoPatron { id: number; category: string; branch: string; loans: number; mix: Record<string, number> }

function seedPatrons(db: Db, rnd: Random, shape: LogShape, n: number, pinHash: string, now: Date, progress: NonNullable<SeedOptions['onProgress']>): DemoPatron[] {
  const out: DemoPatron[] = [];
  const today = localDate(now, TZ);
  for (let i = 0; i < n; i++) {
    const category = i < CATEGORY_WEIGHTS.length ? CATEGORY_WEIGHTS[i]![0] : CATEGORY_WEIGHTS[rnd.weighted(CATEGORY_WEIGHTS.map((c) => c[1]))]![0];
    const age = category === 'undergraduate' ? rnd.int(18, 23) : category === 'postgraduate' ? rnd.int(23, 32) : rnd.int(25, 65);
    const expired = rnd.chance(0.03);
    const reader = rnd.int(0, shape.loansPerReader.length - 1);
    const branch = rnd.chance(0.3) ? 'medical' : 'main';
    const name = rnd.pick(SURNAMES) + rnd.pick(GIVEN) + (rnd.chance(0.5) ? rnd.pick(GIVEN) : '');
    const patron = insertPatron(db, {
      cardNumber: `2026${String(i + 1).padStart(6, '0')}`, cardTagUid: `E0040160${rnd.hex(8)}`, name, category,
      department: rnd.pick(DEPARTMENTS[category]!), email: `reader${i + 1}@demo.shelfsense.org`, phone: `+86 138${rnd.digits(8)}`,
      birthDate: `${now.getUTCFullYear() - age}-${String(rnd.int(1, 12)).padStart(2, '0')}-${String(rnd.int(1, 28)).padStart(2, '0')}`,
      homeBranch: branch, expiryDate: expired ? addDays(today, -rnd.int(10, 200)) : addDays(today, rnd.int(120, 1400)),
      blockedReason: i > 10 && rnd.chance(0.015) ? '多次逾期未还，请到服务台 Repeated overdue items' : null,
      cardLost: i === 17,
    }, pinHash, now);
    seedConsent(db, patron.id, patron.cardNumber, now);
    // Loans per patron and what they read follow one real reader of the log, scaled to a year.
    const yearly = Math.round(shape.loansPerReader[reader]! * (category === 'public' ? 0.3 : category === 'faculty' ? 0.8 : 0.6));
    out.push({ id: patron.id, category, branch, loans: Math.min(60, yearly), mix: shape.readerMixes[reader]! });
    if (i % 50 === 0 || i === n - 1) progress('patrons', i + 1, n);
  }
  return out;
}

type Pending = { t: number; kind: 'return' | 'renew'; itemId: number; patronId: number; branch: string };

/** Twelve months of loans driven through the real circulation core at their simulated times. */
function seedHistory(db: Db, rnd: Random, shape: LogShape, patrons: DemoPatron[], itemsByClass: Map<string, number[]>, now: Date, progress: NonNullable<SeedOptions['onProgress']>) {
  const circulation = new Circulation(db, fixedClock(now));
  const start = now.getTime() - 365 * DAY;
  const homeOf = new Map((db.prepare('SELECT id, home_branch FROM item').all() as { id: number; home_branch: string }[]).map((r) => [r.id, r.home_branch]));
  const available = new Map([...itemsByClass].map(([c, ids]) => [c, new Set(ids)]));
  // Month weights over the 12 months of the window, by the log's calendar-month shares.
  const monthStarts = Array.from({ length: 12 }, (_, m) => start + m * (365 / 12) * DAY);
  const monthWeights = monthStarts.map((t) => shape.monthShares[new Date(t).getUTCMonth()]! + 0.005);
  const attempts: { t: number; patron: DemoPatron }[] = [];
  for (const p of patrons) {
    for (let k = 0; k < p.loans; k++) {
      const m = rnd.weighted(monthWeights);
      const day = monthStarts[m]! + rnd.int(0, 29) * DAY;
      const date = localDate(new Date(day), TZ);
      const at = zonedTimeToUtc(date, `${String(rnd.int(9, 16)).padStart(2, '0')}:${String(rnd.int(0, 59)).padStart(2, '0')}:00`, TZ).getTime();
      if (at < now.getTime() - DAY) attempts.push({ t: at, patron: p });
    }
  }
  attempts.sort((a, b) => a.t - b.t || a.patron.id - b.patron.id);
  const pending: Pending[] = [];
  const schedule = (e: Pending) => {
    let lo = 0, hi = pending.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (pending[mid]!.t <= e.t) lo = mid + 1; else hi = mid; }
    pending.splice(lo, 0, e);
  };
  const runPending = (until: number) => {
    while (pending.length && pending[0]!.t <= until) {
      const e = pending.shift()!;
      const ctx = { channel: (rnd.chance(0.6) ? 'kiosk' : 'desk') as Channel, branchId: e.branch, at: new Date(e.t), actor: 'demo' };
      if (e.kind === 'renew') circulation.renew({ patronId: e.patronId }, { itemId: e.itemId }, { ...ctx, channel: 'opac' });
      else {
        const r = circulation.checkin({ itemId: e.itemId }, ctx);
        if (r.ok && r.disposition.action === 'reshelve') {
          const cls = (db.prepare('SELECT record.top_class AS c FROM item JOIN record ON record.id = item.record_id WHERE item.id = ?').get(e.itemId) as { c: string }).c;
          available.get(cls)!.add(e.itemId);
        }
      }
    }
  };
  const channels: Channel[] = ['kiosk', 'kiosk', 'kiosk', 'desk', 'desk', 'sip2'];
  let done = 0;
  for (const a of attempts) {
    runPending(a.t);
    const mixClasses = Object.keys(a.patron.mix);
    const cls = mixClasses[rnd.weighted(mixClasses.map((c) => a.patron.mix[c]!))]!;
    const pool = available.get(cls);
    if (pool && pool.size) {
      const itemId = [...pool][rnd.int(0, pool.size - 1)]!;
      const branch = homeOf.get(itemId)!;
      const r = circulation.checkout({ patronId: a.patron.id }, { itemId }, { channel: rnd.pick(channels), branchId: branch, at: new Date(a.t), actor: 'demo' });
      if (r.ok) {
        pool.delete(itemId);
        const keep = Math.round((3 + rnd.next() ** 1.5 * 55) * DAY);
        if (keep > 20 * DAY && rnd.chance(0.25)) schedule({ t: a.t + 18 * DAY, kind: 'renew', itemId, patronId: a.patron.id, branch });
        schedule({ t: a.t + keep, kind: 'return', itemId, patronId: a.patron.id, branch });
      }
    }
    if (++done % 500 === 0 || done === attempts.length) progress('loan history', done, attempts.length);
  }
  runPending(now.getTime() - 3_600_000);

  // The present: waiting holds on titles whose copies are all out, and a few items reported lost.
  const ctx = (branchId: string) => ({ channel: 'desk' as Channel, branchId, at: new Date(now.getTime() - 3_600_000), actor: 'demo' });
  const busy = db.prepare(`SELECT record_id FROM item WHERE item_type = 'book' GROUP BY record_id
      HAVING sum(status = 'on_loan') = count(*) ORDER BY record_id LIMIT 15`).all() as { record_id: number }[];
  const holders = patrons.filter((p) => p.category !== 'public');
  for (const { record_id } of busy) {
    const p = rnd.pick(holders);
    circulation.placeHold({ patronId: p.id }, record_id, p.branch, ctx(p.branch));
  }
  const overdue = db.prepare('SELECT item_id, branch_id FROM loan WHERE closed_at IS NULL AND due_at < ? ORDER BY id LIMIT 3').all(new Date(now.getTime() - 30 * DAY).toISOString()) as { item_id: number; branch_id: string }[];
  for (const l of overdue) circulation.markLost({ itemId: l.item_id }, ctx(l.branch_id));
  return {};
}
