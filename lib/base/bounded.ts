// Running one child (git, gh) bounded: its own process group, killed whole at its deadline, in an environment that keeps git to the repository it is meant for.
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import path from 'node:path';
import type { ProcessPromise, Shell } from 'zx';
import { isErrno } from './errors.ts';

let zx: Promise<typeof import('zx')> | undefined;

/** After a child exits, how long its output may stay open (held by a grandchild it left behind) before we stop reading. */
const CLOSE_GRACE_MS = 250;
/** Between the TERM at the deadline and the KILL: git removes what it half made (a worktree being added) on TERM. */
const KILL_GRACE_MS = 1000;

/** What bounds one child: its environment, its deadline, and a signal that ends it early. */
export interface GitRun {
  /** The environment the child runs with (default: this process's). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The child's whole process group is killed after this long and the result says so (default 30 s). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /**
   * GIT_CEILING_DIRECTORIES for the child: git never looks for a repository in this folder or
   * above it (a worktree's parent, so a worktree whose `.git` went missing is not taken for the
   * repository around it).
   */
  readonly ceiling?: string;
}

/** Every bounded child (and what it starts) carries this in its environment, set to its parent's pid: `stop` finds the ones a killed parent left. */
export const BOUNDED_MARKER = 'TASKS_BOUNDED_CHILD';

/**
 * The groups of the bounded children running now, by leader pid: ended with endBoundedChildren
 * on the way out, since a deadline timer dies with its process.
 */
const liveGroups = new Set<number>();

/**
 * Ends the process group of every bounded child still running, when this process is exiting: their
 * deadlines die with it. SIGTERM, so a `git worktree add` still removes what it half made; one
 * that ignores it is ended by `stop` (stopProcess), which finds it by its marker.
 */
export function endBoundedChildren(): void {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGTERM');
    } catch (err) {
      if (!isErrno(err, 'ESRCH')) throw err;
    }
  }
  liveGroups.clear();
}

/**
 * The child's environment, plus what keeps git to the repository it is meant for:
 * `safe.bareRepository=explicit` (a folder a repository commits, shaped like a bare repository,
 * is never taken for one, so its config and hooks are never obeyed), appended to the operator's
 * own GIT_CONFIG_COUNT entries; the ceiling, after the operator's own; and the bounded marker.
 */
export function guardedEnv(env: Readonly<Record<string, string | undefined>>, ceiling?: string): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env, [BOUNDED_MARKER]: String(process.pid) };
  const count = env.GIT_CONFIG_COUNT ?? '';
  // A count git cannot read is left as it is: git then says so, and the failure is reported.
  if (count === '' || /^[0-9]+$/.test(count)) {
    const n = count === '' ? 0 : Number(count);
    Object.assign(out, { [`GIT_CONFIG_KEY_${n}`]: 'safe.bareRepository', [`GIT_CONFIG_VALUE_${n}`]: 'explicit', GIT_CONFIG_COUNT: String(n + 1) });
  }
  if (ceiling !== undefined) out.GIT_CEILING_DIRECTORIES = [env.GIT_CEILING_DIRECTORIES, ceiling].filter((d) => d !== undefined && d !== '').join(path.delimiter);
  return out;
}

/** How a bounded child ended. */
export interface ChildResult {
  /** Its exit code; null when it was killed or could not start. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Why we killed it; undefined when it ended by itself. */
  readonly killed: 'timeout' | 'aborted' | undefined;
  /** Why it could not start (no shell, the folder is gone); undefined when it ran. */
  readonly error: string | undefined;
  /** The PATH the child was given: where a hanging git came from. */
  readonly pathVar?: string | undefined;
}

/**
 * Runs one command written with zx's $ (its quoting and shell) and never throws. zx's own timeout
 * signals the tree it finds with `ps` and then waits for the output pipe to close, which a
 * grandchild that outlives git (a hook, a credential helper, a wrapper's `sleep`) can hold open
 * forever. So the child gets a process group of its own, ended whole at the deadline or when
 * the signal aborts (TERM, then KILL a second later), and the result is given once the child has
 * exited: output still held open after that is read for a moment, then dropped.
 */
export async function bounded(cwd: string, o: GitRun, command: (sh: Shell) => ProcessPromise): Promise<ChildResult> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  let killed: ChildResult['killed'];
  let child: ChildProcess | undefined;
  let exited = false;
  let pathVar: string | undefined;
  const signalGroup = (sig: NodeJS.Signals): void => {
    if (child?.pid === undefined) return;
    try {
      process.kill(-child.pid, sig);
    } catch (err) {
      if (!isErrno(err, 'ESRCH')) throw err;
    }
  };
  let killer: NodeJS.Timeout | undefined;
  const killGroup = (why: 'timeout' | 'aborted'): void => {
    // A deadline (or abort) that comes after the child exited, before its result is read, ends nothing.
    if (exited) return;
    killed ??= why;
    if (!exited) signalGroup('SIGTERM');
    // Once the leader has exited its group id may be taken again: the exit handler ends the rest.
    killer ??= setTimeout(() => { if (!exited) signalGroup('SIGKILL'); }, KILL_GRACE_MS);
  };
  const spawnBounded = (file: string, args: readonly string[], opts: SpawnOptions): ChildProcess => {
    // stdin is never the caller's: a child that reads it (a credential prompt) must not take it or wait on it.
    const env = guardedEnv(opts.env ?? {}, o.ceiling);
    pathVar = env.PATH;
    const c = spawn(file, args, { ...opts, env: env as NodeJS.ProcessEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    if (c.pid !== undefined) liveGroups.add(c.pid);
    if (killed) killGroup(killed);
    c.once('exit', () => {
      exited = true;
      if (c.pid !== undefined) liveGroups.delete(c.pid);
      // The group leader is gone, not necessarily the rest of its group: what the deadline ends, ends whole.
      if (killed) signalGroup('SIGKILL');
      const late = setTimeout(() => { c.stdout?.destroy(); c.stderr?.destroy(); }, CLOSE_GRACE_MS);
      c.once('close', () => clearTimeout(late));
    });
    return c;
  };
  const timer = setTimeout(() => killGroup('timeout'), timeoutMs);
  const onAbort = (): void => killGroup('aborted');
  if (o.signal?.aborted) killed = 'aborted';
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const $ = (await (zx ??= import('zx'))).$;
    const sh = $({ cwd, quiet: true, nothrow: true, spawn: spawnBounded as typeof $.spawn, ...(o.env ? { env: o.env as NodeJS.ProcessEnv } : {}) });
    const r = await command(sh);
    return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr, killed, error: undefined, pathVar };
  } catch (err) {
    // zx throws only when the shell itself cannot start (the folder is gone, no shell).
    if (!(err instanceof Error)) throw err;
    return { code: null, stdout: '', stderr: '', killed, error: err.message.split('\n')[0] ?? String(err), pathVar };
  } finally {
    clearTimeout(timer);
    clearTimeout(killer);
    o.signal?.removeEventListener('abort', onAbort);
  }
}
