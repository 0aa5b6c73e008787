/**
 * Room (zone) climate model for the simulated Zigbee devices: indoor temperature, absolute humidity
 * and illuminance of one room, driven by the outdoor weather's day/night cycle, occupants, sun, and
 * the actuators the server's zone controller switches (AC, ventilation, curtains). Pure and
 * deterministic: no timers, no I/O; time moves only by step(dtSimSeconds), outdoor "cloud" noise is a
 * function of (seed, simulated time) only.
 *
 * Model: two lumped first-order states, T (°C) and vapour density ρv (g/m³), each integrated exactly
 * over sub-steps of ≤ 60 s as dx/dt = Σ kᵢ(xᵢ − x) + S (the kᵢ and targets held for the sub-step).
 * Relative humidity is always derived from ρv and T (Magnus), so cooling air without drying it raises
 * RH, as in a real room. Derived time constants for the default room (200 m², 3 m high):
 *   envelope (conduction + 0.3 ACH infiltration) on T ≈ 260 min, infiltration on ρv ≈ 400 min;
 *   ventilation (4 ACH) on T ≈ 150 min, on ρv ≈ 30 min; AC coil (6 ACH × (1 − 0.2 bypass)) on T ≈ 125 min, on ρv ≈ 25 min.
 * A crowded room (20 people) on a hot afternoon without AC warms ≈ 2.4 K/h; with AC it settles near 21 °C.
 */

/** Physical constants and defaults; each with where it comes from. */
export const PHYSICS = {
  /** Air density, kg/m³, and specific heat, J/(kg·K), near 20 °C at sea level. */
  airDensity: 1.2, airCp: 1005,
  /** Effective heat capacity of a furnished room (books, shelves, inner surfaces) over hours, as a multiple of its air's.
   *  Our estimate: books alone hold ~30× the air's heat per m² of floor, a concrete slab ~70×, but both couple slowly. */
  thermalMass: 10,
  /** Effective moisture capacity (paper, textiles buffering vapour over tens of minutes) as a multiple of the air's. Our estimate. */
  moistureBuffer: 2,
  /** Envelope conduction plus coupling to the deep structure, W/K per m² of floor (≈ U 1 W/(m²·K) over 1.2 m² of
   *  wall/roof/window per m² floor, doubled for the slab that the one-node model otherwise lacks). Our estimate. */
  envelopeUaPerM2: 2.0,
  /** Infiltration 0.3 air changes/h (tight commercial building, typically 0.1–0.5 ACH); an open door adds 3 ACH. */
  infiltrationAch: 0.3, openingAch: 3,
  /** Mechanical ventilation with outdoor air when ON, 4 ACH (typical 2–6 ACH). */
  ventilationAch: 4,
  /** AC: recirculates 6 ACH through a DX coil with apparatus dew point 10 °C and bypass factor 0.2 (typical 8–12 °C, 0.1–0.3). */
  acAch: 6, acApparatusDewPointC: 10, acBypassFactor: 0.2,
  /** Per occupant, seated very light work: 70 W sensible, 45 W latent (ASHRAE Handbook—Fundamentals ch. 18, table 1; from memory). */
  personSensibleW: 70, personLatentW: 45,
  /** Latent heat of vaporisation of water near 20 °C, J/g. */
  latentHeatJPerG: 2450,
  /** LED lighting power density, W/m², about GB 50034-2013's limit for reading rooms (≈ 9 W/m², from memory). */
  lightingWPerM2: 8,
  /** Luminous efficacy of daylight, lm/W (≈ 90–120): turns outdoor illuminance into irradiance. */
  daylightEfficacy: 110,
  /** Solar aperture: SHGC 0.4 (low-e double glazing) × 0.25 (vertical windows, averaged over orientations, vs. horizontal irradiance). */
  solarGainFactor: 0.1,
  /** Internal curtains closed still release this share of the solar gain indoors (interior shading attenuation, ≈ 0.5–0.7). */
  closedCurtainSolarShare: 0.6,
  /** A water leak evaporates ~0.3 kg/h (a few m² of wet floor at ~0.1 kg/(m²·h)). */
  leakEvaporationGPerH: 300,
} as const;

// ---------------------------------------------------------------------------------------------
// Psychrometrics

