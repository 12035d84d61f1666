// Run markers: finding a dispatched run's processes by TASK_RUN_ID in /proc/<pid>/environ, and stopping them all.
import path from 'node:path';
import { isErrno } from '../base/errors.ts';
import { allPids, isLiveStat, readCmdlineQuiet, readEnvironQuiet, readStatQuiet, signal, sleep } from './proc.ts';

/** The environment variable every dispatched run carries; its value names one run. */
export const RUN_MARKER = 'TASK_RUN_ID';

/** The word a run's log relay carries in its argv, so a scan can tell it from the run's own processes. */
export const LOG_RELAY_ARG = 'tasks-run-log';

/** Grace between SIGTERM and SIGKILL when a run is stopped (a timeout, `stop`, `release --force`). */
export const RUN_GRACE_MS = 5000;

/** How long to wait for SIGKILLed processes to disappear before calling them survivors. */
const KILL_WAIT_MS = 5000;

/** A live process that carries a run marker, with the run's TASK_* variables. */
export interface MarkedProcess {
  readonly pid: number;
  readonly ppid: number;
  /** Start time from /proc/<pid>/stat: re-checked before every signal, so a reused pid is never hit. */
  readonly starttime: string;
  readonly runId: string;
  /** True for the run's log relay (it holds the run's output pipe, and ends when the run does). */
  readonly relay: boolean;
  /** The TASK_* variables the process was started with (TASK_ID, TASK_FILE, TASK_MANAGER_OWNER, ...). */
  readonly env: Readonly<Record<string, string>>;
}

/** What stopping a run did. */
export interface RunStop {
  /** Processes that carried the marker and were signalled. */
  readonly found: number;
  /** How many of them needed SIGKILL after the grace. */
  readonly killed: number;
  /** Pids that outlived SIGKILL (uninterruptible sleep, or not ours to signal); empty normally. */
  readonly survivors: number[];
}

const NEEDLE = Buffer.from(`\0${RUN_MARKER}=`);

/** The TASK_* variables of a process that carries a run marker; undefined when it carries none or cannot be read (readEnvironQuiet). */
function markedEnv(pid: number): Record<string, string> | undefined {
  const data = readEnvironQuiet(pid);
  if (data === undefined) return undefined;
  if (!data.subarray(0, NEEDLE.length - 1).equals(NEEDLE.subarray(1)) && data.indexOf(NEEDLE) === -1) return undefined;
  const env: Record<string, string> = {};
  for (const entry of data.toString('utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0 && entry.startsWith('TASK_')) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env[RUN_MARKER] ? env : undefined;
}

/** Every live (non-zombie) process that carries a run marker and passes match. */
export function findMarked(match: (p: MarkedProcess) => boolean = () => true): MarkedProcess[] {
  const out: MarkedProcess[] = [];
  for (const pid of allPids()) {
    const env = markedEnv(pid);
    if (env === undefined) continue;
    const stat = readStatQuiet(pid);
    if (!isLiveStat(stat)) continue;
    // The pid may have been reused between the two reads: the marker must still be there, the same.
    if (markedEnv(pid)?.[RUN_MARKER] !== env[RUN_MARKER]) continue;
    const p: MarkedProcess = {
      pid, ppid: stat.ppid, starttime: stat.starttime, runId: env[RUN_MARKER] as string, env,
      relay: readCmdlineQuiet(pid).includes(LOG_RELAY_ARG),
    };
    if (match(p)) out.push(p);
  }
  return out;
}

/** True when the marked process is a run of the tasks folder dir (its TASK_FILE lies inside it). */
export function inFolder(p: MarkedProcess, dir: string): boolean {
  const file = p.env.TASK_FILE;
  return file !== undefined && file.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

/**
 * Stops every process that carries a marker passing match: SIGTERM (then SIGCONT, so a stopped
 * process can act on it), wait up to graceMs, SIGKILL whatever still carries it, wait until gone.
 * /proc is scanned again on every round, so processes that left the run's process group or
 * session (setsid) and children forked meanwhile are found too. A process is signalled only
 * while its start time is the one seen with the marker; pids in exclude are never signalled.
 */
export async function stopMarked(match: (p: MarkedProcess) => boolean, graceMs: number, exclude: readonly number[] = []): Promise<RunStop> {
  const skip = new Set(exclude);
  const termed = new Set<string>();
  const killed = new Set<string>();
  const killAt = Date.now() + graceMs;
  for (;;) {
    const live = findMarked((p) => p.pid > 1 && !skip.has(p.pid) && match(p));
    const now = Date.now();
    if (live.length === 0) return { found: new Set([...termed, ...killed]).size, killed: killed.size, survivors: [] };
    if (now >= killAt + KILL_WAIT_MS) return { found: new Set([...termed, ...killed]).size, killed: killed.size, survivors: live.map((p) => p.pid) };
    for (const p of live) {
      const key = `${p.pid}:${p.starttime}`;
      if (now >= killAt) {
        if (sendIfSame(p, 'SIGKILL')) killed.add(key);
      } else if (!termed.has(key)) {
        termed.add(key);
        if (sendIfSame(p, 'SIGTERM')) sendIfSame(p, 'SIGCONT');
      }
    }
    await sleep(now >= killAt ? 25 : 50);
  }
}

/** Stops every process of one run (found by its TASK_RUN_ID), wherever it went; see stopMarked. */
export function stopRun(runId: string, graceMs = RUN_GRACE_MS, exclude: readonly number[] = []): Promise<RunStop> {
  return stopMarked((p) => p.runId === runId, graceMs, exclude);
}

/** Signals the process only while it is the one that was seen carrying the marker. */
function sendIfSame(p: MarkedProcess, sig: NodeJS.Signals): boolean {
  if (readStatQuiet(p.pid)?.starttime !== p.starttime) return false;
  try {
    return signal(p.pid, sig);
  } catch (err) {
    // A marked process we may not signal (setuid) is reported as a survivor, never a crash.
    if (isErrno(err, 'EPERM')) return false;
    throw err;
  }
}

