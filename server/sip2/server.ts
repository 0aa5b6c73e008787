import net, { type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';
import type { Db } from '../store/db.js';
import { getSetting } from '../store/db.js';
import type { Circulation } from '../circulation/circulation.js';
import { systemClock, type Clock } from '../clock.js';
import { resolveAccounts, type Sip2Account } from './account.js';
import { serveSip2 } from './connection.js';
import type { Sip2Deps } from './exchange.js';
import { newStats, type Sip2Stats } from './session.js';

export interface Sip2ServerOptions {
  db: Db;
  circulation: Circulation;
  accounts: readonly Sip2Account[];
  /** Default 127.0.0.1; kiosks on the library network need the address of an interface they can reach. */
  host?: string;
  /** Default 6001; 0 picks a free port. */
  port?: number;
  /** Serve SIP2 over TLS with these options (at least `key` and `cert`). */
  tls?: tls.TlsOptions;
  /** Longest message accepted, in bytes (default 64 KiB). */
  maxLineBytes?: number;
  /** Connections served at once (default 200); more are closed on arrival. */
  maxConnections?: number;
  /** A connection that sends nothing for this long is closed (default 10 minutes). */
  idleTimeoutMs?: number;
  /** Answer SC Status (99) before login (default false). */
  statusBeforeLogin?: boolean;
  clock?: Clock;
  log?: (line: string) => void;
}

export interface RunningSip2 {
  host: string;
  port: number;
  stats(): Sip2Stats;
  close(): Promise<void>;
}

/**
 * The SIP2 listener for third-party self-check kiosks and sorters: a feature with start() and stop().
 * Each SIP2 login belongs to a branch, checked to exist when the listener starts.
 */
export class Sip2Listener {
  private server: net.Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly counters = newStats();

  constructor(private readonly opts: Sip2ServerOptions) {}

  stats(): Sip2Stats { return { ...this.counters, connections: this.sockets.size }; }

  async start(): Promise<RunningSip2> {
    const { db, circulation } = this.opts;
    const accounts = resolveAccounts(this.opts.accounts);
    for (const a of accounts) {
      if (!db.prepare('SELECT 1 FROM branch WHERE id = ?').get(a.branchId)) {
        throw new Error(`sip2 account "${a.login}": branch "${a.branchId}" does not exist`);
      }
    }
    const deps: Sip2Deps = {
      db, circulation, accounts, clock: this.opts.clock ?? systemClock, timeZone: circulation.timeZone,
      currency: getSetting(db, 'currency', 'CNY'), statusBeforeLogin: this.opts.statusBeforeLogin ?? false,
    };
    const log = this.opts.log ?? ((line: string) => console.error(line));
    const maxLineBytes = this.opts.maxLineBytes ?? 64 * 1024;
    const idleTimeoutMs = this.opts.idleTimeoutMs ?? 600_000;

    const server = this.opts.tls ? tls.createServer(this.opts.tls) : net.createServer();
    // Every TCP connection, TLS handshakes under way included, is tracked and timed out on its raw socket.
    server.on('connection', (raw: Socket) => {
      this.sockets.add(raw);
      raw.once('close', () => this.sockets.delete(raw));
      raw.setNoDelay(true);
      raw.setTimeout(idleTimeoutMs, () => raw.destroy());
      raw.on('error', () => raw.destroy()); // a reset ends this connection only
    });
    server.on(this.opts.tls ? 'secureConnection' : 'connection', (socket: Socket) => serveSip2(socket, deps, this.counters, { maxLineBytes, log }));
    if (this.opts.tls) server.on('tlsClientError', (_e, socket) => socket.destroy());
    server.maxConnections = this.opts.maxConnections ?? 200;
    server.on('drop', () => { this.counters.rejectedConnections++; });
    const host = this.opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE'
        ? new Error(`SIP2 port ${this.opts.port ?? 6001} on ${host} is already in use`) : e));
      server.listen(this.opts.port ?? 6001, host, () => resolve());
    });
    server.on('error', (e) => log(`sip2: listener error: ${e.message}`));
    this.server = server;
    return { host, port: (server.address() as AddressInfo).port, stats: () => this.stats(), close: () => this.stop() };
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Starts the SIP2 listener; `close()` stops it and ends every connection. */
export function startSip2Server(opts: Sip2ServerOptions): Promise<RunningSip2> {
  return new Sip2Listener(opts).start();
}
