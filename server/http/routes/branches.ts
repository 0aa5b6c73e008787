import { createRoute, z } from '@hono/zod-openapi';
import { DomainError, notFound } from '../../errors.js';
import type { Db } from '../../store/db.js';
import type { AppDeps } from '../app.js';
import { API_BASE } from '../types.js';
import { ADMIN_SESSION } from '../auth.js';
import { problems } from '../problem.js';
import { IsoDate, json, ok } from '../schemas/common.js';
import { router } from '../env.js';

const Time = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM, 00:00 to 23:59');

export const BranchSchema = z.object({
  id: z.string(), name: z.string(), nameZh: z.string().nullable(), isil: z.string().nullable(), address: z.string().nullable(),
}).openapi('Branch');
export const OpeningHoursSchema = z.object({ weekday: z.number().int().min(0).max(6).openapi({ description: '0 = Sunday' }), opens: Time, closes: Time })
  .refine((h) => h.opens < h.closes, { message: 'opens must be before closes', path: ['closes'] }).openapi('OpeningHours');
export const ClosedDateSchema = z.object({ date: z.string(), reason: z.string().nullable() }).openapi('ClosedDate');
export const BranchCalendarSchema = BranchSchema.extend({
  hours: z.array(OpeningHoursSchema), closedDates: z.array(ClosedDateSchema),
}).openapi('BranchCalendar');

const branchFields = {
  name: z.string().trim().min(1).max(200),
  nameZh: z.string().trim().min(1).max(200).nullish(),
  isil: z.string().trim().regex(/^[A-Z]{1,4}-[A-Za-z0-9:/-]{1,11}$/, 'ISIL, e.g. CN-110000-1').nullish(),
  address: z.string().trim().max(500).nullish(),
};
export const BranchCreateBody = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'lowercase letters, digits and "-", at most 40'), ...branchFields,
}).openapi('BranchCreate');
export const BranchPatchBody = z.strictObject({ ...branchFields, name: branchFields.name.optional() }).openapi('BranchPatch');
export const HoursBody = z.strictObject({
  hours: z.array(OpeningHoursSchema).max(7).refine((hs) => new Set(hs.map((h) => h.weekday)).size === hs.length, 'one entry per weekday'),
}).openapi('OpeningHoursReplace');
export const ClosedDateBody = z.strictObject({ reason: z.string().trim().min(1).max(200).nullish() }).openapi('ClosedDateSet');

const BranchParam = z.object({ id: z.string().min(1).max(64).openapi({ param: { name: 'id', in: 'path' } }) });
const ClosedDateParam = BranchParam.extend({ date: IsoDate.openapi({ param: { name: 'date', in: 'path' } }) });

type BranchRow = { id: string; name: string; name_zh: string | null; isil: string | null; address: string | null };
const toBranch = (r: BranchRow) => ({ id: r.id, name: r.name, nameZh: r.name_zh, isil: r.isil, address: r.address });

function calendarOf(db: Db, id: string) {
  const row = db.prepare('SELECT * FROM branch WHERE id = ?').get(id) as BranchRow | undefined;
  if (!row) throw notFound('branch', id);
  return {
    ...toBranch(row),
    hours: db.prepare('SELECT weekday, opens, closes FROM opening_hours WHERE branch_id = ? ORDER BY weekday').all(id) as
      { weekday: number; opens: string; closes: string }[],
    closedDates: db.prepare('SELECT date, reason FROM closed_date WHERE branch_id = ? ORDER BY date').all(id) as { date: string; reason: string | null }[],
  };
}

