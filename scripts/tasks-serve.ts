// The operator console: `just tasks serve owner=dave` ensures the owner's heartbeat, then serves
// the dashboard. The only module that touches process (argv, env, signals, exit code).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import kleur from 'kleur';
import { type Options, parseArgs, usage } from '../lib/args.ts';
import { type Launcher, spawnDetached, waitForPidFile } from '../lib/daemon.ts';
import { TasksError, usageError } from '../lib/errors.ts';
import { runHeartbeat } from '../lib/heartbeat.ts';
import { LOG_MAX_BYTES, followFile, lineWriter, tailLines } from '../lib/logfile.ts';
import { inspectPidFile, markerArgs } from '../lib/pidfile.ts';
import { runtimePaths } from '../lib/paths.ts';
import { findOwnServer, isLoopback, startServer } from '../lib/server.ts';
import { LiveSite, projectName } from '../lib/live.ts';
import { formatStatus, readStatus } from '../lib/status.ts';
import { STOP_GRACE_MS, ensureHeartbeat, ensureStateDir, heartbeatArgs, heartbeatLauncher, heartbeatSettings, stopDaemon } from '../lib/supervisor.ts';
import { managerTicker } from '../lib/manager.ts';

const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SCRIPT), '..');
/** Running as the esbuild bundle (dist/tasks.mjs, built by `npm ci`): no TypeScript loader needed. */
const BUNDLED = SCRIPT.endsWith('.mjs');
const SELF = { pid: process.pid, ppid: process.ppid };

/** The words after this script, whether run by the zx CLI, node, npm or just. */
function scriptArgs(): string[] {
  const real = fs.realpathSync(SCRIPT);
  const at = process.argv.findIndex((a, i) => i > 0 && safeRealpath(a) === real);
  return process.argv.slice(at === -1 ? 2 : at + 1);
}

function safeRealpath(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined; // argv words that are not paths (flags, node options) are simply not the script
  }
}

/** Children run the tsx loader explicitly; an inherited NODE_OPTIONS=--import=tsx would leak into dispatched commands. */
function childEnv(): Record<string, string | undefined> {
  const env = { ...process.env };
  if (env.NODE_OPTIONS?.includes('tsx')) delete env.NODE_OPTIONS;
  delete env.TASKS_SERVER_DETACHED;
  delete env.TASKS_INVOCATION_DIR;
  return env;
}

const launcher: Launcher = {
  node: process.execPath,
  nodeArgs: BUNDLED ? [] : ['--import', import.meta.resolve('tsx')],
  script: SCRIPT,
  cwd: ROOT,
  env: childEnv(),
};

// A closed pipe (`tasks status | head -1`) ends our output, not the command.
let stdoutClosed = false;
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  stdoutClosed = true;
});
const out = (line: string): void => { if (!stdoutClosed) process.stdout.write(line + '\n'); };

/**
 * Where relative paths (dir=, out=) are resolved: the folder the operator typed the command in.
 * just and npm run start us in the repository root, so they pass it on (TASKS_INVOCATION_DIR from
 * the Justfile, INIT_CWD from npm).
 */
function invocationDir(): string {
  const fromJust = process.env.TASKS_INVOCATION_DIR;
  if (fromJust) return fromJust;
  if (process.env.npm_lifecycle_event === 'tasks' && process.env.INIT_CWD) return process.env.INIT_CWD;
  return process.cwd();
}

/** The words that name this owner and folder again, for hints the operator can paste. */
function again(o: Options): string {
  return `owner=${o.owner}${o.dir === path.join(ROOT, 'tasks') ? '' : ` dir=${o.dir}`}`;
}
const note = (line: string): void => { process.stderr.write(line + '\n'); };

/** An AbortSignal that fires on SIGINT, SIGTERM or SIGHUP (handlers stay installed: a second signal is not fatal). */
function stopSignal(): { signal: AbortSignal; received: () => NodeJS.Signals | undefined } {
  const ac = new AbortController();
  let got: NodeJS.Signals | undefined;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => { got ??= sig; ac.abort(); });
  }
  return { signal: ac.signal, received: () => got };
}

async function main(): Promise<number> {
  const parsed = parseArgs(scriptArgs(), { env: process.env, cwd: invocationDir(), root: ROOT, user: os.userInfo().username });
  if (parsed.help) {
    out(usage());
    return 0;
  }
  const o = parsed.options;
  switch (o.action) {
    case 'ensure': return ensure(o);
    case 'serve': return serve(o);
    case 'status': return status(o);
    case 'stop': return stop(o);
    case 'heartbeat': return heartbeat(o);
    case 'logs': return logs(o);
    case 'build': return build(o);
  }
}

