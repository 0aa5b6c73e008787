import { afterEach, describe, expect, it } from 'vitest';
import { createCampaign, sendCampaign, type CampaignInput } from '../../../../server/crm/outreach/campaigns.js';
import type { Channel, OutgoingMessage } from '../../../../server/crm/outreach/channel.js';
import { DomainError } from '../../../../server/errors.js';
import { ok } from '../../http/helpers.js';
import { campaign, openOutreach, type Outreach } from './helpers.js';

let lib: Outreach;
afterEach(async () => { await lib?.close(); });

const DAY = 86_400_000;
const inApp = (over: Partial<CampaignInput> = {}) => campaign({ channel: 'in_app', ...over });
const define = (over: Partial<CampaignInput> = {}) => createCampaign(lib.db, inApp(over), 'staff:alice', lib.clock.now());

/** A messaging provider as an operator would plug one in: it keeps what it was given. */
function fakeSms(ratePerSecond?: number): Channel & { sent: OutgoingMessage[] } {
  const sent: OutgoingMessage[] = [];
  return { name: 'sms', ratePerSecond, sent, address: (r) => r.phone, async send(m) { sent.push(m); return { accepted: true, ref: `sms-${sent.length}` }; } };
}

describe('the per-patron cap', () => {
  it('lets one campaign message through per patron in 7 library days; the same weekday a week later is free again', async () => {
    lib = openOutreach();
    const p = await lib.reader();
    const send = () => lib.outreach.send(define().id, 'staff:alice');
    expect(send()).toMatchObject({ queued: 1, skipped: {} }); // Monday 2 March, 10:00
    await lib.outreach.idle();
    expect(send()).toMatchObject({ queued: 0, skipped: { THROTTLED: 1 } }); // same day
    lib.clock.advance(6 * DAY); // Sunday 8 March
    expect(send()).toMatchObject({ queued: 0, skipped: { THROTTLED: 1 } });
    lib.clock.set('2026-03-08T16:00:00.000Z'); // Monday 9 March, 00:00 in Shanghai
    expect(send()).toMatchObject({ queued: 1, skipped: {} });
    await lib.outreach.idle();
    expect(lib.messages().map((m) => [m.patronId, m.status, m.reason])).toEqual([
      [p.id, 'sent', null], [p.id, 'skipped', 'THROTTLED'], [p.id, 'skipped', 'THROTTLED'], [p.id, 'sent', null],
    ]);
  });

  it('takes its limits as options', async () => {
    lib = openOutreach({ throttle: { maxMessages: 2, perDays: 1 } });
    await lib.reader();
    const send = () => lib.outreach.send(define().id, 'staff:alice').queued;
    expect([send(), send(), send()]).toEqual([1, 1, 0]);
  });
});

describe('channels', () => {
  it('skips SMS with NO_CHANNEL while no provider is configured, and sends through one once registered', async () => {
    lib = openOutreach();
    const p = await lib.reader({ phone: '+86 138 0000 0000' });
    const c = define({ channel: 'sms' });
    expect(lib.outreach.send(c.id, 'staff:alice')).toMatchObject({ queued: 0, skipped: { NO_CHANNEL: 1 } });
    expect(lib.messages(c.id)).toEqual([expect.objectContaining({ patronId: p.id, channel: 'sms', status: 'skipped', reason: 'NO_CHANNEL' })]);
    await lib.close();

    const sms = fakeSms();
    lib = openOutreach({ channels: [sms] });
    const q = await lib.reader({ phone: '+86 139 0000 0000' });
    const d = define({ channel: 'sms' });
    lib.outreach.send(d.id, 'staff:alice');
    await lib.outreach.idle();
    expect(sms.sent).toHaveLength(1);
    expect(sms.sent[0]).toMatchObject({ to: '+86 139 0000 0000', recipient: { patronId: q.id } });
    expect(sms.sent[0]!.text).toMatch(/Unsubscribe from all library messages: https:\/\/library\.example\.edu\/api\/v1\/opt-out\/o\./);
    expect(lib.messages(d.id)[0]).toMatchObject({ status: 'sent', channel: 'sms' });
    expect(lib.db.prepare('SELECT channel FROM communication WHERE patron_id = ?').pluck().all(q.id)).toEqual(['sms']);
  });

  it('needs SMS consent for SMS and messaging apps, and a phone number', async () => {
    lib = openOutreach({ channels: [fakeSms()] });
    const noConsent = await lib.reader({ phone: '+86 138 0000 0001' }, { sms: 0 });
    const noPhone = await lib.reader({ phone: null });
    expect(lib.outreach.send(define({ channel: 'sms' }).id, 'staff:alice')).toMatchObject({ skipped: { NO_CHANNEL_CONSENT: 1, NO_ADDRESS: 1 } });
    expect(lib.outreach.send(define({ channel: 'messaging_app' }).id, 'staff:alice')).toMatchObject({ skipped: { NO_CHANNEL_CONSENT: 1, NO_CHANNEL: 1 } });
    expect(lib.messages().filter((m) => m.patronId === noConsent.id).map((m) => m.reason)).toEqual(['NO_CHANNEL_CONSENT', 'NO_CHANNEL_CONSENT']);
    expect(lib.messages().filter((m) => m.patronId === noPhone.id).map((m) => m.reason)).toEqual(['NO_ADDRESS', 'NO_CHANNEL']);
  });

  it('paces a channel at its rate', async () => {
    const waits: number[] = [];
    const sms = fakeSms(2);
    lib = openOutreach({ channels: [sms], sleep: async (ms) => { waits.push(ms); }, throttle: { maxMessages: 10, perDays: 1 } });
    for (let i = 0; i < 3; i++) await lib.reader({ phone: `+86 138 0000 000${i}` });
    lib.outreach.send(define({ channel: 'sms' }).id, 'staff:alice');
    await lib.outreach.idle();
    expect(sms.sent).toHaveLength(3);
    expect(waits).toHaveLength(2); // the first goes at once, each next one 500 ms after the one before
    for (const w of waits) expect(w).toBeGreaterThan(400), expect(w).toBeLessThanOrEqual(500);
  });
});

