// Asking git: one command's result in one line, where the repository is, its remote and what is checked out; every git bounded (bounded.ts).
import fs from 'node:fs';
import path from 'node:path';
import { type GitRun, bounded } from './bounded.ts';
import { stripControls } from './controls.ts';
import { isErrno } from './errors.ts';

/** How long finding the repository may take before git is killed and the answer is "git failed". */
export const REPO_TIMEOUT_MS = 10_000;

/** What one git command said: whether it succeeded, its stdout, and the one-line reason of a failure. */
export interface GitResult {
  readonly ok: boolean;
  readonly stdout: string;
  /** Git's own one-line reason ("invalid reference: nope"), or why git could not run; '' on success. */
  readonly reason: string;
  /** Its exit code; null when it was killed or could not start. */
  readonly code: number | null;
  /** Git said nothing on stderr. */
  readonly silent: boolean;
  /** Git is not installed (or not on PATH). */
  readonly missing?: boolean;
  /** Git was killed: it took too long, or the caller stopped it. */
  readonly killed?: boolean;
}

/**
 * Runs `git <args>` in cwd, bounded (see bounded). Never throws for git's own failures, a
 * time-out or a cwd that is gone: the result says what went wrong in one line, so a caller can
 * record it and go on.
 */
export async function git(cwd: string, args: readonly string[], o: GitRun = {}): Promise<GitResult> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const r = await bounded(cwd, { ...o, timeoutMs }, (sh) => sh`git ${args}`);
  const what = `git ${args[0] ?? ''}`;
  const said = { code: r.code, silent: r.stderr.trim() === '' };
  if (r.error !== undefined) return { ok: false, stdout: '', reason: r.error, ...said };
  if (r.code === 0 && r.killed === undefined) return { ok: true, stdout: r.stdout, reason: '', ...said };
  if (r.killed === 'aborted') return { ok: false, stdout: r.stdout, reason: `${what} was stopped`, killed: true, ...said };
  if (r.killed === 'timeout') return { ok: false, stdout: r.stdout, reason: `${what} took longer than ${timeoutMs / 1000} s and was killed${checkGit(r.pathVar)}`, killed: true, ...said };
  // The shell says 127 "command not found" when there is no git on PATH.
  if (r.code === 127 && /not found/i.test(r.stderr)) return { ok: false, stdout: '', reason: 'git is not installed (not found on PATH)', missing: true, ...said };
  if (r.code === null) return { ok: false, stdout: r.stdout, reason: `${what} was killed by a signal${checkGit(r.pathVar)}`, killed: true, ...said };
  const line = oneLine(r.stderr) || `${what} exited with code ${r.code}`;
  return { ok: false, stdout: r.stdout, reason: `${line}${ownershipHint(line)}`, ...said };
}

