import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { KIOSK, SIP_MONDAY_10H, SipClient, field, openSip2Library, type Sip2Library } from './helpers.js';

let lib: Sip2Library;
afterEach(async () => { await lib?.close(); });

const itemInfo = (barcode: string) => `17${SIP_MONDAY_10H}AOSHELF|AB${barcode}|`;
const LOGIN = '9300CNkiosk-1|COkiosk-secret|\r';
const tick = () => new Promise((r) => setImmediate(r));

describe('SIP2 listener robustness', () => {
  it('reads a client that sends one byte at a time', async () => {
    lib = await openSip2Library();
    const b = lib.book();
    const c = await SipClient.connect(lib.server.port);
    for (const byte of Buffer.from(`${LOGIN}${itemInfo(b.barcode)}\r`)) {
      c.write(Buffer.from([byte]));
      await tick();
    }
    expect(await c.next()).toBe('941');
    expect(field(await c.next(), 'AB')).toBe(b.barcode);
    c.destroy();
  });

  it('answers pipelined messages one by one, in order', async () => {
    lib = await openSip2Library();
    const books = Array.from({ length: 20 }, () => lib.book());
    const c = await lib.client();
    c.write(books.map((b) => `${itemInfo(b.barcode)}\r`).join(''));
    for (const b of books) expect(field(await c.next(), 'AB')).toBe(b.barcode);
  });

  it('drops a message longer than the limit without buffering it, asks for a resend, and carries on', async () => {
    lib = await openSip2Library({ server: { maxLineBytes: 1024 } });
    const b = lib.book();
    const c = await lib.client();
    const other = await lib.client();
    const huge = Buffer.alloc(200_000, 'A');
    for (let i = 0; i < huge.length; i += 10_000) {
      c.write(huge.subarray(i, i + 10_000));
      // Meanwhile another terminal is served as usual.
      if (i === 100_000) expect(field(await other.send(itemInfo(b.barcode)), 'AB')).toBe(b.barcode);
    }
    c.write('\r');
    expect(await c.next()).toBe('96');
    expect(field(await c.send(itemInfo(b.barcode)), 'AB')).toBe(b.barcode);
    expect(lib.server.stats()).toMatchObject({ oversizedLines: 1, internalErrors: 0 });
  });

  it('closes an idle connection and leaves a busy one alone', async () => {
    lib = await openSip2Library({ server: { idleTimeoutMs: 300 } });
    const b = lib.book();
    const idle = await lib.client();
    const busy = await lib.client();
    let idleClosedAt = 0;
    void idle.closed.then(() => { idleClosedAt = Date.now(); });
    const started = Date.now();
    for (let i = 0; i < 8; i++) {
      expect(field(await busy.send(itemInfo(b.barcode)), 'AB')).toBe(b.barcode);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(idleClosedAt).toBeGreaterThan(0);
    expect(idleClosedAt - started).toBeGreaterThanOrEqual(250);
    expect(busy.socket.destroyed).toBe(false);
  });

  it('refuses connections over the limit, and takes new ones once others close', async () => {
    lib = await openSip2Library({ server: { maxConnections: 2 } });
    const a = await lib.client();
    const b = await lib.client();
    const third = await SipClient.connect(lib.server.port);
    await third.closed;
    expect(lib.server.stats().rejectedConnections).toBe(1);
    expect(await a.send('9900302.00')).toMatch(/^98/);
    b.destroy();
    await b.closed;
    await new Promise((r) => setTimeout(r, 50));
    const fourth = await lib.client();
    expect(await fourth.send('9900302.00')).toMatch(/^98/);
  });

  it('serves others while one client does not read its answers, and gives that client every answer once it reads', async () => {
    lib = await openSip2Library();
    const b = lib.book();
    const greedy = await lib.client();
    greedy.socket.pause();
    const flood = Buffer.from(`${itemInfo(b.barcode)}\r`.repeat(20_000));
    greedy.write(flood);
    const other = await lib.client();
    for (let i = 0; i < 5; i++) expect(field(await other.send(itemInfo(b.barcode)), 'AB')).toBe(b.barcode);
    greedy.socket.resume();
    for (let i = 0; i < 20_000; i++) await greedy.next();
  }, 60_000);

  it('serves SIP2 over TLS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shelfsense-sip2-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
        '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
      const key = readFileSync(join(dir, 'key.pem'));
      const cert = readFileSync(join(dir, 'cert.pem'));
      lib = await openSip2Library({ server: { tls: { key, cert } } });
      const socket = tls.connect({ port: lib.server.port, host: '127.0.0.1', ca: cert, servername: '127.0.0.1', checkServerIdentity: () => undefined });
      await new Promise<void>((resolve, reject) => { socket.once('secureConnect', resolve); socket.once('error', reject); });
      const read = () => new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
      socket.write(LOGIN);
      expect(await read()).toBe('941\r');
      socket.write('9900302.00\r');
      expect(await read()).toMatch(/^98YYYYYY/);
      socket.destroy();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the accounts apart: a login only ever acts as itself', async () => {
    lib = await openSip2Library({ accounts: [KIOSK, { ...KIOSK, login: 'east-kiosk', password: 'other', branchId: 'east' }] });
    const c = await lib.client({ ...KIOSK, login: 'east-kiosk', password: 'other' });
    expect(await c.send('9300CNkiosk-1|COwrong|')).toBe('940'); // a failed login keeps the session it had
    const p = lib.patron();
    const b = lib.book();
    await c.send(`11YN${SIP_MONDAY_10H}${' '.repeat(18)}AOSHELF|AA${p.cardNumber}|AB${b.barcode}|`);
    expect(lib.events().at(-1)).toMatchObject({ actor: 'sip2:east-kiosk', branch_id: 'east' });
  });
});
