import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, type Db } from '../../../server/store/db.js';
import { exportData, importData, ImportError, KIND_NAMES, type Kind } from '../../../server/io/index.js';
import { verifySecret } from '../../../server/auth/passwords.js';
import { importCommand } from '../../../server/cli/import.js';
import { exportCommand } from '../../../server/cli/export.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
function tempDir() { const d = mkdtempSync(join(tmpdir(), 'shelfsense-io-')); dirs.push(d); return d; }
const freshDb = () => openDb(join(tempDir(), 'shelfsense.db'));

const CALENDARS = `branchId,kind,name,nameZh,isil,address,weekday,opens,closes,date,reason
main,branch,Main Library,主馆,CN-100001,,,,,,
main,hours,,,,,1,08:00,22:00,,
main,hours,,,,,2,08:00,22:00,,
main,closed,,,,,,,,2026-10-01,国庆节
east,branch,East Branch,东区分馆,,,,,,,
east,hours,,,,,6,09:00,12:00,,
`;
const RECORDS = `id,title,authors,publisher,year,isbn,language,classScheme,classification,subjects
10,内科学,葛均波; 徐永健,人民卫生出版社,2018,9787117266789,zh,clc,R5,医药卫生
11,"Principles of
Anatomy",Smith J.,Elsevier,2020,,en,clc,R322,Anatomy; Medicine
12,Organic Chemistry,,,2015,,en,clc,O62,
`;
const ITEMS = `barcode,recordId,tagUid,ownerIsil,homeBranch,location,callNumber,itemType,status,priceCents
00012345,10,E004015012345678,CN-100001,main,M-R-01,R5/1,book,available,5800
00012346,11,,CN-100001,east,E-R-02,R322/2,book,available,
00012347,12,,CN-100001,main,,,reference,in_processing,
`;
const PATRONS = `cardNumber,cardTagUid,name,category,department,email,phone,birthDate,homeBranch,expiryDate,blockedReason,cardLost,pin
0001,,张三,undergraduate,临床医学,zhang@example.org,,2004-05-06,main,2028-07-01,,false,1234
0002,E004016011112222,Li Na,faculty,,,+86 13800001111,,east,2030-01-01,,,
`;
const POLICIES = `branchId,patronCategory,itemType,loanDays,maxLoans,renewals,renewalDays,holdsAllowed,maxHolds,finePerDayCents,maxFineCents,graceDays,inLibraryOnly,blockOverdueItems,blockFinesCents,lostFeeCents
*,faculty,*,90,40,,,,,,,,,,,
main,*,reference,,,,,,,,,,true,,,
`;

async function library(db: Db) {
  await importData(db, { kind: 'calendars', format: 'csv', text: CALENDARS });
  await importData(db, { kind: 'records', format: 'csv', text: RECORDS });
  await importData(db, { kind: 'items', format: 'csv', text: ITEMS });
  await importData(db, { kind: 'patrons', format: 'csv', text: PATRONS });
  await importData(db, { kind: 'policies', format: 'csv', text: POLICIES });
}

