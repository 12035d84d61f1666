// Dispatching ready tasks: claim them under the registry lock and start their runs, each in its own worktree when worktrees are on.
import crypto from 'node:crypto';
import { type Claim, type Registry, isLocal } from './registry.ts';
import { type LiveRunContext, liveRunOf, restoreLiveRuns } from './claims.ts';
import { markNotStarted } from './runlog.ts';
import type { RunStart, Runs } from './runs.ts';
import { type WorktreePrep, worktreePath } from './worktrees.ts';
import type { MarkedProcess } from '../supervise/runs-proc.ts';
import type { Task } from '../tasks/taskfile.ts';

export interface DispatchContext {
  readonly owner: string;
  /** The folder runs start in when worktrees are off. */
  readonly root: string;
  readonly max: number;
  readonly runs: Runs;
  /** The worktrees being made for the tasks about to start; undefined when worktrees are off. */
  readonly prep: WorktreePrep | undefined;
  readonly runsDir: string;
  readonly liveRuns: () => Map<string, MarkedProcess[]>;
  readonly context: () => LiveRunContext;
  readonly fileId: (t: Task) => string | undefined;
  /** Run ids already logged as live without a claim (said once per run). */
  readonly warned: Set<string>;
  readonly log: (line: string) => void;
  /** This host's name in a shared registry; undefined: the file registry. */
  readonly host?: string | undefined;
  /**
   * Shared registry: the claims are written (and committed) before any run starts, so a run never
   * starts on a claim that another host could still take. dispatchReady then records the claims
   * with their run ids and returns the runs for the caller to start after the commit.
   */
  readonly defer?: boolean;
}

/** This owner's claims on this host that hold a slot (claimed or running). */
function busy(r: Registry, owner: string, host?: string): number {
  return Object.values(r.claims).filter((c) => c.claimedBy === owner && isLocal(c, host) && (c.state === 'running' || c.state === 'claimed')).length;
}

/**
 * The ready tasks the next registry update would start, read from a registry looked
 * at without its lock: their worktrees are made before the update, which must stay short. A plan
 * that turns out wrong costs nothing: an unused worktree waits to be reused.
 */
export function planDispatch(candidates: readonly Task[], reg: Registry | undefined, owner: string, max: number, active: number, host?: string): Task[] {
  let slots = max - Math.max(reg ? busy(reg, owner, host) : 0, active);
  const out: Task[] = [];
  for (const t of candidates) {
    if (slots <= 0) break;
    if (reg?.claims[t.id] || reg?.holds[t.id]) continue;
    out.push(t);
    slots--;
  }
  return out;
}

/**
 * Claims and starts ready tasks up to max (under the registry lock). A task with a live run
 * (found by its marker) is never started again. With worktrees on, a task starts only once its
 * worktree is ready (its slot waits for it meanwhile); a worktree that could not be made is
 * recorded on the claim, escalated, and not run until the operator retries it.
 */
export function dispatchReady(r: Registry, now: Date, candidates: readonly Task[], x: DispatchContext): RunStart[] {
  let slots = x.max - Math.max(busy(r, x.owner, x.host), x.runs.active);
  const toStart: RunStart[] = [];
  for (const task of candidates) {
    if (slots <= 0) break;
    if (r.claims[task.id] || r.holds[task.id]) continue;
    const alive = liveRunOf(task, x.liveRuns(), r, x.context().dir);
    if (alive) {
      const runId = (alive[0] as MarkedProcess).runId;
      const put = restoreLiveRuns(r, new Map([[runId, alive]]), x.context(), x.runsDir);
      // Said once per run: a released run's leftover process keeps its task waiting for as long as it lives.
      if (put.length || !x.warned.has(runId)) x.log(`${now.toISOString()} ${task.id} has a live run without a claim (run ${runId}); ${put.length ? 'claim put back' : 'its claim was released, so it waits for the run to end'}; not dispatched again`);
      x.warned.add(runId);
      continue;
    }
    const prepared = x.prep?.result(task.slug);
    if (x.prep && prepared === undefined) {
      // Its worktree is still being made: the slot is kept for it, so a lower-priority task does not jump ahead.
      slots--;
      continue;
    }
    const claim: Claim = {
      id: task.id, slug: task.slug, path: task.path, claimedBy: x.owner, claimedAt: now.toISOString(), startedAt: now.toISOString(),
      worktree: prepared?.path ?? worktreePath(x.root, task.slug), pid: null, pidStart: null, state: 'claimed', exitCode: null, endedAt: null, log: null,
      runId: x.defer ? crypto.randomUUID() : null, fileId: x.fileId(task) ?? null, branch: prepared?.branch ?? null, base: prepared?.base ?? null,
      ...(x.host === undefined ? {} : { host: x.host }),
    };
    if (prepared && !prepared.ok) {
      const said = markNotStarted(claim, prepared.reason, now.toISOString());
      r.claims[task.id] = claim;
      x.prep?.consume(task.slug);
      x.log(`${now.toISOString()} ${said}`);
      continue;
    }
    toStart.push({ task, claim, cwd: prepared?.path });
    slots--;
    if (x.defer) {
      r.claims[task.id] = structuredClone(claim);
      x.prep?.consume(task.slug);
    }
  }
  if (x.defer) return toStart;
  // Started together: one log relay serves the runs of this tick.
  x.runs.startMany(toStart).forEach((ok, i) => {
    const { task, claim } = toStart[i] as RunStart;
    if (!ok) return;
    r.claims[task.id] = claim;
    x.prep?.consume(task.slug);
  });
  return [];
}

/**
 * Shared registry, after the claims were committed: records what starting their runs did (a run
 * that started is merged by its run id through Runs.merge; one that could not be started says why
 * on its claim; one whose relay failed gives its claim back, to be tried next tick).
 */
export function recordStarts(r: Registry, starts: readonly RunStart[], ok: readonly boolean[]): void {
  starts.forEach((s, i) => {
    const held = r.claims[s.task.id];
    if (held === undefined || held.runId !== s.claim.runId) return;
    if (!ok[i]) delete r.claims[s.task.id];
    else if (s.claim.state !== 'running') Object.assign(held, s.claim);
  });
}
