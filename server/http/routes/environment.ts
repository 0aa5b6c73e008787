import { createRoute, z } from '@hono/zod-openapi';
import { systemClock } from '../../clock.js';
import { ALARM_STATES } from '../../environment/alarms.js';
import { CameraIndex, createCamera, deleteCamera, listCameras, updateCamera } from '../../environment/cameras.js';
import { ENV_ROLES, type EnvironmentFeature } from '../../environment/environment.js';
import { ZONE_PROFILE_NAMES, type ZoneProfileName } from '../../environment/profiles.js';
import { MAX_BUCKETS, MAX_MINUTE_DAYS, MAX_POINTS, NUMERIC_KEYS, zoneMetrics, type History } from '../../environment/store.js';
import type { AppDeps } from '../app.js';
import { ADMIN_SESSION, STAFF_SESSION } from '../auth.js';
import { actorOf, router, type StaffPrincipal } from '../env.js';
import { HttpProblem, problems } from '../problem.js';
import { IdParam, IsoInstant, json, ok } from '../schemas/common.js';
import { API_BASE } from '../types.js';

const Id = z.string().min(1).max(64);
const ZoneParam = z.object({ id: Id.openapi({ param: { name: 'id', in: 'path' }, example: 'main-reading' }) });
const BranchParam = z.object({ id: Id.openapi({ param: { name: 'id', in: 'path' }, example: 'main' }) });
const DeviceParam = z.object({ id: Id.openapi({ param: { name: 'id', in: 'path' }, example: 'main-reading-climate' }) });
const Anything = z.record(z.string(), z.unknown());
const Comment = z.string().trim().min(1).max(500);
const ActuatorRole = z.enum(['ac', 'ventilation', 'curtain']);
const optionalJson = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } }, required: false as const });
const atLeastOne = (o: Record<string, unknown>) => Object.values(o).some((v) => v !== undefined);

export const ZoneProfilePatch = z.strictObject({
  profile: z.enum(ZONE_PROFILE_NAMES as [ZoneProfileName, ...ZoneProfileName[]]).optional(),
  overrides: z.record(z.string(), z.unknown()).nullable().optional()
    .openapi({ description: 'ProfileOverrides (docs/environment.md); null removes them; checked by resolveProfile, every issue listed in a 422 INVALID_ZONE_PROFILE' }),
}).refine(atLeastOne, 'give profile, overrides or both').openapi('ZoneProfilePatch');
export const OverrideBody = z.strictObject({
  role: ActuatorRole,
  state: z.enum(['ON', 'OFF', 'OPEN', 'CLOSE']).openapi({ description: 'ON/OFF for ac and ventilation, OPEN/CLOSE for curtains' }),
  until: IsoInstant,
  note: z.string().trim().max(500).optional(),
}).openapi('ZoneOverride');
export const DevicePatch = z.strictObject({
  zoneId: Id.nullable().optional().openapi({ description: 'the zone the device is in (a zone of another branch moves it to that branch); null takes it out of any zone' }),
  role: z.enum(ENV_ROLES).optional(),
  intervalS: z.number().int().min(1).max(86_400).nullable().optional().openapi({ description: 'reporting interval; stale after twice it' }),
}).refine(atLeastOne, 'give zoneId, role or intervalS').openapi('EnvironmentDevicePatch');

const CameraParam = z.object({ id: Id.openapi({ param: { name: 'id', in: 'path' }, example: 'main-reading-camera' }) });
const CameraUrl = z.string().max(8192).nullable().optional()
  .openapi({ description: 'an absolute http(s) URL the browser loads; no user:password in it; null removes it. Checked: 422 INVALID_CAMERA_URL, every issue in context.issues' });
