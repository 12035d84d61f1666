// One tick of the manager: scan, claims under the registry lock, dispatch, the snapshot.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type Claim, type Registry, release, updateRegistry } from './registry.ts';
import { countByStatus, dependencyProblems, readyCandidates, taskReasons } from '../tasks/model.ts';
import { escalations } from './escalations.ts';
import { runtimePaths } from '../base/paths.ts';
import { isRunning, readStat, signalTree } from '../supervise/proc.ts';
import { TaskScanner } from '../tasks/scan.ts';
import { FolderWatcher } from '../base/watch.ts';
import type { Snapshot, TickInput, Ticker } from './tick.ts';
import type { Task } from '../tasks/taskfile.ts';

export interface ManagerOptions {
  readonly owner: string;
  readonly dir: string;
  /** The folder dispatched commands run in; worktrees live in <root>/.worktrees/<slug>. */
  readonly root: string;
  /** Shell command per dispatched task; undefined: no dispatch. */
  readonly dispatch: string | undefined;
  readonly max: number;
  readonly escalateAfterS: number;
  /** Environment for dispatched commands (the entry strips its own loader options first). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** With once, a tick waits for the runs it started, so the snapshot carries their exit codes. */
  readonly once: boolean;
  readonly log: (line: string) => void;
  readonly now: () => Date;
}

/** A tick walks the whole folder at least this often, whatever the watches said. */
const FULL_WALK_EVERY = 10;

/** Ticks a claimed task's file must be missing in a row before the claim is released. */
const MISSING_TICKS = 3;

/** Grace for dispatched runs when the heartbeat stops, before SIGKILL. */
const RUN_GRACE_MS = 3000;

/**
 * The task manager's tick: scan the task files (incrementally), reconcile the registry, claim
 * and dispatch ready tasks, and build the snapshot. Never writes a task file.
 */
