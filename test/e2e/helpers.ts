import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '../../server/store/db.js';

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export function mosquittoBinary(): string {
  for (const candidate of ['mosquitto', '/usr/sbin/mosquitto']) {
    if (spawnSync('sh', ['-c', `command -v ${candidate}`]).status === 0) return candidate;
  }
  throw new Error('mosquitto is not installed: apt-get install -y mosquitto (npm test installs it when run as root)');
}

/** A real Mosquitto broker on a free loopback port, with a throwaway configuration. */
export async function startMosquitto(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'shelfsense-mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const child: ChildProcess = spawn(mosquittoBinary(), ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += d; });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited: ${stderr}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (open) break;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

/** An item that can be lent (available, lendable type, not wanted by a hold) and a patron with no blocks. */
export function lendablePair(db: Db): { barcode: string; cardNumber: string } {
  const item = db.prepare(`SELECT item.barcode FROM item
      WHERE item.status = 'available' AND item.item_type = 'book'
        AND NOT EXISTS (SELECT 1 FROM hold WHERE hold.record_id = item.record_id AND hold.status IN ('waiting', 'in_transit', 'ready'))
      ORDER BY item.id LIMIT 1`).get() as { barcode: string };
  const patron = db.prepare(`SELECT card_number FROM patron p
      WHERE blocked_reason IS NULL AND card_lost = 0 AND expiry_date > date('now', '+1 day')
        AND (SELECT count(*) FROM loan WHERE patron_id = p.id AND closed_at IS NULL) = 0
        AND NOT EXISTS (SELECT 1 FROM fee WHERE patron_id = p.id AND paid_cents < amount_cents)
      ORDER BY p.id LIMIT 1`).get() as { card_number: string };
  return { barcode: item.barcode, cardNumber: patron.card_number };
}

/** A signed-in staff client: keeps the session cookie and sends the CSRF token. */
export async function staffClient(baseUrl: string, username: string, password: string) {
  const res = await fetch(`${baseUrl}/api/v1/auth/staff/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`staff login failed: ${res.status} ${await res.text()}`);
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${baseUrl}/api/v1${path}`, {
      method,
      headers: { cookie, 'x-csrf-token': csrfToken, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    return { status: r.status, body: (await r.json()) as any };
  };
  return { get: (p: string) => call('GET', p), post: (p: string, b: unknown) => call('POST', p, b) };
}
