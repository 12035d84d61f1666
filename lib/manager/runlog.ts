// Starting runs with their output through one capped log relay per batch (runs/<slug>.log, one rotated .1), and capped header lines.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import crypto from 'node:crypto';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { makeFolders } from '../base/atomic.ts';
import { isErrno } from '../base/errors.ts';
import { NotAFileError } from '../base/jsonfile.ts';
import { logLine } from '../base/logfile.ts';
import { openAppend } from '../base/nofollow.ts';
import { runLogPath } from '../base/paths.ts';
import { shellArg } from '../base/shellword.ts';
import type { Claim } from './registry.ts';
import { LOG_RELAY_ARG, RUN_MARKER } from '../supervise/runs-proc.ts';
import type { Task } from '../tasks/taskfile.ts';

/**
 * The relay, run as `node -e RELAY tasks-run-log <maxBytes> <fence file or -> <until> <run ids> <log 1> ... <log n>` with the stdout
 * and stderr of run k on its fd 2+k: one relay serves every run a tick starts, so 200 runs going
 * out at once start one node process, not 200. For each run it appends to that run's log and,
 * before a write would pass the cap, renames the log to <log>.1 (replacing the older copy) and
 * starts a new one. It is a process of its own, not the heartbeat, so a heartbeat that dies
 * (SIGKILL, OOM) leaves its runs writing to a live pipe: they get no SIGPIPE, keep running, are
 * adopted by the next heartbeat, and their output is still logged and capped. It carries no run
 * marker (it serves several runs), ignores SIGTERM, SIGINT and SIGHUP so that it logs the runs'
 * last words while they are being stopped, and exits once every run's pipe has closed (all the
 * processes of all its runs are gone). A failing write (ENOSPC, EIO) drops that chunk and is
 * retried on the next one: a run is never blocked or killed by its log.
 * Plain JavaScript in a string, so it runs the same from the TypeScript sources and the bundle.
 */
const RELAY = `'use strict';
const fs = require('node:fs');
const net = require('node:net');
const [maxText, fenceFile, firstUntil, idsText, ...files] = process.argv.slice(2);
const max = Number(maxText);
const C = fs.constants;
// Shared registry: the heartbeat writes how long its leases hold (fenceFile: {"until": ms}); once that
// passes with no renewal (the heartbeat was killed, or lost the database), this relay stops its own runs
// (found by their run markers), so no run outlives the lease another host waits for.
if (fenceFile !== '-') {
  const ids = new Set(idsText.split(','));
  // The time given at start stands until the file says a valid later one: a file that cannot be read
  // (gone, a link, damaged, never written on a full disk) stops the runs on time, never late.
  let until = Number(firstUntil);
  let termAt = 0;
  setInterval(() => {
    try {
      const fd = fs.openSync(fenceFile, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
      try {
        const told = Number(JSON.parse(fs.readFileSync(fd, 'utf8')).until);
        if (Number.isFinite(told)) until = told;
      } finally { fs.closeSync(fd); }
    } catch {}
    if (Date.now() < until) { termAt = 0; return; }
    termAt = termAt || Date.now();
    const sig = Date.now() - termAt >= 2000 ? 'SIGKILL' : 'SIGTERM';
    for (const name of fs.readdirSync('/proc')) {
      if (!/^[0-9]+$/.test(name) || Number(name) === process.pid) continue;
      let env = '';
      try { env = fs.readFileSync('/proc/' + name + '/environ', 'latin1'); } catch { continue; }
      const m = /(?:^|\\0)TASK_RUN_ID=([^\\0]*)/.exec(env);
      if (m && ids.has(m[1])) { try { process.kill(Number(name), sig); process.kill(Number(name), 'SIGCONT'); } catch {} }
    }
  }, 1000).unref();
}
const FLAGS = C.O_WRONLY | C.O_APPEND | C.O_CREAT | C.O_NOFOLLOW | C.O_NONBLOCK;
// As openAppend in lib/base/nofollow.ts: a symlink in the log's place is removed, never followed; only a regular file is written.
const openLog = (file) => {
  let fd;
  try { fd = fs.openSync(file, FLAGS, 0o666); } catch (err) {
    if (err.code !== 'ELOOP') throw err;
    fs.unlinkSync(file);
    fd = fs.openSync(file, FLAGS | C.O_EXCL, 0o666);
  }
  if (!fs.fstatSync(fd).isFile()) { fs.closeSync(fd); throw new Error(file + ' is not a file'); }
  return fd;
};
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => {});
let open = files.length;
const ended = () => { if (--open <= 0) process.exit(0); };
files.forEach((file, i) => {
  let fd = -1;
  let size = 0;
  let done = false;
  const close = () => { if (fd >= 0) { try { fs.closeSync(fd); } catch {} } fd = -1; };
  const finish = () => { if (!done) { done = true; close(); ended(); } };
  let pipe;
  try { pipe = new net.Socket({ fd: 3 + i, readable: true, writable: false }); } catch { finish(); return; }
  pipe.on('data', (chunk) => {
    try {
      if (fd < 0) { fd = openLog(file); size = fs.fstatSync(fd).size; }
      if (size > 0 && size + chunk.length > max) { close(); fs.renameSync(file, file + '.1'); fd = openLog(file); size = 0; }
      const data = chunk.length > max ? chunk.subarray(chunk.length - max) : chunk;
      fs.writeSync(fd, data);
      size += data.length;
    } catch { close(); }
  });
  pipe.on('end', finish);
  pipe.on('close', finish);
  pipe.on('error', finish);
});
if (files.length === 0) process.exit(0);
`;

