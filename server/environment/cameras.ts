/**
 * Cameras: devices of kind 'camera', in a zone (or only at a branch, e.g. an entrance), whose config
 * holds what a browser can show: `{ name, snapshotUrl?, mjpegUrl?, hlsUrl?, entrance? }` (a JPEG
 * snapshot for <img>, a Motion JPEG stream for <img>, an HLS playlist for <video>; at least one).
 * The server never fetches these URLs, the staff's browsers do: so only absolute http(s) URLs are
 * taken (no javascript:, data:, file: …), without user:password (it would reach every browser), and
 * they are stored as the WHATWG URL parser normalises them, so what was checked is what browsers get.
 * URLs are checked again on every read: a camera made through POST /devices with any config shows
 * only the URLs that pass. Zones list their cameras; every alarm carries the cameras of its zone, an
 * intrusion alarm those of the detector's zone and the branch's entrance cameras (all of the branch's
 * cameras when neither has one).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SIM_CAMERA_ID, simCameraPort } from '../../firmware-sim/cameras/port.js';
import { DomainError } from '../errors.js';
import { statement, type Db } from '../store/db.js';
import { audit } from '../store/audit.js';

export const CAMERA_URL_FIELDS = ['snapshotUrl', 'mjpegUrl', 'hlsUrl'] as const;
export type CameraUrlField = (typeof CAMERA_URL_FIELDS)[number];
export const MAX_CAMERA_URL_LENGTH = 2048;

/** What the dashboard needs to show a camera: on zones and on alarms. */
export interface CameraView { id: string; name: string; snapshotUrl: string | null; mjpegUrl: string | null; hlsUrl: string | null }
export interface Camera extends CameraView { branchId: string | null; zoneId: string | null; entrance: boolean; createdAt: string }

export type CameraUrlIssue = { field: CameraUrlField; reason: 'malformed' | 'scheme_not_allowed' | 'credentials_in_url' | 'too_long' | 'whitespace'; message: string };

/** Why a URL may not be shown as a camera, or null when it may. */
export function cameraUrlProblem(value: string): Omit<CameraUrlIssue, 'field'> | null {
  if (value.length > MAX_CAMERA_URL_LENGTH) return { reason: 'too_long', message: `at most ${MAX_CAMERA_URL_LENGTH} characters` };
  // The URL parser drops leading/trailing spaces and tabs/newlines inside: refuse them rather than guess.
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(value)) return { reason: 'whitespace', message: 'spaces and control characters are not allowed (percent-encode them)' };
  let url: URL;
  try { url = new URL(value); } catch { return { reason: 'malformed', message: 'not an absolute URL' }; }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { reason: 'scheme_not_allowed', message: `only http and https URLs (got ${url.protocol})` };
  if (!url.hostname) return { reason: 'malformed', message: 'no host' };
  if (url.username || url.password) return { reason: 'credentials_in_url', message: 'no user name or password in the URL: every staff browser would see them' };
  return null;
}

/** The normalised URL, or the issue. */
function checkUrl(field: CameraUrlField, value: string): { href: string } | CameraUrlIssue {
  const problem = cameraUrlProblem(value);
  return problem ? { field, ...problem } : { href: new URL(value).href };
}

interface Row { id: string; kind: string; branch_id: string | null; zone_id: string | null; name: string; config: string; created_at: string }

function parseConfig(text: string): Record<string, unknown> {
  try { const c = JSON.parse(text) as unknown; return c && typeof c === 'object' && !Array.isArray(c) ? (c as Record<string, unknown>) : {}; } catch { return {}; }
}

function toCamera(r: Row): Camera {
  const c = parseConfig(r.config);
  const url = (f: CameraUrlField) => { const v = c[f]; return typeof v === 'string' && !cameraUrlProblem(v) ? new URL(v).href : null; };
  return {
    id: r.id, name: typeof c.name === 'string' && c.name.trim() ? c.name : r.name,
    snapshotUrl: url('snapshotUrl'), mjpegUrl: url('mjpegUrl'), hlsUrl: url('hlsUrl'),
    branchId: r.branch_id, zoneId: r.zone_id, entrance: c.entrance === true, createdAt: r.created_at,
  };
}
const view = (c: Camera): CameraView => ({ id: c.id, name: c.name, snapshotUrl: c.snapshotUrl, mjpegUrl: c.mjpegUrl, hlsUrl: c.hlsUrl });
const showable = (c: CameraView) => !!(c.snapshotUrl || c.mjpegUrl || c.hlsUrl);

function allRows(db: Db): Row[] {
  return statement(db, "SELECT id, kind, branch_id, zone_id, name, config, created_at FROM device WHERE kind = 'camera' ORDER BY id").all() as Row[];
}

