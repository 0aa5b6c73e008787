import { randomUUID } from 'node:crypto';
import type { Controller, Events, Models, setLogger } from 'zigbee-herdsman';
import { topics, type EnvAvailabilityPayload, type EnvReadingPayload, type ZigbeeDeviceConfig } from '../../contract/mqtt.js';
import { CommandError, type Gateway } from '../gateway.js';
import type { Outbox } from '../outbox.js';
import { commandFromPayload, readingFromMessage, readsFromKeys } from './herdsman-convert.js';

/** What the source uses of zigbee-herdsman's Controller (controller.d.ts, 10.9.5). */
export type ControllerLike = Pick<Controller, 'start' | 'stop' | 'on' | 'off' | 'getDeviceByIeeeAddr' | 'isAdapterDisconnected'>;

export interface HerdsmanSourceDeps {
  gateway: Gateway;
  outbox: Outbox;
  /** A zigbee-herdsman Controller, constructed (not started) by the caller. One per process: herdsman's device cache is module-wide. */
  controller: ControllerLike;
  log?: (line: string) => void;
  /** How often availability timeouts are checked (default 60 s). */
  availabilityCheckMs?: number;
  /** zigbee2mqtt's availability defaults (guide/configuration/device-availability): routers and mains devices 10 min, the others 25 h. */
  activeTimeoutMs?: number;
  passiveTimeoutMs?: number;
  /** Timeout of one ZCL command to a device (herdsman's default is 10 s). */
  commandTimeoutMs?: number;
}

/** Retained on topics.envSourceStatus: the Zigbee network as this gateway's herdsman source sees it. */
export interface HerdsmanSourceStatusPayload {
  source: 'herdsman';
  coordinatorOnline: boolean;
  ts: string;
  /** One entry per configured device; the network fields only while the coordinator is online. */
  devices: { id: string; ieee: string; inNetwork?: boolean; interview?: string; networkAddress?: number; modelId?: string; online?: boolean }[];
}

type Device = ZigbeeDeviceConfig & { ieee: string };
/** Endpoint.command / read with the cluster known at run time only (herdsman types their arguments per literal cluster name). */
interface LooseEndpoint {
  command(cluster: string, command: string, payload: Record<string, unknown>, options: { timeout: number }): Promise<unknown>;
  read(cluster: string, attributes: string[], options: { timeout: number }): Promise<unknown>;
}
type Listener = [event: string, fn: (...args: never[]) => void];

/** An IEEE address as herdsman writes it (`0x` + 16 lower-case hex digits), from `0x…`, bare hex or `aa:bb:…`; null if it is none. */
export function normaliseIeee(ieee: string): string | null {
  const hex = ieee.trim().toLowerCase().replace(/^0x/, '').replace(/[:-]/g, '');
  return /^[0-9a-f]{16}$/.test(hex) ? `0x${hex}` : null;
}

/** zigbee-herdsman's logger (pass to its setLogger) on our log line: info and up, debug only when asked (it logs every frame). */
export function herdsmanLogger(log: (line: string) => void, debug = false): Parameters<typeof setLogger>[0] {
  const text = (m: string | (() => string)) => (typeof m === 'function' ? m() : m);
  return {
    debug: (m, ns) => { if (debug) log(`${ns}: ${text(m)}`); },
    info: (m, ns) => log(`${ns}: ${text(m)}`),
    warning: (m, ns) => log(`${ns}: warning: ${text(m)}`),
    error: (m, ns) => log(`${ns}: error: ${m}`),
  };
}

/**
 * The gateway's zigbee-herdsman source: drives the coordinator directly (no zigbee2mqtt), turns ZCL
 * reports into the contract's readings, keeps availability and the network's status (all through the
 * outbox), and executes zigbee.set / zigbee.get as ZCL commands and reads on the device's endpoint.
 */
export class HerdsmanSource {
  private byIeee = new Map<string, Device>();
  private byId = new Map<string, Device>();
  private running = false;
  /** controller.start() resolved: stop() must then call controller.stop(), which clears its timers, even after a disconnect. */
  private controllerStarted = false;
  private coordinatorOnline = false;
  private readonly published = new Map<string, boolean>();
  private lastStatus = '';
  private timer: NodeJS.Timeout | null = null;
  private readonly listeners: Listener[] = [];
  readonly stats = { readings: 0, unconfigured: 0, empty: 0 };

  constructor(private readonly deps: HerdsmanSourceDeps) {}

