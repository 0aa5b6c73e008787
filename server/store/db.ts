import Database from 'better-sqlite3';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);

export type Db = Database.Database;

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

export interface OpenOptions {
  /** 'normal' survives a process crash (WAL); 'full' also survives power loss, at a write cost. */
  synchronous?: 'normal' | 'full';
  /** false when a checkpointer thread (startCheckpointer) copies the WAL back instead. */
  autoCheckpoint?: boolean;
}

/** Opens (creating if needed) the SQLite file, sets WAL and foreign keys, applies pending migrations. */
export function openDb(file: string, options: OpenOptions = {}): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // A 64 MiB page cache and memory-mapped reads keep a large catalogue's hot pages in memory.
  db.pragma('cache_size = -65536');
  db.pragma('mmap_size = 268435456');
  db.pragma('temp_store = MEMORY');
  // Checkpoints run beside the writer (startCheckpointer); a process without one checkpoints on close.
  db.pragma(`wal_autocheckpoint = ${options.autoCheckpoint === false ? 0 : 1000}`);
  migrate(db);
  return db;
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f, sql: readFileSync(join(dir, f), 'utf8') }));
}

/** Forward-only: each numbered migration runs once, in its own transaction, recorded in user_version. */
export function migrate(db: Db, migrations = listMigrations()): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new Error(`database schema version ${current} is newer than this Shelfsense (${latest}); upgrade Shelfsense`);
  }
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
  return db.pragma('user_version', { simple: true }) as number;
}

export function getSetting<T>(db: Db, key: string, fallback: T): T {
  const row = db.prepare('SELECT value FROM setting WHERE key = ?').get(key) as { value: string } | undefined;
  return row ? (JSON.parse(row.value) as T) : fallback;
}

export function setSetting(db: Db, key: string, value: unknown): void {
  db.prepare('INSERT INTO setting (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
    .run(key, JSON.stringify(value));
}

const CHECKPOINTER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { statSync } = require('node:fs');
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
const wal = workerData.file + '-wal';
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    // Under a steady stream of writes a passive checkpoint never catches up with the writer, and the
    // WAL only grows. Past the limit the writer is asked to restart it (it holds the write lock).
    let size = 0;
    try { size = statSync(wal).size; } catch {}
    if (size > workerData.walLimitBytes) parentPort.postMessage({ over: size });
  } catch (e) { parentPort.postMessage({ error: String(e && e.message) }); }
}, workerData.intervalMs);
parentPort.on('message', (m) => { if (m === 'stop') { clearInterval(timer); db.close(); process.exit(0); } });
`;

/**
 * Copies the WAL back into the database from a worker thread, so no circulation operation pays for a
 * checkpoint's disk flush (openDb turns SQLite's automatic checkpoint off; call this for a server).
 * The WAL is kept near `walLimitBytes`: past it, the writer's connection (`writer`) restarts it.
 */
export function startCheckpointer(file: string, opts: { writer?: Db; intervalMs?: number; walLimitBytes?: number } = {}): { stop(): Promise<void> } {
  const worker = new Worker(CHECKPOINTER_SOURCE, {
    eval: true, workerData: { file, intervalMs: opts.intervalMs ?? 200, walLimitBytes: opts.walLimitBytes ?? 64 * 1024 * 1024, module: require.resolve('better-sqlite3') },
  });
  worker.on('message', (m: { over?: number; error?: string }) => {
    if (m.error) console.error(`checkpoint: ${m.error}`);
    // The passive checkpoints copied nearly everything already: what is left is short, then the WAL starts over.
    if (m.over && opts.writer?.open) {
      // Never wait on the writer's thread: a reader holding an old snapshot (a backup, the CRM worker)
      // would block the event loop for the busy timeout. A restart that cannot happen now returns busy
      // at once and is asked for again by the next message.
      const writer = opts.writer;
      const timeout = writer.pragma('busy_timeout', { simple: true }) as number;
      try {
        writer.pragma('busy_timeout = 0');
        writer.pragma('wal_checkpoint(TRUNCATE)');
      } catch (e) {
        console.error(`checkpoint: ${e instanceof Error ? e.message : e}`);
      } finally {
        writer.pragma(`busy_timeout = ${timeout}`);
      }
    }
  });
  worker.unref();
  return {
    stop: () => new Promise<void>((resolve) => { worker.ref(); worker.once('exit', () => resolve()); worker.postMessage('stop'); }),
  };
}
