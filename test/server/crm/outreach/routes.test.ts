import { afterEach, describe, expect, it } from 'vitest';
import { expectProblem, ok, PIN } from '../../http/helpers.js';
import { campaign, openOutreach, type Outreach } from './helpers.js';

let lib: Outreach;
afterEach(async () => { await lib?.close(); });

describe('in-app messages in the online catalogue', () => {
  it('shows an in-app campaign in /me/messages, which the patron marks read and unread; another patron cannot touch it', async () => {
    lib = openOutreach();
    const librarian = await lib.librarian('alice');
    const reader = await lib.reader({ name: 'Zhao Lei' }, {}, PIN);
    const other = await lib.reader({}, {}, PIN);
    const unwilling = await lib.patron({}, PIN);

    const created = await ok(await lib.request('/crm/campaigns', { as: librarian, body: campaign({ channel: 'in_app', subject: '闭馆通知 Closing early' }) }), 201);
    expect(created).toMatchObject({ kind: 'announcement', channel: 'in_app', status: 'draft', automatic: false, createdBy: 'staff:alice' });
    expect(await ok(await lib.request(`/crm/campaigns/${created.id}/preview`, { as: librarian }))).toEqual({ audience: 3, eligible: 2, skipped: { NO_MARKETING_CONSENT: 1 } });
    expect(await ok(await lib.request(`/crm/campaigns/${created.id}/send`, { method: 'POST', as: librarian }), 202))
      .toMatchObject({ audience: 3, queued: 2, skipped: { NO_MARKETING_CONSENT: 1 } });
    await lib.outreach.idle();

    const s = await lib.patronSession(reader.cardNumber);
    const mine = await ok(await lib.request('/me/messages', { as: s }));
    expect(mine).toMatchObject({ total: 1, unread: 1, messages: [{ subject: '闭馆通知 Closing early', readAt: null }] });
    expect(mine.messages[0].body).toMatch(/^Zhao Lei，您好！/);
    expect(mine.messages[0].body).toContain('Unsubscribe from all library messages: https://library.example.edu/api/v1/opt-out/');
    const id = mine.messages[0].id;

    await expectProblem(await lib.request(`/me/messages/${id}/read`, { method: 'POST', as: s, csrf: false }), 403, 'CSRF_TOKEN_INVALID');
    const read = await ok(await lib.request(`/me/messages/${id}/read`, { method: 'POST', as: s }));
    expect(read.readAt).toBe(lib.clock.now().toISOString());
    expect(await ok(await lib.request('/me/messages?unread=true', { as: s }))).toEqual({ total: 0, unread: 0, messages: [] });
    expect((await ok(await lib.request(`/me/messages/${id}/read`, { method: 'DELETE', as: s }))).readAt).toBeNull();

    const t = await lib.patronSession(other.cardNumber);
    await expectProblem(await lib.request(`/me/messages/${id}/read`, { method: 'POST', as: t }), 404, 'MESSAGE_NOT_FOUND');
    expect((await ok(await lib.request('/me/messages', { as: t }))).total).toBe(1);
    const u = await lib.patronSession(unwilling.cardNumber);
    expect(await ok(await lib.request('/me/messages', { as: u }))).toEqual({ total: 0, unread: 0, messages: [] });

    const log = await ok(await lib.request(`/crm/campaigns/${created.id}/messages`, { as: librarian }));
    expect(log.counts).toEqual({ queued: 0, sent: 2, failed: 0, skipped: 1 });
    expect(log.messages.map((m: { patronId: number; status: string; reason: string | null }) => [m.patronId, m.status, m.reason])).toEqual([
      [reader.id, 'sent', null], [other.id, 'sent', null], [unwilling.id, 'skipped', 'NO_MARKETING_CONSENT'],
    ]);
    expect(lib.auditRows().filter((r) => r.action === 'campaign.messages.read').map((r) => r.target).sort())
      .toEqual([reader.id, other.id, unwilling.id].map((i) => `patron:${i}`).sort());
    const runs = await ok(await lib.request(`/crm/campaigns/${created.id}/runs`, { as: librarian }));
    expect(runs.runs).toEqual([expect.objectContaining({ trigger: 'manual', actor: 'staff:alice', audience: 3, status: { queued: 0, sent: 2, failed: 0, skipped: 1 } })]);
  });
});

