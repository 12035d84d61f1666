// The heartbeat loop: the owner lock, the pid file, one tick every interval, a calm stop.
import fs from 'node:fs';
import net from 'node:net';
import { makeFolders, writeFileAtomic } from '../base/atomic.ts';
import { TasksError, isErrno } from '../base/errors.ts';
import { isNotAFile, readTextFile } from '../base/jsonfile.ts';
import { bindAddress, heartbeatLockAddress } from '../supervise/lock.ts';
import { ignoreRuntimeFolder } from '../base/runtime-ignore.ts';
import { type Expected, inspectPidFile, livePid, parsePidFile, publishPidFile, removePidFileIf } from '../supervise/pidfile.ts';
import { checkRuntimeFolders, runtimePaths } from '../base/paths.ts';
import type { Snapshot, TickObserver, Ticker } from './tick.ts';
import { delay } from '../base/delay.ts';

/** What the heartbeat loop needs; the entry script supplies the process-bound parts. */
export interface HeartbeatInput {
  readonly owner: string;
  readonly dir: string;
  readonly interval: number;
  readonly once: boolean;
  readonly ticker: Ticker;
  /** Aborted on SIGTERM/SIGINT/SIGHUP: the current tick finishes, then the loop exits. */
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
  readonly now: () => Date;
  /** Settings recorded in the pid file, so a later ensure can say when it reuses different ones. */
  readonly settings: Record<string, string>;
  /** Told about every tick's snapshot (history, notifications); must return at once, never throw into the loop, and are closed when it ends. */
  readonly observers?: readonly TickObserver[];
  /**
   * Another heartbeat holds the lock: wait until it ends and take over, instead of returning
   * `twin` at once (startup's systemd unit: an exit would leave the unit stopped).
   */
  readonly waitForLock?: boolean;
}

export type HeartbeatResult =
  | { readonly kind: 'stopped'; readonly ticks: number; readonly last: Snapshot | undefined }
  | { readonly kind: 'twin'; readonly pid: number | undefined };

/** Asks the heartbeat holding the lock for its pid (and makes it republish its pid file). */
export function askTwin(address: string, timeoutMs = 2000): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ path: address });
    let data = '';
    const done = (pid: number | undefined): void => { socket.destroy(); resolve(pid); };
    socket.setTimeout(timeoutMs, () => done(undefined));
    socket.on('data', (chunk) => { data += String(chunk); });
    socket.on('end', () => {
      const parsed = parsePidFile(data);
      done('error' in parsed ? undefined : parsed.pid);
    });
    socket.on('error', () => done(undefined));
  });
}

