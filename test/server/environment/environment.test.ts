import { afterEach, describe, expect, it } from 'vitest';
import { topics } from '../../../contract/mqtt.js';
import { EnvironmentFeature } from '../../../server/environment/environment.js';
import { authenticate } from '../../../server/http/auth.js';
import { router } from '../../../server/http/env.js';
import { onProblem } from '../../../server/http/problem.js';
import { environmentRoutes } from '../../../server/http/routes/environment.js';
import { expectProblem, ok, openApi, type Api } from '../http/helpers.js';
import { startEnvironment } from './helpers.js';

const MIN = 60_000;
let api: Api, env: EnvironmentFeature | undefined;
afterEach(async () => { await env?.stop(); env = undefined; api?.close(); });


/** Branch `main` (open Mon–Sat 08:00–22:00, Shanghai), its reading room and stacks, on a Monday at 10:00 local. */
function site() {
  api = openApi();
  const { db } = api;
  db.prepare("INSERT INTO zone (id, branch_id, name, profile) VALUES ('main-reading', 'main', 'Reading room', 'reading_room'), ('main-stacks', 'main', 'Stacks', 'stacks')").run();
  const device = db.prepare("INSERT INTO device (id, kind, branch_id, zone_id, name, role, config, created_at) VALUES (?, ?, 'main', ?, ?, ?, ?, '2026-01-01T00:00:00Z')");
  const gw = (extra = {}) => JSON.stringify({ gateway: 'gw-main', ...extra });
  db.prepare("INSERT INTO device (id, kind, branch_id, name, created_at) VALUES ('gw-main', 'gateway', 'main', 'gateway', '2026-01-01T00:00:00Z')").run();
  for (const [id, kind, zone, role, extra] of [
    ['main-reading-climate', 'sensor', 'main-reading', 'climate', { interval_s: 60 }], ['main-reading-ac', 'actuator', 'main-reading', 'ac', {}],
    ['main-reading-smoke', 'sensor', 'main-reading', 'smoke', {}], ['main-siren', 'actuator', 'main-reading', 'siren', {}],
    ['main-entrance-motion', 'sensor', 'main-reading', 'motion', {}], ['main-entrance-door', 'sensor', 'main-reading', 'contact', {}],
    ['main-stacks-climate', 'sensor', 'main-stacks', 'climate', { interval_s: 60 }], ['main-stacks-ventilation', 'actuator', 'main-stacks', 'ventilation', {}],
  ] as const) device.run(id, kind, zone, id, role, gw(extra));
  let changed = 0;
  const started = startEnvironment(api, { onDevicesChanged: () => { changed++; } });
  env = started.env;
  return { ...started, devicesChanged: () => changed };
}

