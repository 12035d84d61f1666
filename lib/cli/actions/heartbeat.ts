// `heartbeat`: run the heartbeat loop in the foreground (what ensure detaches); `--once` runs one tick.
import path from 'node:path';
import type { Options } from '../args.ts';
import type { Cli } from '../context.ts';
import { TasksError } from '../../base/errors.ts';
import { endBoundedChildren } from '../../base/bounded.ts';
import { type RepoAnswer, findRepo } from '../../base/git.ts';
import { makeFolders } from '../../base/atomic.ts';
import { lineWriter, logCap, openDaemonLog } from '../../base/logfile.ts';
import { type RuntimePaths, checkRuntimeFolders, runtimePaths } from '../../base/paths.ts';
import { runHeartbeat } from '../../manager/heartbeat.ts';
import { managerTicker } from '../../manager/ticker.ts';
import { heartbeatStore, hostName } from '../../manager/store.ts';
import { historyObserver } from '../../manager/history.ts';
import { notifyObserver } from '../../manager/notify.ts';
import type { TickObserver } from '../../manager/tick.ts';
import { heartbeatArgs, heartbeatLauncher, heartbeatSettings, registryEnv } from '../../supervise/supervisor.ts';

export async function run(o: Options, cli: Cli): Promise<number> {
  // A foreground heartbeat must carry the identity marker (heartbeat owner=<o> dir=<abs>) in its
  // command line like a detached one, so that ensure and stop recognise it: start it again in that
  // form, attached to this terminal, with signals passed on.
  const canonical = heartbeatArgs(o).slice(0, 3);
  if (!o.once && !canonical.every((w) => cli.argv.includes(w))) {
    const hb = heartbeatLauncher(cli.launcher);
    // The registry's URL goes in the environment, never in the command line (it may hold a password).
    return cli.runAttached(hb.node, [...hb.nodeArgs, cli.launcher.script, ...heartbeatArgs(o), ...(o.unit ? ['--unit'] : [])], { cwd: cli.root, env: { ...hb.env, ...registryEnv(o, hb.env) } });
  }
  const paths = runtimePaths(o.dir, o.owner);
  const stop = cli.onStop();
  const log = o.json && o.once ? (): void => undefined : o.unit ? unitLog(paths, cli) : lineWriter(1, paths.heartbeatLog, logCap(cli.env));
  if (!o.unit) return beat(o, cli, stop, log);
  try {
    return await beat(o, cli, stop, log);
  } catch (err) {
    // Under the unit stderr is the journal: why systemd keeps restarting it belongs in the log `logs` shows too.
    log(`${new Date().toISOString()} heartbeat failed: ${err instanceof Error ? err.message : String(err)}`);
    throw err;
  }
}

/** The heartbeat itself, its log open. */
async function beat(o: Options, cli: Cli, stop: ReturnType<Cli['onStop']>, log: (line: string) => void): Promise<number> {
  const now = (): Date => new Date();
  // Worktrees are on inside a git repository unless worktrees=off. The repository is found at the
  // first tick, after the pid file is out (git and zx cost ~0.1 s that readiness should not wait
  // for), except that worktrees=on outside git is refused at once rather than quietly running
  // tasks in the shared folder. A git that fails (or hangs) is no answer: the ticks ask again and
  // dispatch nothing meanwhile, so the heartbeat starts and says so in its snapshot.
  const ask = (signal?: AbortSignal): Promise<RepoAnswer> => findRepo(o.dir, { ...(signal ? { signal } : {}) });
  let repo: string | ((signal: AbortSignal) => Promise<RepoAnswer>) | undefined = ask;
  if (o.worktrees === 'on' && o.dispatch !== undefined) {
    const first = await ask(stop.signal);
    if (first.kind === 'none') throw new TasksError(`worktrees=on, but ${o.dir} is not inside a git repository; run git init there, or pass worktrees=off`);
    if (first.kind === 'repo') repo = first.root;
  }
  // The registry: registry.json, or the shared database (TASK_MANAGER_REGISTRY: never in the command line, which anyone can read).
  const store = await heartbeatStore({ dir: o.dir, owner: o.owner, registry: o.registry, queue: o.queue, renew: { leaseS: o.lease, intervalS: o.interval }, env: cli.env });
  const ticker = managerTicker({
    store, host: store.kind === 'postgres' ? hostName(cli.env) : undefined, leaseS: o.lease,
    owner: o.owner, dir: o.dir, root: path.dirname(o.dir), repo, worktrees: o.worktrees !== 'off', worktreesRequired: o.worktrees === 'on', base: o.base,
    dispatch: o.dispatch, max: o.max, ready: o.ready, escalateAfterS: o.escalateAfter,
    runTimeoutS: o.runTimeout, env: cli.launcher.env, node: cli.launcher.node, logMaxBytes: logCap(cli.env), once: o.once, log, now,
  });
  // History and notifications hear about every tick; neither can hold one.
  const host = hostName(cli.env);
  const observers = [
    historyObserver({ owner: o.owner, dir: o.dir, host, log, now, shared: store.kind === 'postgres' && o.registry !== undefined ? { url: o.registry, queue: (store as { queue?: string }).queue ?? '' } : undefined }),
    notifyObserver({ owner: o.owner, dir: o.dir, host, command: o.notify, url: o.notifyUrl, env: cli.launcher.env, log, now }),
  ].filter((x): x is TickObserver => x !== undefined);
  let result: Awaited<ReturnType<typeof runHeartbeat>>;
  try {
    result = await runHeartbeat({ owner: o.owner, dir: o.dir, interval: o.interval, once: o.once, ticker, signal: stop.signal, log, now, settings: heartbeatSettings(o), observers, waitForLock: o.unit });
  } finally {
    // A git still running (its ask was not waited for) must not outlive the heartbeat.
    endBoundedChildren();
  }
  if (result.kind === 'twin') {
    cli.out(`heartbeat already running (pid ${result.pid ?? 'unknown'})`);
    return 0;
  }
  if (o.json) cli.out(JSON.stringify(result.last ?? null));
  return 0;
}

/**
 * The log of a heartbeat the systemd unit runs: its stdout is the journal, so it writes the usual
 * heartbeat.log itself (opened without following a link, capped and rotated like a detached one's),
 * and `logs`, `status` and the watchdog's tail find it. A crash trace still goes to the journal.
 */
function unitLog(paths: RuntimePaths, cli: Cli): (line: string) => void {
  checkRuntimeFolders(paths);
  makeFolders(path.dirname(paths.heartbeatLog), 2);
  const fd = openDaemonLog(paths.heartbeatLog, logCap(cli.env));
  cli.out(`heartbeat: logging to ${paths.heartbeatLog}`);
  return lineWriter(fd, paths.heartbeatLog, logCap(cli.env));
}
