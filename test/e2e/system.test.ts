import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { connect } from 'node:net';
import { loadConfig } from '../../server/config.js';
import { startShelfsense, type Running } from '../../server/main.js';
import { Gateway } from '../../gateway/gateway.js';
import { topics, type PingData } from '../../contract/mqtt.js';
import { lendablePair, staffClient, startMosquitto } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

async function startSystem(mqttOverride?: { embedded: false; url: string }): Promise<Running> {
  const dataDir = mkdtempSync(join(tmpdir(), 'shelfsense-e2e-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const config = loadConfig({
    dataDir, site: 'e2e', http: { port: 0 }, mqtt: mqttOverride ?? { port: 0, wsPort: 0 }, sip2: { port: 0 }, demo: { devices: false },
  }, {});
  const running = await startShelfsense(config, { log: () => undefined });
  cleanups.push(() => running.stop());
  return running;
}

/** The whole chain a desk checkout walks: HTTP → circulation core → SQLite → MQTT event; and back. */
async function checkoutAndCheckin(running: Running) {
  const gw = new Gateway({ site: 'e2e', gatewayId: 'gw-e2e', mqttUrl: running.mqttUrl });
  const seen = new Promise<void>((resolve) => { const off = running.bus.on('gateway', (e) => { if (e.gatewayId === 'gw-e2e' && e.online) { off(); resolve(); } }); });
  await gw.start();
  cleanups.push(() => gw.stop());
  await seen;
  const pong = await running.link.command<PingData>('gw-e2e', 'ping');
  expect(pong).toMatchObject({ status: 'ok', data: { gatewayId: 'gw-e2e' } });

  const watcher = await mqtt.connectAsync(running.mqttUrl, { protocolVersion: 4 });
  cleanups.push(() => watcher.endAsync());
  await watcher.subscribeAsync(topics.circulationEvent('e2e'), { qos: 1 });
  const events: { op: string; outcome: string; channel: string }[] = [];
  watcher.on('message', (_t, p) => events.push(JSON.parse(p.toString())));

  const health = await (await fetch(`${running.httpUrl}/api/v1/health`)).json() as any;
  expect(health.mqtt.connected).toBe(true);
  expect(health.mqtt.gateways).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'gw-e2e', online: true })]));

  const creds = running.seeded!.credentials;
  const librarian = creds.staff.find((s) => s.role === 'librarian')!;
  const desk = await staffClient(running.httpUrl, librarian.username, librarian.password);
  const { barcode, cardNumber } = lendablePair(running.db);
  const branchId = (running.db.prepare('SELECT home_branch FROM item WHERE barcode = ?').get(barcode) as { home_branch: string }).home_branch;

  const out = await desk.post('/circulation/checkout', { cardNumber, barcode, branchId, txnId: 'e2e-out-1' });
  expect(out.status).toBe(200);
  expect(out.body.item.barcode).toBe(barcode);
  expect(Date.parse(out.body.dueAt)).toBeGreaterThan(Date.now());
  expect((await desk.get(`/items/by-barcode/${encodeURIComponent(barcode)}`)).body.status).toBe('on_loan');

  // A retried request with the same transaction id does not lend twice.
  const again = await desk.post('/circulation/checkout', { cardNumber, barcode, branchId, txnId: 'e2e-out-1' });
  expect(again.body.loan.id).toBe(out.body.loan.id);
  expect(running.db.prepare('SELECT count(*) AS n FROM loan WHERE item_id = ?').get(out.body.item.id)).toEqual({ n: 1 });

  const back = await desk.post('/circulation/checkin', { barcode, branchId, txnId: 'e2e-in-1' });
  expect(back.status).toBe(200);
  expect(back.body.wasOnLoan).toBe(true);
  expect(back.body.disposition.action).toBe('reshelve');
  expect((await desk.get(`/items/by-barcode/${encodeURIComponent(barcode)}`)).body.status).toBe('available');

  await expect.poll(() => events.map((e) => `${e.op}:${e.outcome}`), { timeout: 5000 }).toEqual(['checkout:ok', 'checkin:ok']);

  // A third-party self-check machine lends the same item over SIP2, through the same core.
  const account = creds.sip2Accounts.find((a) => a.branchId === branchId)!;
  const sip = await sip2Session(running.sip2!.port);
  expect(await sip.send(`9300CN${account.login}|CO${account.password}|CPdesk|`)).toBe('941');
  const sipOut = await sip.send(`11YN20261124    120000                  AO${account.institutionId}|AA${cardNumber}|AB${barcode}|AC|`);
  expect(sipOut.slice(0, 3)).toBe('121');
  expect(sipOut).toContain(`AB${barcode}`);
  sip.close();
  expect((await desk.get(`/items/by-barcode/${encodeURIComponent(barcode)}`)).body.status).toBe('on_loan');
  await expect.poll(() => events.at(-1)?.channel, { timeout: 5000 }).toBe('sip2');
}

