/**
 * Where the simulator's camera feed listens, in one place: the feed (firmware-sim/cameras/feed.ts) and
 * the demo seed (the cameras' URLs) both read it. Environment: SHELFSENSE_SIM_CAMERA_PORT, default 8090.
 * The seed writes the URLs into the database once; a port changed later needs the cameras changed too
 * (PATCH /environment/cameras/{id}) or a fresh demo database.
 */
export const SIM_CAMERA_PORT_ENV = 'SHELFSENSE_SIM_CAMERA_PORT';
export const DEFAULT_SIM_CAMERA_PORT = 8090;
/** A simulated camera's id: it is a path segment of its URLs. */
export const SIM_CAMERA_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function simCameraPort(env: Record<string, string | undefined> = process.env): number {
  const raw = env[SIM_CAMERA_PORT_ENV];
  if (raw === undefined || raw === '') return DEFAULT_SIM_CAMERA_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${SIM_CAMERA_PORT_ENV} must be a port number 0..65535 (got ${raw})`);
  return port;
}

/** The feed's base URL as browsers on this machine reach it (loopback only). */
export const simCameraBaseUrl = (port = simCameraPort()) => `http://127.0.0.1:${port}`;

/** The URLs of a simulated camera; the feed serves exactly these paths. */
export function simCameraUrls(id: string, base = simCameraBaseUrl()) {
  const at = `${base}/cameras/${encodeURIComponent(id)}`;
  return { snapshotUrl: `${at}/snapshot.jpg`, mjpegUrl: `${at}/stream.mjpg` };
}
