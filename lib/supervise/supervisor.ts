// ensure and stop for one owner's heartbeat: reuse, replace a stale pid file, start, stop.
import fs from 'node:fs';
import { makeFolders, removeUnlessReplaced, writeFileAtomic } from '../base/atomic.ts';
import { TasksError } from '../base/errors.ts';
import { type Launcher, type Self, spawnDetached, stopProcess, waitForPidFile } from './daemon.ts';
import { type Expected, inspectPidFile, markerArgs, removePidFileIf } from './pidfile.ts';
import { checkRuntimeFolders, runtimePaths } from '../base/paths.ts';
import { logCap } from '../base/logfile.ts';
import { refuseLinkedFolders } from '../base/nofollow.ts';
import { heartbeatHealth } from './health.ts';
import { redactUrl } from '../base/registry-url.ts';
import { notifyUrlRecord } from '../base/notify-files.ts';
import { abstractSocketHolders, hasArgs, isLiveStat, ownedByUs, readStatQuiet } from './proc.ts';

/** The heartbeat settings ensure passes to a new heartbeat. */
export interface HeartbeatSpec {
  readonly owner: string;
  readonly dir: string;
  readonly interval: number;
  readonly dispatch: string | undefined;
  readonly max: number;
  /** The statuses that count as ready, as written; undefined: ready. */
  readonly ready?: readonly string[] | undefined;
  readonly escalateAfter: number;
  /** Seconds after which a run is ended; undefined: no limit. */
  readonly runTimeout?: number | undefined;
  /** Worktrees per dispatched task: on, off, or undefined for "on inside a git repository". */
  readonly worktrees?: 'on' | 'off' | undefined;
  /** The branch new worktrees start from; undefined: the one checked out when they are made. */
  readonly base?: string | undefined;
  /** A postgres:// URL: the shared registry (may hold a password: never in a command line); undefined: registry.json. */
  readonly registry?: string | undefined;
  /** The shared registry's queue; undefined: from the repository's origin. */
  readonly queue?: string | undefined;
  /** Seconds a silent host's claims stay untouched in the shared registry. */
  readonly lease?: number | undefined;
  /** notify=: the command each notification is piped to (passed in the environment, like the URL). */
  readonly notify?: string | undefined;
  /** notify_url=: the webhook notifications are POSTed to; its secret is in it, so it goes in the environment and is recorded as scheme://host/… only. */
  readonly notifyUrl?: string | undefined;
  /** Keys the operator set; only those (and the registry) are compared with a reused heartbeat's settings. */
  readonly given?: readonly string[];
}

export interface EnsureResult {
  readonly pid: number;
  readonly started: boolean;
  /** Why an existing pid file was stale, when it was. */
  readonly stale: string | undefined;
  /** A stuck heartbeat (identified, not ticking) that was stopped and replaced. */
  readonly replacedStuck?: { readonly pid: number; readonly silentS: number; readonly killed: boolean };
  /** Settings of a reused heartbeat that differ from the ones asked for (e.g. "interval=30"). */
  readonly differs: string[];
  readonly pidFile: string;
  readonly log: string;
}

/** The heartbeat's command-line words: the marker first, so /proc/<pid>/cmdline proves identity. */
export function heartbeatArgs(spec: HeartbeatSpec): string[] {
  const args = [...markerArgs({ kind: 'heartbeat', owner: spec.owner, dir: spec.dir }), `interval=${spec.interval}`, `max=${spec.max}`, `escalate_after=${spec.escalateAfter}`];
  if (spec.runTimeout !== undefined) args.push(`run_timeout=${spec.runTimeout}`);
  if (spec.worktrees !== undefined) args.push(`worktrees=${spec.worktrees}`);
  if (spec.base !== undefined) args.push(`base=${spec.base}`);
  if (readyWord(spec) !== 'ready') args.push(`ready=${readyWord(spec)}`);
  if (spec.registry !== undefined && spec.queue !== undefined) args.push(`queue=${spec.queue}`);
  if (spec.registry !== undefined && spec.lease !== undefined) args.push(`lease=${spec.lease}`);
  if (spec.dispatch !== undefined) args.push(`dispatch=${spec.dispatch}`);
  return args;
}

/**
 * The environment a detached heartbeat (or server) gets besides the launcher's: the registry's
 * URL goes there, never in the command line, which every user of the machine can read in the
 * process list. With registry.json it is set empty, so an inherited $TASK_MANAGER_REGISTRY does
 * not point the child elsewhere than the operator asked. The notification keys go there too,
 * always set (empty: none), so the child notifies exactly as this command was told to.
 */