async function sip2Session(port: number) {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((r) => socket.once('connect', () => r()));
  let buffer = '';
  const waiting: ((line: string) => void)[] = [];
  socket.on('data', (d) => {
    buffer += d.toString('utf8');
    let i: number;
    while ((i = buffer.indexOf('\r')) >= 0) { const line = buffer.slice(0, i); buffer = buffer.slice(i + 1); waiting.shift()?.(line); }
  });
  return {
    send: (msg: string) => new Promise<string>((resolve) => { waiting.push(resolve); socket.write(`${msg}\r`); }),
    close: () => socket.destroy(),
  };
}

describe('the whole system in one process', () => {
  it('checks an item out and in through the HTTP API with the embedded broker', async () => {
    const running = await startSystem();
    expect(running.broker).not.toBeNull();
    expect(running.seeded).not.toBeNull();
    await checkoutAndCheckin(running);
  });

  it('profiles the demo library at its first start, in a worker, and serves the CRM from it', async () => {
    const running = await startSystem();
    const summary = await running.crm.recompute(); // joins the startup recompute
    expect(summary.patrons).toBeGreaterThanOrEqual(300);
    expect(summary.profiled).toBeGreaterThan(100);
    const librarian = running.seeded!.credentials.staff.find((s) => s.role === 'librarian')!;
    const desk = await staffClient(running.httpUrl, librarian.username, librarian.password);
    const segments = (await desk.get('/crm/segments')).body;
    expect(segments.runId).toBe(summary.runId);
    expect(segments.segments.some((s: any) => s.kind === 'tier' && s.count >= 10)).toBe(true);

    const reader = running.db.prepare(`SELECT pp.patron_id FROM patron_profile pp JOIN patron_consent c ON c.patron_id = pp.patron_id
        WHERE c.profiling = 1 AND pp.loans_total >= 10 ORDER BY pp.patron_id LIMIT 1`).pluck().get() as number;
    const profile = (await desk.get(`/crm/patrons/${reader}/profile`)).body;
    expect(profile.derived.readingProfile.classes.length).toBeGreaterThan(0);
    expect(profile.derived.recommendations.length).toBe(10);
    // Key patrons got the demo's two services, which the circulation policy now reads.
    const key = (await desk.get('/crm/key-patrons')).body.keyPatrons[0];
    expect(running.db.prepare('SELECT extra_days, extra_loans FROM patron_policy_extra WHERE patron_id = ?').get(key.patronId)).toEqual({ extra_days: 14, extra_loans: 5 });
    const analytics = (await desk.get('/crm/analytics')).body;
    expect(analytics.keyPatrons.count).toBe(summary.keyPatrons);
    expect(analytics.openCases.open).toBeGreaterThan(0);
  });

  it('does the same against an external Mosquitto broker', async () => {
    const mosquitto = await startMosquitto();
    cleanups.push(() => mosquitto.stop());
    const running = await startSystem({ embedded: false, url: mosquitto.url });
    expect(running.broker).toBeNull();
    await checkoutAndCheckin(running);
  });
});
