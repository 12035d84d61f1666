// The tasks server: port rules, the pid file, static pages through sirv, the JSON API and events.
import http from 'node:http';
import getPort, { portNumbers } from 'get-port';
import sirv from 'sirv';
import { TasksError } from '../base/errors.ts';
import { type Expected, livePid, parsePidFile, publishPidFile, removePidFileIf } from '../supervise/pidfile.ts';
import { runtimePaths } from '../base/paths.ts';
import { readJsonFile, readTextFile } from '../base/jsonfile.ts';
import type { Snapshot } from '../manager/tick.ts';
import { apiTask } from './api.ts';
import { type Health, findOwnServer, isLoopback, probeHealth, serverUrl } from './probe.ts';

import { EventHub, LiveSite } from './live.ts';

export interface ServeInput {
  readonly owner: string;
  readonly dir: string;
  readonly host: string;
  readonly port: number;
  readonly portGiven: boolean;
  /** Recorded in the server pid file: only a detached server is stopped by `stop`. */
  readonly detached: boolean;
  readonly project: string;
  /** Hears about rebuild failures (the server keeps serving the last good pages). */
  readonly log: (line: string) => void;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  /** Set when the default port was taken and another one was used. */
  readonly movedFrom: number | undefined;
  /** Rebuilds the pages (the heartbeat is up now) and starts answering requests. */
  open(): void;
  close(): Promise<void>;
}

export type ServeOutcome =
  | { readonly kind: 'already'; readonly url: string; readonly pid: number | undefined }
  | { readonly kind: 'listening'; readonly server: RunningServer };

/**
 * Starts the tasks server with the port rules (docs/operations.md): this owner's own server already
 * running → report it; an explicit port that is taken → fail naming host:port; the default
 * taken by something else → the next free port.
 */
export async function startServer(input: ServeInput): Promise<ServeOutcome> {
  const paths = runtimePaths(input.dir, input.owner);
  const own = await findOwnServer(input);
  if (own) return { kind: 'already', url: own.url, pid: own.pid };
  const live = new LiveSite({ owner: input.owner, dir: input.dir, project: input.project, out: paths.site, ownFolder: true, now: () => new Date() });
  live.rebuild();
  const hub = new EventHub();
  let url = '';
  const routes = createHandler(input, paths, () => url, live, hub);
  // Requests wait until the caller opens the server (once the heartbeat is up and the pages show it):
  // binding early overlaps the heartbeat's start, answering early would show a stale state.
  let open!: () => void;
  const opened = new Promise<void>((resolve) => { open = resolve; });
  let current: Handler = (req, res) => { void opened.then(() => routes.handle(req, res)); };
  void opened.then(() => { current = routes.handle; });
  const server = http.createServer((req, res) => current(req, res));
  let port = input.port;
  let movedFrom: number | undefined;
  for (let attempt = 0; ; attempt++) {
    const result = await listen(server, port, input.host);
    if (result === 'ok') break;
    if (result !== 'EADDRINUSE') throw new TasksError(`cannot listen on ${input.host}:${port}: ${result}; pass another host= or port=`);
    const holder = await probeHealth(serverUrl(input.host, port));
    if (holder && holder.owner === input.owner && holder.dir === input.dir) return { kind: 'already', url: holder.url, pid: holder.pid };
    if (input.portGiven) {
      throw new TasksError(`port ${input.host}:${port} is already in use by another process; pass another port= or stop what holds it`);
    }
    if (attempt >= 20) throw new TasksError(`no free port found near ${input.port} on ${input.host}; pass port=<free port>`);
    movedFrom = input.port;
    // get-port only checks; the listen() above is the real test, so a port taken meanwhile loops.
    port = await getPort({ port: portNumbers(Math.min(port + 1, 65535), Math.min(port + 100, 65535)), host: input.host });
  }
  const address = server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  url = serverUrl(input.host, boundPort);
  const expected: Expected = { kind: 'serve', owner: input.owner, dir: input.dir };
  publishPidFile(paths.serverPid, expected, { url, host: input.host, port: String(boundPort), detached: input.detached ? '1' : '0', ...(movedFrom !== undefined ? { movedFrom: String(movedFrom) } : {}) });
  const changed = (): void => {
    // sirv (non-dev) caches sizes and ETags: any rewritten page needs a fresh handler.
    routes.reloadStatics();
    hub.send(live.version);
  };
  const unwatch = live.watch(
    changed,
    (err) => input.log(`dashboard rebuild failed: ${err.message}`),
  );
  return {
    kind: 'listening',
    server: {
      url,
      port: boundPort,
      movedFrom,
      open: () => {
        const result = live.rebuild();
        if (result.written || result.removed) changed();
        open();
      },
      close: async () => {
        unwatch();
        hub.close();
        removePidFileIf(paths.serverPid, process.pid);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      },
    },
  };
}

