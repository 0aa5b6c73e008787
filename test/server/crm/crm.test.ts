import { afterEach, describe, expect, it } from 'vitest';
import { createRecord } from '../../../server/catalogue/records.js';
import { createItem } from '../../../server/catalogue/items.js';
import { recomputeCrm } from '../../../server/crm/recompute.js';
import { unlinkReadingHistory, patronTables } from '../../../server/crm/privacy.js';
import { sendServiceAlerts } from '../../../server/crm/alerts.js';
import { expectProblem, MONDAY_10H, ok, openApi, type Api } from '../http/helpers.js';

let api: Api;
afterEach(() => api?.close());

const DAY = 86_400_000;
const kiosk = { channel: 'kiosk' as const, branchId: 'main', actor: 'kiosk-1' };

/** A small library: records in classes R (medicine), O (chemistry), I (literature), two copies each. */
function library(a: Api) {
  const now = new Date(MONDAY_10H);
  const items: Record<string, number[]> = {};
  let serial = 0;
  for (const cls of ['R', 'O', 'I']) {
    for (let r = 0; r < 6; r++) {
      const rec = createRecord(a.db, { title: `${cls} book ${r}`, classScheme: 'clc', classification: `${cls}${100 + r}` }, now);
      (items[cls] ??= []).push(createItem(a.db, { recordId: rec.id, barcode: `C${++serial}`, homeBranch: 'main', location: 'stacks' }, now).id);
    }
  }
  return items;
}

/** A returned loan `daysAgo` days before the fixed clock. */
function pastLoan(a: Api, patronId: number, itemId: number, daysAgo: number) {
  const out = new Date(Date.parse(MONDAY_10H) - daysAgo * DAY).toISOString();
  const back = new Date(Date.parse(MONDAY_10H) - (daysAgo - 7) * DAY).toISOString();
  a.db.prepare(`INSERT INTO loan (item_id, patron_id, branch_id, checked_out_at, due_at, channel, closed_at, close_reason, return_branch)
      VALUES (?, ?, 'main', ?, ?, 'kiosk', ?, 'returned', 'main')`).run(itemId, patronId, out, back, back);
}

function consent(a: Api, patronId: number, readingHistory: boolean, profiling: boolean, marketing = false) {
  a.db.prepare(`INSERT OR REPLACE INTO patron_consent (patron_id, reading_history, profiling, marketing, updated_at) VALUES (?, ?, ?, ?, ?)`)
    .run(patronId, +readingHistory, +profiling, +marketing, MONDAY_10H);
}

