import { afterEach, describe, expect, it } from 'vitest';
import { expectProblem, expectRefusal, ok, openApi, PASSWORD, PIN, type Api } from './helpers.js';

let api: Api;
afterEach(() => api?.close());

const rule = { patronCategory: 'faculty', loanDays: 60 };

describe('least privilege', () => {
  it('lets a librarian read policies but not create or delete them; an admin can', async () => {
    api = openApi();
    const librarian = await api.librarian();
    const admin = await api.admin();
    const before = api.count('policy');
    expect((await ok(await api.call('/policies', { as: librarian }))).policies).toHaveLength(before);
    await expectProblem(await api.call('/policies', { body: rule, as: librarian }), 403, 'FORBIDDEN');
    expect(api.count('policy')).toBe(before);

    const created = await ok(await api.call('/policies', { body: rule, as: admin }));
    expect(created).toMatchObject({ branchId: '*', patronCategory: 'faculty', itemType: '*', loanDays: 60, maxLoans: null });
    await expectProblem(await api.call(`/policies/${created.id}`, { method: 'DELETE', as: librarian }), 403, 'FORBIDDEN');
    expect((await api.call(`/policies/${created.id}`, { method: 'DELETE', as: admin })).status).toBe(204);
    expect(api.count('policy')).toBe(before);
  });

  it('keeps staff users, devices and calendars to admins', async () => {
    api = openApi();
    const librarian = await api.librarian();
    await expectProblem(await api.call('/staff', { body: { username: 'eve', displayName: 'Eve', role: 'admin', password: PASSWORD }, as: librarian }), 403, 'FORBIDDEN');
    await expectProblem(await api.call('/devices', { body: { id: 'k9', kind: 'kiosk', branchId: 'main', name: 'k' }, as: librarian }), 403, 'FORBIDDEN');
    await expectProblem(await api.call('/branches/main/closed-dates/2026-03-10', { method: 'PUT', body: {}, as: librarian }), 403, 'FORBIDDEN');
    expect(api.count('staff_user', "username = 'eve'") + api.count('device') + api.count('closed_date')).toBe(0);
  });

  it('asks for sign-in (401) before anything else on protected routes', async () => {
    api = openApi();
    await expectProblem(await api.call('/patrons'), 401, 'AUTH_REQUIRED');
    await expectProblem(await api.call('/circulation/checkout', { body: {} }), 401, 'AUTH_REQUIRED');
  });

  it('serves the catalogue and branches without sign-in', async () => {
    api = openApi();
    api.record('Journey to the West');
    expect((await ok(await api.call('/records?q=Journey'))).total).toBe(1);
    expect((await ok(await api.call('/branches'))).branches.map((b: { id: string }) => b.id)).toEqual(['east', 'main']);
  });
});

