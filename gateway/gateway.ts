import mqtt, { type MqttClient } from 'mqtt';
import { topicMatches } from '../contract/topic-match.js';
import {
  MQTT_PROTOCOL_VERSION, sendImmediately, parseJsonObject, topics, type CommandResponse, type GatewayErrorCode, type PingData, type PresencePayload,
} from '../contract/mqtt.js';

export interface GatewayOptions {
  site: string;
  gatewayId: string;
  mqttUrl: string;
  username?: string;
  password?: string;
  version?: string;
}

/** Executes one command for the server; throw a CommandError for a specific error code. */
export type CommandHandler = (params: Record<string, unknown>) => Promise<unknown> | unknown;

export class CommandError extends Error {
  constructor(readonly code: GatewayErrorCode, message: string) {
    super(message);
    this.name = 'CommandError';
  }
}

/**
 * The edge process at a library site. It announces itself (retained status, last will for a lost
 * connection) and answers the server's commands. Reader drivers and Zigbee sources register here.
 */
export class Gateway {
  private client: MqttClient | null = null;
  private readonly startedAt = Date.now();
  private readonly handlers = new Map<string, CommandHandler>();
  private readonly subscriptions: { filter: string; handler: (topic: string, payload: Buffer) => void }[] = [];

  constructor(readonly opts: GatewayOptions) {
    this.handlers.set('ping', (): PingData => ({ gatewayId: this.opts.gatewayId, uptimeS: this.uptimeS() }));
  }

  private readonly connectListeners: (() => void)[] = [];

  /** Runs on every (re)connect to the broker, after the presence is announced (features republish their state). */
  onConnect(listener: () => void): void { this.connectListeners.push(listener); }

  /** Registers the handler of one command name (reader drivers, Zigbee sources). */
  handle(command: string, handler: CommandHandler): void { this.handlers.set(command, handler); }

  /** Follows a topic filter on the site's broker; subscriptions survive reconnects. */
  subscribe(filter: string, handler: (topic: string, payload: Buffer) => void): void {
    this.subscriptions.push({ filter, handler });
    if (this.client?.connected) this.client.subscribe(filter, { qos: 1 });
  }

  /** The MQTT client, for features that publish (null before start()). */
  get mqtt(): MqttClient | null { return this.client; }

  get connected() { return this.client?.connected ?? false; }

  async start(): Promise<void> {
    const { site, gatewayId } = this.opts;
    const will: PresencePayload = { id: gatewayId, online: false, ts: new Date().toISOString() };
    const client = sendImmediately(mqtt.connect(this.opts.mqttUrl, {
      protocolVersion: MQTT_PROTOCOL_VERSION,
      clientId: `shelfsense-gateway-${site}-${gatewayId}`,
      username: this.opts.username,
      password: this.opts.password,
      reconnectPeriod: 1000,
      will: { topic: topics.gatewayStatus(site, gatewayId), payload: Buffer.from(JSON.stringify(will)), qos: 1, retain: true },
    }));
    this.client = client;
    client.on('connect', () => {
      client.subscribe(topics.gatewayCommand(site, gatewayId), { qos: 1 });
      for (const s of this.subscriptions) client.subscribe(s.filter, { qos: 1 });
      this.publishPresence(true);
      for (const l of this.connectListeners) { try { l(); } catch (e) { console.error(`gateway ${gatewayId}: connect listener failed:`, e); } }
    });
    const commandTopic = topics.gatewayCommand(site, gatewayId);
    client.on('message', (topic, payload) => {
      if (topic === commandTopic) { void this.onCommand(payload); return; }
      for (const s of this.subscriptions) {
        if (!topicMatches(s.filter, topic)) continue;
        try { s.handler(topic, payload); } catch (e) { console.error(`gateway ${gatewayId}: handler for ${s.filter} failed:`, e); }
      }
    });
    client.on('error', (e) => console.error(`gateway ${gatewayId}: mqtt: ${e.message}`));
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  }

  private uptimeS() { return Math.round((Date.now() - this.startedAt) / 1000); }

  private publishPresence(online: boolean) {
    const p: PresencePayload = { id: this.opts.gatewayId, online, ts: new Date().toISOString(), version: this.opts.version, uptimeS: this.uptimeS() };
    return this.client?.publishAsync(topics.gatewayStatus(this.opts.site, this.opts.gatewayId), JSON.stringify(p), { qos: 1, retain: true });
  }

  private async onCommand(payload: Buffer) {
    const req = parseJsonObject(payload);
    if (!req || typeof req.transaction !== 'string') return; // no transaction: nobody to answer
    const transaction = req.transaction;
    const handler = typeof req.command === 'string' ? this.handlers.get(req.command) : undefined;
    let res: CommandResponse;
    if (!handler) {
      res = { transaction, status: 'error', error: { code: 'UNKNOWN_COMMAND', message: `unknown command ${String(req.command)}` }, ts: new Date().toISOString() };
    } else {
      const params = req.params !== null && typeof req.params === 'object' && !Array.isArray(req.params) ? (req.params as Record<string, unknown>) : {};
      try {
        res = { transaction, status: 'ok', data: await handler(params), ts: new Date().toISOString() };
      } catch (e) {
        const code = e instanceof CommandError ? e.code : 'READER_ERROR';
        res = { transaction, status: 'error', error: { code, message: e instanceof Error ? e.message : String(e) }, ts: new Date().toISOString() };
      }
    }
    this.client?.publish(topics.gatewayCommandResponse(this.opts.site, this.opts.gatewayId), JSON.stringify(res), { qos: 1 });
  }

  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    if (client.connected) await this.publishPresence(false)?.catch(() => undefined);
    await client.endAsync();
    this.client = null;
  }
}