describe('complaint and request cases', () => {
  it('follow open → in_progress → resolved → closed, refuse other moves, and surface overdue ones', async () => {
    api = openApi();
    const lib = await api.librarian('wang');
    const p = await api.patron();
    const opened = await ok(await api.call('/crm/cases', { as: lib, body: { patronId: p.id, kind: 'complaint', subject: 'Noise in the reading room' } }), 201);
    expect(opened).toMatchObject({ status: 'open', overdue: false, dueAt: new Date(Date.parse(MONDAY_10H) + 3 * DAY).toISOString() });

    // Closing an open case skips the workflow: refused, nothing changes.
    const bad = await expectProblem(await api.call(`/crm/cases/${opened.id}`, { as: lib, method: 'PATCH', body: { status: 'closed' } }), 409, 'CASE_TRANSITION_NOT_ALLOWED');
    expect(bad.context).toEqual({ from: 'open', to: 'closed' });
    await expectProblem(await api.call(`/crm/cases/${opened.id}`, { as: lib, method: 'PATCH', body: { status: 'resolved' } }), 422, 'CASE_RESOLUTION_REQUIRED');
    expect((await ok(await api.call(`/crm/cases/${opened.id}`, { as: lib }))).status).toBe('open');

    await ok(await api.call(`/crm/cases/${opened.id}`, { as: lib, method: 'PATCH', body: { status: 'in_progress', owner: 'wang', note: 'calling the patron' } }));
    api.clock.advance(4 * DAY);
    const later = await api.signIn('wang');
    const overdue = await ok(await api.call('/crm/cases?overdue=true', { as: later }));
    expect(overdue.cases.map((c: any) => c.id)).toEqual([opened.id]);
    expect(overdue.cases[0]).toMatchObject({ overdue: true, owner: 'wang' });

    await ok(await api.call(`/crm/cases/${opened.id}`, { as: later, method: 'PATCH', body: { status: 'resolved', resolution: 'quiet zone signs put up' } }));
    const closed = await ok(await api.call(`/crm/cases/${opened.id}`, { as: later, method: 'PATCH', body: { status: 'closed' } }));
    expect(closed).toMatchObject({ status: 'closed', resolution: 'quiet zone signs put up', overdue: false });
    const full = await ok(await api.call(`/crm/cases/${opened.id}`, { as: later }));
    expect(full.events.map((e: any) => [e.action, e.status])).toEqual([['opened', 'open'], ['status', 'in_progress'], ['assigned', null], ['status', 'resolved'], ['status', 'closed']]);
    await expectProblem(await api.call(`/crm/cases/${opened.id}`, { as: later, method: 'PATCH', body: { owner: 'li' } }), 409, 'CASE_CLOSED');
  });

  it('lets a patron complain through the online catalogue and see where it stands, without the staff owner', async () => {
    api = openApi();
    const p = await api.patron({}, '2468');
    const me = await api.patronSession(p.cardNumber);
    const made = await ok(await api.call('/me/cases', { as: me, body: { kind: 'request', subject: 'Please buy more chemistry textbooks' } }), 201);
    expect(made.status).toBe('open');
    const mine = await ok(await api.call('/me/cases', { as: me }));
    expect(mine.cases).toHaveLength(1);
    expect(mine.cases[0]).not.toHaveProperty('owner');
    expect(mine.cases[0].source).toBe('opac');
  });
});

describe('the 360° profile', () => {
  it('gathers secondary and derived data, merges a timeline, and audits every staff view', async () => {
    api = openApi();
    const items = library(api);
    const lib = await api.librarian('li');
    const p = await api.patron({ department: 'Clinical medicine' });
    consent(api, p.id, true, true);
    pastLoan(api, p.id, items.R![0]!, 30);
    api.db.prepare("INSERT INTO visit (patron_id, card, branch_id, at, allowed) VALUES (?, ?, 'main', ?, 1)").run(p.id, p.cardNumber, new Date(Date.parse(MONDAY_10H) - 2 * DAY).toISOString());
    await ok(await api.call(`/crm/patrons/${p.id}/feedback`, { as: lib, body: { kind: 'evaluation', rating: 4, text: 'Good opening hours' } }), 201);
    await ok(await api.call(`/crm/patrons/${p.id}/needs`, { as: lib, body: { kind: 'accessibility', value: 'large print' } }), 201);
    await expectProblem(await api.call(`/crm/patrons/${p.id}/needs`, { as: lib, body: { kind: 'subject_alert', value: 'medicine' } }), 422, 'VALIDATION_FAILED');
    await ok(await api.call(`/crm/patrons/${p.id}/communications`, { as: lib, body: { channel: 'phone', direction: 'out', summary: 'Told about the new anatomy atlas' } }), 201);
    await ok(await api.call(`/crm/patrons/${p.id}/retention-efforts`, { as: lib, body: { action: 'Invited to the study-skills workshop' } }), 201);

    const profile = await ok(await api.call(`/crm/patrons/${p.id}/profile`, { as: lib }));
    expect(profile.patron.department).toBe('Clinical medicine');
    expect(profile.secondary.feedback[0]).toMatchObject({ kind: 'evaluation', rating: 4, recordedBy: 'staff:li' });
    expect(profile.secondary.needs.map((n: any) => n.value)).toEqual(['large print']);
    expect(profile.secondary.communications[0]).toMatchObject({ channel: 'phone', staff: 'li' });
    expect(profile.derived.loans).toMatchObject({ open: 0, keptHistory: 1 });
    expect(profile.derived.visits.last90d).toBe(1);

    const timeline = await ok(await api.call(`/crm/patrons/${p.id}/timeline`, { as: lib }));
    const kinds = timeline.entries.map((e: any) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['loan', 'return', 'visit', 'feedback', 'communication', 'retention']));
    const ats = timeline.entries.map((e: any) => e.at);
    expect([...ats].sort().reverse()).toEqual(ats);

    const audited = api.auditRows().filter((r) => r.target === `patron:${p.id}`).map((r) => r.action);
    expect(audited).toEqual(expect.arrayContaining(['crm.profile.view', 'crm.timeline.view', 'crm.feedback.add', 'crm.need.add']));
    await expectProblem(await api.call('/crm/patrons/999/profile', { as: lib }), 404, 'PATRON_NOT_FOUND');
  });
});

