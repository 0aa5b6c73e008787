import { afterEach, describe, expect, it } from 'vitest';
import { expectProblem, ok, openApi, type Api } from './helpers.js';

let api: Api;
afterEach(() => api?.close());

const redChamber = {
  title: 'Dream of the Red Chamber', authors: ['Cao Xueqin'], isbn: '9787020002207', language: 'zh', classScheme: 'clc', classification: 'I242.4',
  subjects: ['Chinese fiction'],
};

describe('records', () => {
  it('creates, reads, patches and finds records by text, ISBN and top-level class', async () => {
    api = openApi();
    const s = await api.librarian();
    const res = await api.call('/records', { as: s, body: redChamber });
    const created = await ok(res, 201);
    expect(res.headers.get('Location')).toBe(`/api/v1/records/${created.id}`);
    expect(created).toMatchObject({ ...redChamber, topClass: 'I', publisher: null });

    expect(await ok(await api.call(`/records/${created.id}`))).toEqual(created);
    const patched = await ok(await api.call(`/records/${created.id}`, { method: 'PATCH', as: s, body: { year: 1791, publisher: 'Cuiwen Shuwu' } }));
    // Fields left out of a PATCH stay as they were (authors and subjects are not reset to their defaults).
    expect(patched).toMatchObject({ ...redChamber, year: 1791, publisher: 'Cuiwen Shuwu' });

    api.record('Water Margin');
    expect((await ok(await api.call('/records?q=Red%20Chamber'))).records.map((r: { id: number }) => r.id)).toEqual([created.id]);
    expect((await ok(await api.call('/records?q=Cao'))).total).toBe(1);
    expect((await ok(await api.call('/records?isbn=9787020002207'))).total).toBe(1);
    expect((await ok(await api.call('/records?topClass=I'))).total).toBe(1);
    expect((await ok(await api.call('/records?limit=1&offset=1'))).records).toHaveLength(1);
  });

  it('refuses invalid records with 422 and the field errors, and stores nothing', async () => {
    api = openApi();
    const s = await api.librarian();
    const problem = await expectProblem(await api.call('/records', { as: s, body: { title: '', isbn: '12-34', year: 'old', colour: 'red' } }), 422, 'VALIDATION_FAILED');
    expect(problem.errors.map((e: { field: string }) => e.field).sort()).toEqual(['colour', 'isbn', 'title', 'year']);
    await expectProblem(await api.call('/records', { as: s, body: { title: 'x', classification: 'I242' } }), 422, 'CLASS_SCHEME_REQUIRED');
    expect(api.count('record')).toBe(0);
    await expectProblem(await api.call('/records/abc'), 400, 'VALIDATION_FAILED');
    await expectProblem(await api.call('/records/77'), 404, 'RECORD_NOT_FOUND');
  });
});

describe('items', () => {
  it('creates items and finds them by id, barcode, RFID tag and record', async () => {
    api = openApi();
    const s = await api.librarian();
    const recordId = api.record();
    const created = await ok(await api.call('/items', { as: s, body: { recordId, barcode: 'C0001/2', tagUid: 'E004015012345678', homeBranch: 'east', callNumber: 'I242.4/1' } }), 201);
    expect(created).toMatchObject({ recordId, barcode: 'C0001/2', status: 'available', itemType: 'book', currentBranch: 'east' });
    expect(await ok(await api.call(`/items/by-barcode/${encodeURIComponent('C0001/2')}`, { as: s }))).toEqual(created);
    expect(await ok(await api.call('/items/by-tag/E004015012345678', { as: s }))).toEqual(created);
    expect(await ok(await api.call(`/items/${created.id}`, { as: s }))).toEqual(created);
    expect((await ok(await api.call(`/records/${recordId}/items`))).items).toEqual([created]);
    await expectProblem(await api.call('/items/by-barcode/NOPE', { as: s }), 404, 'ITEM_NOT_FOUND');
    await expectProblem(await api.call('/items/by-tag/e004', { as: s }), 400, 'VALIDATION_FAILED');
  });

  it('patches an item without resetting its status or type, and refuses duplicates and unknown references', async () => {
    api = openApi();
    const s = await api.librarian();
    const item = api.book({ itemType: 'dvd', status: 'in_processing' });
    const patched = await ok(await api.call(`/items/${item.id}`, { method: 'PATCH', as: s, body: { location: 'media room' } }));
    expect(patched).toMatchObject({ itemType: 'dvd', status: 'in_processing', location: 'media room' });
    const other = api.book();
    await expectProblem(await api.call(`/items/${item.id}`, { method: 'PATCH', as: s, body: { barcode: other.barcode } }), 409, 'DUPLICATE_BARCODE');
    await expectProblem(await api.call('/items', { as: s, body: { recordId: 999, barcode: 'X1', homeBranch: 'main' } }), 404, 'RECORD_NOT_FOUND');
    await expectProblem(await api.call(`/items/${item.id}`, { method: 'PATCH', as: s, body: { status: 'on_loan' } }), 422, 'VALIDATION_FAILED');
    expect(api.itemStatus(item.id)).toBe('in_processing');
  });
});

