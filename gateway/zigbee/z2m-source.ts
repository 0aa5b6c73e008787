import { randomUUID } from 'node:crypto';
import {
  parseJsonObject, topics, type EnvAvailabilityPayload, type EnvReadingPayload, type GatewayConfigPayload, type ZigbeeDeviceConfig,
} from '../../contract/mqtt.js';
import { CommandError, type Gateway } from '../gateway.js';
import type { Outbox } from '../outbox.js';
import {
  DEFAULT_BASE_TOPIC, checkSetPayload, classifyTopic, fitWarningMode, getPayload, isValidBaseTopic, kindOfRole, normaliseState, parseBridgeDevices,
  parseBridgeEvent, parseOnline, parseWarningModes, readingTime, type Z2mDevice,
} from './z2m-normalise.js';

export interface Zigbee2MqttSourceDeps {
  gateway: Gateway;
  outbox: Outbox;
  log?: (line: string) => void;
}

/** Retained on topics.envSourceStatus: the Zigbee network as this gateway's zigbee2mqtt source sees it. */
export interface EnvSourceStatusPayload {
  source: 'zigbee2mqtt';
  bridgeOnline: boolean;
  ts: string;
  devices: { id: string; z2mName: string; known: boolean; exposes: string[]; online?: boolean }[];
}

type Device = ZigbeeDeviceConfig & { z2mName: string };

/**
 * The gateway's zigbee2mqtt source. zigbee2mqtt runs on the site's broker; this follows its base
 * topic, turns device state into the contract's readings (through the outbox), mirrors availability
 * and the bridge's device registry, and executes the server's zigbee.set / zigbee.get commands by
 * publishing to `<base>/<name>/set|get`.
 */
export class Zigbee2MqttSource {
  private base = DEFAULT_BASE_TOPIC;
  private active = false;
  private running = false;
  private byName = new Map<string, Device>();
  private byId = new Map<string, Device>();
  /** Bases with a Gateway subscription (Gateway has no unsubscribe: handlers stay, and ignore old bases). */
  private readonly subscribed = new Set<string>();
  private brokerBase: string | null = null;
  private bridgeOnline = false;
  /** Everything zigbee2mqtt reported, by friendly name, configured or not: a config change needs no re-read. */
  private registry = new Map<string, Z2mDevice>();
  /** The warning modes of the sirens in the registry that list them, by friendly name. */
  private warningModes = new Map<string, string[]>();
  private availability = new Map<string, boolean>();
  private readonly publishedAvailability = new Map<string, boolean>();
  private lastStatus = '';
  readonly stats = { readings: 0, unconfigured: 0, malformed: 0, invalidValues: 0, empty: 0 };

  constructor(private readonly deps: Zigbee2MqttSourceDeps) {}

  start(): void {
    this.running = true;
    this.deps.gateway.handle('zigbee.set', (p) => this.zigbeeSet(p));
    this.deps.gateway.handle('zigbee.get', (p) => this.zigbeeGet(p));
    if (this.active) this.follow();
  }

  /** Applies the configuration's zigbee part; a source other than zigbee2mqtt switches this one off. */
  setConfig(zigbee: GatewayConfigPayload['zigbee']): void {
    const base = (typeof zigbee.baseTopic === 'string' ? zigbee.baseTopic.trim() : '') || DEFAULT_BASE_TOPIC;
    if (!isValidBaseTopic(base)) { this.log(`ignored the configuration: base topic '${base}' is not usable`); return; }
    const devices = new Map<string, Device>();
    for (const d of Array.isArray(zigbee.devices) ? zigbee.devices : []) {
      if (typeof d?.id !== 'string' || typeof d.z2mName !== 'string' || d.z2mName === '') continue; // herdsman devices (ieee only), junk
      if (devices.has(d.z2mName)) { this.log(`device ${d.id}: friendly name '${d.z2mName}' already used by ${devices.get(d.z2mName)!.id}`); continue; }
      devices.set(d.z2mName, { ...d, z2mName: d.z2mName });
    }
    const wasActive = this.active;
    this.active = zigbee.source === 'zigbee2mqtt';
    this.byName = this.active ? devices : new Map();
    this.byId = new Map([...this.byName.values()].map((d) => [d.id, d]));
    if (base !== this.base || !wasActive) { // what we knew is stale: the (re)subscription brings the retained messages again
      this.base = base;
      this.bridgeOnline = false;
      this.registry = new Map();
      this.warningModes = new Map();
      this.availability = new Map();
    }
    if (!this.active) { this.unfollow(); return; }
    if (this.running) this.follow();
    this.syncAvailability();
    this.publishStatus();
  }

  stop(): void { this.running = false; }

