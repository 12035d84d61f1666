// One tick of the manager: scan, claims under the registry lock, dispatch, the snapshot.
import fs from 'node:fs';
import path from 'node:path';
import { type Registry, emptyRegistry, peekRegistry } from './registry.ts';
import { type RegistryStore, fileStore } from './store.ts';
import { Fence } from './fence.ts';
import { countByStatus, dependencyProblems, dispatchNote, readyCandidates, readyStatuses, taskIndex, taskReasons } from '../tasks/model.ts';
import { escalations } from './escalations.ts';
import { type LiveRunContext, fileIdOf, reconcile } from './claims.ts';
import { withCiReasons } from './ci.ts';
import { dispatchReady, recordStarts } from './dispatch.ts';
import { GitSide } from './gitside.ts';
import type { RepoAnswer } from '../base/git.ts';
import { RegistryKeeper } from './rebuild.ts';
import { type RunStart, Runs } from './runs.ts';
import { TasksError, isErrno } from '../base/errors.ts';
import { LOG_MAX_BYTES } from '../base/logfile.ts';
import { runtimePaths } from '../base/paths.ts';
import type { MarkedProcess } from '../supervise/runs-proc.ts';
import { TaskScanner } from '../tasks/scan.ts';
import { FolderWatcher } from '../base/watch.ts';
import type { Snapshot, TickInput, Ticker } from './tick.ts';
import type { Task } from '../tasks/taskfile.ts';

export interface ManagerOptions {
  readonly owner: string;
  readonly dir: string;
  /** The folder dispatched commands run in when worktrees are off (TASK_WORKTREE is then <root>/.worktrees/<slug>). */
  readonly root: string;
  /** The top folder of the git work tree that holds dir (undefined outside git), or how to ask git: at the first tick, and again at each tick until git answers. */
  readonly repo?: string | ((signal: AbortSignal) => Promise<RepoAnswer>) | undefined;
  /** Worktrees are wanted: inside git, each dispatched task runs in <repo>/.worktrees/<slug> on branch task/<slug>. */
  readonly worktrees?: boolean;
  /** worktrees=on: nothing is dispatched while git says there is no repository. */
  readonly worktreesRequired?: boolean;
  /** The branch new worktrees start from; undefined: the one checked out in repo when they are made. */
  readonly base?: string | undefined;
  /** Shell command per dispatched task; undefined: no dispatch. */
  readonly dispatch: string | undefined;
  readonly max: number;
  /** The statuses that count as ready, as the operator wrote them (default: ready). */
  readonly ready?: readonly string[];
  readonly escalateAfterS: number;
  /** A run older than this is ended and escalated; undefined: runs may take as long as they take. */
  readonly runTimeoutS?: number | undefined;
  /** Environment for dispatched commands (the entry strips its own loader options first). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The node binary, for the runs' log relays (default: node on PATH). */
  readonly node?: string;
  /** Cap of each runs/<slug>.log before it is rotated to .1 (default: the heartbeat log's). */
  readonly logMaxBytes?: number;
  /** With once, a tick waits for the runs it started, so the snapshot carries their exit codes. */
  readonly once: boolean;
  readonly log: (line: string) => void;
  readonly now: () => Date;
  /** Where the claims are; default: registry.json in the runtime folder. */
  readonly store?: RegistryStore;
  /** Shared registry: this host's name, and how long its leases last (seconds). */
  readonly host?: string;
  readonly leaseS?: number;
}

/** A tick walks the whole folder at least this often, whatever the watches said. */
const FULL_WALK_EVERY = 10;

/**
 * The task manager's tick: scan the task files (incrementally), reconcile the registry, claim
 * and dispatch ready tasks, and build the snapshot. Never writes a task file.
 */
