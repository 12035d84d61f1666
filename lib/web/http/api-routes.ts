// The JSON API but the event stream and the board's writes: health, the snapshot, tasks (whole, paged, one) and run logs; loaded on the first API request.
import type http from 'node:http';
import { topFields } from '../../base/json-fields.ts';
import { readIfChanged } from '../../base/jsonfile.ts';
import type { RuntimePaths } from '../../base/paths.ts';
import type { SentBody } from '../site/api-answers.ts';
import { parseTasksQuery } from '../site/api-doc.ts';
import type { BuildThread } from '../site/build-thread.ts';
import { type JsonBody, type PlainBody, jsonBody } from '../site/json-doc.ts';
import { sendBuilding, sendJson } from './api.ts';
import { sendCached } from './json-body.ts';
import * as logs from './log-routes.ts';
import type { Health } from './probe.ts';
import { SharedFacts } from './snapshot-shared.ts';

/** The API's handler: a promise when it answers later (a task's file read again); a failure there is a 500 too. */
export type ApiHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

/** What the API needs of the server (routes.ts's RoutesInput gives it). */
export interface ApiInput {
  readonly owner: string;
  readonly dir: string;
  /** The server's own pid, for /api/health. */
  readonly pid: number;
  /** A shared registry: this host's name in it; a claim another host holds has its run log there. */
  readonly hostName?: string | undefined;
}

/** The /api/… routes but the event stream: health, the snapshot, tasks (whole, or paged for scripts) and run logs; the task routes are asked of the build thread. */
export function createApi(input: ApiInput, paths: RuntimePaths, url: () => string, site: BuildThread): ApiHandler {
  type Snap = { sig: string; doc: PlainBody; fields: () => ReadonlyMap<string, Buffer> | undefined };
  /** The whole list as the build thread last made it, with the tag of what it shows (api-answers.ts). */
  let list: { tag: string; doc: JsonBody } | undefined;
  /**
   * The question for the whole list under way: requests that come meanwhile share it (its answer
   * is made when the thread takes it, so it is as new as theirs would be), one body per version.
   */
  let listing: Promise<JsonBody | undefined> | undefined;
  const wholeList = (): Promise<JsonBody | undefined> => {
    listing ??= site.ask({ kind: 'list', have: list?.tag }).then((a) => {
      if (a.kind === 'building') return undefined;
      if (a.kind === 'same' && list !== undefined) return list.doc;
      if (a.kind !== 'list') throw new Error(`the build thread answered the list with ${a.kind}`);
      list = { tag: a.tag, doc: bodyOf(a.doc) };
      return list.doc;
    }).finally(() => { listing = undefined; });
    return listing;
  };
  const shared = new SharedFacts(input.hostName);
  const sharedOf = (snap: Snap | 'none' | 'not a file'): ReturnType<SharedFacts['of']> => shared.of(typeof snap === 'string' ? undefined : snap);
  /**
   * The snapshot file's body, read again only when its signature (inode, size, mtime) changed: the
   * heartbeat renames a new file in each tick. Opened without following a symlink, and only a
   * regular file is read: a repository can commit a link in its place, and this route would send
   * the operator's file it points at (the next tick's rename replaces the link). Its top-level
   * fields are found once per version, and each reader parses only the ones it needs.
   */
  let snap: Snap | undefined;
  const snapshot = (): Snap | 'none' | 'not a file' => {
    const read = readIfChanged(paths.snapshot, snap?.sig);
    // 'same' answers only the signature it was given: the snapshot kept.
    if (read === 'same') return snap as Snap;
    if (read === 'none' || read === 'not a file') return read;
    const doc = jsonBody(read.bytes.toString('utf8'));
    let found: { fields: ReadonlyMap<string, Buffer> | undefined } | undefined;
    snap = { sig: read.sig, doc, fields: () => (found ??= { fields: topFields(doc.body) }).fields };
    return snap;
  };
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
        state: hb.state, heartbeatPid: hb.pid, heartbeat: hb, build: site.buildState(), api: site.apiReady() ? 'ready' : 'building',
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
      // None yet while the first build runs: 503, never an empty list or a "no task" that is not true.
      if (!site.apiReady()) return sendBuilding(res);
      // The build thread holds the model and answers from it; this thread keeps the whole list's body.
      if (id === undefined) {
        const search = q === -1 ? '' : url0.slice(q + 1);
        const query = parseTasksQuery(search);
        if (query !== undefined && 'error' in query) return sendJson(res, 400, JSON.stringify({ error: query.error }));
        if (query === undefined) return wholeList().then((doc) => (doc === undefined ? sendBuilding(res) : sendCached(req, res, doc)));
        return site.ask({ kind: 'query', search }).then((a) => {
          if (a.kind === 'building') return sendBuilding(res);
          if (a.kind !== 'json') throw new Error(`the build thread answered a query with ${a.kind}`);
          return a.status === 200 ? sendCached(req, res, jsonBody(a.text)) : sendJson(res, a.status, a.text);
        });
      }
      const taskId = id;
      return site.ask({ kind: 'task', id: taskId, log: logRoute !== null }).then((a) => {
        if (a.kind === 'building') return sendBuilding(res);
        if (a.kind === 'json') {
          if (a.retry === true) res.setHeader('retry-after', '1');
          return sendJson(res, a.status, a.text);
        }
        if (a.kind !== 'log' || logRoute === null) throw new Error(`the build thread answered task ${JSON.stringify(taskId)} with ${a.kind}`);
        const { task } = a;
        // Another host's run writes its log on that host: say where, read no local file of that name.
        const elsewhere = sharedOf(snapshot()).remote.get(task.id);
        if (elsewhere) return sendJson(res, 404, JSON.stringify({ error: `task ${task.id} is held by host ${elsewhere.host}: its run log is ${elsewhere.log ?? 'in the runs folder'} on that host`, host: elsewhere.host, log: elsewhere.log }));
        return logs.answerRunLog(req, res, task, logRoute[2] as 'log' | 'log.txt', new URLSearchParams(q === -1 ? '' : url0.slice(q + 1)), paths);
      });
    }
    return sendJson(res, 404, JSON.stringify({ error: `no such endpoint: ${pathname}` }));
  };
}

/** A body the build thread sent, as this thread keeps and sends it (json-body.ts): its bytes, or its gzip only. */
function bodyOf(sent: SentBody): JsonBody {
  const buffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  const encoded = new Map<string, Promise<Buffer>>(sent.gz === undefined ? [] : [['.gz', Promise.resolve(buffer(sent.gz))]]);
  return { body: sent.body === undefined ? undefined : buffer(sent.body), length: sent.length, etag: sent.etag, encoded };
}