function listen(server: http.Server, port: number, host: string): Promise<'ok' | string> {
  return new Promise((resolve) => {
    const onError = (err: NodeJS.ErrnoException): void => { server.off('listening', onListening); resolve(err.code ?? err.message); };
    const onListening = (): void => { server.off('error', onError); resolve('ok'); };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

function createHandler(input: ServeInput, paths: ReturnType<typeof runtimePaths>, url: () => string, live: LiveSite, hub: EventHub): { handle: Handler; reloadStatics: () => void } {
  // sirv (non-dev) indexes the folder once: a new handler is made when pages are added or removed.
  const makeStatics = (): ReturnType<typeof sirv> => sirv(paths.site, {
    dev: false,
    etag: true,
    dotfiles: false,
    setHeaders: (res) => res.setHeader('cache-control', 'no-cache'),
  });
  let statics = makeStatics();
  const expected: Expected = { kind: 'heartbeat', owner: input.owner, dir: input.dir };
  const heartbeat = (): { running: boolean; pid: number | undefined } => {
    const pid = livePid(paths.heartbeatPid, expected);
    return { running: pid !== undefined, pid };
  };
  const handle: Handler = (req, res) => {
    try {
      route(req, res);
    } catch (err) {
      // One bad request (an undecodable id, an unreadable file) answers 500; the server lives on.
      input.log(`request ${req.method} ${req.url} failed: ${(err as Error).message}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('internal error\n');
    }
  };
  let allowed: Set<string> | undefined;
  const hosts = (): Set<string> => {
    if (allowed) return allowed;
    const u = new URL(url() || 'http://x');
    const set = new Set([u.host, `localhost:${u.port}`, `127.0.0.1:${u.port}`, `[::1]:${u.port}`]);
    // Computed once the URL is known (requests are held until then).
    if (url()) allowed = set;
    return set;
  };
  const route: Handler = (req, res) => {
    // DNS rebinding: a page from elsewhere that resolves its name to 127.0.0.1 must not read the API.
    if (req.headers.host !== undefined && !hosts().has(req.headers.host) && isLoopback(input.host)) {
      res.writeHead(421, { 'content-type': 'text/plain; charset=utf-8' }).end(`unexpected Host ${req.headers.host}; use ${url()}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    const url0 = req.url ?? '/';
    const q = url0.indexOf('?');
    const pathname = q === -1 ? url0 : url0.slice(0, q);
    if (pathname === '/api/health') {
      const health: Health & { heartbeat: ReturnType<typeof heartbeat> } = {
        ok: true, app: 'tasks', owner: input.owner, dir: input.dir, pid: process.pid, url: url(), heartbeat: heartbeat(),
      };
      return sendJson(res, 200, JSON.stringify(health));
    }
    if (pathname === '/api/events') return hub.attach(req, res, live.version);
    if (pathname === '/api/snapshot') {
      const snap = readTextFile(paths.snapshot);
      return snap === undefined ? sendJson(res, 404, JSON.stringify({ error: 'no snapshot yet: the heartbeat has not ticked' })) : sendJson(res, 200, snap);
    }
    if (pathname === '/api/tasks' || pathname.startsWith('/api/tasks/')) {
      // The same model the pages were built from (kept current by the folder watches): no second scan.
      const { tasks, errors } = live.current;
      const escalated = new Map((readJsonFile<Snapshot>(paths.snapshot)?.escalations ?? []).map((e) => [e.id, e]));
      if (pathname === '/api/tasks') return sendJson(res, 200, JSON.stringify({ tasks: tasks.map((t) => apiTask(t, escalated, false)), errors }));
      let id: string;
      try {
        id = decodeURIComponent(pathname.slice('/api/tasks/'.length));
      } catch (err) {
        if (!(err instanceof URIError)) throw err;
        return sendJson(res, 400, JSON.stringify({ error: 'the task id is not valid percent-encoding' }));
      }
      const task = tasks.find((t) => t.id === id || t.slug === id);
      return task ? sendJson(res, 200, JSON.stringify(apiTask(task, escalated, true))) : sendJson(res, 404, JSON.stringify({ error: `no task with id ${id}` }));
    }
    if (pathname.startsWith('/api/')) return sendJson(res, 404, JSON.stringify({ error: `no such endpoint: ${pathname}` }));
    // A page removed under sirv's cached index (the build folder deleted) must not crash the server.
    res.once('pipe', (src) => src.once('error', () => {
      res.destroy();
      live.rebuild();
      reloadStatics();
    }));
    statics(req, res, () => {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    });
  };
  const reloadStatics = (): void => { statics = makeStatics(); };
  return { handle, reloadStatics };
}


function sendJson(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body + '\n');
}
