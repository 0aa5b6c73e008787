import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, type Db } from '../../../server/store/db.js';
import { seedDemo, type SeedSummary } from '../../../server/seed/demo.js';
import { CLC_CLASSES } from '../../../server/catalogue/classification.js';
import { shapeFromLog } from '../../../server/seed/shape.js';

const NOW = new Date('2026-11-24T08:00:00Z');
let dir: string;
let db: Db;
let summary: SeedSummary;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'shelfsense-seed-'));
  db = openDb(join(dir, 'a.db'));
  summary = await seedDemo(db, { seed: 7, now: NOW });
});
afterAll(() => { db.close(); rmSync(dir, { recursive: true, force: true }); });

const all = <T>(sql: string, ...args: unknown[]) => db.prepare(sql).all(...args) as T[];

describe('the demo library', () => {
  it('has the sizes the demo promises', () => {
    expect(summary.branches).toBe(2);
    expect(summary.records).toBeGreaterThanOrEqual(2000);
    expect(summary.items).toBeGreaterThanOrEqual(3000);
    expect(summary.patrons).toBeGreaterThanOrEqual(300);
    expect(summary.loans).toBeGreaterThanOrEqual(2500);
    expect(summary.openLoans).toBeGreaterThan(0);
    expect(summary.holds).toBeGreaterThan(0);
  });

  it('spreads records over every CLC class, medicine first as in the real log', () => {
    const byClass = all<{ c: string; n: number }>('SELECT top_class AS c, count(*) AS n FROM record GROUP BY 1 ORDER BY n DESC');
    expect(byClass.map((r) => r.c).sort()).toEqual([...CLC_CLASSES].sort());
    expect(byClass[0]!.c).toBe('R');
  });

  it('has patrons in every category and calendars for both branches', () => {
    expect(all<{ category: string }>('SELECT DISTINCT category FROM patron ORDER BY 1').map((r) => r.category))
      .toEqual(['faculty', 'postgraduate', 'public', 'staff', 'undergraduate']);
    expect(all('SELECT DISTINCT branch_id FROM opening_hours')).toHaveLength(2);
    expect(all("SELECT * FROM closed_date WHERE reason = '春节'").length).toBeGreaterThan(0);
  });

  it('has loans per patron as heavy-tailed as the real log: the top fifth of borrowers make most loans', () => {
    const perPatron = all<{ n: number }>('SELECT count(loan.id) AS n FROM patron LEFT JOIN loan ON loan.patron_id = patron.id GROUP BY patron.id ORDER BY n DESC').map((r) => r.n);
    const total = perPatron.reduce((s, n) => s + n, 0);
    const top = perPatron.slice(0, Math.ceil(perPatron.length / 5)).reduce((s, n) => s + n, 0);
    expect(top / total).toBeGreaterThan(0.45);
  });

  it('follows the log\'s seasonality: the busiest month has several times the loans of the quietest', () => {
    const months = all<{ n: number }>("SELECT count(*) AS n FROM loan GROUP BY substr(checked_out_at, 1, 7)").map((r) => r.n);
    expect(Math.max(...months) / Math.min(...months)).toBeGreaterThan(3);
    const shape = shapeFromLog();
    expect(shape.monthShares.indexOf(Math.max(...shape.monthShares))).toBe(8); // September, the start of the academic year
  });

  it('keeps item statuses and loans consistent: every item on loan has exactly one open loan and the reverse', () => {
    expect(all("SELECT id FROM item WHERE status = 'on_loan' AND id NOT IN (SELECT item_id FROM loan WHERE closed_at IS NULL)")).toEqual([]);
    expect(all("SELECT loan.id FROM loan JOIN item ON item.id = loan.item_id WHERE loan.closed_at IS NULL AND item.status <> 'on_loan'")).toEqual([]);
  });

  it('gives working demo credentials: staff, a PIN, patrons in good standing and kiosk tokens', () => {
    expect(summary.credentials.staff.map((s) => s.role)).toEqual(['admin', 'librarian']);
    expect(summary.credentials.patronCards).toHaveLength(3);
    for (const card of summary.credentials.patronCards) {
      expect(db.prepare('SELECT blocked_reason, card_lost FROM patron WHERE card_number = ?').get(card)).toEqual({ blocked_reason: null, card_lost: 0 });
    }
    expect(summary.credentials.kioskTokens.map((k) => k.branchId)).toEqual(['main', 'medical']);
  });

  it('is deterministic for a seed and a time, and refuses a database that is not empty', async () => {
    const other = openDb(join(dir, 'b.db'));
    await seedDemo(other, { seed: 7, now: NOW });
    for (const table of ['record', 'item', 'loan', 'hold', 'fee', 'circ_event', 'device']) {
      expect(other.prepare(`SELECT * FROM ${table} ORDER BY 1`).all(), table).toEqual(db.prepare(`SELECT * FROM ${table} ORDER BY 1`).all());
    }
    expect(other.prepare('SELECT card_number, name, category, expiry_date FROM patron ORDER BY id').all())
      .toEqual(db.prepare('SELECT card_number, name, category, expiry_date FROM patron ORDER BY id').all());
    await expect(seedDemo(other, { seed: 7, now: NOW })).rejects.toThrow(/already has records or patrons/);
    other.close();
  });
});