/** Runs the heartbeat loop until the signal aborts (or one tick with once). */
export async function runHeartbeat(input: HeartbeatInput): Promise<HeartbeatResult> {
  const paths = runtimePaths(input.dir, input.owner);
  // A runtime folder a repository committed as a link is refused before anything is written.
  checkRuntimeFolders(paths);
  makeFolders(paths.stateDir, 2);
  const expected: Expected = { kind: 'heartbeat', owner: input.owner, dir: input.dir };
  keepCorruptAside(paths.snapshot, input.log, input.now);
  let lock: net.Server | undefined;
  if (!input.once) {
    const address = heartbeatLockAddress(input.owner, input.dir);
    const publishIfNeeded = (): void => {
      if (livePidSafe(paths.heartbeatPid, expected) !== process.pid) {
        publishPidFile(paths.heartbeatPid, expected, input.settings);
      }
    };
    const bind = (): Promise<net.Server | 'taken'> => bindAddress(address, (socket) => {
      // Anyone local can connect (abstract sockets have no permissions): a client that hangs up
      // early or a failing republish must never take the heartbeat down.
      socket.on('error', () => undefined);
      try {
        publishIfNeeded();
      } catch (err) {
        input.log(`${stamp(input.now)} republishing the pid file failed: ${(err as Error).message}`);
      }
      socket.end(`${process.pid}\n`);
    });
    let bound: net.Server | 'taken' | 'stopped' = await bind();
    if (bound === 'taken' && input.waitForLock) bound = await waitForTwin(input, address, paths.heartbeatStopped, bind);
    if (bound === 'stopped') return { kind: 'stopped', ticks: 0, last: undefined };
    if (bound === 'taken') return { kind: 'twin', pid: await askTwin(address) };
    lock = bound;
    const beat = (): void => {
      // The beat is the pid file's mtime (utimes needs no free space); a pid file that is gone,
      // replaced or a folder is published again, so readers always find this heartbeat.
      if (livePidSafe(paths.heartbeatPid, expected) === process.pid) {
        const now = input.now();
        fs.utimesSync(paths.heartbeatPid, now, now);
      } else {
        publishIfNeeded();
      }
    };
    try {
      // Holding the lock makes this the only writer of the pid file: publishing is the readiness signal.
      publishPidFile(paths.heartbeatPid, expected, input.settings);
      input.log(`${stamp(input.now)} heartbeat started (pid ${process.pid}, owner ${input.owner}, every ${input.interval} s, dir ${input.dir})`);
      return await loop(input, paths.snapshot, beat);
    } finally {
      // Every step runs whatever the others do: a lock left open would keep a process alive that
      // no longer ticks.
      attempt(input, 'removing the pid file', () => removePidFileIf(paths.heartbeatPid, process.pid));
      await new Promise<void>((resolve) => (lock ? lock.close(() => resolve()) : resolve()));
      attempt(input, 'logging the stop', () => input.log(`${stamp(input.now)} heartbeat stopped (pid ${process.pid})`));
    }
  }
  // A --once beside a running heartbeat must not replace the daemon's snapshot with its own.
  const daemon = inspectPidFile(paths.heartbeatPid, expected, { pid: process.pid, ppid: process.ppid });
  return loop(input, daemon.state === 'live' ? undefined : paths.snapshot, () => undefined);
}

async function loop(input: HeartbeatInput, snapshotPath: string | undefined, afterTick: () => void): Promise<HeartbeatResult> {
  let tick = 0;
  let last: Snapshot | undefined;
  let ignored = false;
  try {
    let gone = false;
    while (!input.signal.aborted) {
      const started = Date.now();
      // A tasks folder moved or deleted away: writing now (snapshot, registry, pid file) would
      // recreate it empty and block its return. Nothing is written until it is back.
      if (!fs.existsSync(input.dir)) {
        if (!gone) attempt(input, 'logging', () => input.log(`${stamp(input.now)} tasks folder ${input.dir} is gone; ticks wait until it is back`));
        gone = true;
        await delay(Math.min(100, input.interval * 1000), input.signal);
        continue;
      }
      if (gone) {
        input.log(`${stamp(input.now)} tasks folder ${input.dir} is back`);
        attempt(input, 'the beat', afterTick);
      }
      gone = false;
      tick += 1;
      try {
        last = await input.ticker.tick({ owner: input.owner, dir: input.dir, pid: process.pid, interval: input.interval, tick, now: input.now });
        if (snapshotPath) writeSnapshot(snapshotPath, last, input);
        const snap = last;
        for (const o of input.observers ?? []) attempt(input, 'recording the tick', () => o.observe(snap));
        // The runtime folder exists by now (the tick wrote into it): keep it out of the operator's git status.
        if (!ignored) ignoreRuntimeFolder(runtimePaths(input.dir, input.owner).stateDir);
        ignored = true;
        const extra = `${last.ready.length} ready, ${last.claims.length} claimed, ${last.escalations.length} escalated, ${last.errors.length} parse errors`;
        // Stamped with the tick's start (the snapshot's tickAt), like an access log's request time:
        // the gaps between lines are the schedule, whatever writing the snapshot cost afterwards.
        input.log(`${last.tickAt} tick ${tick}: ${last.taskCount} tasks (${extra}) in ${last.tickDurationMs} ms`);
      } catch (err) {
        // A failing tick (a full disk, a damaged state file) is logged and the loop goes on: the
        // next tick retries, so the failure clears by itself once its cause does.
        // A system error (ENOSPC, EIO, EACCES) says all in one line; anything else is a bug: its stack helps.
        const system = err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
        input.log(`${stamp(input.now)} tick ${tick} failed: ${err instanceof Error ? (system ? err.message : err.stack ?? err.message) : String(err)}`);
      }
      attempt(input, 'the beat', afterTick);
      if (input.once) break;
      await delay(Math.max(0, input.interval * 1000 - (Date.now() - started)), input.signal);
    }
  } finally {
    await input.ticker.close();
    for (const o of input.observers ?? []) await o.close().catch((err: unknown) => attempt(input, 'closing', () => { throw err; }));
  }
  return { kind: 'stopped', ticks: tick, last };
}

