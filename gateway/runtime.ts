import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { parseJsonObject, topics, type GatewayConfigPayload, type ReaderConfig } from '../contract/mqtt.js';
import { Gateway, type GatewayOptions } from './gateway.js';
import { Outbox } from './outbox.js';
import { RfidReaders, type DriverFactory } from './readers/readers.js';
import { Zigbee2MqttSource } from './zigbee/z2m-source.js';
import { HerdsmanSource } from './zigbee/herdsman-source.js';
import { createCoordinatorController, type CoordinatorSettings } from './zigbee/herdsman-controller.js';

export interface GatewayRuntimeOptions extends GatewayOptions {
  /** Where the outbox and the last configuration are kept. */
  dataDir: string;
  drivers: Partial<Record<ReaderConfig['protocol'], DriverFactory>>;
  /** Serial lines; defaults to real serial ports. */
  openStream?: (cfg: ReaderConfig) => Promise<Duplex>;
  log?: (line: string) => void;
  /** The site's Zigbee coordinator, for a configuration whose Zigbee source is `herdsman`. */
  coordinator?: CoordinatorSettings;
}

/**
 * A whole gateway: presence and commands (Gateway), the outbox, the RFID readers, all driven by the
 * configuration the server publishes (retained). The last configuration is kept on disk, so after a
 * restart the readers run, and their events are kept, even while the broker is still unreachable.
 */
export class GatewayRuntime {
  readonly gateway: Gateway;
  readonly outbox: Outbox;
  readonly readers: RfidReaders;
  readonly zigbee2mqtt: Zigbee2MqttSource;
  private herdsman: HerdsmanSource | null = null;
  private config: GatewayConfigPayload | null = null;
  private applying: Promise<void> = Promise.resolve();

  constructor(private readonly opts: GatewayRuntimeOptions) {
    this.gateway = new Gateway(opts);
    this.outbox = new Outbox(join(opts.dataDir, 'outbox.db'));
    this.readers = new RfidReaders({ gateway: this.gateway, outbox: this.outbox, drivers: opts.drivers, openStream: opts.openStream, log: opts.log });
    this.zigbee2mqtt = new Zigbee2MqttSource({ gateway: this.gateway, outbox: this.outbox, log: opts.log });
  }

  private get configFile() { return join(this.opts.dataDir, 'config.json'); }

  async start(): Promise<void> {
    mkdirSync(this.opts.dataDir, { recursive: true });
    this.readers.start();
    this.zigbee2mqtt.start();
    if (existsSync(this.configFile)) {
      const cached = this.validConfig(parseJsonObject(readFileSync(this.configFile, 'utf8')));
      if (cached) this.apply(cached, false);
    }
    this.gateway.subscribe(topics.gatewayConfig(this.opts.site, this.opts.gatewayId), (_t, payload) => {
      const body = this.validConfig(parseJsonObject(payload));
      if (!body) {
        if (payload.length) this.opts.log?.(`gateway ${this.opts.gatewayId}: ignored a malformed configuration`);
        return;
      }
      this.apply(body, true);
    });
    const started = this.gateway.start();
    // The outbox needs the client, which exists as soon as start() began connecting.
    this.outbox.attach(this.gateway.mqtt!);
    await started;
  }

  /** The configuration being run (null before the first one arrived). */
  get current(): GatewayConfigPayload | null { return this.config; }

  /** Resolves once the configuration received so far is applied. */
  settled(): Promise<void> { return this.applying; }

  /** A configuration for this gateway whose every reader entry is usable; anything else is ignored whole (the readers keep running as they are). */
  private validConfig(body: Record<string, unknown> | null): GatewayConfigPayload | null {
    if (!body || body.gatewayId !== this.opts.gatewayId || !Array.isArray(body.readers) || !body.readers.every(isReaderConfig)) return null;
    return body as unknown as GatewayConfigPayload;
  }

  private apply(config: GatewayConfigPayload, persist: boolean): void {
    this.config = config;
    if (persist) writeFileSync(this.configFile, JSON.stringify(config));
    this.applying = this.applying.then(async () => {
      await this.readers.setReaders(config.readers);
      // Always applied: a source other than zigbee2mqtt (or none) switches it off.
      this.zigbee2mqtt.setConfig(config.zigbee ?? { source: 'none', devices: [] });
      await this.applyCoordinator(config.zigbee);
    }).catch((e) => {
      this.opts.log?.(`gateway ${this.opts.gatewayId}: could not apply the configuration: ${e instanceof Error ? e.message : e}`);
    });
  }

  /** Runs the herdsman source while the configuration asks for it; the zigbee.* commands follow the active source. */
  private async applyCoordinator(zigbee: GatewayConfigPayload['zigbee'] | undefined): Promise<void> {
    const wanted = zigbee?.source === 'herdsman';
    if (!wanted) {
      if (!this.herdsman) return;
      await this.herdsman.stop();
      this.herdsman = null;
      this.gateway.handle('zigbee.set', (p) => this.zigbee2mqtt.zigbeeSet(p));
      this.gateway.handle('zigbee.get', (p) => this.zigbee2mqtt.zigbeeGet(p));
      return;
    }
    if (!this.herdsman) {
      if (!this.opts.coordinator) {
        this.opts.log?.(`gateway ${this.opts.gatewayId}: the configuration asks for a Zigbee coordinator, but none is set (SHELFSENSE_ZIGBEE_PORT)`);
        return;
      }
      const log = this.opts.log ?? (() => undefined);
      const controller = await createCoordinatorController(this.opts.coordinator, join(this.opts.dataDir, 'herdsman'), log);
      this.herdsman = new HerdsmanSource({ gateway: this.gateway, outbox: this.outbox, controller, log });
      await this.herdsman.start();
    }
    this.herdsman.setDevices(zigbee!.devices);
  }

  async stop(): Promise<void> {
    await this.applying;
    this.zigbee2mqtt.stop();
    await this.herdsman?.stop();
    await this.readers.stop();
    await this.outbox.flushed(2000);
    await this.gateway.stop();
    this.outbox.close();
  }
}

function isReaderConfig(v: unknown): v is ReaderConfig {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  const count = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= 0;
  const optional = (x: unknown) => x === undefined || (typeof x === 'number' && Number.isFinite(x) && x >= 0);
  return typeof r.id === 'string' && r.id !== '' && typeof r.role === 'string' && typeof r.protocol === 'string'
    && typeof r.port === 'string' && r.port !== '' && count(r.antennas) && optional(r.baudRate) && optional(r.address) && optional(r.pollMs);
}
