// The request handler: security headers, the Host check, the JSON API, events and the static pages.
import fs from 'node:fs';
import type http from 'node:http';
import { isErrno } from '../../base/errors.ts';
import { openRegular } from '../../base/jsonfile.ts';
import type { RuntimePaths } from '../../base/paths.ts';
import type { BuildThread } from '../site/build-thread.ts';
import type { EventData, EventHub } from './events.ts';
import { type Health, isLoopback } from './probe.ts';
import { awaitBuild, isTaskPage, lostFile, pageToCome, sendBuilding } from './building.ts';
import { type WebSnapshot, ciMapOf } from '../render/snapshot-read.ts';
import { StaticCache, sendStatic } from './statics.ts';
import { SharedFacts } from './snapshot-shared.ts';
import type { WriteHandler } from './write-routes.ts';

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
/** The API's handler: a promise when it answers later (a task's file read again); a failure there is a 500 too. */
type ApiHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

export interface RoutesInput {
  readonly owner: string;
  readonly dir: string;
  readonly host: string;
  /** The server's own pid, for /api/health. */
  readonly pid: number;
  readonly log: (line: string) => void;
  /** What the event stream says to a page (its version), at hello and at every change. */
  readonly eventData: EventData;
  /** A shared registry: this host's name in it; a claim another host holds has its run log there. */
  readonly hostName?: string | undefined;
}

/**
 * Sent with every response. The pages load their script and style from files (no inline code),
 * so `'self'` is all they need; frame-ancestors stops clickjacking, nosniff stops a task page or
 * JSON answer being run as script, no-referrer keeps local URLs out of PR links' logs.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** The client files the "being built" page needs before the build folder has them. */
const ASSETS = new Set(['/app.js', '/style.css', '/favicon.svg']);

/**
 * The handler over the build folder and the build thread. Static pages are read from the folder
 * as it is on disk (the last build, or the one before while the first rebuild runs); the API
 * answers from the model of the last build. The JSON API's modules (and markdown-it behind them)
 * load on the first API request, so the server answers its first page without them.
 */