/** The fix for git's "dubious ownership" refusal, which oneLine leaves out with git's own hint lines. */
function ownershipHint(line: string): string {
  const m = /dubious ownership in repository at '(.*)'$/.exec(line);
  return m ? `; run: git config --global --add safe.directory '${(m[1] as string).replace(/'/g, `'\\''`)}'` : '';
}

/** What to look at when git hangs or is killed: the git the child found on its PATH, and its hooks. */
function checkGit(pathVar: string | undefined): string {
  const found = (pathVar ?? '').split(path.delimiter).filter((d) => d !== '').map((d) => path.join(d, 'git')).find((f) => {
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'EACCES') || isErrno(err, 'ENOTDIR')) return false;
      throw err;
    }
  });
  return `; check the git on PATH (${found ?? 'none found'}) and its hooks`;
}

/**
 * Git's reason for a failure in one line: its last `fatal:` or `error:` line without the prefix,
 * else its last line; control characters (a crafted path's escape sequences) removed.
 */
export function oneLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const said = [...lines].reverse().find((l) => /^(fatal|error):/.test(l)) ?? lines[lines.length - 1] ?? '';
  return stripControls(said.replace(/^(fatal|error):\s*/, '')).replace(/\t/g, ' ');
}

/**
 * Where a folder stands with git. `none` is an honest "not in a repository": git said so, or
 * git is not installed and no `.git` lies on the way up. `failed` is "we cannot tell": git timed
 * out, was killed, or refused (exit 128 "detected dubious ownership", a broken `.git`), or git is
 * missing beside a `.git`. A caller must never take `failed` for `none`: that would run a task in
 * the main checkout when it wanted a worktree.
 */
export type RepoAnswer =
  | { readonly kind: 'repo'; readonly root: string }
  | { readonly kind: 'none' }
  | { readonly kind: 'failed'; readonly reason: string };

/** Finds the top folder of the git work tree that holds dir (`git rev-parse --show-toplevel`), bounded. */
export async function findRepo(dir: string, o: GitRun = {}): Promise<RepoAnswer> {
  const r = await git(dir, ['rev-parse', '--show-toplevel'], { timeoutMs: REPO_TIMEOUT_MS, ...o });
  if (r.ok) {
    const root = r.stdout.trim();
    // Inside the .git folder, or a bare repository: there is no work tree to make worktrees beside.
    return root === '' ? { kind: 'failed', reason: `git found no work tree around ${dir}` } : { kind: 'repo', root };
  }
  // Discovery walked up and found nothing: "not a git repository (or any of the parent directories)",
  // or "(or any parent up to mount point …)". A broken `.git` says "not a git repository: <path>".
  if (/not a git repository \(or any/.test(r.reason)) return { kind: 'none' };
  if (r.missing) {
    const marker = gitMarkerAbove(dir);
    return marker === undefined ? { kind: 'none' } : { kind: 'failed', reason: `${r.reason}, but ${marker} exists; install git or pass worktrees=off` };
  }
  return { kind: 'failed', reason: r.reason };
}

/** The first `.git` (folder or file) in dir or a folder above it. */
function gitMarkerAbove(dir: string): string | undefined {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    const marker = path.join(at, '.git');
    if (fs.existsSync(marker)) return marker;
    if (path.dirname(at) === at) return undefined;
  }
}

/**
 * The fetch URL of the remote `origin` (else the first remote) of dir's repository; undefined
 * when none, or when git fails or is slower than its deadline (default 3 s per git call).
 */
export async function remoteUrl(dir: string, o: GitRun = {}): Promise<string | undefined> {
  const run: GitRun = { timeoutMs: 3000, ...o };
  const origin = await git(dir, ['remote', 'get-url', 'origin'], run);
  if (origin.ok && origin.stdout.trim()) return origin.stdout.trim();
  // A git that hangs or is missing is not asked twice more.
  if (origin.missing || origin.killed) return undefined;
  const names = await git(dir, ['remote'], run);
  const first = names.ok ? names.stdout.split('\n').find((n) => n.trim() !== '') : undefined;
  if (first === undefined) return undefined;
  const url = await git(dir, ['remote', 'get-url', first.trim()], run);
  return url.ok ? url.stdout.trim() || undefined : undefined;
}

/**
 * The branch checked out in dir's work tree, else (detached HEAD) the commit; without a name,
 * why git could not tell (undefined when there is simply no commit yet).
 */
export async function headOf(dir: string, o: GitRun = {}): Promise<{ readonly name: string } | { readonly name?: undefined; readonly reason: string | undefined }> {
  const branch = await git(dir, ['symbolic-ref', '--quiet', '--short', 'HEAD'], o);
  if (branch.ok && branch.stdout.trim()) return { name: branch.stdout.trim() };
  // --quiet: a detached HEAD (or no commit yet) is exit 1 with nothing said; anything else is a failure.
  const quietNo = (r: GitResult): boolean => r.code === 1 && r.silent;
  if (!branch.ok && !quietNo(branch)) return { reason: branch.reason };
  const commit = await git(dir, ['rev-parse', '--verify', '--quiet', 'HEAD'], o);
  if (commit.ok && commit.stdout.trim()) return { name: commit.stdout.trim() };
  return { reason: commit.ok || quietNo(commit) ? undefined : commit.reason };
}

/** The branch checked out in dir's work tree, else (detached HEAD) the commit; undefined when git cannot tell. */
export async function checkedOut(dir: string, o: GitRun = {}): Promise<string | undefined> {
  return (await headOf(dir, o)).name;
}
