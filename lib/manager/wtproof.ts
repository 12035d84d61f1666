// Proof that a folder under .worktrees/ is a worktree of this repository, read from the files git keeps, before any git runs in it.
import fs from 'node:fs';
import path from 'node:path';
import { isErrno } from '../base/errors.ts';
import { openRegular } from '../base/jsonfile.ts';

/** The folder under the repository root that holds the tasks' worktrees (to be ignored by git). */
export const WORKTREES_FOLDER = '.worktrees';

/** What a folder in a worktree's place is: nothing yet, a worktree git made for this repository, or something else (why). */
export type Proof = { readonly kind: 'absent' } | { readonly kind: 'worktree' } | { readonly kind: 'foreign'; readonly reason: string };

/** lstat that says undefined for a path that is not there. */
function lstatOf(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return undefined;
    throw err;
  }
}

/** realpath that says undefined for a path that is not there. */
function realOf(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR') || isErrno(err, 'ELOOP')) return undefined;
    throw err;
  }
}

/** A small file's text, read without following a link in its place (openRegular); undefined when it is not a regular file. */
function readSmall(file: string): string | undefined {
  let opened: ReturnType<typeof openRegular>;
  try {
    opened = openRegular(file);
  } catch (err) {
    if (['ENOENT', 'ENOTDIR', 'ELOOP', 'EACCES', 'ENXIO'].some((c) => isErrno(err, c))) return undefined;
    throw err;
  }
  if (opened === undefined) return undefined;
  try {
    const buf = Buffer.alloc(4096);
    return buf.subarray(0, fs.readSync(opened.fd, buf, 0, buf.length, 0)).toString('utf8');
  } finally {
    fs.closeSync(opened.fd);
  }
}

/**
 * Why <repo>/.worktrees cannot hold worktrees (a link a repository committed, which would send
 * `git worktree add` and the runs out of the repository; or a file), or undefined when it is a
 * real folder or not there yet.
 */
export function worktreesFolderProblem(repo: string): string | undefined {
  const folder = path.join(repo, WORKTREES_FOLDER);
  const st = lstatOf(folder);
  if (st === undefined || st.isDirectory()) return undefined;
  return st.isSymbolicLink() ? `${folder} is a symbolic link; remove it (rm ${folder}) and run again` : `${folder} is not a folder; remove it (rm ${folder}) and run again`;
}

/**
 * The repository's common git folder (the one that holds worktrees/), read from <repo>/.git: the
 * folder itself, or, when the repository is a linked worktree or a submodule, the `gitdir:` its
 * .git file names and that folder's `commondir`. The repository root is the operator's own
 * checkout, found by git; only what lies under .worktrees/ is untrusted.
 */
export function commonGitDir(repo: string): string | undefined {
  const dotGit = path.join(repo, '.git');
  const st = lstatOf(dotGit);
  if (st?.isDirectory()) return realOf(dotGit);
  const text = st?.isFile() ? readSmall(dotGit) : undefined;
  const m = text === undefined ? null : /^gitdir: (.+)$/m.exec(text);
  if (!m) return undefined;
  const gitdir = path.resolve(repo, (m[1] as string).trim());
  const common = readSmall(path.join(gitdir, 'commondir'));
  return realOf(common === undefined ? gitdir : path.resolve(gitdir, common.trim()));
}

/**
 * Whether wt (<repo>/.worktrees/<name>) is a worktree git made for this repository. Checked
 * without following any link and without running git there: neither .worktrees nor wt is a
 * link; wt/.git is a regular file whose `gitdir:` is <common git dir>/worktrees/<entry>; and that
 * entry's `gitdir` file names wt/.git back. A repository cannot commit a `.git` file, nor
 * anything in its git folder, so a folder it committed (shaped like a bare repository with a
 * config of its choosing, or a link to the main checkout) never passes.
 */
export function proveWorktree(repo: string, wt: string): Proof {
  const folderProblem = worktreesFolderProblem(repo);
  if (folderProblem !== undefined) return { kind: 'foreign', reason: folderProblem };
  const foreign = (why: string): Proof => ({ kind: 'foreign', reason: `${path.relative(repo, wt)} is not a worktree of this repository (${why}); remove it and retry` });
  const st = lstatOf(wt);
  if (st === undefined) return { kind: 'absent' };
  if (st.isSymbolicLink()) return foreign('it is a symbolic link');
  if (!st.isDirectory()) return foreign('it is not a folder');
  const dotGit = path.join(wt, '.git');
  const gst = lstatOf(dotGit);
  if (gst === undefined) return foreign('it has no .git file');
  if (!gst.isFile()) return foreign(`its .git is ${gst.isSymbolicLink() ? 'a symbolic link' : 'not a file'}`);
  const m = /^gitdir: (.+)$/m.exec(readSmall(dotGit) ?? '');
  if (!m) return foreign('its .git file names no gitdir');
  const common = commonGitDir(repo);
  if (common === undefined) return foreign(`the git folder of ${repo} cannot be read`);
  const entry = realOf(path.resolve(wt, (m[1] as string).trim()));
  if (entry === undefined || path.dirname(entry) !== path.join(common, 'worktrees')) return foreign(`its .git file points outside ${path.join(common, 'worktrees')}`);
  const back = readSmall(path.join(entry, 'gitdir'));
  const backReal = back === undefined ? undefined : realOf(path.resolve(entry, back.trim()));
  if (backReal === undefined || backReal !== path.join(realOf(wt) ?? wt, '.git')) return foreign(`git's entry ${path.basename(entry)} belongs to another folder`);
  return { kind: 'worktree' };
}