const cameraFields = {
  name: z.string().trim().min(1).max(200),
  zoneId: Id.nullable().optional().openapi({ description: "the zone it watches (it is then at the zone's branch); null: only at a branch, e.g. an entrance" }),
  branchId: Id.optional().openapi({ description: 'needed without a zone; with a zone it must be the zone\'s' }),
  entrance: z.boolean().optional().openapi({ description: "watches an entrance: shown with the branch's intrusion alarms" }),
  snapshotUrl: CameraUrl, mjpegUrl: CameraUrl, hlsUrl: CameraUrl,
};
export const CameraCreate = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" or "-", at most 64'),
  ...cameraFields,
}).openapi('CameraCreate');
export const CameraPatch = z.strictObject({ ...cameraFields, name: cameraFields.name.optional() })
  .refine(atLeastOne, 'give at least one field').openapi('CameraPatch');
const CameraViewSchema = z.object({ id: z.string(), name: z.string(), snapshotUrl: z.string().nullable(), mjpegUrl: z.string().nullable(), hlsUrl: z.string().nullable() });
export const CameraSchema = CameraViewSchema.extend({ branchId: z.string().nullable(), zoneId: z.string().nullable(), entrance: z.boolean(), createdAt: z.string() }).openapi('Camera');

const Column = z.array(z.number().nullable());
export const HistorySchema = z.object({
  deviceId: z.string(), key: z.enum(NUMERIC_KEYS), resolution: z.enum(['raw', 'minute', 'hour']),
  from: z.string().nullable().openapi({ description: 'start of bucket 0; bucket i starts at from + i × stepMs (null for raw)' }),
  stepMs: z.number().int().nullable().openapi({ description: 'bucket length in ms (null for raw)' }),
  t: z.array(z.string()).nullable().openapi({ description: 'raw only: the time of each reading (null for rollups)' }),
  min: Column, max: Column, avg: Column.openapi({ description: 'per bucket (raw: per reading); null where a bucket is empty' }),
  count: z.array(z.number().int()).openapi({ description: 'readings in the bucket; 0 where it is empty' }),
}).openapi('EnvironmentHistory');
export type HistoryBody = z.infer<typeof HistorySchema>;

/**
 * A history as JSON columns (a year of minutes is 525,600 buckets: no object, key or time per bucket);
 * an empty bucket's NaN becomes null, as JSON.stringify writes it.
 */
export function historyBody(h: History): HistoryBody {
  return { deviceId: h.deviceId, key: h.key, resolution: h.resolution, from: h.from, stepMs: h.stepMs, t: h.t, min: Array.from(h.min), max: Array.from(h.max), avg: Array.from(h.avg), count: Array.from(h.count) };
}

/**
 * Environment and safety: zones (profile, latest readings, controller, preservation metrics),
 * manual overrides, reading history, the actuator command log, alarms (ISA-18.2 life cycle) and
 * intrusion arming. Staff of either role operate; admins change profiles and device mapping.
 */
