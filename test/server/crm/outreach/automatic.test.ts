import { afterEach, describe, expect, it, vi } from 'vitest';
import { birthdaysOn, lapsingPatrons, registeredBetween } from '../../../../server/crm/outreach/automatic.js';
import { addHoliday } from '../../../../server/crm/outreach/automatic.js';
import { createCampaign, type CampaignInput } from '../../../../server/crm/outreach/campaigns.js';
import { systemClock } from '../../../../server/clock.js';
import { getSetting } from '../../../../server/store/db.js';
import { OutreachFeature } from '../../../../server/crm/outreach/outreach.js';
import { campaign, openOutreach, PUBLIC_URL, SECRET, type Outreach } from './helpers.js';

let lib: Outreach;
afterEach(async () => { vi.useRealTimers(); await lib?.close(); });

const DAY = 86_400_000;
const automatic = (over: Partial<CampaignInput>) => createCampaign(lib.db, campaign({ channel: 'in_app', status: 'active', ...over }), 'staff:alice', lib.clock.now());
const registeredAt = (patronId: number, iso: string) => lib.db.prepare('UPDATE patron SET created_at = ? WHERE id = ?').run(iso, patronId);
const daysAgo = (n: number) => new Date(lib.clock.now().getTime() - n * DAY).toISOString();
const queuedFor = (campaignId: number) => lib.messages(campaignId).filter((m) => m.status !== 'skipped').map((m) => [m.patronId, m.occasion]);

describe('birthdays', () => {
  it('greets the patrons born on today\'s date in the library\'s time zone, once a year', async () => {
    lib = openOutreach({ throttle: { maxMessages: 10, perDays: 1 } });
    lib.clock.set('2026-03-01T16:30:00.000Z'); // 1 March in UTC, but 2 March 00:30 in Shanghai
    const today = await lib.reader({ birthDate: '1990-03-02' });
    await lib.reader({ birthDate: '1990-03-01' });
    await lib.reader({ birthDate: null });
    const c = automatic({ kind: 'birthday', subject: '生日快乐 Happy birthday', body: '{{name}}: happy birthday from the library!' });

    const [result] = lib.outreach.runAutomatic();
    expect(result).toMatchObject({ campaignId: c.id, kind: 'birthday', summary: { audience: 1, queued: 1 } });
    expect(queuedFor(c.id)).toEqual([[today.id, 'birthday:2026']]);
    await lib.outreach.idle();
    expect(lib.messages(c.id)[0]).toMatchObject({ status: 'sent', subject: '生日快乐 Happy birthday' });

    lib.clock.advance(3_600_000);
    expect(lib.outreach.runAutomatic()[0]!.summary).toMatchObject({ runId: null, queued: 0, unchanged: 1 }); // not twice
    expect(lib.count('campaign_run')).toBe(1);
  });

  it('greets those born on 29 February on the 28th in other years', async () => {
    lib = openOutreach();
    const leapling = await lib.reader({ birthDate: '2004-02-29' });
    const born28 = await lib.reader({ birthDate: '2001-02-28' });
    expect(birthdaysOn(lib.db, '2027-02-28')).toEqual([leapling.id, born28.id]);
    expect(birthdaysOn(lib.db, '2028-02-28')).toEqual([born28.id]);
    expect(birthdaysOn(lib.db, '2028-02-29')).toEqual([leapling.id]);
  });

  it('takes a patron who gave consent since a skip on the same occasion', async () => {
    lib = openOutreach();
    const p = await lib.reader({ birthDate: '2000-03-02' }, { marketing: 0 });
    const c = automatic({ kind: 'birthday' });
    expect(lib.outreach.runAutomatic()[0]!.summary).toMatchObject({ queued: 0, skipped: { NO_MARKETING_CONSENT: 1 } });
    expect(lib.outreach.runAutomatic()[0]!.summary).toMatchObject({ runId: null, unchanged: 1 }); // still skipped: no new run
    lib.consent(p.id, { marketing: 1 });
    expect(lib.outreach.runAutomatic()[0]!.summary).toMatchObject({ queued: 1 });
    expect(lib.messages(c.id)).toEqual([expect.objectContaining({ patronId: p.id, status: 'queued', occasion: 'birthday:2026' })]);
  });
});

