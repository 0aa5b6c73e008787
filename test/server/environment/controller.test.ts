import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../server/clock.js';
import { ZoneController, type ActuatorCommand, type EnvAlarm, type ZoneControllerOptions } from '../../../server/environment/controller.js';
import { defaultProfile, type ZoneProfileName } from '../../../server/environment/profiles.js';

const S = 1000, MIN = 60_000;
// 06:00Z is 14:00 in Shanghai: a hot July afternoon.
const START = '2026-07-15T06:00:00.000Z';

/**
 * A zone on a fake clock, with the given sensors (a configured sensor that never reports goes stale,
 * so each test names the ones it feeds). Commands and alarms are collected; drain() returns and forgets them.
 */
function zone(profile: ZoneProfileName, opts: Partial<ZoneControllerOptions> = {}, sensors: ('climate' | 'light')[] = ['climate']) {
  const clock = fixedClock(START);
  const commands: ActuatorCommand[] = [];
  const alarms: EnvAlarm[] = [];
  const id = profile === 'stacks' ? 'main-stacks' : profile === 'exhibition' ? 'main-exhibition' : 'main-reading';
  const c = new ZoneController({
    zoneId: id, profile: defaultProfile(profile), clock,
    sensors: Object.fromEntries(sensors.map((r) => [r, { device: `${id}-${r}`, intervalS: 60 }])),
    actuators: profile === 'stacks' ? { ac: `${id}-ac`, ventilation: `${id}-ventilation` } : { ac: `${id}-ac`, curtain: `${id}-curtain` },
    onCommand: (x) => commands.push(x), onAlarm: (a) => alarms.push(a), ...opts,
  });
  const drain = () => commands.splice(0), drainAlarms = () => alarms.splice(0);
  /** Advances the clock by `ms` and returns the new time. */
  const after = (ms: number) => { clock.advance(ms); return clock.now(); };
  /** Reports the same climate every minute for `minutes` minutes (keeps the sensor fresh). */
  const steady = (minutes: number, values: { temperature?: number; humidity?: number }) => {
    for (let i = 0; i < minutes; i++) { after(MIN); c.onReading('climate', values); }
  };
  /** The light sensor reporting once a minute for `minutes`. */
  const lit = (minutes: number, illuminance: number) => {
    for (let i = 0; i < minutes; i++) { after(MIN); c.onReading('light', { illuminance }); }
  };
  return { c, clock, commands, drain, drainAlarms, after, steady, lit };
}