describe('control through the gateway', () => {
  it('switches the AC on for a hot reading with zigbee.set, and logs the reason and the result', async () => {
    const { env, link, read } = site();
    await read('main-reading-climate', { temperature: 27.1, humidity: 50 });
    expect(link.calls).toEqual([{ gatewayId: 'gw-main', name: 'zigbee.set', params: { deviceId: 'main-reading-ac', payload: { state: 'ON' } } }]);
    expect(env.commands({ deviceId: 'main-reading-ac' })).toMatchObject([{
      zoneId: 'main-reading', role: 'ac', gatewayId: 'gw-main', payload: { state: 'ON' }, state: 'ON', source: 'control',
      reason: 'temperature 27.1 °C above 26 °C', actor: 'controller', result: 'ok', completedAt: api.clock.now().toISOString(),
    }]);
  });

  it('drops a redelivered reading, batches by size and by time, and logs a gateway refusal', async () => {
    const { env, link, read } = site();
    link.answer = () => ({ transaction: 't', status: 'error', error: { code: 'UNKNOWN_DEVICE', message: 'no such device' }, ts: '' });
    await read('main-stacks-climate', { temperature: 20, humidity: 70 }, 'same');
    await read('main-stacks-climate', { temperature: 20, humidity: 70 }, 'same');
    expect(api.count('reading')).toBe(1);
    expect(env.commands()).toMatchObject([{ deviceId: 'main-stacks-ventilation', payload: { state: 'ON' }, result: 'error', errorCode: 'UNKNOWN_DEVICE', errorMessage: 'no such device' }]);
    // A burst: stored together at the end of this event-loop turn (the last flush was long ago).
    for (let i = 0; i < 500; i++) env.receive({ id: `b-${i}`, ts: api.clock.now().toISOString(), deviceId: 'main-stacks-climate', values: { temperature: 20 } });
    expect(api.count('reading')).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(api.count('reading')).toBe(501);
    // A full batch is stored at once.
    for (let i = 0; i < 2000; i++) env.receive({ id: `c-${i}`, ts: api.clock.now().toISOString(), deviceId: 'main-stacks-climate', values: { temperature: 20 } });
    expect(api.count('reading')).toBe(2501);
    // Right after a flush the next one waits a while (a multiple of the last one's duration, at most 200 ms).
    env.receive({ id: 'late', ts: api.clock.now().toISOString(), deviceId: 'main-stacks-climate', values: { temperature: 20 } });
    await new Promise((r) => setTimeout(r, 250));
    expect(api.count('reading')).toBe(2502); // flushed by the timer
  });

  it('fails safe on a silent sensor with an alarm, and restores an override after a restart', async () => {
    const { env, link, read } = site();
    await read('main-reading-climate', { temperature: 27.1, humidity: 50 });
    api.clock.advance(3 * MIN + 1000); // stale after 2 min; the AC stays on its 3 min minimum
    await env.tick();
    await env.settled();
    expect(link.sent('main-reading-ac')).toEqual([{ state: 'ON' }, { state: 'OFF' }]);
    expect(env.commands({ deviceId: 'main-reading-ac' })[0]).toMatchObject({ source: 'failsafe', reason: expect.stringContaining('main-reading-climate stale (no report for 3 min 1 s): safe state OFF') });
    expect(env.alarms.list({ open: true }).map((a) => [a.kind, a.source, a.severity])).toEqual(expect.arrayContaining([['sensor_stale', 'main-reading-climate', 'high']]));
    env.setOverride('main-reading', { role: 'ac', state: 'ON', until: new Date(api.clock.now().getTime() + 60 * MIN), note: 'event tonight' }, 'Li Wei', 'staff:liwei');
    const again = new EnvironmentFeature({ db: api.db, clock: api.clock, link });
    expect(again.zones().find((z) => z.id === 'main-reading')!.status!.actuators.find((a) => a.role === 'ac')!.override).toMatchObject({ state: 'ON', by: 'Li Wei', note: 'event tonight' });
    await again.stop();
  });
});

