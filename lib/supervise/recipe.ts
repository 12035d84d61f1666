// A live heartbeat's recipe: the command-line words and secret variables it runs with, read from /proc, so a restart starts the same heartbeat.
import { type Expected, inspectPidFile, markerArgs } from './pidfile.ts';
import { isLiveStat, ownedByUs, readCmdlineQuiet, readEnvironQuiet, readStatQuiet } from './proc.ts';

/**
 * The settings that never go in a command line (the process list is everyone's): the shared
 * registry's URL and the notification channels. A heartbeat gets them in its environment.
 */
export const RECIPE_VARIABLES = ['TASK_MANAGER_REGISTRY', 'TASK_MANAGER_NOTIFY', 'TASK_MANAGER_NOTIFY_URL'] as const;

/**
 * How one heartbeat process was started. Held in memory only: `env` may hold a webhook's secret
 * or a database password, so a recipe is never written to a file or a log line.
 */
export interface Recipe {
  readonly pid: number;
  readonly starttime: string;
  /** Its words from the marker on: `heartbeat owner=… dir=… interval=… …`, as the CLI parses them. */
  readonly words: readonly string[];
  /** The RECIPE_VARIABLES it had, as it had them (an empty one is set empty; an absent one is absent). */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * The recipe of the heartbeat the pid file names, or undefined when none is proven: the pid file
 * names a live heartbeat of this owner and folder (marker words, start time, boot id), the process
 * is this user's, its command line carries the marker, and its start time is the same after
 * /proc was read (a pid reused meanwhile gives nothing rather than another process's settings).
 */
export function readRecipe(pidFile: string, expected: Expected, self: { pid: number; ppid: number }): Recipe | undefined {
  const seen = inspectPidFile(pidFile, expected, self);
  if (seen.state !== 'live') return undefined;
  const { pid } = seen;
  const starttime = seen.record.fields.starttime;
  if (starttime === undefined || !ownedByUs(pid)) return undefined;
  const words = wordsFrom(readCmdlineQuiet(pid), markerArgs(expected));
  const environ = readEnvironQuiet(pid);
  if (words === undefined || environ === undefined) return undefined;
  const after = readStatQuiet(pid);
  if (!isLiveStat(after) || after.starttime !== starttime) return undefined;
  return { pid, starttime, words, env: pick(environ) };
}

/** The words of a command line from the marker on (node, its flags and the script go). */
function wordsFrom(cmd: readonly string[], marker: readonly string[]): string[] | undefined {
  for (let i = 0; i + marker.length <= cmd.length; i++) {
    if (marker.every((w, j) => cmd[i + j] === w)) return cmd.slice(i);
  }
  return undefined;
}

/** The RECIPE_VARIABLES of a NUL-separated environment block. */
function pick(environ: Buffer): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of environ.toString('utf8').split('\0')) {
    const eq = entry.indexOf('=');
    const name = entry.slice(0, eq);
    if (eq > 0 && (RECIPE_VARIABLES as readonly string[]).includes(name)) env[name] = entry.slice(eq + 1);
  }
  return env;
}
