/** What a tick needs to know; the heartbeat owns the loop, the tick owns the work. */
export interface TickInput {
  readonly owner: string;
  readonly dir: string;
  readonly pid: number;
  readonly interval: number;
  readonly tick: number;
  readonly now: () => Date;
}

/** The snapshot written after every tick (SPEC §6); field names are an interface. */
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
  ready: unknown[];
  claims: unknown[];
  escalations: { id: string; reason: string; since: string }[];
  errors: { path: string; reason: string }[];
}

/** One tick of work; stateful so it can keep caches between ticks. */
export interface Ticker {
  tick(input: TickInput): Promise<Snapshot>;
  /** Called once when the heartbeat stops. */
  close(): Promise<void>;
}
