import { describe, expect, it } from 'vitest';
import { PHYSICS, Room, WEATHER_PRESETS, relativeHumidity, saturationVapourPressure, vapourDensity, type RoomOptions, type Weather } from '../../../firmware-sim/zigbee/room.js';

// 2026-07-15 at a given local hour (UTC+8, the room's default offset).
const at = (hour: number) => new Date(Date.UTC(2026, 6, 15, hour - 8));
/** Constant outdoor conditions, no sun, no lights, nobody in: only the envelope and the actuators act. */
const still = (meanC: number, meanRh: number): Partial<Weather> => ({ meanC, amplitudeC: 0, meanRh, rhAmplitude: 0, sunPeakLux: 0, cloudiness: 0 });

describe('psychrometrics (Magnus, WMO-No. 8 coefficients)', () => {
  it('matches tabulated saturation values and round-trips RH through absolute humidity', () => {
    expect(saturationVapourPressure(0)).toBeCloseTo(6.112, 3);
    expect(saturationVapourPressure(20)).toBeCloseTo(23.37, 1); // tables: 23.39 hPa
    expect(saturationVapourPressure(30)).toBeCloseTo(42.4, 0); // tables: 42.47 hPa
    expect(Math.abs(vapourDensity(20, 100) - 17.3)).toBeLessThan(0.1); // tables: 17.3 g/m³
    expect(vapourDensity(30, 100)).toBeCloseTo(30.3, 0);
    for (const [t, rh] of [[-5, 80], [14, 45], [24, 60], [35, 20]] as const) expect(relativeHumidity(t, vapourDensity(t, rh))).toBeCloseTo(rh, 9);
    // Same absolute humidity, warmer air: lower RH.
    expect(relativeHumidity(26, vapourDensity(20, 60))).toBeLessThan(45);
  });
});

describe('outdoor weather cycle', () => {
  it('peaks at 15:00, bottoms at 03:00, RH runs inverse, and there is no daylight at night', () => {
    const r = new Room({ weather: { ...WEATHER_PRESETS.mild, cloudiness: 0 }, start: at(3) });
    const w = WEATHER_PRESETS.mild;
    expect(r.outdoor(at(15).getTime()).temperature).toBeCloseTo(w.meanC + w.amplitudeC, 6);
    expect(r.outdoor(at(3).getTime()).temperature).toBeCloseTo(w.meanC - w.amplitudeC, 6);
    expect(r.outdoor(at(15).getTime()).humidity).toBeCloseTo(w.meanRh - w.rhAmplitude, 6);
    expect(r.outdoor(at(3).getTime()).humidity).toBeCloseTo(w.meanRh + w.rhAmplitude, 6);
    expect(r.outdoor(at(3).getTime()).illuminance).toBe(0);
    expect(r.outdoor(at(12).getTime()).illuminance).toBeCloseTo(w.sunPeakLux, 0);
    expect(r.localHour()).toBeCloseTo(3, 9);
  });
});

