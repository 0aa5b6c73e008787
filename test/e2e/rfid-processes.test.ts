import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import Database from 'better-sqlite3';
import { MQTT_PROTOCOL_VERSION, topics } from '../../contract/mqtt.js';
import type { Scenario } from '../../firmware-sim/scenarios/scenario.js';
import { staffClient, startMosquitto } from './helpers.js';

// The kiosk scenario across processes, as a site runs it: `shelfsense start` (server) with an
// external Mosquitto broker, its gateway processes opening real pty device paths, and the
// firmware-sim process playing the readers on the other ends of the ptys.

const ROOT = resolve(import.meta.dirname, '../..');
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

const stop = (child: ChildProcess) => new Promise<void>((r) => {
  if (child.exitCode !== null || child.signalCode !== null) return r();
  child.once('exit', () => r());
  child.kill('SIGTERM');
});

describe('RFID across processes', () => {
  it('lends at a kiosk pad played on a pty, through a gateway process, the server process and Mosquitto', async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.stop());
    const dataDir = mkdtempSync(join(tmpdir(), 'shelfsense-procs-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const server = spawn(process.execPath, [join(ROOT, 'bin/shelfsense.mjs'), 'start', '--data-dir', dataDir, '--port', '0', '--mqtt-url', broker.url], {
      cwd: ROOT, env: { ...process.env, SHELFSENSE_SIP2_PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => stop(server));
    let out = '';
    server.stdout!.on('data', (d) => { out += d; });
    server.stderr!.on('data', (d) => { out += d; });
    await expect.poll(() => /HTTP API\s+(http:\/\/[\d.]+:\d+)/.exec(out)?.[1] ?? (server.exitCode !== null ? `exited: ${out}` : null), { timeout: 90_000, interval: 100 })
      .toMatch(/^http:/);
    const httpUrl = /HTTP API\s+(http:\/\/[\d.]+:\d+)/.exec(out)![1]!;
    const creds = JSON.parse(readFileSync(join(dataDir, 'demo-credentials.json'), 'utf8'));
    const librarian = creds.staff.find((s: { role: string }) => s.role === 'librarian');
    const staff = await staffClient(httpUrl, librarian.username, librarian.password);

    // Every reader of the main branch comes online: gateway process ↔ pty ↔ simulator process.
    await expect.poll(async () => ((await staff.get('/rfid/readers')).body.readers as { id: string; status: { online: boolean } | null }[])
      .filter((r) => r.id.startsWith('main-') && r.status?.online).length, { timeout: 30_000, interval: 250 }).toBe(7);

    const db = new Database(join(dataDir, 'shelfsense.db'), { readonly: true });
    const card = (db.prepare(`SELECT card_number FROM patron p WHERE blocked_reason IS NULL AND card_lost = 0 AND expiry_date > date('now', '+1 day')
        AND card_tag_uid IS NOT NULL AND (SELECT count(*) FROM loan WHERE patron_id = p.id AND closed_at IS NULL) = 0
        AND NOT EXISTS (SELECT 1 FROM fee WHERE patron_id = p.id AND paid_cents < amount_cents) ORDER BY p.id LIMIT 1`).get() as { card_number: string }).card_number;
    const books = (db.prepare(`SELECT min(barcode) AS barcode FROM item i WHERE status = 'available' AND home_branch = 'main' AND item_type = 'book' AND tag_uid IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM hold h WHERE h.record_id = i.record_id AND h.status IN ('waiting', 'in_transit', 'ready'))
        GROUP BY record_id ORDER BY record_id LIMIT 3`).all() as { barcode: string }[]).map((r) => r.barcode);
    db.close();

    const client = await mqtt.connectAsync(broker.url, { protocolVersion: MQTT_PROTOCOL_VERSION });
    cleanups.push(() => client.endAsync());
    await client.subscribeAsync(topics.simScenarioDone('demo'), { qos: 1 });
    const done: { name: string; ok: boolean; error?: string }[] = [];
    client.on('message', (_t, p) => done.push(JSON.parse(p.toString())));
    const play = async (s: Scenario) => {
      await client.publishAsync(topics.simScenario('demo'), JSON.stringify(s), { qos: 1 });
      await expect.poll(() => done.find((d) => d.name === s.name), { timeout: 15_000 }).toBeTruthy();
      expect(done.find((d) => d.name === s.name)).toMatchObject({ ok: true });
    };

    await play({
      name: 'card and 3 books on kiosk pad 1',
      steps: [{ at: 0, reader: 'main-kiosk-1', place: [`card:${card}`] }, { at: 400, reader: 'main-kiosk-1', place: books.map((b) => `item:${b}`) }],
    });
    await expect.poll(async () => ((await staff.get('/rfid/kiosks/main-kiosk-1/session')).body.session?.items ?? [])
      .filter((i: { status: string }) => i.status === 'checked_out').length, { timeout: 15_000, interval: 200 }).toBe(3);
    const session = (await staff.get('/rfid/kiosks/main-kiosk-1/session')).body.session;
    expect(session.patron.cardNumber).toBe(card);
    for (const b of books) expect((await staff.get(`/items/by-barcode/${b}`)).body.status).toBe('on_loan');

    await play({ name: 'take everything off the pad', steps: [{ at: 0, reader: 'main-kiosk-1', remove: [`card:${card}`, ...books.map((b) => `item:${b}`)] }] });
    await expect.poll(async () => (await staff.get('/rfid/kiosks/main-kiosk-1/session')).body.session, { timeout: 10_000, interval: 200 }).toBeNull();

    // A bad scenario is refused by the simulator with a reason, and changes nothing.
    await client.publishAsync(topics.simScenario('demo'), JSON.stringify({ name: 'broken', steps: [{ at: 0, reader: 'main-kiosk-1' }] }), { qos: 1 });
    await expect.poll(() => done.find((d) => d.name === 'broken'), { timeout: 10_000 }).toMatchObject({ ok: false, error: expect.stringContaining('exactly one of') });
  }, 180_000);
});
