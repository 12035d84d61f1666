// Starting a run with its output through a capped log relay (runs/<slug>.log, one rotated .1), and capped header lines.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { LOG_RELAY_ARG } from '../supervise/runs-proc.ts';

/**
 * The relay, run as `node -e RELAY tasks-run-log <log> <maxBytes>` with the run's stdout and
 * stderr on its stdin. It appends to the log and, before a write would pass the cap, renames the
 * log to <log>.1 (replacing the older copy) and starts a new one. It is a process of its own, not
 * the heartbeat, so a heartbeat that dies (SIGKILL, OOM) leaves its runs writing to a live pipe:
 * they get no SIGPIPE, keep running, are adopted by the next heartbeat, and their output is still
 * logged and capped. It ignores SIGTERM, SIGINT and SIGHUP so that it logs a run's last words
 * while the run is being stopped; it exits when the pipe closes (every process of the run is
 * gone), and SIGKILL ends it with the rest of the run. A failing write (ENOSPC, EIO) drops that
 * chunk and is retried on the next one: the run is never blocked or killed by its log.
 * Plain JavaScript in a string, so it runs the same from the TypeScript sources and the bundle.
 */
const RELAY = `'use strict';
const fs = require('node:fs');
const [file, maxText] = process.argv.slice(2);
const max = Number(maxText);
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => {});
let fd = -1;
let size = 0;
const close = () => { if (fd >= 0) { try { fs.closeSync(fd); } catch {} } fd = -1; };
process.stdin.on('data', (chunk) => {
  try {
    if (fd < 0) { fd = fs.openSync(file, 'a'); size = fs.fstatSync(fd).size; }
    if (size > 0 && size + chunk.length > max) { close(); fs.renameSync(file, file + '.1'); fd = fs.openSync(file, 'a'); size = 0; }
    const data = chunk.length > max ? chunk.subarray(chunk.length - max) : chunk;
    fs.writeSync(fd, data);
    size += data.length;
  } catch { close(); }
});
process.stdin.on('end', () => { close(); process.exit(0); });
process.stdin.on('error', () => { close(); process.exit(0); });
`;

export interface LoggedSpawn {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** The node binary that runs the relay. */
  readonly node: string;
  readonly logPath: string;
  readonly maxBytes: number;
}

/**
 * Starts a shell command with its stdout and stderr through a capped log relay (see RELAY).
 * Undefined when either process could not start; onError hears about failures at any time.
 */
export function spawnLogged(command: string, s: LoggedSpawn, onError: (what: string, err: Error) => void): { child: ChildProcess; pid: number; relayDone: Promise<void> } | undefined {
  // A small heap: the relay holds one chunk at a time.
  const relay = spawn(s.node, ['--max-old-space-size=16', '-e', RELAY, LOG_RELAY_ARG, s.logPath, String(s.maxBytes)], { cwd: s.cwd, env: s.env, stdio: ['pipe', 'ignore', 'ignore'] });
  relay.on('error', (err) => onError('log relay', err));
  relay.stdin?.on('error', () => undefined);
  if (relay.pid === undefined || !relay.stdin) return undefined;
  const relayDone = new Promise<void>((resolve) => relay.once('exit', () => resolve()));
  let child: ChildProcess;
  try {
    child = spawn(command, { shell: true, cwd: s.cwd, env: s.env, stdio: ['ignore', relay.stdin, relay.stdin] });
  } finally {
    // Only the run holds the pipe's write end now: the relay sees EOF when the run's last process is gone.
    relay.stdin.destroy();
  }
  child.on('error', (err) => onError('dispatch', err));
  return child.pid === undefined ? undefined : { child, pid: child.pid, relayDone };
}

/** Appends a line to a capped log (rotating it to <log>.1 first when it would pass the cap). */
export function appendCapped(logPath: string, line: string, maxBytes: number): void {
  const size = fs.statSync(logPath, { throwIfNoEntry: false })?.size ?? 0;
  if (size > 0 && size + Buffer.byteLength(line) > maxBytes) fs.renameSync(logPath, `${logPath}.1`);
  fs.appendFileSync(logPath, line);
}