describe('patrons see only their own data', () => {
  it('refuses a patron the staff patron routes, and hides other patrons behind /me', async () => {
    api = openApi();
    const me = await api.patron({}, PIN);
    const other = await api.patron({ name: 'Someone Else' });
    const s = await api.patronSession(me.cardNumber);
    await expectProblem(await api.call(`/patrons/${other.id}`, { as: s }), 403, 'FORBIDDEN');
    await expectProblem(await api.call(`/patrons/${me.id}`, { as: s }), 403, 'FORBIDDEN');
    await expectProblem(await api.call('/patrons?q=Someone', { as: s }), 403, 'FORBIDDEN');
    await expectProblem(await api.call('/events/log', { as: s }), 403, 'FORBIDDEN');
    await expectProblem(await api.call('/circulation/checkout', { as: s, body: { patronId: me.id, barcode: 'B1', branchId: 'main' } }), 403, 'FORBIDDEN');
    expect((await ok(await api.call('/me', { as: s }))).id).toBe(me.id);
  });

  it("cannot renew another patron's loan or cancel another patron's hold", async () => {
    api = openApi();
    const me = await api.patron({}, PIN);
    const other = await api.patron();
    const item = api.book();
    const loan = api.circulation.checkout({ patronId: other.id }, { itemId: item.id }, { channel: 'desk', branchId: 'main' });
    const hold = api.circulation.placeHold({ patronId: other.id }, api.book().recordId, 'main', { channel: 'desk', branchId: 'main' });
    if (!loan.ok || !hold.ok) throw new Error('setup failed');
    const s = await api.patronSession(me.cardNumber);
    await expectProblem(await api.call(`/me/loans/${loan.loan.id}/renew`, { method: 'POST', as: s }), 404, 'LOAN_NOT_FOUND');
    await expectRefusal(await api.call(`/me/holds/${hold.hold.id}`, { method: 'DELETE', as: s }), 'HOLD_NOT_FOUND');
    expect(api.db.prepare('SELECT status FROM hold WHERE id = ?').get(hold.hold.id)).toEqual({ status: 'waiting' });
    expect(api.db.prepare('SELECT renewals FROM loan WHERE id = ?').get(loan.loan.id)).toEqual({ renewals: 0 });
  });

  it('lets a patron renew their loans and place and cancel their holds, on the opac channel', async () => {
    api = openApi();
    const me = await api.patron({ homeBranch: 'east' }, PIN);
    const item = api.book();
    api.circulation.checkout({ patronId: me.id }, { itemId: item.id }, { channel: 'desk', branchId: 'main' });
    const s = await api.patronSession(me.cardNumber);
    const loans = (await ok(await api.call('/me/loans', { as: s }))).loans;
    expect(loans).toMatchObject([{ barcode: item.barcode, overdue: false, renewals: 0 }]);
    expect((await ok(await api.call(`/me/loans/${loans[0].id}/renew`, { method: 'POST', as: s }))).loan.renewals).toBe(1);

    const recordId = api.book().recordId;
    const placed = await ok(await api.call('/me/holds', { as: s, body: { recordId, pickupBranch: 'east' } }));
    expect(placed.hold).toMatchObject({ patronId: me.id, pickupBranch: 'east', status: 'waiting', queuePosition: 1 });
    expect((await ok(await api.call('/me/holds', { as: s }))).holds).toHaveLength(1);
    expect((await ok(await api.call(`/me/holds/${placed.hold.id}`, { method: 'DELETE', as: s }))).hold.status).toBe('cancelled');
    expect(api.db.prepare("SELECT DISTINCT channel, actor FROM circ_event WHERE op IN ('renew', 'place_hold', 'cancel_hold')").all())
      .toEqual([{ channel: 'opac', actor: `patron:${me.id}` }]);
  });
});

describe('kiosks', () => {
  it('do circulation at their own branch on the kiosk channel, and nothing else', async () => {
    api = openApi();
    const token = api.device('kiosk-east', 'kiosk', 'east');
    const patron = await api.patron();
    const item = api.book();
    const status = await ok(await api.call('/circulation/patron-status', { token, body: { cardNumber: patron.cardNumber } }));
    expect(status).toMatchObject({ patronId: patron.id, blocks: [], loans: 0 });
    const out = await ok(await api.call('/circulation/checkout', { token, body: { cardNumber: patron.cardNumber, barcode: item.barcode } }));
    expect(out.loan.branchId).toBe('east');
    expect(api.db.prepare("SELECT channel, actor, branch_id FROM circ_event WHERE op = 'checkout'").get())
      .toEqual({ channel: 'kiosk', actor: 'device:kiosk-east', branch_id: 'east' });

    await expectProblem(await api.call('/circulation/checkin', { token, body: { barcode: item.barcode, branchId: 'main' } }), 403, 'BRANCH_NOT_ALLOWED');
    await expectProblem(await api.call('/records', { token, body: { title: 'x' } }), 403, 'FORBIDDEN');
    await expectProblem(await api.call(`/patrons/${patron.id}`, { token }), 403, 'FORBIDDEN');
    await expectProblem(await api.call('/circulation/holds', { token, body: { cardNumber: patron.cardNumber, recordId: item.recordId, pickupBranch: 'east' } }), 403, 'FORBIDDEN');
    await expectProblem(await api.call('/events/log', { token }), 403, 'FORBIDDEN');
  });

  it('refuses a gateway token circulation', async () => {
    api = openApi();
    const token = api.device('gw-1', 'gateway', null);
    await expectProblem(await api.call('/circulation/checkin', { token, body: { barcode: 'B1' } }), 403, 'FORBIDDEN');
  });
});

