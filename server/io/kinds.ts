import { z } from 'zod';
import type { Db } from '../store/db.js';
import { DomainError } from '../errors.js';
import { createRecord, RecordInput, toRecord } from '../catalogue/records.js';
import { createItem, ItemInput, toItem, type ItemRow } from '../catalogue/items.js';
import { insertPatron, PatronInput, PinInput, toPatron, type PatronRow } from '../patrons/patrons.js';
import { listPolicyRules, PolicyRuleInput, upsertPolicyRule } from '../circulation/policy.js';
import { hashSecret } from '../auth/passwords.js';
import { bool, CellError, int, list, text, type RowProblem, type SourceRow } from './rows.js';

export const KIND_NAMES = ['records', 'items', 'patrons', 'policies', 'calendars'] as const;
export type Kind = (typeof KIND_NAMES)[number];

type Progress = (step: string, done: number, total: number) => void;
type Obj = Record<string, unknown>;

interface KindIo<I> {
  columns: string[];
  /** Converts and checks rows before the write transaction; a row that fails is recorded in problems. */
  prepare(rows: SourceRow[], problems: RowProblem[], progress: Progress): Promise<(I | null)[]>;
  begin(db: Db): unknown;
  write(db: Db, input: I, row: SourceRow, state: unknown, now: Date): void;
  end?(db: Db, state: unknown): void;
  read(db: Db): Obj[];
  toCsv?(objects: Obj[]): Obj[];
}

/** Runs a row converter; a failure becomes the row's problem. */
function convert<I>(rows: SourceRow[], problems: RowProblem[], fn: (v: Obj) => I): (I | null)[] {
  return rows.map((row) => {
    try {
      if ('__notAnObject' in row.values) throw new CellError('', 'expected an object');
      return fn(row.values);
    } catch (e) {
      if (e instanceof CellError) problems.push({ line: row.line, field: e.field || null, reason: e.message });
      else if (e instanceof z.ZodError) problems.push({ line: row.line, field: e.issues[0]!.path.join('.') || null, reason: e.issues[0]!.message });
      else throw e;
      return null;
    }
  });
}

const strip = <T extends Obj>(o: T): Obj => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

// ---- records: items refer to their record by id; ids are kept on import ------------------------

type RecordIo = { id?: number; input: z.input<typeof RecordInput> };
const records: KindIo<RecordIo> = {
  columns: ['id', 'title', 'authors', 'publisher', 'year', 'isbn', 'language', 'classScheme', 'classification', 'subjects'],
  async prepare(rows, problems) {
    return convert(rows, problems, (v) => {
      const input = strip({
        title: text(v.title), authors: list(v.authors), publisher: text(v.publisher), year: int(v.year, 'year'), isbn: text(v.isbn),
        language: text(v.language), classScheme: text(v.classScheme), classification: text(v.classification), subjects: list(v.subjects),
      }) as z.input<typeof RecordInput>;
      RecordInput.parse(input);
      return { id: int(v.id, 'id'), input };
    });
  },
  begin: () => null,
  write(db, { id, input }, _row, _state, now) {
    if (id !== undefined) {
      if (id < 1) throw new CellError('id', 'record id must be a positive whole number');
      if (db.prepare('SELECT 1 FROM record WHERE id = ?').get(id)) throw new DomainError('RECORD_ID_TAKEN', `record id ${id} already exists`, 409, { field: 'id' });
    }
    const record = createRecord(db, input, now);
    if (id !== undefined) db.prepare('UPDATE record SET id = ? WHERE id = ?').run(id, record.id);
  },
  read: (db) => (db.prepare('SELECT * FROM record ORDER BY id').all() as Parameters<typeof toRecord>[0][]).map((r) => {
    const { createdAt, updatedAt, topClass, ...rest } = toRecord(r);
    return rest;
  }),
};

// ---- items ---------------------------------------------------------------------------------------

const CIRCULATION_STATUSES = new Set(['on_loan', 'on_hold_shelf', 'in_transit']);
const items: KindIo<z.input<typeof ItemInput>> = {
  columns: ['barcode', 'recordId', 'tagUid', 'ownerIsil', 'homeBranch', 'location', 'callNumber', 'itemType', 'status', 'priceCents'],
  async prepare(rows, problems) {
    return convert(rows, problems, (v) => {
      const status = text(v.status);
      if (status && CIRCULATION_STATUSES.has(status)) throw new CellError('status', `${status} is set by circulation, not by an import; import the item as available`);
      const input = strip({
        barcode: v.barcode === undefined || v.barcode === null ? undefined : String(v.barcode), recordId: int(v.recordId, 'recordId'),
        tagUid: text(v.tagUid), ownerIsil: text(v.ownerIsil), homeBranch: text(v.homeBranch), location: text(v.location),
        callNumber: text(v.callNumber), itemType: text(v.itemType), status, priceCents: int(v.priceCents, 'priceCents'),
      }) as z.input<typeof ItemInput>;
      ItemInput.parse(input);
      return input;
    });
  },
  begin: () => null,
  write: (db, input, _row, _state, now) => { createItem(db, input, now); },
  read: (db) => (db.prepare('SELECT * FROM item ORDER BY id').all() as ItemRow[]).map((r) => {
    const { id, createdAt, updatedAt, currentBranch, transitTo, ...rest } = toItem(r);
    return rest;
  }),
};

