// Pruning worktrees: remove those of completed or cancelled tasks that hold no uncommitted work, and delete their merged branches.
import fs from 'node:fs';
import path from 'node:path';
import { isErrno } from '../base/errors.ts';
import { type GitRun, checkedOut, git } from '../base/git.ts';
import { runAlive } from './claims.ts';
import type { Registry } from './registry.ts';
import { WORKTREES_FOLDER, branchOf } from './worktrees.ts';
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
  if (!r.ok) throw new Error(`git worktree list failed: ${r.reason}`);
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
 * which hold no uncommitted work (`git status --porcelain`, untracked files included), with `git
 * worktree remove` (which refuses unclean ones too), then deletes their branch task/<slug> with
 * `git branch -d` when it is merged into base. Never forces anything; says why it kept the rest.
 */
export async function pruneWorktrees(x: PruneInput): Promise<PruneReport> {
  const run: GitRun = { ...(x.env ? { env: x.env } : {}), timeoutMs: 60_000 };
  const folder = path.join(x.repo, WORKTREES_FOLDER);
  const listed = await listWorktrees(x.repo, run);
  const bySlug = new Map(x.tasks.map((t) => [t.slug, t]));
  const recordedBase = (id: string): string | undefined => {
    const claims = [x.registry?.claims[id], ...[...(x.registry?.history ?? [])].reverse().filter((h) => h.id === id)];
    return claims.find((c) => typeof c?.base === 'string')?.base ?? undefined;
  };
  let current: Promise<string | undefined> | undefined;
  const baseOf = async (t: Task): Promise<string | undefined> => x.base ?? recordedBase(t.id) ?? (await (current ??= checkedOut(x.repo, run)));
  const report: PruneReport = { repo: x.repo, base: x.base ?? null, removed: [], kept: [], branches: [] };
  const entries = fs.existsSync(folder) ? fs.readdirSync(folder, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort() : [];
  for (const slug of entries) {
    const wt = path.join(folder, slug);
    const rel = path.join(WORKTREES_FOLDER, slug);
    const t = bySlug.get(slug);
    const item = { path: rel, task: t?.id ?? null, status: t?.status ?? null, dirtyFiles: null, branch: null };
    const keep = (reason: string, more: Partial<PruneItem> = {}): void => { report.kept.push({ ...item, reason, ...more }); };
    const entry = listed.find((l) => samePath(l.path, wt));
    if (!entry) { keep('not a git worktree of this repository; left alone'); continue; }
    if (!t) { keep(`no task file has the name ${slug}.md`); continue; }
    if (!finished(t)) { keep(`task ${t.id} is ${t.status}`); continue; }
    const claim = x.registry?.claims[t.id];
    if (claim && runAlive(claim)) { keep(`its run is still alive (pid ${claim.pid})`); continue; }
    if (entry.locked) { keep(`locked in git (${entry.locked})`); continue; }
    const status = await git(wt, ['status', '--porcelain', '--untracked-files=all'], run);
    if (!status.ok) { keep(`git status failed: ${status.reason}`); continue; }
    const dirty = status.stdout.split('\n').filter((l) => l !== '').length;
    if (dirty > 0) { keep(plural(dirty, 'uncommitted file'), { dirtyFiles: dirty }); continue; }
    // No --force: git itself refuses a worktree that became unclean since we looked.
    const removed = await git(x.repo, ['worktree', 'remove', wt], run);
    if (!removed.ok) { keep(`git worktree remove refused: ${removed.reason}`, { dirtyFiles: 0 }); continue; }
    const branch = entry.branch === branchOf(slug) ? await deleteIfMerged(x.repo, entry.branch, await baseOf(t), run) : null;
    report.removed.push({ ...item, reason: `task ${t.id} ${t.status}`, dirtyFiles: 0, branch });
  }
  // Branches of finished tasks whose worktree is already gone (removed earlier, kept then as unmerged).
  const inUse = new Set(listed.flatMap((l) => l.branch ?? []));
  const refs = await git(x.repo, ['for-each-ref', '--format=%(refname:short)', 'refs/heads/task/'], run);
  const names = refs.ok ? refs.stdout.split('\n').filter((n) => n !== '') : [];
  for (const t of x.tasks) {
    const name = branchOf(t.slug);
    if (!finished(t) || inUse.has(name) || !names.includes(name) || report.removed.some((r) => r.branch?.name === name)) continue;
    report.branches.push(await deleteIfMerged(x.repo, name, await baseOf(t), run));
  }
  return report;
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
