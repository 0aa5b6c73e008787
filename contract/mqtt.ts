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

  /** Retained, published by the server: what a gateway runs (its readers and Zigbee devices). */
  gatewayConfig: (site: string, gatewayId: string) => `${root(site)}/gateway/${gatewayId}/config`,

  /** Retained: one reader's state as its gateway sees it. */
  readerStatus: (site: string, readerId: string) => `${root(site)}/reader/${readerId}/status`,
  readerStatusAll: (site: string) => `${root(site)}/reader/+/status`,
  /** QoS 1: a tag entered or left one antenna's field. */
  readerTag: (site: string, readerId: string) => `${root(site)}/reader/${readerId}/tag`,
  readerTagAll: (site: string) => `${root(site)}/reader/+/tag`,
  /** QoS 1, server → sorter of a returns slot: the bin an item goes to. */
  sorterBin: (site: string, readerId: string) => `${root(site)}/reader/${readerId}/sorter`,
  /** QoS 1, server → gate: the alarm light and buzzer of a security gate. */
  gateAlarm: (site: string, readerId: string) => `${root(site)}/reader/${readerId}/alarm`,
  /** QoS 1, server → entrance gate: open the barrier, or show why not. */
  entranceDecision: (site: string, readerId: string) => `${root(site)}/reader/${readerId}/entrance`,

  /** QoS 1: normalised Zigbee readings, whichever source (zigbee2mqtt or zigbee-herdsman) produced them. */
  envReading: (site: string) => `${root(site)}/env/reading`,
  /** Retained: a Zigbee device's availability. */
  envAvailability: (site: string, deviceId: string) => `${root(site)}/env/device/${deviceId}/availability`,
  envAvailabilityAll: (site: string) => `${root(site)}/env/device/+/availability`,
  /** Retained: the Zigbee network's state as a gateway's source sees it (coordinator/bridge online, devices). */
  envSourceStatus: (site: string, gatewayId: string) => `${root(site)}/gateway/${gatewayId}/zigbee`,
  envSourceStatusAll: (site: string) => `${root(site)}/gateway/+/zigbee`,

  /** firmware-sim: play a scenario (payload: a scenario JSON, see firmware-sim/scenarios). */
  simScenario: (site: string) => `${root(site)}/sim/scenario`,
  /** firmware-sim: a scenario finished (`{name, ok, error?}`). */
  simScenarioDone: (site: string) => `${root(site)}/sim/scenario/done`,
  /** Every gateway's configuration (the simulator follows them to know which readers to play). */
  gatewayConfigAll: (site: string) => `${root(site)}/gateway/+/config`,
} as const;

export interface PresencePayload {
  id: string;
  online: boolean;
  ts: string;
  version?: string;
  /** Seconds the process has been up, when online. */
  uptimeS?: number;
}

/**
 * Commands a gateway executes (request on gatewayCommand, response on gatewayCommandResponse):
 * - ping: `{}` → PingData
 * - rfid.writeSecurity: WriteSecurityParams → SecurityState (read back after the write; an unverified
 *   write answers status error with code WRITE_NOT_VERIFIED, a tag that left the field TAG_GONE)
 * - rfid.readTag: `{readerId, uid}` → TagReport
 * - rfid.programTag: ProgramTagParams → TagReport (read back and compared)
 * - zigbee.set: `{deviceId, payload}` → `{deviceId}` (payload as zigbee2mqtt's `<name>/set` takes it)
 * - zigbee.get: `{deviceId, keys}` → `{deviceId}`
 */
export type GatewayCommandName = 'ping' | 'rfid.writeSecurity' | 'rfid.readTag' | 'rfid.programTag' | 'zigbee.set' | 'zigbee.get';

/** Error codes a gateway answers commands with. */
export type GatewayErrorCode =
  | 'BAD_REQUEST' | 'UNKNOWN_COMMAND' | 'UNKNOWN_READER' | 'UNKNOWN_DEVICE' | 'READER_OFFLINE'
  | 'NO_TAG' | 'TAG_GONE' | 'WRITE_NOT_VERIFIED' | 'TAG_LOCKED' | 'READER_ERROR' | 'TIMEOUT' | 'SOURCE_OFFLINE';

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

// ---------------------------------------------------------------------------------------------
// RFID

export type ReaderProtocol = 'feig' | 'metratec';
export type ReaderRole = 'kiosk_pad' | 'security_gate' | 'returns_slot' | 'intake_station' | 'inventory_wand' | 'entrance_gate';

/** A reader as the server configures it on a gateway (from the device table). */
export interface ReaderConfig {
  id: string;
  role: ReaderRole;
  protocol: ReaderProtocol;
  /** Serial device path (`/dev/ttyUSB0`, a pty path). */
  port: string;
  baudRate?: number;
  /** FEIG bus address (default 0xFF = broadcast). */
  address?: number;
  antennas: number;
  /** Inventory poll period in ms (default 100). */
  pollMs?: number;
}