describe('room model', () => {
  it('is deterministic from its seed, and the seed changes the clouds', () => {
    const run = (seed: number) => {
      const r = new Room({ seed, weather: 'mild', start: at(9) });
      r.setOccupancy(12);
      const lux: number[] = [];
      for (let i = 0; i < 12; i++) { r.step(600); lux.push(r.illuminance); }
      return { t: r.temperature, rh: r.humidity, lux };
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7).lux).not.toEqual(run(8).lux);
  });

  it('drifts toward the outdoor temperature with the documented envelope time constant (≈ 260 min)', () => {
    const r = new Room({ weather: still(30, 50), lightsOn: false, initial: { temperature: 18, humidity: 50 }, start: at(0) });
    r.step(262 * 60);
    expect(r.temperature).toBeCloseTo(30 - 12 * Math.exp(-1), 1); // one time constant: 63 % of the gap closed
    r.step(5 * 262 * 60);
    expect(r.temperature).toBeGreaterThan(29.9);
    expect(r.now.getTime()).toBe(at(0).getTime() + 6 * 262 * 60_000);
  });

  it('air conditioning cools and dries the room; without it the crowded room warms', () => {
    const make = () => {
      const r = new Room({ weather: 'hot_afternoon', initial: { temperature: 27, humidity: 58 }, start: at(13) });
      r.setOccupancy(20);
      return r;
    };
    const off = make(), on = make();
    on.setAc(true);
    const rho0 = on.vapourDensity;
    for (const r of [off, on]) r.step(30 * 60);
    expect(off.temperature).toBeGreaterThan(27.5);
    expect(on.temperature).toBeLessThan(25.5);
    expect(on.humidity).toBeLessThan(54);
    expect(on.vapourDensity).toBeLessThan(rho0 - 2); // the coil condenses water: absolute humidity falls
    on.setAc(false);
    on.step(3 * 3600);
    expect(on.temperature).toBeGreaterThan(26); // switched off, the heat comes back
  });

  it('ventilation pulls absolute humidity toward the outdoor air: wetter on a humid day, drier on a dry one', () => {
    const pair = (weather: RoomOptions['weather']) => [true, false].map((vent) => {
      const r = new Room({ weather, initial: { temperature: 22, humidity: 50 }, lightsOn: false, start: at(10) });
      r.setVentilation(vent);
      r.step(3600);
      return r;
    }) as [Room, Room];
    const [humidVent, humidClosed] = pair('humid_day');
    expect(humidVent.vapourDensity).toBeGreaterThan(humidClosed.vapourDensity + 3);
    expect(humidVent.humidity).toBeGreaterThan(65); // ventilating with air at ~27 °C / 85 % makes the room wetter
    expect(humidVent.humidity).toBeGreaterThan(humidClosed.humidity + 10);
    const [dryVent, dryClosed] = pair('dry_cool');
    expect(dryVent.humidity).toBeLessThan(dryClosed.humidity - 10);
    expect(dryVent.temperature).toBeLessThan(dryClosed.temperature);
  });

  it('curtains cut the daylight: illuminance = daylight × open fraction + electric light', () => {
    const r = new Room({ weather: 'strong_sun', start: at(12), daylightFactor: 0.03, artificialLux: 350 });
    const daylight = r.outdoor().illuminance * 0.03;
    expect(daylight).toBeGreaterThan(3000);
    expect(r.illuminance).toBeCloseTo(daylight + 350, 6);
    r.setCurtain(25);
    expect(r.illuminance).toBeCloseTo(daylight * 0.25 + 350, 6);
    r.setCurtain(0);
    expect(r.illuminance).toBe(350);
    r.lightsOn = false;
    expect(r.illuminance).toBe(0);
    r.setCurtain(140);
    expect(r.curtainPosition).toBe(100);
  });

  it('people, a leak and an open door change the room; RH never exceeds 100 %', () => {
    const base = () => new Room({ weather: still(20, 60), lightsOn: false, initial: { temperature: 20, humidity: 60 }, start: at(0) });
    const empty = base(), full = base(), leak = base(), door = base();
    full.setOccupancy(40);
    leak.setWaterLeak('w1', true);
    door.setOpening('d1', true);
    door.setWeather(still(32, 60));
    empty.setWeather(still(32, 60));
    for (const r of [empty, full, leak, door]) r.step(3600);
    // 40 × 70 W into C = thermalMass × ρ·cp·V, lost through UA = envelope + infiltration: ΔT(1 h) = Q/UA · (1 − e^(−t·UA/C)).
    const air = PHYSICS.airDensity * PHYSICS.airCp * 600, C = air * PHYSICS.thermalMass, UA = PHYSICS.envelopeUaPerM2 * 200 + (PHYSICS.infiltrationAch / 3600) * air;
    expect(full.temperature - 20).toBeCloseTo(((40 * PHYSICS.personSensibleW) / UA) * (1 - Math.exp((-3600 * UA) / C)), 2);
    expect(full.vapourDensity).toBeGreaterThan(empty.vapourDensity);
    expect(leak.vapourDensity - vapourDensity(20, 60)).toBeCloseTo(0.23, 2); // 300 g/h into 600 m³ × 2 buffer, less the 400 min infiltration loss
    expect(door.temperature).toBeGreaterThan(empty.temperature + 0.5); // 3 extra air changes per hour from the 32 °C outside
    const sauna = new Room({ weather: still(30, 100), initial: { temperature: 10, humidity: 100 }, start: at(0) });
    sauna.setOccupancy(200);
    for (let i = 0; i < 24; i++) { sauna.step(600); expect(sauna.humidity).toBeLessThanOrEqual(100); }
    expect(() => sauna.step(-1)).toThrow(RangeError);
    expect(() => sauna.setOccupancy(-2)).toThrow(RangeError);
  });
});
