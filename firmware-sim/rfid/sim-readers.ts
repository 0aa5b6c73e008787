import { resolve, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { SerialPort } from 'serialport';
import type { ReaderConfig } from '../../contract/mqtt.js';
import { openPtyPair, type PtyPair } from '../serial/pty.js';
import { ReaderField } from './field.js';

/** Something that plays a reader's protocol on a byte stream. */
export interface ReaderSimulator { attach(device: Duplex): void; detach?(): void }
export type SimulatorFactory = (cfg: ReaderConfig, field: ReaderField) => ReaderSimulator;

interface Running { cfg: ReaderConfig; field: ReaderField; pty: PtyPair; port: SerialPort; sim: ReaderSimulator }

/**
 * Simulated readers on real serial device paths: for each configured reader whose port lies in the
 * simulator's device directory, a socat pty pair is made; the gateway opens the reader's path, the
 * simulator plays the reader's protocol on the other end, and scenarios move tags through its field.
 */
export class SimulatedReaders {
  private readonly running = new Map<string, Running>();

  constructor(private readonly opts: { devDir: string; factories: Partial<Record<ReaderConfig['protocol'], SimulatorFactory>>; seed?: number; log?: (l: string) => void }) {}

  /** Fields by reader id, for scenarios. */
  get fields(): Map<string, ReaderField> { return new Map([...this.running].map(([id, r]) => [id, r.field])); }

  async setReaders(readers: ReaderConfig[]): Promise<void> {
    const dir = resolve(this.opts.devDir) + sep;
    for (const cfg of readers) {
      if (this.running.has(cfg.id) || !resolve(cfg.port).startsWith(dir)) continue;
      const factory = this.opts.factories[cfg.protocol];
      if (!factory) { this.opts.log?.(`no simulator for protocol ${cfg.protocol} (reader ${cfg.id})`); continue; }
      const pty = await openPtyPair(cfg.port, `${cfg.port}.sim`);
      const port = new SerialPort({ path: pty.devicePath, baudRate: cfg.baudRate ?? 38400, autoOpen: false });
      await new Promise<void>((ok, fail) => port.open((e) => (e ? fail(e) : ok())));
      const field = new ReaderField(Math.max(1, cfg.antennas), (this.opts.seed ?? 1) + this.running.size);
      const sim = factory(cfg, field);
      sim.attach(port);
      this.running.set(cfg.id, { cfg, field, pty, port, sim });
      this.opts.log?.(`simulated ${cfg.protocol} reader ${cfg.id} on ${cfg.port}`);
    }
  }

  async stop(): Promise<void> {
    for (const r of this.running.values()) {
      r.sim.detach?.();
      if (r.port.isOpen) await new Promise<void>((ok) => r.port.close(() => ok()));
      await r.pty.close();
    }
    this.running.clear();
  }
}
