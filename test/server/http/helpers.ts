import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { openDb, type Db } from '../../../server/store/db.js';
import { fixedClock } from '../../../server/clock.js';
import { Circulation } from '../../../server/circulation/circulation.js';
import { EventBus } from '../../../server/bus.js';
import { loadConfig, type ConfigInput } from '../../../server/config.js';
import { hashSecret, newToken, tokenHash } from '../../../server/auth/passwords.js';
import { createRecord } from '../../../server/catalogue/records.js';
import { createItem, type ItemInput } from '../../../server/catalogue/items.js';
import { insertPatron, type PatronInput } from '../../../server/patrons/patrons.js';
import { REASONS, type ReasonCode } from '../../../server/circulation/reasons.js';
import { createApp, type AppDeps } from '../../../server/http/app.js';

/** Monday 2 March 2026, 10:00 in Asia/Shanghai. */
export const MONDAY_10H = '2026-03-02T02:00:00.000Z';
export const PASSWORD = 'correct horse battery';
export const PIN = '2468';

export interface CallOptions {
  method?: string;
  body?: unknown;
  /** Sends the session cookie (and, unless csrf is false or a string, the session's CSRF token). */
  as?: Session;
  csrf?: boolean | string;
  token?: string;
  headers?: Record<string, string>;
  ip?: string;
}

export interface Session { cookie: string; csrfToken: string; setCookie: string; body: Record<string, any> }

/**
 * A library behind the HTTP API, on a real SQLite file in a temp dir: branches `main` (open Monday–Saturday)
 * and `east` (Monday–Friday), a fixed clock, the bus wired to circulation as the composition root does.
 * `features` adds the features a suite needs (outreach, …) to the app, built on the same store and clock.
 */
