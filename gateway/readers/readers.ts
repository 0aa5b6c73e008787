import type { Duplex } from 'node:stream';
import { SerialPort } from 'serialport';
import { topics, type GatewayErrorCode, type ProgramTagParams, type ReaderConfig, type WriteSecurityParams } from '../../contract/mqtt.js';
import { encodeTagMemory } from '../../contract/rfid/tag-data.js';
import { CommandError, type Gateway } from '../gateway.js';
import type { Outbox } from '../outbox.js';
import { ReaderError, type RfidDriver } from './driver.js';
import { NotVerifiedError, ReaderLink } from './reader.js';

export type DriverFactory = (cfg: ReaderConfig, stream: Duplex) => RfidDriver;

export interface RfidReadersDeps {
  gateway: Gateway;
  outbox: Outbox;
  drivers: Partial<Record<ReaderConfig['protocol'], DriverFactory>>;
  /** Defaults to a real serial port at the configured path and baud rate. */
  openStream?: (cfg: ReaderConfig) => Promise<Duplex>;
  log?: (line: string) => void;
}

/** Opens a serial device as the reader's line (8N1, the reader's baud rate). */
export async function openSerialPort(cfg: ReaderConfig): Promise<Duplex> {
  const port = new SerialPort({ path: cfg.port, baudRate: cfg.baudRate ?? 38400, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
  return port;
}

/**
 * The gateway's RFID feature: runs one ReaderLink per configured reader, publishes their tag events
 * and status through the outbox (so nothing is lost while the broker is away), and executes the
 * server's rfid.* commands.
 */
export class RfidReaders {
  private readonly links = new Map<string, ReaderLink>();

  constructor(private readonly deps: RfidReadersDeps) {}

  start(): void {
    const { gateway } = this.deps;
    gateway.handle('rfid.writeSecurity', (p) => this.writeSecurity(p));
    gateway.handle('rfid.readTag', (p) => this.withReader(p, (link, uid) => link.readTagNow(uid)));
    gateway.handle('rfid.programTag', (p) => this.programTag(p));
    // After a reconnect the server may have marked our readers offline (our last will): say how they are.
    gateway.onConnect(() => {
      for (const link of this.links.values()) this.deps.outbox.enqueue(topics.readerStatus(gateway.opts.site, link.cfg.id), link.status(), true);
    });
  }

  /** Applies a new reader list: readers whose configuration changed are restarted, removed ones stopped. */
  async setReaders(configs: ReaderConfig[]): Promise<void> {
    const wanted = new Map(configs.map((c) => [c.id, c]));
    for (const [id, link] of this.links) {
      const next = wanted.get(id);
      if (!next || JSON.stringify(next) !== JSON.stringify(link.cfg)) {
        this.links.delete(id);
        await link.stop();
      }
    }
    for (const cfg of configs) {
      if (this.links.has(cfg.id)) continue;
      const factory = this.deps.drivers[cfg.protocol];
      if (!factory) { this.deps.log?.(`reader ${cfg.id}: no driver for protocol ${cfg.protocol}`); continue; }
      const { gateway, outbox } = this.deps;
      const site = gateway.opts.site;
      const link = new ReaderLink(cfg, {
        gatewayId: gateway.opts.gatewayId,
        openStream: this.deps.openStream ?? openSerialPort,
        createDriver: factory,
        onTagEvent: (e) => outbox.enqueue(topics.readerTag(site, cfg.id), e),
        onStatus: (s) => outbox.enqueue(topics.readerStatus(site, cfg.id), s, true),
        log: this.deps.log,
      });
      this.links.set(cfg.id, link);
      await link.start();
    }
  }

  reader(id: string): ReaderLink | undefined { return this.links.get(id); }

  async stop(): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.stop()));
    this.links.clear();
  }

  private writeSecurity(p: Record<string, unknown>) {
    const afi = p.afi;
    if (typeof afi !== 'number' || !Number.isInteger(afi) || afi < 0 || afi > 255) throw new CommandError('BAD_REQUEST', 'afi must be an integer 0..255');
    if (p.eas !== undefined && typeof p.eas !== 'boolean') throw new CommandError('BAD_REQUEST', 'eas must be a boolean');
    const params = p as unknown as WriteSecurityParams;
    return this.withReader(p, (link, uid) => link.writeSecurity(uid, params.afi, params.eas));
  }

  private programTag(p: Record<string, unknown>) {
    const params = p as unknown as ProgramTagParams;
    const d = params.data as ProgramTagParams['data'] | undefined;
    if (!d || typeof d !== 'object' || typeof d.primaryItemId !== 'string' || !d.primaryItemId) throw new CommandError('BAD_REQUEST', 'data.primaryItemId is required');
    if (typeof params.afi !== 'number') throw new CommandError('BAD_REQUEST', 'afi must be a number');
    let memory: Buffer;
    try { memory = encodeTagMemory(d); } catch (e) { throw new CommandError('BAD_REQUEST', e instanceof Error ? e.message : String(e)); }
    return this.withReader(p, (link, uid) => link.programTag(uid, memory, params.afi));
  }

  private async withReader<T>(p: Record<string, unknown>, op: (link: ReaderLink, uid: string) => Promise<T>): Promise<T> {
    if (typeof p.readerId !== 'string') throw new CommandError('BAD_REQUEST', 'readerId is required');
    if (typeof p.uid !== 'string' || !/^[0-9A-Fa-f]{16}$/.test(p.uid)) throw new CommandError('BAD_REQUEST', 'uid must be 16 hex digits');
    const link = this.links.get(p.readerId);
    if (!link) throw new CommandError('UNKNOWN_READER', `no reader ${p.readerId} on this gateway`);
    if (!link.isOnline) throw new CommandError('READER_OFFLINE', `reader ${p.readerId} is offline`);
    try {
      return await op(link, p.uid.toUpperCase());
    } catch (e) {
      throw new CommandError(errorCode(e), e instanceof Error ? e.message : String(e));
    }
  }
}

function errorCode(e: unknown): GatewayErrorCode {
  if (e instanceof NotVerifiedError) return 'WRITE_NOT_VERIFIED';
  if (!(e instanceof ReaderError)) return 'READER_ERROR';
  switch (e.code) {
    case 'NO_TAG': case 'TAG_GONE': return 'TAG_GONE';
    case 'TAG_LOCKED': return 'TAG_LOCKED';
    case 'TIMEOUT': return 'TIMEOUT';
    case 'CLOSED': return 'READER_OFFLINE';
    default: return 'READER_ERROR';
  }
}
