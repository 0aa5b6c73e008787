import { createRoute, z } from '@hono/zod-openapi';
import { createRecord, getRecord, RecordInput, searchRecords, updateRecord } from '../../catalogue/records.js';
import { listItems } from '../../catalogue/items.js';
import { systemClock } from '../../clock.js';
import type { AppDeps } from '../app.js';
import { API_BASE } from '../types.js';
import { STAFF_SESSION } from '../auth.js';
import { problems } from '../problem.js';
import { ItemListSchema, RecordListSchema, RecordSchema } from '../schemas/catalogue.js';
import { IdParam, json, ok, Paging, patchOf } from '../schemas/common.js';
import { router } from '../env.js';

export const RecordCreateBody = RecordInput.strict().openapi('RecordCreate');
export const RecordPatchBody = patchOf(RecordInput, 'RecordPatch');
export const RecordQuery = z.object({
  q: z.string().trim().min(1).max(200).optional().openapi({ description: 'substring of the title or an author' }),
  isbn: z.string().trim().regex(/^(97[89])?\d{9}[\dX]$/, 'ISBN-10 or ISBN-13 digits, no hyphens').optional(),
  topClass: z.string().trim().min(1).max(10).optional().openapi({ description: 'top-level class, e.g. CLC "I" or Dewey "600"' }),
  ...Paging,
});

/** The catalogue's titles: anyone may search and read them (the online catalogue is public); staff edit them. */
export function recordRoutes(deps: AppDeps) {
  const { db } = deps;
  const clock = deps.clock ?? systemClock;
  const app = router();

  app.openapi(createRoute({
    method: 'get', path: '/records', tags: ['catalogue'], summary: 'Search records by title/author text, ISBN or top-level class',
    request: { query: RecordQuery },
    responses: { 200: ok(RecordListSchema, 'matching records, in id order'), ...problems(400) },
  }), (c) => c.json(searchRecords(db, c.req.valid('query')), 200));

  app.openapi(createRoute({
    method: 'post', path: '/records', tags: ['catalogue'], summary: 'Create a record', ...STAFF_SESSION,
    request: { body: json(RecordCreateBody) },
    responses: { 201: ok(RecordSchema, 'the new record'), ...problems(400, 401, 403, 422) },
  }), (c) => {
    const record = createRecord(db, c.req.valid('json'), clock.now());
    c.header('Location', `${API_BASE}/records/${record.id}`);
    return c.json(record, 201);
  });

  app.openapi(createRoute({
    method: 'get', path: '/records/{id}', tags: ['catalogue'], summary: 'Read a record',
    request: { params: IdParam },
    responses: { 200: ok(RecordSchema, 'the record'), ...problems(400, 404) },
  }), (c) => c.json(getRecord(db, c.req.valid('param').id), 200));

  app.openapi(createRoute({
    method: 'patch', path: '/records/{id}', tags: ['catalogue'], summary: 'Change some fields of a record', ...STAFF_SESSION,
    request: { params: IdParam, body: json(RecordPatchBody) },
    responses: { 200: ok(RecordSchema, 'the changed record'), ...problems(400, 401, 403, 404, 422) },
  }), (c) => c.json(updateRecord(db, c.req.valid('param').id, c.req.valid('json'), clock.now()), 200));

  app.openapi(createRoute({
    method: 'get', path: '/records/{id}/items', tags: ['catalogue'], summary: "List a record's items (copies) and their status",
    request: { params: IdParam, query: z.object(Paging) },
    responses: { 200: ok(ItemListSchema, 'the items of the record'), ...problems(400, 404) },
  }), (c) => {
    const { id } = c.req.valid('param');
    getRecord(db, id);
    return c.json(listItems(db, { recordId: id, ...c.req.valid('query') }), 200);
  });

  return app;
}
