import { describe, expect, it } from 'vitest';
import { bandsAt, defaultProfile, ProfileError, resolveProfile, ZONE_PROFILE_NAMES } from '../../../server/environment/profiles.js';

/** The issues of the ProfileError that `fn` throws (fails the test when it does not throw one). */
function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ProfileError);
    return (e as ProfileError).issues;
  }
  throw new Error('expected a ProfileError');
}

describe('zone profile defaults', () => {
  it('has the four profiles the demo seed uses, each with a sane band', () => {
    expect([...ZONE_PROFILE_NAMES].sort()).toEqual(['exhibition', 'reading_room', 'special_collections', 'stacks']);
    for (const name of ZONE_PROFILE_NAMES) {
      const p = defaultProfile(name);
      expect(p.temperature.min).toBeLessThan(p.temperature.max);
      expect(p.humidity.min).toBeLessThan(p.humidity.max);
      // No default lets RH reach the 65 % mould-risk threshold.
      expect(p.humidity.max).toBeLessThan(65);
    }
  });

  it('uses the JGJ 25-2010 store bands and the CIE 157 light limit', () => {
    expect(defaultProfile('stacks')).toMatchObject({ temperature: { min: 14, max: 24 }, humidity: { min: 45, max: 60 }, maxLux: null });
    expect(defaultProfile('special_collections')).toMatchObject({ temperature: { min: 14, max: 20 }, humidity: { min: 45, max: 55 } });
    expect(defaultProfile('exhibition')).toMatchObject({ maxLux: 50, annualLuxHoursBudget: 150_000 });
    expect(defaultProfile('reading_room').temperature).toEqual({ min: 18, max: 26 });
  });

  it('gives the reading room a wider setback band while closed, and the stacks none', () => {
    const reading = defaultProfile('reading_room');
    expect(bandsAt(reading, true)).toMatchObject({ temperature: { min: 18, max: 26 }, setback: false });
    expect(bandsAt(reading, false)).toMatchObject({ temperature: { min: 14, max: 28 }, humidity: { max: 60 }, setback: true });
    expect(bandsAt(defaultProfile('stacks'), false)).toMatchObject({ temperature: { min: 14, max: 24 }, setback: false });
  });

  it('hands out copies: changing one does not change the defaults', () => {
    defaultProfile('stacks').temperature.max = 99;
    expect(defaultProfile('stacks').temperature.max).toBe(24);
  });
});

describe('merging a zone\'s overrides', () => {
  it('given a partial override, when merged, then only the named fields change', () => {
    const p = resolveProfile('stacks', { temperature: { max: 22 }, stability: { maxDailyRhSwing: 6 } });
    expect(p.temperature).toEqual({ min: 14, max: 22 });
    expect(p.humidity).toEqual({ min: 45, max: 60 });
    expect(p.stability).toEqual({ maxDailyTempSwing: 4, maxDailyRhSwing: 6 });
  });

  it('given no overrides, then the defaults', () => {
    expect(resolveProfile('exhibition')).toEqual(defaultProfile('exhibition'));
    expect(resolveProfile('exhibition', null)).toEqual(defaultProfile('exhibition'));
  });

  it('lets a zone switch light control off, or give itself a setback band', () => {
    expect(resolveProfile('reading_room', { maxLux: null }).maxLux).toBeNull();
    const p = resolveProfile('stacks', { closed: { temperature: { max: 26 } } });
    expect(p.closed).toEqual({ temperature: { min: 14, max: 26 }, humidity: { min: 45, max: 60 } });
    expect(resolveProfile('reading_room', { closed: null }).closed).toBeNull();
  });

  it('refuses min ≥ max, naming the field and both values', () => {
    expect(issuesOf(() => resolveProfile('stacks', { temperature: { min: 25 } })))
      .toEqual(['temperature.min (25 °C) must be below temperature.max (24 °C)']);
    expect(issuesOf(() => resolveProfile('stacks', { humidity: { min: 50, max: 50 } })))
      .toEqual(['humidity.min (50 %) must be below humidity.max (50 %)']);
  });

  it('refuses RH outside 0..100 and absurd temperatures', () => {
    expect(issuesOf(() => resolveProfile('stacks', { humidity: { max: 120 } }))).toEqual(['humidity.max 120 % is outside 0..100 %']);
    expect(issuesOf(() => resolveProfile('stacks', { humidity: { min: -5 } }))).toEqual(['humidity.min -5 % is outside 0..100 %']);
    expect(issuesOf(() => resolveProfile('stacks', { temperature: { max: 300 } }))).toEqual(['temperature.max 300 °C is outside -40..60 °C']);
  });

  it('refuses negative lux, budgets and swings', () => {
    expect(issuesOf(() => resolveProfile('exhibition', { maxLux: -1 }))).toEqual(['maxLux must not be negative (got -1 lx)']);
    expect(issuesOf(() => resolveProfile('exhibition', { annualLuxHoursBudget: -10 })))
      .toEqual(['annualLuxHoursBudget must not be negative (got -10 lx·h)']);
    expect(issuesOf(() => resolveProfile('stacks', { stability: { maxDailyTempSwing: -2 } })))
      .toEqual(['stability.maxDailyTempSwing must not be negative (got -2 °C)']);
  });

  it('refuses non-numbers, unknown keys and unknown profiles', () => {
    expect(issuesOf(() => resolveProfile('stacks', { temperature: { max: '22' } })))
      .toEqual(['temperature.max must be a finite number (got "22")']);
    expect(issuesOf(() => resolveProfile('stacks', { tempMax: 22, humidity: { top: 50 } })))
      .toEqual(["unknown key 'tempMax'", "unknown key 'humidity.top'"]);
    expect(issuesOf(() => resolveProfile('archive'))).toEqual(["unknown profile 'archive' (known: stacks, reading_room, special_collections, exhibition)"]);
    expect(issuesOf(() => resolveProfile('stacks', [1]))).toEqual(['overrides must be an object']);
  });

  it('lists every problem at once, as a 422 domain error', () => {
    let err: unknown;
    try { resolveProfile('exhibition', { temperature: { min: 30 }, maxLux: -5 }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ProfileError);
    const e = err as ProfileError;
    expect(e.issues).toHaveLength(2);
    expect(e.code).toBe('INVALID_ZONE_PROFILE');
    expect(e.status).toBe(422);
    expect(e.message).toContain('temperature.min (30 °C) must be below temperature.max (24 °C)');
  });
});
