import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCampaign, type CampaignInput } from '../../../../server/crm/outreach/campaigns.js';
import { applyOptOut } from '../../../../server/crm/outreach/consent.js';
import { ok } from '../../http/helpers.js';
import { campaign, openOutreach, startSmtp, type Outreach, type Smtp } from './helpers.js';

let lib: Outreach;
let smtp: Smtp;
beforeEach(async () => {
  smtp = await startSmtp();
  lib = openOutreach({ mail: { smtpUrl: smtp.url, from: 'Shelfsense Library <library@example.edu>', ratePerSecond: 1000 } });
});
afterEach(async () => {
  await lib.close();
  await smtp.close();
});

const MIN = 60_000;
const define = (over: Partial<CampaignInput> = {}) => createCampaign(lib.db, campaign(over), 'staff:alice', lib.clock.now());

describe('an e-mail campaign through a real SMTP server', () => {
  it('arrives with the patron\'s name, the opt-out links in the text and the List-Unsubscribe headers; the one-click opt-out works', async () => {
    const wang = await lib.reader({ name: 'Wang Fang', email: 'wang.fang@example.edu' });
    const c = define();
    expect(lib.outreach.send(c.id, 'staff:alice')).toEqual({ runId: expect.any(Number), audience: 1, queued: 1, skipped: {}, unchanged: 0 });
    await lib.outreach.idle();

    expect(smtp.received).toHaveLength(1);
    const mail = smtp.received[0]!;
    expect(mail.to).toEqual(['wang.fang@example.edu']);
    expect(mail.from).toBe('library@example.edu');
    expect(mail.subject).toBe('春季读书周 Spring reading week');
    expect(mail.text).toContain('Wang Fang，您好！Dear Wang Fang, the spring reading week starts on Monday.');
    const all = /Unsubscribe from all library messages: (\S+)/.exec(mail.text)?.[1];
    const kind = /Stop messages like this: (\S+)/.exec(mail.text)?.[1];
    expect(all).toMatch(new RegExp(`^https://library\\.example\\.edu/api/v1/opt-out/o\\.${wang.id}\\.marketing\\.\\d+\\.[\\w-]{22}$`));
    expect(kind).toMatch(new RegExp(`/api/v1/opt-out/o\\.${wang.id}\\.announcement\\.`));
    expect(mail.text).not.toContain('non-personalised'); // nothing personalised in this text
    expect(mail.headers['list-unsubscribe']).toBe(`<${all}>`);
    expect(mail.headers['list-unsubscribe-post']).toBe('List-Unsubscribe=One-Click');

    const [message] = lib.messages(c.id);
    expect(message).toMatchObject({ patronId: wang.id, status: 'sent', reason: null, error: null, recipient: 'wang.fang@example.edu', variant: 'generic', attempts: 1 });
    expect(lib.db.prepare('SELECT channel, direction, staff, ref FROM communication WHERE patron_id = ?').all(wang.id))
      .toEqual([{ channel: 'email', direction: 'out', staff: 'alice', ref: `campaign-message:${message!.id}` }]);

    // RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" to the header's URL.
    const path = new URL(all!).pathname.slice('/api/v1'.length);
    const res = await lib.request(path, { method: 'POST', body: 'List-Unsubscribe=One-Click', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    expect(await ok(res)).toMatchObject({ scope: 'marketing', done: true });
    expect(lib.db.prepare('SELECT marketing FROM patron_consent WHERE patron_id = ?').get(wang.id)).toEqual({ marketing: 0 });
    expect(lib.auditRows()).toContainEqual({ actor: `patron:${wang.id}`, action: 'patron.opt_out', target: `patron:${wang.id}` });

    expect(lib.outreach.send(define().id, 'staff:alice')).toMatchObject({ queued: 0, skipped: { NO_MARKETING_CONSENT: 1 } });
  });

  it('sends nothing to patrons without marketing or e-mail consent, an address, or who opted out of the kind; each is logged as skipped with the reason', async () => {
    const noRow = await lib.patron({ email: 'norow@example.edu' }); // no consent row: no marketing
    const noMarketing = await lib.reader({ email: 'nomarketing@example.edu' }, { marketing: 0 });
    const noEmail = await lib.reader({ email: 'noemail@example.edu' }, { email: 0 });
    const noAddress = await lib.reader({ email: null });
    const optedOut = await lib.reader({ email: 'optedout@example.edu' });
    applyOptOut(lib.db, optedOut.id, 'announcement', 'link', lib.clock.now());
    const willing = await lib.reader({ email: 'willing@example.edu' });

    const c = define();
    expect(lib.outreach.send(c.id, 'staff:alice')).toMatchObject({
      audience: 6, queued: 1, skipped: { NO_MARKETING_CONSENT: 2, NO_CHANNEL_CONSENT: 1, NO_ADDRESS: 1, OPTED_OUT: 1 },
    });
    await lib.outreach.idle();
    expect(smtp.received.map((m) => m.to)).toEqual([['willing@example.edu']]);
    const byPatron = Object.fromEntries(lib.messages(c.id).map((m) => [m.patronId, [m.status, m.reason]]));
    expect(byPatron).toEqual({
      [noRow.id]: ['skipped', 'NO_MARKETING_CONSENT'], [noMarketing.id]: ['skipped', 'NO_MARKETING_CONSENT'],
      [noEmail.id]: ['skipped', 'NO_CHANNEL_CONSENT'], [noAddress.id]: ['skipped', 'NO_ADDRESS'],
      [optedOut.id]: ['skipped', 'OPTED_OUT'], [willing.id]: ['sent', null],
    });
    expect(lib.count('communication')).toBe(1);
  });

  it('records a recipient the SMTP server refuses (550) as failed with the server\'s words, never as sent', async () => {
    const bad = await lib.reader({ email: 'bad.address@example.edu' });
    const c = define();
    lib.outreach.send(c.id, 'staff:alice');
    await lib.outreach.idle();
    expect(smtp.received).toEqual([]);
    const [m] = lib.messages(c.id);
    expect(m).toMatchObject({ patronId: bad.id, status: 'failed', reason: 'SEND_FAILED', attempts: 1 });
    expect(m!.error).toMatch(/550 mailbox unavailable/);
    expect(lib.count('communication')).toBe(0);
  });

  it('retries a transient refusal (451) after 5 minutes and sends it then', async () => {
    await lib.reader({ email: 'busy.reader@example.edu' });
    const c = define();
    lib.outreach.send(c.id, 'staff:alice');
    await lib.outreach.idle();
    expect(lib.messages(c.id)[0]).toMatchObject({ status: 'queued', attempts: 1, error: expect.stringMatching(/451 try again later/) });

    lib.clock.advance(4 * MIN);
    await lib.outreach.deliver();
    expect(lib.messages(c.id)[0]).toMatchObject({ status: 'queued', attempts: 1 }); // not due yet

    smtp.state.busy = false;
    lib.clock.advance(MIN);
    await lib.outreach.deliver();
    expect(lib.messages(c.id)[0]).toMatchObject({ status: 'sent', attempts: 2, error: null });
    expect(smtp.received.map((m) => m.to)).toEqual([['busy.reader@example.edu']]);
  });

  it('gives up after the third attempt (5 and 30 minutes apart) and records the failure', async () => {
    await lib.reader({ email: 'busy.forever@example.edu' });
    const c = define();
    lib.outreach.send(c.id, 'staff:alice');
    await lib.outreach.idle();
    lib.clock.advance(5 * MIN);
    await lib.outreach.deliver();
    expect(lib.messages(c.id)[0]).toMatchObject({ status: 'queued', attempts: 2 });
    lib.clock.advance(30 * MIN);
    await lib.outreach.deliver();
    expect(lib.messages(c.id)[0]).toMatchObject({ status: 'failed', reason: 'SEND_FAILED', attempts: 3, error: expect.stringMatching(/451/) });
    expect(smtp.received).toEqual([]);
  });
});
