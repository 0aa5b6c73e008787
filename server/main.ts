import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync, readFileSync, chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { openDb, startCheckpointer, type Db } from './store/db.js';
import { dbFile, type Config } from './config.js';
import { Circulation } from './circulation/circulation.js';
import { EventBus } from './bus.js';
import { startBroker, type EmbeddedBroker } from './mqtt/broker.js';
import { MqttLink } from './mqtt/link.js';
import { createApp } from './http/app.js';
import { seedDemo, type SeedSummary } from './seed/demo.js';
import { systemClock, type Clock } from './clock.js';
import { VERSION } from './version.js';
import { startSip2Server, type RunningSip2 } from './sip2/server.js';
import type { Sip2Account } from './sip2/account.js';
import { Sip2AccountSchema } from './sip2/account.js';
import { RfidFeature } from './rfid/rfid.js';
import { publishGatewayConfigs } from './devices/gateway-config.js';
import { writeSimulatedTags } from './devices/sim-tags.js';
import { EnvironmentFeature } from './environment/environment.js';
import { writeSimulatedCameras } from './environment/cameras.js';
import { smtpMailer } from './mail.js';
import { CrmFeature } from './crm/crm.js';
import { unlinkReadingHistory } from './crm/privacy.js';
import { OutreachFeature } from './crm/outreach/outreach.js';
import { loadOrCreateSecret } from './crm/outreach/tokens.js';

const PROJECT_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

export interface StartOptions {
  clock?: Clock;
  onProgress?: (step: string, done: number, total: number) => void;
  log?: (line: string) => void;
}

export interface Running {
  config: Config;
  db: Db;
  circulation: Circulation;
  bus: EventBus;
  link: MqttLink;
  rfid: RfidFeature;
  environment: EnvironmentFeature;
  crm: CrmFeature;
  outreach: OutreachFeature;
  broker: EmbeddedBroker | null;
  sip2: RunningSip2 | null;
  httpUrl: string;
  mqttUrl: string;
  mqttWsUrl: string | null;
  seeded: SeedSummary | null;
  credentialsFile: string;
  children: ChildProcess[];
  stop(): Promise<void>;
}

const isEmpty = (db: Db) => !db.prepare('SELECT 1 FROM record LIMIT 1').get() && !db.prepare('SELECT 1 FROM patron LIMIT 1').get();

/**
 * The composition root of the server process: store, circulation core, broker (embedded or external),
 * MQTT link, HTTP API; with the demo on, it seeds an empty library and starts the site's gateway.
 */
