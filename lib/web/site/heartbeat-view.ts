// The heartbeat as the pages and /api/health show it, read now from its pid file.
import { TasksError, isErrno } from '../../base/errors.ts';
import { type HeartbeatHealth, heartbeatHealth } from '../../supervise/health.ts';

/** The heartbeat as the pages and /api/health show it; `stale` says why a pid file does not count. */
export type HeartbeatView = HeartbeatHealth & { readonly running: boolean };

export interface HeartbeatViewInput {
  readonly owner: string;
  readonly dir: string;
  readonly pidFile: string;
  readonly now: () => Date;
  /** The reading process (never taken for the heartbeat); default: nobody excluded. */
  readonly self?: { readonly pid: number; readonly ppid: number };
  /** Seconds past 3 intervals before a silent heartbeat is stuck (default: health.ts's). */
  readonly stuckSlackS?: number | undefined;
}

/** The heartbeat's state now: one pid-file read and stat, never a signal; a damaged pid file is `stopped` with the reason. */
export function readHeartbeatView(i: HeartbeatViewInput): HeartbeatView {
  try {
    const health = heartbeatHealth(i.pidFile, { kind: 'heartbeat', owner: i.owner, dir: i.dir }, i.self ?? { pid: -1, ppid: -1 }, i.now(), i.stuckSlackS);
    return { ...health, running: health.state === 'running' };
  } catch (err) {
    // A folder in place of the pid file (TasksError) or of a folder above it (ENOTDIR): no heartbeat can be proven.
    if (!(err instanceof TasksError) && !isErrno(err, 'ENOTDIR') && !isErrno(err, 'EACCES')) throw err;
    return { state: 'stopped', running: false, pid: null, stale: (err as Error).message, startedAt: null, beatAt: null, interval: null, stuckAfter: null };
  }
}
