// The heartbeat's state: running, stuck (identified but not beating) or stopped, read without signalling.
import fs from 'node:fs';
import { isErrno } from '../base/errors.ts';
import { type Expected, inspectPidFile } from './pidfile.ts';

export type HeartbeatState = 'running' | 'stuck' | 'stopped';

/** What a reader (status, the server, the watchdog) knows about one owner's heartbeat. */
export interface HeartbeatHealth {
  readonly state: HeartbeatState;
  /** The identified heartbeat's pid (running or stuck), else null. */
  readonly pid: number | null;
  /** Why the pid file does not name our heartbeat, when it names something else. */
  readonly stale: string | null;
  readonly startedAt: string | null;
  /** The last beat: the heartbeat touches its pid file after every tick, full disk or not. */
  readonly beatAt: string | null;
  /** Seconds between ticks, as the heartbeat recorded it. */
  readonly interval: number | null;
  /** When a heartbeat with no beat since is stuck. */
  readonly stuckAfter: string | null;
}

/** Extra seconds past 3 intervals before a silent heartbeat counts as stuck (TASKS_STUCK_SLACK_S tunes it). */
export const STUCK_SLACK_S = 10;

/**
 * Stuck means identified (marker, start time, boot id) but silent for 3 intervals + slack: a
 * SIGSTOPped process, a tick that never returns, a loop that lost its timer. The beat is the pid
 * file's mtime, which the heartbeat sets after each tick; utimes needs no free disk space, so a
 * full disk does not make a ticking heartbeat look stuck.
 */
export function heartbeatHealth(pidFile: string, expected: Expected, self: { pid: number; ppid: number }, now: Date, slackS = STUCK_SLACK_S): HeartbeatHealth {
  const seen = inspectPidFile(pidFile, expected, self);
  const none = { pid: null, startedAt: null, beatAt: null, interval: null, stuckAfter: null };
  if (seen.state === 'missing') return { state: 'stopped', stale: null, ...none };
  if (seen.state === 'stale') return { state: 'stopped', stale: seen.reason, ...none };
  const interval = Number(seen.record.fields.interval);
  const startedAt = seen.record.fields.started ?? null;
  let beat: number | undefined;
  try {
    beat = fs.statSync(pidFile).mtimeMs;
  } catch (err) {
    // Gone between the read and the stat: the heartbeat is stopping or republishing.
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  const started = startedAt ? Date.parse(startedAt) : NaN;
  const last = Math.max(beat ?? 0, Number.isFinite(started) ? started : 0);
  const known = Number.isFinite(interval) && interval > 0 && last > 0;
  const due = known ? last + (3 * interval + slackS) * 1000 : undefined;
  return {
    state: due !== undefined && now.getTime() > due ? 'stuck' : 'running',
    pid: seen.pid,
    stale: null,
    startedAt,
    beatAt: beat === undefined ? null : new Date(beat).toISOString(),
    interval: Number.isFinite(interval) ? interval : null,
    stuckAfter: due === undefined ? null : new Date(due).toISOString(),
  };
}

/** The stuck slack from the environment (tests shorten it), else the default. */
export function stuckSlack(env: Readonly<Record<string, string | undefined>>): number {
  const n = Number(env.TASKS_STUCK_SLACK_S);
  return env.TASKS_STUCK_SLACK_S !== undefined && Number.isFinite(n) && n >= 0 ? n : STUCK_SLACK_S;
}
