import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { openDb, setSetting, type Db } from '../../../server/store/db.js';
import { fixedClock } from '../../../server/clock.js';
import { Circulation, type OpContext, type Result } from '../../../server/circulation/circulation.js';
import { upsertPolicyRule, type PolicyRuleInput } from '../../../server/circulation/policy.js';
import { REASONS, type ReasonCode } from '../../../server/circulation/reasons.js';
import { createRecord } from '../../../server/catalogue/records.js';
import { createItem, type ItemInput } from '../../../server/catalogue/items.js';
import { insertPatron, type PatronInput } from '../../../server/patrons/patrons.js';

/** Monday 2 March 2026, 10:00 in Asia/Shanghai (the default library time zone). */
export const MONDAY_10H = '2026-03-02T02:00:00.000Z';
export const DAY = 86_400_000;

export const desk: OpContext = { channel: 'desk', branchId: 'main', actor: 'librarian-1' };
export const kioskAt = (branchId: string): OpContext => ({ channel: 'kiosk', branchId, actor: `kiosk-${branchId}` });

export interface LibraryOptions {
  /** Settings written before the circulation core is built (time_zone, due_date_strategy, …). */
  settings?: Record<string, unknown>;
  /** Clock start; defaults to MONDAY_10H. */
  now?: string;
}

/**
 * A small real library in a fresh SQLite file: branches `main` (open Monday–Saturday) and `east`
 * (open Monday–Friday), both closed on Sundays, and helpers to add records, items, patrons and rules.
 */
export function openLibrary(opts: LibraryOptions = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsense-circ-'));
  const db: Db = openDb(join(dir, 'library.db'));
  const clock = fixedClock(opts.now ?? MONDAY_10H);
  const created = new Date(opts.now ?? MONDAY_10H);
  for (const [key, value] of Object.entries(opts.settings ?? {})) setSetting(db, key, value);

  const addBranch = (id: string, weekdays: number[]) => {
    db.prepare('INSERT INTO branch (id, name) VALUES (?, ?)').run(id, `${id} library`);
    for (const w of weekdays) db.prepare("INSERT INTO opening_hours (branch_id, weekday, opens, closes) VALUES (?, ?, '08:00', '22:00')").run(id, w);
  };
  addBranch('main', [1, 2, 3, 4, 5, 6]);
  addBranch('east', [1, 2, 3, 4, 5]);

  let serial = 0;
  const lib = {
    dir, db, clock,
    circ: new Circulation(db, clock), // built after the settings, which it reads once
    record(title = `Title ${++serial}`) { return createRecord(db, { title }, created).id; },
    item(recordId: number, over: Partial<ItemInput> = {}) {
      return createItem(db, { recordId, barcode: `B${String(++serial).padStart(6, '0')}`, homeBranch: 'main', location: 'stacks', ...over }, created);
    },
    /** A record with one item; returns the item. */
    book(over: Partial<ItemInput> = {}) { return lib.item(lib.record(), over); },
    patron(over: Partial<PatronInput> = {}) {
      return insertPatron(db, { cardNumber: `P${String(++serial).padStart(6, '0')}`, name: `Reader ${serial}`, category: 'undergraduate', expiryDate: '2030-12-31', ...over }, null, created);
    },
    rule(input: PolicyRuleInput) { const r = upsertPolicyRule(db, input); lib.circ.reload(); return r; },
    closedDate(branchId: string, date: string) {
      db.prepare('INSERT INTO closed_date (branch_id, date, reason) VALUES (?, ?, ?)').run(branchId, date, 'holiday');
      lib.circ.reload();
    },
    itemRow(id: number) { return db.prepare('SELECT * FROM item WHERE id = ?').get(id) as Record<string, unknown>; },
    openLoans(itemId: number) { return db.prepare('SELECT * FROM loan WHERE item_id = ? AND closed_at IS NULL').all(itemId) as Record<string, unknown>[]; },
    events() { return db.prepare('SELECT * FROM circ_event ORDER BY id').all() as Record<string, unknown>[]; },
    lastEvent() { return db.prepare('SELECT * FROM circ_event ORDER BY id DESC LIMIT 1').get() as Record<string, unknown> | undefined; },
    /** Every table circulation writes besides its own logs, for "nothing changed" checks. */
    snapshot() {
      const t = (name: string) => db.prepare(`SELECT * FROM ${name} ORDER BY rowid`).all();
      return { item: t('item'), loan: t('loan'), hold: t('hold'), fee: t('fee'), payment: t('payment'), patron: t('patron') };
    },
    close() { opened.delete(lib); db.close(); rmSync(dir, { recursive: true, force: true }); },
  };
  opened.add(lib);
  return lib;
}

const opened = new Set<{ close(): void }>();
/** Closes and deletes every library a test opened; for afterEach. */
export function closeLibraries() { for (const l of [...opened]) l.close(); }
export type Library = ReturnType<typeof openLibrary>;

/** Narrows a result to its granted form, failing the test with the refusal otherwise. */
export function granted<T>(r: Result<T>): Extract<Result<T>, { ok: true }> {
  if (!r.ok) expect.fail(`expected the operation to be granted, got ${r.code}`);
  return r as Extract<Result<T>, { ok: true }>;
}

/** Asserts a refusal with this exact code and its English and Chinese words. */
export function expectRefused<T>(r: Result<T>, code: ReasonCode) {
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.code).toBe(code);
  expect(r.message).toEqual(REASONS[code]);
  expect(r.message.en.length).toBeGreaterThan(0);
  expect(r.message.zh).toMatch(/[\u4e00-\u9fff]/);
}

export const policyDefaults = {
  loanDays: 28, maxLoans: 10, renewals: 2, renewalDays: 28, holdsAllowed: true, maxHolds: 10, finePerDayCents: 0,
  maxFineCents: 0, graceDays: 0, inLibraryOnly: false, blockOverdueItems: 5, blockFinesCents: 1000, lostFeeCents: 5000,
} as const;