export function openApi(configOverrides: ConfigInput = {}, bus: EventBus = new EventBus(), features: (base: { db: Db; clock: ReturnType<typeof fixedClock> }) => Partial<AppDeps> = () => ({})) {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsense-http-'));
  const db: Db = openDb(join(dir, 'shelfsense.db'));
  const clock = fixedClock(MONDAY_10H);
  for (const [id, weekdays] of [['main', [1, 2, 3, 4, 5, 6]], ['east', [1, 2, 3, 4, 5]]] as const) {
    db.prepare('INSERT INTO branch (id, name) VALUES (?, ?)').run(id, `${id} library`);
    for (const w of weekdays) db.prepare("INSERT INTO opening_hours (branch_id, weekday, opens, closes) VALUES (?, ?, '08:00', '22:00')").run(id, w);
  }
  const circulation = new Circulation(db, clock);
  circulation.onEvent((e) => bus.emit('circulation', e));
  const config = loadConfig({ dataDir: dir, ...configOverrides }, {}, dir);
  const app = createApp({ db, circulation, bus, config, clock, ...features({ db, clock }) });
  let serial = 0;

  const api = {
    dir, db, clock, bus, circulation, config, app,

    /** One request through app.request(), no socket; `ip` plays the client address the socket would give. */
    call(path: string, o: CallOptions = {}): Promise<Response> {
      const headers: Record<string, string> = { ...o.headers };
      if (o.body !== undefined) headers['Content-Type'] ??= 'application/json';
      if (o.as) {
        headers.Cookie = o.as.cookie;
        if (o.csrf !== false) headers['X-CSRF-Token'] = typeof o.csrf === 'string' ? o.csrf : o.as.csrfToken;
      }
      if (o.token) headers.Authorization = `Bearer ${o.token}`;
      const init: RequestInit = { method: o.method ?? (o.body !== undefined ? 'POST' : 'GET'), headers };
      if (o.body !== undefined) init.body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
      return Promise.resolve(app.request(`/api/v1${path}`, init, { incoming: { socket: { remoteAddress: o.ip ?? '192.0.2.10' } } }));
    },

    async staffUser(username: string, role: 'admin' | 'librarian', password = PASSWORD) {
      const id = Number(db.prepare("INSERT INTO staff_user (username, display_name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?)")
        .run(username, `${username} (test)`, role, await hashSecret(password), MONDAY_10H).lastInsertRowid);
      return id;
    },

    async signIn(username: string, password = PASSWORD): Promise<Session> {
      return sessionOf(await api.call('/auth/staff/login', { body: { username, password } }));
    },

    async librarian(name = `librarian${++serial}`) { await api.staffUser(name, 'librarian'); return api.signIn(name); },
    async admin(name = `admin${++serial}`) { await api.staffUser(name, 'admin'); return api.signIn(name); },

    async patronSession(cardNumber: string, pin = PIN): Promise<Session> {
      return sessionOf(await api.call('/auth/patron/login', { body: { cardNumber, pin } }));
    },

    async patron(over: Partial<PatronInput> = {}, pin: string | null = null) {
      const n = ++serial;
      return insertPatron(db, { cardNumber: `P${String(n).padStart(6, '0')}`, name: `Reader ${n}`, category: 'undergraduate', expiryDate: '2030-12-31', ...over },
        pin === null ? null : await hashSecret(pin), new Date(MONDAY_10H));
    },

    record(title = `Title ${++serial}`) { return createRecord(db, { title }, new Date(MONDAY_10H)).id; },
    book(over: Partial<ItemInput> = {}) {
      return createItem(db, { recordId: api.record(), barcode: `B${String(++serial).padStart(6, '0')}`, homeBranch: 'main', location: 'stacks', ...over },
        new Date(MONDAY_10H));
    },

    /** A device with a bearer token, inserted as an admin's POST /devices would. */
    device(id: string, kind: 'kiosk' | 'gateway', branchId: string | null = 'main') {
      const token = newToken();
      db.prepare('INSERT INTO device (id, kind, branch_id, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(id, kind, branchId, `${kind} ${id}`, tokenHash(token), MONDAY_10H);
      return token;
    },

    itemStatus(id: number) { return (db.prepare('SELECT status FROM item WHERE id = ?').get(id) as { status: string }).status; },
    count(table: string, where = '1', ...args: unknown[]) {
      return (db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${where}`).get(...args) as { n: number }).n;
    },
    auditRows() { return db.prepare('SELECT actor, action, target FROM audit_log ORDER BY id').all() as { actor: string; action: string; target: string | null }[]; },
    close() { db.close(); rmSync(dir, { recursive: true, force: true }); },
  };
  return api;
}
export type Api = ReturnType<typeof openApi>;

async function sessionOf(res: Response): Promise<Session> {
  const body = (await res.json()) as Record<string, any>;
  expect(res.status, JSON.stringify(body)).toBe(200);
  const setCookie = res.headers.get('Set-Cookie') ?? '';
  return { cookie: setCookie.split(';')[0]!, csrfToken: body.csrfToken, setCookie, body };
}

/** Asserts an RFC 9457 problem with this status and code, and returns its body. */
export async function expectProblem(res: Response, status: number, code: string): Promise<Record<string, any>> {
  const body = (await res.json()) as Record<string, any>;
  expect({ status: res.status, code: body.code }, JSON.stringify(body)).toEqual({ status, code });
  expect(res.headers.get('Content-Type')).toBe('application/problem+json');
  expect(body).toMatchObject({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) });
  return body;
}

/** Asserts a circulation refusal: the exact code and its words in both languages. */
export async function expectRefusal(res: Response, code: ReasonCode): Promise<Record<string, any>> {
  const body = await expectProblem(res, code.endsWith('_NOT_FOUND') ? 404 : 409, code);
  expect(body.message).toEqual(REASONS[code]);
  expect(body.message.zh).toMatch(/[\u4e00-\u9fff]/);
  return body;
}

export async function ok<T = Record<string, any>>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return (text ? JSON.parse(text) : null) as T;
}