export function registryEnv(spec: Pick<HeartbeatSpec, 'registry' | 'notify' | 'notifyUrl'>, env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const notify = { TASK_MANAGER_NOTIFY: spec.notify ?? '', TASK_MANAGER_NOTIFY_URL: spec.notifyUrl ?? '' };
  if (spec.registry !== undefined) return { TASK_MANAGER_REGISTRY: spec.registry, ...notify };
  return env.TASK_MANAGER_REGISTRY === undefined ? notify : { TASK_MANAGER_REGISTRY: '', ...notify };
}

/** The settings a heartbeat records about itself (pid file lines), to compare on reuse. */
export function heartbeatSettings(spec: HeartbeatSpec): Record<string, string> {
  return {
    interval: String(spec.interval), max: String(spec.max), dispatch: spec.dispatch ?? '', run_timeout: spec.runTimeout === undefined ? 'none' : String(spec.runTimeout),
    worktrees: spec.worktrees ?? 'auto', base: spec.base ?? '', ready: readyWord(spec),
    // The webhook's secret is never recorded (the pid file is readable, and ensure prints what differs): its host and a short hash, so a rotated secret differs.
    notify: spec.notify ?? '', notify_url: spec.notifyUrl === undefined ? '' : notifyUrlRecord(spec.notifyUrl),
    // Shown without its password: the pid file is readable, and ensure prints what differs.
    ...(spec.registry === undefined ? {} : { registry: redactUrl(spec.registry), queue: spec.queue ?? '', lease: String(spec.lease ?? 600) }),
  };
}

/** The ready statuses as one key value (`To Do,todo`). */
function readyWord(spec: HeartbeatSpec): string {
  return (spec.ready ?? ['ready']).join(',');
}

function differing(spec: HeartbeatSpec, fields: Readonly<Record<string, string>>): string[] {
  const want = { ...heartbeatSettings(spec), registry: spec.registry === undefined ? 'file' : redactUrl(spec.registry) };
  // The registry is compared however it was named (registry= or the environment): a heartbeat
  // writing claims elsewhere than asked is always worth a word. One without the field is the file's.
  const have = (k: string): string | undefined => (k === 'registry' ? fields.registry ?? 'file' : fields[k]);
  const compared = (k: string): boolean => k === 'registry' || (spec.given ?? []).includes(k);
  return Object.entries(want).filter(([k, v]) => compared(k) && have(k) !== undefined && have(k) !== v).map(([k]) => `${k}=${have(k) === '' ? '(none)' : have(k)}`);
}

/**
 * The heartbeat is long-lived: a 1 MB young generation (instead of 16 MB) keeps its resident
 * memory low at the cost of more frequent, cheap scavenges.
 */
export function heartbeatLauncher(launcher: Launcher): Launcher {
  return { ...launcher, nodeArgs: ['--max-semi-space-size=1', ...launcher.nodeArgs] };
}

/**
 * Makes sure one heartbeat runs for the owner in the folder: reuse a live one, replace a stale
 * pid file, start a detached one and return only once it has published its pid file.
 */
export async function ensureHeartbeat(spec: HeartbeatSpec, launcher: Launcher, self: Self, stuckSlackS?: number): Promise<EnsureResult> {
  const paths = runtimePaths(spec.dir, spec.owner);
  // Before anything is written (the stop mark, the log): a runtime folder that is a link is refused.
  checkRuntimeFolders(paths);
  try {
    return await ensureNow(spec, launcher, self, stuckSlackS);
  } finally {
    // Ensuring is the operator asking for a heartbeat again: a watchdog may restart it from now on.
    // Only now, once this ensure's heartbeat is up (or failed): while it starts, a serving watchdog
    // stays paused instead of racing it with a start of its own and reporting that as its restart.
    fs.rmSync(paths.heartbeatStopped, { force: true });
  }
}

