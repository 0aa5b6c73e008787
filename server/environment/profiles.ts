/**
 * Zone climate profiles: what "in band" means for a zone (a room with a climate profile), and the
 * merge of a zone's own overrides onto its profile's defaults. Pure: no I/O.
 *
 * Where the numbers come from (details, and how sure we are of each, in docs/environment.md):
 * - JGJ 25-2010 《档案馆建筑设计规范》 (Code for design of archives buildings), table 5.2.1 paper
 *   stores 14–24 °C / 45–60 % RH, table 5.2.2 special stores (特藏库) 14–20 °C / 45–55 % RH, and
 *   §5.2.3: within 24 h temperature may not vary by more than ±2 °C, RH by more than ±5 %. We took the
 *   tables from a secondary summary of the code and §5.2.3 from a quotation of it, not from the
 *   printed code itself.
 * - ASHRAE Handbook — HVAC Applications, "Museums, galleries, archives and libraries" (chapter 24
 *   in the 2019 edition). Class A allows short-term fluctuations of ±5 % RH and ±2 K around the set
 *   point, which agrees with JGJ 25's daily limits. We used the summary in S. Michalski, "ASHRAE types
 *   of control", Canadian Conservation Institute, not the Handbook itself.
 * - NISO TR01-1995, Environmental guidelines for the storage of paper records (W. K. Wilson): no more
 *   than ±2 °F (about ±1 °C) and ±3 % RH. This is the tighter stability we use for special
 *   collections. From memory of the report; check it against the report before quoting it.
 * - CIE 157:2004, Control of damage to museum objects by optical radiation: 50 lx for
 *   light-responsive material (high and medium responsivity), 200 lx for low responsivity. The yearly
 *   exposure limits are 15 klx·h (high) and 150 klx·h (medium: most paper and printed matter).
 * - Human comfort in the reading room: GB 50736-2012 §3.0.2, with comfort levels I/II: heating
 *   22–24 / 18–22 °C, cooling 24–26 / 26–28 °C, level I RH ≥ 30 % heating and 40–60 % cooling. These
 *   figures are from memory; check them against the code. JGJ 25-2010 table 5.2.4 gives 18–28 °C for
 *   reading rooms.
 * ISO 11799:2003/2015 (document storage requirements) gives its climate figures only in the
 * informative Annex B. It calls for conditions "as stable as practicable" (§6.4) and for air
 * circulation that prevents pockets of high RH (§6.6). We cite it for those principles and take no
 * number from it.
 */
import { DomainError } from '../errors.js';

export type ZoneProfileName = 'stacks' | 'reading_room' | 'special_collections' | 'exhibition';
export const ZONE_PROFILE_NAMES: readonly ZoneProfileName[] = ['stacks', 'reading_room', 'special_collections', 'exhibition'];

/** A closed band [min, max]; temperatures in °C, relative humidity in %. */
export interface Band { min: number; max: number }

export interface Stability {
  /** Largest allowed max − min of temperature within one local day, °C. */
  maxDailyTempSwing: number;
  /** Largest allowed max − min of RH within one local day, percentage points. */
  maxDailyRhSwing: number;
}

export interface ZoneProfile {
  name: ZoneProfileName;
  /** Band while the zone is open (or always, when `closed` is null). */
  temperature: Band;
  humidity: Band;
  /** Setback band while the zone is closed, when it has opening hours; null = the same band around the clock. */
  closed: { temperature: Band; humidity: Band } | null;
  /** Illuminance above which curtains close, lx; null = no light control. */
  maxLux: number | null;
  /** Yearly light exposure budget, lx·h; null = none. */
  annualLuxHoursBudget: number | null;
  stability: Stability;
}