describe('patrons, with the audit trail', () => {
  it('registers a patron with a PIN who can then sign in, and audits the create', async () => {
    api = openApi();
    const s = await api.librarian('desk1');
    const created = await ok(await api.call('/patrons', { as: s, body: { cardNumber: 'C-2026-001', name: 'Jia Baoyu', category: 'undergraduate', expiryDate: '2029-06-30', pin: '1357' } }), 201);
    expect(created).toMatchObject({ cardNumber: 'C-2026-001', hasPin: true });
    expect(created).not.toHaveProperty('pinHash');
    await api.patronSession('C-2026-001', '1357');
    expect(api.auditRows()).toEqual([{ actor: 'staff:desk1', action: 'patron.create', target: `patron:${created.id}` }]);
    await expectProblem(await api.call('/patrons', { as: s, body: { cardNumber: 'C-2026-002', name: 'X', category: 'staff', expiryDate: '2029-06-30', pin: '12' } }), 422, 'VALIDATION_FAILED');
    expect(api.count('patron')).toBe(1);
  });

  it('audits every staff read of a patron record and every change, with the staff user and patron:<id>', async () => {
    api = openApi();
    const s = await api.librarian('desk1');
    const p = await api.patron({ name: 'Xue Baochai' });
    const q = await api.patron({ name: 'Xue Pan' });
    await ok(await api.call(`/patrons/${p.id}`, { as: s }));
    await ok(await api.call(`/patrons/${p.id}`, { method: 'PATCH', as: s, body: { email: 'baochai@example.org' } }));
    expect((await ok(await api.call('/patrons?q=Xue', { as: s }))).total).toBe(2);
    expect((await ok(await api.call(`/patrons?q=${p.cardNumber}`, { as: s }))).patrons.map((x: { id: number }) => x.id)).toEqual([p.id]);
    expect((await api.call(`/patrons/${p.id}/pin`, { method: 'PUT', as: s, body: { pin: '9753' } })).status).toBe(204);
    await ok(await api.call(`/patrons/${q.id}/loans`, { as: s }));
    await ok(await api.call(`/events/log?patronId=${q.id}`, { as: s }));
    await ok(await api.call('/circulation/patron-status', { as: s, body: { cardNumber: q.cardNumber, branchId: 'main' } }));

    const t = (id: number) => `patron:${id}`;
    expect(api.auditRows()).toEqual([
      { actor: 'staff:desk1', action: 'patron.read', target: t(p.id) },
      { actor: 'staff:desk1', action: 'patron.update', target: t(p.id) },
      { actor: 'staff:desk1', action: 'patron.search', target: t(p.id) },
      { actor: 'staff:desk1', action: 'patron.search', target: t(q.id) },
      { actor: 'staff:desk1', action: 'patron.search', target: t(p.id) },
      { actor: 'staff:desk1', action: 'patron.pin.set', target: t(p.id) },
      { actor: 'staff:desk1', action: 'patron.loans.read', target: t(q.id) },
      { actor: 'staff:desk1', action: 'patron.events.read', target: t(q.id) },
      { actor: 'staff:desk1', action: 'patron.status.read', target: t(q.id) },
    ]);
  });

  it('does not audit a refused change, and does not keep an unknown field', async () => {
    api = openApi();
    const s = await api.librarian();
    const p = await api.patron();
    await expectProblem(await api.call(`/patrons/${p.id}`, { method: 'PATCH', as: s, body: { email: 'not an email' } }), 422, 'VALIDATION_FAILED');
    await expectProblem(await api.call(`/patrons/${p.id}`, { method: 'PATCH', as: s, body: { pinHash: 'x' } }), 422, 'VALIDATION_FAILED');
    expect(api.auditRows()).toEqual([]);
  });
});

