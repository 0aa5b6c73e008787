import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../../server/http/app.js';
import { VERSION } from '../../../server/version.js';
import { expectProblem, ok, openApi, type Api } from './helpers.js';

let api: Api;
afterEach(() => api?.close());

describe('GET /api/v1/openapi.json', () => {
  it('is an OpenAPI 3.1 document listing the API paths, with problem responses and security schemes', async () => {
    api = openApi();
    const doc = await ok(await api.call('/openapi.json'));
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: 'Shelfsense HTTP API', version: VERSION });
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining([
      '/api/v1/health', '/api/v1/auth/staff/login', '/api/v1/auth/patron/login', '/api/v1/auth/logout', '/api/v1/auth/me',
      '/api/v1/records', '/api/v1/records/{id}', '/api/v1/items/by-barcode/{barcode}', '/api/v1/items/by-tag/{tagUid}',
      '/api/v1/patrons', '/api/v1/patrons/{id}/status', '/api/v1/circulation/checkout', '/api/v1/circulation/checkin',
      '/api/v1/circulation/renew', '/api/v1/circulation/renew-all', '/api/v1/circulation/holds', '/api/v1/circulation/holds/{id}',
      '/api/v1/circulation/items/{barcode}/lost', '/api/v1/circulation/patrons/{id}/payments', '/api/v1/branches/{id}/hours',
      '/api/v1/branches/{id}/closed-dates/{date}', '/api/v1/policies', '/api/v1/me/loans', '/api/v1/staff', '/api/v1/devices',
      '/api/v1/events', '/api/v1/events/log',
    ]));
    const checkout = doc.paths['/api/v1/circulation/checkout'].post;
    expect(checkout.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/CheckoutRequest' });
    expect(checkout.responses['409'].content['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });
    expect(checkout.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'Idempotency-Key', in: 'header' })]));
    expect(doc.components.securitySchemes).toMatchObject({ session: { type: 'apiKey', in: 'cookie', name: 'shelfsense_session' }, device: { type: 'http', scheme: 'bearer' } });
    expect(doc.components.schemas.Problem.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail', 'code']));
  });

  it('documents every route the app serves', async () => {
    api = openApi();
    const doc = await ok(await api.call('/openapi.json'));
    const documented = new Set(Object.entries<Record<string, unknown>>(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replaceAll(/\{(\w+)\}/g, ':$1')}`)));
    const served = api.app.routes
      .filter((r) => r.method !== 'ALL' && r.path !== '/api/v1/openapi.json')
      .map((r) => `${r.method} ${r.path}`);
    expect(served.length).toBeGreaterThan(40);
    expect(served.filter((r) => !documented.has(r))).toEqual([]);
  });
});

describe('GET /api/v1/health', () => {
  it('answers without sign-in: ok, version, store, and what the server adds', async () => {
    api = openApi();
    const app = createApp({ db: api.db, circulation: api.circulation, bus: api.bus, config: api.config, health: () => ({ mqtt: { connected: true } }) });
    const res = await app.request('/api/v1/health');
    expect(await ok(res)).toEqual({ ok: true, version: VERSION, db: { ok: true }, mqtt: { connected: true } });
    expect(res.headers.get('Cache-Control')).toBe('no-store');
  });

  it('says 503 when the store does not answer', async () => {
    api = openApi();
    const app = createApp({ db: api.db, circulation: api.circulation, bus: api.bus, config: api.config });
    api.db.close();
    const res = await app.request('/api/v1/health');
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ok: false, db: { ok: false } });
  });
});

describe('problems', () => {
  it('answers an unknown route with a 404 problem', async () => {
    api = openApi();
    await expectProblem(await api.call('/no-such-thing'), 404, 'ROUTE_NOT_FOUND');
  });

  it('refuses a body over 1 MB with 413', async () => {
    api = openApi();
    const s = await api.librarian();
    await expectProblem(await api.call('/records', { as: s, body: JSON.stringify({ title: 'x'.repeat(1_100_000) }) }), 413, 'CONTENT_TOO_LARGE');
  });

  it('refuses a body that is not JSON with 415', async () => {
    api = openApi();
    const s = await api.librarian();
    await expectProblem(await api.call('/records', { as: s, body: 'title=x', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });
});
