import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CameraIndex, cameraUrlProblem, camerasOfZone, writeSimulatedCameras } from '../../../server/environment/cameras.js';
import { EnvironmentFeature, type EnvironmentBusEvent } from '../../../server/environment/environment.js';
import { seedDemo } from '../../../server/seed/demo.js';
import { openDb } from '../../../server/store/db.js';
import { expectProblem, ok, openApi, type Api } from '../http/helpers.js';
import { startEnvironment } from './helpers.js';

const MIN = 60_000;
let api: Api, env: EnvironmentFeature | undefined;
afterEach(async () => { await env?.stop(); env = undefined; api?.close(); });

const ids = (cams: { id: string }[]) => cams.map((c) => c.id);
const SNAP = 'http://127.0.0.1:8090/cameras/main-reading-camera/snapshot.jpg';
const MJPG = 'http://127.0.0.1:8090/cameras/main-reading-camera/stream.mjpg';

/** Branch `main` with its reading room (smoke detector, entrance sensors, siren) and stacks; branch `east` with a hall. */
function site() {
  api = openApi();
  const { db } = api;
  db.prepare("INSERT INTO zone (id, branch_id, name, profile) VALUES ('main-reading', 'main', 'Reading room', 'reading_room'), ('main-stacks', 'main', 'Stacks', 'stacks'), ('east-hall', 'east', 'Hall', 'reading_room')").run();
  const device = db.prepare("INSERT INTO device (id, kind, branch_id, zone_id, name, role, config, created_at) VALUES (?, ?, 'main', ?, ?, ?, ?, '2026-01-01T00:00:00Z')");
  for (const [id, kind, zone, role] of [
    ['main-reading-smoke', 'sensor', 'main-reading', 'smoke'], ['main-stacks-smoke', 'sensor', 'main-stacks', 'smoke'], ['main-siren', 'actuator', 'main-reading', 'siren'],
    ['main-entrance-motion', 'sensor', 'main-reading', 'motion'], ['main-entrance-door', 'sensor', 'main-reading', 'contact'],
  ] as const) device.run(id, kind, zone, id, role, JSON.stringify({ gateway: 'gw-main' }));
  const events: EnvironmentBusEvent[] = [];
  const started = startEnvironment(api, { bus: { emit: (_t, e) => { events.push(e); } } });
  env = started.env;
  return { ...started, events };
}

describe('camera URLs', () => {
  it('takes absolute http(s) URLs and normalises them as browsers will', () => {
    expect(cameraUrlProblem('http://127.0.0.1:8090/cameras/a/snapshot.jpg')).toBeNull();
    expect(cameraUrlProblem('https://cams.example.org/live/hall.m3u8?session=7')).toBeNull();
    expect(cameraUrlProblem('http://[::1]:8080/video.mjpg')).toBeNull();
  });

  it.each([
    ['javascript:alert(1)', 'scheme_not_allowed'], ['JavaScript:alert(document.cookie)', 'scheme_not_allowed'], ['data:image/jpeg;base64,AAAA', 'scheme_not_allowed'],
    ['file:///etc/passwd', 'scheme_not_allowed'], ['ftp://cams.example.org/a.jpg', 'scheme_not_allowed'], ['rtsp://10.0.0.5/stream', 'scheme_not_allowed'],
    ['vbscript:msgbox', 'scheme_not_allowed'], ['/cameras/a/snapshot.jpg', 'malformed'], ['cams.example.org/a.jpg', 'malformed'], ['http://', 'malformed'],
    ['http://admin:secret@10.0.0.5/snap.jpg', 'credentials_in_url'], ['http://admin@10.0.0.5/snap.jpg', 'credentials_in_url'],
    [' http://cams.example.org/a.jpg', 'whitespace'], ['java\nscript:alert(1)', 'whitespace'], ['http://cams.example.org/a b.jpg', 'whitespace'],
    [`http://cams.example.org/${'a'.repeat(2100)}`, 'too_long'],
  ].map(([url, reason]) => [url!.length > 60 ? `${url!.slice(0, 40)}… (${url!.length} chars)` : JSON.stringify(url), url!, reason!] as const))('refuses %s', (_label, url, reason) => {
    expect(cameraUrlProblem(url)?.reason).toBe(reason);
  });
});