describe('branches and calendars', () => {
  it('adds and removes closed dates and replaces hours; due dates follow at once', async () => {
    api = openApi();
    const admin = await api.admin();
    const patron = await api.patron();
    // A 28-day loan from Monday 2 March is due Monday 30 March; closing 30 March moves it to Tuesday 31.
    const closed = await ok(await api.call('/branches/main/closed-dates/2026-03-30', { method: 'PUT', as: admin, body: { reason: 'Qingming' } }));
    expect(closed.closedDates).toEqual([{ date: '2026-03-30', reason: 'Qingming' }]);
    const out = await ok(await api.call('/circulation/checkout', { as: admin, body: { patronId: patron.id, barcode: api.book().barcode, branchId: 'main' } }));
    expect(out.dueAt).toBe('2026-03-31T15:59:59.000Z');

    await ok(await api.call('/branches/main/closed-dates/2026-03-30', { method: 'DELETE', as: admin }));
    await expectProblem(await api.call('/branches/main/closed-dates/2026-03-30', { method: 'DELETE', as: admin }), 404, 'CLOSED_DATE_NOT_FOUND');
    const reopened = await ok(await api.call('/circulation/checkout', { as: admin, body: { patronId: patron.id, barcode: api.book().barcode, branchId: 'main' } }));
    expect(reopened.dueAt).toBe('2026-03-30T15:59:59.000Z');
    // Open Tuesday to Thursday only: a loan due on Monday 30 March is due on Tuesday 31.
    const hours = await ok(await api.call('/branches/main/hours', { method: 'PUT', as: admin, body: { hours: [2, 3, 4].map((weekday) => ({ weekday, opens: '09:00', closes: '17:00' })) } }));
    expect(hours.hours).toHaveLength(3);
    const again = await ok(await api.call('/circulation/checkout', { as: admin, body: { patronId: patron.id, barcode: api.book().barcode, branchId: 'main' } }));
    expect(again.dueAt).toBe('2026-03-31T15:59:59.000Z');
    expect((await ok(await api.call('/branches/main'))).hours.map((h: { weekday: number }) => h.weekday)).toEqual([2, 3, 4]);
  });

  it('validates calendars: bad dates, overlapping weekdays and reversed hours change nothing', async () => {
    api = openApi();
    const admin = await api.admin();
    await expectProblem(await api.call('/branches/main/closed-dates/2026-02-30', { method: 'PUT', as: admin, body: {} }), 400, 'VALIDATION_FAILED');
    const bad = { hours: [{ weekday: 1, opens: '09:00', closes: '17:00' }, { weekday: 1, opens: '18:00', closes: '08:00' }] };
    const problem = await expectProblem(await api.call('/branches/main/hours', { method: 'PUT', as: admin, body: bad }), 422, 'VALIDATION_FAILED');
    expect(problem.errors.map((e: { field: string }) => e.field)).toEqual(expect.arrayContaining(['hours', 'hours.1.closes']));
    expect(api.count('opening_hours', "branch_id = 'main'")).toBe(6);
    await expectProblem(await api.call('/branches/west/hours', { method: 'PUT', as: admin, body: { hours: [] } }), 404, 'BRANCH_NOT_FOUND');
  });

  it('creates a branch that the desk can then act at', async () => {
    api = openApi();
    const admin = await api.admin();
    await ok(await api.call('/branches', { as: admin, body: { id: 'north', name: 'North library', nameZh: '北馆', isil: 'CN-110000-3' } }), 201);
    await expectProblem(await api.call('/branches', { as: admin, body: { id: 'north', name: 'Again' } }), 409, 'DUPLICATE_BRANCH');
    const patron = await api.patron();
    await ok(await api.call('/circulation/checkout', { as: admin, body: { patronId: patron.id, barcode: api.book().barcode, branchId: 'north' } }));
  });
});

describe('policies', () => {
  it('applies an upserted rule to the next checkout (the core reloads its rules)', async () => {
    api = openApi();
    const admin = await api.admin();
    const patron = await api.patron({ category: 'faculty' });
    await ok(await api.call('/policies', { as: admin, body: { patronCategory: 'faculty', loanDays: 90 } }));
    const out = await ok(await api.call('/circulation/checkout', { as: admin, body: { patronId: patron.id, barcode: api.book().barcode, branchId: 'main' } }));
    // 90 days from Monday 2 March is Sunday 31 May; main is closed on Sundays, so Monday 1 June.
    expect(out.dueAt).toBe('2026-06-01T15:59:59.000Z');
  });

  it('refuses to delete the default rule or leave it incomplete', async () => {
    api = openApi();
    const admin = await api.admin();
    const defaultRule = (await ok(await api.call('/policies', { as: admin }))).policies.find((r: { branchId: string; patronCategory: string }) => r.branchId === '*' && r.patronCategory === '*');
    await expectProblem(await api.call(`/policies/${defaultRule.id}`, { method: 'DELETE', as: admin }), 409, 'DEFAULT_POLICY_REQUIRED');
    await expectProblem(await api.call('/policies', { as: admin, body: { loanDays: 14 } }), 422, 'DEFAULT_POLICY_INCOMPLETE');
    await expectProblem(await api.call('/policies', { as: admin, body: { loanDays: -1, patronCategory: 'faculty' } }), 422, 'VALIDATION_FAILED');
  });
});