/** How often a heartbeat waiting for the lock tries it again: one bind, cheap. */
const LOCK_RETRY_MS = 1000;

/**
 * Waits while another heartbeat holds the lock, trying it every second. 'taken': the signal
 * aborted first. 'stopped': the lock came free because `stop` stopped that heartbeat on purpose
 * (its mark is newer than the wait), so this one does not take over either: the stop sticks,
 * as it does for a heartbeat the unit runs. Else the lock, held.
 */
async function waitForTwin(input: HeartbeatInput, address: string, stopMark: string, bind: () => Promise<net.Server | 'taken'>): Promise<net.Server | 'taken' | 'stopped'> {
  const since = input.now().getTime();
  input.log(`${stamp(input.now)} another heartbeat (pid ${await askTwin(address) ?? 'unknown'}) holds the lock of owner ${input.owner} in ${input.dir}; waiting for it to end`);
  for (;;) {
    await delay(LOCK_RETRY_MS, input.signal);
    if (input.signal.aborted) return 'taken';
    const bound = await bind();
    if (bound === 'taken') continue;
    const mark = fs.lstatSync(stopMark, { throwIfNoEntry: false });
    if (mark === undefined || mark.mtimeMs < since) return bound;
    await new Promise<void>((resolve) => bound.close(() => resolve()));
    input.log(`${stamp(input.now)} the other heartbeat was stopped on purpose (tasks stop); not taking over`);
    return 'stopped';
  }
}

/** Writes the snapshot atomically; a folder in its place is moved aside first (readers see no snapshot meanwhile). */
function writeSnapshot(file: string, snap: Snapshot, input: HeartbeatInput): void {
  const data = JSON.stringify(snap) + '\n';
  try {
    writeFileAtomic(file, data);
  } catch (err) {
    if (!isErrno(err, 'EISDIR') && !isErrno(err, 'ENOTEMPTY') && !isErrno(err, 'EEXIST')) throw err;
    const aside = asideName(file, input.now);
    fs.renameSync(file, aside);
    input.log(`${stamp(input.now)} snapshot ${file} was not a file; moved it to ${aside}`);
    writeFileAtomic(file, data);
  }
}

/** Runs a housekeeping step whose failure must not end the loop: logged, then the loop goes on. */
function attempt(input: HeartbeatInput, what: string, step: () => void): void {
  try {
    step();
  } catch (err) {
    try {
      input.log(`${stamp(input.now)} ${what} failed: ${err instanceof Error ? err.message : String(err)}`);
    } catch {
      // The log itself failed (its writer already drops lines on a full disk): nothing left to tell.
    }
  }
}

/** livePid that reads a damaged pid file (a folder in its place) as "not ours" instead of throwing. */
function livePidSafe(file: string, e: Expected): number | undefined {
  try {
    return livePid(file, e);
  } catch (err) {
    if (err instanceof TasksError) return undefined;
    throw err;
  }
}

function asideName(file: string, now: () => Date): string {
  return `${file}.corrupt-${now().toISOString().replace(/[:.]/g, '-')}`;
}

/** A snapshot that is not JSON is moved aside (…corrupt-<time>) before the first tick replaces it. */
function keepCorruptAside(file: string, log: (line: string) => void, now: () => Date): void {
  let text: string | undefined;
  try {
    text = readTextFile(file);
  } catch (err) {
    if (isNotAFile(err)) return; // the first snapshot write moves it aside
    throw err;
  }
  if (text === undefined) return;
  try {
    JSON.parse(text);
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    const aside = asideName(file, now);
    fs.renameSync(file, aside);
    log(`${stamp(now)} snapshot ${file} was corrupt; kept it as ${aside}`);
  }
}



function stamp(now: () => Date): string {
  return now().toISOString();
}