describe('admin: staff users and devices', () => {
  it('creates a staff user who can then sign in; disabling them ends their sessions', async () => {
    api = openApi();
    const admin = await api.admin('root');
    const created = await ok(await api.call('/staff', { as: admin, body: { username: 'wang', displayName: 'Wang Xifeng', role: 'librarian', password: 'a long passphrase' } }), 201);
    expect(created).toMatchObject({ username: 'wang', role: 'librarian', disabled: false });
    expect(JSON.stringify(created)).not.toContain('passphrase');
    const wang = await api.signIn('wang', 'a long passphrase');
    await expectProblem(await api.call('/staff', { as: admin, body: { username: 'wang', displayName: 'W', role: 'librarian', password: 'a long passphrase' } }), 409, 'DUPLICATE_USERNAME');

    await ok(await api.call(`/staff/${created.id}`, { method: 'PATCH', as: admin, body: { disabled: true } }));
    await expectProblem(await api.call('/auth/me', { as: wang }), 401, 'AUTH_REQUIRED');
    expect(api.auditRows().map((r) => r.action)).toEqual(['staff.create', 'staff.update']);
  });

  it('does not let the last admin demote themselves', async () => {
    api = openApi();
    const admin = await api.admin('root');
    await expectProblem(await api.call(`/staff/${admin.body.id}`, { method: 'PATCH', as: admin, body: { role: 'librarian' } }), 409, 'LAST_ADMIN');
  });

  it('returns a kiosk token once; it works as a bearer token until rotated', async () => {
    api = openApi();
    const admin = await api.admin();
    const created = await ok(await api.call('/devices', { as: admin, body: { id: 'kiosk-7', kind: 'kiosk', branchId: 'main', name: 'Lobby kiosk' } }), 201);
    expect(created).toMatchObject({ id: 'kiosk-7', kind: 'kiosk', branchId: 'main', hasToken: true, token: expect.any(String) });
    expect(api.db.prepare('SELECT token_hash FROM device').get()).not.toEqual({ token_hash: created.token });
    expect((await ok(await api.call('/devices', { as: admin }))).devices[0]).not.toHaveProperty('token');
    expect((await ok(await api.call('/auth/me', { token: created.token }))).id).toBe('kiosk-7');

    const rotated = await ok(await api.call('/devices/kiosk-7/token', { method: 'POST', as: admin }));
    await expectProblem(await api.call('/auth/me', { token: created.token }), 401, 'INVALID_TOKEN');
    await ok(await api.call('/auth/me', { token: rotated.token }));
  });

  it('refuses a kiosk without a branch, or at a branch that does not exist', async () => {
    api = openApi();
    const admin = await api.admin();
    const noBranch = await expectProblem(await api.call('/devices', { as: admin, body: { id: 'k1', kind: 'kiosk', name: 'k' } }), 422, 'VALIDATION_FAILED');
    expect(noBranch.errors[0].field).toBe('branchId');
    await expectProblem(await api.call('/devices', { as: admin, body: { id: 'k1', kind: 'kiosk', branchId: 'west', name: 'k' } }), 422, 'VALIDATION_FAILED');
    expect(api.count('device')).toBe(0);
  });
});
