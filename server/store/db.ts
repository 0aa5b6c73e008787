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

const statementCache = new WeakMap<Db, Map<string, Database.Statement>>();

/**
 * The prepared statement for this SQL text on this connection, prepared once (preparing costs several
 * times what running a simple statement does). For fixed SQL on paths that run it again and again;
 * each use gets it back in its default mode (objects, not plucked or raw).
 */
export function statement(db: Db, sql: string): Database.Statement {
  let cache = statementCache.get(db);
  if (!cache) statementCache.set(db, (cache = new Map()));
  let s = cache.get(sql);
  if (!s) cache.set(sql, (s = db.prepare(sql)));
  else if (s.reader) s.pluck(false).raw(false);
  return s;
}

export function getSetting<T>(db: Db, key: string, fallback: T): T {
  const row = statement(db, 'SELECT value FROM setting WHERE key = ?').get(key) as { value: string } | undefined;
  return row ? (JSON.parse(row.value) as T) : fallback;
}

export function setSetting(db: Db, key: string, value: unknown): void {
  statement(db, 'INSERT INTO setting (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
    .run(key, JSON.stringify(value));
}

/** The WAL restart of each writer connection that has a checkpointer (see afterWrites). */
const restarters = new WeakMap<Db, () => void>();

/**
 * For a writer that has just committed: restarts the WAL now if its checkpointer is waiting for that,
 * while there is least to copy. Cheap when not (one atomic read).
 */
export function afterWrites(db: Db): void {
  restarters.get(db)?.();
}

const CHECKPOINTER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
const frameBytes = db.pragma('page_size', { simple: true }) + 24;
// flag[0] = 1: a WAL restart is wanted. Until the writer has done it (and set 0) this thread stays
// out of its way: a checkpoint running here holds the checkpoint lock, and the writer's restart would
// find it busy every time under a steady stream.
const flag = new Int32Array(workerData.flag);
const timer = setInterval(() => {
  if (Atomics.load(flag, 0) === 1) return;
  try {
    let pass = db.pragma('wal_checkpoint(PASSIVE)')[0];
    // Under a steady stream of writes a passive checkpoint never catches up with the writer, and the
    // WAL only grows. Past the limit the writer is asked to restart it (it holds the write lock); a
    // few more passes first leave it only the frames written since the last one to copy. (The size of
    // what the WAL holds, not of its file, which a restart leaves as it was.)
    const size = pass.log * frameBytes;
    if (size > workerData.walLimitBytes) {
      for (let i = 0; i < 12 && pass.log - pass.checkpointed > 128; i++) pass = db.pragma('wal_checkpoint(PASSIVE)')[0];
      Atomics.store(flag, 0, 1);
      parentPort.postMessage({ over: size });
    }
  } catch (e) { parentPort.postMessage({ error: String(e && e.message) }); }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'stop') { clearInterval(timer); db.close(); process.exit(0); }
});
`;

/**
 * Copies the WAL back into the database from a worker thread, so no circulation operation pays for a
 * checkpoint's disk flush (openDb turns SQLite's automatic checkpoint off; call this for a server).
 * The WAL is kept near `walLimitBytes`: past it, the worker pauses and the writer's connection
 * (`writer`) restarts the log, copying only the frames written since the worker's last pass: at once
 * when the writer next calls afterWrites (the group commit does, after each commit), else when the
 * worker's message arrives (later, with more frames to copy, on a busy event loop). The
 * file is kept at its size and written over from the start (cheaper than growing it again), and cut
 * back only if it grew to twice the limit.
 */
export function startCheckpointer(file: string, opts: { writer?: Db; intervalMs?: number; walLimitBytes?: number } = {}): { stop(): Promise<void> } {
  // Each restart stalls the writer while it copies what the worker has not yet (tens of ms under full
  // load, when the writer writes about as fast as a checkpoint copies): a larger WAL means fewer of them.
  const walLimitBytes = opts.walLimitBytes ?? 256 * 1024 * 1024;
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(CHECKPOINTER_SOURCE, {
    eval: true, workerData: { file, intervalMs: opts.intervalMs ?? 200, walLimitBytes, flag: flag.buffer, module: require.resolve('better-sqlite3') },
  });
  // A WAL restarted at the limit has grown a little past it; cutting it back to the limit would only
  // make the next writes grow the file again (twice the cost of writing over it).
  opts.writer?.pragma(`journal_size_limit = ${2 * walLimitBytes}`);
  const restartIfWanted = () => {
    if (Atomics.load(flag, 0) !== 1) return;
    if (opts.writer?.open && opts.writer.inTransaction) {
      setTimeout(restartIfWanted, 20).unref(); // not inside someone's transaction: a moment later
      return;
    }
    if (opts.writer?.open) {
      // Never wait on the writer's thread: a reader holding an old snapshot (a backup, the CRM worker)
      // would block the event loop for the busy timeout. A restart that cannot happen now returns busy
      // at once and is asked for again after the worker's next pass.
      const writer = opts.writer;
      const timeout = writer.pragma('busy_timeout', { simple: true }) as number;
      try {
        writer.pragma('busy_timeout = 0');
        writer.pragma('wal_checkpoint(RESTART)');
      } catch (e) {
        console.error(`checkpoint: ${e instanceof Error ? e.message : e}`);
      } finally {
        writer.pragma(`busy_timeout = ${timeout}`);
      }
    }
    Atomics.store(flag, 0, 0);
  };
  if (opts.writer) restarters.set(opts.writer, restartIfWanted);
  worker.on('message', (m: { over?: number; error?: string }) => {
    if (m.error) console.error(`checkpoint: ${m.error}`);
    if (m.over) restartIfWanted();
  });
  worker.unref();
  return {
    stop: () => new Promise<void>((resolve) => {
      if (opts.writer) restarters.delete(opts.writer);
      worker.ref(); worker.once('exit', () => resolve()); worker.postMessage('stop');
    }),
  };
}
