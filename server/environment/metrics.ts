/**
 * Preservation metrics over time-stamped readings. Pure: no I/O. Formulas and checks in docs/environment.md.
 *
 * Time weighting is step-wise (sample and hold). A reading's value holds from its time until the next
 * reading. We chose this because Zigbee sensors report on change (plus a periodic report), so a value
 * stands until a new one arrives. An interval longer than `maxGapMs` (default 1 h) is not counted
 * at all: the value in it is unknown. The last reading only closes the interval before it. Unsorted
 * input is sorted by time first.
 */
import { localDate } from '../circulation/calendar.js';

/** One reading of one quantity. */
export interface Sample { at: Date | number; value: number }
/** One climate reading. */
export interface ClimateSample { at: Date | number; temperature: number; humidity: number }

export interface WindowOptions {
  /** Longest interval between two readings that still counts, ms (default 1 h). */
  maxGapMs?: number;
}

export const DEFAULT_MAX_GAP_MS = 60 * 60_000;
const HOUR_MS = 3_600_000;
/** A mean Gregorian year, h (365.2425 d). */
export const HOURS_PER_YEAR = 8765.82;

const ms = (at: Date | number) => (typeof at === 'number' ? at : at.getTime());

/** The counted intervals: each reading with the time it holds for (ms), gaps over maxGap left out. */
function held<T extends { at: Date | number }>(samples: readonly T[], maxGapMs = DEFAULT_MAX_GAP_MS) {
  const sorted = [...samples].sort((a, b) => ms(a.at) - ms(b.at));
  const out: { from: number; to: number; sample: T }[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    const a = sorted[i]!, b = sorted[i + 1]!;
    const from = ms(a.at), to = ms(b.at);
    if (to > from && to - from <= maxGapMs) out.push({ from, to, sample: a });
  }
  return out;
}

const checkRh = (rh: number) => {
  if (!Number.isFinite(rh) || rh < 0 || rh > 100) throw new RangeError(`relative humidity ${rh} % is outside 0..100 %`);
};

/**
 * Preservation Index, years: how long a "preservation problem" object (acidic paper, cellulose
 * acetate film) takes to deteriorate noticeably at a constant T and RH. The source is J. M. Reilly,
 * D. W. Nishimura, E. Zinn, "New tools for preservation: assessing long-term environmental effects on
 * library and archives collections", Commission on Preservation and Access, 1995, in the closed form
 * that T. Padfield transcribes in "The Preservation Index and the Time Weighted Preservation Index"
 * (conservationphysics.org, 2004):
 *   PI = exp( (E − 134.9·RH) / (R·T) + 0.0284·RH − 28.023 ) / 365
 * with E = 95 220 J/mol (the best fit to the cellulose triacetate data), R = 8.314 J/(mol·K), T in
 * kelvin and RH in %. The exponential gives days; dividing by 365 gives years.
 * Check: 20 °C / 50 % → 44.6 years, inside the 43–45 years quoted for IPI's tables (we did not
 * re-check the tables themselves). 20 °C / 45 % → 51 years, near the 50-year benchmark IPI sets at
 * 20 °C / 45 % RH.
 * The fit is least reliable at very low and very high RH.
 */
export function preservationIndex(temperatureC: number, rh: number): number {
  checkRh(rh);
  if (!Number.isFinite(temperatureC) || temperatureC <= -273.15) throw new RangeError(`temperature ${temperatureC} °C is not a physical temperature`);
  const T = temperatureC + 273.15;
  return Math.exp((95_220 - 134.9 * rh) / (8.314 * T) + 0.0284 * rh - 28.023) / 365;
}

/**
 * Time-Weighted Preservation Index (Reilly et al. 1995): the decay rate 1/PI averaged over time,
 * inverted, so TWPI = Σ Δtᵢ / Σ (Δtᵢ / PIᵢ). This is a time-weighted harmonic mean of PI, so a short
 * hot, humid spell counts for more than the same time spent cool. For a constant climate it equals PI.
 * years is null when no interval counted.
 */
export function timeWeightedPreservationIndex(samples: readonly ClimateSample[], opts: WindowOptions = {}) {
  let time = 0, rate = 0;
  for (const { from, to, sample } of held(samples, opts.maxGapMs)) {
    const dt = to - from;
    time += dt;
    rate += dt / preservationIndex(sample.temperature, sample.humidity);
  }
  return { years: time > 0 ? time / rate : null, coveredHours: time / HOUR_MS };
}

/**
 * Dew point, °C, from the Magnus formula with the constants of O. A. Alduchov and R. E. Eskridge,
 * "Improved Magnus form approximation of saturation vapor pressure", J. Appl. Meteor. 35 (1996)
 * 601–609: a = 17.625, b = 243.04 °C (good to about 0.4 % over −40..50 °C).
 *   γ = ln(RH/100) + a·T/(b + T),  Td = b·γ / (a − γ)
 * Check: 20 °C / 50 % → 9.26 °C.
 */