// ---- patrons: an optional initial PIN is hashed before the write transaction ---------------------

type PatronIo = { input: z.input<typeof PatronInput>; pinHash: string | null };
const patrons: KindIo<PatronIo> = {
  columns: ['cardNumber', 'cardTagUid', 'name', 'category', 'department', 'email', 'phone', 'birthDate', 'homeBranch', 'expiryDate', 'blockedReason', 'cardLost'], // an import may add a pin column
  async prepare(rows, problems, progress) {
    const converted = convert(rows, problems, (v) => {
      const input = strip({
        cardNumber: v.cardNumber === undefined || v.cardNumber === null ? undefined : String(v.cardNumber), cardTagUid: text(v.cardTagUid),
        name: text(v.name), category: text(v.category), department: text(v.department), email: text(v.email), phone: text(v.phone),
        birthDate: text(v.birthDate), homeBranch: text(v.homeBranch), expiryDate: text(v.expiryDate), blockedReason: text(v.blockedReason),
        cardLost: bool(v.cardLost, 'cardLost'),
      }) as z.input<typeof PatronInput>;
      PatronInput.parse(input);
      const pin = text(v.pin);
      if (pin !== undefined) {
        const ok = PinInput.safeParse(pin);
        if (!ok.success) throw new CellError('pin', ok.error.issues[0]!.message);
      }
      return { input, pin };
    });
    // scrypt takes tens of milliseconds per PIN: hash a few at a time, with progress.
    const out: (PatronIo | null)[] = new Array(converted.length).fill(null);
    const withPin = converted.map((c, i) => [c, i] as const).filter(([c]) => c?.pin !== undefined);
    let next = 0, done = 0;
    const worker = async () => {
      while (next < withPin.length) {
        const [c, i] = withPin[next++]!;
        out[i] = { input: c!.input, pinHash: await hashSecret(c!.pin!) };
        if (++done % 25 === 0 || done === withPin.length) progress('hashing PINs', done, withPin.length);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    converted.forEach((c, i) => { if (c && c.pin === undefined) out[i] = { input: c.input, pinHash: null }; });
    return out;
  },
  begin: () => null,
  write: (db, { input, pinHash }, _row, _state, now) => { insertPatron(db, input, pinHash, now); },
  read: (db) => (db.prepare('SELECT * FROM patron ORDER BY id').all() as PatronRow[]).map((r) => {
    const { id, hasPin, createdAt, updatedAt, ...rest } = toPatron(r);
    return rest; // never PINs or their hashes
  }),
};

// ---- policies ------------------------------------------------------------------------------------

const POLICY_FIELDS = ['loanDays', 'maxLoans', 'renewals', 'renewalDays', 'holdsAllowed', 'maxHolds', 'finePerDayCents', 'maxFineCents',
  'graceDays', 'inLibraryOnly', 'blockOverdueItems', 'blockFinesCents', 'lostFeeCents'] as const;
const BOOL_POLICY = new Set(['holdsAllowed', 'inLibraryOnly']);
const policies: KindIo<z.input<typeof PolicyRuleInput>> = {
  columns: ['branchId', 'patronCategory', 'itemType', ...POLICY_FIELDS],
  async prepare(rows, problems) {
    return convert(rows, problems, (v) => {
      const input: Obj = { branchId: text(v.branchId), patronCategory: text(v.patronCategory), itemType: text(v.itemType) };
      for (const f of POLICY_FIELDS) input[f] = BOOL_POLICY.has(f) ? bool(v[f], f) ?? null : int(v[f], f) ?? null;
      PolicyRuleInput.parse(strip(input));
      return strip(input) as z.input<typeof PolicyRuleInput>;
    });
  },
  begin: () => null,
  write: (db, input) => { upsertPolicyRule(db, input); },
  read: (db) => listPolicyRules(db).map(({ id, ...rest }) => rest),
};

// ---- calendars: branches with weekly hours and closed dates; a branch in the file has its hours
// ---- and closed dates replaced by the file's ----------------------------------------------------

const Hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'time as HH:MM');
const Hours = z.object({ weekday: z.number().int().min(0).max(6), opens: Hhmm, closes: Hhmm })
  .refine((h) => h.opens < h.closes, { message: 'opens must be before closes', path: ['closes'] });
const Closed = z.object({
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'date as YYYY-MM-DD').refine((d) => !Number.isNaN(Date.parse(d)) && new Date(d).toISOString().startsWith(d), 'not a calendar date'),
  reason: z.string().max(200).nullish(),
});
const BranchFields = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'lowercase letters, digits and dashes'), name: z.string().min(1).max(200),
  nameZh: z.string().max(200).nullish(), isil: z.string().max(16).nullish(), address: z.string().max(500).nullish(),
});
interface CalendarPiece { branchId: string; branch?: z.output<typeof BranchFields>; hours: z.output<typeof Hours>[]; closed: z.output<typeof Closed>[] }

