import { createRoute, z } from '@hono/zod-openapi';
import { createItem, findItem, getItem, ItemInput, updateItem } from '../../catalogue/items.js';
import { systemClock } from '../../clock.js';
import { DomainError } from '../../errors.js';
import type { AppDeps } from '../app.js';
import { API_BASE } from '../types.js';
import { STAFF_SESSION } from '../auth.js';
import { problems } from '../problem.js';
import { ItemSchema } from '../schemas/catalogue.js';
import { Code, IdParam, json, ok, patchOf, TagUid } from '../schemas/common.js';
import { router } from '../env.js';

export const ItemCreateBody = ItemInput.strict().openapi('ItemCreate');
export const ItemPatchBody = patchOf(ItemInput, 'ItemPatch');

const itemNotFound = (by: string, key: string) => new DomainError('ITEM_NOT_FOUND', `no item with ${by} ${key}`, 404, { [by]: key });

/** Physical copies: staff create, read, change and look them up by barcode or RFID tag. */
export function itemRoutes(deps: AppDeps) {
  const { db } = deps;
  const clock = deps.clock ?? systemClock;
  const app = router();

  app.openapi(createRoute({
    method: 'post', path: '/items', tags: ['catalogue'], summary: 'Create an item (a copy of a record)', ...STAFF_SESSION,
    request: { body: json(ItemCreateBody) },
    responses: { 201: ok(ItemSchema, 'the new item'), ...problems(400, 401, 403, 404, 409, 422) },
  }), (c) => {
    const item = createItem(db, c.req.valid('json'), clock.now());
    c.header('Location', `${API_BASE}/items/${item.id}`);
    return c.json(item, 201);
  });

  app.openapi(createRoute({
    method: 'get', path: '/items/{id}', tags: ['catalogue'], summary: 'Read an item', ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 200: ok(ItemSchema, 'the item'), ...problems(400, 401, 403, 404) },
  }), (c) => c.json(getItem(db, c.req.valid('param').id), 200));

  app.openapi(createRoute({
    method: 'patch', path: '/items/{id}', tags: ['catalogue'], summary: 'Change some fields of an item', ...STAFF_SESSION,
    request: { params: IdParam, body: json(ItemPatchBody) },
    responses: { 200: ok(ItemSchema, 'the changed item'), ...problems(400, 401, 403, 404, 409, 422) },
  }), (c) => c.json(updateItem(db, c.req.valid('param').id, c.req.valid('json'), clock.now()), 200));

  app.openapi(createRoute({
    method: 'get', path: '/items/by-barcode/{barcode}', tags: ['catalogue'], summary: 'Look an item up by its barcode', ...STAFF_SESSION,
    request: { params: z.object({ barcode: Code.openapi({ param: { name: 'barcode', in: 'path' } }) }) },
    responses: { 200: ok(ItemSchema, 'the item'), ...problems(400, 401, 403, 404) },
  }), (c) => {
    const { barcode } = c.req.valid('param');
    const item = findItem(db, { barcode });
    if (!item) throw itemNotFound('barcode', barcode);
    return c.json(item, 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/items/by-tag/{tagUid}', tags: ['catalogue'], summary: 'Look an item up by its RFID tag UID', ...STAFF_SESSION,
    request: { params: z.object({ tagUid: TagUid.openapi({ param: { name: 'tagUid', in: 'path' } }) }) },
    responses: { 200: ok(ItemSchema, 'the item'), ...problems(400, 401, 403, 404) },
  }), (c) => {
    const { tagUid } = c.req.valid('param');
    const item = findItem(db, { tagUid });
    if (!item) throw itemNotFound('tagUid', tagUid);
    return c.json(item, 200);
  });

  return app;
}
