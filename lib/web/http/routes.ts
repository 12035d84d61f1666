// The request handler: security headers, the Host check, the board's writes, events, the JSON API (api-routes.ts, loaded on first use) and the static pages.
import type http from 'node:http';
import type { RuntimePaths } from '../../base/paths.ts';
import type { BuildThread } from '../site/build-thread.ts';
import type { EventData, EventHub } from './events.ts';
import { isLoopback } from './probe.ts';
import { awaitBuild, lostFile, pageToCome, sendBuilding } from './building.ts';
import { StaticCache, sendStatic } from './statics.ts';
import type { WriteHandler } from './write-routes.ts';

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
/** The API's handler (api-routes.ts): a promise when it answers later; a failure there is a 500 too. */
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
  const apiRoutes = (): Promise<ApiHandler> => (api ??= import('./api-routes.ts').then((a) => a.createApi(input, paths, url, site)));
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
      const building = (): void => sendBuilding(req, res, pathname, input.dir, site.failure);
      /**
       * Whether it is a task's page, asked of the build thread (it holds the model): then it must
       * exist. When the thread cannot say (dead, or not built since a restart) the request gets the
       * being-built page (503) instead: never a 404 for a page that may be a task's.
       */
      const isTaskPage = (then: (known: boolean) => void): void => {
        if (!due.startsWith('tasks/')) return then(false);
        site.ask({ kind: 'page', rel: due }).then((a) => (a.kind === 'page' ? then(a.known) : building())).catch((err: unknown) => fail(req, res, err));
      };
      const afterPage = (): void => {
        if (site.buildState() !== 'current') return building();
        // A task's page the build lost track of: written again (once per request), never a 404.
        isTaskPage((known) => (known ? serveAfter(site.filesLost(), building) : notFound(res)));
      };
      // While the build is current, a file not on disk is missing for good unless it is a task's page.
      if (site.buildState() !== 'current') return serveAfter(site.page(due), afterPage);
      return isTaskPage((known) => (known ? serveAfter(site.page(due), afterPage) : notFound(res)));
    }
    // An asset not on disk yet is answered from memory: before the first build, after the build
    // folder was deleted, and while a build's writer has not put index.html down yet.
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
