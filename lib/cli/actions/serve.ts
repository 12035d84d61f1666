// `serve`: bind the port, then ensure the heartbeat while the server answers and builds; foreground, or detached with --detach.
import { spawn } from 'node:child_process';
import type { Options } from '../args.ts';
import { type Cli, again, dirArg, displayPath, ensureLine } from '../context.ts';
import { endBoundedChildren } from '../../base/bounded.ts';
import { TasksError } from '../../base/errors.ts';
import { lineWriter, logCap, tailLines } from '../../base/logfile.ts';
import { checkRuntimeFolders, runtimePaths } from '../../base/paths.ts';
import { spawnDetached, waitForPidFile } from '../../supervise/daemon.ts';
import { inspectPidFile, markerArgs } from '../../supervise/pidfile.ts';
import { type EnsureResult, ensureHeartbeat, ensureStateDir, heartbeatArgs, registryEnv, stopDaemon } from '../../supervise/supervisor.ts';
import { checkRegistry } from '../store.ts';
import { hostName } from '../../manager/store.ts';
import { stuckSlack } from '../../supervise/health.ts';
import { watchHeartbeat } from '../../supervise/watchdog.ts';
import { serveWatchdog } from '../watchdog.ts';
import { findOwnServer, isLoopback } from '../../web/http/probe.ts';
import { startServer } from '../../web/http/server.ts';

export async function run(o: Options, cli: Cli): Promise<number> {
  if (!isLoopback(o.host)) cli.warn(`warning: binding ${o.host} exposes the dashboard beyond this machine`);
  checkRuntimeFolders(runtimePaths(o.dir, o.owner));
  // A shared registry that cannot be reached fails the start before a server or heartbeat exists.
  await checkRegistry(o, cli);
  const detachedChild = cli.env.TASKS_SERVER_DETACHED === '1';
  // A detached server's stderr is its log file: its lines are escaped and capped as the heartbeat's are.
  const log = detachedChild ? lineWriter(2, runtimePaths(o.dir, o.owner).serverLog, logCap(cli.env)) : cli.note;
  // The heartbeat starts only once the port is ours (a taken port starts nothing). From then on the
  // three overlap: the server answers from the last build, the build thread brings the pages up to
  // date, the heartbeat starts. The lines come once the heartbeat is up and the pages show it.
  let ensuring: Promise<EnsureResult | undefined> = Promise.resolve(undefined);
  const startHeartbeat = (): void => {
    if (!o.heartbeat) return;
    ensureStateDir(o.dir, o.owner);
    ensuring = ensureHeartbeat(o, cli.launcher, cli.self, stuckSlack(cli.env));
    ensuring.catch(() => undefined);
  };
  if (o.detach) return serveDetached(o, cli, startHeartbeat, () => ensuring);
  const outcome = await startServer({
    owner: o.owner, dir: o.dir, host: o.host, port: o.port, portGiven: o.portGiven, detached: detachedChild,
    project: o.project, folderWords: dirArg(o, cli), log, self: cli.self, stuckSlackS: stuckSlack(cli.env), onBound: startHeartbeat,
    thread: { script: cli.launcher.script, nodeArgs: cli.launcher.nodeArgs },
    shared: o.registry === undefined ? undefined : { url: o.registry, queue: o.queue, host: hostName(cli.env) },
  });
  if (outcome.kind === 'already') {
    // This owner's server already runs: serve still means its heartbeat runs too.
    startHeartbeat();
    const r = await ensuring;
    if (r && !o.json) cli.out(ensureLine(o, cli, r));
    if (o.json) cli.out(JSON.stringify({ pid: r?.pid ?? null, url: outcome.url, serverPid: outcome.pid ?? null, already: true }));
    else cli.out(`tasks server for ${o.owner} already running at ${outcome.url}${outcome.pid ? ` (pid ${outcome.pid})` : ''}`);
    return 0;
  }
  const { server } = outcome;
  // The server answers already: from here a signal stops it calmly (exit 0), also while the
  // heartbeat starts or the pages are brought up to date.
  const stop = cli.onStop();
  const stopped = new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
  let heartbeatPid: number | undefined;
  try {
    const r = await Promise.race([ensuring, stopped.then(() => undefined)]);
    heartbeatPid = r?.pid;
    if (r && !o.json) cli.out(ensureLine(o, cli, r));
  } catch (err) {
    await server.close();
    throw err;
  }
  // While it serves, serve watches its owner's heartbeat and restarts a dead or stuck one as that one
  // was started, not with serve's settings, and says so through notify= and notify_url= (lib/cli/watchdog.ts).
  const watchdog = o.heartbeat ? serveWatchdog(o, cli, stop.signal, log) : undefined;
  const watching = watchdog ? watchHeartbeat(watchdog.input) : Promise.resolve();
  // The URL line waits for pages that show the heartbeat up.
  await Promise.race([server.current(), stopped]);
  if (!stop.signal.aborted) {
    const moved = server.movedFrom !== undefined ? ` (port ${server.movedFrom} on ${o.host} is taken${server.movedBy ? ` by ${server.movedBy}` : ''})` : '';
    if (o.json) cli.out(JSON.stringify({ pid: heartbeatPid ?? null, url: server.url, serverPid: cli.self.pid, already: false }));
    else if (detachedChild) cli.out(`serving tasks for ${o.owner} at ${server.url}${moved} in the background; stop with: just tasks stop ${again(o, cli)}`);
    else cli.out(`serving tasks for ${o.owner} at ${server.url}${moved}; Ctrl-C stops the server${o.heartbeat ? ', the heartbeat keeps running' : ''}`);
    if (o.open) await openBrowser(cli, server.url);
  }
  await stopped;
  await watching;
  await watchdog?.close();
  await server.close();
  // A git or gh the server asked (the remote, for PR links) dies with it, deadline or not.
  endBoundedChildren();
  if (!o.json) cli.note(`tasks server stopped (${stop.received() ?? 'signal'})`);
  return 0;
}

