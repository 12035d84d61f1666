// The runs of one heartbeat: started with a run marker and a capped log, tracked, adopted, timed out and stopped.
import type { ChildProcess } from 'node:child_process';
import type { Claim, Registry } from './registry.ts';
import { putRun, runAlive } from './run-claim.ts';
import { type RunSettings, markNotStarted, runSpawns, spawnLogged } from './runlog.ts';
import { formatDuration } from './escalations.ts';
import { stopProcess } from '../supervise/daemon.ts';
import { readStat } from '../supervise/proc.ts';
import { type MarkedProcess, RUN_GRACE_MS, findMarked, inFolder, stopMarked, stopRun } from '../supervise/runs-proc.ts';
import type { Task } from '../tasks/taskfile.ts';

export interface RunsOptions extends RunSettings {
  /** The node binary, for the log relays. */
  readonly node: string;
  readonly runTimeoutS: number | undefined;
  readonly log: (line: string) => void;
  readonly now: () => Date;
  /** Shared registry: the lease file each run's relay fences it by, and the time it holds now. */
  readonly fenceFile?: string | undefined;
  readonly fenceUntil?: (() => number) | undefined;
  /** Read-modify-write of the registry (under its lock). */
  readonly update: (fn: (reg: Registry) => void) => Promise<void>;
}

/** A claimed task to start, and the folder its run starts in (its worktree; default: the root folder). */
export interface RunStart { readonly task: Task; readonly claim: Claim; readonly cwd?: string | undefined }

/** One run this heartbeat answers for: its claim (run fields are authoritative here) and its processes. */
interface Tracked {
  readonly key: string;
  claim: Claim;
  /** The run's shell; undefined for a run adopted from a heartbeat that was killed. */
  readonly child: ChildProcess | undefined;
  readonly relayDone: Promise<void>;
  ended: boolean;
  /** Set when a registry update merged the run after it ended: once written, it needs no tracking. */
  endMerged: boolean;
  done: Promise<void>;
  stopping: Promise<void> | undefined;
  /** Why this heartbeat stopped the run on purpose (fenced, or its claim released on another host): the claim's note when it ends. */
  stoppedWhy?: string;
}

/**
 * Grace for runs when their heartbeat stops: shorter than `stop`'s 5 s grace for the heartbeat
 * itself, so the heartbeat has SIGKILLed what ignored SIGTERM, and recorded it, before `stop`
 * would SIGKILL the heartbeat.
 */
export const STOP_WITH_HEARTBEAT_GRACE_MS = 3000;

export class Runs {
  private readonly o: RunsOptions;
  private readonly tracked = new Map<string, Tracked>();
  /** Every run id this heartbeat started or adopted: what it stops when it stops. */
  private readonly mine = new Set<string>();
  /** Live runs of this owner that another process (a `--once` beside the daemon) answers for. */
  foreign = new Set<string>();
  /** Ended runs waiting for the next registry update, and that update. */
  private readonly recording: Tracked[] = [];
  private flush: Promise<void> | undefined;

  constructor(o: RunsOptions) {
    this.o = o;
  }

  /** True while this heartbeat answers for the run and it has not ended. */
  has(runId: string | null | undefined): boolean {
    const t = runId ? this.tracked.get(runId) : undefined;
    return t !== undefined && !t.ended;
  }

  /** Runs of this heartbeat that are still going (for max). */
  get active(): number {
    return [...this.tracked.values()].filter((t) => !t.ended).length;
  }

  /**
   * Starts the dispatch command for claimed tasks, each with its run marker in its environment, in
   * its cwd (its worktree) or else the root folder, their output through one capped log relay.
   * Fills each claim's run fields; an entry is false when that run could not start for now (its
   * relay failed: tried next tick), true with an interrupted claim saying why when its log cannot
   * be opened or its own spawn failed (markNotStarted: never run without its log, never retried blindly).
   */
  startMany(items: readonly RunStart[]): boolean[] {
    const all = runSpawns(items, this.o, (line) => this.say(line));
    const runs = all.filter((r) => r.unopenable === undefined);
    const relay = { node: this.o.node, maxBytes: this.o.logMaxBytes, env: { ...this.o.env }, cwd: this.o.root, fenceFile: this.o.fenceFile, fenceUntil: this.o.fenceUntil?.() };
    const { started, failed, relayDone } = spawnLogged(runs, relay, (what, i, err) => this.say(`${what} of ${runs[i]?.task.id ?? `${runs.length} runs`} failed: ${err.message}`));
    return all.map((r) => {
      const i = runs.indexOf(r);
      const why = r.unopenable ?? failed[i];
      if (why !== undefined) {
        this.say(markNotStarted(r.claim, why, this.stamp()));
        return true;
      }
      const s = started[i];
      if (!s) return false;
      Object.assign(r.claim, { pid: s.pid, pidStart: readStat(s.pid)?.starttime ?? null, state: 'running', log: r.logPath, runId: r.runId });
      this.track(r.runId, r.claim, s.child, relayDone);
      return true;
    });
  }

