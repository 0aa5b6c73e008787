import mqtt, { type MqttClient } from 'mqtt';
import {
  MQTT_PROTOCOL_VERSION, parseJsonObject, topics, type CommandResponse, type PingData, type PresencePayload,
} from '../contract/mqtt.js';

export interface GatewayOptions {
  site: string;
  gatewayId: string;
  mqttUrl: string;
  username?: string;
  password?: string;
  version?: string;
}

/**
 * The edge process at a library site. It announces itself (retained status, last will for a lost
 * connection) and answers the server's commands. Reader drivers and Zigbee sources register here.
 */
export class Gateway {
  private client: MqttClient | null = null;
  private readonly startedAt = Date.now();

  constructor(readonly opts: GatewayOptions) {}

  get connected() { return this.client?.connected ?? false; }

  async start(): Promise<void> {
    const { site, gatewayId } = this.opts;
    const will: PresencePayload = { id: gatewayId, online: false, ts: new Date().toISOString() };
    const client = mqtt.connect(this.opts.mqttUrl, {
      protocolVersion: MQTT_PROTOCOL_VERSION,
      clientId: `shelfsense-gateway-${site}-${gatewayId}`,
      username: this.opts.username,
      password: this.opts.password,
      reconnectPeriod: 1000,
      will: { topic: topics.gatewayStatus(site, gatewayId), payload: Buffer.from(JSON.stringify(will)), qos: 1, retain: true },
    });
    this.client = client;
    client.on('connect', () => {
      client.subscribe(topics.gatewayCommand(site, gatewayId), { qos: 1 });
      this.publishPresence(true);
    });
    client.on('message', (_topic, payload) => this.onCommand(payload));
    client.on('error', (e) => console.error(`gateway ${gatewayId}: mqtt: ${e.message}`));
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  }

  private uptimeS() { return Math.round((Date.now() - this.startedAt) / 1000); }

  private publishPresence(online: boolean) {
    const p: PresencePayload = { id: this.opts.gatewayId, online, ts: new Date().toISOString(), version: this.opts.version, uptimeS: this.uptimeS() };
    return this.client?.publishAsync(topics.gatewayStatus(this.opts.site, this.opts.gatewayId), JSON.stringify(p), { qos: 1, retain: true });
  }

  private onCommand(payload: Buffer) {
    const req = parseJsonObject(payload);
    if (!req || typeof req.transaction !== 'string') return; // no transaction: nobody to answer
    const ts = new Date().toISOString();
    let res: CommandResponse;
    if (req.command === 'ping') {
      const data: PingData = { gatewayId: this.opts.gatewayId, uptimeS: this.uptimeS() };
      res = { transaction: req.transaction, status: 'ok', data, ts };
    } else {
      res = { transaction: req.transaction, status: 'error', error: { code: 'UNKNOWN_COMMAND', message: `unknown command ${String(req.command)}` }, ts };
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
