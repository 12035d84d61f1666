// Pruning worktrees: remove those of completed or cancelled tasks that hold no work (uncommitted, or committed on no kept ref), and delete their merged branches.
import fs from 'node:fs';
import path from 'node:path';
import { TasksError, isErrno } from '../base/errors.ts';
import type { GitRun } from '../base/bounded.ts';
import { checkedOut, git } from '../base/git.ts';
import { runAlive } from './claims.ts';
import type { Claim, Registry } from './registry.ts';
import { branchOf, worktreeName } from './worktrees.ts';
import { WORKTREES_FOLDER, proveWorktree, worktreesFolderProblem } from './wtproof.ts';
import type { Task } from '../tasks/taskfile.ts';

/** What became of a task branch: deleted (merged into base) or kept, and why. */
export interface BranchOutcome { readonly name: string; readonly deleted: boolean; readonly reason: string }

/** One worktree folder under .worktrees/ and what prune did with it. */
export interface PruneItem {
  /** The folder, relative to the repository root (.worktrees/<slug>). */
  readonly path: string;
  readonly task: string | null;
  readonly status: string | null;
  /** Why it was removed or kept, in a few words. */
  readonly reason: string;
  /** Uncommitted files found there; null when not looked at. */
  readonly dirtyFiles: number | null;
  /** Its branch, when the worktree was removed. */
  readonly branch: BranchOutcome | null;
}

export interface PruneReport {
  readonly repo: string;
  /** The branch merges are checked against. */
  readonly base: string | null;
  readonly removed: PruneItem[];
  readonly kept: PruneItem[];
  /** Task branches of finished tasks whose worktree was already gone. */
  readonly branches: BranchOutcome[];
}

