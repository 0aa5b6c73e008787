/**
 * The MQTT contract between gateway, firmware-sim and server: every topic and its payload type.
 * All topics live under `shelfsense/v1/<site>/`. Documented in docs/mqtt.md.
 * QoS 1 for events, commands and alarms; device and gateway state retained; every event carries
 * a unique `id` and a `ts` (ISO-8601 UTC) so consumers can drop duplicates.
 */
export const CONTRACT_VERSION = 'v1';

export const root = (site: string) => `shelfsense/${CONTRACT_VERSION}/${site}`;

export const topics = {
  /** Retained; the last will publishes `{online: false}`. */
  gatewayStatus: (site: string, gatewayId: string) => `${root(site)}/gateway/${gatewayId}/status`,
  gatewayStatusAll: (site: string) => `${root(site)}/gateway/+/status`,
  /** Request/response: the server asks a gateway to do something. */
  gatewayCommand: (site: string, gatewayId: string) => `${root(site)}/gateway/${gatewayId}/command`,
  gatewayCommandResponse: (site: string, gatewayId: string) => `${root(site)}/gateway/${gatewayId}/command/response`,
  gatewayCommandResponseAll: (site: string) => `${root(site)}/gateway/+/command/response`,
  /** Retained; the last will publishes `{online: false}`. */
  serverStatus: (site: string) => `${root(site)}/server/status`,
  /** Every circulation operation, granted or refused, as the server logged it. */
  circulationEvent: (site: string) => `${root(site)}/circulation/event`,
} as const;

export interface PresencePayload {
  id: string;
  online: boolean;
  ts: string;
  version?: string;
  /** Seconds the process has been up, when online. */
  uptimeS?: number;
}

export type GatewayCommandName = 'ping';

export interface CommandRequest<P = Record<string, unknown>> {
  transaction: string;
  command: GatewayCommandName;
  params?: P;
  ts: string;
}

export type CommandResponse<D = unknown> =
  | { transaction: string; status: 'ok'; data: D; ts: string }
  | { transaction: string; status: 'error'; error: { code: string; message: string }; ts: string };

export interface PingData { gatewayId: string; uptimeS: number }

export interface CirculationEventPayload {
  id: string;
  ts: string;
  op: string;
  outcome: 'ok' | 'refused';
  reason: string | null;
  channel: string;
  branchId: string;
  itemId: number | null;
  loanId: number | null;
  holdId: number | null;
}

/** Parses a JSON payload; returns null (never throws) for bytes that are not a JSON object. */
export function parseJsonObject(payload: Buffer | string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** MQTT 3.1.1 (protocol version 4) for every client: aedes 1.x speaks 3.1.1 only. */
export const MQTT_PROTOCOL_VERSION = 4 as const;
