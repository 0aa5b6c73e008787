import { afterEach, describe, expect, it } from 'vitest';
import { tokenHash } from '../../../server/auth/passwords.js';
import { expectProblem, ok, openApi, PASSWORD, PIN, type Api } from './helpers.js';

let api: Api;
afterEach(() => api?.close());

describe('staff sign-in', () => {
  it('sets an HttpOnly SameSite=Strict session cookie and returns the CSRF token; only the token hash is stored', async () => {
    api = openApi();
    await api.staffUser('alice', 'librarian');
    const res = await api.call('/auth/staff/login', { body: { username: 'alice', password: PASSWORD } });
    const body = await ok(res);
    expect(body).toMatchObject({ kind: 'staff', username: 'alice', role: 'librarian', csrfToken: expect.any(String), expiresAt: '2026-03-02T14:00:00.000Z' });
    const setCookie = res.headers.get('Set-Cookie')!;
    expect(setCookie).toMatch(/^shelfsense_session=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).toContain('Path=/');
    expect(setCookie).toContain('Max-Age=43200');
    expect(setCookie).not.toContain('Secure');
    const token = setCookie.split(';')[0]!.split('=')[1]!;
    const rows = api.db.prepare('SELECT token_hash, kind, csrf_token FROM session').all();
    expect(rows).toEqual([{ token_hash: tokenHash(token), kind: 'staff', csrf_token: body.csrfToken }]);

    const me = await ok(await api.call('/auth/me', { as: { cookie: setCookie.split(';')[0]!, csrfToken: body.csrfToken, setCookie, body } }));
    expect(me).toMatchObject({ kind: 'staff', username: 'alice', role: 'librarian', csrfToken: body.csrfToken });
  });

  it('marks the cookie Secure, with the __Host- prefix, when secureCookies is on', async () => {
    api = openApi({ http: { secureCookies: true, sessionHours: 2 } });
    await api.staffUser('alice', 'admin');
    const s = await api.signIn('alice');
    expect(s.setCookie).toMatch(/^__Host-shelfsense_session=/);
    expect(s.setCookie).toContain('Secure');
    expect(s.setCookie).toContain('Max-Age=7200');
    expect((await api.call('/auth/me', { as: s })).status).toBe(200);
  });

  it('refuses a wrong password and an unknown user alike, with 401 INVALID_CREDENTIALS and no session', async () => {
    api = openApi();
    await api.staffUser('alice', 'librarian');
    const wrong = await expectProblem(await api.call('/auth/staff/login', { body: { username: 'alice', password: 'nope' } }), 401, 'INVALID_CREDENTIALS');
    const unknown = await expectProblem(await api.call('/auth/staff/login', { body: { username: 'bob', password: 'nope' } }), 401, 'INVALID_CREDENTIALS');
    expect(wrong.detail).toBe(unknown.detail);
    expect(api.count('session')).toBe(0);
  });

  it('locks a username after 5 failures in 15 minutes with 429 TOO_MANY_ATTEMPTS and Retry-After, even for the right password', async () => {
    api = openApi();
    await api.staffUser('alice', 'librarian');
    for (let i = 0; i < 5; i++) {
      await expectProblem(await api.call('/auth/staff/login', { body: { username: 'alice', password: `guess${i}` }, ip: `198.51.100.${i}` }), 401, 'INVALID_CREDENTIALS');
    }
    const locked = await api.call('/auth/staff/login', { body: { username: 'alice', password: PASSWORD }, ip: '198.51.100.99' });
    expect(locked.headers.get('Retry-After')).toBe('900');
    await expectProblem(locked, 429, 'TOO_MANY_ATTEMPTS');
    expect(api.count('session')).toBe(0);

    api.clock.advance(15 * 60_000 + 1000);
    await ok(await api.call('/auth/staff/login', { body: { username: 'alice', password: PASSWORD } }));
  });

  it('counts guesses sent in parallel: no more than 5 are ever checked', async () => {
    api = openApi();
    await api.staffUser('alice', 'librarian');
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) =>
      api.call('/auth/staff/login', { body: { username: 'alice', password: `guess${i}` }, ip: `198.51.100.${i}` })));
    expect(answers.map((r) => r.status).sort()).toEqual([...Array(5).fill(401), ...Array(7).fill(429)]);
  });

  it('locks a client address after 20 failures over any usernames', async () => {
    api = openApi();
    await api.staffUser('alice', 'librarian');
    for (let i = 0; i < 20; i++) {
      await expectProblem(await api.call('/auth/staff/login', { body: { username: `user${i}`, password: 'x' }, ip: '203.0.113.7' }), 401, 'INVALID_CREDENTIALS');
    }
    await expectProblem(await api.call('/auth/staff/login', { body: { username: 'alice', password: PASSWORD }, ip: '203.0.113.7' }), 429, 'TOO_MANY_ATTEMPTS');
    await ok(await api.call('/auth/staff/login', { body: { username: 'alice', password: PASSWORD }, ip: '203.0.113.8' }));
  });

  it('refuses a disabled account', async () => {
    api = openApi();
    const id = await api.staffUser('alice', 'librarian');
    api.db.prepare('UPDATE staff_user SET disabled = 1 WHERE id = ?').run(id);
    await expectProblem(await api.call('/auth/staff/login', { body: { username: 'alice', password: PASSWORD } }), 403, 'ACCOUNT_DISABLED');
  });

  it('validates the sign-in body: 422 with field errors', async () => {
    api = openApi();
    const body = await expectProblem(await api.call('/auth/staff/login', { body: { username: 'alice' } }), 422, 'VALIDATION_FAILED');
    expect(body.errors).toEqual([expect.objectContaining({ in: 'body', field: 'password' })]);
  });
});

