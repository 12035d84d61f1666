// Fencing for the shared registry: a heartbeat that cannot renew its leases stops its own runs before another host may take their tasks over.
import { writeFileAtomic } from '../base/atomic.ts';
import { RegistryUnreachable } from '../base/registry-url.ts';
import type { SnapshotRegistry } from './tick.ts';

/** TERM, then KILL after this: a fenced run is gone well before its lease runs out. */
export const FENCE_GRACE_MS = 2000;

/** What the fence stops runs through (Runs.stopAll). */
export interface Fenced {
  readonly active: number;
  stopAll(note: string, graceMs: number): number;
}

/**
 * Keeps the time of the last update that renewed this heartbeat's leases (taken on this host's
 * clock before the statement, so it is never later than the database's `now()` that timed the
 * lease) and, once a second, stops every run if that is older than the lease less a margin: the
 * margin covers the stop's grace and a second of checking. Another host takes a claim over only
 * after the database says its lease ran out, by which time its run has ended.
 */
export class Fence {
  private lastOk: number | undefined;
  private since: Date | undefined;
  private error: string | undefined;
  private fenced = false;
  private readonly timer: NodeJS.Timeout;

  /**
   * leaseFile: where the time runs must end by is written after each renewal, for the runs' log
   * relays, which outlive a heartbeat killed with -9 and stop its runs in its place (a second later
   * than this fence, so a live heartbeat's own stop, with its note, comes first).
   */
  constructor(private readonly leaseS: number, private readonly runs: Fenced, private readonly log: (line: string) => void, private readonly now: () => Date, private readonly leaseFile: string) {
    this.timer = setInterval(() => this.check(), 1000);
    this.timer.unref();
  }

  /** Seconds before the lease's end at which runs are stopped. */
  get marginMs(): number {
    // TERM, the grace, KILL, and a second each for the fence's and the relays' checks, with room to spare.
    return Math.max(8000, Math.min(30_000, (this.leaseS * 1000) / 4));
  }

  /** An update renewed the leases; startedMs: Date.now() taken before it began. */
  renewed(startedMs: number): void {
    if (this.since) this.log(`${this.now().toISOString()} registry reachable again (unreachable since ${this.since.toISOString()})`);
    this.lastOk = startedMs;
    try {
      writeFileAtomic(this.leaseFile, `${JSON.stringify({ until: this.relayUntil() })}\n`);
    } catch (err) {
      // Unwritten, the relays keep the previous time: they stop the runs early, never late.
      this.log(`${this.now().toISOString()} writing ${this.leaseFile} failed: ${(err as Error).message}`);
    }
    this.since = undefined;
    this.error = undefined;
    this.fenced = false;
  }

  /** True when err means the database is away (the tick then goes on without it); false for any other failure. */
  failed(err: unknown): boolean {
    if (!(err instanceof RegistryUnreachable)) return false;
    if (!this.since) {
      this.since = this.now();
      const until = this.lastOk === undefined ? undefined : this.lastOk + this.leaseS * 1000 - this.marginMs;
      const runs = until === undefined ? 'runs go on until their lease runs out' : until <= Date.now() ? 'runs were stopped: their lease could not be renewed' : `runs go on until ${new Date(until).toISOString()}`;
      this.log(`${this.since.toISOString()} ${err.message}; nothing is dispatched until it is back (${runs}), retried every tick`);
    }
    this.error = err.message;
    return true;
  }

  /** When the runs' relays stop them unless told later (ms since the epoch): a second after this fence would; 0 before any renewal. */
  relayUntil(): number {
    return this.lastOk === undefined ? 0 : this.lastOk + this.leaseS * 1000 - this.marginMs + 1000;
  }

  /** The snapshot's word on it. */
  state(base: Omit<SnapshotRegistry, 'unreachableSince' | 'error'>): SnapshotRegistry {
    return this.since ? { ...base, unreachableSince: this.since.toISOString(), error: this.error ?? '' } : base;
  }

  close(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    if (this.lastOk === undefined || this.fenced || Date.now() < this.lastOk + this.leaseS * 1000 - this.marginMs) return;
    if (this.runs.active === 0) return;
    this.fenced = true;
    const since = (this.since ?? new Date(this.lastOk)).toISOString();
    const n = this.runs.stopAll(`fenced: the registry could not be reached since ${since}, so this host stopped its run before its lease ran out (another host may take the task over)`, FENCE_GRACE_MS);
    this.log(`${this.now().toISOString()} fenced: stopped ${n} run${n === 1 ? '' : 's'}, since the registry could not renew their leases since ${since}`);
  }
}
