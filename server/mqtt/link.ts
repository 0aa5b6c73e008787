import { randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import {
  MQTT_PROTOCOL_VERSION, sendImmediately, parseJsonObject, topics,
  type CirculationEventPayload, type CommandRequest, type CommandResponse, type GatewayCommandName, type PresencePayload,
} from '../../contract/mqtt.js';
import type { EventBus } from '../bus.js';
import { topicMatches } from '../../contract/topic-match.js';

export interface LinkOptions {
  url: string;
  site: string;
  username?: string;
  password?: string;
  version: string;
}

interface GatewayState { id: string; online: boolean; ts: string; version?: string }

/** A feature's handler for messages on a topic filter; `body` is the parsed JSON object (null when the payload is not one). */
export type LinkHandler = (topic: string, body: Record<string, unknown> | null, payload: Buffer) => void;

/**
 * The server's MQTT client: announces the server (retained status + last will), follows gateway
 * presence, publishes circulation events, and sends request/response commands to gateways.
 */
export class MqttLink {
  private client: MqttClient | null = null;
  private readonly gateways = new Map<string, GatewayState>();
  private readonly pending = new Map<string, { resolve: (r: CommandResponse) => void; timer: NodeJS.Timeout }>();
  private unsubscribeBus: (() => void) | null = null;
  private readonly startedAt = Date.now();
  private readonly subscriptions: { filter: string; qos: 0 | 1; handler: LinkHandler }[] = [];

  constructor(private readonly opts: LinkOptions, private readonly bus: EventBus) {}

  get connected() { return this.client?.connected ?? false; }

  async start(): Promise<void> {
    const { site } = this.opts;
    const will: PresencePayload = { id: 'server', online: false, ts: new Date().toISOString() };
    const client = sendImmediately(mqtt.connect(this.opts.url, {
      protocolVersion: MQTT_PROTOCOL_VERSION,
      clientId: `shelfsense-server-${site}-${randomUUID().slice(0, 8)}`,
      username: this.opts.username,
      password: this.opts.password,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      will: { topic: topics.serverStatus(site), payload: Buffer.from(JSON.stringify(will)), qos: 1, retain: true },
    }));
    this.client = client;
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    client.on('connect', () => {
      client.subscribe([topics.gatewayStatusAll(site), topics.gatewayCommandResponseAll(site)], { qos: 1 });
      for (const s of this.subscriptions) client.subscribe(s.filter, { qos: s.qos });
      this.publishPresence(true);
    });
    client.on('error', (e) => console.error(`mqtt: ${e.message}`));
    this.unsubscribeBus = this.bus.on('circulation', (e) => {
      const payload: CirculationEventPayload = {
        id: `circ-${e.id}`, ts: e.ts, op: e.op, outcome: e.outcome, reason: e.reason, channel: e.channel, branchId: e.branchId,
        itemId: e.itemId, loanId: e.loanId, holdId: e.holdId,
      };
      client.publish(topics.circulationEvent(site), JSON.stringify(payload), { qos: 1 });
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`could not reach the MQTT broker at ${this.opts.url} within 10 s`)), 10_000);
      client.once('connect', () => { clearTimeout(timer); resolve(); });
    });
  }

  private publishPresence(online: boolean) {
    const p: PresencePayload = { id: 'server', online, ts: new Date().toISOString(), version: this.opts.version, uptimeS: Math.round((Date.now() - this.startedAt) / 1000) };
    return this.client?.publishAsync(topics.serverStatus(this.opts.site), JSON.stringify(p), { qos: 1, retain: true });
  }

  get site() { return this.opts.site; }

  /**
   * Lets a feature follow a topic filter (MQTT wildcards allowed); subscriptions survive reconnects.
   * Returns an unsubscribe function.
   */
  subscribe(filter: string, handler: LinkHandler, qos: 0 | 1 = 1): () => void {
    const entry = { filter, qos, handler };
    this.subscriptions.push(entry);
    if (this.client?.connected) this.client.subscribe(filter, { qos });
    return () => {
      const i = this.subscriptions.indexOf(entry);
      if (i >= 0) this.subscriptions.splice(i, 1);
      if (!this.subscriptions.some((s) => s.filter === filter)) this.client?.unsubscribe(filter);
    };
  }

  /** Publishes a JSON payload (QoS 1 by default); resolves once the broker acknowledged it. */
  async publish(topic: string, payload: unknown, opts: { qos?: 0 | 1; retain?: boolean } = {}): Promise<void> {
    if (!this.client) throw new Error('the MQTT link is not started');
    await this.client.publishAsync(topic, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: opts.qos ?? 1, retain: opts.retain ?? false });
  }

  private onMessage(topic: string, payload: Buffer) {
    if (this.subscriptions.length) {
      let body: Record<string, unknown> | null | undefined;
      for (const s of this.subscriptions) {
        if (!topicMatches(s.filter, topic)) continue;
        if (body === undefined) body = parseJsonObject(payload);
        try { s.handler(topic, body, payload); } catch (e) { console.error(`mqtt handler for ${s.filter} failed:`, e); }
      }
    }
    const parts = topic.split('/');
    const gatewayId = parts[4];
    if (!gatewayId || parts[3] !== 'gateway') return;
    const body = parseJsonObject(payload);
    if (!body) return; // not ours to judge: a retained empty payload clears a topic
    if (parts[5] === 'status' && parts.length === 6) {
      const state: GatewayState = { id: gatewayId, online: body.online === true, ts: String(body.ts ?? new Date().toISOString()), version: typeof body.version === 'string' ? body.version : undefined };
      this.gateways.set(gatewayId, state);
      this.bus.emit('gateway', { gatewayId, site: this.opts.site, online: state.online, ts: state.ts });
    } else if (parts[5] === 'command' && parts[6] === 'response') {
      const pending = typeof body.transaction === 'string' ? this.pending.get(body.transaction) : undefined;
      if (!pending) return;
      clearTimeout(pending.timer);
      this.pending.delete(body.transaction as string);
      pending.resolve(body as unknown as CommandResponse);
    }
  }

  /** Sends a command to a gateway and waits for its response (or a timeout error response). */
  command<D = unknown>(gatewayId: string, command: GatewayCommandName, params: Record<string, unknown> = {}, timeoutMs = 5000): Promise<CommandResponse<D>> {
    const transaction = randomUUID();
    const req: CommandRequest = { transaction, command, params, ts: new Date().toISOString() };
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(transaction);
        resolve({ transaction, status: 'error', error: { code: 'TIMEOUT', message: `gateway ${gatewayId} did not answer within ${timeoutMs} ms` }, ts: new Date().toISOString() });
      }, timeoutMs);
      this.pending.set(transaction, { resolve: resolve as (r: CommandResponse) => void, timer });
      this.client?.publish(topics.gatewayCommand(this.opts.site, gatewayId), JSON.stringify(req), { qos: 1 });
    });
  }

  status() {
    return { connected: this.connected, url: this.opts.url.replace(/\/\/[^@]*@/, '//'), gateways: [...this.gateways.values()] };
  }

  async stop(): Promise<void> {
    this.unsubscribeBus?.();
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    const client = this.client;
    if (!client) return;
    if (client.connected) await this.publishPresence(false)?.catch(() => undefined);
    await client.endAsync();
    this.client = null;
  }
}