describe('the welcome series', () => {
  it('sends each step on its day after registration, up to three days late, once', async () => {
    lib = openOutreach({ throttle: { maxMessages: 10, perDays: 1 } });
    // Today is Monday 2 March 2026 in Shanghai.
    const todayP = await lib.reader();
    const day7 = await lib.reader();
    registeredAt(day7.id, '2026-02-23T01:00:00.000Z'); // 23 Feb, 09:00 local
    const day10 = await lib.reader();
    registeredAt(day10.id, '2026-02-19T16:00:00.000Z'); // 20 Feb, 00:00 local: 10 days, the last of the catch-up
    const day11 = await lib.reader();
    registeredAt(day11.id, '2026-02-19T15:59:59.000Z'); // 19 Feb, 23:59:59 local: 11 days
    const day6 = await lib.reader();
    registeredAt(day6.id, '2026-02-23T16:00:00.000Z'); // 24 Feb, 00:00 local
    await lib.reader().then((p) => registeredAt(p.id, '2026-01-31T02:00:00.000Z')); // 31 Jan: day 30

    const step0 = automatic({ kind: 'welcome', params: { afterDays: 0 }, subject: '欢迎 Welcome' });
    const step7 = automatic({ kind: 'welcome', params: { afterDays: 7 }, subject: 'A week with us' });
    const step30 = automatic({ kind: 'welcome', params: { afterDays: 30 }, subject: 'A month with us' });
    lib.outreach.runAutomatic();
    expect(queuedFor(step0.id)).toEqual([[todayP.id, 'welcome:0']]);
    expect(queuedFor(step7.id)).toEqual([[day7.id, 'welcome:7'], [day10.id, 'welcome:7']]);
    expect(queuedFor(step30.id)).toHaveLength(1);
    expect(registeredBetween(lib.db, '2026-02-24', '2026-02-24', 'Asia/Shanghai')).toEqual([day6.id]);

    lib.clock.advance(DAY);
    lib.outreach.runAutomatic();
    expect(queuedFor(step7.id)).toEqual([[day7.id, 'welcome:7'], [day10.id, 'welcome:7'], [day6.id, 'welcome:7']]);
  });

  it('keeps to the campaign\'s audience', async () => {
    lib = openOutreach({ resolveAudience: () => [] });
    await lib.reader();
    const c = automatic({ kind: 'welcome', params: { afterDays: 0 } });
    expect(lib.outreach.runAutomatic()).toEqual([{ campaignId: c.id, kind: 'welcome', summary: undefined }]);
  });
});

describe('win-back', () => {
  it('picks patrons at churn risk with no loan or visit in the period, once per lapse', async () => {
    lib = openOutreach();
    const old = async () => { const p = await lib.reader(); registeredAt(p.id, daysAgo(400)); return p; };
    const lapsed = await old();
    lib.profile(lapsed.id, { churnRisk: 0.8, lastLoanAt: daysAgo(120), lastVisitAt: daysAgo(100) });
    const recentLoan = await old();
    lib.profile(recentLoan.id, { churnRisk: 0.8, lastLoanAt: daysAgo(30) });
    const lowRisk = await old();
    lib.profile(lowRisk.id, { churnRisk: 0.3, lastLoanAt: daysAgo(200) });
    const staleProfile = await old(); // the profile is old, but the gate saw them last week
    lib.profile(staleProfile.id, { churnRisk: 0.9, lastLoanAt: daysAgo(150) });
    lib.db.prepare("INSERT INTO visit (patron_id, card, branch_id, at, allowed) VALUES (?, 'C', 'main', ?, 1)").run(staleProfile.id, daysAgo(7));
    const neverCame = await lib.reader();
    registeredAt(neverCame.id, daysAgo(100));
    lib.profile(neverCame.id, { churnRisk: 0.7 });
    await old(); // no profile: no churn risk known

    expect(lapsingPatrons(lib.db, lib.clock.now(), 90, 0.6).map((l) => l.patronId)).toEqual([lapsed.id, neverCame.id]);
    const c = automatic({ kind: 'win_back', params: { inactiveDays: 90, minChurnRisk: 0.6 }, subject: '好久不见 We miss you' });
    lib.outreach.runAutomatic();
    expect(queuedFor(c.id)).toEqual([[lapsed.id, 'win_back:2025-11-22'], [neverCame.id, 'win_back:2025-11-22']]);
    lib.clock.advance(10 * DAY);
    lib.outreach.runAutomatic();
    expect(lib.messages(c.id)).toHaveLength(2);
  });
});