export function environmentRoutes(deps: AppDeps & { environment?: EnvironmentFeature }) {
  const app = router();
  const clock = deps.clock ?? systemClock;
  const feature = () => {
    if (!deps.environment) throw new HttpProblem(503, 'ENVIRONMENT_UNAVAILABLE', 'the environment feature is not running');
    return deps.environment;
  };
  const who = (p: unknown) => ({ by: (p as StaffPrincipal).displayName, actor: actorOf(p as StaffPrincipal) });
  const body = (x: unknown) => x as Record<string, unknown>;

  app.openapi(createRoute({
    method: 'get', path: '/environment/zones', tags: ['environment'], ...STAFF_SESSION,
    summary: 'Zones with profile, latest readings, controller status, actuators, cameras and the last 24 h of preservation metrics',
    responses: { 200: ok(z.object({ zones: z.array(Anything) }), 'every zone'), ...problems(401, 403, 503) },
  }), (c) => {
    const f = feature(), now = clock.now(), cameras = new CameraIndex(deps.db);
    const zones = f.zones().map((zone) => ({
      ...zone, actuators: zone.devices.filter((d) => d.kind === 'actuator'), cameras: cameras.ofZone(zone.id),
      metrics24h: zoneMetrics(f.store, { climate: zone.devices.find((d) => d.role === 'climate')?.id, light: zone.devices.find((d) => d.role === 'light')?.id }, zone.profile, now, f.timeZone),
    }));
    return c.json({ zones: zones as unknown as Record<string, unknown>[] }, 200);
  });

  app.openapi(createRoute({
    method: 'patch', path: '/environment/zones/{id}/profile', tags: ['environment'], summary: "Changes a zone's profile and its overrides", ...ADMIN_SESSION,
    request: { params: ZoneParam, body: json(ZoneProfilePatch) },
    responses: { 200: ok(Anything, 'the zone with its new profile'), ...problems(400, 401, 403, 404, 422, 503) },
  }), (c) => {
    const { profile, overrides } = c.req.valid('json');
    return c.json(body(feature().setProfile(c.req.valid('param').id, { profile, overrides }, who(c.get('principal')).actor)), 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/environment/zones/{id}/override', tags: ['environment'], summary: 'Holds an actuator in a state until a time, whatever the readings say', ...STAFF_SESSION,
    request: { params: ZoneParam, body: json(OverrideBody) },
    responses: { 200: ok(Anything, "the zone controller's status"), ...problems(400, 401, 403, 404, 422, 503) },
  }), (c) => {
    const { until, ...o } = c.req.valid('json'), { by, actor } = who(c.get('principal'));
    return c.json(body(feature().setOverride(c.req.valid('param').id, { ...o, until: new Date(until) }, by, actor)), 200);
  });

  app.openapi(createRoute({
    method: 'delete', path: '/environment/zones/{id}/override', tags: ['environment'], summary: 'Ends an override early; control resumes at once', ...STAFF_SESSION,
    request: { params: ZoneParam, query: z.object({ role: ActuatorRole }) },
    responses: { 200: ok(Anything, "the zone controller's status"), ...problems(400, 401, 403, 404, 503) },
  }), (c) => {
    const { by, actor } = who(c.get('principal'));
    return c.json(body(feature().clearOverride(c.req.valid('param').id, c.req.valid('query').role, by, actor)), 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/environment/history', tags: ['environment'], ...STAFF_SESSION,
    summary: "One key of one device over time, as columns: raw, per minute, per hour, or 'auto' (at most about 2000 buckets)",
    description: `Raw answers at most ${MAX_POINTS} readings, minute and hour at most ${MAX_BUCKETS} buckets (${MAX_MINUTE_DAYS} days of minutes); more is refused with 422 HISTORY_TOO_LARGE.`,
    request: {
      query: z.object({
        deviceId: Id, key: z.enum(NUMERIC_KEYS),
        from: IsoInstant.optional().openapi({ description: 'default: 24 h before `to`' }), to: IsoInstant.optional().openapi({ description: 'exclusive; default: now (included)' }),
        resolution: z.enum(['raw', 'minute', 'hour', 'auto']).default('auto'),
      }),
    },
    responses: { 200: ok(HistorySchema, 'columns min, max, avg, count, oldest first'), ...problems(400, 401, 403, 422, 503) },
  }), (c) => {
    const q = c.req.valid('query'), now = clock.now();
    const to = q.to ? new Date(q.to) : new Date(now.getTime() + 1), from = q.from ? new Date(q.from) : new Date(to.getTime() - 86_400_000);
    return c.json(historyBody(feature().store.history(q.deviceId, q.key, from, to, q.resolution, now)), 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/environment/commands', tags: ['environment'], summary: 'The actuator command log, newest first: payload, source, reason, who, result', ...STAFF_SESSION,
    request: { query: z.object({ zoneId: Id.optional(), deviceId: Id.optional(), beforeId: z.coerce.number().int().positive().optional(), limit: z.coerce.number().int().min(1).max(500).default(100) }) },
    responses: { 200: ok(z.object({ commands: z.array(Anything) }), 'commands'), ...problems(400, 401, 403, 503) },
  }), (c) => c.json({ commands: feature().commands(c.req.valid('query')) as unknown as Record<string, unknown>[] }, 200));

  app.openapi(createRoute({
    method: 'get', path: '/alarms', tags: ['alarms'], summary: "Alarms, newest first; by state, or only the open ones; each with the cameras of its zone", ...STAFF_SESSION,
    request: { query: z.object({ state: z.enum(ALARM_STATES).optional(), open: z.enum(['true', 'false']).optional(), limit: z.coerce.number().int().min(1).max(500).default(100) }) },
    responses: { 200: ok(z.object({ alarms: z.array(Anything) }), 'alarms'), ...problems(400, 401, 403, 503) },
  }), (c) => {
    const q = c.req.valid('query');
    return c.json({ alarms: feature().alarms.list({ state: q.state, open: q.open === 'true', limit: q.limit }) as unknown as Record<string, unknown>[] }, 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/alarms/{id}', tags: ['alarms'], summary: 'One alarm with the history of its transitions', ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 200: ok(Anything, 'the alarm and its events'), ...problems(400, 401, 403, 404, 503) },
  }), (c) => {
    const { id } = c.req.valid('param'), alarm = feature().alarms.get(id);
    if (!alarm) throw new HttpProblem(404, 'ALARM_NOT_FOUND', `no alarm ${id}`);
    return c.json({ ...alarm, events: feature().alarms.events(id) }, 200);
  });

  const alarmAction = (path: string, summary: string, schema: z.ZodType<Record<string, unknown>> | null,
    run: (f: EnvironmentFeature, id: number, by: string, b: Record<string, unknown>) => unknown) => app.openapi(createRoute({
    method: 'post', path: `/alarms/{id}/${path}`, tags: ['alarms'], summary, ...STAFF_SESSION,
    request: { params: IdParam, ...(schema ? { body: path === 'shelve' ? json(schema) : optionalJson(schema) } : {}) },
    responses: { 200: ok(Anything, 'the alarm after the transition'), ...problems(400, 401, 403, 404, 409, 422, 503) },
  }), (c) => c.json(body(run(feature(), c.req.valid('param').id, who(c.get('principal')).by, schema ? (c.req.valid('json' as never) as Record<string, unknown>) : {})), 200));

  alarmAction('acknowledge', 'Acknowledges an alarm (ISA-18.2: active → acknowledged, returned-to-normal → closed)', z.strictObject({ comment: Comment.optional() }),
    (f, id, by, b) => f.alarms.acknowledge(id, by, b.comment as string | undefined));
  alarmAction('shelve', 'Shelves a non-critical alarm until a time (at most 24 h): no escalation meanwhile', z.strictObject({ until: IsoInstant, comment: Comment.optional() }),
    (f, id, by, b) => f.alarms.shelve(id, new Date(b.until as string), by, b.comment as string | undefined));
  alarmAction('unshelve', 'Ends a shelve early', null, (f, id, by) => f.alarms.unshelve(id, by));
  alarmAction('reset', 'Resets a latched alarm whose condition has gone and that was acknowledged', z.strictObject({ comment: Comment.optional() }),
    (f, id, by, b) => f.alarms.reset(id, by, b.comment as string | undefined));

  app.openapi(createRoute({
    method: 'get', path: '/environment/branches/{id}/intrusion', tags: ['environment'], summary: "A branch's intrusion state: armed, delays, bypasses, sensors", ...STAFF_SESSION,
    request: { params: BranchParam },
    responses: { 200: ok(Anything, 'the intrusion state'), ...problems(400, 401, 403, 404, 503) },
  }), (c) => c.json(body(feature().intrusion.status(c.req.valid('param').id)), 200));

  app.openapi(createRoute({
    method: 'post', path: '/environment/branches/{id}/arm', tags: ['environment'], ...STAFF_SESSION,
    summary: 'Arms intrusion detection after the exit delay; refused while a door is open unless it is bypassed',
    request: { params: BranchParam, body: optionalJson(z.strictObject({ bypass: z.array(Id).max(100).default([]) })) },
    responses: { 200: ok(Anything, 'the intrusion state (arming)'), ...problems(400, 401, 403, 404, 409, 422, 503) },
  }), (c) => c.json(body(feature().intrusion.arm(c.req.valid('param').id, who(c.get('principal')).by, c.req.valid('json').bypass ?? [])), 200));

  app.openapi(createRoute({
    method: 'post', path: '/environment/branches/{id}/disarm', tags: ['environment'], summary: 'Disarms intrusion detection (a running entry delay ends without an alarm)', ...STAFF_SESSION,
    request: { params: BranchParam },
    responses: { 200: ok(Anything, 'the intrusion state (disarmed)'), ...problems(400, 401, 403, 404, 409, 503) },
  }), (c) => c.json(body(feature().intrusion.disarm(c.req.valid('param').id, who(c.get('principal')).by)), 200));

  app.openapi(createRoute({
    method: 'patch', path: '/environment/devices/{id}', tags: ['environment'], summary: "A sensor's or actuator's zone, role and reporting interval", ...ADMIN_SESSION,
    request: { params: DeviceParam, body: json(DevicePatch) },
    responses: { 200: ok(Anything, 'the device as the feature now sees it'), ...problems(400, 401, 403, 404, 409, 422, 503) },
  }), (c) => c.json(body(feature().updateDevice(c.req.valid('param').id, c.req.valid('json'), who(c.get('principal')).actor)), 200));

  app.openapi(createRoute({
    method: 'get', path: '/environment/cameras', tags: ['environment'], summary: 'Cameras, by branch or zone (URLs that fail the checks are null)', ...STAFF_SESSION,
    request: { query: z.object({ branchId: Id.optional(), zoneId: Id.optional() }) },
    responses: { 200: ok(z.object({ cameras: z.array(CameraSchema) }).openapi('CameraList'), 'cameras'), ...problems(400, 401, 403, 503) },
  }), (c) => { feature(); return c.json({ cameras: listCameras(deps.db, c.req.valid('query')) }, 200); });

  app.openapi(createRoute({
    method: 'post', path: '/environment/cameras', tags: ['environment'], summary: 'Adds a camera: a snapshot, MJPEG or HLS URL (at least one) in a zone or at a branch', ...ADMIN_SESSION,
    request: { body: json(CameraCreate) },
    responses: { 201: ok(CameraSchema, 'the new camera'), ...problems(400, 401, 403, 409, 422, 503) },
  }), (c) => {
    const f = feature(), camera = createCamera(deps.db, c.req.valid('json'), who(c.get('principal')).actor, clock.now());
    f.camerasChanged({ cameraId: camera.id, change: 'created', branchId: camera.branchId, zoneIds: [camera.zoneId] });
    c.header('Location', `${API_BASE}/environment/cameras/${encodeURIComponent(camera.id)}`);
    return c.json(camera, 201);
  });

  app.openapi(createRoute({
    method: 'patch', path: '/environment/cameras/{id}', tags: ['environment'], summary: "Changes a camera's name, place, entrance mark or URLs (null removes a URL; one must remain)", ...ADMIN_SESSION,
    request: { params: CameraParam, body: json(CameraPatch) },
    responses: { 200: ok(CameraSchema, 'the camera'), ...problems(400, 401, 403, 404, 409, 422, 503) },
  }), (c) => {
    const f = feature(), { camera, before } = updateCamera(deps.db, c.req.valid('param').id, c.req.valid('json'), who(c.get('principal')).actor, clock.now());
    f.camerasChanged({ cameraId: camera.id, change: 'updated', branchId: camera.branchId, zoneIds: [before.zoneId, camera.zoneId] });
    return c.json(camera, 200);
  });

  app.openapi(createRoute({
    method: 'delete', path: '/environment/cameras/{id}', tags: ['environment'], summary: 'Removes a camera', ...ADMIN_SESSION,
    request: { params: CameraParam },
    responses: { 204: { description: 'removed' }, ...problems(400, 401, 403, 404, 409, 503) },
  }), (c) => {
    const f = feature(), camera = deleteCamera(deps.db, c.req.valid('param').id, who(c.get('principal')).actor, clock.now());
    f.camerasChanged({ cameraId: camera.id, change: 'deleted', branchId: camera.branchId, zoneIds: [camera.zoneId] });
    return c.body(null, 204);
  });

  return app;
}
