import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { MQTT_PROTOCOL_VERSION, topics, type GatewayConfigPayload, type ZigbeeDeviceConfig } from '../../contract/mqtt.js';
import { addDays, localDate, weekdayOf, zonedTimeToUtc } from '../../server/circulation/calendar.js';
import { fixedClock } from '../../server/clock.js';
import { loadConfig } from '../../server/config.js';
import { startShelfsense, type Running } from '../../server/main.js';
import { HOLIDAYS } from '../../server/seed/words.js';
import { GatewayRuntime } from '../../gateway/runtime.js';
import { DRIVERS } from '../../gateway/readers/drivers.js';
import { SimulatedZigbee2Mqtt } from '../../firmware-sim/zigbee/z2m-bridge.js';
import type { RoomOptions } from '../../firmware-sim/zigbee/room.js';
import { staffClient } from './helpers.js';

export const TZ = 'Asia/Shanghai';
const MIN = 60_000;

/**
 * A local time on a Wednesday (main 08:00–22:00, medical 08:30–18:00 in the demo calendar) that is no
 * holiday, at least 3 days before the wall clock. Simulated time has to stay behind the wall clock:
 * the gateway dates a zigbee2mqtt reading when it receives it, with its own (wall) clock, and the
 * server takes min(reading time, its now), as it does for any gateway clock running ahead.
 */
export function simulatedWednesday(time: string, wallNow = new Date()): Date {
  const holidays = new Set(HOLIDAYS.map(([d]) => d));
  let date = addDays(localDate(wallNow, TZ), -3);
  while (weekdayOf(date) !== 3 || holidays.has(date)) date = addDays(date, -1);
  return zonedTimeToUtc(date, time, TZ);
}

