// Keeping claims true to the files and the runs: follow renamed files, release finished tasks, restore live runs.
import fs from 'node:fs';
import path from 'node:path';
import { runLogPath } from '../base/paths.ts';
import { type Claim, type Registry, claimKeyOfRun, isLocal, release } from './registry.ts';
import type { Runs } from './runs.ts';
import { runAlive } from './run-claim.ts';
import { isRunning, readStat, startedAt } from '../supervise/proc.ts';
import type { MarkedProcess } from '../supervise/runs-proc.ts';
import type { Task } from '../tasks/taskfile.ts';

// Kept for prune and release; runs.ts imports run-claim.ts directly, so claims.ts and runs.ts no longer import each other.
export { runAlive };

/** Ticks a claimed task's file must be missing in a row before the claim is released. */
const MISSING_TICKS = 3;

/** True when the run's parent is gone (reparented to init): the heartbeat that started it was killed. */
export function orphaned(claim: Claim): boolean {
  const parent = claim.pid === null ? undefined : readStat(claim.pid)?.ppid;
  return parent === undefined || parent <= 1 || !isRunning(parent);
}

/** The "<dev>:<ino>" of a file, or undefined when it cannot be stat'ed. */
export function fileIdOf(file: string): string | undefined {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  return st ? `${st.dev}:${st.ino}` : undefined;
}

/** What rebuilding a claim from a live run needs to know about the folder. */
export type LiveRunContext = Pick<ReconcileInput, 'dir' | 'byId' | 'byPath' | 'fileId' | 'now' | 'host'>;

export interface ReconcileInput {
  readonly owner: string;
  readonly dir: string;
  readonly now: Date;
  readonly byId: ReadonlyMap<string, Task>;
  readonly byPath: ReadonlyMap<string, Task>;
  /** The file id of a task, from a cache kept while no file changes. */
  readonly fileId: (task: Task) => string | undefined;
  /** True when files changed since the last tick: claimed files' ids are refreshed (an editor's save makes a new inode). */
  readonly changed: boolean;
  readonly runs: Runs;
  /** Ticks each claim's file has been missing in a row (kept by the caller). */
  readonly missing: Map<string, number>;
  readonly log: (line: string) => void;
  /** This host's name in a shared registry; undefined: the file registry (every claim is this host's). */
  readonly host?: string | undefined;
}

/**
 * Brings every claim up to date with the task files and the runs: a claim whose file was renamed
 * or moved (found by path or by file identity) follows it under its new id; a claim is released
 * when its task is completed or cancelled, or its file has been gone for 3 ticks, never while
 * its run is alive; runs of this owner whose heartbeat died are marked or adopted.
 */
export function reconcile(r: Registry, x: ReconcileInput): void {
  // A hold ends when its task is finished: there is nothing left to hold back.
  for (const id of Object.keys(r.holds)) {
    const status = x.byId.get(id)?.status;
    if (status === 'completed' || status === 'cancelled') delete r.holds[id];
  }
  let byFileId: Map<string, Task> | undefined;
  for (const [key, claim] of Object.entries(r.claims)) {
    if (!isLocal(claim, x.host)) {
      foreignClaim(r, claim, x);
      continue;
    }
    const alive = x.runs.has(claim.runId) || runAlive(claim);
    let task = x.byId.get(claim.id);
    if (!task) {
      // A task without an id: is named by its file; renamed, it has a new id. Find it by its path
      // (its id was edited) or by its file's identity (it was renamed or moved).
      const free = (t: Task | undefined): Task | undefined => (t && !r.claims[t.id] ? t : undefined);
      task = free(x.byPath.get(claim.path));
      if (!task && claim.fileId) {
        byFileId ??= new Map([...x.byId.values()].flatMap((t): [string, Task][] => { const id = x.fileId(t); return id ? [[id, t]] : []; }));
        task = free(byFileId.get(claim.fileId));
      }
      if (task) {
        x.log(`${x.now.toISOString()} claim on ${claim.id} follows its file to ${task.path} (now ${task.id})`);
        delete r.claims[key];
        x.missing.delete(key);
        Object.assign(claim, { id: task.id, path: task.path });
        r.claims[task.id] = claim;
      }
    }
    if (!task) {
      const ticks = (x.missing.get(claim.id) ?? 0) + 1;
      x.missing.set(claim.id, ticks);
      // A file missing for one tick (an editor's save, a move) must not free the task, nor a live run's.
      if (ticks >= MISSING_TICKS && !alive) release(r, claim.id, 'task file removed', x.now);
      continue;
    }
    x.missing.delete(claim.id);
    if (claim.path !== task.path) claim.path = task.path;
    if (x.changed || claim.fileId === undefined) claim.fileId = x.fileId(task) ?? claim.fileId ?? null;
    if (!alive && (task.status === 'completed' || task.status === 'cancelled')) {
      release(r, claim.id, `task ${task.status}`, x.now);
    } else if (claim.claimedBy === x.owner && (claim.state === 'running' || claim.state === 'claimed') && !x.runs.has(claim.runId)) {
      if (!alive) {
        // Ours, started by a heartbeat that has stopped: escalate, never re-run silently.
        Object.assign(claim, { state: 'interrupted', endedAt: claim.endedAt ?? x.now.toISOString(), note: 'its heartbeat stopped or died; exit status unknown' });
      } else if (orphaned(claim)) {
        // Its heartbeat was killed and the run lives on: this heartbeat answers for it now.
        x.runs.adopt(claim);
      } else if (claim.runId) {
        x.runs.foreign.add(claim.runId);
      }
    }
  }
}