const DEFAULTS: Record<ZoneProfileName, ZoneProfile> = {
  // Paper collections in general circulation: JGJ 25-2010 table 5.2.1 (paper stores). Daily swing 4 °C /
  // 10 % is JGJ 25 §5.2.3's ±2 °C / ±5 % read as the whole max − min range, the same as ASHRAE class A's
  // short-term ±2 K / ±5 % RH. There are no windows or light sensor in the demo stacks, so no light control.
  stacks: {
    name: 'stacks', temperature: { min: 14, max: 24 }, humidity: { min: 45, max: 60 }, closed: null,
    maxLux: null, annualLuxHoursBudget: null, stability: { maxDailyTempSwing: 4, maxDailyRhSwing: 10 },
  },
  // People and open shelves. The open band is the 18–26 °C human comfort band (GB 50736-2012 level I
  // cooling ≤ 26 °C, level II heating ≥ 18 °C). The RH top of 60 % is the paper-store limit of JGJ 25
  // table 5.2.1, because the books stay there. While closed, temperature may drift over the wider
  // 14–28 °C: the JGJ 25 paper-store minimum, and the top of its reading room and exhibition hall
  // ranges. RH stays capped at 60 % because it protects the books, not the readers.
  // maxLux 1000 lx is our own choice, not a standard: twice the 500 lx reading task illuminance of
  // GB 50034-2013 and EN 12464-1, so only daylight (direct sun gives well over 10 klx) trips it, never
  // the electric lighting alone.
  reading_room: {
    name: 'reading_room', temperature: { min: 18, max: 26 }, humidity: { min: 30, max: 60 },
    closed: { temperature: { min: 14, max: 28 }, humidity: { min: 30, max: 60 } },
    maxLux: 1000, annualLuxHoursBudget: null, stability: { maxDailyTempSwing: 4, maxDailyRhSwing: 10 },
  },
  // Rare books and manuscripts: JGJ 25-2010 table 5.2.2 (special stores). NISO TR01-1995 stability
  // (±1 °C, ±3 % → swing 2 °C / 6 %). Light is 50 lx with the 150 klx·h/year budget (CIE 157
  // medium responsivity), in case a light sensor is added.
  special_collections: {
    name: 'special_collections', temperature: { min: 14, max: 20 }, humidity: { min: 45, max: 55 }, closed: null,
    maxLux: 50, annualLuxHoursBudget: 150_000, stability: { maxDailyTempSwing: 2, maxDailyRhSwing: 6 },
  },
  // Originals on display, often taken from special collections. RH follows JGJ 25 table 5.2.2 (45–55 %).
  // 18–24 °C is our choice inside JGJ 25's 14–28 °C exhibition hall range: warm enough for visitors,
  // never warmer than the reading room. Swing follows ASHRAE class A (4 °C / 10 %). Light: 50 lx and
  // 50 lx × 3000 h = 150 klx·h per year (CIE 157 medium responsivity). For highly responsive items
  // (CIE "high": 15 klx·h/year), set annualLuxHoursBudget to 15 000 for the zone.
  exhibition: {
    name: 'exhibition', temperature: { min: 18, max: 24 }, humidity: { min: 45, max: 55 }, closed: null,
    maxLux: 50, annualLuxHoursBudget: 150_000, stability: { maxDailyTempSwing: 4, maxDailyRhSwing: 10 },
  },
};

/** The defaults of a profile (a fresh copy). */
export function defaultProfile(name: ZoneProfileName): ZoneProfile {
  return structuredClone(DEFAULTS[name]);
}

export const isZoneProfileName = (s: string): s is ZoneProfileName => (ZONE_PROFILE_NAMES as readonly string[]).includes(s);

/** A zone's overrides (from its configuration); every field optional. */
export interface ProfileOverrides {
  temperature?: Partial<Band>;
  humidity?: Partial<Band>;
  closed?: { temperature?: Partial<Band>; humidity?: Partial<Band> } | null;
  maxLux?: number | null;
  annualLuxHoursBudget?: number | null;
  stability?: Partial<Stability>;
}

/** Bad overrides: `issues` lists every problem found, each naming the field. */
export class ProfileError extends DomainError {
  constructor(readonly issues: string[]) {
    super('INVALID_ZONE_PROFILE', `invalid zone profile: ${issues.join('; ')}`, 422, { issues });
    this.name = 'ProfileError';
  }
}

/** Sane physical range for a room temperature setting, °C (well outside any preservation band). */
const T_LIMITS = { min: -40, max: 60 };

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The profile of a zone: the named profile's defaults with `overrides` merged in, field by field.
 * Throws ProfileError (listing every problem) for an unknown profile, unknown keys, non-numbers,
 * min ≥ max, RH outside 0..100, temperatures outside −40..60 °C, negative lux, budgets or swings.
 */