const calendars: KindIo<CalendarPiece> = {
  columns: ['branchId', 'kind', 'name', 'nameZh', 'isil', 'address', 'weekday', 'opens', 'closes', 'date', 'reason'],
  async prepare(rows, problems) {
    return convert(rows, problems, (v) => {
      if (Array.isArray(v.hours) || Array.isArray(v.closedDates) || v.kind === undefined) {
        // JSON: one whole branch per element.
        const branch = BranchFields.parse(strip({ id: v.id, name: v.name, nameZh: v.nameZh, isil: v.isil, address: v.address }));
        const hours = z.array(Hours).parse(v.hours ?? []);
        const closed = z.array(Closed).parse(v.closedDates ?? []);
        return { branchId: branch.id, branch, hours, closed };
      }
      const branchId = text(v.branchId);
      if (!branchId) throw new CellError('branchId', 'required');
      switch (v.kind) {
        case 'branch': return { branchId, branch: BranchFields.parse(strip({ id: branchId, name: text(v.name), nameZh: text(v.nameZh), isil: text(v.isil), address: text(v.address) })), hours: [], closed: [] };
        case 'hours': return { branchId, hours: [Hours.parse({ weekday: int(v.weekday, 'weekday'), opens: text(v.opens), closes: text(v.closes) })], closed: [] };
        case 'closed': return { branchId, hours: [], closed: [Closed.parse(strip({ date: text(v.date), reason: text(v.reason) }))] };
        default: throw new CellError('kind', `"${String(v.kind)}" is not branch, hours or closed`);
      }
    });
  },
  begin: () => new Set<string>(),
  write(db, piece, _row, state) {
    const touched = state as Set<string>;
    if (piece.branch) {
      const b = piece.branch;
      db.prepare(`INSERT INTO branch (id, name, name_zh, isil, address) VALUES (?, ?, ?, ?, ?)
          ON CONFLICT(id) DO UPDATE SET name = excluded.name, name_zh = excluded.name_zh, isil = excluded.isil, address = excluded.address`)
        .run(b.id, b.name, b.nameZh ?? null, b.isil ?? null, b.address ?? null);
    } else if (!db.prepare('SELECT 1 FROM branch WHERE id = ?').get(piece.branchId)) {
      throw new DomainError('BRANCH_NOT_FOUND', `branch ${piece.branchId} is neither in the database nor defined earlier in the file`, 404, { field: 'branchId' });
    }
    if (!touched.has(piece.branchId)) {
      db.prepare('DELETE FROM opening_hours WHERE branch_id = ?').run(piece.branchId);
      db.prepare('DELETE FROM closed_date WHERE branch_id = ?').run(piece.branchId);
      touched.add(piece.branchId);
    }
    for (const h of piece.hours) {
      try { db.prepare('INSERT INTO opening_hours (branch_id, weekday, opens, closes) VALUES (?, ?, ?, ?)').run(piece.branchId, h.weekday, h.opens, h.closes); }
      catch { throw new DomainError('DUPLICATE_HOURS', `weekday ${h.weekday} of ${piece.branchId} has hours twice`, 409, { field: 'weekday' }); }
    }
    for (const c of piece.closed) {
      try { db.prepare('INSERT INTO closed_date (branch_id, date, reason) VALUES (?, ?, ?)').run(piece.branchId, c.date, c.reason ?? null); }
      catch { throw new DomainError('DUPLICATE_CLOSED_DATE', `${c.date} is closed twice for ${piece.branchId}`, 409, { field: 'date' }); }
    }
  },
  read: (db) => (db.prepare('SELECT * FROM branch ORDER BY id').all() as { id: string; name: string; name_zh: string | null; isil: string | null; address: string | null }[])
    .map((b) => ({
      id: b.id, name: b.name, nameZh: b.name_zh, isil: b.isil, address: b.address,
      hours: db.prepare('SELECT weekday, opens, closes FROM opening_hours WHERE branch_id = ? ORDER BY weekday').all(b.id),
      closedDates: db.prepare('SELECT date, reason FROM closed_date WHERE branch_id = ? ORDER BY date').all(b.id),
    })),
  toCsv: (objects) => objects.flatMap((b: any) => [
    { branchId: b.id, kind: 'branch', name: b.name, nameZh: b.nameZh, isil: b.isil, address: b.address },
    ...b.hours.map((h: any) => ({ branchId: b.id, kind: 'hours', ...h })),
    ...b.closedDates.map((c: any) => ({ branchId: b.id, kind: 'closed', ...c })),
  ]),
};

export const KINDS: Record<Kind, KindIo<any>> = { records, items, patrons, policies, calendars };
