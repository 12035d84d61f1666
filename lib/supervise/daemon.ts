// Spawning a detached daemon, waiting for its pid file, stopping a process tree.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeFolders } from '../base/atomic.ts';
import { TasksError, isErrno } from '../base/errors.ts';
import { LOG_MAX_BYTES, logCap, openDaemonLog, tailLines, trimLog } from '../base/logfile.ts';
import { type Expected, type Inspection, inspectPidFile } from './pidfile.ts';
import { boundedDescendants, endProven } from './orphans.ts';
import { allPids, isLiveStat, isRunning, readStat, readStatQuiet, signal, signalTree, sleep } from './proc.ts';

/** How to start this tool again as a child: node, the tsx loader, the entry script. */
export interface Launcher {
  readonly node: string;
  readonly nodeArgs: readonly string[];
  readonly script: string;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Who is asking: a pid file naming one of these is never ours to trust or signal. */
export interface Self { readonly pid: number; readonly ppid: number }

/**
 * Starts this tool detached: a new session (setsid) so Ctrl-C, SIGHUP or a closed terminal never
 * reach it, stdin from /dev/null, stdout and stderr appended to the log, unref'd. The log is
 * opened without following a link (a repository may commit one in its place, or in place of a
 * folder above it) and starts with room for a crash trace (openDaemonLog); its cap is the
 * launcher environment's (logCap).
 */
export function spawnDetached(launcher: Launcher, args: readonly string[], logPath: string, extraEnv: Record<string, string> = {}): ChildProcess {
  makeFolders(path.dirname(logPath), 2);
  const fd = openDaemonLog(logPath, logCap(launcher.env));
  try {
    const child = spawn(launcher.node, [...launcher.nodeArgs, launcher.script, ...args], {
      cwd: launcher.cwd,
      env: { ...launcher.env, ...extraEnv },
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    child.unref();
    return child;
  } finally {
    fs.closeSync(fd);
  }
}

export interface WaitForPidFile {
  readonly pidFile: string;
  readonly expected: Expected;
  readonly self: Self;
  readonly child: ChildProcess;
  readonly logPath: string;
  readonly what: string;
  readonly timeoutMs: number;
  /** The log's cap: a trace that took it past the cap during a failed start is cut (trimLog). */
  readonly logMaxBytes?: number;
}

/**
 * Waits until the pid file names a live, identified daemon (readiness). The child exiting 0
 * means a twin won the lock: keep waiting for the twin's pid file. Any other exit fails with
 * the log tail, so a daemon that dies during start never reads as "started".
 */
export async function waitForPidFile(w: WaitForPidFile): Promise<Extract<Inspection, { state: 'live' }>> {
  let exit: { code: number | null; sig: NodeJS.Signals | null } | undefined;
  w.child.once('exit', (code, sig) => { exit = { code, sig }; });
  const spawnError = new Promise<Error>((resolve) => w.child.once('error', resolve));
  let failed: Error | undefined;
  void spawnError.then((err) => { failed = err; });
  const deadline = Date.now() + w.timeoutMs;
  for (;;) {
    const seen = inspectPidFile(w.pidFile, w.expected, w.self);
    if (seen.state === 'live') return seen;
    if (failed) throw new TasksError(`could not start the ${w.what}: ${failed.message}`);
    if (exit && exit.code !== 0) {
      const how = exit.sig ? `was killed by ${exit.sig}` : `exited with code ${exit.code}`;
      const tail = tailLines(w.logPath, 15);
      trimLog(w.logPath, w.logMaxBytes ?? LOG_MAX_BYTES);
      throw new TasksError(`the ${w.what} ${how} during start; last lines of ${w.logPath}:\n${tail || `(log is empty${noSpace(w.logPath)})`}`);
    }
    if (Date.now() > deadline) {
      throw new TasksError(`the ${w.what} did not publish ${w.pidFile} within ${w.timeoutMs / 1000} s; see ${w.logPath}`);
    }
    await sleep(20);
  }
}

/** "; no space left on …" when the log's file system is full: why a daemon can die with an empty log. */
function noSpace(file: string): string {
  try {
    const fsStat = fs.statfsSync(path.dirname(file));
    return fsStat.bavail === 0 ? `: no space left on the file system of ${path.dirname(file)}; free some and try again` : '';
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return '';
    throw err;
  }
}

export interface StopResult {
  readonly pid: number;
  /** True when SIGKILL was needed after the grace period. */
  readonly killed: boolean;
}

/**
 * Stops a process whose identity the caller proved: SIGTERM to its process group (a detached
 * daemon leads its own) or its tree, wait the grace, SIGKILL survivors, wait until gone. Its
 * bounded children (git, gh: each leads a group of its own, so neither signal reaches them) are
 * found first; when it had to be killed, the deadline timers that would have ended them died with
 * it, so those still alive (proven by start time) are ended too.
 */
export async function stopProcess(pid: number, graceMs: number): Promise<StopResult> {
  const stat = readStat(pid);
  const leader = stat !== undefined && stat.pgid === pid;
  const orphans = boundedDescendants(pid);
  // The identity proven by the caller is this start time: a pid reused during the grace is not ours.
  const same = (): boolean => isRunning(pid) && readStat(pid)?.starttime === stat?.starttime;
  await sendTree(pid, leader, 'SIGTERM');
  // A stopped (SIGSTOP, a stuck heartbeat) process holds SIGTERM pending until it runs again.
  await sendTree(pid, leader, 'SIGCONT');
  if (await waitGone(pid, leader, same, graceMs)) return { pid, killed: false };
  // A group is safe to signal while it has members (the kernel does not reuse its id); a lone
  // process only while it is still the one we proved.
  if (leader || same()) await sendTree(pid, leader, 'SIGKILL');
  if (await waitGone(pid, leader, same, 5000)) {
    await endProven(orphans);
    return { pid, killed: true };
  }
  throw new TasksError(`pid ${pid} survived SIGKILL; check it with: ps -o pid,stat,cmd -p ${pid}`);
}

async function sendTree(pid: number, leader: boolean, sig: NodeJS.Signals): Promise<void> {
  if (leader) signal(-pid, sig);
  else await signalTree(pid, sig);
}

async function waitGone(pid: number, leader: boolean, same: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    const gone = !same() && (!leader || groupMembers(pid).length === 0);
    if (gone) return true;
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
}

/** Live (non-zombie) processes in a process group, read from /proc. */
export function groupMembers(pgid: number): number[] {
  return allPids().filter((pid) => {
    const stat = readStatQuiet(pid);
    return isLiveStat(stat) && stat.pgid === pgid;
  });
}