async function ensure(o: Options): Promise<number> {
  ensureStateDir(o.dir, o.owner);
  const r = await ensureHeartbeat(o, launcher, SELF);
  if (o.json) {
    out(JSON.stringify({ pid: r.pid, owner: o.owner, dir: o.dir, started: r.started, stale: r.stale ?? null, pidFile: r.pidFile, log: r.log }));
  } else {
    out(ensureLine(o, r));
  }
  return 0;
}

function ensureLine(o: Options, r: Awaited<ReturnType<typeof ensureHeartbeat>>): string {
  const differs = r.differs.length ? ` with ${r.differs.join(', ')} (stop it to change settings: just tasks stop ${again(o)})` : '';
  if (!r.started && r.stale === undefined) return `heartbeat already running (pid ${r.pid})${differs}`;
  const staleText = r.stale ? `; replaced a stale pid file that ${r.stale}` : '';
  if (!r.started) return `heartbeat already running (pid ${r.pid})${differs}${staleText}`;
  return `heartbeat started (pid ${r.pid}, owner ${o.owner}, every ${o.interval} s, log ${displayPath(r.log)})${staleText}`;
}

async function serve(o: Options): Promise<number> {
  if (!isLoopback(o.host)) note(kleur.yellow(`warning: binding ${o.host} exposes the dashboard beyond this machine`));
  if (o.heartbeat) ensureStateDir(o.dir, o.owner);
  // The heartbeat starts while the server builds and binds: a cold start costs the slower of the two,
  // and the server only announces itself once the heartbeat is up.
  const ensuring = o.heartbeat ? ensureHeartbeat(o, launcher, SELF) : Promise.resolve(undefined);
  ensuring.catch(() => undefined);
  if (o.detach) {
    const r = await ensuring;
    if (r && !o.json) out(ensureLine(o, r));
    return serveDetached(o, r?.pid);
  }
  let outcome: Awaited<ReturnType<typeof startServer>>;
  try {
    outcome = await startServer({
      owner: o.owner, dir: o.dir, host: o.host, port: o.port, portGiven: o.portGiven, detached: process.env.TASKS_SERVER_DETACHED === '1',
      project: o.project ?? projectName(o.dir), log: note,
    });
  } catch (err) {
    await ensuring.catch(() => undefined);
    throw err;
  }
  let heartbeatPid: number | undefined;
  try {
    const r = await ensuring;
    heartbeatPid = r?.pid;
    if (r && !o.json) out(ensureLine(o, r));
  } catch (err) {
    if (outcome.kind === 'listening') await outcome.server.close();
    throw err;
  }
  if (outcome.kind === 'already') {
    if (o.json) out(JSON.stringify({ pid: heartbeatPid ?? null, url: outcome.url, serverPid: outcome.pid ?? null, already: true }));
    else out(`tasks server for ${o.owner} already running at ${outcome.url}${outcome.pid ? ` (pid ${outcome.pid})` : ''}`);
    return 0;
  }
  const { server } = outcome;
  // The pages were built while the heartbeat was starting: show it as up, then answer requests.
  server.open();
  const stop = stopSignal();
  const moved = server.movedFrom !== undefined ? ` (port ${server.movedFrom} on ${o.host} is taken)` : '';
  if (o.json) out(JSON.stringify({ pid: heartbeatPid ?? null, url: server.url, serverPid: process.pid, already: false }));
  else if (process.env.TASKS_SERVER_DETACHED === '1') out(`serving tasks for ${o.owner} at ${server.url}${moved} in the background; stop with: just tasks stop ${again(o)}`);
  else out(`serving tasks for ${o.owner} at ${server.url}${moved}; Ctrl-C stops the server${o.heartbeat ? ', the heartbeat keeps running' : ''}`);
  if (o.open) await openBrowser(server.url);
  await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
  await server.close();
  if (!o.json) note(`tasks server stopped (${stop.received() ?? 'signal'})`);
  return 0;
}

