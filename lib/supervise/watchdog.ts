// The watchdog a running `serve` keeps over its owner's heartbeat: restarts a dead or stuck one, with backoff.
import type { HeartbeatHealth } from './health.ts';
import { delay } from '../base/delay.ts';

/** What the watchdog needs; the caller binds it to one owner and folder. */
export interface WatchdogInput {
  /** The heartbeat's state now; undefined when it cannot be told (a folder where the pid file belongs). */
  readonly check: () => HeartbeatHealth | undefined;
  /**
   * Starts (or replaces) the heartbeat, as ensure does: its pid, and whether this call started it
   * (false: another one, an operator's `ensure`, started it meanwhile and this call found it running).
   */
  readonly restart: () => Promise<{ readonly pid: number; readonly started: boolean }>;
  /** True while the operator has stopped the heartbeat on purpose (`stop`): no restart then. */
  readonly paused: () => boolean;
  /** The pid a pid file left behind still names (a heartbeat killed before it could remove it), if any. */
  readonly deadPid?: () => number | undefined;
  /** The last lines of the heartbeat log, to show what the dead one said last. */
  readonly logTail: () => string;
  readonly log: (line: string) => void;
  readonly now: () => number;
  readonly signal: AbortSignal;
  /** How often the state is read: a death is noticed within this. */
  readonly pollMs?: number;
  /** The pause between polls, on the clock now() reads (default: a real, abortable pause). */
  readonly wait?: (ms: number, signal: AbortSignal) => Promise<void>;
  /**
   * Told about each restart this watchdog made (`restart`), or a stuck heartbeat it replaced
   * (`stuck`), with the reason in one line; and about the first restart that failed since the
   * heartbeat last ran. Must return at once (notifications queue); its errors are ignored.
   */
  readonly onEvent?: (e: { readonly kind: 'restart' | 'stuck'; readonly reason: string }) => void;
}

/** Backoff between restarts that follow each other: 1 s doubling to 60 s, reset after 10 healthy minutes. */
export const BACKOFF_MIN_MS = 1000;
export const BACKOFF_MAX_MS = 60_000;
export const HEALTHY_RESET_MS = 10 * 60_000;

/**
 * Polls the heartbeat's state and restarts it when it is stopped or stuck. The first restart is
 * immediate; while the restarted heartbeat has not stayed healthy for 10 minutes, each further
 * restart waits twice as long as the one before (1 s, 2 s, … 60 s), so a heartbeat that dies at
 * start does not spin. Resolves when the signal aborts.
 */
export async function watchHeartbeat(w: WatchdogInput): Promise<void> {
  const pollMs = w.pollMs ?? 250;
  const wait = w.wait ?? delay;
  let restarts = 0;
  let healthySince: number | undefined;
  let notBefore = 0;
  let lastPid: number | null = null;
  let failedSinceRunning = false;
  const tell = (kind: 'restart' | 'stuck', reason: string): void => {
    try {
      w.onEvent?.({ kind, reason });
    } catch {
      // A notifier's trouble is its own: the watchdog goes on.
    }
  };
  while (!w.signal.aborted) {
    const health = w.check();
    const now = w.now();
    if (health?.state === 'running') {
      failedSinceRunning = false;
      healthySince ??= now;
      lastPid = health.pid;
      if (now - healthySince >= HEALTHY_RESET_MS) restarts = 0;
    } else {
      // Healthy time is unbroken running time: a stop on purpose or a wait for the backoff ends it too.
      healthySince = undefined;
      if (health && now >= notBefore && !w.paused()) {
        // The dead one's own pid file names it best: one that started and died between two polls was never seen running.
        const gone = health.state === 'stuck' ? undefined : w.deadPid?.() ?? lastPid;
        const why = health.state === 'stuck' ? `pid ${health.pid} is stuck (no tick since ${health.beatAt ?? health.startedAt})` : gone != null ? `pid ${gone} is gone` : 'it is not running';
        const tail = w.logTail();
        let outcome: { pid: number; started: boolean } | { error: Error };
        try {
          outcome = await w.restart();
        } catch (err) {
          outcome = { error: err as Error };
        }
        // Someone else (an operator's ensure) started it first: not this watchdog's restart, so it
        // is neither reported nor counted towards the backoff.
        if ('pid' in outcome && !outcome.started) {
          lastPid = outcome.pid;
          await wait(pollMs, w.signal);
          continue;
        }
        restarts += 1;
        const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (restarts - 1));
        notBefore = w.now() + backoff;
        const kind = health.state === 'stuck' ? 'stuck' : 'restart';
        if ('pid' in outcome) tell(kind, `${why}; restarted as pid ${outcome.pid}`);
        else if (!failedSinceRunning) tell(kind, `${why}; could not restart it: ${outcome.error.message.split('\n')[0]}; trying again with backoff`);
        failedSinceRunning = !('pid' in outcome);
        if ('pid' in outcome) {
          lastPid = outcome.pid;
          w.log(`watchdog: restarted the heartbeat as pid ${outcome.pid}: ${why} (restart ${restarts}; the next one waits at least ${backoff / 1000} s)${tail ? `; its log ended with:\n${indent(tail)}` : ''}`);
        } else {
          w.log(`watchdog: could not restart the heartbeat (${why}): ${outcome.error.message}; trying again in ${backoff / 1000} s`);
        }
      }
    }
    await wait(pollMs, w.signal);
  }
}

function indent(text: string): string {
  return text.split('\n').map((l) => `  | ${l}`).join('\n');
}
