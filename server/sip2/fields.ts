import { zonedParts, zonedTimeToUtc } from '../circulation/calendar.js';

// SIP2 2.00 value formats shared by many messages.

/** SIP2 2.00: dates are 18 characters, `YYYYMMDDZZZZHHMMSS`; ZZZZ is four blanks for local time or `   Z` for UTC. */
export const DATE_LENGTH = 18;

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/**
 * A small memo for date conversions: a busy listener converts the same few dates over and over (now,
 * today's due date, the transaction dates of this second), and each costs an Intl time-zone lookup.
 */
class Memo<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly size: number) {}
  get(key: string, make: () => V): V {
    let v = this.map.get(key);
    if (v === undefined) {
      if (this.map.size >= this.size) this.map.delete(this.map.keys().next().value!);
      v = make();
      this.map.set(key, v);
    }
    return v;
  }
}
const formatted = new Memo<string>(64);
const parsed = new Memo<number>(64);

/** An instant as an 18-character SIP2 date in the library's time zone. */
export function sipDate(d: Date, tz: string): string {
  const second = Math.floor(d.getTime() / 1000);
  return formatted.get(`${tz} ${second}`, () => {
    const p = zonedParts(d, tz);
    return `${pad(p.year, 4)}${pad(p.month, 2)}${pad(p.day, 2)}    ${pad(p.hour, 2)}${pad(p.minute, 2)}${pad(p.second, 2)}`;
  });
}

const DATE_RE = /^(\d{4})(\d{2})(\d{2})(.{4})(\d{2})(\d{2})(\d{2})$/;

/**
 * Reads an 18-character SIP2 date: local time in `tz` unless the zone is `Z`/`UTC`. Blanks, zeros and
 * impossible dates give null (SIP clients fill dates they do not know with either).
 */
export function parseSipDate(text: string, tz: string): Date | null {
  const t = parsed.get(`${tz} ${text}`, () => readSipDate(text, tz)?.getTime() ?? NaN);
  return Number.isNaN(t) ? null : new Date(t);
}

function readSipDate(text: string, tz: string): Date | null {
  const m = DATE_RE.exec(text);
  if (!m) return null;
  const [, y, mo, d, zone, hh, mm, ss] = m as unknown as [string, string, string, string, string, string, string, string];
  const [year, month, day, hour, minute, second] = [+y, +mo, +d, +hh, +mm, +ss];
  if (year < 1970 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const probe = new Date(Date.UTC(year, month - 1, day));
  if (probe.getUTCMonth() !== month - 1) return null; // 31 February
  const date = `${y}-${mo}-${d}`;
  const z = zone.trim().toUpperCase();
  if (z === 'Z' || z === 'UTC' || z === 'GMT') return new Date(`${date}T${hh}:${mm}:${ss}Z`);
  return zonedTimeToUtc(date, `${hh}:${mm}:${ss}`, tz);
}

/** A fixed count field of `width` digits, capped at the largest value it can hold. */
export const count = (n: number, width = 4) => pad(Math.min(Math.max(0, Math.trunc(n)), 10 ** width - 1), width);

/** Cents as a SIP2 amount: `12.50`. */
export const amount = (cents: number) => `${cents < 0 ? '-' : ''}${Math.floor(Math.abs(cents) / 100)}.${pad(Math.abs(cents) % 100, 2)}`;

/** A SIP2 amount (`12.50`, `12.5`, `12`) in cents; null when it is not a non-negative amount with at most two decimals. */
export function parseAmount(text: string): number | null {
  const m = /^\s*(\d{1,9})(?:\.(\d{0,2}))?\s*$/.exec(text);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

/** SIP2 2.00 language codes this library answers in; every other code gets the account's default. */
export function languageOf(code: string, fallback: 'en' | 'zh'): 'en' | 'zh' {
  if (code === '001' || code === '024') return 'en'; // English, United Kingdom
  if (code === '019' || code === '027') return 'zh'; // Chinese, Taiwanese
  return fallback;
}