describe('holidays and event invitations', () => {
  it('greets on a listed holiday with its name, and not on other days', async () => {
    lib = openOutreach();
    await lib.reader();
    const h = addHoliday(lib.db, { name: 'Lantern Festival', nameZh: '元宵节', date: '2026-03-03' });
    const c = automatic({ kind: 'holiday', subject: '{{holiday}}', body: '{{name}}: {{holiday}} greetings' });
    lib.outreach.runAutomatic();
    expect(lib.messages(c.id)).toEqual([]);
    lib.clock.advance(DAY);
    lib.outreach.runAutomatic();
    await lib.outreach.idle();
    expect(lib.messages(c.id)).toEqual([expect.objectContaining({ occasion: `holiday:${h.id}:2026-03-03`, status: 'sent', subject: '元宵节 Lantern Festival' })]);
  });

  it('invites within the days before an event, marks the invitation, and leaves out patrons already registered', async () => {
    lib = openOutreach();
    const a = await lib.reader();
    const registered = await lib.reader();
    const event = Number(lib.db.prepare(`INSERT INTO library_event (title, kind, branch_id, starts_at, created_at) VALUES ('Calligraphy workshop', 'workshop', 'main', ?, ?)`)
      .run('2026-03-20T11:00:00.000Z', lib.clock.now().toISOString()).lastInsertRowid);
    lib.db.prepare("INSERT INTO event_attendance (event_id, patron_id, status, at) VALUES (?, ?, 'registered', ?)").run(event, registered.id, lib.clock.now().toISOString());
    const c = automatic({ kind: 'event_invitation', params: { eventId: event, daysBefore: 14 }, subject: '{{event}}', body: '{{event}}, {{eventDate}}' });

    lib.outreach.runAutomatic(); // 2 March: 18 days before
    expect(lib.messages(c.id)).toEqual([]);
    lib.clock.set('2026-03-06T11:00:00.000Z'); // 14 days before, to the hour
    lib.outreach.runAutomatic();
    await lib.outreach.idle();
    expect(lib.messages(c.id).map((m) => [m.patronId, m.status, m.reason])).toEqual([[a.id, 'sent', null], [registered.id, 'skipped', 'ALREADY_REGISTERED']]);
    expect(lib.messages(c.id)[0]!.body).toMatch(/^Calligraphy workshop, 2026-03-20 19:00/);
    expect(lib.db.prepare('SELECT patron_id, status FROM event_attendance WHERE event_id = ? ORDER BY patron_id').all(event))
      .toEqual([{ patron_id: a.id, status: 'invited' }, { patron_id: registered.id, status: 'registered' }]);

    lib.clock.set('2026-03-20T11:00:00.000Z');
    expect(() => lib.outreach.send(c.id, 'staff:alice')).toThrowError(expect.objectContaining({ code: 'EVENT_STARTED' }));
  });
});

describe('the daily timer', () => {
  it('runs the automatic campaigns at 09:00 library time, once a day, and catches up a missed run at start', async () => {
    vi.useFakeTimers({ now: new Date('2026-03-02T00:00:00.000Z') }); // 08:00 in Shanghai
    lib = openOutreach({ clock: systemClock });
    await lib.reader({ birthDate: '1999-03-02' });
    await lib.reader({ birthDate: '1999-03-03' });
    const c = automatic({ kind: 'birthday' });
    lib.outreach.start();
    await vi.advanceTimersByTimeAsync(59 * 60_000);
    expect(lib.messages(c.id)).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(60_000); // 09:00
    expect(lib.messages(c.id).map((m) => m.occasion)).toEqual(['birthday:2026']);
    expect(getSetting(lib.db, 'outreach_automatic_last_run', null)).toBe('2026-03-02');
    await vi.advanceTimersByTimeAsync(12 * 3_600_000);
    expect(lib.messages(c.id)).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(12 * 3_600_000); // 09:00 on 3 March
    expect(lib.messages(c.id)).toHaveLength(2);
    await lib.outreach.stop();

    vi.setSystemTime(new Date('2026-03-04T06:00:00.000Z')); // 14:00 on 4 March: the server was down at 09:00
    await lib.reader({ birthDate: '1980-03-04' });
    const late = new OutreachFeature({ db: lib.db, clock: systemClock, secret: SECRET, publicUrl: PUBLIC_URL });
    late.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(lib.messages(c.id).map((m) => m.occasion)).toEqual(['birthday:2026', 'birthday:2026', 'birthday:2026']);
    expect(getSetting(lib.db, 'outreach_automatic_last_run', null)).toBe('2026-03-04');
    await late.stop();
  });
});
