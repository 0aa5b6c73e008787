import { describe, expect, it } from 'vitest';
import {
  dailyStats, dewPoint, lightExposure, luxHours, mouldRisk, preservationIndex, swingExceedances, timeWeightedPreservationIndex,
} from '../../../server/environment/metrics.js';

const H = 3_600_000;
const T0 = Date.parse('2026-07-01T00:00:00Z');
const at = (hours: number) => new Date(T0 + hours * H);
/** Readings of one value at the given hours. */
const series = (points: [hours: number, value: number][]) => points.map(([h, value]) => ({ at: at(h), value }));

describe('dew point (Magnus, Alduchov–Eskridge constants)', () => {
  it('is about 9.3 °C at 20 °C / 50 % RH', () => {
    // γ = ln 0.5 + 17.625·20/263.04 = −0.693147 + 1.340100 = 0.646953; Td = 243.04·γ/(17.625 − γ) = 9.261
    expect(dewPoint(20, 50)).toBeCloseTo(9.261, 3);
  });

  it('equals the air temperature at 100 % RH and falls with RH', () => {
    expect(dewPoint(25, 100)).toBeCloseTo(25, 10);
    // γ = ln 0.6 + 17.625·25/268.04 = −0.510826 + 1.643878 = 1.133052; Td = 243.04·γ/16.491948 = 16.698
    expect(dewPoint(25, 60)).toBeCloseTo(16.698, 2);
  });

  it('refuses RH of 0 or outside 0..100', () => {
    expect(() => dewPoint(20, 0)).toThrow(/no dew point/);
    expect(() => dewPoint(20, 101)).toThrow(/outside 0..100/);
  });
});

describe('Preservation Index (IPI, Reilly et al. 1995)', () => {
  it('gives 43–45 years at 20 °C / 50 % RH, as IPI\'s tables do', () => {
    // exp((95220 − 6745)/(8.314·293.15) + 1.42 − 28.023)/365 = exp(9.6983)/365 = 16287/365 = 44.6
    const pi = preservationIndex(20, 50);
    expect(pi).toBeGreaterThanOrEqual(43);
    expect(pi).toBeLessThanOrEqual(45);
    expect(pi).toBeCloseTo(44.6, 1);
  });

  it('gives about 50 years at the 20 °C / 45 % RH benchmark', () => {
    expect(preservationIndex(20, 45)).toBeCloseTo(51.1, 1);
  });

  it('roughly halves for 5 °C warmer and almost doubles for 5 °C cooler', () => {
    expect(preservationIndex(25, 50)).toBeCloseTo(24.3, 1);
    expect(preservationIndex(15, 50)).toBeCloseTo(83.8, 1);
    expect(preservationIndex(20, 30)).toBeGreaterThan(preservationIndex(20, 50));
  });

  it('refuses RH outside 0..100', () => {
    expect(() => preservationIndex(20, 120)).toThrow(RangeError);
  });
});

describe('Time-Weighted Preservation Index', () => {
  it('equals PI in a constant climate', () => {
    const r = timeWeightedPreservationIndex([0, 1, 2, 3].map((h) => ({ at: at(h), temperature: 20, humidity: 50 })));
    expect(r.years).toBeCloseTo(preservationIndex(20, 50), 10);
    expect(r.coveredHours).toBe(3);
  });

  it('is the time-weighted harmonic mean: half the time at 25 °C pulls it well below the arithmetic mean', () => {
    // 2 h at 20 °C/50 % (PI a), then 2 h at 25 °C/50 % (PI b); the last reading only closes the window.
    const samples = [
      { at: at(0), temperature: 20, humidity: 50 }, { at: at(1), temperature: 20, humidity: 50 },
      { at: at(2), temperature: 25, humidity: 50 }, { at: at(3), temperature: 25, humidity: 50 }, { at: at(4), temperature: 25, humidity: 50 },
    ];
    const a = preservationIndex(20, 50), b = preservationIndex(25, 50);
    const twpi = timeWeightedPreservationIndex(samples).years!;
    expect(twpi).toBeCloseTo(2 / (1 / a + 1 / b), 10); // 2/(1/44.62 + 1/24.28) = 31.45
    expect(twpi).toBeCloseTo(31.45, 1);
    expect(twpi).toBeLessThan((a + b) / 2);
  });

  it('leaves out gaps longer than maxGap, and gives null with nothing counted', () => {
    const samples = [
      { at: at(0), temperature: 20, humidity: 50 }, { at: at(1), temperature: 30, humidity: 80 }, // 30 °C/80 % held over a 5 h gap
      { at: at(6), temperature: 20, humidity: 50 }, { at: at(7), temperature: 20, humidity: 50 },
    ];
    const r = timeWeightedPreservationIndex(samples, { maxGapMs: 2 * H });
    expect(r.coveredHours).toBe(2);
    expect(r.years).toBeCloseTo(preservationIndex(20, 50), 10);
    expect(timeWeightedPreservationIndex([{ at: at(0), temperature: 20, humidity: 50 }]).years).toBeNull();
  });
});

