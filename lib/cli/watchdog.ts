// The watchdog `serve` keeps over its owner's heartbeat: a restart starts the heartbeat it replaces as that one was started, and is told through its channels.
import fs from 'node:fs';
import { type Options, parseArgs } from './args.ts';
import type { Cli } from './context.ts';
import { TasksError } from '../base/errors.ts';
import { tailLines } from '../base/logfile.ts';
import { runtimePaths } from '../base/paths.ts';
import { heartbeatHealth, stuckSlack } from '../supervise/health.ts';
import { inspectPidFile } from '../supervise/pidfile.ts';
import { type Recipe, readRecipe } from '../supervise/recipe.ts';
import { ensureHeartbeat } from '../supervise/supervisor.ts';
import type { WatchdogInput } from '../supervise/watchdog.ts';
import { hostName } from '../manager/store.ts';
import { type WatchdogNotice, watchdogNotifier } from '../manager/notify.ts';

/** How long the watchdog leaves a heartbeat alone after its tasks folder came back. */
const FOLDER_BACK_GRACE_MS = 3000;

/**
 * The settings of the heartbeat the pid file names, as it parsed them itself: its command-line
 * words from the marker on, with its own secret variables (registry, notify, notify_url) as the
 * only environment, so serve's $TASK_MANAGER_DISPATCH and the like never slip in. Undefined when
 * no live heartbeat is proven (recipe.ts) or its words no longer parse (its folder went).
 */
export function runningHeartbeatOptions(o: Pick<Options, 'owner' | 'dir'>, cli: Pick<Cli, 'self' | 'root'>): Options | undefined {
  const paths = runtimePaths(o.dir, o.owner);
  const recipe = readRecipe(paths.heartbeatPid, { kind: 'heartbeat', owner: o.owner, dir: o.dir }, cli.self);
  return recipe === undefined ? undefined : optionsOf(recipe, o, cli.root);
}

function optionsOf(recipe: Recipe, o: Pick<Options, 'owner' | 'dir'>, root: string): Options | undefined {
  try {
    const parsed = parseArgs(recipe.words, { env: recipe.env, cwd: o.dir, root, user: o.owner });
    return !parsed.help && parsed.options.owner === o.owner && parsed.options.dir === o.dir ? parsed.options : undefined;
  } catch (err) {
    // The message may quote a value: none of it is kept, and the caller falls back to its own settings.
    if (err instanceof TasksError) return undefined;
    throw err;
  }
}

export interface ServeWatchdog {
  readonly input: WatchdogInput;
  /** Ends the notifiers' deliveries (after the watchdog ended). */
  readonly close: () => Promise<void>;
}

/**
 * The watchdog bound to this owner and folder; ensure's guarantees are the restart's. A restart
 * starts the heartbeat it replaces as it was started (an `ensure` with dispatch=, notify_url=,
 * registry=… under a bare `serve` must not become serve's defaults): each new live pid's settings
 * are read once from /proc and kept in memory only; with none (the heartbeat died before this
 * watchdog saw it alive), serve's own. Restarts are told through serve's notify= and notify_url=,
 * else through the channels of the heartbeat that was restarted.
 */
export function serveWatchdog(o: Options, cli: Cli, signal: AbortSignal, log: (line: string) => void): ServeWatchdog {
  const paths = runtimePaths(o.dir, o.owner);
  const expected = { kind: 'heartbeat', owner: o.owner, dir: o.dir } as const;
  const slack = stuckSlack(cli.env);
  let folderGoneAt = 0;
  let seen: { pid: number | null; options: Options | undefined } = { pid: null, options: undefined };
  const notices = channelNotifier(o, cli, log, () => seen.options);
  const input: WatchdogInput = {
    check: () => {
      try {
        const health = heartbeatHealth(paths.heartbeatPid, expected, cli.self, new Date(), slack);
        if (health.pid !== null && health.pid !== seen.pid) seen = { pid: health.pid, options: runningHeartbeatOptions(o, cli) };
        return health;
      } catch (err) {
        // A folder where the pid file belongs: the heartbeat cannot be proven, and ensure would fail the same way.
        if (!(err instanceof TasksError)) throw err;
        return undefined;
      }
    },
    restart: async () => {
      const r = await ensureHeartbeat(seen.options ?? o, cli.launcher, cli.self, slack);
      return { pid: r.pid, started: r.started };
    },
    // Stopped on purpose (`stop`), or the tasks folder is gone (restarting would recreate what the
    // operator moved away) or just came back (its heartbeat waited without beating: give it a moment).
    paused: () => {
      if (!fs.existsSync(o.dir)) folderGoneAt = Date.now();
      return fs.existsSync(paths.heartbeatStopped) || Date.now() - folderGoneAt < FOLDER_BACK_GRACE_MS;
    },
    deadPid: () => {
      try {
        const dead = inspectPidFile(paths.heartbeatPid, expected, cli.self);
        return dead.state === 'stale' ? dead.pid : undefined;
      } catch (err) {
        // As in check: a folder where the pid file belongs names no pid.
        if (!(err instanceof TasksError)) throw err;
        return undefined;
      }
    },
    logTail: () => tailLines(paths.heartbeatLog, 10),
    log,
    now: () => Date.now(),
    signal,
    onEvent: notices.report,
  };
  return { input, close: notices.close };
}

/**
 * The watchdog's notices: through serve's own channels when it was given one, else through those
 * of the heartbeat it restarted (read with its recipe); one notifier per pair of channels, made
 * on the first notice that needs it.
 */
function channelNotifier(o: Options, cli: Cli, log: (line: string) => void, heartbeat: () => Options | undefined): { report: (n: WatchdogNotice) => void; close: () => Promise<void> } {
  const made = new Map<string, ReturnType<typeof watchdogNotifier>>();
  return {
    report: (n) => {
      const own = o.notify !== undefined || o.notifyUrl !== undefined;
      const command = own ? o.notify : heartbeat()?.notify;
      const url = own ? o.notifyUrl : heartbeat()?.notifyUrl;
      const key = JSON.stringify([command ?? null, url ?? null]);
      if (!made.has(key)) made.set(key, watchdogNotifier({ owner: o.owner, dir: o.dir, host: hostName(cli.env), command, url, env: cli.launcher.env, log, now: () => new Date() }));
      made.get(key)?.report(n);
    },
    close: async () => {
      await Promise.all([...made.values()].map((n) => n?.close()));
    },
  };
}
