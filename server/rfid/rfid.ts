import type { Statement } from 'better-sqlite3';
import { topics, type ReaderStatusPayload, type ReaderTagEvent } from '../../contract/mqtt.js';
import type { EventBus } from '../bus.js';
import type { Circulation } from '../circulation/circulation.js';
import type { Clock } from '../clock.js';
import type { MqttLink } from '../mqtt/link.js';
import type { Db } from '../store/db.js';
import { ReaderDirectory } from './directory.js';
import { EntranceGates } from './entrance.js';
import { SecurityGates } from './gate.js';
import { IntakeStations } from './intake.js';
import { InventoryWands } from './inventory.js';
import { KioskDesk } from './kiosk.js';
import { ReturnsSlots } from './returns.js';
import { gatewaySecurityWriter, type GatewayCommands, type SecurityWriter } from './security.js';

export interface RfidDeps {
  db: Db;
  circulation: Circulation;
  bus: EventBus;
  clock: Clock;
  link: Pick<MqttLink, 'subscribe' | 'publish' | 'site'> & GatewayCommands;
  /** Kiosk sessions end after this idle time (ms). */
  kioskIdleMs?: number;
  /** Replaces the gateway security writer (benchmarks measure with and without it). */
  security?: SecurityWriter;
  log?: (line: string) => void;
}

/**
 * The server's RFID feature: reader events from the gateways (deduplicated by event id, durably)
 * are dispatched by the reader's role to kiosk sessions, security gates, returns slots, entrance
 * gates and inventory sessions; intake stations program tags on request.
 */
export class RfidFeature {
  readonly readers: ReaderDirectory;
  readonly kiosks: KioskDesk;
  readonly gates: SecurityGates;
  readonly returns: ReturnsSlots;
  readonly entrances: EntranceGates;
  readonly intake: IntakeStations;
  readonly inventory: InventoryWands;
  private readonly status = new Map<string, ReaderStatusPayload>();
  private readonly unsubscribe: (() => void)[] = [];
  private readonly seen: Statement<[string, string, string, string, string, number, string]>;
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly deps: RfidDeps) {
    const { db, circulation, bus, clock, link } = deps;
    this.readers = new ReaderDirectory(db);
    const security = deps.security ?? gatewaySecurityWriter(this.readers, link);
    const site = link.site;
    const publish = (topic: string, payload: unknown) => { link.publish(topic, payload).catch((e) => deps.log?.(`rfid: publish ${topic} failed: ${e.message}`)); };
    this.kiosks = new KioskDesk({
      db, circulation, clock, security, idleTimeoutMs: deps.kioskIdleMs, inField: (id) => this.readers.inField(id),
      onChange: (session) => bus.emit('rfid', { kind: 'kiosk', session }),
    });
    this.gates = new SecurityGates({
      db, circulation, clock, security: () => this.readers.security(),
      signal: (p) => publish(topics.gateAlarm(site, p.readerId), p),
      onAlarm: (alarm) => bus.emit('rfid', { kind: 'gate_alarm', alarm }),
    });
    this.returns = new ReturnsSlots({
      circulation, clock, security,
      sort: (p) => publish(topics.sorterBin(site, p.readerId), p),
      onReturn: (outcome) => bus.emit('rfid', { kind: 'return', outcome }),
    });
    this.entrances = new EntranceGates({
      db, circulation, clock,
      decide: (p) => { publish(topics.entranceDecision(site, p.readerId), p); bus.emit('rfid', { kind: 'entrance', decision: p }); },
    });
    this.intake = new IntakeStations({ db, circulation, clock, readers: this.readers, link });
    this.inventory = new InventoryWands({ db, circulation, clock });
    this.seen = db.prepare('INSERT OR IGNORE INTO reader_event (id, reader_id, ts, event, uid, antenna, received) VALUES (?, ?, ?, ?, ?, ?, ?)');
  }

  start(): void {
    const { link } = this.deps;
    this.kiosks.start();
    this.unsubscribe.push(link.subscribe(topics.readerTagAll(link.site), (_t, body) => { if (body) this.onTagEvent(body as unknown as ReaderTagEvent); }));
    this.unsubscribe.push(link.subscribe(topics.readerStatusAll(link.site), (_t, body) => {
      if (!body || typeof body.readerId !== 'string') return;
      const s = body as unknown as ReaderStatusPayload;
      this.status.set(s.readerId, s);
      if (!s.online) this.readers.forgetField(s.readerId);
      this.deps.bus.emit('rfid', { kind: 'reader_status', status: s });
    }));
    // A gateway that went away (its last will) takes its readers with it, whatever their retained status says.
    this.unsubscribe.push(this.deps.bus.on('gateway', (g) => {
      if (g.online) return;
      for (const r of this.readers.all().filter((x) => x.gatewayId === g.gatewayId)) {
        const last = this.status.get(r.id);
        if (!last?.online) continue;
        const s: ReaderStatusPayload = { ...last, online: false, ts: g.ts, error: `gateway ${g.gatewayId} is offline` };
        this.status.set(r.id, s);
        this.readers.forgetField(r.id);
        this.deps.bus.emit('rfid', { kind: 'reader_status', status: s });
      }
    }));
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    this.gates.stop();
    await this.pending.catch(() => undefined);
    await this.kiosks.stop();
  }

  /** Reader states as their gateways last published them. */
  readerStatus(): ReaderStatusPayload[] { return [...this.status.values()]; }

  /** Resolves when every tag event received so far has been handled (kiosk writes, returns included). */
  async settled(): Promise<void> {
    await this.pending.catch(() => undefined);
    await Promise.all([this.kiosks.settled(), this.returns.settled()]);
  }

  /**
   * One reader event. A redelivered event (same id: QoS 1 after a reconnect, or the gateway's outbox
   * resending) is dropped here; the row is the durable record of what was handled.
   */
  onTagEvent(e: ReaderTagEvent): void {
    if (typeof e.id !== 'string' || typeof e.readerId !== 'string' || !e.tag || typeof e.tag.uid !== 'string' || (e.event !== 'enter' && e.event !== 'leave')) {
      this.deps.log?.(`rfid: ignored a malformed reader event`);
      return;
    }
    const reader = this.readers.get(e.readerId);
    if (!reader) { this.deps.log?.(`rfid: event from unknown reader ${e.readerId}`); return; }
    const fresh = this.seen.run(e.id, e.readerId, String(e.ts), e.event, e.tag.uid, e.tag.antenna ?? 1, this.deps.clock.now().toISOString()).changes > 0;
    if (!fresh) return;
    this.readers.track(reader.id, e.event, e.tag);
    const run = (async () => {
      switch (reader.role) {
        case 'kiosk_pad': return this.kiosks.onTag(reader, e.event, e.tag);
        case 'security_gate': return this.gates.onTag(reader, e.event, e.tag);
        case 'returns_slot': return this.returns.onTag(reader, e.event, e.tag, e.id);
        case 'entrance_gate': return this.entrances.onTag(reader, e.event, e.tag);
        case 'inventory_wand': return this.inventory.onTag(reader, e.event, e.tag);
        case 'intake_station': return undefined; // programmed on request (POST /rfid/intake/…)
      }
    })().catch((err) => this.deps.log?.(`rfid: ${reader.role} ${reader.id} failed on ${e.tag.uid}: ${err instanceof Error ? err.stack : err}`));
    // Settled to nothing: chaining the results would keep every tag event's outcome alive for the process's life.
    this.pending = Promise.all([this.pending, run]).then(() => undefined);
  }
}
