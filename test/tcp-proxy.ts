// A TCP proxy on 127.0.0.1 between a client (a heartbeat) and a server (PostgreSQL), for partition
// tests: pause() is a hung network (sockets open, no bytes), cut() a broken one (connections reset).
import net from 'node:net';

/** The proxy a test controls; every method acts on all connections at once. */
export interface TcpProxy {
  /** The loopback port clients connect to. */
  readonly port: number;
  /** A postgres url for database db through the proxy (user postgres, no password). */
  url(db: string): string;
  /** Connections open now (client side). */
  readonly connections: number;
  /** Stops forwarding bytes both ways and keeps every socket open; new connections are accepted but hang too. */
  pause(): void;
  /** Forwards again, bytes held during the pause first. */
  resume(): void;
  /** Resets every open connection and refuses (resets) new ones until heal(). */
  cut(): void;
  /** Accepts new connections again after cut(). */
  heal(): void;
  /** Ends every connection and the listener. */
  close(): Promise<void>;
}

/** One direction of a connection: what it read while paused, and whether it waits for the other side to drain. */
interface Pipe { from: net.Socket; to: net.Socket; held: Buffer[]; blocked: boolean }

/** Starts a proxy on 127.0.0.1 (a free port) to target host:port. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let paused = false;
  let refusing = false;
  const sockets = new Set<net.Socket>();
  const pipes = new Set<Pipe>();
  const clients = new Set<net.Socket>();

  const forward = (pipe: Pipe): void => {
    pipe.from.on('data', (chunk: Buffer) => {
      if (paused) {
        // pause() stops reading, but a chunk already read still arrives: hold it for resume().
        pipe.held.push(chunk);
        return;
      }
      if (!pipe.to.write(chunk)) {
        pipe.blocked = true;
        pipe.from.pause();
      }
    });
    pipe.to.on('drain', () => {
      pipe.blocked = false;
      if (!paused) pipe.from.resume();
    });
    if (paused) pipe.from.pause();
    pipes.add(pipe);
  };
  // A reset on one side resets the other, as a broken network path would.
  const tie = (a: net.Socket, b: net.Socket): void => {
    const end = (): void => {
      sockets.delete(a);
      if (!b.destroyed) b.resetAndDestroy();
    };
    a.on('error', end);
    a.on('close', end);
  };

  const server = net.createServer((client) => {
    if (refusing) {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) sockets.add(s);
    tie(client, upstream);
    tie(upstream, client);
    forward({ from: client, to: upstream, held: [], blocked: false });
    forward({ from: upstream, to: client, held: [], blocked: false });
    clients.add(client);
    client.on('close', () => {
      clients.delete(client);
      for (const p of pipes) if (p.from === client || p.to === client) pipes.delete(p);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('tcp proxy: no port');
  const port = address.port;

  const resetAll = (): void => {
    for (const s of sockets) s.resetAndDestroy();
    sockets.clear();
    clients.clear();
    pipes.clear();
  };

  return {
    port,
    url: (db) => `postgres://postgres@127.0.0.1:${port}/${db}`,
    get connections(): number { return clients.size; },
    pause: () => {
      paused = true;
      for (const p of pipes) p.from.pause();
    },
    resume: () => {
      paused = false;
      for (const p of pipes) {
        for (const chunk of p.held.splice(0)) p.to.write(chunk);
        if (!p.blocked) p.from.resume();
      }
    },
    cut: () => {
      refusing = true;
      resetAll();
    },
    heal: () => { refusing = false; },
    close: async () => {
      resetAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