export function createRoutes(input: RoutesInput, paths: RuntimePaths, url: () => string, site: BuildThread, hub: EventHub): Handler {
  const fail = (req: http.IncomingMessage, res: http.ServerResponse, err: unknown): void => {
    // One bad request (an undecodable id, an unreadable file) answers 500; the server lives on.
    input.log(`request ${req.method} ${req.url} failed: ${(err as Error).message}`);
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('internal error\n');
  };
  let writes: Promise<WriteHandler> | undefined;
  const writeRoutes = (): Promise<WriteHandler> => (writes ??= import('./write-routes.ts').then((w) => w.createWrites({ dir: input.dir, log: input.log, ownHost: (h) => hosts().has(h) })));
  let api: Promise<ApiHandler> | undefined;
  let history: Promise<ApiHandler> | undefined;
  const apiRoutes = (): Promise<ApiHandler> => (api ??= Promise.all([import('./api.ts'), import('./log-routes.ts'), import('./api-query.ts')])
    .then(([a, l, query]) => createApi(input, paths, url, site, a, l, query)));
  const handle: Handler = (req, res) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    try {
      route(req, res);
    } catch (err) {
      fail(req, res, err);
    }
  };
  let allowed: Set<string> | undefined;
  const hosts = (): Set<string> => {
    if (allowed) return allowed;
    const u = new URL(url() || 'http://x');
    const set = new Set([u.host, `localhost:${u.port}`, `127.0.0.1:${u.port}`, `[::1]:${u.port}`]);
    // Computed once the URL is known.
    if (url()) allowed = set;
    return set;
  };
  /** The build folder's small files in memory, emptied whenever a build moves the version (statics.ts). */
  const statics = new StaticCache();
  const route: Handler = (req, res) => {
    // DNS rebinding: a page from elsewhere that resolves its name to 127.0.0.1 must not read the API.
    // Host names are case-insensitive, so LOCALHOST:port is the same host.
    const host = req.headers.host?.toLowerCase();
    if (host !== undefined && !hosts().has(host) && isLoopback(input.host)) {
      res.writeHead(421, { 'content-type': 'text/plain; charset=utf-8' }).end(`unexpected Host ${req.headers.host}; use ${url()}\n`);
      return;
    }
    const url0 = req.url ?? '/';
    const q = url0.indexOf('?');
    const pathname = q === -1 ? url0 : url0.slice(0, q);
    // The board's writes, its token and the version a write carries (write-routes.ts, loaded with the edit core on first use).
    const write = /^\/api\/(?:token|tasks\/([^/]+)\/(status|version))$/.exec(pathname);
    const verb = write?.[2] === 'status' ? 'POST' : 'GET';
    if (write && req.method === verb) {
      writeRoutes().then((w) => w(req, res, write[1], write[2])).catch((err: unknown) => fail(req, res, err));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: write ? verb : 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    if (pathname === '/api/events') return hub.attach(req, res, input.eventData);
    if (pathname === '/api/history') return void (history ??= import('./history-route.ts').then((h) => h.historyRoute(input))).then((h) => h(req, res)).catch((err: unknown) => fail(req, res, err));
    if (pathname.startsWith('/api/')) {
      apiRoutes().then((h) => h(req, res)).catch((err: unknown) => fail(req, res, err));
      return;
    }
    // Nothing of the build folder is served until the server has the model its pages show (or a
    // previous build of this tool was there at start): `/`, tasks.json and the compressed pages must
    // never show tasks that /api/tasks does not have yet. And only the files a build of this tool
    // wrote are served: a repository can commit its own into the folder (site-manifest.ts).
    const shown = site.pagesShown();
    if (shown) statics.follow(site.version);
    else statics.clear();
    if (shown && sendStatic(paths.site, req, res, pathname, (rel) => site.serves(rel), statics)) return;
    // After a build the request waited for: the file if it is on disk by then, else `orElse`.
    const serveAfter = (build: Promise<unknown>, orElse: () => void): void => awaitBuild(build, () => {
      try {
        if (res.destroyed || (site.pagesShown() && sendStatic(paths.site, req, res, pathname, (rel) => site.serves(rel)))) return;
        orElse();
      } catch (err) {
        fail(req, res, err);
      }
    });
    // A file of the build the disk lost under us: the build thread writes it again, and the request waits for it.
    const lost = shown ? lostFile(pathname, paths.site, site) : undefined;
    if (lost !== undefined) return serveAfter(site.filesLost(), () => sendBuilding(req, res, pathname, input.dir, site.failure));
    // A task page the index links but a build left to render: the build thread renders it next.
    const due = shown ? pageToCome(pathname, site) : undefined;
    if (due !== undefined) {
      return serveAfter(site.page(due), () => {
        if (site.buildState() !== 'current') sendBuilding(req, res, pathname, input.dir, site.failure);
        // A task's page the build lost track of: written again (once per request), never a 404.
        else if (isTaskPage(due, site)) serveAfter(site.filesLost(), () => sendBuilding(req, res, pathname, input.dir, site.failure));
        else notFound(res);
      });
    }
    // An asset not on disk yet is answered from memory: before the first build, after the build
    // folder was deleted, and while a build's writer threads have put index.html down before it.
    if (ASSETS.has(pathname)) {
      void import('../site/client-assets.ts').then(({ clientAssets }) => {
        const asset = clientAssets().find((a) => `/${a.name}` === pathname);
        if (asset === undefined) return notFound(res);
        const type = pathname.endsWith('.js') ? 'text/javascript; charset=utf-8' : pathname.endsWith('.css') ? 'text/css; charset=utf-8' : 'image/svg+xml';
        res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store', 'content-length': asset.bytes.length });
        res.end(req.method === 'HEAD' ? undefined : asset.bytes);
      }).catch((err: unknown) => fail(req, res, err));
      return;
    }
    // Not shown: the first build is under way, it failed, or the build folder was deleted under us (it is rebuilt).
    if (!shown) {
      site.pagesMissing();
      return sendBuilding(req, res, pathname, input.dir, site.failure);
    }
    notFound(res);
  };
  return handle;
}

function notFound(res: http.ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
}

type ApiModule = typeof import('./api.ts');
type LogRoutesModule = typeof import('./log-routes.ts');