describe('campaign definitions over HTTP', () => {
  it('validates texts and params, changes and archives a campaign, and deletes only one that never sent', async () => {
    lib = openOutreach();
    const librarian = await lib.librarian();
    await expectProblem(await lib.request('/crm/campaigns', { as: librarian, body: campaign({ body: 'On {{interest}}' }) }), 422, 'GENERIC_VARIANT_REQUIRED');
    await expectProblem(await lib.request('/crm/campaigns', { as: librarian, body: campaign({ kind: 'welcome' }) }), 422, 'CAMPAIGN_PARAMS_INVALID');
    await expectProblem(await lib.request('/crm/campaigns', { as: librarian, body: campaign({ kind: 'event_invitation', params: { eventId: 99 } }) }), 404, 'EVENT_NOT_FOUND');
    await expectProblem(await lib.request('/crm/campaigns', { as: librarian, body: { ...campaign(), extra: 1 } }), 422, 'VALIDATION_FAILED');

    const welcome = await ok(await lib.request('/crm/campaigns', { as: librarian, body: campaign({ kind: 'welcome', params: { afterDays: 7 } }) }), 201);
    expect(welcome).toMatchObject({ automatic: true, params: { afterDays: 7 } });
    const winBack = await ok(await lib.request('/crm/campaigns', { as: librarian, body: campaign({ kind: 'win_back' }) }), 201);
    expect(winBack.params).toEqual({ inactiveDays: 90, minChurnRisk: 0.6 });
    const patched = await ok(await lib.request(`/crm/campaigns/${welcome.id}`, { method: 'PATCH', as: librarian, body: { status: 'active', params: { afterDays: 0 } } }));
    expect(patched).toMatchObject({ status: 'active', params: { afterDays: 0 } });
    await lib.reader(); // registered today
    await lib.reader().then((p) => lib.db.prepare("UPDATE patron SET created_at = '2026-01-05T02:00:00.000Z' WHERE id = ?").run(p.id));
    // Today's one new patron; this server has no SMTP server configured.
    expect(await ok(await lib.request(`/crm/campaigns/${welcome.id}/preview`, { as: librarian }))).toEqual({ audience: 1, eligible: 0, skipped: { NO_CHANNEL: 1 } });
    await expectProblem(await lib.request(`/crm/campaigns/${welcome.id}/send`, { method: 'POST', as: librarian }), 409, 'CAMPAIGN_AUTOMATIC');

    const sent = await ok(await lib.request('/crm/campaigns', { as: librarian, body: campaign({ channel: 'in_app' }) }), 201);
    await ok(await lib.request(`/crm/campaigns/${sent.id}/send`, { method: 'POST', as: librarian }), 202);
    await expectProblem(await lib.request(`/crm/campaigns/${sent.id}`, { method: 'DELETE', as: librarian }), 409, 'CAMPAIGN_HAS_MESSAGES');
    await ok(await lib.request(`/crm/campaigns/${sent.id}`, { method: 'PATCH', as: librarian, body: { status: 'archived' } }));
    await expectProblem(await lib.request(`/crm/campaigns/${sent.id}/send`, { method: 'POST', as: librarian }), 409, 'CAMPAIGN_ARCHIVED');
    expect((await lib.request(`/crm/campaigns/${winBack.id}`, { method: 'DELETE', as: librarian })).status).toBe(204);
    expect((await ok(await lib.request('/crm/campaigns?kind=welcome', { as: librarian }))).campaigns.map((c: { id: number }) => c.id)).toEqual([welcome.id]);
  });

  it('keeps campaigns and surveys to staff, messages to patrons, and the automatic run to admins', async () => {
    lib = openOutreach();
    const librarian = await lib.librarian();
    const p = await lib.reader({}, {}, PIN);
    const s = await lib.patronSession(p.cardNumber);
    await expectProblem(await lib.request('/crm/campaigns'), 401, 'AUTH_REQUIRED');
    await expectProblem(await lib.request('/crm/campaigns', { as: s }), 403, 'FORBIDDEN');
    await expectProblem(await lib.request('/crm/surveys', { as: s }), 403, 'FORBIDDEN');
    await expectProblem(await lib.request('/me/messages', { as: librarian }), 403, 'FORBIDDEN');
    await expectProblem(await lib.request('/crm/campaigns/automatic/run', { method: 'POST', as: librarian }), 403, 'FORBIDDEN');
    const admin = await lib.admin();
    expect(await ok(await lib.request('/crm/campaigns/automatic/run', { method: 'POST', as: admin }))).toEqual({ results: [] });
  });

  it('lists the holidays (three to start with) and takes new ones, yearly or for one date', async () => {
    lib = openOutreach();
    const librarian = await lib.librarian();
    expect((await ok(await lib.request('/crm/holidays', { as: librarian }))).holidays.map((h: { date: string }) => h.date)).toEqual(['01-01', '04-23', '10-01']);
    const spring = await ok(await lib.request('/crm/holidays', { as: librarian, body: { name: 'Spring Festival', nameZh: '春节', date: '2027-02-06' } }), 201);
    expect(spring).toMatchObject({ name: 'Spring Festival', nameZh: '春节', date: '2027-02-06' });
    await expectProblem(await lib.request('/crm/holidays', { as: librarian, body: { name: 'Nope', date: '02-30' } }), 422, 'HOLIDAY_DATE_INVALID');
    await expectProblem(await lib.request('/crm/holidays', { as: librarian, body: { name: 'Spring Festival', date: '2027-02-06' } }), 409, 'DUPLICATE_HOLIDAY');
    expect((await lib.request(`/crm/holidays/${spring.id}`, { method: 'DELETE', as: librarian })).status).toBe(204);
  });
});

describe('opt-out links', () => {
  it('shows a browser a page with a confirm button (GET changes nothing) and refuses a tampered link', async () => {
    lib = openOutreach();
    const p = await lib.reader();
    const token = lib.outreach.signer.sign({ purpose: 'o', patronId: p.id, subject: 'marketing', expiresAt: new Date(lib.clock.now().getTime() + 86_400_000) });
    const page = await lib.request(`/opt-out/${token}`, { headers: { Accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('Content-Type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('<form method="post">');
    expect(html).toContain('Stop receiving all messages from the library other than service notices?');
    expect(lib.db.prepare('SELECT marketing FROM patron_consent WHERE patron_id = ?').get(p.id)).toEqual({ marketing: 1 });

    const forged = token.replace(`o.${p.id}.`, `o.${p.id + 1}.`);
    await expectProblem(await lib.request(`/opt-out/${forged}`, { method: 'POST' }), 403, 'TOKEN_INVALID');
    await expectProblem(await lib.request('/opt-out/not-a-token', { method: 'POST' }), 400, 'TOKEN_MALFORMED');
    expect(lib.count('outreach_opt_out')).toBe(0);

    const done = await lib.request(`/opt-out/${token}`, { method: 'POST', headers: { Accept: 'text/html' } });
    expect(await done.text()).toContain('Done: you will no longer receive all messages from the library other than service notices.');
    expect(lib.db.prepare('SELECT marketing FROM patron_consent WHERE patron_id = ?').get(p.id)).toEqual({ marketing: 0 });
  });
});