  /** Registers the commands and starts the coordinator; resolves false (logged, status published) when it cannot be started. */
  async start(): Promise<boolean> {
    if (this.running) return this.coordinatorOnline;
    const { gateway, controller } = this.deps;
    gateway.handle('zigbee.set', (p) => this.set(p));
    gateway.handle('zigbee.get', (p) => this.get(p));
    this.listen('message', (m: Events.MessagePayload) => this.onMessage(m));
    this.listen('lastSeenChanged', (e: Events.LastSeenChangedPayload) => this.onSeen(e.device.ieeeAddr));
    this.listen('deviceJoined', (e: Events.DeviceJoinedPayload) => this.onNetworkEvent('joined', e.device.ieeeAddr));
    this.listen('deviceAnnounce', (e: Events.DeviceAnnouncePayload) => this.onNetworkEvent('announced itself', e.device.ieeeAddr));
    this.listen('deviceInterview', (e: Events.DeviceInterviewPayload) => this.onNetworkEvent(`interview ${e.status}`, e.device.ieeeAddr));
    this.listen('deviceLeave', (e: Events.DeviceLeavePayload) => this.onNetworkEvent('left', e.ieeeAddr));
    this.listen('adapterDisconnected', () => { this.coordinatorOnline = false; this.log('coordinator disconnected'); this.publishStatus(); });
    this.running = true;
    try {
      const result = await controller.start();
      this.controllerStarted = true;
      this.coordinatorOnline = true;
      this.log(`coordinator started (${result})`);
    } catch (e) {
      this.log(`coordinator did not start: ${e instanceof Error ? e.message : String(e)}`);
      this.publishStatus();
      return false;
    }
    this.checkAvailability();
    this.publishStatus();
    this.timer = setInterval(() => this.checkAvailability(), this.deps.availabilityCheckMs ?? 60_000);
    this.timer.unref();
    return true;
  }