async function ensureNow(spec: HeartbeatSpec, launcher: Launcher, self: Self, stuckSlackS: number | undefined): Promise<EnsureResult> {
  const paths = runtimePaths(spec.dir, spec.owner);
  const expected: Expected = { kind: 'heartbeat', owner: spec.owner, dir: spec.dir };
  const base = { pidFile: paths.heartbeatPid, log: paths.heartbeatLog };
  const now = new Date();
  const health = heartbeatHealth(paths.heartbeatPid, expected, self, now, stuckSlackS);
  let replacedStuck: EnsureResult['replacedStuck'];
  if (health.state === 'stuck' && health.pid !== null) {
    // Identified but silent: stop it (identity is re-proved by stopDaemon) and start a fresh one.
    const silentS = Math.round((now.getTime() - Date.parse(health.beatAt ?? health.startedAt ?? now.toISOString())) / 1000);
    const stopped = await stopDaemon(paths.heartbeatPid, expected, self);
    if (stopped.state === 'stopped') replacedStuck = { pid: stopped.pid, silentS, killed: stopped.killed };
  }
  const before = inspectPidFile(paths.heartbeatPid, expected, self);
  if (before.state === 'live') return { ...base, pid: before.pid, started: false, stale: undefined, differs: differing(spec, before.record.fields), replacedStuck };
  const stale = before.state === 'stale' ? before.reason : undefined;
  // A heartbeat may publish meanwhile: keep whatever turns out to name a live one.
  if (before.state === 'stale') removeUnlessReplaced(paths.heartbeatPid, (moved) => inspectPidFile(moved, expected, self).state === 'live');
  const child = spawnDetached(heartbeatLauncher(launcher), heartbeatArgs(spec), paths.heartbeatLog, registryEnv(spec, launcher.env));
  const live = await waitForPidFile({
    pidFile: paths.heartbeatPid, expected, self, child, logPath: paths.heartbeatLog, what: 'heartbeat', timeoutMs: 20_000, logMaxBytes: logCap(launcher.env),
  });
  return { ...base, pid: live.pid, started: live.pid === child.pid, stale, differs: live.pid === child.pid ? [] : differing(spec, live.record.fields), replacedStuck };
}

export type StopOutcome =
  | { readonly state: 'stopped'; readonly pid: number; readonly killed: boolean }
  | { readonly state: 'not-running'; readonly stale: string | undefined };

/** Grace between SIGTERM and SIGKILL when stopping. */
export const STOP_GRACE_MS = 5000;

/** Stops one daemon of the owner if its identity is proven; never signals anything else. */
export async function stopDaemon(pidFile: string, expected: Expected, self: Self, graceMs = STOP_GRACE_MS): Promise<StopOutcome> {
  const seen = inspectPidFile(pidFile, expected, self);
  if (seen.state === 'missing') return { state: 'not-running', stale: undefined };
  if (seen.state === 'stale') return { state: 'not-running', stale: seen.reason };
  const result = await stopProcess(seen.pid, graceMs);
  // The daemon removes its own pid file on a clean exit; after SIGKILL only a file still naming it goes.
  if (result.killed) removePidFileIf(pidFile, seen.pid);
  return { state: 'stopped', pid: seen.pid, killed: result.killed };
}

/**
 * Stops a heartbeat that no pid file can name any more (its tasks folder, and the pid file in it,
 * was deleted). Its identity is its lock: the process that holds the abstract socket `lock` (only
 * one can bind it, and only the heartbeat of this owner and folder does), is ours (same uid),
 * and carries the marker words. It is stopped as stopDaemon stops one (start time read first and
 * re-proved before SIGKILL). Never the caller or its parent.
 */
export async function stopLockHolder(expected: Expected, lock: string, self: Self, graceMs = STOP_GRACE_MS): Promise<{ pid: number; killed: boolean }[]> {
  const words = markerArgs(expected);
  const proven = (pid: number): boolean => pid !== self.pid && pid !== self.ppid && isLiveStat(readStatQuiet(pid)) && ownedByUs(pid) && hasArgs(pid, words);
  const stopped: { pid: number; killed: boolean }[] = [];
  for (const pid of abstractSocketHolders(lock).filter(proven)) stopped.push(await stopProcess(pid, graceMs));
  return stopped;
}

/**
 * Records that the operator stopped the heartbeat on purpose, so a serving watchdog leaves it
 * stopped. Only the folders the mark is written through are checked (a link in `runs/`'s place
 * does not stop the mark): a `logs` or `task_manager` that is a link throws a RuntimeFolderError.
 */
export function markStopped(dir: string, owner: string, now: Date): void {
  const paths = runtimePaths(dir, owner);
  refuseLinkedFolders([paths.logs, paths.stateDir]);
  // Only where runtime state already exists: `stop` on a fresh checkout writes nothing.
  if (fs.existsSync(paths.stateDir)) writeFileAtomic(paths.heartbeatStopped, `${now.toISOString()}\n`);
}

/**
 * Throws when the tasks folder's runtime directory cannot be created (read-only checkout), or when
 * a runtime folder is a link (checkRuntimeFolders), before anything is made.
 */
export function ensureStateDir(dir: string, owner: string): void {
  const paths = runtimePaths(dir, owner);
  checkRuntimeFolders(paths);
  try {
    makeFolders(paths.stateDir, 2);
  } catch (err) {
    throw new TasksError(`cannot create ${paths.stateDir}: ${(err as Error).message}; pass dir=<writable tasks folder>`);
  }
}
