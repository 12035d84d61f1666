// What the pages read from a snapshot beyond tick.ts's fields (worktree facts, dispatchable, gh CI), tolerant of snapshots without them.
import type { Snapshot, SnapshotClaim, SnapshotReady } from '../manager/tick.ts';
import type { CiState, Task } from '../tasks/taskfile.ts';

/**
 * A claim's worktree facts. Each one is unknown (undefined) in a snapshot written before the
 * heartbeat reported it, so the pages never guess: unknown shows as nothing, not as "missing".
 */
export interface WorktreeFacts {
  /** False when worktrees are off or the tasks folder is not in git: no worktree is missing then. */
  readonly worktreeExpected?: boolean;
  readonly branch?: string | null;
  readonly dirtyFiles?: number | null;
  readonly ahead?: number | null;
  readonly base?: string | null;
}

/** A claim as the pages read it. */
export type WebClaim = SnapshotClaim & WorktreeFacts;

/** The CI state the heartbeat got from `gh`, by task id. */
export interface CiCheck { readonly state?: unknown; readonly checkedAt?: unknown }

/** A snapshot as the pages read it: `dispatchable` (else `ready`) and `ci` may be absent. */
export type WebSnapshot = Omit<Snapshot, 'claims'> & {
  claims: WebClaim[];
  dispatchable?: SnapshotReady[];
  ci?: Record<string, CiCheck>;
};

/** The tasks the heartbeat will dispatch, best first: `dispatchable`, else `ready` (its older name). */
export function dispatchableOf(s: WebSnapshot): readonly SnapshotReady[] {
  const list = s.dispatchable ?? s.ready;
  return Array.isArray(list) ? list : [];
}

const CI_STATES: ReadonlySet<string> = new Set(['passing', 'failing', 'pending', 'unknown']);

/** The snapshot's per-task CI states, keeping only the four known words. */
export function ciMapOf(s: WebSnapshot | undefined): ReadonlyMap<string, CiState> {
  const map = new Map<string, CiState>();
  const raw = s?.ci;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return map;
  for (const [id, check] of Object.entries(raw)) {
    const state = typeof check === 'object' && check !== null ? check.state : undefined;
    if (typeof state === 'string' && CI_STATES.has(state)) map.set(id, state as CiState);
  }
  return map;
}

/** A task's CI state: its frontmatter `ci:` when that is a CI state (it wins), else what the heartbeat learnt from gh, else unknown. */
export function ciOf(t: Task, checks: ReadonlyMap<string, CiState>): CiState {
  return t.ci !== 'unknown' ? t.ci : checks.get(t.id) ?? 'unknown';
}