/** Saturation vapour pressure over water, hPa. Magnus formula with the coefficients of WMO-No. 8 (CIMO Guide), Annex 4.B: 6.112·exp(17.62·t/(243.12+t)), −45…60 °C. */
export const saturationVapourPressure = (tC: number): number => 6.112 * Math.exp((17.62 * tC) / (243.12 + tC));
/** Vapour density from vapour pressure, ideal gas ρv = e/(Rv·T), Rv = 461.5 J/(kg·K): g/m³ = 216.7·e[hPa]/T[K]. */
const densityFromPressure = (eHpa: number, tC: number) => (216.68 * eHpa) / (tC + 273.15);
/** Absolute humidity (vapour density), g/m³, of air at tC and relative humidity rh %. */
export const vapourDensity = (tC: number, rh: number): number => densityFromPressure(saturationVapourPressure(tC) * rh / 100, tC);
/** Relative humidity, %, of air at tC holding rhoV g/m³ (may exceed 100 for supersaturated input). */
export const relativeHumidity = (tC: number, rhoV: number): number => (100 * rhoV) / densityFromPressure(saturationVapourPressure(tC), tC);

// ---------------------------------------------------------------------------------------------
// Weather

export interface Weather {
  /** Daily mean and half-range of outdoor temperature, °C; the maximum is at 15:00 local, the minimum at 03:00. */
  meanC: number; amplitudeC: number;
  /** Daily mean and half-range of outdoor RH, %; RH runs inverse to temperature (lowest at 15:00). */
  meanRh: number; rhAmplitude: number;
  /** Clear-sky outdoor horizontal illuminance at solar noon, lx (direct summer sun ≈ 100 klx; overcast 10–25 klx). */
  sunPeakLux: number;
  /** 0 = clear; up to 1 = passing clouds can take all of the sun away (slow noise, 15 min knots). */
  cloudiness: number;
  pressureHpa: number;
}
export type WeatherPreset = 'mild' | 'hot_afternoon' | 'humid_day' | 'strong_sun' | 'dry_cool';
export const WEATHER_PRESETS: Record<WeatherPreset, Weather> = {
  mild: { meanC: 22, amplitudeC: 4, meanRh: 60, rhAmplitude: 12, sunPeakLux: 60_000, cloudiness: 0.3, pressureHpa: 1013 },
  hot_afternoon: { meanC: 31, amplitudeC: 5, meanRh: 55, rhAmplitude: 15, sunPeakLux: 95_000, cloudiness: 0.1, pressureHpa: 1008 },
  humid_day: { meanC: 27, amplitudeC: 3, meanRh: 88, rhAmplitude: 6, sunPeakLux: 25_000, cloudiness: 0.5, pressureHpa: 1004 },
  strong_sun: { meanC: 26, amplitudeC: 5, meanRh: 50, rhAmplitude: 12, sunPeakLux: 110_000, cloudiness: 0, pressureHpa: 1016 },
  dry_cool: { meanC: 12, amplitudeC: 5, meanRh: 45, rhAmplitude: 12, sunPeakLux: 50_000, cloudiness: 0.2, pressureHpa: 1020 },
};

// ---------------------------------------------------------------------------------------------
// Deterministic noise