export function managerTicker(o: ManagerOptions): Ticker {
  const scanner = new TaskScanner(o.dir, { keepBody: false });
  let model: Derived | undefined;
  const paths = runtimePaths(o.dir, o.owner);
  const runs = new Map<string, { child: ChildProcess; done: Promise<void> }>();
  const seen = new Map<string, string>();
  const missing = new Map<string, number>();
  const orphans = new Map<string, Claim>();
  const onCorrupt = (line: string): void => o.log(line);
  // Between full walks, a tick re-reads only the files the folder watches reported: a warm tick
  // over 10,000 unchanged files costs no stat at all. Every FULL_WALK_EVERY ticks (and after any
  // folder event or watch error) the folder is walked anyway, so a missed event costs one period.
  let watcher: FolderWatcher | undefined;
  let last: ReturnType<TaskScanner['scan']> | undefined;
  const scanTasks = (tick: number): ReturnType<TaskScanner['scan']> => {
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
  const update = <T>(fn: (reg: Registry) => T): Promise<T> => updateRegistry(paths.registry, fn, onCorrupt, o.now);

  const startRun = (task: Task, claim: Claim): void => {
    fs.mkdirSync(paths.runs, { recursive: true });
    const logPath = path.join(paths.runs, `${task.slug}.log`);
    const fd = fs.openSync(logPath, 'a');
    fs.writeSync(fd, `=== ${claim.startedAt} ${o.owner} dispatches ${task.id}: ${o.dispatch}\n`);
    const child = spawn(o.dispatch as string, {
      shell: true,
      cwd: o.root,
      stdio: ['ignore', fd, fd],
      env: {
        ...o.env,
        TASK_ID: task.id,
        TASK_SLUG: task.slug,
        TASK_FILE: path.join(o.dir, task.path),
        TASK_WORKTREE: claim.worktree,
        TASK_MANAGER_OWNER: o.owner,
      },
    });
    fs.closeSync(fd);
    claim.pid = child.pid ?? null;
    claim.pidStart = child.pid ? readStat(child.pid)?.starttime ?? null : null;
    claim.state = 'running';
    claim.log = logPath;
    const done = new Promise<void>((resolve) => {
      child.on('error', (err) => o.log(`${o.now().toISOString()} dispatch of ${task.id} failed to start: ${err.message}`));
      child.on('close', (code, sig) => {
        if (runs.get(task.id)?.child === child) runs.delete(task.id);
        // A run ended by a signal was stopped with its heartbeat (or by hand): interrupted, not failed.
        const state = sig ? 'interrupted' : 'exited';
        const note = sig ? `stopped by ${sig} (with its heartbeat, or by hand)` : undefined;
        o.log(`${o.now().toISOString()} run of ${task.id} ${sig ? `stopped by ${sig}` : `exited with code ${code}`}`);
        void update((reg) => {
          const c = reg.claims[task.id];
          if (c && c.claimedBy === o.owner && c.pid === claim.pid) Object.assign(c, { state, exitCode: code, endedAt: o.now().toISOString(), ...(note ? { note } : {}) });
        }).then(resolve, (err: Error) => { o.log(`recording the end of ${task.id} failed: ${err.message}`); resolve(); });
      });
    });
    runs.set(task.id, { child, done });
  };

  return {
    async tick(input: TickInput): Promise<Snapshot> {
      const started = o.now();
      const scan = scanTasks(input.tick);
      // Everything derived from the files alone is kept while no file changed: a warm tick is the walk.
      if (scan.changed || !model) model = derive(scan.tasks);
      const { byId, candidates, reasons, counts } = model;
      const reg = await update((r) => {
        const now = o.now();
        for (const claim of Object.values(r.claims)) {
          const task = byId.get(claim.id);
          // A claim whose run is still alive is never released: a file missing for one tick (an
          // editor's save, a move) must not let the task be dispatched a second time.
          // Nor is one whose file vanished for fewer than 3 ticks in a row.
          const alive = runs.has(claim.id) || runAlive(claim);
          if (!task) {
            const ticks = (missing.get(claim.id) ?? 0) + 1;
            missing.set(claim.id, ticks);
            if (ticks >= MISSING_TICKS && !alive) release(r, claim.id, 'task file removed', now);
            continue;
          }
          missing.delete(claim.id);
          if (!alive && (task.status === 'completed' || task.status === 'cancelled')) release(r, claim.id, `task ${task.status}`, now);
          else if (claim.claimedBy === o.owner && (claim.state === 'running' || claim.state === 'claimed') && !runs.has(claim.id)) {
            if (!runAlive(claim)) {
              // Ours, started by a heartbeat that has stopped: escalate, never re-run silently.
              Object.assign(claim, { state: 'interrupted', endedAt: claim.endedAt ?? now.toISOString(), note: 'its heartbeat stopped or died; exit status unknown' });
              orphans.delete(claim.id);
            } else if (orphaned(claim)) {
              // Its heartbeat was killed and the run lives on: this heartbeat stops it when it stops.
              orphans.set(claim.id, claim);
            }
          }
        }
        if (o.dispatch !== undefined) {
          const running = Object.values(r.claims).filter((c) => c.claimedBy === o.owner && (c.state === 'running' || c.state === 'claimed')).length;
          for (const task of candidates.filter((t) => !r.claims[t.id]).slice(0, Math.max(0, o.max - running))) {
            const claim: Claim = {
              id: task.id, slug: task.slug, path: task.path, claimedBy: o.owner, claimedAt: now.toISOString(), startedAt: now.toISOString(),
              worktree: path.join(o.root, '.worktrees', task.slug), pid: null, pidStart: null, state: 'claimed', exitCode: null, endedAt: null, log: null,
            };
            r.claims[task.id] = claim;
            startRun(task, claim);
          }
        }
        return structuredClone(r);
      });
      let claims = reg.claims;
      if (o.once && runs.size) {
        await Promise.all([...runs.values()].map((r) => r.done));
        claims = (await update((r) => structuredClone(r))).claims;
      }
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
        taskCount: scan.tasks.length,
        counts,
        ready: candidates.filter((t) => !claims[t.id]).map((t) => ({ id: t.id, slug: t.slug, title: t.title, priority: t.priority, path: t.path })),
        claims: Object.values(claims).map((c) => ({
          ...c,
          owner: c.claimedBy,
          ageS: Math.round((now.getTime() - Date.parse(c.claimedAt)) / 1000),
          worktreeExists: fs.existsSync(c.worktree),
          pr: byId.get(c.id)?.pr ?? null,
          ci: byId.get(c.id)?.ci ?? 'unknown',
        })),
        escalations: swapSeen(escalations({ byId, reasons, errors: scan.errors, claims, escalateAfterS: o.escalateAfterS, now, firstSeen })),
        errors: scan.errors,
      };
    },

    async close(): Promise<void> {
      watcher?.close();
      const adopted = [...orphans.values()];
      if (adopted.length) {
        await stopOrphans(adopted);
        await update((r) => {
          for (const a of adopted) {
            const c = r.claims[a.id];
            if (c && c.pid === a.pid && !runAlive(c)) Object.assign(c, { state: 'interrupted', endedAt: o.now().toISOString(), note: 'its first heartbeat was killed; stopped with the heartbeat that took it over' });
          }
        });
      }
      const active = [...runs.values()];
      if (!active.length) return;
      await Promise.all(active.map((r) => (r.child.pid ? signalTree(r.child.pid, 'SIGTERM') : undefined)));
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), RUN_GRACE_MS).unref());
      if ((await Promise.race([Promise.all(active.map((r) => r.done)), timeout])) === 'timeout') {
        await Promise.all(active.map((r) => (r.child.pid && r.child.exitCode === null ? signalTree(r.child.pid, 'SIGKILL') : undefined)));
        await Promise.all(active.map((r) => r.done));
      }
    },
  };
}

/** True when the run's parent is gone (reparented to init): the heartbeat that started it was killed. */
function orphaned(claim: Claim): boolean {
  const parent = claim.pid === null ? undefined : readStat(claim.pid)?.ppid;
  return parent === undefined || parent <= 1 || !isRunning(parent);
}

/** Stops runs this heartbeat adopted, each proven by pid and start time right before signalling. */
async function stopOrphans(claims: readonly Claim[]): Promise<void> {
  const live = claims.filter(runAlive);
  await Promise.all(live.map((c) => signalTree(c.pid as number, 'SIGTERM')));
  const deadline = Date.now() + RUN_GRACE_MS;
  while (live.some(runAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await Promise.all(live.filter(runAlive).map((c) => signalTree(c.pid as number, 'SIGKILL')));
}

/** True when the claim's run is still alive (another process of this owner, e.g. a `--once` beside the daemon). */
function runAlive(claim: Claim): boolean {
  return claim.pid !== null && isRunning(claim.pid) && readStat(claim.pid)?.starttime === claim.pidStart;
}

interface Derived {
  byId: Map<string, Task>;
  candidates: Task[];
  reasons: Map<string, string[]>;
  counts: Record<string, number>;
}

function derive(tasks: Task[]): Derived {
  const problems = dependencyProblems(tasks);
  const createdOf = (t: Task): string => String(t.fields.created ?? t.fields.date ?? '');
  return {
    byId: new Map(tasks.map((t) => [t.id, t])),
    candidates: readyCandidates(tasks, problems, createdOf),
    reasons: taskReasons(tasks, problems),
    counts: countByStatus(tasks),
  };
}