describe('cameras through the API', () => {
  it('lets admins add, change and remove cameras, validated and audited; zones list their cameras', async () => {
    const { call, events } = site();
    const [librarian, admin] = [await api.librarian(), await api.admin('root')];
    const body = { id: 'main-reading-camera', name: 'Reading room camera', zoneId: 'main-reading', snapshotUrl: SNAP, mjpegUrl: MJPG };
    await expectProblem(await call('/environment/cameras', { as: librarian, body }), 403, 'FORBIDDEN');
    const res = await call('/environment/cameras', { as: admin, body: { ...body, snapshotUrl: 'HTTP://127.0.0.1:8090/cameras/x/../main-reading-camera/snapshot.jpg' } });
    expect(res.headers.get('Location')).toBe('/api/v1/environment/cameras/main-reading-camera');
    expect(await ok(res, 201)).toEqual({
      id: 'main-reading-camera', name: 'Reading room camera', snapshotUrl: SNAP, mjpegUrl: MJPG, hlsUrl: null, // normalised: scheme case, dot segments
      branchId: 'main', zoneId: 'main-reading', entrance: false, createdAt: api.clock.now().toISOString(),
    });
    expect(events).toEqual([
      { kind: 'camera', cameraId: 'main-reading-camera', change: 'created', branchId: 'main', zoneIds: ['main-reading'] },
      { kind: 'zone', zoneId: 'main-reading', change: 'devices' },
    ]);
    await ok(await call('/environment/cameras', { as: admin, body: { id: 'main-door-camera', name: 'Entrance', branchId: 'main', entrance: true, hlsUrl: 'https://cams.example.org/door.m3u8' } }), 201);

    const { zones } = await ok(await call('/environment/zones', { as: librarian }));
    const byId = Object.fromEntries(zones.map((z: { id: string; cameras: unknown[] }) => [z.id, z.cameras]));
    expect(byId).toEqual({
      'east-hall': [], 'main-stacks': [],
      'main-reading': [{ id: 'main-reading-camera', name: 'Reading room camera', snapshotUrl: SNAP, mjpegUrl: MJPG, hlsUrl: null }],
    });
    expect((await ok(await call('/environment/cameras?branchId=main', { as: librarian }))).cameras.map((c: { id: string }) => c.id)).toEqual(['main-door-camera', 'main-reading-camera']);

    // Move it to the stacks and drop the snapshot; the stream stays.
    expect(await ok(await call('/environment/cameras/main-reading-camera', { method: 'PATCH', as: admin, body: { zoneId: 'main-stacks', snapshotUrl: null } })))
      .toMatchObject({ zoneId: 'main-stacks', snapshotUrl: null, mjpegUrl: MJPG });
    expect(events.slice(2).filter((e) => e.kind === 'zone').map((e) => e.kind === 'zone' && e.zoneId)).toEqual(['main-reading', 'main-stacks']);
    expect(camerasOfZone(api.db, 'main-reading')).toEqual([]);
    expect(camerasOfZone(api.db, 'main-stacks').map((c) => c.id)).toEqual(['main-reading-camera']);
    // A zone of another branch moves it to that branch.
    expect(await ok(await call('/environment/cameras/main-reading-camera', { method: 'PATCH', as: admin, body: { zoneId: 'east-hall' } }))).toMatchObject({ branchId: 'east', zoneId: 'east-hall' });

    expect(await ok(await call('/environment/cameras/main-reading-camera', { method: 'DELETE', as: admin }), 204)).toBeNull();
    await expectProblem(await call('/environment/cameras/main-reading-camera', { method: 'DELETE', as: admin }), 404, 'CAMERA_NOT_FOUND');
    expect(camerasOfZone(api.db, 'east-hall')).toEqual([]);
    expect(api.auditRows()).toEqual([
      { actor: 'staff:root', action: 'device.camera.create', target: 'device:main-reading-camera' },
      { actor: 'staff:root', action: 'device.camera.create', target: 'device:main-door-camera' },
      { actor: 'staff:root', action: 'device.camera.update', target: 'device:main-reading-camera' },
      { actor: 'staff:root', action: 'device.camera.update', target: 'device:main-reading-camera' },
      { actor: 'staff:root', action: 'device.camera.delete', target: 'device:main-reading-camera' },
    ]);
  });

  it('refuses bad URLs and places with stable codes, listing every URL issue, and changes nothing', async () => {
    const { call } = site();
    const admin = await api.admin();
    const post = (b: Record<string, unknown>) => call('/environment/cameras', { as: admin, body: { id: 'cam-1', name: 'Cam', zoneId: 'main-reading', ...b } });
    const bad = await expectProblem(await post({ snapshotUrl: 'javascript:alert(1)', mjpegUrl: 'http://u:p@10.0.0.9/v.mjpg', hlsUrl: 'https://ok.example/a.m3u8' }), 422, 'INVALID_CAMERA_URL');
    expect(bad.context.issues).toEqual([
      { field: 'snapshotUrl', reason: 'scheme_not_allowed', message: 'only http and https URLs (got javascript:)' },
      { field: 'mjpegUrl', reason: 'credentials_in_url', message: expect.stringContaining('no user name or password') },
    ]);
    await expectProblem(await post({ snapshotUrl: 'data:image/png;base64,iVBOR' }), 422, 'INVALID_CAMERA_URL');
    await expectProblem(await post({}), 422, 'CAMERA_URL_REQUIRED');
    await expectProblem(await post({ snapshotUrl: null, mjpegUrl: null }), 422, 'CAMERA_URL_REQUIRED');
    await expectProblem(await post({ zoneId: 'nowhere', snapshotUrl: SNAP }), 422, 'ZONE_NOT_FOUND');
    await expectProblem(await post({ branchId: 'east', snapshotUrl: SNAP }), 422, 'ZONE_NOT_IN_BRANCH');
    await expectProblem(await post({ zoneId: null, snapshotUrl: SNAP }), 422, 'CAMERA_PLACE_REQUIRED');
    await expectProblem(await post({ zoneId: null, branchId: 'atlantis', snapshotUrl: SNAP }), 422, 'BRANCH_NOT_FOUND');
    await expectProblem(await post({ id: 'bad id!', snapshotUrl: SNAP }), 422, 'VALIDATION_FAILED');
    await expectProblem(await post({ snapshotUrl: 42 }), 422, 'VALIDATION_FAILED');
    await expectProblem(await post({ snapshotUrl: SNAP, colour: 'red' }), 422, 'VALIDATION_FAILED');
    await expectProblem(await post({ id: 'main-reading-smoke', snapshotUrl: SNAP }), 409, 'DUPLICATE_DEVICE');
    expect(api.count('device', "kind = 'camera'")).toBe(0);

    await ok(await post({ snapshotUrl: SNAP }), 201);
    const patch = (id: string, b: unknown) => call(`/environment/cameras/${id}`, { method: 'PATCH', as: admin, body: b });
    await expectProblem(await patch('cam-1', { snapshotUrl: null }), 422, 'CAMERA_URL_REQUIRED'); // the last URL cannot go
    await expectProblem(await patch('cam-1', { mjpegUrl: 'JAVASCRIPT:alert(1)' }), 422, 'INVALID_CAMERA_URL');
    await expectProblem(await patch('cam-1', {}), 422, 'VALIDATION_FAILED');
    await expectProblem(await patch('cam-1', { branchId: 'east' }), 422, 'ZONE_NOT_IN_BRANCH');
    await expectProblem(await patch('main-reading-smoke', { name: 'x' }), 409, 'NOT_A_CAMERA');
    await expectProblem(await patch('nope', { name: 'x' }), 404, 'CAMERA_NOT_FOUND');
    await expectProblem(await call('/environment/cameras/main-reading-smoke', { method: 'DELETE', as: admin }), 409, 'NOT_A_CAMERA');
    expect((await ok(await call('/environment/cameras', { as: admin }))).cameras).toMatchObject([{ id: 'cam-1', snapshotUrl: SNAP, mjpegUrl: null }]);
    expect(api.auditRows().map((r) => r.action)).toEqual(['device.camera.create']);
  });

  it('shows no URL that fails the checks, also from a camera made some other way (POST /devices takes any config)', () => {
    site();
    api.db.prepare("INSERT INTO device (id, kind, branch_id, zone_id, name, config, created_at) VALUES ('rogue', 'camera', 'main', 'main-reading', 'Rogue', ?, '2026-01-01T00:00:00Z')")
      .run(JSON.stringify({ snapshotUrl: 'javascript:alert(1)', mjpegUrl: 'http://10.0.0.7/v.mjpg' }));
    api.db.prepare("INSERT INTO device (id, kind, branch_id, zone_id, name, config, created_at) VALUES ('broken', 'camera', 'main', 'main-reading', 'Broken', '{not json', '2026-01-01T00:00:00Z')").run();
    expect(camerasOfZone(api.db, 'main-reading')).toEqual([{ id: 'rogue', name: 'Rogue', snapshotUrl: null, mjpegUrl: 'http://10.0.0.7/v.mjpg', hlsUrl: null }]);
  });
});