describe('lux-hours', () => {
  it('counts a constant 100 lx for 10 h as 1000 lx·h', () => {
    const samples = series(Array.from({ length: 11 }, (_, h) => [h, 100] as [number, number]));
    expect(luxHours(samples)).toEqual({ luxHours: 1000, coveredHours: 10 });
  });

  it('holds each reading until the next one (step-wise), in any input order, over irregular spacing', () => {
    // 50 lx for 0.5 h, 200 lx for 2 h, 0 lx for 1.5 h → 25 + 400 + 0 = 425 lx·h
    const samples = series([[2.5, 0], [0, 50], [4, 0], [0.5, 200]]);
    expect(luxHours(samples, { maxGapMs: 3 * H }).luxHours).toBeCloseTo(425, 10);
    // With the default 1 h max gap the 2 h stretch at 200 lx is not counted.
    expect(luxHours(samples).luxHours).toBeCloseTo(25, 10);
  });

  it('does not count a gap longer than maxGap', () => {
    const samples = series([[0, 100], [1, 100], [5, 100], [6, 100]]); // the 1 h → 5 h gap is out
    expect(luxHours(samples, { maxGapMs: 2 * H })).toEqual({ luxHours: 200, coveredHours: 2 });
  });

  it('compares exposure with the yearly budget (50 lx × 3000 h = 150 klx·h)', () => {
    // 50 lx for 10 h a day, readings at opening and closing, for 30 days: 15 000 lx·h, 10 % of the budget.
    const samples = Array.from({ length: 30 }, (_, d) => series([[d * 24 + 9, 50], [d * 24 + 19, 0]])).flat();
    const r = lightExposure(samples, { maxGapMs: 24 * H });
    expect(r.luxHours).toBeCloseTo(15_000, 6);
    expect(r.budgetLuxHours).toBe(150_000);
    expect(r.budgetFraction).toBeCloseTo(0.1, 10);
    // Covered: 09:00 on day 1 to 19:00 on day 30 = 29 × 24 + 10 = 706 h. The rate over covered time,
    // extrapolated to a year: 15 000 × 8765.82 / 706 = 186.2 klx·h, over budget.
    expect(r.coveredHours).toBeCloseTo(706, 10);
    expect(r.annualisedLuxHours! / 1000).toBeCloseTo(186.24, 2);
    expect(r.annualisedBudgetFraction!).toBeGreaterThan(1);
  });
});

describe('mould risk (time at RH ≥ 65 %)', () => {
  it('counts hours at or above the threshold and the longest continuous run', () => {
    // 60 % for 2 h, 70 % for 3 h, 62 % for 1 h, 65 % (counts: ≥) for 1 h, then the closing reading.
    const rh = series([[0, 60], [2, 70], [5, 62], [6, 65], [7, 50]]);
    const r = mouldRisk(rh, { maxGapMs: 3 * H });
    expect(r.hours).toBe(4);
    expect(r.longestRunHours).toBe(3);
    expect(r.longestRun).toEqual({ from: at(2), to: at(5) });
    expect(r.coveredHours).toBe(7);
  });

  it('joins readings at high RH into one run, but a gap in the data breaks it', () => {
    const rh = series([[0, 80], [1, 81], [2, 79], [10, 80], [11, 70], [12, 60]]);
    const r = mouldRisk(rh, { maxGapMs: 2 * H });
    expect(r.hours).toBe(4);           // 0–2 h and 10–12 h; the 2 h → 10 h gap is unknown
    expect(r.longestRunHours).toBe(2);
  });

  it('takes another threshold', () => {
    expect(mouldRisk(series([[0, 70], [1, 72], [2, 50]]), { thresholdRh: 75 }).hours).toBe(0);
  });
});

describe('daily min, max and swing in the library\'s time zone', () => {
  it('splits at local midnight, not at UTC midnight', () => {
    // Asia/Shanghai is UTC+8: 15:00Z is 23:00 on 2 March, 16:00Z is 00:00 on 3 March.
    const samples = [
      { at: new Date('2026-03-02T02:00:00Z'), value: 21 },
      { at: new Date('2026-03-02T15:00:00Z'), value: 20 },
      { at: new Date('2026-03-02T15:59:59Z'), value: 22 },
      { at: new Date('2026-03-02T16:00:00Z'), value: 25 },
      { at: new Date('2026-03-02T17:00:00Z'), value: 24 },
    ];
    expect(dailyStats(samples, 'Asia/Shanghai')).toEqual([
      { date: '2026-03-02', min: 20, max: 22, swing: 2, count: 3 },
      { date: '2026-03-03', min: 24, max: 25, swing: 1, count: 2 },
    ]);
    // The same readings in UTC are all one day with a 5 °C swing.
    expect(dailyStats(samples, 'UTC')).toEqual([{ date: '2026-03-02', min: 20, max: 25, swing: 5, count: 5 }]);
  });

  it('flags the days whose swing exceeds a stability limit', () => {
    const days = dailyStats(series([[0, 50], [5, 58], [24, 50], [30, 61]]), 'UTC');
    expect(swingExceedances(days, 11)).toEqual([]);
    // 2 July swings 11 points; 1 July's 8 points is at the limit, not over it.
    expect(swingExceedances(days, 8).map((d) => d.date)).toEqual(['2026-07-02']);
  });
});
