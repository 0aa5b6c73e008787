import { createRoute, z } from '@hono/zod-openapi';
import { hashSecret, newToken, tokenHash } from '../../auth/passwords.js';
import { systemClock } from '../../clock.js';
import { DomainError, notFound } from '../../errors.js';
import type { Db } from '../../store/db.js';
import type { AppDeps } from '../app.js';
import { API_BASE } from '../types.js';
import { audit } from '../audit.js';
import { ADMIN_SESSION } from '../auth.js';
import { actorOf, router } from '../env.js';
import { branchExists } from '../op-context.js';
import { fieldProblem, problems } from '../problem.js';
import {
  DeviceCreateBody, DeviceSchema, DeviceWithTokenSchema, StaffCreateBody, StaffPatchBody, StaffUserSchema,
} from '../schemas/access.js';
import { IdParam, json, ok } from '../schemas/common.js';
import { deleteSessionsOf } from '../sessions.js';

type StaffRow = { id: number; username: string; display_name: string; role: 'admin' | 'librarian'; disabled: number; created_at: string };
const toStaff = (r: StaffRow) => ({ id: r.id, username: r.username, displayName: r.display_name, role: r.role, disabled: r.disabled === 1, createdAt: r.created_at });
type DeviceRow = {
  id: string; kind: z.infer<typeof DeviceSchema>['kind']; branch_id: string | null; zone_id: string | null; name: string; role: string | null;
  config: string; token_hash: string | null; created_at: string;
};
const toDevice = (r: DeviceRow) => ({
  id: r.id, kind: r.kind, branchId: r.branch_id, zoneId: r.zone_id, name: r.name, role: r.role,
  config: JSON.parse(r.config) as Record<string, unknown>, hasToken: r.token_hash !== null, createdAt: r.created_at,
});
const TOKEN_KINDS = new Set(['kiosk', 'gateway']);

function staffRow(db: Db, id: number): StaffRow {
  const row = db.prepare('SELECT * FROM staff_user WHERE id = ?').get(id) as StaffRow | undefined;
  if (!row) throw notFound('staff_user', id);
  return row;
}

function deviceRow(db: Db, id: string): DeviceRow {
  const row = db.prepare('SELECT * FROM device WHERE id = ?').get(id) as DeviceRow | undefined;
  if (!row) throw notFound('device', id);
  return row;
}