/** Most runs one relay serves (a larger batch gets more relays). */
export const RELAY_RUNS_MAX = 128;

/** One run to start: its shell command, folder, environment and log. */
export interface RunSpawn {
  readonly command: string;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly logPath: string;
}

export interface RelaySpawn {
  /** The node binary that runs the relay. */
  readonly node: string;
  readonly maxBytes: number;
  /** The relay's environment: no run marker, since it serves several runs. */
  readonly env: NodeJS.ProcessEnv;
  /** Where the relay starts (any folder that exists). */
  readonly cwd: string;
  /** Shared registry: the lease file the relay fences its runs by (see RELAY), and the time it holds now. */
  readonly fenceFile?: string | undefined;
  readonly fenceUntil?: number | undefined;
}

/** What spawnLogged started: per run, its shell, or why it failed to spawn, or neither when its relay failed (tried again). */
export interface Spawned {
  readonly started: ({ child: ChildProcess; pid: number } | undefined)[];
  /** Why a run's own spawn failed (E2BIG, a NUL byte, ENOENT): such a run is not tried again until `retry`. */
  readonly failed: (string | undefined)[];
  readonly relayDone: Promise<void>;
}

/**
 * Starts shell commands with their stdout and stderr through one capped log relay (see RELAY).
 * Each entry of started is the started run, or undefined when it could not start (failed says why
 * when its own spawn failed; a relay that could not start leaves it empty); relayDone resolves
 * when the relay has exited (every run's output is written). onError hears about failures at any time.
 */
export function spawnLogged(runs: readonly RunSpawn[], s: RelaySpawn, onError: (what: string, index: number, err: Error) => void): Spawned {
  if (runs.length > RELAY_RUNS_MAX) {
    // Each run's pipe is two descriptors here until the run has it: a bounded batch stays far from the fd limit.
    const parts = [];
    for (let at = 0; at < runs.length; at += RELAY_RUNS_MAX) {
      parts.push(spawnLogged(runs.slice(at, at + RELAY_RUNS_MAX), s, (what, i, err) => onError(what, i < 0 ? i : at + i, err)));
    }
    return { started: parts.flatMap((p) => p.started), failed: parts.flatMap((p) => p.failed), relayDone: Promise.all(parts.map((p) => p.relayDone)).then(() => undefined) };
  }
  const failed: (string | undefined)[] = runs.map(() => undefined);
  const none = { started: runs.map(() => undefined), failed, relayDone: Promise.resolve() };
  if (runs.length === 0) return none;
  // A small heap: the relay holds one chunk at a time.
  const ids = runs.map((r) => r.env[RUN_MARKER] ?? '').join(',');
  const relay = spawn(s.node, ['--max-old-space-size=16', '-e', RELAY, LOG_RELAY_ARG, String(s.maxBytes), s.fenceFile ?? '-', String(s.fenceUntil ?? 0), ids || '-', ...runs.map((r) => r.logPath)], {
    cwd: s.cwd, env: s.env, stdio: ['ignore', 'ignore', 'ignore', ...runs.map(() => 'pipe' as const)],
  });
  relay.on('error', (err) => onError('log relay', -1, err));
  if (relay.pid === undefined) return none;
  const relayDone = new Promise<void>((resolve) => relay.once('exit', () => resolve()));
  const started = runs.map((r, i) => {
    const pipe = relay.stdio[3 + i] as Writable & { destroy(): void } | null;
    if (!pipe) return undefined;
    pipe.on('error', () => undefined);
    let child: ChildProcess;
    try {
      child = spawn(r.command, { shell: true, cwd: r.cwd, env: r.env, stdio: ['ignore', pipe, pipe] });
    } catch (err) {
      // A bad environment or command (a NUL byte, E2BIG) fails this run only, not the rest of the batch.
      failed[i] = `the dispatch command could not be spawned: ${(err as Error).message}`;
      return undefined;
    } finally {
      // Only the run holds its pipe's write end now: the relay sees EOF when the run's last process is gone.
      pipe.destroy();
    }
    child.on('error', (err) => onError('dispatch', i, err));
    // Its error event (ENOENT, EACCES) comes later, and is logged then.
    if (child.pid === undefined) failed[i] = 'the dispatch command could not be spawned (the heartbeat log says why)';
    return child.pid === undefined ? undefined : { child, pid: child.pid };
  });
  return { started, failed, relayDone };
}