describe('recompute', () => {
  it('profiles only patrons who allow it, recommends what they have not borrowed, and flags key patrons with reasons', async () => {
    api = openApi();
    const items = library(api);
    const lib = await api.librarian();
    const readers = [];
    for (let i = 0; i < 24; i++) {
      const p = await api.patron();
      consent(api, p.id, true, i !== 23);
      readers.push(p);
      // Medicine readers (0–11) and chemistry readers (12–23); the more i, the more loans.
      const cls = i < 12 ? 'R' : 'O';
      const n = 5 + (i % 12);
      for (let k = 0; k < n; k++) pastLoan(api, p.id, items[cls]![k % 6]!, 200 - k * 10);
      pastLoan(api, p.id, items.I![i % 6]!, 15);
    }
    const summary = recomputeCrm(api.db, api.clock.now());
    expect(summary).toMatchObject({ patrons: 24, profiled: 23 });
    expect(summary.k).toBeGreaterThanOrEqual(2);
    expect(summary.clusters.map((c) => c.label)).toEqual(expect.arrayContaining([expect.stringContaining('Medicine and health'), expect.stringContaining('Mathematics, physics, chemistry')]));

    const noProfiling = readers[23]!;
    const hidden = await ok(await api.call(`/crm/patrons/${noProfiling.id}/profile`, { as: lib }));
    expect(hidden.derived.readingProfile).toBeNull();
    expect(hidden.derived.recommendations).toEqual([]);
    expect(hidden.derived.loans.keptHistory).toBe(17);
    expect(api.count('patron_recommendation', 'patron_id = ?', noProfiling.id)).toBe(0);
    expect(api.db.prepare('SELECT class_shares FROM patron_profile WHERE patron_id = ?').pluck().get(noProfiling.id)).toBeNull();

    const medic = readers[11]!;
    const shown = await ok(await api.call(`/crm/patrons/${medic.id}/profile`, { as: lib }));
    expect(shown.derived.readingProfile.classes[0]).toMatchObject({ class: 'R', name: 'Medicine and health' });
    const borrowed = new Set(api.db.prepare('SELECT r.id FROM loan l JOIN item i ON i.id = l.item_id JOIN record r ON r.id = i.record_id WHERE l.patron_id = ?').pluck().all(medic.id));
    expect(shown.derived.recommendations.length).toBeGreaterThan(0);
    for (const r of shown.derived.recommendations) expect(borrowed.has(r.recordId)).toBe(false);
    const explained = shown.derived.recommendations.find((r: any) => r.because.kind === 'co-borrowed');
    expect(explained.because.text).toBe(`because you borrowed ${explained.because.titles.join('; ')}`);
    for (const id of explained.because.recordIds) expect(borrowed.has(id)).toBe(true);

    const keys = await ok(await api.call('/crm/key-patrons', { as: lib }));
    expect(keys.keyPatrons.length).toBe(2); // 5 % of 24 active patrons, rounded up
    expect(Object.keys(keys.keyPatrons[0].reasons.components).sort()).toEqual(['breadth', 'engagement', 'participation', 'priority', 'tenure']);

    // A librarian pins a patron as key with a reason; the pin survives the next recompute.
    const pinned = readers[0]!;
    await expectProblem(await api.call(`/crm/key-patrons/${pinned.id}/pin`, { as: lib, method: 'PUT', body: { pinned: true } }), 422, 'VALIDATION_FAILED');
    await ok(await api.call(`/crm/key-patrons/${pinned.id}/pin`, { as: lib, method: 'PUT', body: { pinned: true, reason: 'Runs the student reading club' } }));
    recomputeCrm(api.db, new Date(api.clock.now().getTime() + DAY));
    const after = await ok(await api.call('/crm/key-patrons', { as: lib }));
    expect(after.keyPatrons.find((k: any) => k.patronId === pinned.id)?.reasons).toMatchObject({ pinned: true, reason: 'Runs the student reading club' });
  });
});

