// The request handler: security headers, the Host check, the JSON API, events and the static pages (sirv).
import fs from 'node:fs';
import type http from 'node:http';
import sirv from 'sirv';
import { isErrno } from '../base/errors.ts';
import type { RuntimePaths } from '../base/paths.ts';
import { Derived, type JsonBody, type SnapshotFacts, apiTaskText, apiTasksText, findTask, jsonBody, sendCached, sendJson } from './api.ts';
import type { EventHub } from './events.ts';
import type { LiveSite } from './live.ts';
import { answerRunLog } from './log-routes.ts';
import { type Health, isLoopback } from './probe.ts';
import { type WebSnapshot, ciMapOf } from './snapshot-read.ts';

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface RoutesInput {
  readonly owner: string;
  readonly dir: string;
  readonly host: string;
  /** The server's own pid, for /api/health. */
  readonly pid: number;
  readonly log: (line: string) => void;
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

/** The handler over a live site; reloadStatics makes sirv see pages added or removed since. */
export function createRoutes(input: RoutesInput, paths: RuntimePaths, url: () => string, live: LiveSite, hub: EventHub): { handle: Handler; reloadStatics: () => void } {
  // sirv (non-dev) indexes the folder once: a new handler is made when pages are added or removed.
  const makeStatics = (): ReturnType<typeof sirv> => sirv(paths.site, {
    dev: false,
    etag: true,
    dotfiles: false,
    setHeaders: (res) => res.setHeader('cache-control', 'no-cache'),
  });
  let statics = makeStatics();
  const reloadStatics = (): void => { statics = makeStatics(); };
  const snapshotDoc = new Derived<{ sig: string; doc: JsonBody }>();
  const facts = new Derived<SnapshotFacts>();
  const sameFacts = new Derived<SnapshotFacts>();
  const tasksDoc = new Derived<JsonBody>();
  const handle: Handler = (req, res) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
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
  /** The snapshot file's body, read again only when its stat signature (inode, size, mtime) changed: the heartbeat renames a new file in each tick. */
  const snapshot = (): { sig: string; doc: JsonBody } | undefined => {
    try {
      const st = fs.statSync(paths.snapshot);
      if (!st.isFile()) return undefined;
      const sig = `${st.ino}:${st.size}:${st.mtimeMs}`;
      return snapshotDoc.get([sig], () => ({ sig, doc: jsonBody(fs.readFileSync(paths.snapshot, 'utf8')) }));
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR') || isErrno(err, 'EISDIR')) return undefined;
      throw err;
    }
  };
  /** The escalations and gh CI states by task id, from the snapshot as it is now (not as the last rebuild saw it). */
  const factsOf = (snap: { sig: string; doc: JsonBody } | undefined): SnapshotFacts =>
    facts.get([snap?.sig], () => {
      const none: SnapshotFacts = { escalations: new Map(), ci: new Map() };
      if (snap === undefined) return none;
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
  const route: Handler = (req, res) => {
    // DNS rebinding: a page from elsewhere that resolves its name to 127.0.0.1 must not read the API.
    // Host names are case-insensitive, so LOCALHOST:port is the same host.
    const host = req.headers.host?.toLowerCase();
    if (host !== undefined && !hosts().has(host) && isLoopback(input.host)) {
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
      // Read now, not from the last rebuild: an uptime checker must see a kill at once. 503 unless running.
      const hb = live.readHeartbeat();
      const health: Health = {
        ok: hb.state === 'running', app: 'tasks', owner: input.owner, dir: input.dir, pid: input.pid, url: url(),
        state: hb.state, heartbeatPid: hb.pid, heartbeat: hb,
      };
      return sendJson(res, hb.state === 'running' ? 200 : 503, JSON.stringify(health));
    }
    if (pathname === '/api/events') return hub.attach(req, res, live.version);
    if (pathname === '/api/snapshot') {
      const snap = snapshot();
      return snap === undefined ? sendJson(res, 404, JSON.stringify({ error: 'no snapshot yet: the heartbeat has not ticked' })) : sendCached(req, res, snap.doc);
    }
    const logRoute = /^\/api\/tasks\/([^/]+)\/(log|log\.txt)$/.exec(pathname);
    if (pathname === '/api/tasks' || pathname.startsWith('/api/tasks/')) {
      // The same model the pages were built from (kept current by the folder watches): no second scan.
      // Serialized once per (model, snapshot, remote): a request between changes costs a stat and a write.
      const model = live.current;
      const known = factsOf(snapshot());
      const remote = live.remote;
      if (pathname === '/api/tasks') {
        return sendCached(req, res, tasksDoc.get([model, known, remote], () => jsonBody(apiTasksText(model.tasks, model.errors, known, remote))));
      }
      let id: string;
      try {
        // One path segment only: an id with a slash comes percent-encoded, so it can never climb out.
        id = decodeURIComponent(logRoute ? logRoute[1] as string : pathname.slice('/api/tasks/'.length));
      } catch (err) {
        if (!(err instanceof URIError)) throw err;
        return sendJson(res, 400, JSON.stringify({ error: 'the task id is not valid percent-encoding' }));
      }
      const task = findTask(model.tasks, id);
      if (task === undefined) return sendJson(res, 404, JSON.stringify({ error: `no task with id ${id}` }));
      if (logRoute) return answerRunLog(req, res, task, logRoute[2] as 'log' | 'log.txt', new URLSearchParams(q === -1 ? '' : url0.slice(q + 1)), paths);
      return sendJson(res, 200, apiTaskText(model.tasks, task, known, remote));
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
  return { handle, reloadStatics };
}