describe('air conditioning on temperature', () => {
  it('given a hot afternoon, when the temperature rises above the band, then the AC goes on and says why', () => {
    const z = zone('reading_room');
    z.c.onReading('climate', { temperature: 25.8, humidity: 50 });
    z.after(MIN); z.c.onReading('climate', { temperature: 26, humidity: 50 }); // at the limit: not above it
    expect(z.drain()).toEqual([]);
    const at = z.after(MIN);
    z.c.onReading('climate', { temperature: 27.1, humidity: 50 });
    expect(z.drain()).toEqual([{
      zoneId: 'main-reading', device: 'main-reading-ac', role: 'ac', command: { state: 'ON' }, state: 'ON',
      source: 'control', reason: 'temperature 27.1 °C above 26 °C', at,
    }]);
  });

  it('when it cools, then the AC goes off only below max − hysteresis and never before the minimum on time', () => {
    const z = zone('reading_room');
    z.c.onReading('climate', { temperature: 27 });
    expect(z.drain().map((x) => x.state)).toEqual(['ON']);
    const onAt = z.clock.now().getTime();
    // Back below 26 °C but inside the hysteresis: stays on.
    z.steady(1, { temperature: 25.5 });
    expect(z.drain()).toEqual([]);
    // Below 25.5 °C, but only 2 minutes on: held.
    z.steady(1, { temperature: 25.4 });
    expect(z.drain()).toEqual([]);
    expect(z.c.status().actuators[0]!.pending).toMatchObject({ state: 'OFF', until: new Date(onAt + 3 * MIN) });
    z.after(30 * S); z.c.tick();
    expect(z.drain()).toEqual([]);
    z.after(30 * S); z.c.tick(); // the 3 min minimum on time is up: off without another reading
    expect(z.drain()).toEqual([expect.objectContaining({
      command: { state: 'OFF' }, source: 'control', at: new Date(onAt + 3 * MIN),
      reason: 'temperature 25.4 °C below 25.5 °C (26 °C max − 0.5 °C hysteresis); held 1 min for the 3 min minimum on time',
    })]);
  });

  it('drops a held-back change when the temperature goes back inside the hysteresis', () => {
    const z = zone('reading_room');
    z.c.onReading('climate', { temperature: 27 });
    z.drain();
    z.steady(1, { temperature: 25 });   // wants off, held by the minimum on time
    z.steady(1, { temperature: 25.8 }); // back inside: keep on
    z.steady(3, { temperature: 25.8 });
    z.c.tick();
    expect(z.drain()).toEqual([]);
    expect(z.c.status().actuators[0]).toMatchObject({ state: 'ON', pending: null });
  });

  it('when it heats again quickly, then the AC waits out the minimum off time and goes on through tick alone', () => {
    const z = zone('reading_room');
    z.c.onReading('climate', { temperature: 27 });
    z.steady(4, { temperature: 25 }); // off at minute 3
    expect(z.drain().map((x) => [x.state, x.at.getTime() - Date.parse(START)])).toEqual([['ON', 0], ['OFF', 3 * MIN]]);
    const offAt = Date.parse(START) + 3 * MIN;
    z.steady(3, { temperature: 26.8 }); // minutes 5–7: hot again, held
    expect(z.drain()).toEqual([]);
    expect(z.c.nextDueAt()).toEqual(new Date(offAt + 5 * MIN));
    z.after(59 * S); z.c.tick(); // 7:59
    expect(z.drain()).toEqual([]);
    z.after(S); z.c.tick();      // 8:00 = off + 5 min, no new reading
    expect(z.drain()).toEqual([expect.objectContaining({
      command: { state: 'ON' }, at: new Date(offAt + 5 * MIN),
      reason: 'temperature 26.8 °C above 26 °C; held 3 min for the 5 min minimum off time',
    })]);
  });

  it('switches to the wider setback band when the reading room closes, at the next tick', () => {
    const closesAt = Date.parse(START) + 10 * MIN;
    const z = zone('reading_room', { isOpen: (at) => at.getTime() < closesAt });
    z.c.onReading('climate', { temperature: 27 });
    expect(z.drain().map((x) => x.state)).toEqual(['ON']);
    z.steady(9, { temperature: 27 });
    expect(z.drain()).toEqual([]);
    z.after(MIN); z.c.tick(); // closed: 27 °C is below 28 − 0.5
    expect(z.drain()).toEqual([expect.objectContaining({
      command: { state: 'OFF' }, reason: 'temperature 27 °C below 27.5 °C (28 °C max − 0.5 °C hysteresis) (closed-hours band)',
    })]);
    expect(z.c.status()).toMatchObject({ open: false, bands: { setback: true, temperature: { max: 28 } } });
  });
});