/** Every camera (also those with no URL that passes, for the admins to mend), ordered by id. */
export function listCameras(db: Db, filter: { branchId?: string; zoneId?: string } = {}): Camera[] {
  return allRows(db).map(toCamera).filter((c) => (!filter.branchId || c.branchId === filter.branchId) && (!filter.zoneId || c.zoneId === filter.zoneId));
}

/** The cameras of a zone that a browser can show. */
export function camerasOfZone(db: Db, zoneId: string): CameraView[] {
  return listCameras(db, { zoneId }).filter(showable).map(view);
}

/** Every showable camera at once, for answering many zones or alarms with one query. */
export class CameraIndex {
  private readonly all: Camera[];
  constructor(db: Db) { this.all = allRows(db).map(toCamera).filter(showable); }
  ofZone(zoneId: string): CameraView[] { return this.all.filter((c) => c.zoneId === zoneId).map(view); }
  /** A zone's cameras; an intrusion's: the detector's zone, then the branch's entrances (or else every camera of the branch). */
  forAlarm(a: { kind: string; zoneId: string | null; branchId: string | null }): CameraView[] {
    if (a.kind !== 'intrusion' || !a.branchId) return a.zoneId ? this.ofZone(a.zoneId) : [];
    const branch = this.all.filter((c) => c.branchId === a.branchId);
    const chosen = [...branch.filter((c) => a.zoneId && c.zoneId === a.zoneId), ...branch.filter((c) => c.entrance && c.zoneId !== a.zoneId)];
    return (chosen.length ? chosen : branch).map(view);
  }
}

export const camerasForAlarm = (db: Db, a: { kind: string; zoneId: string | null; branchId: string | null }) => new CameraIndex(db).forAlarm(a);

export interface CameraInput {
  id: string; name: string; zoneId?: string | null; branchId?: string | null; entrance?: boolean;
  snapshotUrl?: string | null; mjpegUrl?: string | null; hlsUrl?: string | null;
}
export type CameraChange = Partial<Omit<CameraInput, 'id'>>;

function row(db: Db, id: string): Row | undefined { return db.prepare('SELECT id, kind, branch_id, zone_id, name, config, created_at FROM device WHERE id = ?').get(id) as Row | undefined; }
function cameraRow(db: Db, id: string): Row {
  const r = row(db, id);
  if (!r) throw new DomainError('CAMERA_NOT_FOUND', `no camera ${id}`, 404, { key: id });
  if (r.kind !== 'camera') throw new DomainError('NOT_A_CAMERA', `device ${id} is a ${r.kind}, not a camera`, 409, { key: id, kind: r.kind });
  return r;
}

/** Checks the merged state of a camera; every URL issue at once (422 INVALID_CAMERA_URL, context.issues). */
function resolve(db: Db, next: Required<Omit<CameraInput, 'id'>>, branchGiven: boolean) {
  const urls: Partial<Record<CameraUrlField, string>> = {}, issues: CameraUrlIssue[] = [];
  for (const f of CAMERA_URL_FIELDS) {
    const v = next[f];
    if (v === null || v === undefined) continue;
    const r = checkUrl(f, v);
    if ('href' in r) urls[f] = r.href; else issues.push(r);
  }
  if (issues.length) throw new DomainError('INVALID_CAMERA_URL', issues.map((i) => `${i.field}: ${i.message}`).join('; '), 422, { issues });
  if (!Object.keys(urls).length) throw new DomainError('CAMERA_URL_REQUIRED', 'a camera needs at least one of snapshotUrl, mjpegUrl, hlsUrl', 422);
  let branchId = next.branchId;
  if (next.zoneId) {
    const zone = db.prepare('SELECT branch_id FROM zone WHERE id = ?').get(next.zoneId) as { branch_id: string } | undefined;
    if (!zone) throw new DomainError('ZONE_NOT_FOUND', `no zone ${next.zoneId}`, 422, { key: next.zoneId });
    // A branch given with the zone must be the zone's; otherwise the camera is at its zone's branch.
    if (branchGiven && branchId && branchId !== zone.branch_id) {
      throw new DomainError('ZONE_NOT_IN_BRANCH', `zone ${next.zoneId} is in branch ${zone.branch_id}, not ${branchId}`, 422, { zoneId: next.zoneId, branchId: zone.branch_id });
    }
    branchId = zone.branch_id;
  }
  if (!branchId) throw new DomainError('CAMERA_PLACE_REQUIRED', 'a camera needs a zone or a branch', 422);
  if (!db.prepare('SELECT 1 FROM branch WHERE id = ?').get(branchId)) throw new DomainError('BRANCH_NOT_FOUND', `no branch ${branchId}`, 422, { key: branchId });
  const config = { name: next.name, ...urls, ...(next.entrance && { entrance: true }) };
  return { branchId, zoneId: next.zoneId ?? null, config };
}

