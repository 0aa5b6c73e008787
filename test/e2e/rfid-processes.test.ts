import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import { MQTT_PROTOCOL_VERSION, topics } from '../../contract/mqtt.js';
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

    // `shelfsense simulate` resolves a shipped scenario against the database and has the simulator play it.
    const simulate = (...args: string[]) => new Promise<{ code: number | null; out: string }>((resolveRun) => {
      const child = spawn(process.execPath, [join(ROOT, 'bin/shelfsense.mjs'), 'simulate', ...args, '--data-dir', dataDir, '--mqtt-url', broker.url], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout!.on('data', (d) => { text += d; });
      child.stderr!.on('data', (d) => { text += d; });
      child.once('exit', (code) => resolveRun({ code, out: text }));
    });
    for (const name of ['gate-alarm', 'returns', 'inventory-sweep']) {
      const dry = await simulate(name, '--dry-run');
      expect(dry.code, dry.out).toBe(0);
      expect(dry.out).not.toMatch(/"(card|item):\$/);
    }
    const played = await simulate('kiosk-checkout');
    expect(played.code, played.out).toBe(0);
    const card = /card:\$patron\s+→ card:(\S+)/.exec(played.out)![1]!;
    const books = [...played.out.matchAll(/item:\$available\d\s+→ item:(\S+)/g)].map((m) => m[1]!);
    expect(books).toHaveLength(3);
    // The scenario put the card and the books down, and took everything away again: the session ended, the books are lent.
    await expect.poll(async () => (await staff.get('/rfid/kiosks/main-kiosk-1/session')).body.session, { timeout: 10_000, interval: 200 }).toBeNull();
    for (const b of books) expect((await staff.get(`/items/by-barcode/${b}`)).body.status).toBe('on_loan');
    const log = (await staff.get('/events/log?op=checkout&limit=10')).body.events as { channel: string; actor: string; outcome: string; detail: { barcode: string } }[];
    expect(log.filter((e) => e.channel === 'kiosk' && e.actor === 'reader:main-kiosk-1' && e.outcome === 'ok').map((e) => e.detail.barcode).sort()).toEqual([...books].sort());
    const patronId = (await staff.get('/events/log?op=checkout&limit=1')).body.events[0].patronId;
    expect((await staff.get(`/patrons/${patronId}`)).body.cardNumber).toBe(card);

    const client = await mqtt.connectAsync(broker.url, { protocolVersion: MQTT_PROTOCOL_VERSION });
    cleanups.push(() => client.endAsync());
    await client.subscribeAsync(topics.simScenarioDone('demo'), { qos: 1 });
    const done: { name: string; ok: boolean; error?: string }[] = [];
    client.on('message', (_t, p) => done.push(JSON.parse(p.toString())));

    // A bad scenario is refused by the simulator with a reason, and changes nothing.
    await client.publishAsync(topics.simScenario('demo'), JSON.stringify({ name: 'broken', steps: [{ at: 0, reader: 'main-kiosk-1' }] }), { qos: 1 });
    await expect.poll(() => done.find((d) => d.name === 'broken'), { timeout: 10_000 }).toMatchObject({ ok: false, error: expect.stringContaining('exactly one of') });
  }, 180_000);
});