export interface PruneInput {
  readonly repo: string;
  /** base=; undefined: the base a claim recorded, else the branch checked out in repo. */
  readonly base: string | undefined;
  readonly tasks: readonly Task[];
  readonly registry: Registry | undefined;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

interface Listed { path: string; branch: string | null; locked: string | null }

const finished = (t: Task | undefined): boolean => t?.status === 'completed' || t?.status === 'cancelled';
const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;

/** The worktrees git knows of (`git worktree list --porcelain`): path, branch, lock reason. */
async function listWorktrees(repo: string, run: GitRun): Promise<Listed[]> {
  const r = await git(repo, ['worktree', 'list', '--porcelain'], run);
  if (!r.ok) throw new TasksError(`git failed: git worktree list: ${r.reason}; nothing was pruned`);
  return r.stdout.split('\n\n').flatMap((block): Listed[] => {
    const lines = block.split('\n');
    const at = lines.find((l) => l.startsWith('worktree '));
    if (!at) return [];
    const branch = lines.find((l) => l.startsWith('branch '))?.slice('branch refs/heads/'.length) ?? null;
    const locked = lines.find((l) => l === 'locked' || l.startsWith('locked '));
    return [{ path: at.slice('worktree '.length), branch, locked: locked === undefined ? null : locked.slice('locked'.length).trim() || 'no reason given' }];
  });
}

/**
 * Removes the worktrees under <repo>/.worktrees/ whose task file says completed or cancelled and
 * which hold no work: no uncommitted files (`git status --porcelain`, untracked files included;
 * `git worktree remove` refuses unclean ones too), and a HEAD that a kept branch, tag or base
 * still reaches (a run may have committed on a detached HEAD). Then deletes their task branch
 * with `git branch -d` when it is merged into base. Never forces anything; says why it kept the rest.
 */
export async function pruneWorktrees(x: PruneInput): Promise<PruneReport> {
  const run: GitRun = { ...(x.env ? { env: x.env } : {}), timeoutMs: 60_000 };
  const folder = path.join(x.repo, WORKTREES_FOLDER);
  // A .worktrees a repository committed as a link would be listed, and git run, outside the repository.
  const problem = worktreesFolderProblem(x.repo);
  if (problem !== undefined) throw new TasksError(`${problem}; nothing was pruned`);
  const listed = await listWorktrees(x.repo, run);
  // A folder is .worktrees/<name> (worktreeName); older heartbeats named it after the slug as it was.
  const byName = new Map(x.tasks.map((t) => [worktreeName(t.slug), t]));
  const bySlug = new Map(x.tasks.map((t) => [t.slug, t]));
  const claimsOf = (id: string): (Claim | undefined)[] => [x.registry?.claims[id], ...[...(x.registry?.history ?? [])].reverse().filter((h) => h.id === id)];
  const recordedBase = (id: string): string | undefined => claimsOf(id).find((c) => typeof c?.base === 'string')?.base ?? undefined;
  // A task's branches: task/<name>, and any other its claims recorded (older heartbeats named them differently).
  // A name that is an open task's branch now is never taken for a finished task's.
  const open = new Set(x.tasks.filter((t) => !finished(t)).map((t) => branchOf(t.slug)));
  // Only task/ branches: registry.json may be a repository's own file, naming main as a claim's branch.
  const branchesOf = (t: Task): Set<string> => new Set([branchOf(t.slug), ...claimsOf(t.id).flatMap((c) => (typeof c?.branch === 'string' ? [c.branch] : []))].filter((b) => b.startsWith('task/') && !open.has(b)));
  let current: Promise<string | undefined> | undefined;
  const baseOf = async (t: Task): Promise<string | undefined> => x.base ?? recordedBase(t.id) ?? (await (current ??= checkedOut(x.repo, run)));
  const report: PruneReport = { repo: x.repo, base: x.base ?? null, removed: [], kept: [], branches: [] };
  const entries = fs.existsSync(folder) ? fs.readdirSync(folder, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort() : [];
  const keptTasks = new Set<string>();
  const inUse = new Set(listed.flatMap((l) => l.branch ?? []));
  const refs = await git(x.repo, ['for-each-ref', '--format=%(refname:short)', 'refs/heads/task/'], run);
  const names = new Set(refs.ok ? refs.stdout.split('\n').filter((n) => n !== '') : []);
  for (const name of entries) {
    const wt = path.join(folder, name);
    const rel = path.join(WORKTREES_FOLDER, name);
    const t = byName.get(name) ?? bySlug.get(name);
    const item = { path: rel, task: t?.id ?? null, status: t?.status ?? null, dirtyFiles: null, branch: null };
    const keep = (reason: string, more: Partial<PruneItem> = {}): void => {
      if (t) keptTasks.add(t.id);
      report.kept.push({ ...item, reason, ...more });
    };
    const entry = listed.find((l) => samePath(l.path, wt));
    // Git runs only in a folder proven to be this repository's worktree: one a repository committed obeys its own config.
    if (!entry || proveWorktree(x.repo, wt).kind !== 'worktree') { keep('not a git worktree of this repository; left alone'); continue; }
    if (!t) { keep(`no task file has the name ${name}.md`); continue; }
    if (!finished(t)) { keep(`task ${t.id} is ${t.status}`); continue; }
    const claim = x.registry?.claims[t.id];
    if (claim && runAlive(claim)) { keep(`its run is still alive (pid ${claim.pid})`); continue; }
    if (entry.locked) { keep(`locked in git (${entry.locked})`); continue; }
    const inWt: GitRun = { ...run, ceiling: folder };
    const status = await git(wt, ['status', '--porcelain', '--untracked-files=all'], inWt);
    if (!status.ok) { keep(`git status failed: ${status.reason}`); continue; }
    const dirty = status.stdout.split('\n').filter((l) => l !== '').length;
    if (dirty > 0) { keep(plural(dirty, 'uncommitted file'), { dirtyFiles: dirty }); continue; }
    const base = await baseOf(t);
    const unkept = await headUnkept(wt, x.repo, base, run, inWt);
    if (unkept !== undefined) { keep(unkept, { dirtyFiles: 0 }); continue; }
    // No --force: git itself refuses a worktree that became unclean since we looked.
    const removed = await git(x.repo, ['worktree', 'remove', wt], run);
    if (!removed.ok) { keep(`git worktree remove refused: ${removed.reason}`, { dirtyFiles: 0 }); continue; }
    // Its task branch: the one checked out there, or (a detached HEAD) the one it was made on.
    // Deleting a merged branch loses nothing: base has every commit of it.
    const own = entry.branch !== null ? (branchesOf(t).has(entry.branch) ? entry.branch : undefined) : [...branchesOf(t)].find((b) => names.has(b) && !inUse.has(b));
    const branch = own === undefined ? null : await deleteIfMerged(x.repo, own, base, run);
    report.removed.push({ ...item, reason: `task ${t.id} ${t.status}`, dirtyFiles: 0, branch });
  }
  // Branches of finished tasks whose worktree is already gone (removed earlier, kept then as unmerged).
  const done = new Set(report.removed.flatMap((r) => r.branch?.name ?? []));
  for (const t of x.tasks) {
    if (!finished(t) || keptTasks.has(t.id)) continue;
    for (const name of branchesOf(t)) {
      if (inUse.has(name) || !names.has(name) || done.has(name)) continue;
      done.add(name);
      report.branches.push(await deleteIfMerged(x.repo, name, await baseOf(t), run));
    }
  }
  return report;
}

/**
 * Why a worktree's HEAD would be lost if the worktree went, or undefined when it would not: a
 * branch or tag contains it (prune deletes only task branches merged into base, so what they
 * hold stays reachable), or base does. A HEAD committed on while detached is on neither.
 */
async function headUnkept(wt: string, repo: string, base: string | undefined, run: GitRun, inWt: GitRun): Promise<string | undefined> {
  const head = await git(wt, ['rev-parse', '--verify', 'HEAD'], inWt);
  if (!head.ok) return `git rev-parse HEAD failed: ${head.reason}`;
  const sha = head.stdout.trim();
  const refs = await git(repo, ['for-each-ref', '--count=1', '--format=%(refname)', `--contains=${sha}`, 'refs/heads/', 'refs/tags/'], run);
  if (!refs.ok) return `git for-each-ref failed: ${refs.reason}`;
  if (refs.stdout.trim() !== '') return undefined;
  if (base !== undefined && (await git(repo, ['merge-base', '--is-ancestor', sha, base], run)).ok) return undefined;
  return `its HEAD ${sha.slice(0, 7)} is on no branch or tag${base === undefined ? '' : ` and not in ${base}`}; merge it or put it on a branch, then prune again`;
}

/** Deletes a branch with `git branch -d` when base has all its commits; otherwise keeps it and says why. */
async function deleteIfMerged(repo: string, name: string, base: string | undefined, run: GitRun): Promise<BranchOutcome> {
  if (base === undefined) return { name, deleted: false, reason: 'no base to check it against; pass base=<branch>' };
  const merged = await git(repo, ['merge-base', '--is-ancestor', name, base], run);
  if (!merged.ok) {
    const ahead = await git(repo, ['rev-list', '--count', `${base}..${name}`], run);
    const n = Number(ahead.stdout.trim());
    return { name, deleted: false, reason: ahead.ok && Number.isSafeInteger(n) ? `${plural(n, 'commit')} not in ${base}` : `not merged into ${base} (${merged.reason || ahead.reason})` };
  }
  // -d, never -D: git checks the merge again (against HEAD or the branch's upstream) and refuses if in doubt.
  const deleted = await git(repo, ['branch', '-d', name], run);
  return deleted.ok ? { name, deleted: true, reason: `merged into ${base}` } : { name, deleted: false, reason: `git branch -d refused: ${deleted.reason}` };
}

function samePath(a: string, b: string): boolean {
  const real = (p: string): string => {
    try {
      return fs.realpathSync(p);
    } catch (err) {
      // A worktree whose folder is gone: compare it as written.
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return path.resolve(p);
      throw err;
    }
  };
  return real(a) === real(b);
}
