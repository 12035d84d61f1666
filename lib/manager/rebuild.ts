// What a lost, damaged or rewritten registry gets back: this heartbeat's last copy, the runs it tracks, live runs found by their marker.
import { type Registry, claimKeyOfRun } from './registry.ts';
import { type LiveRunContext, restoreLiveRuns } from './claims.ts';
import type { MarkedProcess } from '../supervise/runs-proc.ts';

export interface RebuildSources {
  /** Puts the runs this heartbeat tracks into a registry (Runs.merge). */
  readonly mergeTracked: (r: Registry) => void;
  /** A fresh scan of this folder's live marked runs. */
  readonly scanLiveRuns: () => ReadonlyMap<string, MarkedProcess[]>;
  readonly context: () => LiveRunContext;
  readonly runsDir: string;
}

/**
 * Rebuilds the registry when it is missing or damaged, and puts back what a registry rewritten
 * by another writer left out. The runs the heartbeat tracks and the live processes carrying a
 * run marker are the truth: none of them is dispatched again, and each keeps a claim whatever its
 * task's file says now (in_progress, review, blocked, even completed or cancelled: the claim is
 * released by the usual rule once the run has ended), so status, the page, run_timeout and
 * `release --force` still reach it. A damaged file also gets back the claims of this heartbeat's
 * last good copy, so a run that exited (awaiting an operator) is not re-run either; a file
 * deleted on purpose does not.
 */
export class RegistryKeeper {
  private readonly s: RebuildSources;
  /** The registry as this heartbeat's last successful tick left it. */
  private lastKnown: Registry | undefined;
  /** A damaged registry was moved aside but its rebuilt copy not yet written (a full disk). */
  private damagePending = false;
  // A missing registry is searched for live runs on the first tick and when it was there before,
  // not on every tick of a heartbeat that never had to write one.
  private scanIfMissing = true;
  private sawMissing = false;
  // A registry that is there is searched for live runs until this heartbeat has written one: it
  // may have been rewritten while no heartbeat was running (a `release` on a missing file).
  private firstLook = true;

  constructor(s: RebuildSources) {
    this.s = s;
  }

  /** Called before each tick's update. */
  beginTick(): void {
    this.sawMissing = false;
  }

  /** Called once a tick's update was written, with the registry as written. */
  written(reg: Registry): void {
    this.lastKnown = reg;
    this.damagePending = false;
    this.scanIfMissing = !this.sawMissing;
    this.firstLook = false;
  }

  /** The registry hook: fills r, returns what was put back (for the log line). */
  rebuild(r: Registry, why: 'missing' | 'damaged'): string {
    const parts: string[] = [];
    if (why === 'damaged') this.damagePending = true;
    else this.sawMissing = true;
    const damaged = why === 'damaged' || this.damagePending;
    if (damaged && this.lastKnown) {
      let n = 0;
      for (const [key, c] of Object.entries(this.lastKnown.claims)) {
        if (r.claims[key] || Object.values(r.claims).some((h) => h.runId && h.runId === c.runId)) continue;
        r.claims[key] = structuredClone(c);
        n++;
      }
      if (!r.history.length) r.history.push(...structuredClone(this.lastKnown.history));
      if (n) parts.push(`${n} claims from this heartbeat's last copy`);
    }
    const before = Object.keys(r.claims).length;
    this.s.mergeTracked(r);
    const tracked = Object.keys(r.claims).length - before;
    if (tracked) parts.push(`${tracked} runs this heartbeat tracks`);
    // Missing twice in a row (the rebuilt copy deleted again) still scans when it lost a run.
    if (damaged || this.scanIfMissing || this.dropped(r)) parts.push(...this.restoreLive(r));
    return parts.join(', ');
  }

  /** The registry hook for a registry read whole: puts back live runs it has no claim for, on this heartbeat's first look or when a going run's claim vanished. */
  review(r: Registry): string {
    if (!this.firstLook && !this.dropped(r)) return '';
    // Its own runs first, with their full claims; the scan then finds only the others.
    this.s.mergeTracked(r);
    return this.restoreLive(r).join(', ');
  }

  /** True when a going run's claim in the last written copy is gone with no release on record: another writer left it out. */
  private dropped(r: Registry): boolean {
    const claims = Object.values(this.lastKnown?.claims ?? {});
    return claims.some((c) => c.runId && c.endedAt === null && claimKeyOfRun(r, c.runId) === undefined && !r.history.some((h) => h.runId === c.runId));
  }

  private restoreLive(r: Registry): string[] {
    const put = restoreLiveRuns(r, this.s.scanLiveRuns(), this.s.context(), this.s.runsDir);
    return put.length ? [`live runs found by their run marker: ${put.join(', ')}`] : [];
  }
}