/** Decoded tag memory. `format` says which data model was found. */
export interface TagData {
  format: 'iso28560-3' | 'iso28560-2' | 'blank' | 'unknown';
  /** ISO 28560 main type of usage 0..15: 0 acquisition, 1 circulating item, 2 not circulating, 7 discarded, 8 patron card, … (-3: low nibble of byte 0; -2: high nibble of the type-of-usage octet, sub-type dropped). */
  typeOfUsage: number | null;
  primaryItemId: string | null;
  partsInSet: number | null;
  partNumber: number | null;
  country: string | null;
  isil: string | null;
  /** False when a CRC over the data model did not match; the fields are then not to be trusted. */
  crcOk: boolean;
}

export interface SecurityState { afi: number; eas: boolean | null }

/** One tag as a reader saw it. `data` is null when the memory could not be read (tag left, errors). */
export interface TagReport {
  uid: string;
  antenna: number;
  security: SecurityState | null;
  data: TagData | null;
}

export interface ReaderTagEvent {
  id: string;
  ts: string;
  readerId: string;
  event: 'enter' | 'leave';
  tag: TagReport;
}

export interface ReaderStatusPayload {
  readerId: string;
  online: boolean;
  ts: string;
  protocol: ReaderProtocol;
  port: string;
  error?: string;
  counters: { frames: number; badCrc: number; resyncs: number; timeouts: number; reopens: number };
}

export interface WriteSecurityParams { readerId: string; uid: string; afi: number; eas?: boolean }
export interface ProgramTagParams { readerId: string; uid: string; data: { typeOfUsage: number; primaryItemId: string; partsInSet: number; partNumber: number; country: string; isil: string }; afi: number }

export interface SorterBinPayload { id: string; ts: string; readerId: string; uid: string; barcode: string | null; bin: string; reason: string }
export interface GateAlarmPayload { id: string; ts: string; readerId: string; on: boolean; uid?: string; barcode?: string | null }
export interface EntranceDecisionPayload {
  id: string; ts: string; readerId: string; allowed: boolean;
  /** Reason code when refused (PATRON_NOT_FOUND, CARD_EXPIRED, CARD_LOST, PATRON_BLOCKED). */
  reason: string | null;
  message: { en: string; zh: string };
  patronName?: string;
}

// ---------------------------------------------------------------------------------------------
// Environment (Zigbee)

/** Keys of a normalised reading, named as zigbee2mqtt names them (contact: true = closed). */
export interface ReadingValues {
  temperature?: number; humidity?: number; illuminance?: number;
  battery?: number; battery_low?: boolean; voltage?: number; linkquality?: number;
  smoke?: boolean; tamper?: boolean; water_leak?: boolean; occupancy?: boolean; contact?: boolean; vibration?: boolean;
  state?: 'ON' | 'OFF' | 'OPEN' | 'CLOSE' | 'STOP'; position?: number;
}

export interface EnvReadingPayload {
  id: string;
  ts: string;
  gatewayId: string;
  deviceId: string;
  source: 'zigbee2mqtt' | 'herdsman';
  values: ReadingValues;
}

export interface EnvAvailabilityPayload { deviceId: string; online: boolean; ts: string }

/** A Zigbee device as the server configures it on a gateway. */
export interface ZigbeeDeviceConfig {
  id: string;
  /** zigbee2mqtt friendly name (may contain `/`). */
  z2mName?: string;
  /** IEEE address, for the zigbee-herdsman source. */
  ieee?: string;
  /** climate, light, smoke, water, motion, contact (sensors); ac, ventilation, curtain, siren (actuators). */
  role: string;
  /** The zone (room) the device is in, when it is in one. */
  zoneId?: string;
  /** Reporting interval in seconds, for sensors that report on a schedule (stale after twice this). */
  intervalS?: number;
}

export interface GatewayConfigPayload {
  gatewayId: string;
  ts: string;
  readers: ReaderConfig[];
  zigbee: { source: 'zigbee2mqtt' | 'herdsman' | 'none'; baseTopic?: string; devices: ZigbeeDeviceConfig[] };
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

/**
 * Turns Nagle's algorithm off on an MQTT client's TCP connection, on every (re)connect: commands,
 * events and their PUBACKs are small packets that must leave at once, not wait up to 40 ms for a
 * delayed ACK. (mqtt.js opens plain sockets with Node's default, Nagle on.)
 */
export function sendImmediately<C extends { on(event: 'connect', cb: () => void): unknown; stream?: unknown }>(client: C): C {
  client.on('connect', () => {
    const socket = client.stream as { setNoDelay?: (on: boolean) => void } | undefined;
    socket?.setNoDelay?.(true);
  });
  return client;
}

/** MQTT 3.1.1 (protocol version 4) for every client: aedes 1.x speaks 3.1.1 only. */
export const MQTT_PROTOCOL_VERSION = 4 as const;