  private track(runId: string, claim: Claim, child: ChildProcess, relayDone: Promise<void>): void {
    const t: Tracked = { key: runId, claim: { ...claim }, child, relayDone, ended: false, endMerged: false, done: Promise.resolve(), stopping: undefined };
    t.done = new Promise<void>((resolve) => {
      child.once('exit', (code, sig) => {
        const c = t.claim;
        const timedOut = c.state === 'timed_out';
        // A run ended by a signal was stopped with its heartbeat (or by hand): interrupted, not failed.
        Object.assign(c, { exitCode: code, endedAt: this.o.now().toISOString() });
        if (t.stoppedWhy !== undefined && !timedOut) Object.assign(c, { state: 'interrupted', note: t.stoppedWhy });
        else if (!timedOut) Object.assign(c, sig ? { state: 'interrupted', note: `stopped by ${sig} (with its heartbeat, or by hand)` } : { state: 'exited' });
        this.say(`run of ${c.id} ${sig ? `stopped by ${sig}` : `exited with code ${code}`}${timedOut ? ` (${c.note})` : ''}`);
        t.ended = true;
        void this.record(t).then(resolve);
      });
    });
    this.tracked.set(runId, t);
    this.mine.add(runId);
  }

  /**
   * Stops the runs this heartbeat answers for that match (all of them: fencing), in the background;
   * each claim's note says why when it ends. Returns how many it stops.
   */
  stopAll(note: string, graceMs: number, match: (c: Claim) => boolean = () => true): number {
    let n = 0;
    for (const t of this.tracked.values()) {
      if (t.ended || t.stopping !== undefined || !match(t.claim)) continue;
      t.stoppedWhy = note;
      t.stopping = this.stop(t, graceMs);
      n++;
    }
    return n;
  }

  /**
   * Shared registry: the runs whose claim row is gone (an operator released it with --force, or
   * another host took it over after this host's lease ran out) are stopped: a row goes only that way.
   */
  stopReleased(reg: Registry): void {
    const held = new Set(Object.values(reg.claims).map((c) => c.runId).filter(Boolean));
    const gone = (c: Claim): boolean => c.runId !== null && c.runId !== undefined && !held.has(c.runId);
    const n = this.stopAll('stopped: its claim was released on another host (release --force, or taken over after its lease ran out)', RUN_GRACE_MS, gone);
    if (n) this.say(`stopping ${n} run${n === 1 ? '' : 's'} whose claim is gone from the shared registry`);
  }

  /** Takes over a live run whose heartbeat was killed: not re-run, timed out and stopped like our own. */
  adopt(claim: Claim): void {
    if (!claim.runId && claim.pid === null) return;
    const key = claim.runId ?? `pid-${claim.pid}`;
    if (this.tracked.has(key)) return;
    this.tracked.set(key, { key, claim: { ...claim }, child: undefined, relayDone: Promise.resolve(), ended: false, endMerged: false, done: Promise.resolve(), stopping: undefined });
    if (claim.runId) this.mine.add(claim.runId);
  }

  /**
   * Before each tick's registry update: notices adopted runs that ended, and ends runs past
   * run_timeout (the stop runs in the background; the claim says timed_out at once).
   */
  check(now: Date): void {
    for (const t of this.tracked.values()) {
      if (t.ended) continue;
      if (!t.child && !runAlive(t.claim)) {
        if (t.claim.state !== 'timed_out') Object.assign(t.claim, { state: 'interrupted', note: 'its heartbeat was killed; it ended while adopted, exit status unknown' });
        Object.assign(t.claim, { endedAt: now.toISOString() });
        t.ended = true;
        continue;
      }
      const started = Date.parse(t.claim.startedAt ?? t.claim.claimedAt);
      if (this.o.runTimeoutS !== undefined && t.stopping === undefined && now.getTime() - started >= this.o.runTimeoutS * 1000) {
        Object.assign(t.claim, { state: 'timed_out', note: `timed out after ${formatDuration(now.getTime() - started)}` });
        this.say(`run of ${t.claim.id} ${t.claim.note}; stopping it`);
        t.stopping = this.stop(t, RUN_GRACE_MS);
      }
    }
  }