describe('what the controller believes', () => {
  it('adopts an actuator\'s reported state while it knows none, and counts the minimum on time from then', () => {
    const z = zone('reading_room');
    z.c.onReading('ac', { state: 'ON' }); // the AC was left on before a restart
    z.c.onReading('climate', { temperature: 25.8 }); // inside the hysteresis: keep it on
    expect(z.drain()).toEqual([]);
    z.steady(1, { temperature: 25 });
    expect(z.drain()).toEqual([]); // on for 1 min only
    z.steady(2, { temperature: 25 });
    expect(z.drain().map((x) => x.state)).toEqual(['OFF']);
    z.c.onReading('ac', { state: 'ON' }); // a late echo no longer changes what it believes
    z.c.tick();
    expect(z.c.status().actuators[0]).toMatchObject({ state: 'OFF', reported: 'ON' });
  });

  it('ignores a reading that arrives after a newer one, and counts freshness from when a reading was taken', () => {
    const z = zone('reading_room');
    z.c.onReading('climate', { temperature: 22 });
    z.steady(2, { temperature: 22 });
    z.drain();
    z.c.onReading('climate', { temperature: 30 }, new Date(Date.parse(START) + MIN)); // taken a minute ago
    expect(z.drain()).toEqual([]);
    expect(z.c.status().sensors[0]!.values.temperature).toBe(22);
    // A reading that is old when it arrives still counts as old: 2 min 1 s after it was taken, stale.
    const z2 = zone('stacks');
    z2.after(MIN);
    z2.c.onReading('climate', { temperature: 20, humidity: 50 }, new Date(Date.parse(START) - 61 * S));
    z2.c.tick(); // the clock says START + 1 min
    expect(z2.drainAlarms().map((a) => a.message)).toEqual(['climate sensor main-stacks-climate silent for 2 min 1 s, limit 2 min']);
  });
});

describe('ventilation on humidity', () => {
  it('given humid stacks, then ventilation goes on, and off again below max − 3 % after the minimum on time', () => {
    const z = zone('stacks');
    z.c.onReading('climate', { temperature: 20, humidity: 62.4 });
    expect(z.drain()).toEqual([
      expect.objectContaining({ role: 'ac', command: { state: 'OFF' }, reason: 'temperature 20 °C below 23.5 °C (24 °C max − 0.5 °C hysteresis)' }),
      expect.objectContaining({ device: 'main-stacks-ventilation', command: { state: 'ON' }, reason: 'humidity 62.4 % above 60 %' }),
    ]);
    z.steady(3, { humidity: 58 }); // inside the hysteresis
    expect(z.drain()).toEqual([]);
    z.steady(1, { humidity: 56.5 });
    expect(z.drain()).toEqual([expect.objectContaining({
      role: 'ventilation', command: { state: 'OFF' }, reason: 'humidity 56.5 % below 57 % (60 % max − 3 % hysteresis)',
    })]);
  });
});

describe('curtains on light', () => {
  it('given strong sun in the reading room, then the curtains close, and open again below max − 10 %', () => {
    const z = zone('reading_room', {}, ['light']);
    z.c.onReading('light', { illuminance: 12_000 });
    expect(z.drain()).toEqual([expect.objectContaining({
      device: 'main-reading-curtain', command: { state: 'CLOSE' }, state: 'CLOSE', reason: 'illuminance 12000 lx above 1000 lx',
    })]);
    z.after(MIN); z.c.onReading('light', { illuminance: 950 });
    expect(z.drain()).toEqual([]);
    // Behind closed curtains the sensor sees less than the sun: they stay closed 30 min before they look again.
    z.after(MIN); z.c.onReading('light', { illuminance: 880 });
    expect(z.drain()).toEqual([]);
    z.lit(28, 880);
    expect(z.drain()).toEqual([expect.objectContaining({
      command: { state: 'OPEN' }, reason: 'illuminance 880 lx below 900 lx (1000 lx max − 10 %); held 28 min for the 30 min minimum closed time',
    })]);
  });

  it('sends positions when asked, with the exhibition\'s 50 lx limit', () => {
    const z = zone('exhibition', { curtainCommand: 'position' }, ['light']);
    z.c.onReading('light', { illuminance: 60 });
    z.after(30 * MIN); z.c.onReading('light', { illuminance: 40 });
    expect(z.drain().map((x) => [x.command, x.reason])).toEqual([
      [{ position: 0 }, 'illuminance 60 lx above 50 lx'],
      [{ position: 100 }, 'illuminance 40 lx below 45 lx (50 lx max − 10 %)'],
    ]);
  });
});