describe('safety', () => {
  it('raises a latched smoke alarm and sounds the fire siren; acknowledgement silences it, reset closes it', async () => {
    const { env, link, read } = site();
    await read('main-reading-smoke', { smoke: true, battery: 95 });
    const [alarm] = env.alarms.list({ open: true });
    expect(alarm).toMatchObject({ kind: 'smoke', severity: 'critical', latched: true, branchId: 'main', zoneId: 'main-reading', state: 'active_unack' });
    expect(link.sent('main-siren')).toEqual([{ warning: { mode: 'fire', strobe: true, duration: 600 } }]);
    await read('main-reading-smoke', { smoke: false });
    env.alarms.acknowledge(alarm!.id, 'Li Wei');
    await env.settled();
    expect(link.sent('main-siren').at(-1)).toEqual({ warning: { mode: 'stop' } });
    expect(env.commands({ deviceId: 'main-siren' })[0]).toMatchObject({ source: 'alarm', reason: `smoke alarm ${alarm!.id} acknowledged by Li Wei`, actor: 'Li Wei' });
    expect(env.alarms.reset(alarm!.id, 'Li Wei').state).toBe('normal');
  });

  it('raises an intrusion after closing time with the burglar siren; disarming leaves it latched until reset', async () => {
    const { env, link, read } = site();
    api.clock.set('2026-03-02T14:00:00Z'); // 22:00 in Shanghai: closing time
    await env.tick();
    api.clock.set('2026-03-02T14:05:00Z');
    await env.tick();
    expect(env.intrusion.status('main').state).toBe('armed');
    api.clock.advance(10 * MIN);
    await read('main-entrance-motion', { occupancy: true });
    api.clock.advance(30_000);
    await env.tick();
    await env.settled();
    const intrusion = env.alarms.list({ open: true }).find((a) => a.kind === 'intrusion')!;
    expect(intrusion).toMatchObject({ source: 'main', deviceId: 'main-entrance-motion', severity: 'critical', state: 'active_unack' });
    expect(link.sent('main-siren')).toEqual([{ warning: { mode: 'burglar', strobe: true, duration: 600 } }]);
    env.intrusion.disarm('main', 'Li Wei');
    expect(env.alarms.get(intrusion.id)).toMatchObject({ conditionActive: false, state: 'active_unack' });
  });

  it('raises sensor_offline for a safety sensor the controllers do not watch', async () => {
    const { env, link } = site();
    link.deliver(topics.envAvailability('demo', 'main-reading-smoke'), { deviceId: 'main-reading-smoke', online: false, ts: api.clock.now().toISOString() });
    expect(env.alarms.list({ open: true })).toMatchObject([{ kind: 'sensor_offline', source: 'main-reading-smoke', severity: 'high' }]);
    link.deliver(topics.envAvailability('demo', 'main-reading-smoke'), { deviceId: 'main-reading-smoke', online: true, ts: api.clock.now().toISOString() });
    expect(env.alarms.list({ open: true })).toMatchObject([{ state: 'cleared_unack' }]);
  });
});

