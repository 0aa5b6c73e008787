import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { MQTT_PROTOCOL_VERSION } from '../../contract/mqtt.js';
import { Outbox } from '../../gateway/outbox.js';
import { startBroker, type EmbeddedBroker } from '../../server/mqtt/broker.js';
import { freePort } from '../e2e/helpers.js';

const until = async (cond: () => boolean, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!cond()) { if (Date.now() > deadline) throw new Error('condition not met in time'); await new Promise((r) => setTimeout(r, 20)); }
};

describe('gateway outbox', () => {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

  it('keeps events on disk while the broker is away and delivers them in order afterwards, across a restart', async () => {
    const port = await freePort();
    const file = join(mkdtempSync(join(tmpdir(), 'shelfsense-outbox-')), 'outbox.db');
    const url = `mqtt://127.0.0.1:${port}`;
    const connect = () => mqtt.connect(url, { protocolVersion: MQTT_PROTOCOL_VERSION, reconnectPeriod: 100, connectTimeout: 1000 });

    // The gateway starts while no broker listens, queues 3 events, and goes down.
    let client: MqttClient = connect();
    let outbox = new Outbox(file);
    outbox.attach(client);
    for (const n of [1, 2, 3]) outbox.enqueue('site/reader/r1/tag', { id: `e${n}` });
    expect(outbox.pending).toBe(3);
    outbox.close();
    await client.endAsync(true);

    // It comes back, queues 2 more, and the broker appears.
    client = connect();
    outbox = new Outbox(file);
    cleanups.push(() => client.endAsync(true), () => outbox.close());
    outbox.attach(client);
    for (const n of [4, 5]) outbox.enqueue('site/reader/r1/tag', { id: `e${n}` });
    expect(outbox.pending).toBe(5);

    const broker: EmbeddedBroker = await startBroker({ host: '127.0.0.1', port, wsPort: 0 });
    cleanups.push(() => broker.close());
    const received: string[] = [];
    const listener = mqtt.connect(url, { protocolVersion: MQTT_PROTOCOL_VERSION });
    cleanups.push(() => listener.endAsync(true));
    await new Promise<void>((r) => listener.once('connect', () => r()));
    await listener.subscribeAsync('site/#', { qos: 1 });
    listener.on('message', (_t, p) => received.push(JSON.parse(p.toString()).id));

    await until(() => received.length === 5);
    expect(received).toEqual(['e1', 'e2', 'e3', 'e4', 'e5']);
    await until(() => outbox.pending === 0);
  });
});
