// The JSON API but the event stream and the board's writes: health, the snapshot, tasks (whole, paged, one) and run logs; loaded on the first API request.
import fs from 'node:fs';
import type http from 'node:http';
import { isErrno } from '../../base/errors.ts';
import { fieldOrNothing, topFields } from '../../base/json-fields.ts';
import { openRegular } from '../../base/jsonfile.ts';
import type { RuntimePaths } from '../../base/paths.ts';
import type { BuildThread } from '../site/build-thread.ts';
import { type WebSnapshot, ciMapOf } from '../render/snapshot-read.ts';
import { type SnapshotFacts, ambiguousTasks, ambiguousText, apiTaskText, apiTasksBody, findTask, sendBuilding, sendJson } from './api.ts';
import * as query from './api-query.ts';
import { Derived, type PlainBody, jsonBody, sendCached } from './json-body.ts';
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

/** The /api/… routes but the event stream: health, the snapshot, tasks (whole, or paged for scripts: api-query.ts) and run logs. */
export function createApi(input: ApiInput, paths: RuntimePaths, url: () => string, site: BuildThread): ApiHandler {
  type Snap = { sig: string; doc: PlainBody; fields: () => ReadonlyMap<string, Buffer> | undefined };
  const snapshotDoc = new Derived<Snap>();
  const facts = new Derived<SnapshotFacts>();
  let lastFacts: SnapshotFacts | undefined;
  const tasksDoc = new Derived<ReturnType<typeof apiTasksBody>>();
  const shared = new SharedFacts(input.hostName);
  const sharedOf = (snap: Snap | 'none' | 'not a file'): ReturnType<SharedFacts['of']> => shared.of(typeof snap === 'string' ? undefined : snap);
  /**
   * The snapshot file's body, read again only when its signature (inode, size, mtime) changed: the
   * heartbeat renames a new file in each tick. Opened without following a symlink, and only a
   * regular file is read: a repository can commit a link in its place, and this route would send
   * the operator's file it points at (the next tick's rename replaces the link). Its top-level
   * fields are found once per version, and each reader parses only the ones it needs.
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
      return snapshotDoc.get([sig], () => {
        const doc = jsonBody(fs.readFileSync(fd, 'utf8'));
        let found: { fields: ReadonlyMap<string, Buffer> | undefined } | undefined;
        return { sig, doc, fields: () => (found ??= { fields: topFields(doc.body) }).fields };
      });
    } finally {
      fs.closeSync(fd);
    }
  };
  /**
   * The escalations and gh CI states by task id, from the snapshot as it is now (not as the last
   * rebuild saw it): its `escalations` and `ci` only, the rest of it not parsed.
   */
  const factsOf = (snap: Snap | 'none' | 'not a file'): SnapshotFacts =>
    facts.get([typeof snap === 'string' ? undefined : snap.sig], () => {
      const none: SnapshotFacts = { escalations: new Map(), ci: new Map() };
      const fields = typeof snap === 'string' ? undefined : snap.fields();
      // A torn or foreign snapshot shows no escalations; the heartbeat writes a whole one next tick.
      if (fields === undefined) return none;
      // Each field on its own: a bad `ci` costs the CI states, not the escalations.
      const raw = fieldOrNothing(fields, 'escalations');
      // An entry without a string id (null, a number) is skipped, not a 500 for every request until the next tick.
      const list = (Array.isArray(raw) ? raw as unknown[] : []).flatMap((e) => {
        const { id, reason, since } = (typeof e === 'object' && e !== null ? e : {}) as { id?: unknown; reason: string; since: string };
        return typeof id === 'string' ? [[id, { reason, since }] as const] : [];
      });
      const made: SnapshotFacts = { escalations: new Map(list), ci: ciMapOf({ ci: fieldOrNothing(fields, 'ci') } as WebSnapshot) };
      // The same maps while they read the same (most ticks): the /api/tasks body stays cached.
      if (lastFacts === undefined || !sameFacts(lastFacts, made)) lastFacts = made;
      return lastFacts;
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

/** Whether two snapshots' facts say the same of every task: then the /api/tasks body made for the first one serves the second. */
function sameFacts(a: SnapshotFacts, b: SnapshotFacts): boolean {
  if (a.escalations.size !== b.escalations.size || a.ci.size !== b.ci.size) return false;
  for (const [id, e] of b.escalations) {
    const was = a.escalations.get(id);
    if (was === undefined || was.reason !== e.reason || was.since !== e.since) return false;
  }
  for (const [id, state] of b.ci) if (a.ci.get(id) !== state) return false;
  return true;
}
