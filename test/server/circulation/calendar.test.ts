import { afterEach, describe, expect, it } from 'vitest';
import { localDate, zonedTimeToUtc } from '../../../server/circulation/calendar.js';
import { closeLibraries, granted, kioskAt, openLibrary, type Library, type LibraryOptions } from './library.js';

let lib: Library;
afterEach(closeLibraries);

/** Checks out a fresh book with a loan period of `loanDays` at `branchId` and returns its due instant. */
function dueAfter(loanDays: number, branchId = 'main', opts: LibraryOptions = {}): string {
  lib = openLibrary(opts);
  lib.rule({ patronCategory: 'undergraduate', loanDays });
  const patron = lib.patron();
  const item = lib.book();
  return granted(lib.circ.checkout({ patronId: patron.id }, { itemId: item.id }, kioskAt(branchId))).dueAt;
}

describe('due dates and the calendar', () => {
  // The clock starts on Monday 2 March 2026, 10:00 in Shanghai. main opens Monday–Saturday, east Monday–Friday.

  it('is due at 23:59:59 Asia/Shanghai on the due date', () => {
    expect(dueAfter(28)).toBe('2026-03-30T15:59:59.000Z'); // Monday 30 March, 23:59:59 +08:00
  });

  it('counts the loan from the library-local date, not the UTC date', () => {
    // 17:00 UTC on 2 March is already 01:00 on 3 March in Shanghai.
    expect(dueAfter(28, 'main', { now: '2026-03-02T17:00:00.000Z' })).toBe('2026-03-31T15:59:59.000Z');
  });

  it('moves a due date on a weekly closed weekday to the next open day', () => {
    expect(dueAfter(27)).toBe('2026-03-30T15:59:59.000Z');          // Sunday 29 → Monday 30 at main
    expect(dueAfter(26, 'east')).toBe('2026-03-30T15:59:59.000Z');  // Saturday 28 → Monday 30 at east
    expect(dueAfter(26, 'main')).toBe('2026-03-28T15:59:59.000Z');  // main is open on Saturdays
  });

  it('moves a due date on a closed date to the next open day, skipping closed days in a row', () => {
    lib = openLibrary();
    lib.closedDate('main', '2026-03-30');
    lib.closedDate('main', '2026-03-31');
    const item = lib.book();
    const r = granted(lib.circ.checkout({ patronId: lib.patron().id }, { itemId: item.id }, kioskAt('main')));
    expect(r.dueAt).toBe('2026-04-01T15:59:59.000Z'); // 30 (closed), 31 (closed) → Wednesday 1 April
    expect(r.loan.dueAt).toBe(r.dueAt);
    // A closed date at another branch does not matter here.
    expect(granted(lib.circ.checkout({ patronId: lib.patron().id }, { itemId: lib.book().id }, kioskAt('east'))).dueAt)
      .toBe('2026-03-30T15:59:59.000Z');
  });

  it('moves to the previous open day with the previous_open_day strategy', () => {
    const settings = { due_date_strategy: 'previous_open_day' };
    expect(dueAfter(27, 'main', { settings })).toBe('2026-03-28T15:59:59.000Z');  // Sunday 29 → Saturday 28
    expect(dueAfter(27, 'east', { settings })).toBe('2026-03-27T15:59:59.000Z');  // Sunday 29 → Friday 27
  });

  it('never moves a due date before the day of the loan with previous_open_day', () => {
    // Sunday 8 March at east (a self-check kiosk lends on a closed day); Monday 9 is a holiday.
    lib = openLibrary({ now: '2026-03-08T02:00:00.000Z', settings: { due_date_strategy: 'previous_open_day' } });
    lib.rule({ patronCategory: 'undergraduate', loanDays: 1 });
    lib.closedDate('east', '2026-03-09');
    const r = granted(lib.circ.checkout({ patronId: lib.patron().id }, { itemId: lib.book().id }, kioskAt('east')));
    expect(r.dueAt).toBe('2026-03-08T15:59:59.000Z');
  });

  it('keeps the due date on a closed day with the ignore_calendar strategy', () => {
    expect(dueAfter(27, 'main', { settings: { due_date_strategy: 'ignore_calendar' } })).toBe('2026-03-29T15:59:59.000Z');
  });

  it('treats a branch without opening hours as always open', () => {
    lib = openLibrary();
    lib.db.prepare("INSERT INTO branch (id, name) VALUES ('van', 'Mobile library')").run();
    lib.circ.reload();
    lib.rule({ patronCategory: 'undergraduate', loanDays: 27 });
    const r = granted(lib.circ.checkout({ patronId: lib.patron().id }, { itemId: lib.book().id }, kioskAt('van')));
    expect(r.dueAt).toBe('2026-03-29T15:59:59.000Z');
  });

  it('converts the end of the due date correctly across a daylight-saving change (Europe/Berlin)', () => {
    const settings = { time_zone: 'Europe/Berlin' };
    // Lent Monday 2 March (CET, +01:00): due Monday 30 March, after clocks went forward on 29 March (CEST, +02:00).
    expect(dueAfter(28, 'main', { settings, now: '2026-03-02T10:00:00.000Z' })).toBe('2026-03-30T21:59:59.000Z');
    // Due within winter time.
    expect(dueAfter(7, 'main', { settings, now: '2026-03-02T10:00:00.000Z' })).toBe('2026-03-09T22:59:59.000Z');
    // Lent in summer time, due after clocks went back on 25 October.
    expect(dueAfter(28, 'main', { settings, now: '2026-10-05T10:00:00.000Z' })).toBe('2026-11-02T22:59:59.000Z');
  });

  it('converts wall-clock times in a DST zone, taking the later instant when clocks go back', () => {
    expect(zonedTimeToUtc('2026-03-29', '23:59:59', 'Europe/Berlin').toISOString()).toBe('2026-03-29T21:59:59.000Z');
    expect(zonedTimeToUtc('2026-03-28', '23:59:59', 'Europe/Berlin').toISOString()).toBe('2026-03-28T22:59:59.000Z');
    expect(zonedTimeToUtc('2026-10-25', '23:59:59', 'Europe/Berlin').toISOString()).toBe('2026-10-25T22:59:59.000Z');
    // 02:30 happens twice on 25 October 2026: at 00:30Z (CEST) and at 01:30Z (CET).
    expect(zonedTimeToUtc('2026-10-25', '02:30', 'Europe/Berlin').toISOString()).toBe('2026-10-25T01:30:00.000Z');
    expect(zonedTimeToUtc('2026-03-02', '23:59:59', 'Asia/Shanghai').toISOString()).toBe('2026-03-02T15:59:59.000Z');
    expect(localDate(new Date('2026-03-29T22:30:00.000Z'), 'Europe/Berlin')).toBe('2026-03-30');
    expect(localDate(new Date('2026-03-29T22:30:00.000Z'), 'Asia/Shanghai')).toBe('2026-03-30');
    expect(localDate(new Date('2026-03-29T15:30:00.000Z'), 'Asia/Shanghai')).toBe('2026-03-29');
  });

  it('uses a closed date added after a loan was already due on that date, once the core reloads', () => {
    lib = openLibrary();
    const lend = () => granted(lib.circ.checkout({ patronId: lib.patron().id }, { itemId: lib.book().id }, kioskAt('main'))).dueAt;
    expect(lend()).toBe('2026-03-30T15:59:59.000Z');
    lib.closedDate('main', '2026-03-30'); // reloads the core
    expect(lend()).toBe('2026-03-31T15:59:59.000Z');
  });

  it("knows the library's local date at every instant, across midnights and daylight-saving changes", () => {
    for (const [timeZone, from] of [['Europe/Berlin', '2026-03-28T12:00:00.000Z'], ['Europe/Berlin', '2026-10-24T12:00:00.000Z'],
      ['Asia/Shanghai', '2026-03-01T12:00:00.000Z'], ['America/Santiago', '2026-04-03T12:00:00.000Z']] as const) {
      lib = openLibrary({ settings: { time_zone: timeZone } });
      const start = Date.parse(from);
      for (let t = start; t < start + 3 * 86_400_000; t += 7 * 60_000) {
        expect(lib.circ.calendars.today(new Date(t)), `${timeZone} ${new Date(t).toISOString()}`).toBe(localDate(new Date(t), timeZone));
      }
      lib.close();
    }
  });

  it('answers whether a branch is open on a date', () => {
    lib = openLibrary();
    lib.closedDate('main', '2026-05-01');
    const cal = lib.circ.calendars;
    expect(cal.isOpen('main', '2026-03-28')).toBe(true);   // Saturday
    expect(cal.isOpen('east', '2026-03-28')).toBe(false);  // Saturday
    expect(cal.isOpen('main', '2026-03-29')).toBe(false);  // Sunday
    expect(cal.isOpen('main', '2026-05-01')).toBe(false);  // closed date
    expect(cal.isOpen('east', '2026-05-01')).toBe(true);
    expect(cal.hours('main', '2026-03-28')).toEqual({ opens: '08:00', closes: '22:00' });
    expect(cal.hours('main', '2026-03-29')).toBeNull();
  });
});
