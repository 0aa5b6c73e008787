/**
 * A simulated zigbee2mqtt instance on MQTT: the Zigbee devices of a gateway's configuration, grouped
 * into rooms by zoneId, publishing what zigbee2mqtt 2.x publishes on its base topic:
 * - `<base>/bridge/state` `{"state":"online"}`, retained, QoS 1 (lib/mqtt.ts onConnect; `offline` at disconnect);
 * - `<base>/bridge/devices`, retained: the coordinator, then every device (lib/extension/bridge.ts publishDevices);
 * - `<base>/<name>/availability` `{"state":"online"|"offline"}`, retained, QoS 1 (lib/extension/availability.ts);
 * - `<base>/<name>`: the whole cached state, keys sorted (lib/controller.ts publishEntityState). zigbee2mqtt
 *   retains it only with the device option `retain: true`; we retain by default (retainState) so a gateway
 *   that (re)connects gets the current state at once.
 * It takes `<base>/<name>/set[/<attr>]` and `<base>/<name>/get[/<attr>]` as lib/extension/publish.ts parses
 * them (JSON object; with an attribute, its JSON or raw value; a bare ON/OFF/TOGGLE/OPEN/CLOSE/STOP as {state}).
 * Simulated time = simStart + wall time elapsed × speed; rooms and devices advance in 1 s steps. Everything
 * runs on one queue, so set/get, triggers and ticks never interleave. Tests inject a manual clock and
 * pass tickMs null, then move time with tick().
 */
import type { MqttClient } from 'mqtt';
import type { ZigbeeDeviceConfig } from '../../contract/mqtt.js';
import { Room, hashString, type RoomOptions, type Weather, type WeatherPreset } from './room.js';
import { ROLES, SimDevice, coordinatorEntry, stableStringify, type Payload, type Role, type TriggerKind } from './devices.js';

export type Z2mClient = Pick<MqttClient, 'publishAsync' | 'subscribeAsync' | 'unsubscribeAsync' | 'on' | 'removeListener'>;
export interface WallClock { now(): number }

export interface SimulatedZigbee2MqttOptions {
  client: Z2mClient;
  /** zigbee2mqtt's mqtt.base_topic (default `zigbee2mqtt`). */
  baseTopic?: string;
  devices: ZigbeeDeviceConfig[];
  /** Simulated seconds per wall second (default 1). */
  speed?: number;
  /** Wall time source, ms (default Date.now). */
  clock?: WallClock;
  /** Simulated time at start (default the wall clock's now): sets the time of day of the weather cycle. */
  simStart?: Date;
  seed?: number;
  /** Wall ms between automatic ticks (default 1000); null: time moves only by tick(). */
  tickMs?: number | null;
  /** Retain device state messages (default true; zigbee2mqtt's per-device `retain` option). */
  retainState?: boolean;
  /** Per-room options (size, light…); key is the zoneId, or `device:<id>` for a device without a zone. */
  room?: (key: string) => RoomOptions;
  log?: (line: string) => void;
}

const STATE_VALUES = ['on', 'off', 'toggle', 'open', 'close', 'stop'];
const STEP_MS = 1000;
type Msg = { topic: string; payload: string; retain: boolean; qos: 0 | 1 };

export class SimulatedZigbee2Mqtt {
  readonly baseTopic: string;
  private readonly client: Z2mClient;
  private readonly clock: WallClock;
  private readonly speed: number;
  private readonly seed: number;
  private readonly log: (line: string) => void;
  private readonly rooms = new Map<string, Room>();
  private readonly devices = new Map<string, SimDevice>();
  private readonly wallStart: number;
  private readonly simStart: number;
  private simMs: number;
  private timer: ReturnType<typeof setInterval> | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private running = false;
  private readonly coordinator: string;
  /** Weather set for every room (key null), also given to rooms made later. */
  private siteWeather: WeatherPreset | Partial<Weather> | null = null;

  constructor(private readonly opts: SimulatedZigbee2MqttOptions) {
    this.client = opts.client;
    this.baseTopic = opts.baseTopic ?? 'zigbee2mqtt';
    this.clock = opts.clock ?? { now: () => Date.now() };
    this.speed = opts.speed ?? 1;
    if (!(this.speed > 0)) throw new RangeError('speed must be > 0');
    this.seed = opts.seed ?? 1;
    this.log = opts.log ?? (() => {});
    this.wallStart = this.clock.now();
    this.simStart = this.simMs = (opts.simStart ?? new Date(this.wallStart)).getTime();
    this.coordinator = `0x00124b00${hashString(this.baseTopic, this.seed).toString(16).padStart(8, '0')}`;
    this.build(opts.devices);
  }

  /** Simulated now. */
  get now(): Date { return new Date(this.simMs); }
  room(key: string): Room | undefined { return this.rooms.get(key); }
  device(id: string): SimDevice | undefined { return this.devices.get(id); }

