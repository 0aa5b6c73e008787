import type { Db } from '../store/db.js';
import { Random } from './random.js';
import { openCase, updateCase } from '../crm/cases.js';
import { createServicePolicy } from '../crm/services.js';

const DAY = 86_400_000;

const FEEDBACK: [string, number | null, string][] = [
  ['evaluation', 5, '自助借还机很方便 The self-check kiosks are very convenient'],
  ['evaluation', 4, 'Good opening hours during exams'],
  ['evaluation', 3, '阅览室有时太吵 The reading room is sometimes noisy'],
  ['impression', null, 'Staff at the east branch were very helpful finding anatomy atlases'],
  ['suggestion', null, '希望增加化学教材副本 More copies of the chemistry textbooks, please'],
  ['praise', null, 'Thank you for the study-skills workshop'],
];
const CASES: [kind: 'complaint' | 'friction' | 'request', subject: string, daysAgo: number, progress: 'open' | 'in_progress' | 'resolved'][] = [
  ['complaint', '阅览室噪音 Noise in the third-floor reading room', 5, 'open'],
  ['friction', 'Kiosk 2 did not read my card at the first try', 2, 'in_progress'],
  ['request', 'Buy more copies of Organic Chemistry (7th ed.)', 12, 'in_progress'],
  ['complaint', '还书后仍显示逾期 Overdue notice after returning the book', 20, 'resolved'],
  ['request', 'Longer opening hours in the exam weeks', 1, 'open'],
];

/**
 * The demo library's CRM data: registration dates before each patron's first loan, events and lectures with attendance, patrons' feedback, information
 * needs, contacts and cases, and two differentiated services for key patrons. From its own random
 * stream, so the rest of the demo is unchanged.
 */
export function seedCrm(db: Db, seed: number, now: Date): { events: number; feedback: number; cases: number } {
  const rnd = new Random(seed ^ 0x5c4a);
  // Demo patrons registered before their first loan (up to a year before), not on the day of seeding.
  const firstLoans = db.prepare('SELECT patron_id, min(checked_out_at) AS first FROM loan WHERE patron_id IS NOT NULL GROUP BY patron_id').all() as { patron_id: number; first: string }[];
  const registered = db.prepare('UPDATE patron SET created_at = ?, updated_at = ? WHERE id = ?');
  for (const r of firstLoans) {
    const at = new Date(Date.parse(r.first) - rnd.int(1, 365) * DAY).toISOString();
    registered.run(at, at, r.patron_id);
  }
  const patrons = db.prepare("SELECT id FROM patron WHERE blocked_reason IS NULL ORDER BY id").pluck().all() as number[];
  if (!patrons.length) return { events: 0, feedback: 0, cases: 0 };
  const at = (daysAgo: number) => new Date(now.getTime() - daysAgo * DAY - rnd.int(0, 8) * 3_600_000).toISOString();
  const some = (n: number) => { const pool = [...patrons]; const out: number[] = []; while (out.length < n && pool.length) out.push(pool.splice(rnd.int(0, pool.length - 1), 1)[0]!); return out; };

  const events: [string, string, number, string[]][] = [
    ['Lecture: reading clinical trials 临床试验文献阅读讲座', 'lecture', 40, ['R']],
    ['Workshop: literature search in PubMed and CNKI 文献检索工作坊', 'workshop', 12, ['R', 'G']],
    ['Open day: the library for new students 新生开放日', 'event', -10, []],
  ];
  const insertEvent = db.prepare('INSERT INTO library_event (title, kind, branch_id, starts_at, ends_at, subjects, capacity, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const attend = db.prepare('INSERT INTO event_attendance (event_id, patron_id, status, at) VALUES (?, ?, ?, ?)');
  const branch = (db.prepare('SELECT id FROM branch ORDER BY id LIMIT 1').pluck().get() as string | undefined) ?? null;
  for (const [title, kind, daysAgo, subjects] of events) {
    const starts = new Date(now.getTime() - daysAgo * DAY);
    const id = Number(insertEvent.run(title, kind, branch, starts.toISOString(), new Date(starts.getTime() + 2 * 3_600_000).toISOString(),
      JSON.stringify(subjects), 60, at(Math.max(daysAgo, 0) + 14)).lastInsertRowid);
    for (const p of some(daysAgo > 0 ? 35 : 20)) attend.run(id, p, daysAgo > 0 ? (rnd.chance(0.85) ? 'attended' : 'no_show') : 'registered', at(Math.max(daysAgo, 1)));
  }

  const feedback = db.prepare('INSERT INTO patron_feedback (patron_id, at, kind, rating, text, channel, recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const fb = some(40);
  for (const p of fb) {
    const [kind, rating, text] = FEEDBACK[rnd.int(0, FEEDBACK.length - 1)]!;
    feedback.run(p, at(rnd.int(1, 200)), kind, rating, text, rnd.chance(0.5) ? 'in_person' : 'opac', rnd.chance(0.5) ? 'librarian' : 'patron');
  }
  const need = db.prepare('INSERT INTO patron_need (patron_id, kind, value, note, created_at) VALUES (?, ?, ?, ?, ?)');
  for (const p of some(12)) {
    if (rnd.chance(0.7)) need.run(p, 'subject_alert', ['R', 'Q', 'O', 'H'][rnd.int(0, 3)]!, null, at(rnd.int(10, 300)));
    else need.run(p, 'accessibility', rnd.chance(0.5) ? 'large print' : 'screen reader', null, at(rnd.int(10, 300)));
  }
  const contact = db.prepare('INSERT INTO communication (patron_id, at, channel, direction, staff, summary) VALUES (?, ?, ?, ?, ?, ?)');
  for (const p of some(50)) {
    const [channel, direction, summary] = rnd.chance(0.5) ? ['phone', 'out', 'Reminded about an overdue loan'] : rnd.chance(0.5) ? ['in_person', 'in', 'Asked for help with interlibrary loan'] : ['messaging_app', 'in', 'Asked when the east branch opens on holidays'];
    contact.run(p, at(rnd.int(1, 120)), channel, direction, 'librarian', summary);
  }
  for (const [kind, subject, daysAgo, progress] of CASES) {
    const opened = new Date(now.getTime() - daysAgo * DAY);
    const c = openCase(db, { patronId: some(1)[0]!, kind, subject, source: rnd.chance(0.5) ? 'staff' : 'opac' }, 'staff:librarian', opened);
    if (progress !== 'open') updateCase(db, c.id, { status: 'in_progress', owner: 'librarian' }, 'staff:librarian', new Date(opened.getTime() + DAY / 2));
    if (progress === 'resolved') updateCase(db, c.id, { status: 'resolved', resolution: 'Checked and corrected; apologised to the patron' }, 'staff:librarian', new Date(opened.getTime() + 2 * DAY));
  }
  const since = new Date(now.getTime() - 30 * DAY).toISOString().slice(0, 10);
  createServicePolicy(db, { name: 'Key patrons: two extra weeks on every loan', kind: 'loan_extension', audience: 'key', params: { extraDays: 14 }, effectiveFrom: since }, 'staff:admin', now);
  createServicePolicy(db, { name: 'Key patrons: five more items at once', kind: 'extra_items', audience: 'key', params: { extraLoans: 5 }, effectiveFrom: since }, 'staff:admin', now);
  createServicePolicy(db, { name: 'Champions: new-arrival alerts in their subjects', kind: 'new_arrival_alerts', audience: 'tier:champion', params: {}, effectiveFrom: since }, 'staff:admin', now);
  return { events: events.length, feedback: fb.length, cases: CASES.length };
}
