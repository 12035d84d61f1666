// What an action may use of the outside world, handed in by the entry script: output, signals, the launcher.
import path from 'node:path';
import { escapeControls, stripControls } from '../base/controls.ts';
import { shellArg } from '../base/shellword.ts';
import type { Options } from './args.ts';
import type { Launcher, Self } from '../supervise/daemon.ts';
import type { EnsureResult } from '../supervise/supervisor.ts';

/** The entry's side of an action: lib code never touches process itself. */
export interface Cli {
  /** One line on stdout (dropped once stdout is a closed pipe). */
  readonly out: (line: string) => void;
  /** Raw text on stdout, for followed logs. */
  readonly write: (text: string) => void;
  /** One line on stderr. */
  readonly note: (line: string) => void;
  /** One warning line on stderr, in yellow on a colour terminal. */
  readonly warn: (line: string) => void;
  /** How this program starts itself again (a detached heartbeat or server). */
  readonly launcher: Launcher;
  readonly self: Self;
  /** The repository root (where the entry lives). */
  readonly root: string;
  /** The folder the operator typed the command in: paths are shown relative to it. */
  readonly cwd: string;
  /** The words after the script, as received. */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Installs handlers for SIGINT, SIGTERM and SIGHUP; the signal aborts on the first one. */
  readonly onStop: () => { signal: AbortSignal; received: () => string | undefined };
  /** Runs a child on this terminal, passing our signals on; resolves to its exit code. */
  readonly runAttached: (cmd: string, args: readonly string[], opts?: { cwd?: string; env?: NodeJS.ProcessEnv }) => Promise<number>;
}

/**
 * Text as it may reach a terminal: task ids, titles and log lines come from files anyone can
 * write, so control characters (ESC sequences, CR, BEL, C1) are removed; tab and newline stay.
 * Log files escape them instead (escapeControls, in the log writers).
 */
export function terminalText(text: string): string {
  return stripControls(text);
}

/**
 * One line for a terminal, built from names a repository chose (worktree folders, branch names):
 * every control character escaped visibly, newline included (escapeControls), so it stays one line.
 */
export function terminalLine(text: string): string {
  return escapeControls(text);
}

/** An action: options in, exit code out. */
export type ActionRun = (o: Options, cli: Cli) => Promise<number>;

/** The words that name this owner and folder again, for hints the operator can paste (shell-quoted). */
export function again(o: Options, cli: Cli): string {
  return `${shellArg('owner', o.owner)}${dirArg(o, cli)}`;
}

/** ` dir=<dir>` (shell-quoted) when the tasks folder is not the default one, else '': what a hint about a task (retry, logs id=) needs. */
export function dirArg(o: Options, cli: Cli): string {
  return o.dir === path.join(cli.root, 'tasks') ? '' : ` ${shellArg('dir', o.dir)}`;
}

/** A path relative to the operator's folder when it lies inside it, else absolute. */
export function displayPath(cli: Cli, p: string): string {
  const rel = path.relative(cli.cwd, p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

/** The one line ensure (and serve) prints about the heartbeat. */
export function ensureLine(o: Options, cli: Cli, r: EnsureResult): string {
  const differs = r.differs.length ? ` with ${r.differs.join(', ')} (stop it to change settings: just tasks stop ${again(o, cli)})` : '';
  const staleText = r.replacedStuck
    ? `; replaced a stuck heartbeat (pid ${r.replacedStuck.pid}, no tick for ${r.replacedStuck.silentS} s${r.replacedStuck.killed ? ', killed after the grace' : ''})`
    : r.stale ? `; replaced a stale pid file that ${r.stale}` : '';
  if (!r.started) return `heartbeat already running (pid ${r.pid})${differs}${staleText}`;
  return `heartbeat started (pid ${r.pid}, owner ${o.owner}, every ${o.interval} s, log ${displayPath(cli, r.log)})${staleText}`;
}