describe('churn risk', () => {
  it('rises with silence against the patron\'s own rhythm and puts lapsing patrons on the win-back list', async () => {
    api = openApi();
    const items = library(api);
    const lib = await api.librarian();
    const lapsing = await api.patron();
    const regular = await api.patron();
    // Both borrowed monthly for a year; one stopped 120 days ago, the other borrowed last week.
    for (let m = 0; m < 12; m++) {
      pastLoan(api, lapsing.id, items.R![m % 6]!, 120 + 20 * m);
      pastLoan(api, regular.id, items.O![m % 6]!, 7 + 30 * m);
    }
    recomputeCrm(api.db, api.clock.now());
    const risk = (id: number) => api.db.prepare('SELECT churn_risk FROM patron_profile WHERE patron_id = ?').pluck().get(id) as number;
    expect(risk(lapsing.id)).toBeGreaterThan(0.7);
    expect(risk(regular.id)).toBeLessThan(0.3);
    const list = await ok(await api.call('/crm/churn-risk', { as: lib }));
    expect(list.patrons.map((p: any) => p.patronId)).toEqual([lapsing.id]);
    expect(api.auditRows().some((r) => r.action === 'crm.churn-risk.view' && r.target === `patron:${lapsing.id}`)).toBe(true);
  });
});

describe('key-patron settings', () => {
  it('take the library priority subjects from an admin into the next recompute, and refuse a librarian', async () => {
    api = openApi();
    const items = library(api);
    const lib = await api.librarian();
    const adm = await api.admin();
    const chemist = await api.patron();
    consent(api, chemist.id, true, true);
    for (let k = 0; k < 6; k++) pastLoan(api, chemist.id, items.O![k]!, 50 - k);
    await expectProblem(await api.call('/crm/settings', { as: lib, method: 'PUT', body: { priorityClasses: ['O'] } }), 403, 'FORBIDDEN');
    await expectProblem(await api.call('/crm/settings', { as: adm, method: 'PUT', body: { priorityClasses: ['chemistry'] } }), 422, 'VALIDATION_FAILED');
    recomputeCrm(api.db, api.clock.now());
    const before = JSON.parse(api.db.prepare('SELECT key_components FROM patron_profile WHERE patron_id = ?').pluck().get(chemist.id) as string);
    expect(before.priority).toBe(0);
    expect(await ok(await api.call('/crm/settings', { as: adm, method: 'PUT', body: { priorityClasses: ['O'], keyShare: 0.1 } })))
      .toMatchObject({ priorityClasses: ['O'], keyShare: 0.1 });
    recomputeCrm(api.db, api.clock.now());
    const after = JSON.parse(api.db.prepare('SELECT key_components FROM patron_profile WHERE patron_id = ?').pluck().get(chemist.id) as string);
    expect(after.priority).toBeGreaterThan(0.1); // all of the patron's loans are in the priority class, weight 0.15
  });
});