describe('manual override', () => {
  it('holds the actuator until it expires, then control resumes at once', () => {
    const z = zone('reading_room');
    z.c.onReading('climate', { temperature: 22 });
    expect(z.drain().map((x) => x.state)).toEqual(['OFF']);
    z.steady(6, { temperature: 22 });
    const until = new Date(z.clock.now().getTime() + 30 * MIN);
    z.c.setOverride('ac', 'ON', { by: 'Li Wei', until, note: 'pre-cooling for an event' });
    expect(z.drain()).toEqual([expect.objectContaining({
      command: { state: 'ON' }, source: 'override', reason: `manual override by Li Wei until ${until.toISOString()}: pre-cooling for an event`,
    })]);
    z.steady(29, { temperature: 21 }); // control would switch it off; the override holds
    z.c.tick();
    expect(z.drain()).toEqual([]);
    expect(z.c.status().actuators[0]!.override).toMatchObject({ by: 'Li Wei', state: 'ON' });
    z.after(MIN); z.c.tick(); // expiry
    expect(z.drain()).toEqual([expect.objectContaining({
      command: { state: 'OFF' }, source: 'control', at: until,
      reason: 'override by Li Wei expired; temperature 21 °C below 25.5 °C (26 °C max − 0.5 °C hysteresis)',
    })]);
    expect(z.c.status().actuators[0]!.override).toBeNull();
  });

  it('can be cleared early, and refuses a wrong state, a past expiry or no name', () => {
    const z = zone('reading_room', {}, ['light']);
    z.c.onReading('light', { illuminance: 200 }); // OPEN
    z.after(2 * MIN);
    z.c.setOverride('curtain', 'CLOSE', { by: 'Wang Fang', until: new Date(z.clock.now().getTime() + 60 * MIN) });
    z.after(2 * MIN); z.c.onReading('light', { illuminance: 200 });
    z.c.clearOverride('curtain', 'Wang Fang');
    z.lit(28, 200); // control resumes; the curtain's 30 min minimum closed time still counts
    expect(z.drain().map((x) => [x.state, x.source, x.reason.split(';')[0]])).toEqual([
      ['OPEN', 'control', 'illuminance 200 lx below 900 lx (1000 lx max − 10 %)'],
      ['CLOSE', 'override', expect.stringMatching(/^manual override by Wang Fang until /)],
      ['OPEN', 'control', 'override cleared by Wang Fang'],
    ]);
    const later = new Date(z.clock.now().getTime() + MIN);
    expect(() => z.c.setOverride('curtain', 'ON', { by: 'x', until: later })).toThrow('curtain takes CLOSE or OPEN, not ON');
    expect(() => z.c.setOverride('ac', 'ON', { by: 'x', until: z.clock.now() })).toThrow(/not in the future/);
    expect(() => z.c.setOverride('ac', 'ON', { by: ' ', until: later })).toThrow(/name of who/);
    expect(() => z.c.setOverride('ventilation', 'ON', { by: 'x', until: later })).toThrow('zone main-reading has no ventilation actuator');
  });
});

