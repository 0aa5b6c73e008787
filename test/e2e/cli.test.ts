import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/shelfsense.mjs');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

function stopChild(child: ChildProcess): Promise<number | null> {
  return new Promise((r) => {
    if (child.exitCode !== null) return r(child.exitCode);
    child.once('exit', (code) => r(code));
    child.kill('SIGTERM');
  });
}

/** Runs `shelfsense start` until it prints its URLs; returns the process, its output so far and the HTTP URL. */
async function start(dataDir: string): Promise<{ child: ChildProcess; output: () => string; httpUrl: string }> {
  const child = spawn(process.execPath, [BIN, 'start', '--data-dir', dataDir, '--port', '0'], {
    cwd: ROOT, env: { ...process.env, SHELFSENSE_MQTT_PORT: '0', SHELFSENSE_MQTT_WS_PORT: '0', SHELFSENSE_SIP2_PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => stopChild(child).then(() => undefined));
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const httpUrl = await new Promise<string>((resolveUrl, reject) => {
    const timer = setInterval(() => {
      const m = /HTTP API\s+(http:\/\/[\d.]+:\d+)\/api\/v1/.exec(out);
      if (m) { clearInterval(timer); resolveUrl(m[1]!); }
      if (child.exitCode !== null) { clearInterval(timer); reject(new Error(`start exited ${child.exitCode}:\n${out}`)); }
    }, 50);
  });
  return { child, output: () => out, httpUrl };
}

describe('shelfsense command', () => {
  it('starts the demo library on an empty data directory, with the gateway online, and reuses it on the next start', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shelfsense-cli-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));

    const first = await start(dataDir);
    expect(first.output()).toMatch(/Seeding the demo library/);
    expect(first.output()).toMatch(/Demo sign-in/);
    expect(first.output()).toMatch(/SIP2\s+127\.0\.0\.1:\d+/);
    await expect.poll(async () => {
      const health = (await (await fetch(`${first.httpUrl}/api/v1/health`)).json()) as any;
      return health.mqtt.gateways.filter((g: any) => g.online).length;
    }, { timeout: 20_000, interval: 200 }).toBeGreaterThanOrEqual(1);
    expect(await stopChild(first.child)).toBe(0);
    expect(existsSync(join(dataDir, 'shelfsense.db'))).toBe(true);

    const second = await start(dataDir);
    expect(second.output()).not.toMatch(/Seeding/);
    expect(second.output()).toMatch(/Demo sign-in/); // credentials kept from the first start
    const res = await fetch(`${second.httpUrl}/api/v1/health`);
    expect(res.status).toBe(200);
    expect(await stopChild(second.child)).toBe(0);
  });

  it('has --help on every command and refuses unknown ones', () => {
    for (const cmd of ['start', 'seed', 'import', 'export', 'backup', 'simulate']) {
      const r = spawnSync(process.execPath, [BIN, cmd, '--help'], { cwd: ROOT, encoding: 'utf8' });
      expect(r.status, cmd).toBe(0);
      expect(r.stdout, cmd).toMatch(new RegExp(`Usage: shelfsense ${cmd}`));
    }
    const unknown = spawnSync(process.execPath, [BIN, 'frobnicate'], { cwd: ROOT, encoding: 'utf8' });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
  });

  it('backs up a database to a file that passes an integrity check, and refuses to overwrite', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shelfsense-backup-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const seeded = spawnSync(process.execPath, [BIN, 'seed', '--data-dir', dataDir], { cwd: ROOT, encoding: 'utf8' });
    expect(seeded.status, seeded.stderr).toBe(0);
    const out = join(dataDir, 'copy.db');
    const backup = spawnSync(process.execPath, [BIN, 'backup', '--data-dir', dataDir, '--out', out], { cwd: ROOT, encoding: 'utf8' });
    expect(backup.status, backup.stderr).toBe(0);
    const { default: Database } = await import('better-sqlite3');
    const copy = new Database(out, { readonly: true });
    const original = new Database(join(dataDir, 'shelfsense.db'), { readonly: true });
    expect(copy.prepare('SELECT count(*) AS n FROM loan').get()).toEqual(original.prepare('SELECT count(*) AS n FROM loan').get());
    copy.close(); original.close();
    const again = spawnSync(process.execPath, [BIN, 'backup', '--data-dir', dataDir, '--out', out], { cwd: ROOT, encoding: 'utf8' });
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
  });
});