describe('cameras on alarms', () => {
  async function withCameras() {
    const s = site();
    const admin = await api.admin();
    for (const b of [
      { id: 'main-reading-camera', name: 'Reading room', zoneId: 'main-reading', snapshotUrl: SNAP, mjpegUrl: MJPG },
      { id: 'main-stacks-camera', name: 'Stacks', zoneId: 'main-stacks', snapshotUrl: 'http://127.0.0.1:8090/cameras/main-stacks-camera/snapshot.jpg' },
      { id: 'main-entrance-camera', name: 'Entrance', branchId: 'main', entrance: true, mjpegUrl: 'http://127.0.0.1:8090/cameras/main-entrance-camera/stream.mjpg' },
      { id: 'east-hall-camera', name: 'East hall', zoneId: 'east-hall', snapshotUrl: 'https://east.example/hall.jpg' },
    ]) await ok(await s.call('/environment/cameras', { as: admin, body: b }), 201);
    s.events.length = 0;
    return { ...s, librarian: await api.librarian() };
  }

  it("carries the zone's cameras on every alarm the routes return and on every alarm event of the bus", async () => {
    const { read, call, events, librarian } = await withCameras();
    await read('main-reading-smoke', { smoke: true });
    const { alarms } = await ok(await call('/alarms?open=true', { as: librarian }));
    expect(alarms).toHaveLength(1);
    expect(alarms[0].cameras).toEqual([{ id: 'main-reading-camera', name: 'Reading room', snapshotUrl: SNAP, mjpegUrl: MJPG, hlsUrl: null }]);
    const one = await ok(await call(`/alarms/${alarms[0].id}`, { as: librarian }));
    expect(ids(one.cameras)).toEqual(['main-reading-camera']);
    expect(ids((await ok(await call(`/alarms/${alarms[0].id}/acknowledge`, { as: librarian, body: {} }))).cameras)).toEqual(['main-reading-camera']);
    const alarmEvents = events.filter((e) => e.kind === 'alarm');
    expect(alarmEvents.map((e) => e.kind === 'alarm' && [e.change.action, ids(e.change.alarm.cameras)])).toEqual([
      ['raise', ['main-reading-camera']], ['acknowledge', ['main-reading-camera']],
    ]);
    await read('main-stacks-smoke', { smoke: true });
    expect((await ok(await call('/alarms?state=active_unack', { as: librarian }))).alarms.map((a: { cameras: { id: string }[] }) => ids(a.cameras))).toEqual([['main-stacks-camera']]);
  });

  it("gives an intrusion alarm the detector's zone and the branch's entrances", async () => {
    const { env, read, call } = await withCameras();
    api.clock.set('2026-03-02T14:00:00Z'); // 22:00 in Shanghai: closing, automatic arming
    await env.tick();
    api.clock.set('2026-03-02T14:05:00Z');
    await env.tick();
    api.clock.advance(10 * MIN);
    await read('main-entrance-motion', { occupancy: true });
    api.clock.advance(30_000);
    await env.tick();
    const { alarms } = await ok(await call('/alarms?open=true', { as: await api.librarian() })); // signed in now: the morning's session has expired
    const intrusion = alarms.find((a: { kind: string }) => a.kind === 'intrusion');
    expect(intrusion).toMatchObject({ source: 'main', zoneId: 'main-reading' });
    expect(ids(intrusion.cameras)).toEqual(['main-reading-camera', 'main-entrance-camera']);
  });

  it('falls back to every camera of the branch for an intrusion with neither, and shows none where a zone has none', () => {
    site();
    const cam = (id: string, zone: string | null, branch: string, extra = {}) => api.db.prepare("INSERT INTO device (id, kind, branch_id, zone_id, name, config, created_at) VALUES (?, 'camera', ?, ?, ?, ?, '2026-01-01T00:00:00Z')")
      .run(id, branch, zone, id, JSON.stringify({ name: id, snapshotUrl: `http://127.0.0.1:8090/cameras/${id}/snapshot.jpg`, ...extra }));
    cam('a-stacks', 'main-stacks', 'main');
    cam('b-hall', 'east-hall', 'east');
    const index = new CameraIndex(api.db);
    expect(ids(index.forAlarm({ kind: 'intrusion', zoneId: 'main-reading', branchId: 'main' }))).toEqual(['a-stacks']);
    expect(ids(index.forAlarm({ kind: 'smoke', zoneId: 'main-reading', branchId: 'main' }))).toEqual([]);
    expect(ids(index.forAlarm({ kind: 'sensor_offline', zoneId: null, branchId: 'main' }))).toEqual([]);
    cam('c-door', null, 'main', { entrance: true });
    expect(ids(new CameraIndex(api.db).forAlarm({ kind: 'intrusion', zoneId: 'main-stacks', branchId: 'main' }))).toEqual(['a-stacks', 'c-door']);
  });

  it("writes the simulator's camera list: the cameras whose URLs are on its feed", async () => {
    await withCameras();
    const file = writeSimulatedCameras(api.db, api.dir, 8090);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual([
      { id: 'main-entrance-camera', name: 'Entrance' }, { id: 'main-reading-camera', name: 'Reading room' }, { id: 'main-stacks-camera', name: 'Stacks' },
    ]);
    expect(JSON.parse(readFileSync(writeSimulatedCameras(api.db, api.dir, 9999), 'utf8'))).toEqual([]);
  });
});

