// What a lost or damaged registry gets back: this heartbeat's last copy, the runs it tracks, live runs found by their marker.
import type { Registry } from './registry.ts';
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
 * Rebuilds the registry when it is missing or damaged. The runs the heartbeat tracks and the
 * live processes carrying a run marker are the truth: none of them is dispatched again. A
 * damaged file also gets back the claims of this heartbeat's last good copy, so a run that
 * exited (awaiting an operator) is not re-run either; a file deleted on purpose does not.
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
    if (damaged || this.scanIfMissing) {
      const put = restoreLiveRuns(r, this.s.scanLiveRuns(), this.s.context(), this.s.runsDir);
      if (put.length) parts.push(`live runs found by their run marker: ${put.join(', ')}`);
    }
    return parts.join(', ');
  }
}