  /** The configured devices (those with an IEEE address); messages from other devices are counted and dropped. */
  setDevices(devices: ZigbeeDeviceConfig[]): void {
    const byIeee = new Map<string, Device>();
    for (const d of devices) {
      if (d.ieee === undefined) continue; // zigbee2mqtt devices (friendly name only)
      const ieee = normaliseIeee(d.ieee);
      if (!ieee) { this.log(`device ${d.id}: '${d.ieee}' is not an IEEE address`); continue; }
      if (byIeee.has(ieee)) { this.log(`device ${d.id}: ${ieee} already used by ${byIeee.get(ieee)!.id}`); continue; }
      byIeee.set(ieee, { ...d, ieee });
    }
    this.byIeee = byIeee;
    this.byId = new Map([...byIeee.values()].map((d) => [d.id, d]));
    for (const id of this.published.keys()) if (!this.byId.has(id)) this.published.delete(id);
    this.checkAvailability();
    this.publishStatus();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const [event, fn] of this.listeners.splice(0)) this.deps.controller.off(event as 'message', fn as never);
    this.coordinatorOnline = false;
    if (this.controllerStarted) {
      this.controllerStarted = false;
      try { await this.deps.controller.stop(); } catch (e) { this.log(`stopping the coordinator failed: ${e instanceof Error ? e.message : String(e)}`); }
    }
    this.publishStatus();
  }

  private listen<A>(event: string, fn: (arg: A) => void): void {
    const safe = (arg: A) => { try { fn(arg); } catch (e) { this.log(`${event} handler failed: ${e instanceof Error ? e.message : String(e)}`); } };
    this.listeners.push([event, safe as Listener[1]]);
    this.deps.controller.on(event as 'message', safe as never);
  }

  private onMessage(m: Events.MessagePayload): void {
    const d = this.byIeee.get(m.device.ieeeAddr);
    if (!d) { this.stats.unconfigured++; return; }
    const values = readingFromMessage(m, d.role);
    if (Object.keys(values).length === 0) { this.stats.empty++; return; }
    if (typeof m.linkquality === 'number') values.linkquality = m.linkquality;
    const { site, gatewayId } = this.deps.gateway.opts;
    const reading: EnvReadingPayload = { id: randomUUID(), ts: new Date().toISOString(), gatewayId, deviceId: d.id, source: 'herdsman', values };
    this.stats.readings++;
    this.enqueue(topics.envReading(site), reading, false);
  }

  private onSeen(ieee: string): void {
    const d = this.byIeee.get(ieee);
    if (d) this.setAvailability(d, true);
  }

  private onNetworkEvent(what: string, ieee: string): void {
    const d = this.byIeee.get(ieee);
    this.log(`${ieee}${d ? ` (device ${d.id})` : ''} ${what}`);
    if (d && what === 'left') this.setAvailability(d, false);
    if (d) this.publishStatus();
  }

  /** The herdsman device of a configured one, while the coordinator runs (undefined when not in the network). */
  private networkDevice(d: Device): Models.Device | undefined {
    return this.coordinatorOnline ? this.deps.controller.getDeviceByIeeeAddr(d.ieee) : undefined;
  }

  /** Online = heard from within the timeout (2 × its reporting interval when configured). */
  private checkAvailability(): void {
    if (!this.running || !this.coordinatorOnline) return;
    const now = Date.now();
    for (const d of this.byIeee.values()) {
      const dev = this.networkDevice(d);
      const active = dev?.type === 'Router' || /^(Mains|DC)/.test(dev?.powerSource ?? '');
      const timeout = d.intervalS ? 2 * d.intervalS * 1000 : active ? (this.deps.activeTimeoutMs ?? 600_000) : (this.deps.passiveTimeoutMs ?? 90_000_000);
      this.setAvailability(d, dev?.lastSeen !== undefined && now - dev.lastSeen <= timeout);
    }
  }

  private setAvailability(d: Device, online: boolean): void {
    if (this.published.get(d.id) === online) return;
    this.published.set(d.id, online);
    const p: EnvAvailabilityPayload = { deviceId: d.id, online, ts: new Date().toISOString() };
    this.enqueue(topics.envAvailability(this.deps.gateway.opts.site, d.id), p, true);
    this.publishStatus();
  }

  /** The source status, retained, whenever anything in it (but the time) changed. */
  private publishStatus(): void {
    const devices = [...this.byIeee.values()].map((d) => {
      const entry: HerdsmanSourceStatusPayload['devices'][number] = { id: d.id, ieee: d.ieee };
      if (this.coordinatorOnline) {
        const dev = this.networkDevice(d);
        entry.inNetwork = dev !== undefined;
        if (dev) Object.assign(entry, { interview: dev.interviewState, networkAddress: dev.networkAddress, ...(dev.modelID ? { modelId: dev.modelID } : {}) });
      }
      const online = this.published.get(d.id);
      return online === undefined ? entry : { ...entry, online };
    });
    const key = JSON.stringify([this.coordinatorOnline, devices]);
    if (key === this.lastStatus) return;
    this.lastStatus = key;
    const { site, gatewayId } = this.deps.gateway.opts;
    const status: HerdsmanSourceStatusPayload = { source: 'herdsman', coordinatorOnline: this.coordinatorOnline, ts: new Date().toISOString(), devices };
    this.enqueue(topics.envSourceStatus(site, gatewayId), status, true);
  }

  private enqueue(topic: string, payload: unknown, retain: boolean): void {
    try { this.deps.outbox.enqueue(topic, payload, retain); } catch (e) { this.log(`dropped an event for ${topic}: ${e instanceof Error ? e.message : String(e)}`); }
  }

  private device(p: Record<string, unknown>): Device {
    if (typeof p.deviceId !== 'string' || p.deviceId === '') throw new CommandError('BAD_REQUEST', 'deviceId is required');
    const d = this.byId.get(p.deviceId);
    if (!d) throw new CommandError('UNKNOWN_DEVICE', `no zigbee-herdsman device ${p.deviceId} on this gateway`);
    return d;
  }

  /** The endpoint that serves a cluster (an input cluster in its simple descriptor). */
  private endpoint(d: Device, cluster: string): LooseEndpoint {
    if (!this.running || !this.coordinatorOnline || this.deps.controller.isAdapterDisconnected()) throw new CommandError('SOURCE_OFFLINE', 'the Zigbee coordinator is offline');
    const dev = this.networkDevice(d);
    if (!dev) throw new CommandError('UNKNOWN_DEVICE', `device ${d.id} (${d.ieee}) is not in the Zigbee network`);
    const ep = dev.endpoints.find((e) => e.supportsInputCluster(cluster));
    if (!ep) throw new CommandError('BAD_REQUEST', `device ${d.id} has no ${cluster} cluster`);
    return ep as unknown as LooseEndpoint;
  }

  /** Network failures (no ack, no route, herdsman's timeouts) answer TIMEOUT; a lost coordinator SOURCE_OFFLINE. */
  private async send<T>(d: Device, what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      if (this.deps.controller.isAdapterDisconnected()) throw new CommandError('SOURCE_OFFLINE', 'the Zigbee coordinator is offline');
      throw new CommandError('TIMEOUT', `device ${d.id}: ${what} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private async set(p: Record<string, unknown>): Promise<{ deviceId: string }> {
    const d = this.device(p);
    const check = commandFromPayload(p.payload);
    if (!check.ok) throw new CommandError('BAD_REQUEST', check.error);
    const { cluster, command, payload } = check.command;
    const ep = this.endpoint(d, cluster);
    const timeout = this.deps.commandTimeoutMs ?? 10_000;
    // Endpoint.command waits for the device's Default Response (ZCL §2.5.12) unless it is disabled; a failure status is the device's refusal.
    const rsp = await this.send(d, `${cluster}.${command}`, () => ep.command(cluster, command, payload, { timeout })) as { statusCode?: number } | undefined;
    if (rsp?.statusCode !== undefined && rsp.statusCode !== 0) {
      throw new CommandError('BAD_REQUEST', `device ${d.id} refused ${cluster}.${command} (ZCL status 0x${rsp.statusCode.toString(16)})`);
    }
    return { deviceId: d.id };
  }

  /** Reads the attributes behind the keys; the values come back as a readResponse message, hence as a reading. */
  private async get(p: Record<string, unknown>): Promise<{ deviceId: string }> {
    const d = this.device(p);
    const check = readsFromKeys(p.keys);
    if (!check.ok) throw new CommandError('BAD_REQUEST', check.error);
    const reads = [...check.reads].map(([cluster, attributes]) => ({ ep: this.endpoint(d, cluster), cluster, attributes }));
    const timeout = this.deps.commandTimeoutMs ?? 10_000;
    for (const r of reads) await this.send(d, `read ${r.cluster}`, () => r.ep.read(r.cluster, r.attributes, { timeout }));
    return { deviceId: d.id };
  }

  private log(line: string): void { this.deps.log?.(`herdsman: ${line}`); }
}