/** The /api/… routes but the event stream: health, the snapshot, tasks (whole, or paged for scripts: api-query.ts) and run logs. */
function createApi(input: RoutesInput, paths: RuntimePaths, url: () => string, site: BuildThread, api: ApiModule, logs: LogRoutesModule, query: typeof import('./api-query.ts')): ApiHandler {
  const { Derived, ambiguousTasks, ambiguousText, apiTaskText, apiTasksBody, findTask, jsonBody, sendBuilding, sendCached, sendJson } = api;
  type SnapshotFacts = Parameters<typeof apiTasksBody>[2];
  type Snap = { sig: string; doc: ReturnType<typeof jsonBody> };
  const snapshotDoc = new Derived<Snap>();
  const facts = new Derived<SnapshotFacts>();
  const sameFacts = new Derived<SnapshotFacts>();
  const tasksDoc = new Derived<ReturnType<typeof apiTasksBody>>();
  const shared = new SharedFacts(input.hostName);
  const sharedOf = (snap: Snap | 'none' | 'not a file'): ReturnType<SharedFacts['of']> => shared.of(typeof snap === 'string' ? undefined : { sig: snap.sig, body: snap.doc.body });
  /**
   * The snapshot file's body, read again only when its signature (inode, size, mtime) changed: the
   * heartbeat renames a new file in each tick. Opened without following a symlink, and only a
   * regular file is read: a repository can commit a link in its place, and this route would send
   * the operator's file it points at (the next tick's rename replaces the link).
   */
  const snapshot = (): Snap | 'none' | 'not a file' => {
    let opened: ReturnType<typeof openRegular>;
    try {
      opened = openRegular(paths.snapshot);
    } catch (err) {
      // ELOOP: a link; ENXIO: a socket (openRegular never waits on a FIFO either).
      if (isErrno(err, 'ELOOP') || isErrno(err, 'ENXIO')) return 'not a file';
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return 'none';
      throw err;
    }
    if (opened === undefined) return 'not a file';
    const { fd, st } = opened;
    try {
      const sig = `${st.ino}:${st.size}:${st.mtimeMs}`;
      return snapshotDoc.get([sig], () => ({ sig, doc: jsonBody(fs.readFileSync(fd, 'utf8')) }));
    } finally {
      fs.closeSync(fd);
    }
  };
  /** The escalations and gh CI states by task id, from the snapshot as it is now (not as the last rebuild saw it). */
  const factsOf = (snap: Snap | 'none' | 'not a file'): SnapshotFacts =>
    facts.get([typeof snap === 'string' ? undefined : snap.sig], () => {
      const none: SnapshotFacts = { escalations: new Map(), ci: new Map() };
      if (typeof snap === 'string') return none;
      try {
        const doc = JSON.parse(snap.doc.body.toString('utf8')) as Partial<WebSnapshot>;
        const raw = doc.escalations;
        const list = (Array.isArray(raw) ? raw : []).map((e) => [e.id, { reason: e.reason, since: e.since }] as const);
        const ci = [...ciMapOf(doc as WebSnapshot)];
        // The same maps while they read the same (most ticks): the /api/tasks body stays cached.
        return sameFacts.get([JSON.stringify([list, ci])], () => ({ escalations: new Map(list), ci: new Map(ci) }));
      } catch (err) {
        // A torn or foreign snapshot shows no escalations; the heartbeat writes a whole one next tick.
        if (err instanceof SyntaxError) return none;
        throw err;
      }
    });
  return (req, res) => {
    const url0 = req.url ?? '/';
    const q = url0.indexOf('?');
    const pathname = q === -1 ? url0 : url0.slice(0, q);
    if (pathname === '/api/health') {
      // Read now, not from the last rebuild: an uptime checker must see a kill at once. 503 unless running.
      const hb = site.readHeartbeat();
      // A heartbeat that cannot reach the shared registry dispatches nothing: not healthy either.
      const { registry } = sharedOf(snapshot());
      const unreachable = registry?.unreachableSince !== undefined;
      const health: Health = {
        ok: hb.state === 'running' && !unreachable, app: 'tasks', owner: input.owner, dir: input.dir, pid: input.pid, url: url(),
        state: hb.state, heartbeatPid: hb.pid, heartbeat: hb, build: site.buildState(), api: site.current === undefined ? 'building' : 'ready',
        ...(registry === null ? {} : { registry }),
        ...(unreachable ? { reason: `registry unreachable since ${registry?.unreachableSince}${registry?.error ? ` (${registry.error})` : ''}` } : {}),
      };
      return sendJson(res, health.ok ? 200 : 503, JSON.stringify(health));
    }
    if (pathname === '/api/snapshot') {
      const snap = snapshot();
      if (typeof snap !== 'string') return sendCached(req, res, snap.doc);
      return sendJson(res, 404, JSON.stringify({ error: snap === 'not a file'
        ? `${paths.snapshot} is not a regular file (a symlink, a folder or a FIFO), so it is not read; remove it, and the heartbeat's next tick writes a new one`
        : 'no snapshot yet: the heartbeat has not ticked' }));
    }
    const logRoute = /^\/api\/tasks\/([^/]+)\/(log|log\.txt)$/.exec(pathname);
    if (pathname === '/api/tasks' || pathname.startsWith('/api/tasks/')) {
      let id: string | undefined;
      if (pathname !== '/api/tasks') {
        try {
          // One path segment only: an id with a slash comes percent-encoded, so it can never climb out.
          id = decodeURIComponent(logRoute ? logRoute[1] as string : pathname.slice('/api/tasks/'.length));
        } catch (err) {
          if (!(err instanceof URIError)) throw err;
          return sendJson(res, 400, JSON.stringify({ error: 'the task id is not valid percent-encoding' }));
        }
      }
      // The model the pages were built from (the build thread sends it with each build): no second scan.
      // None yet while the first build runs: 503, never an empty list or a "no task" that is not true.
      const model = site.current;
      if (model === undefined) return sendBuilding(res);
      // Serialized once per (model, snapshot, remote): a request between changes costs a stat and a write.
      const known = factsOf(snapshot());
      const remote = site.remote;
      if (id === undefined) return query.answerTasks(req, res, q === -1 ? '' : url0.slice(q + 1), model, known, remote, () => tasksDoc.get([model, known, remote], () => {
        // A failure is not kept for the version: the next request tries again.
        const made = apiTasksBody(model.tasks, model.errors, known, remote);
        made.catch(() => tasksDoc.forget());
        return made;
      }));
      const many = ambiguousTasks(model.tasks, id);
      if (many !== undefined) return sendJson(res, 409, ambiguousText(id, many));
      const task = findTask(model.tasks, id);
      if (task === undefined) return sendJson(res, 404, JSON.stringify({ error: `no task with id ${id}` }));
      // Another host's run writes its log on that host: say where, read no local file of that name.
      const elsewhere = logRoute ? sharedOf(snapshot()).remote.get(task.id) : undefined;
      if (elsewhere) return sendJson(res, 404, JSON.stringify({ error: `task ${task.id} is held by host ${elsewhere.host}: its run log is ${elsewhere.log ?? 'in the runs folder'} on that host`, host: elsewhere.host, log: elsewhere.log }));
      if (logRoute) return logs.answerRunLog(req, res, task, logRoute[2] as 'log' | 'log.txt', new URLSearchParams(q === -1 ? '' : url0.slice(q + 1)), paths);
      // The model's tasks carry no text (build-worker.ts): the body, sections and fields are read from the file now.
      return import('../../tasks/task-read.ts').then(({ readTask }) => {
        const read = readTask(input.dir, task.path, model.format ?? { statuses: [], taskPrefix: null });
        // The file changed since the model was built (an edit, a checkout that moved or swapped files):
        // its text joined with the model's id, title and status could be two tasks in one answer.
        // The rebuild that follows the change catches up, so this is a 503 to retry, never a mix.
        const moved = !read.ok ? `no longer reads as a task (${read.reason})` : read.task.id !== task.id || read.task.title !== task.title || read.task.status !== task.status ? 'changed' : undefined;
        if (moved !== undefined || !read.ok) {
          res.setHeader('retry-after', '1');
          return sendJson(res, 503, JSON.stringify({ error: `task ${task.id}: its file ${task.path} ${moved ?? 'changed'} since the list was built; retry in a moment` }));
        }
        sendJson(res, 200, apiTaskText(model.tasks, task, known, remote, read.task));
      });
    }
    return sendJson(res, 404, JSON.stringify({ error: `no such endpoint: ${pathname}` }));
  };
}
