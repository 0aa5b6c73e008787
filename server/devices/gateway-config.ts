import { isAbsolute, resolve } from 'node:path';
import {
  topics, type GatewayConfigPayload, type ReaderConfig, type ReaderProtocol, type ReaderRole, type ZigbeeDeviceConfig,
} from '../../contract/mqtt.js';
import type { Db } from '../store/db.js';
import type { MqttLink } from '../mqtt/link.js';

const READER_ROLES: ReaderRole[] = ['kiosk_pad', 'security_gate', 'returns_slot', 'intake_station', 'inventory_wand', 'entrance_gate'];
const PROTOCOLS: ReaderProtocol[] = ['feig', 'metratec'];

interface DeviceRow { id: string; kind: string; role: string | null; zone_id: string | null; config: string }

/**
 * What each gateway runs, derived from the device table: its readers (role, protocol, serial
 * port) and its Zigbee devices. Published retained on the gateway's config topic, so a gateway that
 * (re)connects gets it at once; republished whenever devices change.
 * A relative serial port path is resolved against the data directory (the demo's simulated lines).
 */
export function gatewayConfigs(db: Db, dataDir: string, now = new Date()): GatewayConfigPayload[] {
  const rows = db.prepare("SELECT id, kind, role, zone_id, config FROM device WHERE kind IN ('gateway', 'reader', 'sensor', 'actuator') ORDER BY id").all() as DeviceRow[];
  const configs = new Map<string, GatewayConfigPayload>();
  const parse = (r: DeviceRow) => { try { return JSON.parse(r.config) as Record<string, unknown>; } catch { return {}; } };
  for (const r of rows.filter((r) => r.kind === 'gateway')) {
    const c = parse(r);
    const zigbee = (c.zigbee ?? {}) as { source?: string; baseTopic?: string };
    configs.set(r.id, {
      gatewayId: r.id, ts: now.toISOString(), readers: [],
      zigbee: { source: zigbee.source === 'herdsman' || zigbee.source === 'none' ? zigbee.source : 'zigbee2mqtt', baseTopic: zigbee.baseTopic ?? 'zigbee2mqtt', devices: [] },
    });
  }
  for (const r of rows) {
    if (r.kind === 'gateway') continue;
    const c = parse(r);
    const gw = typeof c.gateway === 'string' ? configs.get(c.gateway) : undefined;
    if (!gw) continue;
    if (r.kind === 'reader') {
      if (!READER_ROLES.includes(r.role as ReaderRole) || !PROTOCOLS.includes(c.protocol as ReaderProtocol) || typeof c.port !== 'string') continue;
      const reader: ReaderConfig = {
        id: r.id, role: r.role as ReaderRole, protocol: c.protocol as ReaderProtocol,
        port: isAbsolute(c.port) ? c.port : resolve(dataDir, c.port),
        antennas: typeof c.antennas === 'number' ? c.antennas : 1,
        ...(typeof c.baudRate === 'number' ? { baudRate: c.baudRate } : {}),
        ...(typeof c.address === 'number' ? { address: c.address } : {}),
        ...(typeof c.pollMs === 'number' ? { pollMs: c.pollMs } : {}),
      };
      gw.readers.push(reader);
    } else {
      const dev: ZigbeeDeviceConfig = {
        id: r.id, role: r.role ?? r.kind,
        ...(typeof c.z2mName === 'string' ? { z2mName: c.z2mName } : {}),
        ...(typeof c.ieee === 'string' ? { ieee: c.ieee } : {}),
        ...(r.zone_id ? { zoneId: r.zone_id } : {}),
        ...(typeof c.interval_s === 'number' ? { intervalS: c.interval_s } : {}),
      };
      if (dev.z2mName || dev.ieee) gw.zigbee.devices.push(dev);
    }
  }
  return [...configs.values()];
}

/** Publishes every gateway's configuration (retained); call again after a device changed. */
export async function publishGatewayConfigs(db: Db, link: MqttLink, dataDir: string): Promise<GatewayConfigPayload[]> {
  const configs = gatewayConfigs(db, dataDir);
  await Promise.all(configs.map((c) => link.publish(topics.gatewayConfig(link.site, c.gatewayId), c, { retain: true })));
  return configs;
}