export function managerTicker(o: ManagerOptions): Ticker {
  const scanner = new TaskScanner(o.dir, { keepBody: false });
  let model: Derived | undefined;
  const paths = runtimePaths(o.dir, o.owner);
  const seen = new Map<string, string>();
  const missing = new Map<string, number>();
  // Between full walks, a tick re-reads only the files the folder watches reported: a warm tick
  // over 10,000 unchanged files costs no stat at all. Every FULL_WALK_EVERY ticks (and after any
  // folder event or watch error) the folder is walked anyway, so a missed event costs one period.
  let watcher: FolderWatcher | undefined;
  let watched: string | undefined;
  let last: ReturnType<TaskScanner['scan']> | undefined;
  const scanTasks = (tick: number): ReturnType<TaskScanner['scan']> => {
    // A folder deleted and made again (or moved away and back) is a new folder: watch it afresh, walk it.
    const folder = requireFolder(o.dir);
    if (watched !== folder) {
      watcher?.close();
      watcher = undefined;
      last = undefined;
      watched = folder;
    }
    if (!o.once) {
      watcher ??= new FolderWatcher(o.dir, undefined, () => undefined, (err) => {
        o.log(`${o.now().toISOString()} watching ${o.dir} failed (${err.message}); walking it on the next tick`);
      });
    }
    const files = watcher?.take(tick % FULL_WALK_EVERY === 0);
    if (files === undefined || !last) {
      last = scanner.scan();
    } else {
      last = files.length ? scanner.rescan(files) : { ...last, read: 0, reused: last.files, changed: false };
    }
    return last;
  };

  const keeper = new RegistryKeeper({
    mergeTracked: (r) => runs.merge(r),
    // A fresh look: a rebuild may run between ticks (a run's end being recorded).
    scanLiveRuns: () => (live = runs.folderRuns()),
    context: () => context(),
    runsDir: paths.runs,
  });
  const hooks = { now: o.now, log: o.log, rebuild: (r: Registry, why: 'missing' | 'damaged'): string => keeper.rebuild(r, why), review: (r: Registry): string => keeper.review(r) };
  const store = o.store ?? fileStore(paths.registry);
  const shared = store.kind === 'postgres';
  // A shared registry's claims name their host; a file registry's never do.
  const host = shared ? o.host : undefined;
  const update = <T>(fn: (reg: Registry) => T): Promise<T> => store.update(fn, hooks);
  const runs = new Runs({
    owner: o.owner, dir: o.dir, root: o.root, runsDir: paths.runs, dispatch: o.dispatch, env: o.env, node: o.node ?? 'node',
    logMaxBytes: o.logMaxBytes ?? LOG_MAX_BYTES, runTimeoutS: o.runTimeoutS, log: o.log, now: o.now, update: (fn) => update(fn),
    fenceFile: shared ? paths.lease : undefined, fenceUntil: () => fence?.relayUntil() ?? 0,
  });

  // The live marked processes of this folder, scanned at most once per tick and only when needed.
  let live: Map<string, MarkedProcess[]> | undefined;
  const liveRuns = (): Map<string, MarkedProcess[]> => (live ??= runs.folderRuns());
  const fileIds = new Map<string, string | undefined>();
  const fileId = (t: Task): string | undefined => {
    if (!fileIds.has(t.path)) fileIds.set(t.path, fileIdOf(path.join(o.dir, t.path)));
    return fileIds.get(t.path);
  };
  const context = (): LiveRunContext => {
    const m = model as Derived;
    return { dir: o.dir, byId: m.byId, byPath: m.byPath, fileId, now: o.now(), host };
  };

  // The repository is asked for at the first tick (finding it must not delay the heartbeat's start).
  const side = new GitSide({ ...o, repo: o.repo, base: o.base, worktrees: o.worktrees === true, required: o.worktreesRequired === true, dispatch: o.dispatch !== undefined });
  const warned = new Set<string>();
  // Shared registry: the last registry read (what a tick shows while the database is away), and the fence.
  let lastReg: Registry | undefined;
  const fence = shared ? new Fence(o.leaseS ?? 600, runs, o.log, o.now, paths.lease) : undefined;
  if (fence) store.onRenewed = (ms): void => fence.renewed(ms);

  /**
   * Shared registry: starts the runs whose claims were just committed, then records their run
   * fields (a database lost meanwhile: the next tick's merge records them).
   */
  const startDeferred = async (items: RunStart[], reg: Registry): Promise<Registry> => {
    let ok: boolean[];
    try {
      ok = runs.startMany(items);
    } catch (err) {
      // Nothing started: the claims are given back below, and the tasks are tried again next tick.
      o.log(`${o.now().toISOString()} starting ${items.length} run${items.length === 1 ? '' : 's'} failed (tried again next tick): ${(err as Error).message}`);
      ok = items.map(() => false);
    }
    try {
      const after = await update((r) => {
        runs.merge(r);
        recordStarts(r, items, ok);
        return structuredClone(r);
      });
      runs.settle();
      return after;
    } catch (err) {
      if (!fence?.failed(err)) throw err;
      return reg;
    }
  };

  return {
    async tick(input: TickInput): Promise<Snapshot> {
      const started = o.now();
      const scan = scanTasks(input.tick);
      // Everything derived from the files alone is kept while no file changed: a warm tick is the walk.
      if (scan.changed || !model) {
        model = derive(scan.tasks, scan.format.customStatuses, o.ready ?? ['ready'], scan.format.statuses);
        fileIds.clear();
      }
      const { byId, byPath, candidates, reasons, counts, note } = model;
      live = undefined;
      keeper.beginTick();
      runs.check(o.now());
      // A failed or hanging git holds dispatch (GitSide.held): a run never goes into the main checkout.
      const gitState = await side.locate();
      // Worktrees are made before the registry update, which holds the lock and must stay short.
      // The plan reads the registry without its lock; a shared one's last read will do.
      await side.prepare(candidates, () => (shared ? lastReg : peekRegistry(paths.registry)), o.owner, o.max, runs.active);
      const dispatch = { owner: o.owner, root: o.root, max: o.max, runs, prep: side.prep, runsDir: paths.runs, liveRuns, context, fileId, warned, log: o.log, host, defer: shared };
      let deferred: RunStart[] = [];
      let reg: Registry;
      try {
        reg = await update((r) => {
          const now = o.now();
          runs.merge(r);
          runs.foreign.clear();
          if (shared) runs.stopReleased(r);
          reconcile(r, { owner: o.owner, dir: o.dir, now, byId, byPath, fileId, changed: scan.changed, runs, missing, log: o.log, host });
          const starts = o.dispatch !== undefined && !side.held(gitState) ? dispatchReady(r, now, candidates, dispatch) : [];
          return { reg: structuredClone(r), starts };
        }).then(({ reg: written, starts }) => {
          // Only claims the database committed are started: a failed commit starts nothing.
          deferred = starts;
          return written;
        });
        // Written: ended runs are on record, a rebuilt registry is in place.
        runs.settle();
        keeper.written(reg);
      } catch (err) {
        // The database away: the tick goes on with the claims last read, dispatching nothing.
        if (!fence?.failed(err)) throw err;
        reg = lastReg ?? emptyRegistry();
      }
      if (deferred.length) reg = await startDeferred(deferred, reg);
      lastReg = reg;
      let claims = reg.claims;
      if (o.once && runs.active) {
        await runs.finished();
        claims = (await update((r) => structuredClone(r))).claims;
      }
      // The PRs' CI and the worktrees' git state are asked in the background and waited for only
      // briefly (fully with --once, whose one snapshot is all it gives): a slow gh or git never holds a tick.
      const parts = await side.snapshotParts(claims, byId);
      const now = o.now();
      // Keys not used this tick are dropped, so a condition that comes back gets a fresh "since".
      const used = new Map<string, string>();
      const firstSeen = (key: string): string => {
        const since = seen.get(key) ?? now.toISOString();
        used.set(key, since);
        return since;
      };
      const swapSeen = <T>(value: T): T => {
        seen.clear();
        for (const [k, v] of used) seen.set(k, v);
        return value;
      };
      // "ready" is a status; the tasks this heartbeat would dispatch next are the dispatchable ones.
      const dispatchable = candidates.filter((t) => !claims[t.id] && !reg.holds[t.id]).map((t) => ({ id: t.id, slug: t.slug, title: t.title, priority: t.priority, path: t.path }));
      // The tasks git's failure holds back (those this tick would have dispatched) say why.
      const allReasons = side.withHeld(gitState, withCiReasons(reasons, parts.ci, (id) => finished(byId.get(id))), candidates, reg, o.owner, o.max, runs.active);
      const ended = o.now();
      return {
        owner: input.owner,
        pid: input.pid,
        dir: input.dir,
        tick: input.tick,
        tickAt: started.toISOString(),
        tickDurationMs: ended.getTime() - started.getTime(),
        interval: input.interval,
        nextTickAt: new Date(started.getTime() + input.interval * 1000).toISOString(),
        taskCount: counts.total ?? 0,
        counts,
        ready: dispatchable,
        dispatchable,
        dispatchNote: note ?? null,
        holds: reg.holds,
        claims: parts.claims(now),
        released: reg.history.filter((h) => Date.parse(h.releasedAt) >= started.getTime() - Math.max(600, 3 * input.interval) * 1000),
        ci: parts.ci,
        escalations: swapSeen(escalations({ byId, reasons: allReasons, errors: scan.errors, claims, escalateAfterS: o.escalateAfterS, now, firstSeen })),
        errors: scan.errors,
        registry: fence ? fence.state({ kind: 'postgres', where: store.where, queue: (store as { queue?: string }).queue ?? '', host: host ?? '' }) : { kind: 'file', where: store.where },
      };
    },

    async close(): Promise<void> {
      watcher?.close();
      fence?.close();
      await Promise.all([runs.close(!o.once), side.close()]);
      await store.close();
    },
  };
}