export function dewPoint(temperatureC: number, rh: number): number {
  checkRh(rh);
  if (rh === 0) throw new RangeError('relative humidity 0 % has no dew point');
  const a = 17.625, b = 243.04;
  const g = Math.log(rh / 100) + (a * temperatureC) / (b + temperatureC);
  return (b * g) / (a - g);
}

export interface MouldRisk {
  /** Counted hours at RH ≥ threshold. */
  hours: number;
  /** Longest continuous stretch at RH ≥ threshold, h (a gap ends a stretch). */
  longestRunHours: number;
  longestRun: { from: Date; to: Date } | null;
  /** Hours that were counted at all (readings no further apart than maxGap). */
  coveredHours: number;
}

/**
 * Time at or above a mould-risk RH (default 65 %), total and in the longest continuous run. 65 % is
 * the low end of the roughly 65–75 % RH range where conservation guidance puts the start of mould
 * germination on susceptible material, given long exposure (e.g. S. Michalski, "Agents of
 * deterioration: incorrect relative humidity", CCI; paraphrased from memory). This is an exposure
 * count, not a mould-growth model.
 */
export function mouldRisk(rh: readonly Sample[], opts: WindowOptions & { thresholdRh?: number } = {}): MouldRisk {
  const threshold = opts.thresholdRh ?? 65;
  let hoursMs = 0, covered = 0, best: { from: number; to: number } | null = null, run: { from: number; to: number } | null = null;
  for (const { from, to, sample } of held(rh, opts.maxGapMs)) {
    covered += to - from;
    if (sample.value >= threshold) {
      hoursMs += to - from;
      run = run && run.to === from ? { from: run.from, to } : { from, to };
      if (!best || run.to - run.from > best.to - best.from) best = run;
    } else run = null;
  }
  return {
    hours: hoursMs / HOUR_MS,
    longestRunHours: best ? (best.to - best.from) / HOUR_MS : 0,
    longestRun: best ? { from: new Date(best.from), to: new Date(best.to) } : null,
    coveredHours: covered / HOUR_MS,
  };
}

/** Integrated illuminance, lx·h (step-wise), over the counted intervals. */
export function luxHours(illuminance: readonly Sample[], opts: WindowOptions = {}) {
  let sum = 0, covered = 0;
  for (const { from, to, sample } of held(illuminance, opts.maxGapMs)) {
    const h = (to - from) / HOUR_MS;
    sum += Math.max(0, sample.value) * h;
    covered += h;
  }
  return { luxHours: sum, coveredHours: covered };
}

/**
 * Light exposure compared with a yearly budget (default 150 klx·h = 50 lx × 3000 h, the CIE 157:2004
 * limit for medium-responsivity material such as most paper; 15 klx·h for high responsivity).
 * `budgetFraction` is the window's exposure over the yearly budget: read it for a year-to-date window.
 * `annualisedLuxHours` extrapolates the window's rate to a year of covered time.
 */
export function lightExposure(illuminance: readonly Sample[], opts: WindowOptions & { budgetLuxHours?: number } = {}) {
  const budget = opts.budgetLuxHours ?? 150_000;
  const { luxHours: lxh, coveredHours } = luxHours(illuminance, opts);
  const annualised = coveredHours > 0 ? (lxh * HOURS_PER_YEAR) / coveredHours : null;
  return {
    luxHours: lxh, coveredHours, budgetLuxHours: budget,
    budgetFraction: budget > 0 ? lxh / budget : null,
    annualisedLuxHours: annualised,
    annualisedBudgetFraction: annualised !== null && budget > 0 ? annualised / budget : null,
  };
}

export interface DailyStat { date: string; min: number; max: number; swing: number; count: number }

/**
 * Minimum, maximum and swing (max − min) of the readings in each local day ('YYYY-MM-DD' in
 * `timeZone`, e.g. 'Asia/Shanghai'), in date order. The statistics come from the readings
 * themselves, with no time weighting: a swing is there whenever a reading shows it.
 */
export function dailyStats(samples: readonly Sample[], timeZone: string): DailyStat[] {
  const days = new Map<string, DailyStat>();
  for (const s of samples) {
    if (!Number.isFinite(s.value)) continue;
    const date = localDate(new Date(ms(s.at)), timeZone);
    const d = days.get(date);
    if (!d) days.set(date, { date, min: s.value, max: s.value, swing: 0, count: 1 });
    else {
      d.min = Math.min(d.min, s.value);
      d.max = Math.max(d.max, s.value);
      d.swing = d.max - d.min;
      d.count++;
    }
  }
  return [...days.values()].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
}

/** The days whose swing exceeds a profile's stability limit (e.g. profile.stability.maxDailyRhSwing). */
export function swingExceedances(days: readonly DailyStat[], maxSwing: number): DailyStat[] {
  return days.filter((d) => d.swing > maxSwing + 1e-9);
}