  /**
   * Puts what this heartbeat knows about its runs into the registry: a missing claim (a lost or rebuilt registry)
   * is put back unless released; run fields follow the run, id, path and file follow the registry (a rename re-keys it).
   */
  merge(reg: Registry): void {
    this.mergeRuns(reg, this.tracked.values());
  }

  private mergeRuns(reg: Registry, runs: Iterable<Tracked>): void {
    for (const t of runs) {
      t.endMerged = t.ended;
      const problem = putRun(reg, t.claim, this.o.fenceFile === undefined);
      if (problem) this.say(problem);
    }
  }

  /** After a registry write that merged them: ended runs are on record and need no tracking. */
  settle(): void {
    for (const t of [...this.tracked.values()]) if (t.endMerged) this.tracked.delete(t.key);
  }

  /** Resolves when every run started so far has ended and been recorded (and its log flushed, within 2 s). */
  async finished(): Promise<void> {
    const all = [...this.tracked.values()];
    await Promise.all(all.map((t) => t.done));
    await Promise.race([Promise.all(all.map((t) => t.relayDone)), new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  /** Live marked processes of this tasks folder (any owner), grouped by run id. */
  folderRuns(): Map<string, MarkedProcess[]> {
    const byRun = new Map<string, MarkedProcess[]>();
    for (const p of findMarked((m) => inFolder(m, this.o.dir))) byRun.set(p.runId, [...(byRun.get(p.runId) ?? []), p]);
    return byRun;
  }

  /**
   * When the heartbeat stops: ends every process of the runs it answers for and, for the daemon,
   * every leftover marked process of this owner in this folder (what a run left behind with
   * setsid, runs of a heartbeat that was killed), except runs a `--once` beside it answers for.
   */
  async close(daemon: boolean): Promise<void> {
    const owned = (p: MarkedProcess): boolean => this.mine.has(p.runId)
      || (daemon && p.env.TASK_MANAGER_OWNER === this.o.owner && inFolder(p, this.o.dir) && !this.foreign.has(p.runId));
    try {
      const report = await stopMarked(owned, STOP_WITH_HEARTBEAT_GRACE_MS);
      if (report.survivors.length) this.say(`run processes ${report.survivors.join(', ')} survived SIGKILL`);
    } catch (err) {
      this.say(`stopping the runs failed: ${(err as Error).message}`);
    }
    const adopted = [...this.tracked.values()].filter((t) => !t.child && !t.ended);
    await Promise.all([...this.tracked.values()].map((t) => t.stopping ?? (t.claim.runId ? undefined : this.stop(t, STOP_WITH_HEARTBEAT_GRACE_MS))));
    for (const t of adopted) {
      if (t.claim.state !== 'timed_out') Object.assign(t.claim, { state: 'interrupted', note: 'its first heartbeat was killed; stopped with the heartbeat that took it over' });
      Object.assign(t.claim, { endedAt: this.o.now().toISOString() });
      t.ended = true;
    }
    await Promise.all([...[...this.tracked.values()].map((t) => t.done), ...adopted.map((t) => this.record(t))]);
  }

  private async stop(t: Tracked, graceMs: number): Promise<void> {
    try {
      if (t.claim.runId) {
        const report = await stopRun(t.claim.runId, graceMs);
        if (report.survivors.length) this.say(`run of ${t.claim.id}: processes ${report.survivors.join(', ')} survived SIGKILL`);
      } else if (runAlive(t.claim)) {
        // A run started before run markers existed: its tree, identity re-proven by start time.
        await stopProcess(t.claim.pid as number, graceMs);
      }
    } catch (err) {
      this.say(`stopping the run of ${t.claim.id} failed: ${(err as Error).message}`);
    }
  }

  /** Records ended runs: runs that end together (200 quick runs of one tick) share one registry update; on failure the next tick's merge retries. */
  private record(t: Tracked): Promise<void> {
    this.recording.push(t);
    return (this.flush ??= new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      const batch = this.recording.splice(0);
      // Runs ending during this update go into the next one.
      this.flush = undefined;
      try {
        await this.o.update((reg) => this.mergeRuns(reg, batch));
        for (const r of batch) if (r.endMerged) this.tracked.delete(r.key);
      } catch (err) {
        this.say(`recording the run${batch.length === 1 ? '' : 's'} of ${batch.map((r) => r.claim.id).join(', ')} failed (retried next tick): ${(err as Error).message}`);
      }
    }));
  }

  private stamp(): string {
    return this.o.now().toISOString();
  }

  /** Logs from an event handler or a background stop: a throw there would end the heartbeat, so an unwritable log loses the line. */
  private say(line: string): void {
    try {
      this.o.log(`${this.stamp()} ${line}`);
    } catch {
      // The log is where failures are told; with the log failing there is nowhere left to tell it.
    }
  }
}
