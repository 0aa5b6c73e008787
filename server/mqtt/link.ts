import { randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import {
  MQTT_PROTOCOL_VERSION, parseJsonObject, topics,
  type CirculationEventPayload, type CommandRequest, type CommandResponse, type GatewayCommandName, type PresencePayload,
} from '../../contract/mqtt.js';
import type { EventBus } from '../bus.js';

export interface LinkOptions {
  url: string;
  site: string;
  username?: string;
  password?: string;
  version: string;
}

interface GatewayState { id: string; online: boolean; ts: string; version?: string }

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

  constructor(private readonly opts: LinkOptions, private readonly bus: EventBus) {}

  get connected() { return this.client?.connected ?? false; }

  async start(): Promise<void> {
    const { site } = this.opts;
    const will: PresencePayload = { id: 'server', online: false, ts: new Date().toISOString() };
    const client = mqtt.connect(this.opts.url, {
      protocolVersion: MQTT_PROTOCOL_VERSION,
      clientId: `shelfsense-server-${site}-${randomUUID().slice(0, 8)}`,
      username: this.opts.username,
      password: this.opts.password,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      will: { topic: topics.serverStatus(site), payload: Buffer.from(JSON.stringify(will)), qos: 1, retain: true },
    });
    this.client = client;
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    client.on('connect', () => {
      client.subscribe([topics.gatewayStatusAll(site), topics.gatewayCommandResponseAll(site)], { qos: 1 });
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

  private onMessage(topic: string, payload: Buffer) {
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