export function resolveProfile(name: string, overrides?: unknown): ZoneProfile {
  const issues: string[] = [];
  if (!isZoneProfileName(name)) throw new ProfileError([`unknown profile '${name}' (known: ${ZONE_PROFILE_NAMES.join(', ')})`]);
  const out = defaultProfile(name);
  if (overrides === undefined || overrides === null) return out;
  if (!isObject(overrides)) throw new ProfileError(['overrides must be an object']);

  const known = (obj: Record<string, unknown>, keys: string[], path: string) => {
    for (const k of Object.keys(obj)) if (!keys.includes(k)) issues.push(`unknown key '${path}${k}'`);
  };
  const num = (v: unknown, path: string): number | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) { issues.push(`${path} must be a finite number (got ${JSON.stringify(v)})`); return undefined; }
    return v;
  };
  const band = (base: Band, v: unknown, path: string, kind: 'temperature' | 'humidity'): Band => {
    if (v === undefined) return base;
    if (!isObject(v)) { issues.push(`${path} must be an object {min, max}`); return base; }
    known(v, ['min', 'max'], `${path}.`);
    const b = { min: num(v.min, `${path}.min`) ?? base.min, max: num(v.max, `${path}.max`) ?? base.max };
    const unit = kind === 'temperature' ? '°C' : '%';
    const [lo, hi] = kind === 'temperature' ? [T_LIMITS.min, T_LIMITS.max] : [0, 100];
    for (const end of ['min', 'max'] as const) {
      if (b[end] < lo || b[end] > hi) issues.push(`${path}.${end} ${b[end]} ${unit} is outside ${lo}..${hi} ${unit}`);
    }
    if (b.min >= b.max) issues.push(`${path}.min (${b.min} ${unit}) must be below ${path}.max (${b.max} ${unit})`);
    return b;
  };
  const nonNegative = (v: unknown, path: string, unit: string): number | undefined => {
    const n = num(v, path);
    if (n !== undefined && n < 0) { issues.push(`${path} must not be negative (got ${n} ${unit})`); return undefined; }
    return n;
  };

  const o = overrides;
  known(o, ['temperature', 'humidity', 'closed', 'maxLux', 'annualLuxHoursBudget', 'stability'], '');
  out.temperature = band(out.temperature, o.temperature, 'temperature', 'temperature');
  out.humidity = band(out.humidity, o.humidity, 'humidity', 'humidity');
  if (o.closed === null) out.closed = null;
  else if (o.closed !== undefined) {
    if (!isObject(o.closed)) issues.push('closed must be an object {temperature, humidity} or null');
    else {
      known(o.closed, ['temperature', 'humidity'], 'closed.');
      // A zone without a setback band of its own starts from its open band.
      const base = out.closed ?? { temperature: out.temperature, humidity: out.humidity };
      out.closed = {
        temperature: band(base.temperature, o.closed.temperature, 'closed.temperature', 'temperature'),
        humidity: band(base.humidity, o.closed.humidity, 'closed.humidity', 'humidity'),
      };
    }
  }
  if (o.maxLux === null) out.maxLux = null;
  else out.maxLux = nonNegative(o.maxLux, 'maxLux', 'lx') ?? out.maxLux;
  if (o.annualLuxHoursBudget === null) out.annualLuxHoursBudget = null;
  else out.annualLuxHoursBudget = nonNegative(o.annualLuxHoursBudget, 'annualLuxHoursBudget', 'lx·h') ?? out.annualLuxHoursBudget;
  if (o.stability !== undefined) {
    if (!isObject(o.stability)) issues.push('stability must be an object');
    else {
      known(o.stability, ['maxDailyTempSwing', 'maxDailyRhSwing'], 'stability.');
      out.stability = {
        maxDailyTempSwing: nonNegative(o.stability.maxDailyTempSwing, 'stability.maxDailyTempSwing', '°C') ?? out.stability.maxDailyTempSwing,
        maxDailyRhSwing: nonNegative(o.stability.maxDailyRhSwing, 'stability.maxDailyRhSwing', '%') ?? out.stability.maxDailyRhSwing,
      };
    }
  }
  if (issues.length > 0) throw new ProfileError(issues);
  return out;
}

/** The band in force: the setback band while a zone with opening hours is closed, else the open band. */
export function bandsAt(profile: ZoneProfile, open: boolean): { temperature: Band; humidity: Band; setback: boolean } {
  if (!open && profile.closed) return { ...profile.closed, setback: true };
  return { temperature: profile.temperature, humidity: profile.humidity, setback: false };
}