async function serveDetached(o: Options, heartbeatPid: number | undefined): Promise<number> {
  const paths = runtimePaths(o.dir, o.owner);
  const own = await findOwnServer(o);
  if (own) {
    if (o.json) out(JSON.stringify({ pid: heartbeatPid ?? null, url: own.url, serverPid: own.pid, already: true }));
    else out(`tasks server for ${o.owner} already running at ${own.url} (pid ${own.pid})`);
    return 0;
  }
  ensureStateDir(o.dir, o.owner);
  const args = [...markerArgs({ kind: 'serve', owner: o.owner, dir: o.dir }), `host=${o.host}`, ...(o.portGiven ? [`port=${o.port}`] : []), '--no-heartbeat'];
  const child = spawnDetached(launcher, args, paths.serverLog, { TASKS_SERVER_DETACHED: '1' });
  let live: Awaited<ReturnType<typeof waitForPidFile>>;
  try {
    live = await waitForPidFile({
      pidFile: paths.serverPid, expected: { kind: 'serve', owner: o.owner, dir: o.dir }, self: SELF, child, logPath: paths.serverLog, what: 'tasks server', timeoutMs: 20_000,
    });
  } catch (err) {
    // The detached server's own one-line error (a taken port, say) is the message; its log has the rest.
    const reason = tailLines(paths.serverLog, 20).split('\n').reverse().find((l) => l.startsWith('tasks: '));
    if (err instanceof TasksError && reason) throw new TasksError(`${reason.slice('tasks: '.length)} (the detached server did not start; log ${displayPath(paths.serverLog)})`);
    throw err;
  }
  const url = live.record.fields.url ?? '';
  const movedFrom = live.record.fields.movedFrom;
  const moved = movedFrom ? ` (port ${movedFrom} on ${o.host} is taken)` : '';
  if (o.json) out(JSON.stringify({ pid: heartbeatPid ?? null, url, serverPid: live.pid, already: false }));
  else out(`tasks server for ${o.owner} running in the background at ${url}${moved} (pid ${live.pid}); stop it with: just tasks stop ${again(o)}`);
  if (o.open) await openBrowser(url);
  return 0;
}

async function openBrowser(url: string): Promise<void> {
  const { which } = await import('zx');
  const opener = await which('xdg-open', { nothrow: true });
  if (!opener) {
    note(`no browser opener (xdg-open) found; open ${url} yourself`);
    return;
  }
  spawn(opener, [url], { detached: true, stdio: 'ignore' }).unref();
}

async function build(o: Options): Promise<number> {
  const target = o.out as string;
  // Real paths, so neither a symlink nor `..` can aim the pages (and their tasks/ folder) into the task files.
  const real = realpathOfNearest(target);
  const inside = (child: string, parent: string): boolean => child === parent || child.startsWith(parent + path.sep);
  if ((inside(real, o.dir) && !inside(real, path.join(o.dir, 'logs'))) || inside(path.join(real, 'tasks'), o.dir) || inside(o.dir, path.join(real, 'tasks'))) {
    throw usageError(`\`out\` must be outside the tasks folder ${o.dir}, got \`${target}\`; pass out=<folder outside it> (or under its logs/)`);
  }
  const live = new LiveSite({ owner: o.owner, dir: o.dir, project: o.project ?? projectName(o.dir), out: target, ownFolder: false, now: () => new Date() });
  const result = live.rebuild();
  if (o.json) out(JSON.stringify({ out: target, written: result.written, removed: result.removed }));
  else out(`built the dashboard into ${displayPath(target)} (${result.written} files written, ${result.removed} removed)`);
  return 0;
}

/** The real path of p, resolving the part that exists (out= may not exist yet). */
function realpathOfNearest(p: string): string {
  const rest: string[] = [];
  let at = path.resolve(p);
  for (;;) {
    try {
      return path.join(fs.realpathSync(at), ...rest.reverse());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || path.dirname(at) === at) throw err;
      rest.push(path.basename(at));
      at = path.dirname(at);
    }
  }
}

async function status(o: Options): Promise<number> {
  const now = new Date();
  const s = await readStatus(o.owner, o.dir, SELF, now);
  if (o.json) out(JSON.stringify(s));
  else for (const line of formatStatus(s, now, again(o))) out(line);
  return s.running ? 0 : 3;
}

async function stop(o: Options): Promise<number> {
  const paths = runtimePaths(o.dir, o.owner);
  const hb = await stopDaemon(paths.heartbeatPid, { kind: 'heartbeat', owner: o.owner, dir: o.dir }, SELF);
  const serverFile = inspectPidFile(paths.serverPid, { kind: 'serve', owner: o.owner, dir: o.dir }, SELF);
  const detached = serverFile.state === 'live' && serverFile.record.fields.detached === '1';
  const srv = detached ? await stopDaemon(paths.serverPid, { kind: 'serve', owner: o.owner, dir: o.dir }, SELF) : undefined;
  const parts: string[] = [];
  if (hb.state === 'stopped') {
    parts.push(hb.killed ? `heartbeat (pid ${hb.pid}) ignored SIGTERM and was killed after the ${STOP_GRACE_MS / 1000} s grace` : `stopped heartbeat (pid ${hb.pid})`);
  } else {
    parts.push(`no heartbeat running for ${o.owner}${hb.stale ? ` (pid file is stale: ${hb.stale}; left for the next ensure)` : ''}`);
  }
  if (srv?.state === 'stopped') parts.push(srv.killed ? `server (pid ${srv.pid}) killed after the grace` : `stopped server (pid ${srv.pid})`);
  if (o.json) {
    out(JSON.stringify({
      owner: o.owner,
      heartbeat: hb.state === 'stopped' ? { stopped: true, pid: hb.pid, killed: hb.killed } : { stopped: false, stale: hb.stale ?? null },
      server: srv?.state === 'stopped' ? { stopped: true, pid: srv.pid, killed: srv.killed } : { stopped: false },
    }));
  } else {
    out(parts.join('; '));
  }
  return 0;
}

