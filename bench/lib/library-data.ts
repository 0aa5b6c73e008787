import type { Db } from '../../server/store/db.js';
import { upsertPolicyRule } from '../../server/circulation/policy.js';
import { rng } from './stats.js';

export interface LibrarySize { records: number; items: number; patrons: number; openLoans: number }
export interface BuiltLibrary {
  /** Items free to lend (available, not reference), for the measured operations to draw from, with their home branch. */
  lendable: { id: number; barcode: string; home_branch: string }[];
  patrons: { id: number; card_number: string }[];
}

const CATEGORIES: [string, number][] = [['undergraduate', 0.6], ['postgraduate', 0.2], ['faculty', 0.1], ['staff', 0.05], ['public', 0.05]];
const ITEM_TYPES: [string, number][] = [['book', 0.9], ['dvd', 0.05], ['reference', 0.05]];
const CLC = 'ABCDEFGHIJKNOPQRSTUVXZ';

const pick = (r: () => number, table: [string, number][]) => {
  let x = r();
  for (const [v, w] of table) { if ((x -= w) < 0) return v; }
  return table[0]![0];
};
const hex16 = (n: number) => `E0040150${n.toString(16).toUpperCase().padStart(8, '0')}`;

/**
 * Fills an empty, migrated database with a library of the given size, deterministically from `seed`:
 * two branches with opening hours and holidays, a few policy rules, records, items, patrons, and some
 * loans already open. Bulk inserts with prepared statements in one transaction.
 */
export function buildLibrary(db: Db, seed: number, size: LibrarySize, now: Date): BuiltLibrary {
  const r = rng(seed);
  const ts = now.toISOString();
  db.transaction(() => {
    for (const [id, days] of [['main', [1, 2, 3, 4, 5, 6]], ['east', [1, 2, 3, 4, 5]]] as const) {
      db.prepare('INSERT INTO branch (id, name) VALUES (?, ?)').run(id, `${id} library`);
      for (const d of days) db.prepare("INSERT INTO opening_hours (branch_id, weekday, opens, closes) VALUES (?, ?, '08:00', '22:00')").run(id, d);
      for (const date of ['2026-04-05', '2026-05-01', '2026-05-02', '2026-05-03', '2026-10-01']) {
        db.prepare('INSERT INTO closed_date (branch_id, date) VALUES (?, ?)').run(id, date);
      }
    }
    upsertPolicyRule(db, { patronCategory: 'faculty', loanDays: 90, maxLoans: 30 });
    upsertPolicyRule(db, { patronCategory: 'postgraduate', maxLoans: 20 });
    upsertPolicyRule(db, { itemType: 'dvd', loanDays: 7, renewals: 1, finePerDayCents: 50 });
    upsertPolicyRule(db, { itemType: 'reference', inLibraryOnly: true });
    upsertPolicyRule(db, { branchId: 'east', patronCategory: 'public', maxLoans: 5 });

    const rec = db.prepare(`INSERT INTO record (id, title, authors, year, language, class_scheme, classification, top_class, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, 'clc', ?, ?, ?, ?)`);
    for (let id = 1; id <= size.records; id++) {
      const top = CLC[Math.floor(r() * CLC.length)]!;
      rec.run(id, `Title ${id}`, `["Author ${Math.floor(r() * 20_000)}"]`, 1950 + Math.floor(r() * 76), r() < 0.5 ? 'zh' : 'en',
        `${top}${Math.floor(r() * 900)}`, top, ts, ts);
    }
    const item = db.prepare(`INSERT INTO item (id, record_id, barcode, tag_uid, home_branch, current_branch, location, call_number, item_type,
      price_cents, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    for (let id = 1; id <= size.items; id++) {
      const home = r() < 0.7 ? 'main' : 'east';
      item.run(id, 1 + Math.floor(r() * size.records), `3${String(id).padStart(9, '0')}`, hex16(id), home, home, `stacks-${1 + Math.floor(r() * 5)}F`,
        `${CLC[id % CLC.length]}${id % 1000}/${id}`, pick(r, ITEM_TYPES), r() < 0.3 ? 2000 + Math.floor(r() * 10_000) : null, ts, ts);
    }
    const patron = db.prepare(`INSERT INTO patron (id, card_number, card_tag_uid, name, category, home_branch, expiry_date, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    for (let id = 1; id <= size.patrons; id++) {
      patron.run(id, `P${String(id).padStart(8, '0')}`, hex16(0x8000_0000 + id), `Reader ${id}`, pick(r, CATEGORIES), r() < 0.7 ? 'main' : 'east',
        `${2027 + Math.floor(r() * 4)}-06-30`, ts, ts);
    }
    // Loans already out: lent within the last 20 days, none overdue, at most a few per patron.
    const loan = db.prepare("INSERT INTO loan (item_id, patron_id, branch_id, checked_out_at, due_at, channel) VALUES (?, ?, 'main', ?, ?, 'desk')");
    const onLoan = db.prepare("UPDATE item SET status = 'on_loan' WHERE id = ? AND item_type <> 'reference' AND status = 'available'");
    for (let n = 0; n < size.openLoans; n++) {
      const itemId = 1 + Math.floor(r() * size.items);
      if (onLoan.run(itemId).changes === 0) continue;
      const out = new Date(now.getTime() - Math.floor(r() * 20) * 86_400_000);
      loan.run(itemId, 1 + Math.floor(r() * size.patrons), out.toISOString(), new Date(out.getTime() + 28 * 86_400_000).toISOString());
    }
  }).immediate();
  db.pragma('optimize');
  return {
    lendable: db.prepare("SELECT id, barcode, home_branch FROM item WHERE status = 'available' AND item_type <> 'reference' ORDER BY id").all() as BuiltLibrary['lendable'],
    patrons: db.prepare('SELECT id, card_number FROM patron ORDER BY id').all() as BuiltLibrary['patrons'],
  };
}
