// The shapes a tick works with: its input, the snapshot it writes, the ticker interface.
import type { Claim, Released } from './registry.ts';
import type { CiState } from '../tasks/taskfile.ts';

/** What a tick needs to know; the heartbeat owns the loop, the tick owns the work. */
export interface TickInput {
  readonly owner: string;
  readonly dir: string;
  readonly pid: number;
  readonly interval: number;
  readonly tick: number;
  readonly now: () => Date;
}

/** The snapshot written after every tick; field names are an interface (docs/api.md). */
export interface Snapshot {
  owner: string;
  pid: number;
  dir: string;
  tick: number;
  tickAt: string;
  tickDurationMs: number;
  interval: number;
  nextTickAt: string;
  taskCount: number;
  counts: Record<string, number>;
  /** The dispatchable queue (a ready status (ready=), dependencies completed, not claimed, not held), best first; `dispatchable` is the same list (absent in snapshots of older heartbeats). */
  ready: SnapshotReady[];
  dispatchable?: SnapshotReady[];
  /** Why nothing is dispatchable when no open task has a ready status (ready=), naming the folder's statuses and the fix; null otherwise. Absent in snapshots of older heartbeats. */
  dispatchNote?: string | null;
  /** Tasks released by an operator and held back from dispatch until `retry`. */
  holds?: Record<string, { since: string; by: string }>;
  claims: SnapshotClaim[];
  /** Each task's CI by task id (tasks with a `pr:` or `ci:`): the file's `ci:` wins, else what gh said, else unknown. Absent in snapshots of older heartbeats. */
  ci?: Record<string, SnapshotCi>;
  /** Claims released from the registry lately (the last 10 minutes, or 3 intervals): a run whose task was completed is released in the tick that sees it end, so history and notifications read its end here. Absent in snapshots of older heartbeats. */
  released?: Released[];
  escalations: { id: string; reason: string; since: string }[];
  errors: { path: string; reason: string }[];
  /** Where the claims are: registry.json, or a shared PostgreSQL queue. Absent in snapshots of older heartbeats (the file). */
  registry?: SnapshotRegistry;
}

/** The registry as the snapshot tells it: kind and place, and since when it cannot be reached (the claims shown are then the last ones read). */
export interface SnapshotRegistry {
  kind: 'file' | 'postgres';
  /** The file, or the database URL without its password. */
  where: string;
  /** postgres: the queue every clone of the repository shares, and this host's name in it. */
  queue?: string;
  host?: string;
  /** postgres: set while the database cannot be reached: when that started, and the last error. */
  unreachableSince?: string;
  error?: string;
}

/** A ready task as the snapshot lists it, best first. */
export interface SnapshotReady { id: string; slug: string; title: string; priority: string | null; path: string }

/** A claim as the snapshot lists it (the registry claim plus what triage needs). */
export interface SnapshotClaim extends Claim {
  owner: string;
  ageS: number;
  worktreeExists: boolean;
  // The worktree facts below are written by every heartbeat that knows them; snapshots of older
  // heartbeats lack them, so readers treat absent as unknown.
  /** True when this claim's run works in a worktree (worktrees on, in git): only then is a missing one a problem. */
  worktreeExpected?: boolean;
  /** The branch checked out in the worktree, else the one it was to be made on; null with worktrees off or detached. */
  branch?: string | null;
  /** Uncommitted entries in the worktree (`git status --porcelain`, untracked files included); null when unknown. */
  dirtyFiles?: number | null;
  /** Commits on the worktree's HEAD that base does not have; null when unknown. */
  ahead?: number | null;
  /** The branch (or commit) the worktree started from; null with worktrees off. */
  base?: string | null;
  pr: string | null;
  ci: string;
}

/** A task's CI in the snapshot's top-level `ci` map. */
export interface SnapshotCi {
  state: CiState;
  /** When gh answered; null when the state comes from the file or gh was not asked. */
  checkedAt: string | null;
  /** The task's `pr:` as written. */
  pr: string | null;
  source: 'frontmatter' | 'gh' | 'none';
}

/** One tick of work; stateful so it can keep caches between ticks. */
export interface Ticker {
  tick(input: TickInput): Promise<Snapshot>;
  /** Called once when the heartbeat stops. */
  close(): Promise<void>;
}

/** Told about each tick's snapshot after it is written (history, notifications). */
export interface TickObserver {
  /** Returns at once: slow work (a delivery, a retry) goes on in the background and never holds a tick. */
  observe(snap: Snapshot): void;
  /** Called once when the heartbeat stops: waits a little for work under way, never long. */
  close(): Promise<void>;
}