describe('personalised and generic texts', () => {
  const personal = {
    subject: '为您推荐 Picked for you', body: '{{name}}: new books in {{interest}}: {{recommendations}}',
    genericSubject: '新书上架 New arrivals', genericBody: '{{name}}: new books are on the shelves this week.',
  };

  it('gives the personalised text only to patrons who allow profiling, with a link to switch to the generic one; that link works', async () => {
    lib = openOutreach({ throttle: { maxMessages: 10, perDays: 1 } });
    const profiled = await lib.reader({ name: 'Li Lei' }, { profiling: 1 });
    const plain = await lib.reader({ name: 'Han Meimei' }, { profiling: 0 });
    for (const p of [profiled, plain]) lib.profile(p.id, { tier: 'active', cluster: 'history' });
    const record = lib.record('Records of the Grand Historian');
    lib.db.prepare(`INSERT INTO patron_recommendation (patron_id, rank, record_id, score, because) VALUES (?, 1, ?, 0.9, '{}')`).run(profiled.id, record);
    const c = define(personal);
    lib.outreach.send(c.id, 'staff:alice');
    await lib.outreach.idle();

    const [toProfiled, toPlain] = lib.messages(c.id);
    expect(toProfiled).toMatchObject({ patronId: profiled.id, variant: 'personalised', subject: '为您推荐 Picked for you' });
    expect(toProfiled!.body).toContain('Li Lei: new books in history: 《Records of the Grand Historian》');
    const switchLink = /Switch to non-personalised messages: (\S+)/.exec(toProfiled!.body!)?.[1];
    expect(switchLink).toMatch(new RegExp(`/opt-out/o\\.${profiled.id}\\.personalisation\\.`));
    expect(toPlain).toMatchObject({ patronId: plain.id, variant: 'generic', subject: '新书上架 New arrivals' });
    expect(toPlain!.body).toContain('Han Meimei: new books are on the shelves this week.');
    expect(toPlain!.body).not.toMatch(/history|Grand Historian|non-personalised/);

    const path = new URL(switchLink!).pathname.slice('/api/v1'.length);
    expect(await ok(await lib.request(path))).toMatchObject({ scope: 'personalisation', done: false }); // GET changes nothing
    expect(await ok(await lib.request(path, { method: 'POST' }))).toMatchObject({ scope: 'personalisation', done: true });
    const d = define(personal);
    lib.outreach.send(d.id, 'staff:alice');
    await lib.outreach.idle();
    expect(lib.messages(d.id).map((m) => m.variant)).toEqual(['generic', 'generic']);
    expect(lib.db.prepare('SELECT profiling, marketing FROM patron_consent WHERE patron_id = ?').get(profiled.id)).toEqual({ profiling: 1, marketing: 1 });
  });

  it('falls back to the generic text when the profile has nothing to fill in', async () => {
    lib = openOutreach();
    const p = await lib.reader({}, { profiling: 1 }); // no profile row yet
    const c = define(personal);
    lib.outreach.send(c.id, 'staff:alice');
    await lib.outreach.idle();
    expect(lib.messages(c.id)[0]).toMatchObject({ patronId: p.id, variant: 'generic', subject: '新书上架 New arrivals' });
  });

  it('refuses texts with profile placeholders but no generic variant, or unknown placeholders', async () => {
    lib = openOutreach();
    const code = (f: () => unknown) => { try { f(); return null; } catch (e) { return (e as DomainError).code; } };
    expect(code(() => define({ body: 'Books on {{interest}} for you' }))).toBe('GENERIC_VARIANT_REQUIRED');
    expect(code(() => define({ body: 'x', genericSubject: 's', genericBody: 'Also {{tier}}' }))).toBe('GENERIC_VARIANT_PERSONALISED');
    expect(code(() => define({ body: 'Hello {{nickname}}' }))).toBe('TEMPLATE_UNKNOWN_PLACEHOLDER');
    expect(code(() => define({ genericSubject: 'only the subject' }))).toBe('GENERIC_VARIANT_INCOMPLETE');
    expect(lib.count('campaign')).toBe(0);
  });
});

describe('consent at the moment of sending', () => {
  it('checks consent again just before a queued message goes out', async () => {
    lib = openOutreach();
    const p = await lib.reader();
    const c = define();
    expect(sendCampaign(lib.outreach.ctx, c.id, 'staff:alice').queued).toBe(1); // planned, not yet delivered
    lib.consent(p.id, { marketing: 0 });
    await lib.outreach.deliver();
    expect(lib.messages(c.id)[0]).toMatchObject({ status: 'skipped', reason: 'NO_MARKETING_CONSENT' });
    expect(lib.count('in_app_message')).toBe(0);
  });

  it('refuses to send an archived campaign', async () => {
    lib = openOutreach();
    await lib.reader();
    const c = define({ status: 'archived' });
    expect(() => lib.outreach.send(c.id, 'staff:alice')).toThrowError(expect.objectContaining({ code: 'CAMPAIGN_ARCHIVED' }));
    expect(lib.count('campaign_message')).toBe(0);
  });
});