/**
 * A claim another host answers for: its run cannot be seen from here, so only its lease and its
 * state speak for it. A run in flight whose lease ran out (the host stopped renewing: it died, or
 * lost the database and fenced its runs) is taken over: released, so this tick may dispatch the
 * task again. A finished run's claim is released once the task is completed or cancelled here.
 */
function foreignClaim(r: Registry, claim: Claim, x: ReconcileInput): void {
  const inFlight = claim.state === 'running' || claim.state === 'claimed';
  if (inFlight && claim.leaseExpired) {
    const why = `taken over by host ${x.host}: host ${claim.host} silent since ${claim.renewedAt ?? 'unknown'}, its lease ran out at ${claim.leaseUntil ?? 'unknown'}`;
    release(r, claim.id, why, x.now);
    x.log(`${x.now.toISOString()} claim on ${claim.id} ${why}`);
    return;
  }
  const status = x.byId.get(claim.id)?.status;
  if (!inFlight && (status === 'completed' || status === 'cancelled')) release(r, claim.id, `task ${status}`, x.now);
}

/**
 * Puts back the claims of live runs of this folder (found by their run marker) that the registry
 * lacks: the live processes are the truth, so a lost claim never gets its task dispatched again.
 * A run whose claim was released on purpose (it is in the history) stays released. Returns the
 * ids put back.
 */
export function restoreLiveRuns(r: Registry, live: ReadonlyMap<string, MarkedProcess[]>, x: LiveRunContext, runsDir: string): string[] {
  const put: string[] = [];
  for (const [runId, procs] of live) {
    if (claimKeyOfRun(r, runId) !== undefined || r.history.some((h) => h.runId === runId)) continue;
    const claim = claimOfLiveRun(runId, procs, x, runsDir);
    if (!claim) continue;
    const held = r.claims[claim.id];
    if (held && (!isLocal(held, x.host) || runAlive(held))) continue;
    if (held) release(r, held.id, `replaced by its live run ${runId}`, x.now);
    r.claims[claim.id] = claim;
    put.push(claim.id);
  }
  return put;
}

/** A claim rebuilt from a live run's processes: its shell (the oldest process that is not the log relay), owner and start time. */
function claimOfLiveRun(runId: string, procs: MarkedProcess[], x: LiveRunContext, runsDir: string): Claim | undefined {
  const pids = new Set(procs.map((p) => p.pid));
  const own = procs.filter((p) => !p.relay);
  const roots = own.filter((p) => !pids.has(p.ppid));
  const main = (roots.length ? roots : own).sort((a, b) => Number(a.starttime) - Number(b.starttime))[0];
  if (!main) return undefined;
  const env = main.env;
  const file = env.TASK_FILE ?? '';
  const rel = path.relative(x.dir, file);
  const task = x.byPath.get(rel) ?? (env.TASK_ID ? x.byId.get(env.TASK_ID) : undefined);
  const id = task?.id ?? env.TASK_ID;
  if (!id) return undefined;
  const slug = env.TASK_SLUG ?? task?.slug ?? id;
  const started = (startedAt(main.starttime) ?? x.now).toISOString();
  return {
    id, slug, path: task?.path ?? rel, claimedBy: env.TASK_MANAGER_OWNER || 'unknown', claimedAt: started, startedAt: started,
    worktree: env.TASK_WORKTREE ?? '', pid: main.pid, pidStart: main.starttime, state: 'running', exitCode: null, endedAt: null,
    log: runLogPath(runsDir, slug), note: 'claim rebuilt from its live run (run marker)', runId, fileId: task ? x.fileId(task) ?? null : null,
  };
}

/** The live run of a task (matched by id or by file) that no claim accounts for, if any. */
export function liveRunOf(task: Task, live: ReadonlyMap<string, MarkedProcess[]>, r: Registry, dir: string): MarkedProcess[] | undefined {
  const file = path.join(dir, task.path);
  for (const [runId, procs] of live) {
    if (claimKeyOfRun(r, runId) === undefined && procs.some((p) => p.env.TASK_ID === task.id || p.env.TASK_FILE === file)) return procs;
  }
  return undefined;
}