describe('fail-safe on a stale or offline sensor', () => {
  it('given no report for 2× the interval, then safe states and an alarm; when readings return, recovery', () => {
    const z = zone('stacks');
    z.c.onReading('climate', { temperature: 25, humidity: 50 }); // AC on, ventilation off
    z.steady(4, { temperature: 25, humidity: 50 });
    expect(z.drain().map((x) => `${x.role} ${x.state}`)).toEqual(['ac ON', 'ventilation OFF']);
    const last = z.clock.now().getTime();
    z.after(2 * MIN); z.c.tick(); // exactly 2 × 60 s: not stale yet
    expect(z.drainAlarms()).toEqual([]);
    z.after(S); z.c.tick();
    expect(z.drainAlarms()).toEqual([{
      zoneId: 'main-stacks', kind: 'sensor_stale', device: 'main-stacks-climate', role: 'climate', active: true,
      message: 'climate sensor main-stacks-climate silent for 2 min 1 s, limit 2 min', at: new Date(last + 121 * S),
    }]);
    expect(z.drain().map((x) => [x.role, x.state, x.source, x.reason])).toEqual([
      ['ac', 'OFF', 'failsafe', 'climate sensor main-stacks-climate stale (no report for 2 min 1 s): safe state OFF'],
      ['ventilation', 'ON', 'failsafe', 'climate sensor main-stacks-climate stale (no report for 2 min 1 s): safe state ON'],
    ]);
    z.after(10 * MIN); z.c.tick();
    expect(z.drain()).toEqual([]); // stays safe, no repeated commands or alarms
    expect(z.drainAlarms()).toEqual([]);
    z.c.onReading('climate', { temperature: 25, humidity: 50 });
    expect(z.drainAlarms()).toEqual([expect.objectContaining({ kind: 'sensor_stale', active: false, message: 'climate sensor main-stacks-climate is reporting again' })]);
    expect(z.drain().map((x) => [x.role, x.state, x.source])).toEqual([['ac', 'ON', 'control'], ['ventilation', 'OFF', 'control']]);
  });

  it('given availability offline, then at once; back online, control resumes within the minimum times', () => {
    const z = zone('reading_room');
    z.c.onReading('climate', { temperature: 27 });
    z.steady(3, { temperature: 27 });
    z.drain();
    z.c.onAvailability('climate', false);
    expect(z.drainAlarms()).toEqual([expect.objectContaining({ kind: 'sensor_offline', active: true, message: 'climate sensor main-reading-climate is offline' })]);
    expect(z.drain()).toEqual([expect.objectContaining({ state: 'OFF', source: 'failsafe', reason: 'climate sensor main-reading-climate offline: safe state OFF' })]);
    z.after(30 * S); z.c.onAvailability('climate', true);
    expect(z.drainAlarms()).toEqual([expect.objectContaining({ kind: 'sensor_offline', active: false })]);
    expect(z.drain()).toEqual([]); // wants ON, but off for only 30 s
    z.steady(4, { temperature: 27 });
    z.after(30 * S); z.c.tick();
    expect(z.drain()).toEqual([expect.objectContaining({ state: 'ON', source: 'control', reason: 'temperature 27 °C above 26 °C; held 4 min 30 s for the 5 min minimum off time' })]);
  });

  it('raises the alarm for a sensor that never reported, and closes the curtains when the light sensor is silent', () => {
    const z = zone('reading_room', {}, ['climate', 'light']);
    z.after(121 * S); z.c.tick();
    expect(z.drainAlarms().map((a) => a.message)).toEqual([
      'climate sensor main-reading-climate silent for 2 min 1 s (no report since start), limit 2 min',
      'light sensor main-reading-light silent for 2 min 1 s (no report since start), limit 2 min',
    ]);
    expect(z.drain().map((x) => [x.role, x.command])).toEqual([['ac', { state: 'OFF' }], ['curtain', { state: 'CLOSE' }]]);
  });

  it('lets a manual override win over the fail-safe, and an actuator going offline raises an alarm', () => {
    const z = zone('reading_room');
    z.c.onReading('climate', { temperature: 27 });
    z.steady(3, { temperature: 27 });
    z.c.setOverride('ac', 'ON', { by: 'Li Wei', until: new Date(Date.parse(START) + 60 * MIN), note: 'sensor being replaced' });
    z.drain();
    z.after(10 * MIN); z.c.tick(); // climate stale, but the override holds ON: no command
    z.c.onAvailability('ac', false);
    expect(z.drain()).toEqual([]);
    expect(z.drainAlarms().map((a) => [a.kind, a.active])).toEqual([['sensor_stale', true], ['actuator_offline', true]]);
    z.clock.set(new Date(Date.parse(START) + 60 * MIN)); z.c.tick(); // the override ends: the fail-safe takes over
    expect(z.drain()).toEqual([expect.objectContaining({
      state: 'OFF', source: 'failsafe', reason: 'override by Li Wei expired; climate sensor main-reading-climate stale (no report for 57 min): safe state OFF',
    })]);
  });
});