/**
 * Records on its claim that a run was not started, and why (its log cannot be opened, its spawn
 * failed): interrupted, with the note `not started: <why>`, so it is escalated and not dispatched
 * again until the operator retries it. Returns the log line that says so, with the retry hint
 * shell-quoted (an id may hold anything).
 */
export function markNotStarted(claim: Claim, why: string, at: string): string {
  Object.assign(claim, { startedAt: null, state: 'interrupted', endedAt: at, note: `not started: ${why}` });
  return `${claim.id} not started: ${why}; after fixing it: just tasks retry ${shellArg('id', claim.id)}`;
}

/** What runSpawns needs of the heartbeat's run settings. */
export interface RunSettings {
  readonly owner: string;
  readonly dir: string;
  readonly root: string;
  readonly runsDir: string;
  readonly dispatch: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logMaxBytes: number;
}

/**
 * The runs to spawn for claimed tasks: a fresh run id each, the documented environment with the
 * run marker, the run's folder, and its log (runLogPath: a slug too long for a file name gets a
 * shortened name) with a header line naming the run (appended now). A log that cannot be opened
 * at all (a folder or a FIFO in its place, a runs folder that is a link) gives `unopenable`, the
 * reason: such a run is not started, since its output would be lost. A full disk is not that: the
 * run starts, and its relay retries the log on every chunk.
 */
export function runSpawns<T extends { readonly task: Task; readonly claim: Claim; readonly cwd?: string | undefined }>(items: readonly T[], o: RunSettings, say: (line: string) => void): (RunSpawn & T & { runId: string; unopenable?: string })[] {
  return items.map((item) => {
    const { task, claim } = item;
    // A shared registry's claim carries its run id from the claim on (it was committed before the run started).
    const runId = claim.runId ?? crypto.randomUUID();
    const logPath = runLogPath(o.runsDir, task.slug);
    const env: NodeJS.ProcessEnv = {
      ...withoutSecrets(o.env),
      TASK_ID: task.id,
      TASK_SLUG: task.slug,
      TASK_FILE: path.join(o.dir, task.path),
      TASK_WORKTREE: claim.worktree,
      TASK_MANAGER_OWNER: o.owner,
      [RUN_MARKER]: runId,
    };
    const spawnOf = { ...item, command: o.dispatch as string, cwd: item.cwd ?? o.root, env, logPath, runId };
    try {
      makeFolders(o.runsDir, 1);
      appendCapped(logPath, `=== ${claim.startedAt} ${o.owner} dispatches ${task.id} (run ${runId}): ${o.dispatch}`, o.logMaxBytes);
    } catch (err) {
      const message = (err as Error).message;
      if (isErrno(err, 'ENOSPC') || isErrno(err, 'EDQUOT') || isErrno(err, 'EIO')) {
        say(`run log ${logPath} cannot be written (${message}); the run starts anyway`);
      } else {
        return { ...spawnOf, unopenable: err instanceof NotAFileError ? `its run log ${message}` : `its run log ${logPath} cannot be opened: ${message}` };
      }
    }
    return spawnOf;
  });
}

/**
 * Appends a line to a capped log (rotating it to <log>.1 first when it would pass the cap), as one
 * escaped line (logLine: an id with a newline or an escape sequence is shown, never obeyed). A log
 * whose last run ended mid-line gets a newline first, so the line starts a line of its own. The
 * log is never opened through a link (openAppend); its folder is the caller's to check.
 */
export function appendCapped(logPath: string, text: string, maxBytes: number): void {
  let line = logLine(text);
  let fd = openAppend(logPath, true);
  try {
    const size = fs.fstatSync(fd).size;
    if (size > 0 && size + Buffer.byteLength(line) + 1 > maxBytes) {
      fs.closeSync(fd);
      fd = -1;
      fs.renameSync(logPath, `${logPath}.1`);
      fd = openAppend(logPath, true);
    } else if (size > 0 && !endsWithNewline(fd, size)) {
      line = `\n${line}`;
    }
    fs.writeSync(fd, line);
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

function endsWithNewline(fd: number, size: number): boolean {
  const last = Buffer.alloc(1);
  return fs.readSync(fd, last, 0, 1, size - 1) === 1 && last[0] === 0x0a;
}

/**
 * The environment a run gets: the operator's, without the shared registry's URL (an agent has no
 * business with the queue's database) or the notifications' webhook URL. Whatever else the operator exported (PGPASSWORD too) is the
 * agent's as before: docs/operations.md says to keep the registry's password in ~/.pgpass.
 */
function withoutSecrets(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  const out = { ...env };
  delete out.TASK_MANAGER_REGISTRY;
  // A webhook URL carries its secret in it: the agent has no business with it either.
  delete out.TASK_MANAGER_NOTIFY_URL;
  return out;
}
