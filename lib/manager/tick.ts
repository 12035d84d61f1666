// The shapes a tick works with: its input, the snapshot it writes, the ticker interface.
import type { Claim } from './registry.ts';

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
  /** The dispatchable queue (status ready, dependencies completed, not claimed, not held), best first; `dispatchable` is the same list (absent in snapshots of older heartbeats). */
  ready: SnapshotReady[];
  dispatchable?: SnapshotReady[];
  /** Tasks released by an operator and held back from dispatch until `retry`. */
  holds?: Record<string, { since: string; by: string }>;
  claims: SnapshotClaim[];
  escalations: { id: string; reason: string; since: string }[];
  errors: { path: string; reason: string }[];
}

/** A ready task as the snapshot lists it, best first. */
export interface SnapshotReady { id: string; slug: string; title: string; priority: string | null; path: string }

/** A claim as the snapshot lists it (the registry claim plus what triage needs). */
export interface SnapshotClaim extends Claim {
  owner: string;
  ageS: number;
  worktreeExists: boolean;
  pr: string | null;
  ci: string;
}

/** One tick of work; stateful so it can keep caches between ticks. */
export interface Ticker {
  tick(input: TickInput): Promise<Snapshot>;
  /** Called once when the heartbeat stops. */
  close(): Promise<void>;
}