describe('HTTP API', () => {
  it('lists zones with readings, controller status and 24 h preservation metrics; staff only', async () => {
    const { call, read } = site();
    const librarian = await api.librarian();
    for (let i = 0; i < 5; i++) { await read('main-stacks-climate', { temperature: 20, humidity: 50 }); api.clock.advance(MIN); }
    await expectProblem(await call('/environment/zones'), 401, 'AUTH_REQUIRED');
    const { zones } = await ok(await call('/environment/zones', { as: librarian }));
    const stacks = zones.find((z: { id: string }) => z.id === 'main-stacks');
    expect(stacks).toMatchObject({ profileName: 'stacks', profile: { temperature: { min: 14, max: 24 } }, status: { actuators: [{ role: 'ventilation' }] }, actuators: [{ id: 'main-stacks-ventilation' }] });
    expect(stacks.devices.find((d: { id: string }) => d.id === 'main-stacks-climate').latest.values).toEqual({ temperature: 20, humidity: 50 });
    expect(stacks.metrics24h).toMatchObject({ readings: 5, twpi: { coveredHours: 4 / 60 }, daily: { temperature: [{ min: 20, max: 20, swing: 0 }] }, mouldRisk: { hours: 0 } });
    expect(stacks.metrics24h.dewPoint).toBeCloseTo(9.26, 2);
    expect(stacks.metrics24h.preservationIndexYears).toBeCloseTo(44.6, 1);
  });

  it('changes a profile (admin only, 422 with every issue) and mapping of devices', async () => {
    const { call, read, link, devicesChanged } = site();
    const [librarian, admin] = [await api.librarian(), await api.admin()];
    const patch = (as: typeof admin, body: unknown) => call('/environment/zones/main-reading/profile', { method: 'PATCH', as, body });
    await expectProblem(await patch(librarian, { overrides: { temperature: { max: 24 } } }), 403, 'FORBIDDEN');
    const bad = await expectProblem(await patch(admin, { overrides: { temperature: { min: 25, max: 24 }, tempMax: 3 } }), 422, 'INVALID_ZONE_PROFILE');
    expect(bad.context.issues).toEqual(["unknown key 'tempMax'", 'temperature.min (25 °C) must be below temperature.max (24 °C)']);
    expect((await ok(await patch(admin, { overrides: { temperature: { max: 24 } } }))).profile.temperature).toEqual({ min: 18, max: 24 });
    await read('main-reading-climate', { temperature: 25, humidity: 50 });
    expect(link.sent('main-reading-ac')).toEqual([{ state: 'ON' }]);
    await expectProblem(await call('/environment/devices/main-reading-ac', { method: 'PATCH', as: librarian, body: { zoneId: null } }), 403, 'FORBIDDEN');
    await expectProblem(await call('/environment/devices/main-reading-ac', { method: 'PATCH', as: admin, body: { zoneId: 'nowhere' } }), 422, 'ZONE_NOT_FOUND');
    await expectProblem(await call('/environment/devices/gw-main', { method: 'PATCH', as: admin, body: { zoneId: null } }), 409, 'NOT_AN_ENVIRONMENT_DEVICE');
    await expectProblem(await call('/environment/devices/main-siren', { method: 'PATCH', as: admin, body: { role: 'kettle' } }), 422, 'VALIDATION_FAILED');
    expect(await ok(await call('/environment/devices/main-reading-ac', { method: 'PATCH', as: admin, body: { zoneId: 'main-stacks', intervalS: 30 } }))).toMatchObject({ zoneId: 'main-stacks', role: 'ac', intervalS: 30 });
    expect(devicesChanged()).toBe(1);
    expect(api.auditRows().map((r) => r.action)).toEqual(['zone.profile', 'device.environment']);
  });

  it('sets and clears an override in the staff member\'s name; reads history and the command log', async () => {
    const { call, read, env } = site();
    const librarian = await api.librarian('wang');
    const until = new Date(api.clock.now().getTime() + 60 * MIN).toISOString();
    await expectProblem(await call('/environment/zones/main-reading/override', { as: librarian, body: { role: 'ac', state: 'OPEN', until } }), 422, 'INVALID_OVERRIDE');
    await expectProblem(await call('/environment/zones/main-reading/override', { as: librarian, body: { role: 'ac', state: 'ON', until: 'tonight' } }), 422, 'VALIDATION_FAILED');
    await ok(await call('/environment/zones/main-reading/override', { as: librarian, body: { role: 'ac', state: 'ON', until, note: 'lecture' } }));
    await read('main-reading-climate', { temperature: 22, humidity: 50 }); // cool: the override holds the AC on
    await env.settled();
    const { commands } = await ok(await call('/environment/commands?deviceId=main-reading-ac', { as: librarian }));
    expect(commands).toHaveLength(1);
    expect(commands[0]).toMatchObject({ source: 'override', actor: 'wang (test)', reason: `manual override by wang (test) until ${until}: lecture`, result: 'ok' });
    expect((await ok(await call('/environment/zones/main-reading/override?role=ac', { method: 'DELETE', as: librarian }))).actuators[0].pending)
      .toMatchObject({ state: 'OFF', reason: 'override cleared by wang (test); temperature 22 °C below 25.5 °C (26 °C max − 0.5 °C hysteresis)' });
    await expectProblem(await call('/environment/zones/main-reading/override?role=ac', { method: 'DELETE', as: librarian }), 404, 'OVERRIDE_NOT_FOUND');
    const history = await ok(await call('/environment/history?deviceId=main-reading-climate&key=temperature', { as: librarian }));
    expect(history).toEqual({ deviceId: 'main-reading-climate', key: 'temperature', resolution: 'raw', from: null, stepMs: null, t: [api.clock.now().toISOString()], min: [22], max: [22], avg: [22], count: [1] });
    const minutes = await ok(await call(`/environment/history?deviceId=main-reading-climate&key=temperature&resolution=minute&from=${new Date(api.clock.now().getTime() - 2 * MIN).toISOString()}`, { as: librarian }));
    expect(minutes).toMatchObject({ resolution: 'minute', stepMs: MIN, t: null, min: [null, null, 22], avg: [null, null, 22], count: [0, 0, 1] });
    await expectProblem(await call('/environment/history?deviceId=main-reading-climate&key=smoke', { as: librarian }), 400, 'VALIDATION_FAILED');
  });

  it('acknowledges, shelves and resets alarms, and arms and disarms a branch', async () => {
    const { call, read } = site();
    const librarian = await api.librarian('zhao');
    await read('main-reading-smoke', { smoke: true });
    await read('main-reading-climate', { battery_low: true });
    const { alarms } = await ok(await call('/alarms?open=true', { as: librarian }));
    const [battery, smoke] = alarms as { id: number; kind: string }[];
    expect([battery!.kind, smoke!.kind]).toEqual(['battery_low', 'smoke']);
    await expectProblem(await call(`/alarms/${smoke!.id}/shelve`, { as: librarian, body: { until: new Date(api.clock.now().getTime() + MIN).toISOString() } }), 409, 'ALARM_NOT_SHELVABLE');
    expect(await ok(await call(`/alarms/${battery!.id}/shelve`, { as: librarian, body: { until: new Date(api.clock.now().getTime() + MIN).toISOString() } }))).toMatchObject({ shelved: true, shelvedBy: 'zhao (test)' });
    expect(await ok(await call(`/alarms/${battery!.id}/unshelve`, { as: librarian, body: {} }))).toMatchObject({ shelved: false });
    await expectProblem(await call(`/alarms/${smoke!.id}/reset`, { as: librarian, body: {} }), 409, 'ALARM_STILL_ACTIVE');
    expect(await ok(await call(`/alarms/${smoke!.id}/acknowledge`, { as: librarian, body: { comment: 'fire brigade called' } }))).toMatchObject({ state: 'active_ack', ackComment: 'fire brigade called' });
    await read('main-reading-smoke', { smoke: false });
    expect(await ok(await call(`/alarms/${smoke!.id}/reset`, { method: 'POST', as: librarian }))).toMatchObject({ state: 'normal', resetBy: 'zhao (test)' });
    expect((await ok(await call(`/alarms/${smoke!.id}`, { as: librarian }))).events.map((e: { action: string }) => e.action)).toEqual(['raise', 'acknowledge', 'clear', 'reset']);
    await expectProblem(await call('/alarms/999/acknowledge', { as: librarian, body: {} }), 404, 'ALARM_NOT_FOUND');

    await read('main-entrance-door', { contact: false });
    const blocked = await expectProblem(await call('/environment/branches/main/arm', { as: librarian, body: {} }), 409, 'DOOR_OPEN');
    expect(blocked.context).toEqual({ openDoors: ['main-entrance-door'] });
    expect(await ok(await call('/environment/branches/main/arm', { as: librarian, body: { bypass: ['main-entrance-door'] } }))).toMatchObject({ state: 'arming', changedBy: 'zhao (test)' });
    expect(await ok(await call('/environment/branches/main/disarm', { method: 'POST', as: librarian }))).toMatchObject({ state: 'disarmed' });
    await expectProblem(await call('/environment/branches/nowhere/disarm', { method: 'POST', as: librarian }), 404, 'BRANCH_NOT_FOUND');
  });

  it('answers 503 when the feature is not running', async () => {
    api = openApi();
    const app = router();
    app.onError(onProblem);
    app.use('/api/v1/*', authenticate(api));
    app.route('/api/v1', environmentRoutes(api));
    const s = await api.librarian();
    await expectProblem(await app.request('/api/v1/alarms', { headers: { Cookie: s.cookie } }), 503, 'ENVIRONMENT_UNAVAILABLE');
  });
});