const fieldsOf = (o: object) => Object.entries(o).filter(([k, v]) => k !== 'id' && v !== undefined).map(([k]) => k);

export function createCamera(db: Db, input: CameraInput, actor: string, at: Date): Camera {
  if (row(db, input.id)) throw new DomainError('DUPLICATE_DEVICE', `device ${input.id} already exists`, 409, { key: input.id });
  const r = resolve(db, {
    name: input.name, zoneId: input.zoneId ?? null, branchId: input.branchId ?? null, entrance: input.entrance ?? false,
    snapshotUrl: input.snapshotUrl ?? null, mjpegUrl: input.mjpegUrl ?? null, hlsUrl: input.hlsUrl ?? null,
  }, input.branchId != null);
  db.transaction(() => {
    db.prepare("INSERT INTO device (id, kind, branch_id, zone_id, name, role, config, created_at) VALUES (?, 'camera', ?, ?, ?, NULL, ?, ?)")
      .run(input.id, r.branchId, r.zoneId, input.name, JSON.stringify(r.config), at.toISOString());
    audit(db, at, actor, 'device.camera.create', `device:${input.id}`, { zoneId: r.zoneId, branchId: r.branchId, fields: fieldsOf(input) });
  }).immediate();
  return toCamera(row(db, input.id)!);
}

/** Changes what is given; a URL set to null is removed (one must remain); zoneId null keeps the branch. */
export function updateCamera(db: Db, id: string, change: CameraChange, actor: string, at: Date): { camera: Camera; before: Camera } {
  const current = cameraRow(db, id), before = toCamera(current);
  const { name: _name, snapshotUrl, mjpegUrl, hlsUrl, entrance: _entrance, ...rest } = parseConfig(current.config); // rest: other settings, kept
  const stored = (v: unknown) => (typeof v === 'string' ? v : null);
  const pick = (given: string | null | undefined, fallback: string | null) => (given === undefined ? fallback : given);
  const r = resolve(db, {
    name: change.name ?? before.name, zoneId: pick(change.zoneId, current.zone_id), branchId: change.branchId ?? current.branch_id,
    entrance: change.entrance ?? before.entrance, snapshotUrl: pick(change.snapshotUrl, stored(snapshotUrl)),
    mjpegUrl: pick(change.mjpegUrl, stored(mjpegUrl)), hlsUrl: pick(change.hlsUrl, stored(hlsUrl)),
  }, change.branchId != null);
  db.transaction(() => {
    db.prepare('UPDATE device SET branch_id = ?, zone_id = ?, name = ?, config = ? WHERE id = ?').run(r.branchId, r.zoneId, r.config.name, JSON.stringify({ ...rest, ...r.config }), id);
    audit(db, at, actor, 'device.camera.update', `device:${id}`, { zoneId: r.zoneId, branchId: r.branchId, fields: fieldsOf(change) });
  }).immediate();
  return { camera: toCamera(row(db, id)!), before };
}

export function deleteCamera(db: Db, id: string, actor: string, at: Date): Camera {
  const camera = toCamera(cameraRow(db, id));
  db.transaction(() => {
    db.prepare('DELETE FROM device WHERE id = ?').run(id);
    audit(db, at, actor, 'device.camera.delete', `device:${id}`, { zoneId: camera.zoneId, branchId: camera.branchId });
  }).immediate();
  return camera;
}

/**
 * The cameras the simulator plays, for its /cameras list (firmware-sim/cameras/feed.ts readSimCameras):
 * every camera with a URL on the simulator's feed (http://127.0.0.1:<SHELFSENSE_SIM_CAMERA_PORT>/cameras/<id>/…).
 * Written to <dataDir>/sim-cameras.json, as sim-tags.json is; returns the file.
 */
export function writeSimulatedCameras(db: Db, dataDir: string, port = simCameraPort()): string {
  const seen = new Map<string, { id: string; name: string }>();
  for (const c of listCameras(db)) {
    for (const f of CAMERA_URL_FIELDS) {
      const u = c[f] ? new URL(c[f]!) : null;
      const m = u && ['127.0.0.1', 'localhost'].includes(u.hostname) && Number(u.port || 80) === port ? /^\/cameras\/([^/]+)\//.exec(u.pathname) : null;
      let simId: string | null = null;
      try { simId = m ? decodeURIComponent(m[1]!) : null; } catch { /* a bad escape is not one of the simulator's */ }
      if (simId && SIM_CAMERA_ID.test(simId) && !seen.has(simId)) seen.set(simId, { id: simId, name: c.name });
    }
  }
  const file = join(dataDir, 'sim-cameras.json');
  writeFileSync(file, JSON.stringify([...seen.values()]));
  return file;
}
