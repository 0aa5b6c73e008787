import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { MQTT_PROTOCOL_VERSION, topics, type ReaderConfig } from '../../contract/mqtt.js';
import { loadConfig } from '../../server/config.js';
import { startShelfsense, type Running } from '../../server/main.js';
import type { RfidBusEvent } from '../../server/bus.js';
import { GatewayRuntime } from '../../gateway/runtime.js';
import { DRIVERS } from '../../gateway/readers/drivers.js';
import { SIMULATORS } from '../../firmware-sim/rfid/protocols.js';
import { ReaderField } from '../../firmware-sim/rfid/field.js';
import { TagPopulation } from '../../firmware-sim/rfid/population.js';
import { openMockLine, type MockLine } from '../../firmware-sim/serial/mock-line.js';
import type { SimTag } from '../../firmware-sim/rfid/tag.js';

export interface SimulatedSite {
  running: Running;
  gateways: GatewayRuntime[];
  /** Each reader's simulated RF field, by reader id. */
  fields: Map<string, ReaderField>;
  population: TagPopulation;
  /** Everything the RFID feature put on the bus. */
  rfidEvents: RfidBusEvent[];
  /** Messages on the site's reader topics (gate alarms, sorter bins, entrance decisions). */
  readerMessages: { topic: string; body: any }[];
  /** The simulated tag of an item (by barcode) or card (by card number), made from the database. */
  itemTag(barcode: string): SimTag;
  cardTag(cardNumber: string): SimTag;
  stop(): Promise<void>;
}

/**
 * The whole library in one process: broker, server with the demo library, the demo's gateways
 * (in-process GatewayRuntime with the real drivers), and every reader played by its simulator on
 * an in-process serial line (SerialPortMock). Only the RF field is simulated.
 */
export async function startSimulatedSite(opts: { mqtt?: { embedded: false; url: string }; pollMs?: number; smtpUrl?: string } = {}): Promise<SimulatedSite> {
  const dataDir = mkdtempSync(join(tmpdir(), 'shelfsense-rfid-'));
  const config = loadConfig({
    dataDir, site: 'rfid', http: { port: 0 }, mqtt: opts.mqtt ?? { port: 0, wsPort: 0 }, sip2: { enabled: false }, demo: { devices: false },
    ...(opts.smtpUrl ? { mail: { smtpUrl: opts.smtpUrl, from: 'Library <library@example.org>' } } : {}),
  }, {});
  const running = await startShelfsense(config, { log: () => undefined });
  const fields = new Map<string, ReaderField>();
  const lines: MockLine[] = [];
  const rfidEvents: RfidBusEvent[] = [];
  running.bus.on('rfid', (e) => rfidEvents.push(e));

  const watcher: MqttClient = await mqtt.connectAsync(running.mqttUrl, { protocolVersion: MQTT_PROTOCOL_VERSION });
  const readerMessages: { topic: string; body: any }[] = [];
  await watcher.subscribeAsync(`shelfsense/v1/rfid/reader/+/+`, { qos: 1 });
  watcher.on('message', (topic, p) => { if (!topic.endsWith('/tag') && !topic.endsWith('/status')) readerMessages.push({ topic, body: JSON.parse(p.toString()) }); });

  const openStream = async (cfg: ReaderConfig) => {
    const line = await openMockLine(`${cfg.port}-${lines.length}`, cfg.baudRate ?? 38400);
    lines.push(line);
    const field = fields.get(cfg.id) ?? new ReaderField(Math.max(1, cfg.antennas), lines.length);
    fields.set(cfg.id, field);
    SIMULATORS[cfg.protocol](cfg, field).attach(line.device);
    return line.host;
  };
  const gatewayIds = (running.db.prepare("SELECT id FROM device WHERE kind = 'gateway' ORDER BY id").all() as { id: string }[]).map((r) => r.id);
  const gateways: GatewayRuntime[] = [];
  for (const gatewayId of gatewayIds) {
    const gw = new GatewayRuntime({
      site: 'rfid', gatewayId, mqttUrl: running.mqttUrl, dataDir: join(dataDir, 'gateway', gatewayId), drivers: DRIVERS, openStream,
    });
    await gw.start();
    gateways.push(gw);
  }
  // The retained configuration reaches each gateway, which opens its readers.
  const readerCount = (running.db.prepare("SELECT count(*) AS n FROM device WHERE kind = 'reader'").get() as { n: number }).n;
  const deadline = Date.now() + 10_000;
  while (fields.size < readerCount) {
    if (Date.now() > deadline) throw new Error(`only ${fields.size} of ${readerCount} readers opened`);
    await new Promise((r) => setTimeout(r, 20));
  }
  if (opts.pollMs) for (const gw of gateways) await gw.settled();

  const population = new TagPopulation();
  const itemTag = (barcode: string) => {
    if (population.has(`item:${barcode}`)) return population.get(`item:${barcode}`);
    const row = running.db.prepare('SELECT tag_uid, owner_isil, status FROM item WHERE barcode = ?').get(barcode) as { tag_uid: string; owner_isil: string | null; status: string };
    const onLoan = row.status === 'on_loan';
    return population.add({ uid: row.tag_uid, item: barcode, isil: row.owner_isil ?? '', afi: onLoan ? 0xc2 : 0x07, eas: !onLoan });
  };
  const cardTag = (cardNumber: string) => {
    if (population.has(`card:${cardNumber}`)) return population.get(`card:${cardNumber}`);
    const row = running.db.prepare('SELECT card_tag_uid FROM patron WHERE card_number = ?').get(cardNumber) as { card_tag_uid: string };
    return population.add({ uid: row.card_tag_uid, card: cardNumber });
  };

  return {
    running, gateways, fields, population, rfidEvents, readerMessages, itemTag, cardTag,
    async stop() {
      await watcher.endAsync();
      for (const gw of gateways) await gw.stop();
      for (const l of lines) await l.close();
      await running.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const until = async (what: string, cond: () => boolean, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

export { topics };