  /** Subscribes to set/get, publishes the bridge, every device's availability and state, starts ticking. */
  start(): Promise<void> {
    return this.run(async () => {
      this.client.on('message', this.onMessage);
      this.client.on('connect', this.onConnect);
      this.running = true;
      await this.subscribe([...this.devices.values()]);
      await this.send(this.announce());
      const tickMs = this.opts.tickMs === undefined ? 1000 : this.opts.tickMs;
      if (tickMs !== null) {
        this.timer = setInterval(() => { this.tick().catch((e) => this.log(`zigbee2mqtt sim: ${e instanceof Error ? e.message : e}`)); }, tickMs);
        this.timer.unref?.();
      }
    });
  }

  /** Publishes bridge offline (as zigbee2mqtt does on shutdown) and stops. */
  stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    return this.run(async () => {
      if (!this.running) return;
      this.client.removeListener('message', this.onMessage);
      this.client.removeListener('connect', this.onConnect);
      const goodbye = async () => {
        await this.send([this.msg('bridge/state', JSON.stringify({ state: 'offline' }), true, 1)]);
        this.running = false;
        await this.client.unsubscribeAsync([...this.devices.values()].flatMap((d) => this.commandTopics(d))).catch(() => undefined);
      };
      // Bounded: with the broker gone, a QoS 1 publish (or an unsubscribe) would wait for its acknowledgement forever.
      await Promise.race([goodbye(), new Promise((r) => setTimeout(r, 2000).unref())]);
      this.running = false;
    });
  }

  /** Brings simulated time up to the clock, publishing every report that falls due on the way. */
  tick(): Promise<void> { return this.run(() => this.advance()); }

  /** Outdoor weather of one room (zoneId or `device:<id>`), or of every room when key is null. */
  setWeather(key: string | null, weather: WeatherPreset | Partial<Weather>): Promise<void> {
    return this.run(async () => {
      await this.advance();
      if (key === null) this.siteWeather = weather;
      for (const r of key === null ? this.rooms.values() : [this.mustRoom(key)]) r.setWeather(weather);
    });
  }
  setOccupancy(key: string, people: number): Promise<void> {
    return this.run(async () => { await this.advance(); this.mustRoom(key).setOccupancy(people); });
  }
  /** A physical event at a device: smoke fills its room (every smoke detector there reports), the others are local. */
  trigger(deviceId: string, kind: TriggerKind, value: boolean): Promise<void> {
    return this.run(async () => {
      await this.advance();
      const d = this.mustDevice(deviceId);
      await this.send([...(d.trigger(kind, value, this.simMs) ? [this.stateMsg(d)] : []), ...this.due(this.simMs)]);
    });
  }
  /** Takes a device off the network (availability offline, no more reports or answers) or brings it back. */
  setOffline(deviceId: string, offline: boolean): Promise<void> {
    return this.run(async () => {
      await this.advance();
      const d = this.mustDevice(deviceId);
      if (d.online === !offline) return;
      d.online = !offline;
      await this.send([this.availabilityMsg(d), ...(offline ? [] : [this.stateMsg(d)])]);
    });
  }

  /** Follows a new configuration: keeps unchanged devices (and their rooms), clears the retained topics of removed ones. */
  setDevices(devices: ZigbeeDeviceConfig[]): Promise<void> {
    return this.run(async () => {
      await this.advance();
      const before = new Map(this.devices);
      this.build(devices, before);
      const removed = [...before.values()].filter((d) => this.devices.get(d.id) !== d);
      const added = [...this.devices.values()].filter((d) => before.get(d.id) !== d);
      if (!this.running) return;
      await this.client.unsubscribeAsync(removed.flatMap((d) => this.commandTopics(d))).catch(() => undefined);
      await this.subscribe(added);
      await this.send([...removed.flatMap((d) => [this.msg(d.name, '', true, 0), this.msg(`${d.name}/availability`, '', true, 1)]), this.devicesMsg(),
        ...added.flatMap((d) => [this.availabilityMsg(d), this.stateMsg(d)])]);
    });
  }

  private build(configs: ZigbeeDeviceConfig[], keep = new Map<string, SimDevice>()): void {
    this.devices.clear();
    for (const c of configs) {
      const role = c.role as Role;
      if (!c.z2mName || !ROLES.includes(role)) { this.log(`zigbee2mqtt sim: skipping ${c.id} (role ${c.role}${c.z2mName ? '' : ', no z2mName'})`); continue; }
      const old = keep.get(c.id);
      const key = c.zoneId ?? `device:${c.id}`;
      if (old && old.name === c.z2mName && old.role === role && old.config.intervalS === c.intervalS && old.room === this.rooms.get(key)) { this.devices.set(c.id, old); continue; }
      let room = this.rooms.get(key);
      if (!room) {
        room = new Room({ seed: hashString(key, this.seed), start: new Date(this.simMs), ...this.opts.room?.(key), id: key });
        if (this.siteWeather) room.setWeather(this.siteWeather);
        this.rooms.set(key, room);
      }
      this.devices.set(c.id, new SimDevice({ ...c, z2mName: c.z2mName }, role, room, this.seed));
    }
  }

  private async advance(): Promise<void> {
    const target = this.simStart + (this.clock.now() - this.wallStart) * this.speed;
    const out: Msg[] = [];
    while (this.simMs < target) {
      const dt = Math.min(STEP_MS, target - this.simMs);
      for (const r of this.rooms.values()) r.step(dt / 1000);
      this.simMs += dt;
      out.push(...this.due(this.simMs));
    }
    await this.send(out);
  }

  private due(now: number): Msg[] {
    return [...this.devices.values()].filter((d) => d.tick(now)).map((d) => this.stateMsg(d));
  }

  private readonly onMessage = (topic: string, payload: Buffer): void => {
    const prefix = `${this.baseTopic}/`;
    if (!topic.startsWith(prefix) || topic.startsWith(`${prefix}bridge/`)) return;
    const m = /^(.+?)\/(get|set)(?:\/([^/]+))?$/.exec(topic.slice(prefix.length));
    const d = m && [...this.devices.values()].find((x) => x.name === m[1]);
    if (!m || !d) return;
    const text = payload.toString('utf8');
    let msg: Payload | null = null;
    if (m[3]) { try { msg = { [m[3]]: JSON.parse(text) }; } catch { msg = { [m[3]]: text }; } } else {
      try { const v: unknown = JSON.parse(text); msg = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Payload) : null; } catch {
        msg = STATE_VALUES.includes(text.toLowerCase()) ? { state: text } : null;
      }
    }
    if (!msg) { this.log(`zigbee2mqtt sim: invalid message on ${topic}`); return; }
    const body = msg;
    void this.run(async () => {
      await this.advance();
      const answered = m[2] === 'set' ? d.set(body, this.simMs) : d.get(Object.keys(body), this.simMs);
      if (answered) await this.send([this.stateMsg(d)]);
    }).catch((e) => this.log(`zigbee2mqtt sim: ${e instanceof Error ? e.message : e}`));
  };

  /** After a reconnect, publish everything again: the broker may have lost its retained messages (zigbee2mqtt lib/mqtt.ts
   *  onConnect publishes bridge/state, then republishes its retained messages for brokers that do not persist them). */
  private readonly onConnect = (): void => {
    void this.run(async () => {
      if (!this.running) return;
      await this.subscribe([...this.devices.values()]);
      await this.send(this.announce());
    }).catch((e) => this.log(`zigbee2mqtt sim: ${e instanceof Error ? e.message : e}`));
  };

  private announce(): Msg[] {
    return [this.msg('bridge/state', JSON.stringify({ state: 'online' }), true, 1), this.devicesMsg(),
      ...[...this.devices.values()].flatMap((d) => [this.availabilityMsg(d), this.stateMsg(d)])];
  }

  private run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private mustRoom(key: string): Room {
    const r = this.rooms.get(key);
    if (!r) throw new Error(`no simulated room ${key} (rooms: ${[...this.rooms.keys()].join(', ')})`);
    return r;
  }
  private mustDevice(id: string): SimDevice {
    const d = this.devices.get(id);
    if (!d) throw new Error(`no simulated Zigbee device ${id}`);
    return d;
  }

  private commandTopics(d: SimDevice): string[] {
    return ['set', 'set/+', 'get', 'get/+'].map((s) => `${this.baseTopic}/${d.name}/${s}`);
  }
  private async subscribe(devices: SimDevice[]): Promise<void> {
    if (devices.length) await this.client.subscribeAsync(devices.flatMap((d) => this.commandTopics(d)), { qos: 1 });
  }
  private msg(sub: string, payload: string, retain: boolean, qos: 0 | 1): Msg { return { topic: `${this.baseTopic}/${sub}`, payload, retain, qos }; }
  private devicesMsg(): Msg {
    return this.msg('bridge/devices', stableStringify([coordinatorEntry(this.coordinator), ...[...this.devices.values()].map((d) => d.entry())]), true, 0);
  }
  private availabilityMsg(d: SimDevice): Msg { return this.msg(`${d.name}/availability`, JSON.stringify({ state: d.online ? 'online' : 'offline' }), true, 1); }
  private stateMsg(d: SimDevice): Msg { return this.msg(d.name, stableStringify(d.payload()), this.opts.retainState ?? true, 0); }
  private async send(msgs: Msg[]): Promise<void> {
    if (!this.running || !msgs.length) return;
    await Promise.all(msgs.map((m) => this.client.publishAsync(m.topic, m.payload, { retain: m.retain, qos: m.qos })));
  }
}