async function serveDetached(o: Options, cli: Cli, startHeartbeat: () => void, ensuring: () => Promise<EnsureResult | undefined>): Promise<number> {
  const paths = runtimePaths(o.dir, o.owner);
  const own = await findOwnServer(o);
  if (own) {
    startHeartbeat();
    const r = await ensuring();
    if (r && !o.json) cli.out(ensureLine(o, cli, r));
    if (o.json) cli.out(JSON.stringify({ pid: r?.pid ?? null, url: own.url, serverPid: own.pid, already: true }));
    else cli.out(`tasks server for ${o.owner} already running at ${own.url} (pid ${own.pid})`);
    return 0;
  }
  ensureStateDir(o.dir, o.owner);
  // The heartbeat before this command, to tell whether the pair it starts started the heartbeat.
  const before = inspectPidFile(paths.heartbeatPid, { kind: 'heartbeat', owner: o.owner, dir: o.dir }, cli.self);
  // The detached server gets this command's heartbeat settings: for the heartbeat it starts, and for
  // a restart of one its watchdog never saw alive (a restart otherwise uses the settings of the one it replaces).
  const settings = o.heartbeat ? heartbeatArgs(o).slice(3) : ['--no-heartbeat'];
  const args = [...markerArgs({ kind: 'serve', owner: o.owner, dir: o.dir }), `host=${o.host}`, ...(o.portGiven ? [`port=${o.port}`] : []), ...settings];
  const child = spawnDetached(cli.launcher, args, paths.serverLog, { TASKS_SERVER_DETACHED: '1', ...registryEnv(o, cli.launcher.env) });
  const expected = { kind: 'serve', owner: o.owner, dir: o.dir } as const;
  let live: Awaited<ReturnType<typeof waitForPidFile>>;
  try {
    // The pid file is published once the port is bound: only then does the heartbeat start.
    live = await waitForPidFile({
      pidFile: paths.serverPid, expected, self: cli.self, child, logPath: paths.serverLog, what: 'tasks server', timeoutMs: 20_000,
    });
  } catch (err) {
    // The detached server's own one-line error (a taken port, say) is the message; its log has the rest.
    const reason = tailLines(paths.serverLog, 20).split('\n').reverse().find((l) => l.startsWith('tasks: '));
    if (err instanceof TasksError && reason) throw new TasksError(`${reason.slice('tasks: '.length)} (the detached server did not start; log ${displayPath(cli, paths.serverLog)})`);
    throw err;
  }
  startHeartbeat();
  let heartbeatPid: number | undefined;
  try {
    const r = startedByPair(await ensuring(), before);
    heartbeatPid = r?.pid;
    if (r && !o.json) cli.out(ensureLine(o, cli, r));
  } catch (err) {
    // No half-started pair: the server this command started goes when its heartbeat cannot start.
    await stopDaemon(paths.serverPid, expected, cli.self);
    throw err;
  }
  const url = live.record.fields.url ?? '';
  const movedFrom = live.record.fields.movedFrom;
  const movedBy = live.record.fields.movedBy;
  const moved = movedFrom ? ` (port ${movedFrom} on ${o.host} is taken${movedBy ? ` by ${movedBy}` : ''})` : '';
  if (o.json) cli.out(JSON.stringify({ pid: heartbeatPid ?? null, url, serverPid: live.pid, already: false }));
  else cli.out(`tasks server for ${o.owner} running in the background at ${url}${moved} (pid ${live.pid}); stop it with: just tasks stop ${again(o, cli)}`);
  if (o.open) await openBrowser(cli, url);
  return 0;
}

/**
 * The detached server ensures the heartbeat as soon as its port is bound, and this command then
 * ensures it too: whichever came first started it. A heartbeat that was not running before this
 * command was started by it (by its server, then), so it says "started", not "already running".
 */
function startedByPair(r: EnsureResult | undefined, before: ReturnType<typeof inspectPidFile>): EnsureResult | undefined {
  if (!r || r.started || (before.state === 'live' && before.pid === r.pid)) return r;
  return { ...r, started: true, differs: [], stale: r.stale ?? (before.state === 'stale' ? before.reason : undefined) };
}

async function openBrowser(cli: Cli, url: string): Promise<void> {
  const { which } = await import('zx');
  const opener = await which('xdg-open', { nothrow: true });
  if (!opener) {
    cli.note(`no browser opener (xdg-open) found; open ${url} yourself`);
    return;
  }
  spawn(opener, [url], { detached: true, stdio: 'ignore' }).unref();
}
