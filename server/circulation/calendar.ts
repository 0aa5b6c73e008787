import type { Db } from '../store/db.js';

export type DueDateStrategy = 'next_open_day' | 'previous_open_day' | 'ignore_calendar';

interface Hours { opens: string; closes: string }
interface BranchCalendar { hours: Map<number, Hours>; closed: Set<string> }

const formats = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string) {
  let f = formats.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    formats.set(tz, f);
  }
  return f;
}

/** Wall-clock fields of an instant in a time zone. */
export function zonedParts(d: Date, tz: string) {
  const p: Record<string, string> = {};
  for (const part of formatter(tz).formatToParts(d)) p[part.type] = part.value;
  return { year: +p.year!, month: +p.month!, day: +p.day!, hour: +p.hour!, minute: +p.minute!, second: +p.second! };
}

/** The calendar date ('YYYY-MM-DD') of an instant in a time zone. */
export function localDate(d: Date, tz: string): string {
  const p = zonedParts(d, tz);
  return `${p.year}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
}

/** The UTC instant of a wall-clock time in a time zone (the later instant when clocks go back). */
export function zonedTimeToUtc(date: string, time: string, tz: string): Date {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const [hh, mm, ss = 0] = time.split(':').map(Number) as [number, number, number?];
  const guess = Date.UTC(y, m - 1, d, hh, mm, ss);
  let t = guess;
  for (let i = 0; i < 3; i++) {
    const p = zonedParts(new Date(t), tz);
    const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
    const diff = asUtc - guess;
    if (diff === 0) break;
    t -= diff;
  }
  return new Date(t);
}

export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

export const weekdayOf = (date: string) => new Date(`${date}T00:00:00Z`).getUTCDay();

/** Whole calendar days from date a to date b (b − a). */
export const daysBetween = (a: string, b: string) => Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86_400_000);

/** Opening hours and closed dates per branch, read once and kept until invalidated. */
export class Calendars {
  private branches = new Map<string, BranchCalendar>();
  private loaded = false;
  // Memos: Intl time-zone conversion is the costly part of a checkout, and the answers repeat all day.
  private todayCache = { from: 0, to: 0, date: '' };
  private readonly dueDates = new Map<string, string>();
  private readonly endsOfDay = new Map<string, number>();

  constructor(private readonly db: Db, readonly timeZone: string, readonly strategy: DueDateStrategy) {}

  invalidate() { this.loaded = false; this.dueDates.clear(); }

  private load() {
    this.branches.clear();
    for (const b of this.db.prepare('SELECT id FROM branch').all() as { id: string }[]) {
      this.branches.set(b.id, { hours: new Map(), closed: new Set() });
    }
    for (const h of this.db.prepare('SELECT * FROM opening_hours').all() as { branch_id: string; weekday: number; opens: string; closes: string }[]) {
      this.branches.get(h.branch_id)?.hours.set(h.weekday, { opens: h.opens, closes: h.closes });
    }
    for (const c of this.db.prepare('SELECT branch_id, date FROM closed_date').all() as { branch_id: string; date: string }[]) {
      this.branches.get(c.branch_id)?.closed.add(c.date);
    }
    this.loaded = true;
  }

  private branch(id: string): BranchCalendar | undefined {
    if (!this.loaded) this.load();
    return this.branches.get(id);
  }

  /** A branch is open on a date when it has hours for that weekday and the date is not a closed date. */
  isOpen(branchId: string, date: string): boolean {
    const b = this.branch(branchId);
    if (!b) return true; // an unknown branch has no calendar to respect
    return b.hours.has(weekdayOf(date)) && !b.closed.has(date);
  }

  hours(branchId: string, date: string): Hours | null {
    return this.isOpen(branchId, date) ? this.branch(branchId)?.hours.get(weekdayOf(date)) ?? null : null;
  }

  today(now: Date): string {
    const ms = now.getTime();
    const c = this.todayCache;
    if (ms >= c.from && ms < c.to) return c.date;
    const date = localDate(now, this.timeZone);
    // Remember the instants this local date spans, unless the zone skips its midnight (then ask every time).
    const from = zonedTimeToUtc(date, '00:00:00', this.timeZone).getTime();
    const to = zonedTimeToUtc(addDays(date, 1), '00:00:00', this.timeZone).getTime();
    const sound = from <= ms && ms < to && localDate(new Date(from), this.timeZone) === date && localDate(new Date(to - 1), this.timeZone) === date;
    this.todayCache = sound ? { from, to, date } : { from: 0, to: 0, date };
    return date;
  }

  /** The instant a local date ends (23:59:59 local time). */
  endOfDay(date: string): Date {
    let ms = this.endsOfDay.get(date);
    if (ms === undefined) {
      if (this.endsOfDay.size >= 4096) this.endsOfDay.clear();
      ms = zonedTimeToUtc(date, '23:59:59', this.timeZone).getTime();
      this.endsOfDay.set(date, ms);
    }
    return new Date(ms);
  }

  /** The date a loan of `days` days taken on `now` is due, moved off closed days by the strategy. */
  dueDate(branchId: string, now: Date, days: number): string {
    const start = this.today(now);
    const key = `${branchId}\u0000${start}\u0000${days}`;
    let date = this.dueDates.get(key);
    if (date === undefined) {
      if (this.dueDates.size >= 4096) this.dueDates.clear();
      date = this.movedOffClosedDays(branchId, start, addDays(start, days));
      this.dueDates.set(key, date);
    }
    return date;
  }

  private movedOffClosedDays(branchId: string, start: string, due: string): string {
    let date = due;
    const b = this.branch(branchId);
    if (this.strategy === 'ignore_calendar' || !b || b.hours.size === 0) return date;
    const step = this.strategy === 'next_open_day' ? 1 : -1;
    for (let i = 0; i < 366 && !this.isOpen(branchId, date); i++) {
      const next = addDays(date, step);
      if (step < 0 && next < start) { date = start; break; } // never due before the day it was lent
      date = next;
    }
    return date;
  }

  /**
   * The date `days` open days after `now`'s local date at a branch: closed weekdays and closed dates are
   * not counted (a branch without opening hours counts every day). Used for hold pickup deadlines.
   */
  openDaysAhead(branchId: string, now: Date, days: number): string {
    let date = this.today(now);
    const b = this.branch(branchId);
    if (!b || b.hours.size === 0) return addDays(date, days);
    for (let open = 0, i = 0; open < days && i < 3660; i++) {
      date = addDays(date, 1);
      if (this.isOpen(branchId, date)) open++;
    }
    return date;
  }

  /** Loans are due at the end of their due date, local time. */
  dueAt(branchId: string, now: Date, days: number): Date {
    return this.endOfDay(this.dueDate(branchId, now, days));
  }
}
