import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Db } from '../../server/store/db.js';
import { shapeFromLog } from '../../server/seed/shape.js';
import { hashSecret } from '../../server/auth/passwords.js';
import { Circulation } from '../../server/circulation/circulation.js';
import { EventBus } from '../../server/bus.js';
import { loadConfig } from '../../server/config.js';
import { createApp } from '../../server/http/app.js';
import { fixedClock } from '../../server/clock.js';
import { percentile, rng } from './stats.js';

const CLC = 'ABCDEFGHIJKNOPQRSTUVXZ';
const DAY = 86_400_000;

export interface CrmScale { patrons: number; loans: number; records: number; items: number }

/**
 * A library at CRM scale, shaped on the real log: each patron copies a real reader's subject mix and
 * the log's heavy-tailed loans per reader (scaled to the wanted total), loans fall in months as the
 * log's do over three years, titles within a class are borrowed with a Zipf popularity, and 70 % of
 * patrons allow profiling. Returned loans, linked (the patrons who keep their history).
 */
export function buildCrmLibrary(db: Db, seed: number, size: CrmScale, now: Date, log: (line: string) => void): void {
  const shape = shapeFromLog();
  const r = rng(seed);
  const ts = now.toISOString();
  const meanPerReader = shape.loansPerReader.reduce((s, n) => s + n, 0) / shape.loansPerReader.length;
  const scale = size.loans / size.patrons / meanPerReader;
  db.transaction(() => {
    db.prepare("INSERT INTO branch (id, name) VALUES ('main', 'main library')").run();
    const byClass: number[][] = Array.from({ length: CLC.length }, () => []);
    const rec = db.prepare(`INSERT INTO record (id, title, class_scheme, classification, top_class, created_at, updated_at) VALUES (?, ?, 'clc', ?, ?, ?, ?)`);
    // Records per class follow the log's class shares, with at least a few in every class.
    const classWeights = [...CLC].map((c) => Math.max(0.002, shape.classShares[c] ?? 0));
    const wsum = classWeights.reduce((s, w) => s + w, 0);
    for (let id = 1; id <= size.records; id++) {
      let x = r() * wsum, c = 0;
      while ((x -= classWeights[c]!) > 0 && c < CLC.length - 1) c++;
      rec.run(id, `Title ${id}`, `${CLC[c]}${100 + (id % 800)}`, CLC[c], ts, ts);
      byClass[c]!.push(id);
    }
    const item = db.prepare(`INSERT INTO item (id, record_id, barcode, home_branch, current_branch, created_at, updated_at) VALUES (?, ?, ?, 'main', 'main', ?, ?)`);
    for (let id = 1; id <= size.items; id++) item.run(id, ((id - 1) % size.records) + 1, `3${String(id).padStart(9, '0')}`, ts, ts);
    const itemsOf = (recordId: number) => recordId; // item id = record id for the first copy
    const patron = db.prepare(`INSERT INTO patron (id, card_number, name, category, expiry_date, created_at, updated_at) VALUES (?, ?, ?, 'undergraduate', '2030-12-31', ?, ?)`);
    const consent = db.prepare('INSERT INTO patron_consent (patron_id, reading_history, profiling, marketing, updated_at) VALUES (?, 1, ?, 1, ?)');
    const loan = db.prepare(`INSERT INTO loan (item_id, patron_id, branch_id, checked_out_at, due_at, channel, closed_at, close_reason, return_branch)
        VALUES (?, ?, 'main', ?, ?, 'kiosk', ?, 'returned', 'main')`);
    const monthCum: number[] = [];
    shape.monthShares.reduce((s, v, i) => (monthCum[i] = s + v), 0);
    let loans = 0;
    for (let p = 1; p <= size.patrons; p++) {
      const registered = new Date(now.getTime() - Math.floor(30 + r() * 1800) * DAY);
      patron.run(p, `C${String(p).padStart(8, '0')}`, `Patron ${p}`, registered.toISOString(), ts);
      consent.run(p, r() < 0.7 ? 1 : 0, ts);
      const reader = Math.floor(r() * shape.readerMixes.length);
      const mix = Object.entries(shape.readerMixes[reader]!);
      const mixTotal = mix.reduce((s, [, n]) => s + n, 0);
      const count = Math.max(1, Math.round(shape.loansPerReader[reader]! * scale * (0.5 + r())));
      for (let k = 0; k < count && loans < size.loans; k++) {
        let x = r() * mixTotal, m = 0;
        while ((x -= mix[m]![1]) > 0 && m < mix.length - 1) m++;
        const pool = byClass[CLC.indexOf(mix[m]![0])] ?? byClass[0]!;
        const list = pool.length ? pool : byClass.find((b) => b.length)!;
        const recordId = list[Math.min(list.length - 1, Math.floor(list.length * r() ** 3))]!; // Zipf-like: a few titles take most loans
        const y = r();
        const month = Math.max(0, monthCum.findIndex((c) => c >= y));
        const year = now.getUTCFullYear() - Math.floor(r() * 3);
        const out = new Date(Date.UTC(year, month, 1 + Math.floor(r() * 28), 9));
        const at = out.getTime() > now.getTime() - DAY ? new Date(now.getTime() - 2 * DAY) : out;
        const back = new Date(at.getTime() + 14 * DAY).toISOString();
        loan.run(itemsOf(recordId), p, at.toISOString(), back, back);
        loans++;
      }
      if (p % 20_000 === 0) log(`built ${p} patrons, ${loans} loans`);
    }
    log(`built ${size.patrons} patrons, ${loans} loans, ${size.records} records`);
  })();
}

/** The recompute in its own process, so its peak memory is its own: seconds and peak RSS. */
export function recomputeInChild(file: string, now: Date): { seconds: number; peakMb: number; summary: Record<string, any> } {
  const child = fileURLToPath(new URL('./crm-recompute-child.ts', import.meta.url));
  const runTs = fileURLToPath(new URL('../../bin/run-ts.mjs', import.meta.url));
  const out = execFileSync(process.execPath, [runTs, child, file, now.toISOString()], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

/** One patron's profile through the HTTP API (a real socket), `requests` times, random patrons: p50 and p95 in ms. */
export async function profileLatency(db: Db, patrons: number, requests: number, seed: number): Promise<{ p50: number; p95: number }> {
  const now = new Date();
  const config = loadConfig({ dataDir: '/tmp' }, {}, '/tmp');
  db.prepare("INSERT OR REPLACE INTO staff_user (username, display_name, role, password_hash, created_at) VALUES ('bench', 'bench', 'librarian', ?, ?)")
    .run(await hashSecret('bench password'), now.toISOString());
  const app = createApp({ db, circulation: new Circulation(db), bus: new EventBus(), config, clock: fixedClock(now) });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => { const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s)); });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
  try {
    const login = await fetch(`${base}/auth/staff/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'bench', password: 'bench password' }) });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const r = rng(seed);
    const ms: number[] = [];
    for (let i = 0; i < requests; i++) {
      const id = 1 + Math.floor(r() * patrons);
      const t0 = performance.now();
      const res = await fetch(`${base}/crm/patrons/${id}/profile`, { headers: { Cookie: cookie } });
      const body = await res.json() as { patron?: { id: number } };
      if (res.status !== 200 || body.patron?.id !== id) throw new Error(`profile ${id}: ${res.status}`);
      ms.push(performance.now() - t0);
    }
    return { p50: percentile(ms, 50), p95: percentile(ms, 95) };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