export async function startShelfsense(config: Config, opts: StartOptions = {}): Promise<Running> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const clock = opts.clock ?? systemClock;
  const stops: (() => Promise<void> | void)[] = [];
  const stopAll = async () => { for (const s of stops.reverse()) { try { await s(); } catch (e) { console.error('stop failed:', e); } } };
  try {
    const db = openDb(dbFile(config), { synchronous: config.db.synchronous, autoCheckpoint: false });
    stops.push(() => { db.close(); });
    const checkpointer = startCheckpointer(dbFile(config), { writer: db });
    stops.push(() => checkpointer.stop());

    const credentialsFile = join(config.dataDir, 'demo-credentials.json');
    let seeded: SeedSummary | null = null;
    if (config.demo.seed && isEmpty(db)) {
      log('Seeding the demo library…');
      seeded = await seedDemo(db, { seed: config.demo.seedNumber, now: clock.now(), onProgress: opts.onProgress });
      writeFileSync(credentialsFile, JSON.stringify(seeded.credentials, null, 2));
      chmodSync(credentialsFile, 0o600);
    }

    const bus = new EventBus();
    const circulation = new Circulation(db, clock);
    circulation.onEvent((e) => bus.emit('circulation', e));

    let broker: EmbeddedBroker | null = null;
    if (config.mqtt.embedded) {
      broker = await startBroker({ host: config.mqtt.host, port: config.mqtt.port, wsPort: config.mqtt.wsPort, username: config.mqtt.username, password: config.mqtt.password });
      stops.push(() => broker!.close());
    }
    const mqttUrl = broker?.url ?? config.mqtt.url;
    if (!mqttUrl) throw new Error('mqtt.embedded is false but no mqtt.url is configured (SHELFSENSE_MQTT_URL)');
    const link = new MqttLink({ url: mqttUrl, site: config.site, username: config.mqtt.username, password: config.mqtt.password, version: VERSION }, bus);
    await link.start();
    stops.push(() => link.stop());

    const rfid = new RfidFeature({ db, circulation, bus, clock, link, kioskIdleMs: config.rfid.kioskIdleMs, log: (line) => console.error(line) });
    rfid.start();
    stops.push(() => rfid.stop());
    // Retained: each gateway gets its readers and Zigbee devices as soon as it connects.
    await publishGatewayConfigs(db, link, config.dataDir);

    const environment = new EnvironmentFeature({
      db, clock, link, bus, calendars: circulation.calendars,
      mailer: config.mail.smtpUrl ? smtpMailer(config.mail.smtpUrl, config.mail.from) : undefined,
      log: (line) => console.error(line),
      onDevicesChanged: () => { publishGatewayConfigs(db, link, config.dataDir).catch((e) => console.error(`gateway configs: ${e.message}`)); },
    });
    environment.start();
    stops.push(() => environment.stop());

    const crm = new CrmFeature({ db, clock, dbFile: dbFile(config), recomputeHourUtc: config.crm.recomputeHourUtc, log: (line) => console.error(line) });
    crm.start();
    stops.push(() => crm.stop());
    const outreach = new OutreachFeature({
      db, clock,
      secret: config.outreach.secret ?? loadOrCreateSecret(join(config.dataDir, 'outreach.secret')),
      publicUrl: config.outreach.publicUrl ?? `http://${config.http.host}:${config.http.port}`,
      mail: { smtpUrl: config.mail.smtpUrl, from: config.mail.from, ratePerSecond: config.outreach.emailRatePerSecond },
      throttle: config.outreach.throttle, dailyAt: config.outreach.dailyAt, surveyLinkDays: config.outreach.surveyLinkDays,
      log: (line) => console.error(line),
    });
    outreach.start();
    stops.push(() => outreach.stop());

    const housekeeping = setInterval(() => {
      try { circulation.expireHolds({ channel: 'system', branchId: '*', actor: 'housekeeping' }); }
      catch (e) { console.error('hold expiry failed:', e); }
      // Returned loans of patrons who keep no reading history are unlinked within the hour (docs/crm.md).
      try {
        const r = unlinkReadingHistory(db, clock.now());
        if (r.loans || r.events || r.holds || r.kioskSessions) {
          console.error(`privacy: unlinked ${r.loans} returned loans, ${r.events} events, ${r.holds} holds and ${r.kioskSessions} kiosk sessions of patrons who keep no reading history`);
        }
      } catch (e) { console.error('reading-history unlinking failed:', e); }
    }, 3_600_000);
    housekeeping.unref();
    stops.push(() => clearInterval(housekeeping));

    let sip2: RunningSip2 | null = null;
    if (config.sip2.enabled) {
      const { enabled, tlsKeyFile, tlsCertFile, accounts: configured, ...limits } = config.sip2;
      const demoAccounts = (seeded?.credentials ?? readDemoCredentials(credentialsFile))?.sip2Accounts ?? [];
      const accounts: Sip2Account[] = configured.length ? configured : config.demo.seed ? demoAccounts.map((a) => Sip2AccountSchema.parse(a)) : [];
      if (accounts.length) {
        const tls = tlsKeyFile && tlsCertFile ? { key: readFileSync(tlsKeyFile), cert: readFileSync(tlsCertFile) } : undefined;
        sip2 = await startSip2Server({ ...limits, tls, accounts, db, circulation, clock });
        stops.push(() => sip2!.close());
      } else {
        log('SIP2 is enabled but has no accounts configured (sip2.accounts); not listening');
      }
    }

    const app = createApp({ db, circulation, bus, config, clock, rfid, environment, crm, outreach, health: () => ({ mqtt: link.status(), sip2: sip2 ? { listening: true, port: sip2.port } : { listening: false } }) });
    const server: ServerType = await new Promise((resolveServer, reject) => {
      const s = serve({ fetch: app.fetch, hostname: config.http.host, port: config.http.port }, () => resolveServer(s));
      s.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE'
        ? new Error(`HTTP port ${config.http.port} on ${config.http.host} is already in use (set SHELFSENSE_HTTP_PORT)`) : e));
    });
    stops.push(() => new Promise<void>((r) => { (server as any).closeAllConnections?.(); server.close(() => r()); }));
    const httpUrl = `http://${config.http.host}:${(server.address() as AddressInfo).port}`;

    const children: ChildProcess[] = [];
    if (config.demo.devices) {
      // The simulator plays every reader on a pty in the data directory, with the library's tags.
      const simDir = join(config.dataDir, 'dev');
      const tagsFile = writeSimulatedTags(db, config.dataDir);
      writeSimulatedCameras(db, config.dataDir);
      children.push(spawnProcess('firmware-sim/main.ts', {
        SHELFSENSE_SITE: config.site, SHELFSENSE_MQTT_URL: mqttUrl, SHELFSENSE_SIM_DIR: simDir, SHELFSENSE_SIM_TAGS: tagsFile,
        ...(config.mqtt.username ? { SHELFSENSE_MQTT_USERNAME: config.mqtt.username, SHELFSENSE_MQTT_PASSWORD: config.mqtt.password ?? '' } : {}),
      }));
      const gatewayIds = (db.prepare("SELECT id FROM device WHERE kind = 'gateway' ORDER BY id").all() as { id: string }[]).map((r) => r.id);
      for (const gatewayId of gatewayIds.length ? gatewayIds : ['gw-1']) {
        children.push(spawnProcess('gateway/main.ts', {
          SHELFSENSE_SITE: config.site, SHELFSENSE_GATEWAY_ID: gatewayId, SHELFSENSE_MQTT_URL: mqttUrl,
          SHELFSENSE_GATEWAY_DIR: join(config.dataDir, 'gateway', gatewayId),
          ...(config.mqtt.username ? { SHELFSENSE_MQTT_USERNAME: config.mqtt.username, SHELFSENSE_MQTT_PASSWORD: config.mqtt.password ?? '' } : {}),
        }));
      }
      stops.push(() => Promise.all(children.map(stopChild)).then(() => undefined));
    }

    return {
      config, db, circulation, bus, link, rfid, environment, crm, outreach, broker, sip2, httpUrl, mqttUrl, mqttWsUrl: broker?.wsUrl ?? null, seeded,
      credentialsFile, children, stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

export function readDemoCredentials(file: string): SeedSummary['credentials'] | null {
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
}

function spawnProcess(entry: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin/run-ts.mjs'), join(PROJECT_ROOT, entry)], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') console.error(`${entry} exited (${signal ?? code})`);
  });
  return child;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveExit) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => { clearTimeout(timer); resolveExit(); });
    child.kill('SIGTERM');
  });
}
