import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Adapter } from 'zigbee-herdsman/dist/adapter/adapter.js';
import { MQTT_PROTOCOL_VERSION, topics, type GatewayConfigPayload } from '../../../contract/mqtt.js';
import { DRIVERS } from '../../../gateway/readers/drivers.js';
import { GatewayRuntime } from '../../../gateway/runtime.js';
import { startBroker, type EmbeddedBroker } from '../../../server/mqtt/broker.js';
import { FakeAdapter, SimDevice } from './herdsman-fake-adapter.js';

// The gateway process as a site with a coordinator runs it: the server's configuration says
// `source: 'herdsman'`, the runtime builds zigbee-herdsman's real Controller on the configured port
// (here Adapter.create hands it the in-process coordinator) and switches back to zigbee2mqtt on request.

const SITE = 'hzr';
const GW = 'gw-hz';
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); vi.restoreAllMocks(); });

const until = async (what: string, cond: () => boolean, ms = 15_000) => {
  for (const deadline = Date.now() + ms; !cond(); await new Promise((r) => setTimeout(r, 20))) if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
};

describe('GatewayRuntime with a Zigbee coordinator', () => {
  it('starts the herdsman source when the configuration asks for it, keeps a network identity of its own, and stops it when switched to zigbee2mqtt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shelfsense-hzr-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const adapters: FakeAdapter[] = [];
    const air = new Map<number, SimDevice>();
    vi.spyOn(Adapter, 'create').mockImplementation(async (net, serial, backupPath, opts) => { adapters.push(new FakeAdapter(net, serial, backupPath, opts, air)); return adapters.at(-1)!; });
    const broker: EmbeddedBroker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: 0 });
    cleanups.push(() => broker.close());
    const client: MqttClient = await mqtt.connectAsync(broker.url, { protocolVersion: MQTT_PROTOCOL_VERSION });
    cleanups.push(() => client.endAsync());
    const statuses: Record<string, unknown>[] = [];
    await client.subscribeAsync(topics.envSourceStatus(SITE, GW), { qos: 1 });
    client.on('message', (_t, p) => { if (p.length) statuses.push(JSON.parse(p.toString())); });

    const runtime = new GatewayRuntime({
      site: SITE, gatewayId: GW, mqttUrl: broker.url, dataDir: join(dir, 'gw'), drivers: DRIVERS,
      coordinator: { port: '/dev/ttyZIGBEE0', adapter: 'ember', channel: 20 },
    });
    await runtime.start();
    cleanups.push(() => runtime.stop());
    const config = (source: 'herdsman' | 'zigbee2mqtt'): GatewayConfigPayload => ({
      gatewayId: GW, ts: new Date().toISOString(), readers: [],
      zigbee: { source, baseTopic: 'zigbee2mqtt', devices: [{ id: 'rr-ac', ieee: '0x00158d0001a2b3c7', role: 'ac', zoneId: 'rr' }] },
    });
    await client.publishAsync(topics.gatewayConfig(SITE, GW), JSON.stringify(config('herdsman')), { qos: 1, retain: true });
    await until('the coordinator online', () => statuses.some((s) => s.source === 'herdsman' && s.coordinatorOnline === true));
    expect(adapters).toHaveLength(1);
    // The coordinator was given the configured port and channel, and a random network of this site's own.
    const identity = JSON.parse(readFileSync(join(dir, 'gw', 'herdsman', 'network.json'), 'utf8')) as { panID: number; networkKey: number[] };
    expect(identity.networkKey).toHaveLength(16);
    expect(identity.panID).not.toBe(0x1a62);
    const args = vi.mocked(Adapter.create).mock.calls[0]!;
    expect(args[0]).toMatchObject({ panID: identity.panID, networkKey: identity.networkKey, channelList: [20] });
    expect(args[1]).toMatchObject({ path: '/dev/ttyZIGBEE0', adapter: 'ember' });

    await client.publishAsync(topics.gatewayConfig(SITE, GW), JSON.stringify(config('zigbee2mqtt')), { qos: 1, retain: true });
    await until('the coordinator stopped', () => statuses.at(-1)?.source === 'zigbee2mqtt' || (statuses.filter((s) => s.source === 'herdsman').at(-1)?.coordinatorOnline === false));
    await runtime.settled();
    expect(statuses.filter((s) => s.source === 'herdsman').at(-1)).toMatchObject({ coordinatorOnline: false });
  });
});