/** Access control, for admins only: staff users and devices (a kiosk or gateway gets its bearer token once). */
export function adminRoutes(deps: AppDeps) {
  const { db } = deps;
  const clock = deps.clock ?? systemClock;
  const app = router();

  app.openapi(createRoute({
    method: 'get', path: '/staff', tags: ['staff'], summary: 'List staff users', ...ADMIN_SESSION,
    responses: { 200: ok(z.object({ staff: z.array(StaffUserSchema) }).openapi('StaffUserList'), 'every staff user'), ...problems(401, 403) },
  }), (c) => c.json({ staff: (db.prepare('SELECT * FROM staff_user ORDER BY username').all() as StaffRow[]).map(toStaff) }, 200));

  app.openapi(createRoute({
    method: 'post', path: '/staff', tags: ['staff'], summary: 'Create a staff user', ...ADMIN_SESSION,
    request: { body: json(StaffCreateBody) },
    responses: { 201: ok(StaffUserSchema, 'the new staff user'), ...problems(400, 401, 403, 409, 422) },
  }), async (c) => {
    const b = c.req.valid('json');
    if (db.prepare('SELECT 1 FROM staff_user WHERE username = ?').get(b.username)) {
      throw new DomainError('DUPLICATE_USERNAME', `username ${b.username} is taken`, 409);
    }
    const hash = await hashSecret(b.password);
    const now = clock.now();
    const id = Number(db.prepare('INSERT INTO staff_user (username, display_name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(b.username, b.displayName, b.role, hash, now.toISOString()).lastInsertRowid);
    audit(db, now, actorOf(c.get('principal')), 'staff.create', `staff:${id}`, { username: b.username, role: b.role });
    c.header('Location', `${API_BASE}/staff/${id}`);
    return c.json(toStaff(staffRow(db, id)), 201);
  });

  app.openapi(createRoute({
    method: 'patch', path: '/staff/{id}', tags: ['staff'], summary: 'Change a staff user (a new password or disabling ends their sessions)', ...ADMIN_SESSION,
    request: { params: IdParam, body: json(StaffPatchBody) },
    responses: { 200: ok(StaffUserSchema, 'the changed staff user'), ...problems(400, 401, 403, 404, 409, 422) },
  }), async (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    const current = staffRow(db, id);
    const role = b.role ?? current.role;
    const disabled = b.disabled ?? current.disabled === 1;
    const otherAdmins = (db.prepare("SELECT count(*) AS n FROM staff_user WHERE role = 'admin' AND disabled = 0 AND id <> ?").get(id) as { n: number }).n;
    if (current.role === 'admin' && !current.disabled && (role !== 'admin' || disabled) && otherAdmins === 0) {
      throw new DomainError('LAST_ADMIN', 'the last active admin cannot be demoted or disabled', 409);
    }
    const hash = b.password !== undefined ? await hashSecret(b.password) : null;
    db.transaction(() => {
      db.prepare('UPDATE staff_user SET display_name = ?, role = ?, disabled = ? WHERE id = ?').run(b.displayName ?? current.display_name, role, disabled ? 1 : 0, id);
      if (hash) db.prepare('UPDATE staff_user SET password_hash = ? WHERE id = ?').run(hash, id);
      if (hash || disabled || role !== current.role) deleteSessionsOf(db, 'staff', id);
    })();
    audit(db, clock.now(), actorOf(c.get('principal')), 'staff.update', `staff:${id}`, { fields: Object.keys(b).filter((k) => k !== 'password').concat(hash ? ['password'] : []) });
    return c.json(toStaff(staffRow(db, id)), 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/devices', tags: ['devices'], summary: 'List devices', ...ADMIN_SESSION,
    responses: { 200: ok(z.object({ devices: z.array(DeviceSchema) }).openapi('DeviceList'), 'every device'), ...problems(401, 403) },
  }), (c) => c.json({ devices: (db.prepare('SELECT * FROM device ORDER BY id').all() as DeviceRow[]).map(toDevice) }, 200));

  /** A new token for a kiosk or gateway: only its hash is stored; the plaintext is answered once. */
  function issueToken(id: string): string {
    const token = newToken();
    db.prepare('UPDATE device SET token_hash = ? WHERE id = ?').run(tokenHash(token), id);
    return token;
  }

  app.openapi(createRoute({
    method: 'post', path: '/devices', tags: ['devices'], summary: 'Register a device; kiosks and gateways get their bearer token in this answer only', ...ADMIN_SESSION,
    request: { body: json(DeviceCreateBody) },
    responses: { 201: ok(DeviceWithTokenSchema, 'the new device'), ...problems(400, 401, 403, 409, 422) },
  }), (c) => {
    const b = c.req.valid('json');
    if (b.kind === 'kiosk' && !b.branchId) throw fieldProblem('branchId', 'a kiosk acts at a branch: required');
    if (b.branchId && !branchExists(db, b.branchId)) throw fieldProblem('branchId', `branch "${b.branchId}" does not exist`);
    if (b.zoneId && !db.prepare('SELECT 1 FROM zone WHERE id = ?').get(b.zoneId)) throw fieldProblem('zoneId', `zone "${b.zoneId}" does not exist`);
    if (db.prepare('SELECT 1 FROM device WHERE id = ?').get(b.id)) throw new DomainError('DUPLICATE_DEVICE', `device ${b.id} already exists`, 409);
    const now = clock.now();
    const token = db.transaction(() => {
      db.prepare('INSERT INTO device (id, kind, branch_id, zone_id, name, role, config, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(b.id, b.kind, b.branchId ?? null, b.zoneId ?? null, b.name, b.role ?? null, JSON.stringify(b.config), now.toISOString());
      return TOKEN_KINDS.has(b.kind) ? issueToken(b.id) : null;
    })();
    audit(db, now, actorOf(c.get('principal')), 'device.create', `device:${b.id}`, { kind: b.kind });
    c.header('Location', `${API_BASE}/devices/${b.id}`);
    return c.json({ ...toDevice(deviceRow(db, b.id)), token }, 201);
  });

  app.openapi(createRoute({
    method: 'post', path: '/devices/{id}/token', tags: ['devices'], summary: "Replace a kiosk's or gateway's token (the old one stops working)", ...ADMIN_SESSION,
    request: { params: z.object({ id: z.string().min(1).max(64).openapi({ param: { name: 'id', in: 'path' } }) }) },
    responses: { 200: ok(DeviceWithTokenSchema, 'the device and its new token'), ...problems(400, 401, 403, 404, 409) },
  }), (c) => {
    const { id } = c.req.valid('param');
    const row = deviceRow(db, id);
    if (!TOKEN_KINDS.has(row.kind)) throw new DomainError('DEVICE_HAS_NO_TOKEN', `a ${row.kind} does not sign in; only kiosks and gateways hold tokens`, 409);
    const token = issueToken(id);
    audit(db, clock.now(), actorOf(c.get('principal')), 'device.token.rotate', `device:${id}`);
    return c.json({ ...toDevice(deviceRow(db, id)), token }, 200);
  });

  return app;
}
