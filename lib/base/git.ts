// Asking git about the repository around a folder (zx's $: quoting is automatic, failures carry stderr).

let zx: Promise<typeof import('zx')> | undefined;

/**
 * zx's $, loaded on first use: importing zx costs ~70 ms, which the heartbeat's start (and any
 * command that never shells out) should not pay. The one place zx is imported.
 */
export async function shell(): Promise<typeof import('zx')['$']> {
  return (await (zx ??= import('zx'))).$;
}

/** The top folder of the git work tree that holds dir; undefined outside git (or without git). */
export async function repoRoot(dir: string): Promise<string | undefined> {
  const $ = await shell();
  const r = await $({ cwd: dir, nothrow: true, quiet: true })`git rev-parse --show-toplevel`;
  return r.exitCode === 0 ? r.stdout.trim() || undefined : undefined;
}

/** The fetch URL of the remote `origin` (else the first remote) of dir's repository; undefined when none. */
export async function remoteUrl(dir: string): Promise<string | undefined> {
  const $ = await shell();
  const origin = await $({ cwd: dir, nothrow: true, quiet: true })`git remote get-url origin`;
  if (origin.exitCode === 0 && origin.stdout.trim()) return origin.stdout.trim();
  const names = await $({ cwd: dir, nothrow: true, quiet: true })`git remote`;
  const first = names.exitCode === 0 ? names.stdout.split('\n').find((n) => n.trim() !== '') : undefined;
  if (first === undefined) return undefined;
  const url = await $({ cwd: dir, nothrow: true, quiet: true })`git remote get-url ${first.trim()}`;
  return url.exitCode === 0 ? url.stdout.trim() || undefined : undefined;
}

/** What one git command said: whether it succeeded, its stdout, and the one-line reason of a failure. */
export interface GitResult {
  readonly ok: boolean;
  readonly stdout: string;
  /** Git's own one-line reason ("invalid reference: nope"), or why git could not run; '' on success. */
  readonly reason: string;
}

export interface GitRun {
  /** The environment git runs with (default: this process's). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Git is killed after this long and the result says so (default 30 s). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * Runs `git <args>` in cwd. Never throws for git's own failures, a time-out or a cwd that is gone:
 * the result says what went wrong in one line, so a caller can record it and go on.
 */
export async function git(cwd: string, args: readonly string[], o: GitRun = {}): Promise<GitResult> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const $ = await shell();
  try {
    const r = await $({
      cwd, quiet: true, nothrow: true, timeout: `${timeoutMs}ms`,
      ...(o.env ? { env: o.env as NodeJS.ProcessEnv } : {}), ...(o.signal ? { signal: o.signal } : {}),
    })`git ${args}`;
    if (r.exitCode === 0) return { ok: true, stdout: r.stdout, reason: '' };
    if (r.exitCode === null) return { ok: false, stdout: r.stdout, reason: o.signal?.aborted ? `git ${args[0] ?? ''} was stopped` : `git ${args[0] ?? ''} took longer than ${timeoutMs / 1000} s` };
    return { ok: false, stdout: r.stdout, reason: oneLine(r.stderr) || `git ${args[0] ?? ''} exited with code ${r.exitCode}` };
  } catch (err) {
    // zx throws only when the shell itself cannot start (the folder is gone, no shell).
    return { ok: false, stdout: '', reason: (err as Error).message.split('\n')[0] ?? String(err) };
  }
}

/** Git's reason for a failure in one line: its last `fatal:` or `error:` line without the prefix, else its last line. */
export function oneLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const said = [...lines].reverse().find((l) => /^(fatal|error):/.test(l)) ?? lines[lines.length - 1] ?? '';
  return said.replace(/^(fatal|error):\s*/, '');
}

/** The branch checked out in dir's work tree, else (detached HEAD) the commit; undefined when git cannot tell. */
export async function checkedOut(dir: string, o: GitRun = {}): Promise<string | undefined> {
  const branch = await git(dir, ['symbolic-ref', '--quiet', '--short', 'HEAD'], o);
  if (branch.ok && branch.stdout.trim()) return branch.stdout.trim();
  const commit = await git(dir, ['rev-parse', '--verify', '--quiet', 'HEAD'], o);
  return commit.ok && commit.stdout.trim() ? commit.stdout.trim() : undefined;
}
