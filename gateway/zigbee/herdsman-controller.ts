import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { herdsmanLogger, type ControllerLike } from './herdsman-source.js';

/** Where the coordinator is and what it is (a site's gateway configuration, from its environment). */
export interface CoordinatorSettings {
  /** Serial device (`/dev/ttyUSB0`) or `tcp://host:port` of the coordinator. */
  port: string;
  /** zigbee-herdsman adapter type: zstack, ember, deconz, zigate, zboss or zoh (auto-detected when unset). */
  adapter?: string;
  baudRate?: number;
  /** Zigbee channel 11..26 (default 11). */
  channel?: number;
}

interface NetworkIdentity { panID: number; extendedPanID: number[]; networkKey: number[] }

/**
 * The network's identity is made once, at random, and kept in the data directory: zigbee-herdsman's
 * defaults (PAN ID 0x1a62 and its well-known network key) would put every site on one public key.
 */
function networkIdentity(file: string): NetworkIdentity {
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as NetworkIdentity;
  const bytes = randomBytes(26);
  const identity: NetworkIdentity = {
    panID: 1 + (bytes.readUInt16BE(0) % 0xfffe), // 0x0001..0xFFFE (0xFFFF is reserved)
    extendedPanID: [...bytes.subarray(2, 10)],
    networkKey: [...bytes.subarray(10, 26)],
  };
  writeFileSync(file, JSON.stringify(identity), { mode: 0o600 });
  return identity;
}

/** A zigbee-herdsman Controller for the site's coordinator; its database and backups live in `dir`. */
export async function createCoordinatorController(settings: CoordinatorSettings, dir: string, log: (line: string) => void): Promise<ControllerLike> {
  // Loaded only where a site drives a coordinator: zigbee-herdsman is a large module.
  const { Controller, setLogger } = await import('zigbee-herdsman');
  setLogger(herdsmanLogger(log));
  mkdirSync(dir, { recursive: true });
  const id = networkIdentity(join(dir, 'network.json'));
  return new Controller({
    network: { panID: id.panID, extendedPanID: id.extendedPanID, networkKey: id.networkKey, channelList: [settings.channel ?? 11] },
    serialPort: { path: settings.port, ...(settings.baudRate ? { baudRate: settings.baudRate } : {}), ...(settings.adapter ? { adapter: settings.adapter as never } : {}) },
    databasePath: join(dir, 'database.db'),
    databaseBackupPath: join(dir, 'database.db.backup'),
    backupPath: join(dir, 'coordinator_backup.json'),
    adapter: { disableLED: false },
    acceptJoiningDeviceHandler: async () => true,
  });
}