/** Branches and their calendars: public to read (patrons pick pickup branches, see opening hours); admins change them. */
export function branchRoutes(deps: AppDeps) {
  const { db, circulation } = deps;
  const app = router();
  const tags = ['branches'];
  /** Calendars and branches feed due dates: the core re-reads them after every change. */
  const changed = (id: string) => { circulation.reload(); return calendarOf(db, id); };

  app.openapi(createRoute({
    method: 'get', path: '/branches', tags, summary: 'List branches',
    responses: { 200: ok(z.object({ branches: z.array(BranchSchema) }).openapi('BranchList'), 'every branch') },
  }), (c) => c.json({ branches: (db.prepare('SELECT * FROM branch ORDER BY id').all() as BranchRow[]).map(toBranch) }, 200));

  app.openapi(createRoute({
    method: 'post', path: '/branches', tags, summary: 'Create a branch', ...ADMIN_SESSION,
    request: { body: json(BranchCreateBody) },
    responses: { 201: ok(BranchCalendarSchema, 'the new branch'), ...problems(400, 401, 403, 409, 422) },
  }), (c) => {
    const b = c.req.valid('json');
    if (db.prepare('SELECT 1 FROM branch WHERE id = ?').get(b.id)) throw new DomainError('DUPLICATE_BRANCH', `branch ${b.id} already exists`, 409);
    db.prepare('INSERT INTO branch (id, name, name_zh, isil, address) VALUES (?, ?, ?, ?, ?)').run(b.id, b.name, b.nameZh ?? null, b.isil ?? null, b.address ?? null);
    c.header('Location', `${API_BASE}/branches/${b.id}`);
    return c.json(changed(b.id), 201);
  });

  app.openapi(createRoute({
    method: 'get', path: '/branches/{id}', tags, summary: 'A branch with its opening hours and closed dates',
    request: { params: BranchParam },
    responses: { 200: ok(BranchCalendarSchema, 'the branch calendar'), ...problems(400, 404) },
  }), (c) => c.json(calendarOf(db, c.req.valid('param').id), 200));

  app.openapi(createRoute({
    method: 'patch', path: '/branches/{id}', tags, summary: "Change a branch's name, ISIL or address", ...ADMIN_SESSION,
    request: { params: BranchParam, body: json(BranchPatchBody) },
    responses: { 200: ok(BranchCalendarSchema, 'the changed branch'), ...problems(400, 401, 403, 404, 422) },
  }), (c) => {
    const { id } = c.req.valid('param');
    const current = calendarOf(db, id);
    const v = { ...current, ...c.req.valid('json') };
    db.prepare('UPDATE branch SET name = ?, name_zh = ?, isil = ?, address = ? WHERE id = ?').run(v.name, v.nameZh ?? null, v.isil ?? null, v.address ?? null, id);
    return c.json(changed(id), 200);
  });

  app.openapi(createRoute({
    method: 'put', path: '/branches/{id}/hours', tags, summary: 'Replace the weekly opening hours (a weekday left out is closed)', ...ADMIN_SESSION,
    request: { params: BranchParam, body: json(HoursBody) },
    responses: { 200: ok(BranchCalendarSchema, 'the branch calendar'), ...problems(400, 401, 403, 404, 422) },
  }), (c) => {
    const { id } = c.req.valid('param');
    calendarOf(db, id);
    db.transaction(() => {
      db.prepare('DELETE FROM opening_hours WHERE branch_id = ?').run(id);
      const insert = db.prepare('INSERT INTO opening_hours (branch_id, weekday, opens, closes) VALUES (?, ?, ?, ?)');
      for (const h of c.req.valid('json').hours) insert.run(id, h.weekday, h.opens, h.closes);
    })();
    return c.json(changed(id), 200);
  });

  app.openapi(createRoute({
    method: 'put', path: '/branches/{id}/closed-dates/{date}', tags, summary: 'Close a branch on a date (idempotent; sets the reason)', ...ADMIN_SESSION,
    request: { params: ClosedDateParam, body: json(ClosedDateBody) },
    responses: { 200: ok(BranchCalendarSchema, 'the branch calendar'), ...problems(400, 401, 403, 404, 422) },
  }), (c) => {
    const { id, date } = c.req.valid('param');
    calendarOf(db, id);
    db.prepare('INSERT INTO closed_date (branch_id, date, reason) VALUES (?, ?, ?) ON CONFLICT(branch_id, date) DO UPDATE SET reason = excluded.reason')
      .run(id, date, c.req.valid('json').reason ?? null);
    return c.json(changed(id), 200);
  });

  app.openapi(createRoute({
    method: 'delete', path: '/branches/{id}/closed-dates/{date}', tags, summary: 'Open a branch again on a closed date', ...ADMIN_SESSION,
    request: { params: ClosedDateParam },
    responses: { 200: ok(BranchCalendarSchema, 'the branch calendar'), ...problems(400, 401, 403, 404) },
  }), (c) => {
    const { id, date } = c.req.valid('param');
    calendarOf(db, id);
    const removed = db.prepare('DELETE FROM closed_date WHERE branch_id = ? AND date = ?').run(id, date).changes;
    if (!removed) throw new DomainError('CLOSED_DATE_NOT_FOUND', `${id} is not closed on ${date}`, 404, { date });
    return c.json(changed(id), 200);
  });

  return app;
}