describe('differentiated services', () => {
  it('give key patrons longer loans through the circulation policy, shown on their timeline, until the policy ends', async () => {
    api = openApi();
    const items = library(api);
    const lib = await api.librarian();
    const p = await api.patron();
    const other = await api.patron();
    api.db.prepare("INSERT INTO key_patron (patron_id, since, score, reasons) VALUES (?, ?, 0.9, '{}')").run(p.id, MONDAY_10H);
    const made = await ok(await api.call('/crm/services', { as: lib, body: { name: 'Key patrons: two more weeks', kind: 'loan_extension', audience: 'key', params: { extraDays: 14 }, effectiveFrom: '2026-03-01' } }), 201);
    expect(made.applied).toMatchObject({ opened: 1, withExtras: 1 });
    await expectProblem(await api.call('/crm/services', { as: lib, body: { name: 'x', kind: 'loan_extension', audience: 'key', params: { extraDays: 0 }, effectiveFrom: '2026-03-01' } }), 422, 'SERVICE_PARAMS_INVALID');
    expect(api.count('service_policy')).toBe(1);

    const mine = api.circulation.checkout({ patronId: p.id }, { itemId: items.R![0]! }, kiosk);
    const theirs = api.circulation.checkout({ patronId: other.id }, { itemId: items.R![1]! }, kiosk);
    if (!mine.ok || !theirs.ok) throw new Error('checkout refused');
    expect((Date.parse(mine.dueAt) - Date.parse(theirs.dueAt)) / DAY).toBeGreaterThanOrEqual(14);

    const timeline = await ok(await api.call(`/crm/patrons/${p.id}/timeline`, { as: lib }));
    expect(timeline.entries.some((e: any) => e.summary === 'service started: Key patrons: two more weeks')).toBe(true);

    const ended = await ok(await api.call(`/crm/services/${made.id}/end`, { as: lib, body: {} }));
    expect(ended.applied).toMatchObject({ closed: 1, withExtras: 0 });
    expect(api.count('patron_policy_extra')).toBe(0);
    // The same day's recompute applies the policies again: the ended one stays ended.
    recomputeCrm(api.db, api.clock.now());
    expect(api.count('patron_service', 'ended_at IS NULL')).toBe(0);
    expect(api.count('patron_policy_extra')).toBe(0);
  });
});

describe('service alerts', () => {
  it('tell patrons of new titles in their subjects and invite those with the event service, through the online catalogue', async () => {
    api = openApi();
    library(api);
    const lib = await api.librarian();
    const asked = await api.patron({}, '2468');        // a subject alert for chemistry (an information need)
    const champion = await api.patron();                // the new-arrival service, medicine
    const noInApp = await api.patron();                 // asked too, but declined in-app messages
    const other = await api.patron();
    api.db.prepare("INSERT INTO patron_consent (patron_id, channel_in_app, updated_at) VALUES (?, 0, ?)").run(noInApp.id, MONDAY_10H);
    await ok(await api.call(`/crm/patrons/${asked.id}/needs`, { as: lib, body: { kind: 'subject_alert', value: 'O' } }), 201);
    await ok(await api.call(`/crm/patrons/${noInApp.id}/needs`, { as: lib, body: { kind: 'subject_alert', value: 'O' } }), 201);
    consent(api, champion.id, false, false, true); // invitations are marketing
    api.db.prepare("INSERT INTO key_patron (patron_id, since, score, reasons) VALUES (?, ?, 0.9, '{}')").run(champion.id, MONDAY_10H);
    await ok(await api.call('/crm/services', { as: lib, body: { name: 'Key: medicine arrivals', kind: 'new_arrival_alerts', audience: 'key', params: { classes: ['R'] }, effectiveFrom: '2026-03-01' } }), 201);
    await ok(await api.call('/crm/services', { as: lib, body: { name: 'Key: lectures', kind: 'event_invitations', audience: 'key', params: { eventKinds: ['lecture'] }, effectiveFrom: '2026-03-01' } }), 201);

    expect(sendServiceAlerts(api.db, api.clock.now())).toMatchObject({ alerted: 0 }); // the first run sets the mark
    api.clock.advance(3_600_000);
    createRecord(api.db, { title: 'Physical Chemistry, 11th ed.', classScheme: 'clc', classification: 'O64' }, api.clock.now());
    createRecord(api.db, { title: 'Harrison\'s Principles of Internal Medicine', classScheme: 'clc', classification: 'R5' }, api.clock.now());
    await ok(await api.call('/crm/events', { as: lib, body: { title: 'Lecture: antibiotics', kind: 'lecture', startsAt: new Date(api.clock.now().getTime() + 7 * DAY).toISOString() } }), 201);
    await ok(await api.call('/crm/events', { as: lib, body: { title: 'Film night', kind: 'event', startsAt: new Date(api.clock.now().getTime() + 7 * DAY).toISOString() } }), 201);
    api.clock.advance(60_000);

    expect(sendServiceAlerts(api.db, api.clock.now())).toMatchObject({ newRecords: 2, alerted: 2, newEvents: 2, invited: 1 });
    const me = await api.patronSession(asked.cardNumber);
    const inbox = await ok(await api.call('/me/messages', { as: me }));
    expect(inbox.messages).toHaveLength(1);
    expect(inbox.messages[0].body).toContain('Physical Chemistry, 11th ed.');
    expect(inbox.messages[0].body).not.toContain('Harrison');
    const theirs = api.db.prepare('SELECT subject, body FROM in_app_message WHERE patron_id = ? ORDER BY id').all(champion.id) as { subject: string; body: string }[];
    expect(theirs.map((m) => m.subject)).toEqual(['新书到馆 New arrivals in your subjects', '活动邀请 You are invited: Lecture: antibiotics']);
    expect(theirs[0]!.body).toContain('Harrison');
    expect(api.count('in_app_message', 'patron_id IN (?, ?)', noInApp.id, other.id)).toBe(0);
    expect(api.count('event_attendance', "patron_id = ? AND status = 'invited'", champion.id)).toBe(1);
    // Nothing new since: nothing sent again.
    expect(sendServiceAlerts(api.db, api.clock.now())).toMatchObject({ newRecords: 0, alerted: 0, invited: 0 });
  });
});