describe('sessions', () => {
  it('ends at logout: the row is deleted, the cookie cleared and no longer accepted', async () => {
    api = openApi();
    const s = await api.librarian('alice');
    const res = await api.call('/auth/logout', { method: 'POST', as: s });
    expect(res.status).toBe(204);
    expect(res.headers.get('Set-Cookie')).toMatch(/^shelfsense_session=;.*Max-Age=0/);
    expect(api.count('session')).toBe(0);
    await expectProblem(await api.call('/auth/me', { as: s }), 401, 'AUTH_REQUIRED');
  });

  it('ends the session a browser held before when someone signs in again', async () => {
    api = openApi();
    const first = await api.librarian('alice');
    await api.staffUser('bob', 'librarian');
    const again = await api.call('/auth/staff/login', { body: { username: 'bob', password: PASSWORD }, headers: { Cookie: first.cookie } });
    await ok(again);
    expect(api.count('session')).toBe(1);
    await expectProblem(await api.call('/auth/me', { as: first }), 401, 'AUTH_REQUIRED');
  });

  it('expires after config.http.sessionHours', async () => {
    api = openApi({ http: { sessionHours: 1 } });
    const s = await api.librarian('alice');
    api.clock.advance(59 * 60_000);
    await ok(await api.call('/auth/me', { as: s }));
    api.clock.advance(2 * 60_000);
    await expectProblem(await api.call('/auth/me', { as: s }), 401, 'AUTH_REQUIRED');
    expect(api.count('session')).toBe(0);
  });
});

describe('CSRF', () => {
  it('refuses a state-changing request authenticated by cookie without the session X-CSRF-Token, and changes nothing', async () => {
    api = openApi();
    const s = await api.librarian('alice');
    const record = { title: 'Dream of the Red Chamber' };
    await expectProblem(await api.call('/records', { body: record, as: s, csrf: false }), 403, 'CSRF_TOKEN_INVALID');
    await expectProblem(await api.call('/records', { body: record, as: s, csrf: 'not-the-token' }), 403, 'CSRF_TOKEN_INVALID');
    expect(api.count('record')).toBe(0);
    await expectProblem(await api.call('/auth/logout', { method: 'POST', as: s, csrf: false }), 403, 'CSRF_TOKEN_INVALID');
    expect(api.count('session')).toBe(1);

    await ok(await api.call('/records', { body: record, as: s }), 201);
    expect(api.count('record')).toBe(1);
  });

  it('does not ask for it on reads, nor from a device token', async () => {
    api = openApi();
    const s = await api.librarian('alice');
    await ok(await api.call('/records', { as: s, csrf: false }));
    const token = api.device('kiosk-1', 'kiosk');
    const item = api.book();
    const patron = await api.patron();
    await ok(await api.call('/circulation/checkout', { token, body: { cardNumber: patron.cardNumber, barcode: item.barcode } }));
  });

  it("does not accept another session's token", async () => {
    api = openApi();
    const alice = await api.librarian('alice');
    const bob = await api.librarian('bob');
    await expectProblem(await api.call('/records', { body: { title: 'x' }, as: alice, csrf: bob.csrfToken }), 403, 'CSRF_TOKEN_INVALID');
  });
});

describe('patron sign-in', () => {
  it('signs a patron in with card number and PIN into a patron session', async () => {
    api = openApi();
    const p = await api.patron({ name: 'Lin Daiyu' }, PIN);
    const s = await api.patronSession(p.cardNumber);
    expect(s.body).toMatchObject({ kind: 'patron', id: p.id, cardNumber: p.cardNumber, name: 'Lin Daiyu', csrfToken: expect.any(String) });
    expect(api.db.prepare('SELECT kind, subject_id FROM session').all()).toEqual([{ kind: 'patron', subject_id: p.id }]);
    expect(await ok(await api.call('/me', { as: s }))).toMatchObject({ id: p.id, name: 'Lin Daiyu', hasPin: true });
  });

  it('refuses a wrong PIN, a patron without a PIN, and rate-limits the card number', async () => {
    api = openApi();
    const p = await api.patron({}, PIN);
    const noPin = await api.patron();
    await expectProblem(await api.call('/auth/patron/login', { body: { cardNumber: noPin.cardNumber, pin: '0000' } }), 401, 'INVALID_CREDENTIALS');
    for (let i = 0; i < 5; i++) {
      await expectProblem(await api.call('/auth/patron/login', { body: { cardNumber: p.cardNumber, pin: `000${i}` }, ip: `198.51.100.${i}` }), 401, 'INVALID_CREDENTIALS');
    }
    await expectProblem(await api.call('/auth/patron/login', { body: { cardNumber: p.cardNumber, pin: PIN } }), 429, 'TOO_MANY_ATTEMPTS');
  });

  it('refuses a card reported lost, even with the right PIN', async () => {
    api = openApi();
    const p = await api.patron({ cardLost: true }, PIN);
    await expectProblem(await api.call('/auth/patron/login', { body: { cardNumber: p.cardNumber, pin: PIN } }), 403, 'CARD_LOST');
  });
});

describe('device tokens', () => {
  it('identifies a kiosk by its bearer token and refuses an unknown token with 401 INVALID_TOKEN', async () => {
    api = openApi();
    const token = api.device('kiosk-1', 'kiosk', 'east');
    expect(await ok(await api.call('/auth/me', { token }))).toEqual({ kind: 'device', id: 'kiosk-1', deviceKind: 'kiosk', branchId: 'east' });
    const res = await api.call('/auth/me', { token: 'forged' });
    expect(res.headers.get('WWW-Authenticate')).toContain('invalid_token');
    await expectProblem(res, 401, 'INVALID_TOKEN');
  });
});
