import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';

export interface BrokerOptions {
  host: string;
  port: number;
  wsPort: number;
  /** When set, clients must connect with these credentials. */
  username?: string;
  password?: string;
}

export interface EmbeddedBroker {
  aedes: Aedes;
  port: number;
  wsPort: number;
  url: string;
  wsUrl: string;
  close(): Promise<void>;
}

/** The embedded MQTT 3.1.1 broker (aedes) on TCP and WebSocket, for a one-command start. */
export async function startBroker(opts: BrokerOptions): Promise<EmbeddedBroker> {
  const aedes = await Aedes.createBroker({ drainTimeout: 30_000, heartbeatInterval: 60_000 });
  if (opts.username !== undefined) {
    aedes.authenticate = (_client, username, password, done) => {
      const ok = username === opts.username && (password?.toString() ?? '') === (opts.password ?? '');
      if (ok) return done(null, true);
      const err = Object.assign(new Error('bad user name or password'), { returnCode: 4 });
      done(err as any, false);
    };
  }
  const sockets = new Set<import('node:net').Socket>();
  // Small MQTT packets (PUBACKs, commands) go out at once: without TCP_NODELAY, Nagle's algorithm and
  // delayed ACKs hold them up to 40 ms on loopback.
  const tcp: TcpServer = createTcpServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  const http: HttpServer = createHttpServer((_req, res) => { res.writeHead(426).end('MQTT over WebSocket only\n'); });
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (socket, req) => aedes.handle(createWebSocketStream(socket) as any, req as any));

  await listen(tcp, opts.port, opts.host);
  await listen(http, opts.wsPort, opts.host);
  const port = (tcp.address() as AddressInfo).port;
  const wsPort = (http.address() as AddressInfo).port;
  return {
    aedes, port, wsPort,
    url: `mqtt://${opts.host}:${port}`,
    wsUrl: `ws://${opts.host}:${wsPort}`,
    async close() {
      await new Promise<void>((r) => aedes.close(() => r()));
      for (const c of wss.clients) c.terminate();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => wss.close(() => r()));
      await Promise.all([closeServer(tcp), closeServer(http)]);
    },
  };
}

function listen(server: TcpServer | HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      reject(e.code === 'EADDRINUSE' ? new Error(`port ${port} on ${host} is already in use (set another in the configuration)`) : e);
    };
    server.once('error', onError);
    server.listen(port, host, () => { server.off('error', onError); resolve(); });
  });
}

function closeServer(server: TcpServer | HttpServer): Promise<void> {
  return new Promise((resolve) => {
    if ('closeAllConnections' in server) server.closeAllConnections();
    server.close(() => resolve());
  });
}