describe('privacy', () => {
  it('unlinks returned loans of patrons who keep no reading history, and keeps those of patrons who do', async () => {
    api = openApi();
    const items = library(api);
    const keeps = await api.patron();
    const declines = await api.patron();
    consent(api, keeps.id, true, true);
    for (const [p, item] of [[keeps, items.R![0]!], [declines, items.R![1]!]] as const) {
      const out = api.circulation.checkout({ patronId: p.id }, { itemId: item }, kiosk);
      expect(out.ok).toBe(true);
      api.circulation.checkin({ itemId: item }, kiosk);
    }
    const open = api.circulation.checkout({ patronId: declines.id }, { itemId: items.O![0]! }, kiosk);
    expect(open.ok).toBe(true);

    unlinkReadingHistory(api.db, new Date(Date.parse(MONDAY_10H) + 2 * 3_600_000));
    expect(api.count('loan', 'patron_id = ?', keeps.id)).toBe(1);
    expect(api.count('loan', 'patron_id = ?', declines.id)).toBe(1); // the open loan only
    expect(api.count('loan', 'patron_id = ? AND closed_at IS NULL', declines.id)).toBe(1);
    expect(api.count('circ_event', 'patron_id = ? AND item_id = ?', declines.id, items.R![1]!)).toBe(0);
    expect(api.count('circ_event', 'patron_id = ? AND item_id = ?', keeps.id, items.R![0]!)).toBe(2);
    expect(api.count('loan', 'patron_id IS NULL AND item_id = ?', items.R![1]!)).toBe(1); // the statistic stays
  });

  it('exports everything about a patron and erases it from every table, refusing while a loan is open', async () => {
    api = openApi();
    const items = library(api);
    const lib = await api.librarian();
    const adm = await api.admin();
    const p = await api.patron();
    consent(api, p.id, true, true);
    pastLoan(api, p.id, items.R![0]!, 20);
    await ok(await api.call(`/crm/patrons/${p.id}/feedback`, { as: lib, body: { kind: 'praise', text: 'Lovely staff' } }), 201);
    await ok(await api.call('/crm/cases', { as: lib, body: { patronId: p.id, kind: 'friction', subject: 'Kiosk slow' } }), 201);
    recomputeCrm(api.db, api.clock.now());
    const out = api.circulation.checkout({ patronId: p.id }, { itemId: items.O![0]! }, kiosk);
    expect(out.ok).toBe(true);

    const exported = await ok(await api.call(`/crm/patrons/${p.id}/export`, { as: lib }));
    expect(Object.keys(exported.tables)).toEqual(expect.arrayContaining(['loan', 'patron_feedback', 'crm_case', 'patron_profile', 'patron_consent', 'circ_event']));
    expect(exported.patron).not.toHaveProperty('pin_hash');

    await expectProblem(await api.call(`/crm/patrons/${p.id}`, { as: lib, method: 'DELETE' }), 403, 'FORBIDDEN');
    await expectProblem(await api.call(`/crm/patrons/${p.id}`, { as: adm, method: 'DELETE' }), 409, 'PATRON_HAS_LOANS');
    expect(api.count('patron', 'id = ?', p.id)).toBe(1);
    api.circulation.checkin({ itemId: items.O![0]! }, kiosk);

    await ok(await api.call(`/crm/patrons/${p.id}`, { as: adm, method: 'DELETE' }));
    for (const table of patronTables(api.db)) expect(api.count(table, 'patron_id = ?', p.id), table).toBe(0);
    expect(api.count('circ_event', 'actor = ?', `patron:${p.id}`)).toBe(0);
    expect(api.auditRows().at(-1)).toMatchObject({ action: 'patron.erase', target: `patron:${p.id}` });
  });

  it('withholds groups under 10 patrons, and clears the profile as soon as profiling is withdrawn', async () => {
    api = openApi();
    const items = library(api);
    const lib = await api.librarian();
    const ps = [];
    for (let i = 0; i < 12; i++) {
      const p = await api.patron({ category: i < 3 ? 'faculty' : 'undergraduate' }, '2468');
      consent(api, p.id, true, true);
      for (let k = 0; k < 6; k++) pastLoan(api, p.id, items.R![k]!, 100 - k);
      ps.push(p);
    }
    recomputeCrm(api.db, api.clock.now());
    expect(await ok(await api.call('/crm/audience/preview', { as: lib, body: { filter: { all: [{ field: 'category', op: '=', value: 'faculty' }] } } })))
      .toEqual({ count: null, suppressed: true });
    expect(await ok(await api.call('/crm/audience/preview', { as: lib, body: { filter: { all: [{ field: 'category', op: '=', value: 'undergraduate' }] } } })))
      .toEqual({ count: null, suppressed: true }); // 9 undergraduates
    expect(await ok(await api.call('/crm/audience/preview', { as: lib, body: { filter: { all: [{ field: 'share.R', op: '>=', value: 0.5 }] } } })))
      .toEqual({ count: 12, suppressed: false });
    await expectProblem(await api.call('/crm/saved-segments', { as: lib, body: { name: 'x', filter: { all: [{ field: 'loans365d', op: '>=', value: 'many' }] } } }), 422, 'FILTER_VALUE_TYPE');
    await expectProblem(await api.call('/crm/saved-segments', { as: lib, body: { name: 'x', filter: { all: [{ field: 'salary', op: '>=', value: 1 }] } } }), 422, 'VALIDATION_FAILED');
    expect(api.count('saved_segment')).toBe(0);
    const faculty = await ok(await api.call('/crm/saved-segments', { as: lib, body: { name: 'Faculty', filter: { all: [{ field: 'category', op: '=', value: 'faculty' }] } } }), 201);
    await expectProblem(await api.call(`/crm/saved-segments/${faculty.id}/members`, { as: lib }), 409, 'SEGMENT_TOO_SMALL');

    const me = await api.patronSession(ps[0]!.cardNumber);
    expect((await ok(await api.call('/me/recommendations', { as: me }))).profiling).toBe(true);
    await ok(await api.call('/me/consent', { as: me, method: 'PUT', body: { profiling: false } }));
    expect(api.db.prepare('SELECT class_shares, tier FROM patron_profile WHERE patron_id = ?').get(ps[0]!.id)).toEqual({ class_shares: null, tier: null });
    expect(await ok(await api.call('/me/recommendations', { as: me }))).toEqual({ profiling: false, recommendations: [] });
  });
});