describe('the demo library', () => {
  it("has a camera in every zone of the main branch and one at each branch's entrance, on the simulator's feed", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shelfsense-seed-cams-'));
    const db = openDb(join(dir, 'demo.db'));
    try {
      await seedDemo(db, { seed: 7, now: new Date('2026-11-24T08:00:00Z'), records: 40, patrons: 30 });
      const zones = (db.prepare("SELECT id, branch_id FROM zone ORDER BY id").all() as { id: string; branch_id: string }[]);
      for (const z of zones) {
        expect(camerasOfZone(db, z.id).map((c) => c.id), z.id).toEqual(z.branch_id === 'main' ? [`${z.id}-camera`] : []);
      }
      const reading = camerasOfZone(db, 'main-reading')[0]!;
      expect(reading).toEqual({
        id: 'main-reading-camera', name: expect.stringContaining('Reading room camera'), hlsUrl: null,
        snapshotUrl: 'http://127.0.0.1:8090/cameras/main-reading-camera/snapshot.jpg', mjpegUrl: 'http://127.0.0.1:8090/cameras/main-reading-camera/stream.mjpg',
      });
      const index = new CameraIndex(db);
      expect(ids(index.forAlarm({ kind: 'intrusion', zoneId: 'main-reading', branchId: 'main' }))).toEqual(['main-reading-camera', 'main-entrance-camera']);
      expect(ids(index.forAlarm({ kind: 'intrusion', zoneId: 'medical-reading', branchId: 'medical' }))).toEqual(['medical-entrance-camera']);
      expect(JSON.parse(readFileSync(writeSimulatedCameras(db, dir, 8090), 'utf8'))).toHaveLength(zones.filter((z) => z.branch_id === 'main').length + 2);
    } finally { db.close(); rmSync(dir, { recursive: true, force: true }); }
  });
});