/** A task that needs nobody any more: completed, cancelled or archived. */
function finished(t: Task | undefined): boolean {
  return t !== undefined && (t.status === 'completed' || t.status === 'cancelled' || t.archived);
}

/** The tasks folder's "<dev>:<ino>"; a folder that is gone fails the tick before anything is released or written. */
function requireFolder(dir: string): string {
  try {
    const st = fs.statSync(dir);
    if (st.isDirectory()) return `${st.dev}:${st.ino}`;
  } catch (err) {
    if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR')) throw err;
  }
  throw new TasksError(`tasks folder ${dir} is gone (moved or deleted); ticks wait for it, so no claim is released and no state is written outside it`);
}

interface Derived {
  byId: Map<string, Task>;
  byPath: Map<string, Task>;
  candidates: Task[];
  reasons: Map<string, string[]>;
  counts: Record<string, number>;
  /** Why nothing is dispatchable when no task has a ready status. */
  note: string | undefined;
}

/** What the tick needs from the task list. Archived tasks are never candidates, counted or escalated; a claim's id finds an active task before an archived one. */
function derive(tasks: Task[], custom: readonly string[], ready: readonly string[], declared: readonly string[]): Derived {
  const index = taskIndex(tasks);
  const problems = dependencyProblems(tasks, index);
  const createdOf = (t: Task): string => t.created ?? '';
  const byId = new Map<string, Task>();
  for (const t of tasks) if (!t.archived) byId.set(t.id, t);
  for (const t of tasks) if (t.archived && !byId.has(t.id)) byId.set(t.id, t);
  return {
    byId,
    byPath: new Map(tasks.map((t) => [t.path, t])),
    candidates: readyCandidates(tasks, problems, createdOf, index, readyStatuses(ready)),
    reasons: taskReasons(tasks, problems),
    counts: countByStatus(tasks, custom),
    note: dispatchNote(tasks, ready, declared),
  };
}