async function heartbeat(o: Options): Promise<number> {
  const canonical = heartbeatArgs(o).slice(0, 3);
  const argv = scriptArgs();
  if (!o.once && !canonical.every((w) => argv.includes(w))) return heartbeatReexec(o);
  const paths = runtimePaths(o.dir, o.owner);
  const stop = stopSignal();
  const log = o.json && o.once ? (): void => undefined : lineWriter(1, paths.heartbeatLog, logMaxBytes());
  const now = (): Date => new Date();
  const ticker = managerTicker({
    owner: o.owner, dir: o.dir, root: path.dirname(o.dir), dispatch: o.dispatch, max: o.max, escalateAfterS: o.escalateAfter,
    env: launcher.env, once: o.once, log, now,
  });
  const result = await runHeartbeat({ owner: o.owner, dir: o.dir, interval: o.interval, once: o.once, ticker, signal: stop.signal, log, now, settings: heartbeatSettings(o) });
  if (result.kind === 'twin') {
    out(`heartbeat already running (pid ${result.pid ?? 'unknown'})`);
    return 0;
  }
  if (o.json) out(JSON.stringify(result.last ?? null));
  return 0;
}

/**
 * A foreground heartbeat must carry the identity marker (heartbeat owner=<o> dir=<abs>) in its
 * command line like a detached one, so that ensure and stop recognise it: start it again in that
 * form, attached to this terminal, and pass signals on.
 */
async function heartbeatReexec(o: Options): Promise<number> {
  const hb = heartbeatLauncher(launcher);
  return runAttached(hb.node, [...hb.nodeArgs, SCRIPT, ...heartbeatArgs(o)], { cwd: ROOT, env: hb.env });
}

/**
 * Runs a child attached to this terminal and answers with its exit code. Signals sent to us are
 * passed on (a terminal's Ctrl-C reaches it directly too; its handlers take a second one calmly).
 */
function runAttached(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<number> {
  const child = spawn(cmd, args, { ...opts, stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  return new Promise((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : 1))));
}

/** A path relative to the current folder when it lies inside it, else absolute. */
function displayPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

function logMaxBytes(): number {
  const n = Number(process.env.TASKS_LOG_MAX_BYTES);
  return Number.isSafeInteger(n) && n >= 1024 ? n : LOG_MAX_BYTES;
}

async function logs(o: Options): Promise<number> {
  const { heartbeatLog } = runtimePaths(o.dir, o.owner);
  const text = tailLines(heartbeatLog, 50);
  if (text === '' && !fs.existsSync(heartbeatLog)) note(`no heartbeat log yet at ${heartbeatLog}; start one with: just tasks ensure ${again(o)}`);
  else if (text) out(text);
  if (!o.follow) return 0;
  const stop = stopSignal();
  const size = fs.existsSync(heartbeatLog) ? fs.statSync(heartbeatLog).size : 0;
  await followFile(heartbeatLog, size, (chunk) => process.stdout.write(chunk), stop.signal);
  return 0;
}

/**
 * The bundle is built from the sources by `npm ci` (prepare). If a source file is newer, the bundle
 * is stale: run the sources through tsx instead, so an edit is never silently ignored.
 */
function staleBundle(): boolean {
  if (!BUNDLED) return false;
  const built = fs.statSync(SCRIPT).mtimeMs;
  for (const folder of ['lib', 'scripts']) {
    for (const name of fs.readdirSync(path.join(ROOT, folder))) {
      if (name.endsWith('.ts') && fs.statSync(path.join(ROOT, folder, name)).mtimeMs > built) return true;
    }
  }
  return false;
}

const runSources = (): Promise<number> => runAttached(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(ROOT, 'scripts', 'tasks-serve.ts'), ...scriptArgs()]);

(staleBundle() ? runSources() : main()).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof TasksError) {
      process.stderr.write(`${kleur.red('tasks:')} ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`tasks: bug: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