/** 32-bit FNV-1a of a string: stable seeds from device and zone ids. */
export function hashString(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
/** Integer hash → [0, 1): avalanche mix of (seed, n). */
export function unitHash(seed: number, n: number): number {
  let h = (seed ^ Math.imul(n | 0, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
}
/** A seeded stream of numbers in [0, 1) (xorshift32, Marsaglia 2003). */
export function rng(seed: number): () => number {
  let x = (seed >>> 0) || 0x9e3779b9;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 2 ** 32; };
}

// ---------------------------------------------------------------------------------------------
// Room

export interface RoomOptions {
  id?: string;
  seed?: number;
  floorAreaM2?: number; heightM?: number;
  /** Window area, m² (default 10 % of the floor). */
  windowAreaM2?: number;
  /** Share of outdoor horizontal illuminance reaching the sensor with curtains open (default 3 %; BS 8206-2 calls ≥ 2 % well daylit). */
  daylightFactor?: number;
  /** Electric lighting at the sensor, lx, while lightsOn (default 350). */
  artificialLux?: number;
  lightsOn?: boolean;
  initial?: { temperature?: number; humidity?: number };
  weather?: WeatherPreset | Partial<Weather>;
  /** Simulated time at start (default 2026-07-15T08:00 local). */
  start?: Date;
  /** Local time offset from UTC, minutes (default +480, Asia/Shanghai as in the demo seed). */
  tzOffsetMinutes?: number;
}

export interface Outdoor { temperature: number; humidity: number; vapourDensity: number; illuminance: number; irradiance: number }

const H = 3_600_000;

export class Room {
  readonly id: string;
  private readonly seed: number;
  private readonly volume: number;
  private readonly floor: number;
  private readonly window: number;
  private readonly tz: number;
  private weatherNow: Weather;
  private t: number;
  private tempC: number;
  private rhoV: number;
  private people = 0;
  private ac = false;
  private vent = false;
  /** Curtain position 0 (closed) … 100 (open), as zigbee2mqtt covers report it. */
  private curtain = 100;
  private smoke = false;
  private readonly leaks = new Set<string>();
  private readonly openings = new Set<string>();
  daylightFactor: number;
  artificialLux: number;
  lightsOn: boolean;

  constructor(opts: RoomOptions = {}) {
    this.id = opts.id ?? 'room';
    this.seed = opts.seed ?? hashString(this.id);
    this.floor = opts.floorAreaM2 ?? 200;
    this.volume = this.floor * (opts.heightM ?? 3);
    this.window = opts.windowAreaM2 ?? this.floor * 0.1;
    this.daylightFactor = opts.daylightFactor ?? 0.03;
    this.artificialLux = opts.artificialLux ?? 350;
    this.lightsOn = opts.lightsOn ?? true;
    this.tz = opts.tzOffsetMinutes ?? 480;
    this.t = (opts.start ?? new Date('2026-07-15T00:00:00Z')).getTime();
    this.weatherNow = { ...WEATHER_PRESETS.mild };
    if (opts.weather) this.setWeather(opts.weather);
    this.tempC = opts.initial?.temperature ?? 23;
    this.rhoV = vapourDensity(this.tempC, opts.initial?.humidity ?? 50);
  }

  get now(): Date { return new Date(this.t); }
  get weather(): Weather { return { ...this.weatherNow }; }
  get temperature(): number { return this.tempC; }
  /** Indoor RH, %, from absolute humidity and temperature (Magnus). */
  get humidity(): number { return Math.min(100, relativeHumidity(this.tempC, this.rhoV)); }
  /** Indoor absolute humidity, g/m³. */
  get vapourDensity(): number { return this.rhoV; }
  get occupancy(): number { return this.people; }
  get acOn(): boolean { return this.ac; }
  get ventilationOn(): boolean { return this.vent; }
  get curtainPosition(): number { return this.curtain; }
  get smokePresent(): boolean { return this.smoke; }
  /** Illuminance at the room's light sensor: daylight × curtain open fraction + electric light, lx. */
  get illuminance(): number { return this.outdoor().illuminance * this.daylightFactor * (this.curtain / 100) + (this.lightsOn ? this.artificialLux : 0); }
  /** Station pressure with the ≈ ±1 hPa semi-diurnal atmospheric tide (maxima near 10:00 and 22:00). */
  get pressure(): number { return this.weatherNow.pressureHpa + Math.cos((4 * Math.PI * (this.localHour() - 10)) / 24); }

  setWeather(w: WeatherPreset | Partial<Weather>): void {
    this.weatherNow = typeof w === 'string' ? { ...WEATHER_PRESETS[w] } : { ...this.weatherNow, ...w };
  }
  setOccupancy(people: number): void {
    if (!(people >= 0)) throw new RangeError('occupancy must be a number ≥ 0');
    this.people = people;
  }
  setAc(on: boolean): void { this.ac = on; }
  setVentilation(on: boolean): void { this.vent = on; }
  setCurtain(position: number): void { this.curtain = Math.max(0, Math.min(100, position)); }
  setSmoke(on: boolean): void { this.smoke = on; }
  /** A leaking spot (keyed by the device that sees it) adds evaporation to the room. */
  setWaterLeak(key: string, on: boolean): void { if (on) this.leaks.add(key); else this.leaks.delete(key); }
  /** An open door or window (keyed by its contact sensor) adds air exchange with outdoors. */
  setOpening(key: string, open: boolean): void { if (open) this.openings.add(key); else this.openings.delete(key); }

  /** Local hour of day, 0 ≤ h < 24. */
  localHour(at = this.t): number { return ((((at / H + this.tz / 60) % 24) + 24) % 24); }

  outdoor(at = this.t): Outdoor {
    const w = this.weatherNow, h = this.localHour(at);
    const s = Math.sin((2 * Math.PI * (h - 9)) / 24);
    const temperature = w.meanC + w.amplitudeC * s;
    const humidity = Math.max(5, Math.min(100, w.meanRh - w.rhAmplitude * s));
    const sun = Math.max(0, Math.sin((Math.PI * (h - 6)) / 12));
    // Clouds: piecewise-linear noise between knots every 15 min, a function of time only.
    const k = at / (15 * 60_000), i = Math.floor(k), f = k - i;
    const cloud = unitHash(this.seed, i) * (1 - f) + unitHash(this.seed, i + 1) * f;
    const illuminance = w.sunPeakLux * sun * (1 - w.cloudiness * cloud);
    return { temperature, humidity, vapourDensity: vapourDensity(temperature, humidity), illuminance, irradiance: illuminance / PHYSICS.daylightEfficacy };
  }

  step(dtSimSeconds: number): void {
    if (!(dtSimSeconds >= 0)) throw new RangeError('dtSimSeconds must be ≥ 0');
    let left = dtSimSeconds;
    while (left > 1e-9) {
      const dt = Math.min(60, left);
      this.integrate(dt);
      this.t += dt * 1000;
      left -= dt;
    }
  }

  private integrate(dt: number): void {
    const P = PHYSICS;
    const out = this.outdoor(this.t + (dt * 1000) / 2);
    const airHeat = P.airDensity * P.airCp * this.volume; // J/K of the room's air
    const capacity = airHeat * P.thermalMass; // J/K effective
    const exchange = (ach: number) => ach / 3600; // 1/s, air volumes per second
    const infiltration = exchange(P.infiltrationAch + P.openingAch * this.openings.size);
    const ventilation = this.vent ? exchange(P.ventilationAch) : 0;
    const coil = this.ac ? exchange(P.acAch) * (1 - P.acBypassFactor) : 0;

    // Temperature: envelope conduction + infiltration and ventilation pull toward outdoor; the coil toward its apparatus dew point.
    const open = this.curtain / 100;
    const solar = out.irradiance * this.window * P.solarGainFactor * (open + (1 - open) * P.closedCurtainSolarShare);
    const gains = this.people * P.personSensibleW + (this.lightsOn ? P.lightingWPerM2 * this.floor : 0) + solar; // W
    const kOut = (P.envelopeUaPerM2 * this.floor) / capacity + (infiltration + ventilation) * airHeat / capacity;
    const kCoil = (coil * airHeat) / capacity;
    this.tempC = relax(this.tempC, dt, [[kOut, out.temperature], [kCoil, P.acApparatusDewPointC]], gains / capacity);

    // Moisture: air exchange toward outdoor ρv; the coil condenses down to saturation at its dew point; people and leaks add vapour.
    const buffer = this.volume * P.moistureBuffer; // m³ of effective moisture capacity
    const coilRho = densityFromPressure(saturationVapourPressure(P.acApparatusDewPointC), P.acApparatusDewPointC);
    const kCoilH = this.rhoV > coilRho ? coil / P.moistureBuffer : 0;
    const source = (this.people * P.personLatentW) / P.latentHeatJPerG + (this.leaks.size * P.leakEvaporationGPerH) / 3600; // g/s
    this.rhoV = relax(this.rhoV, dt, [[(infiltration + ventilation) / P.moistureBuffer, out.vapourDensity], [kCoilH, coilRho]], source / buffer);
    // Supersaturated air condenses (fog/dew on cold surfaces): RH never exceeds 100 %.
    this.rhoV = Math.min(this.rhoV, vapourDensity(this.tempC, 100));
  }
}

/** Exact solution over dt of dx/dt = Σ k(target − x) + s with constant k, target, s. */
function relax(x: number, dt: number, terms: [number, number][], s: number): number {
  const k = terms.reduce((a, [ki]) => a + ki, 0);
  if (k <= 0) return x + s * dt;
  const eq = (terms.reduce((a, [ki, xi]) => a + ki * xi, 0) + s) / k;
  return eq + (x - eq) * Math.exp(-k * dt);
}