  /** Stops the broker sending `<base>/#` (the Gateway would subscribe it again after a reconnect; its handler then ignores it). */
  private unfollow(): void {
    if (this.brokerBase !== null) this.deps.gateway.mqtt?.unsubscribe(`${this.brokerBase}/#`);
    this.brokerBase = null;
  }

  /** Subscribes `<base>/#`; on a base change, drops the old one at the broker and gets the new one's retained messages. */
  private follow(): void {
    const { gateway } = this.deps;
    if (this.brokerBase === this.base) return;
    this.unfollow();
    if (!this.subscribed.has(this.base)) {
      const base = this.base;
      this.subscribed.add(base);
      gateway.subscribe(`${base}/#`, (topic, payload) => this.onMessage(base, topic, payload));
    } else if (gateway.mqtt?.connected) {
      // MQTT 3.1.1 §3.8.4: a SUBSCRIBE identical to an existing one re-sends the retained messages.
      gateway.mqtt.subscribe(`${this.base}/#`, { qos: 1 });
    }
    this.brokerBase = this.base;
  }

  private onMessage(base: string, topic: string, payload: Buffer): void {
    if (!this.running || !this.active || base !== this.base) return;
    const t = classifyTopic(base, topic, this.byName.keys());
    switch (t.kind) {
      case 'bridge': return this.onBridge(t.sub, payload);
      case 'state': return this.onState(this.byName.get(t.name)!, payload);
      case 'availability': return this.onAvailability(t.name, payload);
      case 'unconfigured': this.stats.unconfigured++; return;
      default: return; // requests (ours too), attribute output, endpoint topics
    }
  }

  private onState(device: Device, payload: Buffer): void {
    if (payload.length === 0) return; // a retained state cleared (device removed or renamed)
    const msg = parseJsonObject(payload);
    if (!msg) { this.stats.malformed++; this.log(`device ${device.id}: ignored a state that is not a JSON object`); return; }
    const { values, invalid } = normaliseState(msg);
    if (invalid.length) { this.stats.invalidValues += invalid.length; this.log(`device ${device.id}: dropped ${invalid.join(', ')} (wrong type or range)`); }
    if (Object.keys(values).length === 0) { this.stats.empty++; return; }
    const { site, gatewayId } = this.deps.gateway.opts;
    const reading: EnvReadingPayload = { id: randomUUID(), ts: readingTime(msg, new Date()), gatewayId, deviceId: device.id, source: 'zigbee2mqtt', values };
    this.stats.readings++;
    this.deps.outbox.enqueue(topics.envReading(site), reading);
  }

  private onAvailability(name: string, payload: Buffer): void {
    const configured = this.byName.has(name);
    if (!configured) this.stats.unconfigured++;
    // zigbee2mqtt availability.ts: an empty retained payload clears a renamed device's old topic.
    if (payload.length === 0) this.availability.delete(name);
    else {
      const online = parseOnline(payload);
      if (online === null) { this.stats.malformed++; this.log(`'${name}': ignored availability ${JSON.stringify(payload.toString().slice(0, 40))}`); return; }
      this.availability.set(name, online);
    }
    if (!configured) return;
    this.syncAvailability();
    this.publishStatus();
  }

  private onBridge(sub: string, payload: Buffer): void {
    if (sub === 'state') {
      const online = parseOnline(payload);
      if (online === null) { this.stats.malformed++; return; }
      if (online !== this.bridgeOnline) this.log(`bridge ${online ? 'online' : 'offline'}`);
      this.bridgeOnline = online;
    } else if (sub === 'devices') {
      const list = parseBridgeDevices(payload);
      if (!list) { this.stats.malformed++; this.log('ignored a bridge/devices that is not a JSON array'); return; }
      this.registry = new Map(list.map((d) => [d.friendlyName, d]));
      this.warningModes = parseWarningModes(payload);
    } else if (sub === 'event') {
      const ev = parseBridgeEvent(parseJsonObject(payload));
      if (!ev) { this.stats.malformed++; return; }
      this.onEvent(ev);
    } else return; // bridge/info, bridge/logging, bridge/response/…, bridge/definitions, bridge/groups
    this.publishStatus();
  }

