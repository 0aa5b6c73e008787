import { afterEach, describe, expect, it } from 'vitest';
import { expectProblem, ok, openApi, type Api } from './helpers.js';

let api: Api;
afterEach(() => api?.close());

describe('import and export over HTTP', () => {
  it('lets an admin import a CSV of patrons and export it again, without PINs; a librarian may not', async () => {
    api = openApi();
    const admin = await api.admin();
    const librarian = await api.librarian();
    const csv = 'cardNumber,name,category,expiryDate,pin\n000777,王芳,faculty,2030-01-01,9876\n000778,Li Lei,public,2029-06-30,\n';
    await expectProblem(await api.call('/import/patrons?format=csv', { body: csv, as: librarian, headers: { 'Content-Type': 'text/csv' } }), 403, 'FORBIDDEN');
    const report = await ok(await api.call('/import/patrons?format=csv', { body: csv, as: admin, headers: { 'Content-Type': 'text/csv' } }));
    expect(report).toEqual({ kind: 'patrons', format: 'csv', rows: 2, imported: 2, skipped: [] });
    expect(api.count('patron', "card_number = '000777' AND pin_hash IS NOT NULL")).toBe(1);
    const res = await api.call('/export/patrons?format=csv', { as: admin });
    expect(res.headers.get('content-type')).toMatch(/text\/csv/);
    const text = await res.text();
    expect(text).toContain('000777,,王芳,faculty');
    expect(text).not.toMatch(/9876|scrypt/);
    expect(api.auditRows().map((r) => r.action)).toEqual(expect.arrayContaining(['import.patrons', 'patron.export']));
  });

  it('answers a file with a bad row with 422 naming line and field, and imports nothing', async () => {
    api = openApi();
    const admin = await api.admin();
    const body = JSON.stringify([{ title: 'Good' }, { title: 'Bad', year: 'soon' }]);
    const problem = await expectProblem(await api.call('/import/records?format=json', { body, as: admin }), 422, 'IMPORT_REJECTED');
    expect(problem.errors).toEqual([expect.objectContaining({ field: 'line 2: year', message: '"soon" is not a whole number' })]);
    expect(api.count('record')).toBe(0);
    const skipped = await ok(await api.call('/import/records?format=json&skipBad=true', { body, as: admin }));
    expect(skipped.imported).toBe(1);
    expect(skipped.skipped).toEqual([{ line: 2, field: 'year', reason: '"soon" is not a whole number' }]);
  });

  it('applies imported policies to the next checkout at once', async () => {
    api = openApi();
    const admin = await api.admin();
    await ok(await api.call('/import/policies?format=json', { body: JSON.stringify([{ patronCategory: 'undergraduate', loanDays: 3 }]), as: admin }));
    const p = await api.patron();
    const item = api.book();
    const r = api.circulation.checkout({ patronId: p.id }, { itemId: item.id }, { channel: 'desk', branchId: 'main' });
    expect(r.ok && r.dueAt.slice(0, 10)).toBe('2026-03-05');
  });
});
