import { afterEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { startBroker, type EmbeddedBroker } from '../../../server/mqtt/broker.js';
import { MqttLink } from '../../../server/mqtt/link.js';
import { EventBus, type BusEvents } from '../../../server/bus.js';
import { Gateway } from '../../../gateway/gateway.js';
import { topics, type PingData } from '../../../contract/mqtt.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

async function broker(opts: { username?: string; password?: string } = {}): Promise<EmbeddedBroker> {
  const b = await startBroker({ host: '127.0.0.1', port: 0, wsPort: 0, ...opts });
  cleanups.push(() => b.close());
  return b;
}

function waitFor<T>(bus: EventBus, topic: 'gateway', pred: (e: BusEvents['gateway']) => boolean): Promise<BusEvents['gateway']> {
  return new Promise((resolve) => { const off = bus.on(topic, (e) => { if (pred(e)) { off(); resolve(e); } }); });
}

describe('server MQTT link and gateway presence', () => {
  it('sees a gateway come online, pings it over request/response, and sees it go offline by its last will', async () => {
    const b = await broker();
    const bus = new EventBus();
    const link = new MqttLink({ url: b.url, site: 'test', version: '0.0.0' }, bus);
    await link.start();
    cleanups.push(() => link.stop());

    const online = waitFor(bus, 'gateway', (e) => e.gatewayId === 'gw-a' && e.online);
    const gw = new Gateway({ site: 'test', gatewayId: 'gw-a', mqttUrl: b.url });
    await gw.start();
    expect((await online).site).toBe('test');
    expect(link.status().gateways).toEqual([expect.objectContaining({ id: 'gw-a', online: true })]);

    const pong = await link.command<PingData>('gw-a', 'ping');
    expect(pong.status).toBe('ok');
    expect(pong.status === 'ok' && pong.data.gatewayId).toBe('gw-a');

    // The gateway's connection dies without a goodbye: the broker publishes its will.
    const offline = waitFor(bus, 'gateway', (e) => e.gatewayId === 'gw-a' && !e.online);
    (gw as any).client.stream.destroy();
    (gw as any).client.options.reconnectPeriod = 0;
    await offline;
    await (gw as any).client.endAsync(true);
  });

  it('answers a command to an absent gateway with a TIMEOUT error response', async () => {
    const b = await broker();
    const link = new MqttLink({ url: b.url, site: 'test', version: '0.0.0' }, new EventBus());
    await link.start();
    cleanups.push(() => link.stop());
    const res = await link.command('nobody', 'ping', {}, 200);
    expect(res).toMatchObject({ status: 'error', error: { code: 'TIMEOUT' } });
  });

  it('publishes circulation events at QoS 1 with a unique id', async () => {
    const b = await broker();
    const bus = new EventBus();
    const link = new MqttLink({ url: b.url, site: 'test', version: '0.0.0' }, bus);
    await link.start();
    cleanups.push(() => link.stop());
    const sub = await mqtt.connectAsync(b.url, { protocolVersion: 4 });
    cleanups.push(() => sub.endAsync());
    await sub.subscribeAsync(topics.circulationEvent('test'), { qos: 1 });
    const got = new Promise<{ payload: any; qos: number }>((resolve) => sub.on('message', (_t, p, packet) => resolve({ payload: JSON.parse(p.toString()), qos: packet.qos })));
    bus.emit('circulation', {
      id: 42, ts: '2026-11-24T10:00:00.000Z', op: 'checkout', outcome: 'ok', reason: null, channel: 'desk', actor: 'librarian',
      branchId: 'main', patronId: 7, itemId: 9, loanId: 3, holdId: null, detail: null,
    });
    const { payload, qos } = await got;
    expect(qos).toBe(1);
    expect(payload).toEqual({ id: 'circ-42', ts: '2026-11-24T10:00:00.000Z', op: 'checkout', outcome: 'ok', reason: null, channel: 'desk', branchId: 'main', itemId: 9, loanId: 3, holdId: null });
    expect(payload).not.toHaveProperty('patronId'); // who borrowed what stays off the bus
  });

  it('refuses clients without the configured credentials', async () => {
    const b = await broker({ username: 'site', password: 's3cret' });
    await expect(mqtt.connectAsync(b.url, { protocolVersion: 4, username: 'site', password: 'wrong', reconnectPeriod: 0 })).rejects.toThrow(/Bad username or password|Not authorized/i);
    const ok = await mqtt.connectAsync(b.url, { protocolVersion: 4, username: 'site', password: 's3cret' });
    expect(ok.connected).toBe(true);
    await ok.endAsync();
  });

  it('serves MQTT over WebSocket', async () => {
    const b = await broker();
    const ws = await mqtt.connectAsync(b.wsUrl, { protocolVersion: 4 });
    const tcp = await mqtt.connectAsync(b.url, { protocolVersion: 4 });
    cleanups.push(() => ws.endAsync(), () => tcp.endAsync());
    await ws.subscribeAsync('x/y', { qos: 1 });
    const got = new Promise<string>((resolve) => ws.on('message', (_t, p) => resolve(p.toString())));
    await tcp.publishAsync('x/y', 'hello', { qos: 1 });
    expect(await got).toBe('hello');
  });
});