/** The local (Asia/Shanghai) time of day of an instant, "HH:MM". */
export const localTime = (d: Date) => new Intl.DateTimeFormat('en-GB', { timeZone: TZ, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d);

export type Staff = Awaited<ReturnType<typeof staffClient>>;

export interface EnvironmentSite {
  running: Running;
  /** The one simulated clock: the server's, and (through its wall clock option) the simulated zigbee2mqtt's. */
  clock: ReturnType<typeof fixedClock>;
  bridge: SimulatedZigbee2Mqtt;
  gateways: GatewayRuntime[];
  /** The demo's librarian, signed in. */
  librarian: Staff;
  librarianName: string;
  /** What the server logged (console.error of the features), for the failure message. */
  serverLog: string[];
  /** What the gateways and the bridge logged. */
  gatewayLog: string[];
  /** Every message on the broker (but $SYS), with the simulated time it was seen at. */
  traffic: { topic: string; payload: string; at: number }[];
  /** Moves simulated time by `ms`: the devices report what fell due, the server takes it in and ticks; resolves when everything settled. */
  step(ms: number): Promise<void>;
  /** Steps of `stepMs` for `totalMs`, or until `done()` holds after a step (then resolves true). */
  run(totalMs: number, stepMs: number, done?: () => boolean | Promise<boolean>): Promise<boolean>;
  /** Waits until every message in flight (reports, readings, commands, their answers) has been handled. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The whole site in one process, in simulated time: the server with the demo library (embedded
 * aedes broker, EnvironmentFeature, HTTP), the demo's gateways as in-process GatewayRuntime (the real
 * zigbee2mqtt source on the real broker), and one simulated zigbee2mqtt bridge playing every Zigbee
 * device of the gateways' retained configurations on the same broker, as firmware-sim/main.ts does.
 * The RFID readers are not played (their lines do not open).
 */
export async function startEnvironmentSite(opts: { start: Date; room?: (key: string) => RoomOptions }): Promise<EnvironmentSite> {
  const dataDir = mkdtempSync(join(tmpdir(), 'shelfsense-env-'));
  const site = 'env';
  const clock = fixedClock(opts.start);
  const config = loadConfig({
    dataDir, site, http: { port: 0, sessionHours: 240 }, mqtt: { port: 0, wsPort: 0 }, sip2: { enabled: false }, demo: { devices: false },
  }, {});
  const serverLog: string[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => { serverLog.push(args.map(String).join(' ')); };
  const cleanups: (() => Promise<unknown> | unknown)[] = [() => { console.error = consoleError; }, () => rmSync(dataDir, { recursive: true, force: true })];
  const cleanup = async () => { for (const c of cleanups.splice(0).reverse()) { try { await c(); } catch { /* the rest still runs */ } } };
  try {
    return await start();
  } catch (e) {
    await cleanup();
    throw e;
  }

  async function start(): Promise<EnvironmentSite> {
    const running = await startShelfsense(config, { clock, log: () => undefined });
    cleanups.push(() => running.stop());

    // Broker traffic, for the assertions and to know when everything in flight has been handled.
    const traffic: EnvironmentSite['traffic'] = [];
    const count = { gen: 0, statesSent: 0, readingsPublished: 0, readingsReceived: 0, setsPublished: 0, setsReceived: 0, lastTraffic: Date.now() };
    running.broker!.aedes.on('publish', (packet, client) => {
      if (!client || packet.topic.startsWith('$SYS')) return;
      count.gen++; count.lastTraffic = Date.now();
      traffic.push({ topic: packet.topic, payload: packet.payload.toString(), at: clock.now().getTime() });
      if (packet.topic === topics.envReading(site)) count.readingsPublished++;
      else if (/^zigbee2mqtt\/.+\/set$/.test(packet.topic)) count.setsPublished++;
    });
    running.link.subscribe(topics.envReading(site), () => { count.gen++; count.readingsReceived++; });
    running.link.subscribe(topics.envAvailabilityAll(site), () => { count.gen++; });

    const gatewayLog: string[] = [];
    const gatewayIds = (running.db.prepare("SELECT id FROM device WHERE kind = 'gateway' ORDER BY id").all() as { id: string }[]).map((r) => r.id);
    const gateways: GatewayRuntime[] = [];
    for (const gatewayId of gatewayIds) {
      const gw = new GatewayRuntime({
        site, gatewayId, mqttUrl: running.mqttUrl, dataDir: join(dataDir, 'gateway', gatewayId), drivers: DRIVERS,
        openStream: () => Promise.reject(new Error('no RFID readers in the environment test')), log: (l) => gatewayLog.push(`${gatewayId}: ${l}`),
      });
      cleanups.push(() => gw.stop());
      await gw.start();
      gateways.push(gw);
    }

    // zigbee2mqtt, as the simulator runs it: one bridge per base topic, its devices from the retained gateway configurations.
    const configs = new Map<string, GatewayConfigPayload>();
    const bridgeClient: MqttClient = await mqtt.connectAsync(running.mqttUrl, {
      protocolVersion: MQTT_PROTOCOL_VERSION, clientId: `zigbee2mqtt-sim-${site}`,
      will: { topic: 'zigbee2mqtt/bridge/state', payload: Buffer.from('{"state":"offline"}'), retain: true, qos: 1 },
    });
    cleanups.push(() => bridgeClient.endAsync());
    const onConfig = (topic: string, payload: Buffer) => {
      if (!topic.endsWith('/config') || !payload.length) return;
      const c = JSON.parse(payload.toString()) as GatewayConfigPayload;
      configs.set(c.gatewayId, c);
    };
    bridgeClient.on('message', onConfig);
    await bridgeClient.subscribeAsync(topics.gatewayConfigAll(site), { qos: 1 });
    await until('the gateway configurations', () => gatewayIds.every((id) => configs.has(id)));
    bridgeClient.removeListener('message', onConfig);
    await bridgeClient.unsubscribeAsync(topics.gatewayConfigAll(site));
    const deviceNames = new Set<string>();
    const publishAsync = bridgeClient.publishAsync.bind(bridgeClient);
    // Each state message of a configured device becomes one reading at its gateway: counted here, at the source.
    bridgeClient.publishAsync = ((topic: string, ...rest: unknown[]) => {
      count.gen++;
      if (deviceNames.has(topic.slice('zigbee2mqtt/'.length))) count.statesSent++;
      return (publishAsync as (...a: unknown[]) => Promise<unknown>)(topic, ...rest);
    }) as typeof bridgeClient.publishAsync;
    bridgeClient.on('message', (topic) => { if (/^zigbee2mqtt\/.+\/set$/.test(topic)) { count.gen++; count.setsReceived++; } });
    const devices: ZigbeeDeviceConfig[] = [...configs.values()].filter((c) => c.zigbee.source === 'zigbee2mqtt').flatMap((c) => c.zigbee.devices);
    for (const d of devices) if (d.z2mName) deviceNames.add(d.z2mName);
    // As firmware-sim/main.ts: display cases and special collections are lit below their 50 lx limit.
    const roomOptions = (key: string): RoomOptions => ({ ...(/-(exhibition|special)$/.test(key) ? { artificialLux: 40 } : {}), ...opts.room?.(key) });
    const bridge = new SimulatedZigbee2Mqtt({
      client: bridgeClient, devices, clock: { now: () => clock.now().getTime() }, simStart: opts.start, tickMs: null, room: roomOptions,
      log: (l) => gatewayLog.push(l),
    });
    cleanups.push(() => bridge.stop());
    await bridge.start();
    for (const gw of gateways) await gw.settled();

    const idle = () => count.setsReceived >= count.setsPublished && count.readingsPublished >= count.statesSent
      && count.readingsReceived >= count.readingsPublished && gateways.every((g) => g.outbox.pending === 0);
    const settle = async () => {
      for (let round = 0; ; round++) {
        if (round > 200) throw new Error('the system did not settle');
        // Counted hops: a state message becomes a reading, a reading reaches the server, a set command reaches the bridge
        // (should a count never match, 200 ms without traffic will do). What is not counted (availability, source status)
        // is caught by the second look below: nothing at all may have moved meanwhile. The flush waits for 5 ms of quiet,
        // as the server's 50 ms batch does: messages that come together (a reading and an availability) are all in first.
        const deadline = Date.now() + 10_000;
        while ((!idle() || Date.now() - count.lastTraffic < 5) && Date.now() - count.lastTraffic < 200) {
          if (Date.now() > deadline) throw new Error(`still busy: ${JSON.stringify(count)}`);
          await sleep(1);
        }
        const gen = count.gen;
        running.environment.flush(); // the readings in the server's batch, now
        await running.environment.settled(); // every command answered by its gateway
        await bridge.tick(); // the bridge's queue: the set commands it received are carried out
        await sleep(2);
        if (count.gen === gen && idle()) return;
      }
    };
    await until('both gateways see the bridge online', () => gatewayIds.every((id) => traffic.some((m) => m.topic === topics.envSourceStatus(site, id) && JSON.parse(m.payload).bridgeOnline === true)));
    await settle();

    const step = async (ms: number) => {
      clock.advance(ms);
      await bridge.tick();
      await settle();
      await running.environment.tick();
      await settle();
    };

    const librarianCred = running.seeded!.credentials.staff.find((s) => s.role === 'librarian')!;
    const librarian = await staffClient(running.httpUrl, librarianCred.username, librarianCred.password);
    const librarianName = (running.db.prepare('SELECT display_name FROM staff_user WHERE username = ?').get(librarianCred.username) as { display_name: string }).display_name;

    return {
      running, clock, bridge, gateways, librarian, librarianName, serverLog, gatewayLog, traffic, step, settle,
      async run(totalMs, stepMs, done) {
        for (let t = 0; t < totalMs; t += stepMs) {
          await step(Math.min(stepMs, totalMs - t));
          if (done && (await done())) return true;
        }
        return false;
      },
      stop: cleanup,
    };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const until = async (what: string, cond: () => boolean, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
};
export { MIN };