  private onEvent(ev: NonNullable<ReturnType<typeof parseBridgeEvent>>): void {
    const name = ev.friendlyName ?? [...this.registry.values()].find((d) => d.ieee === ev.ieee)?.friendlyName;
    const who = `'${name ?? '?'}' (${ev.ieee ?? '?'})`;
    this.log(`${ev.type}${ev.status ? ` ${ev.status}` : ''} ${who}${name && this.byName.has(name) ? ` = device ${this.byName.get(name)!.id}` : ''}`);
    if (!name) return;
    // zigbee2mqtt bridge.ts: each of these is followed by a fresh bridge/devices, which settles the details.
    if (ev.type === 'device_leave') this.registry.delete(name);
    else if (ev.type === 'device_interview' && ev.device) this.registry.set(name, ev.device);
    else if ((ev.type === 'device_joined' || ev.type === 'device_interview' || ev.type === 'device_announce') && !this.registry.has(name)) {
      this.registry.set(name, { friendlyName: name, ieee: ev.ieee ?? '', type: 'Unknown', exposes: [], kind: null });
    }
  }

  /** Publishes (retained) each configured device's availability that is known and not yet published as such. */
  private syncAvailability(): void {
    const { site } = this.deps.gateway.opts;
    for (const d of this.byName.values()) {
      const online = this.availability.get(d.z2mName);
      if (online === undefined || this.publishedAvailability.get(d.id) === online) continue;
      this.publishedAvailability.set(d.id, online);
      const p: EnvAvailabilityPayload = { deviceId: d.id, online, ts: new Date().toISOString() };
      this.deps.outbox.enqueue(topics.envAvailability(site, d.id), p, true);
    }
  }

  /** The source status, retained, whenever anything in it (but the time) changed. */
  private publishStatus(): void {
    const devices = [...this.byName.values()].map((d) => {
      const z = this.registry.get(d.z2mName);
      const online = this.availability.get(d.z2mName);
      return { id: d.id, z2mName: d.z2mName, known: z !== undefined, exposes: z?.exposes ?? [], ...(online === undefined ? {} : { online }) };
    });
    const key = JSON.stringify([this.bridgeOnline, devices]);
    if (key === this.lastStatus) return;
    this.lastStatus = key;
    const { site, gatewayId } = this.deps.gateway.opts;
    const status: EnvSourceStatusPayload = { source: 'zigbee2mqtt', bridgeOnline: this.bridgeOnline, ts: new Date().toISOString(), devices };
    this.deps.outbox.enqueue(topics.envSourceStatus(site, gatewayId), status, true);
  }

  private device(p: Record<string, unknown>): Device {
    if (typeof p.deviceId !== 'string' || p.deviceId === '') throw new CommandError('BAD_REQUEST', 'deviceId is required');
    const d = this.byId.get(p.deviceId);
    if (!d) throw new CommandError('UNKNOWN_DEVICE', `no zigbee2mqtt device ${p.deviceId} on this gateway`);
    return d;
  }

  /** Commands go straight to the broker, never through the outbox: an actuation must not happen late. */
  private async publish(d: Device, suffix: 'set' | 'get', body: Record<string, unknown>): Promise<{ deviceId: string }> {
    const client = this.deps.gateway.mqtt;
    if (!this.running || !this.bridgeOnline || !client?.connected) throw new CommandError('SOURCE_OFFLINE', 'zigbee2mqtt is offline');
    // zigbee2mqtt publish.ts: `<base>/<name>/set` and `<base>/<name>/get` with a JSON object.
    await client.publishAsync(`${this.base}/${d.z2mName}/${suffix}`, JSON.stringify(body), { qos: 1 });
    return { deviceId: d.id };
  }

  /** The zigbee.set command (public so that a dispatcher over several sources can call it). */
  async zigbeeSet(p: Record<string, unknown>): Promise<{ deviceId: string }> {
    const d = this.device(p);
    const kind = kindOfRole(d.role) ?? this.registry.get(d.z2mName)?.kind ?? null;
    if (!kind) throw new CommandError('BAD_REQUEST', `device ${d.id} (${d.role}) takes no set commands`);
    const check = checkSetPayload(kind, p.payload);
    if (!check.ok) throw new CommandError('BAD_REQUEST', check.error);
    const payload = kind === 'warning' ? fitWarningMode(check.payload, this.warningModes.get(d.z2mName)) : check.payload;
    if (payload !== check.payload) this.log(`device ${d.id}: warning mode ${String((check.payload.warning as Record<string, unknown>).mode)} sent as emergency (the device takes ${this.warningModes.get(d.z2mName)!.join(', ')})`);
    return this.publish(d, 'set', payload);
  }

  /** The zigbee.get command. */
  async zigbeeGet(p: Record<string, unknown>): Promise<{ deviceId: string }> {
    const d = this.device(p);
    const body = getPayload(p.keys);
    if (!body) throw new CommandError('BAD_REQUEST', 'keys must be a non-empty list of property names');
    return this.publish(d, 'get', body);
  }

  private log(line: string): void { this.deps.log?.(`zigbee2mqtt: ${line}`); }
}