describe('import', () => {
  it('imports every kind from CSV, keeping barcodes and card numbers exactly and hashing PINs', async () => {
    const db = freshDb();
    await library(db);
    expect(db.prepare('SELECT barcode FROM item ORDER BY id').all()).toEqual([{ barcode: '00012345' }, { barcode: '00012346' }, { barcode: '00012347' }]);
    expect(db.prepare("SELECT title, authors FROM record WHERE id = 11").get()).toEqual({ title: 'Principles of\nAnatomy', authors: '["Smith J."]' });
    const zhang = db.prepare("SELECT card_number, pin_hash FROM patron WHERE name = '张三'").get() as { card_number: string; pin_hash: string };
    expect(zhang.card_number).toBe('0001');
    expect(zhang.pin_hash).not.toContain('1234');
    expect(await verifySecret('1234', zhang.pin_hash)).toBe(true);
    expect(db.prepare("SELECT count(*) AS n FROM opening_hours WHERE branch_id = 'main'").get()).toEqual({ n: 2 });
    expect(db.prepare("SELECT in_library_only FROM policy WHERE branch_id = 'main' AND item_type = 'reference'").get()).toEqual({ in_library_only: 1 });
  });

  it('imports nothing when one row is bad, naming its line (after a multi-line field), field and reason', async () => {
    const db = freshDb();
    await importData(db, { kind: 'calendars', format: 'csv', text: CALENDARS });
    await importData(db, { kind: 'records', format: 'csv', text: RECORDS });
    const bad = `barcode,recordId,homeBranch,location
A1,10,main,"shelf
three"
A2,11,main,
A1,12,main,
A3,99,main,
`;
    const err = await importData(db, { kind: 'items', format: 'csv', text: bad }).catch((e) => e);
    expect(err).toBeInstanceOf(ImportError);
    expect(err.problems).toEqual([
      { line: 5, field: 'barcode', reason: 'barcode A1 is already used' },
      { line: 6, field: 'recordId', reason: 'record 99 not found' },
    ]);
    expect(db.prepare('SELECT count(*) AS n FROM item').get()).toEqual({ n: 0 });

    const report = await importData(db, { kind: 'items', format: 'csv', text: bad, skipBad: true });
    expect(report.imported).toBe(2);
    expect(report.skipped.map((p) => p.line)).toEqual([5, 6]);
    expect(db.prepare('SELECT barcode FROM item ORDER BY id').all()).toEqual([{ barcode: 'A1' }, { barcode: 'A2' }]);
  });

  it('reports validation errors with the field, for JSON by element number', async () => {
    const db = freshDb();
    await importData(db, { kind: 'calendars', format: 'csv', text: CALENDARS });
    const patrons = JSON.stringify([
      { cardNumber: 'P1', name: 'A', category: 'public', expiryDate: '2030-01-01' },
      { cardNumber: 'P2', name: 'B', category: 'public', expiryDate: '2030-02-30' },
      { cardNumber: 'P3', name: 'C', category: 'public', expiryDate: '2030-01-01', pin: '12' },
      { cardNumber: 'P4', name: 'D', category: 'public', expiryDate: '2030-01-01', homeBranch: 'nowhere' },
    ]);
    const err = await importData(db, { kind: 'patrons', format: 'json', text: patrons }).catch((e) => e);
    expect(err.problems.map((p: any) => [p.line, p.field])).toEqual([[2, 'expiryDate'], [3, 'pin'], [4, 'homeBranch']]);
    expect(db.prepare('SELECT count(*) AS n FROM patron').get()).toEqual({ n: 0 });
    const hours = 'branchId,kind,weekday,opens,closes\nmain,hours,7,08:00,09:00\nmain,hours,1,18:00,09:00\nmain,weekly,,,\n';
    const cal = await importData(db, { kind: 'calendars', format: 'csv', text: hours }).catch((e) => e);
    expect(cal.problems.map((p: any) => [p.line, p.field])).toEqual([[2, 'weekday'], [3, 'closes'], [4, 'kind']]);
    expect(db.prepare("SELECT count(*) AS n FROM opening_hours WHERE branch_id = 'main'").get()).toEqual({ n: 2 });
    await expect(importData(db, { kind: 'records', format: 'json', text: '{"title": "x"}' })).rejects.toThrow(/JSON array/);
  });

  it('refuses items in circulation statuses, which only circulation may set', async () => {
    const db = freshDb();
    await library(db);
    const err = await importData(db, { kind: 'items', format: 'csv', text: 'barcode,recordId,homeBranch,status\nZ9,10,main,on_loan\n' }).catch((e) => e);
    expect(err.problems).toEqual([{ line: 2, field: 'status', reason: 'on_loan is set by circulation, not by an import; import the item as available' }]);
  });
});

describe('export', () => {
  it.each(['csv', 'json'] as const)('round-trips every kind through %s into an empty database', async (format) => {
    const source = freshDb();
    await library(source);
    const target = freshDb();
    const order: Kind[] = ['calendars', 'records', 'items', 'patrons', 'policies'];
    expect([...order].sort()).toEqual([...KIND_NAMES].sort());
    for (const kind of order) {
      const text = exportData(source, { kind, format });
      await importData(target, { kind, format, text });
      expect(exportData(target, { kind, format }), kind).toBe(text);
    }
    expect(exportData(source, { kind: 'patrons', format })).not.toMatch(/pin|scrypt/i);
  });
});

describe('shelfsense import / export commands', () => {
  it('import exits 0 on success, 1 with bad rows (listing them), 2 on wrong usage; export writes the file', async () => {
    const dataDir = tempDir();
    const cal = join(dataDir, 'cal.csv');
    writeFileSync(cal, CALENDARS);
    const badRecords = join(dataDir, 'records.csv');
    writeFileSync(badRecords, 'title,year\nGood,2001\nBad,year two\n');
    const errors: string[] = [];
    const origError = console.error, origLog = console.log;
    console.error = (...a: unknown[]) => { errors.push(a.join(' ')); };
    console.log = () => undefined;
    try {
      expect(await importCommand.run(['calendars', cal, '--data-dir', dataDir])).toBe(0);
      expect(await importCommand.run(['records', badRecords, '--data-dir', dataDir])).toBe(1);
      expect(errors.join('\n')).toMatch(/line 3, field year: "year two" is not a whole number/);
      expect(await importCommand.run(['shelves', cal, '--data-dir', dataDir])).toBe(2);
      expect(await importCommand.run(['records', join(dataDir, 'x.txt'), '--data-dir', dataDir])).toBe(2);
      const out = join(dataDir, 'cal.json');
      expect(await exportCommand.run(['calendars', '--out', out, '--data-dir', dataDir])).toBe(0);
      const db = openDb(join(dataDir, 'shelfsense.db'));
      expect(db.prepare('SELECT count(*) AS n FROM record').get()).toEqual({ n: 0 });
      expect(JSON.parse((await import('node:fs')).readFileSync(out, 'utf8')).map((b: any) => b.id)).toEqual(['east', 'main']);
      db.close();
    } finally {
      console.error = origError; console.log = origLog;
    }
  });
});
