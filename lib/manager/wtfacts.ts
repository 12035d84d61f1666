// What a claim's worktree holds now (branch, uncommitted files, commits ahead of base): from git, cached, time-boxed.
import fs from 'node:fs';
import path from 'node:path';
import { bounded } from '../base/bounded.ts';
import { checkedOut } from '../base/git.ts';
import { Pool, settleWithin } from './pool.ts';
import { proveWorktree } from './wtproof.ts';

/** A worktree's git state; null where it is not known (no worktree, git failed or was too slow). */
export interface WorktreeFacts {
  /** The branch checked out there; null when detached or unknown. */
  readonly branch: string | null;
  /** Entries of `git status --porcelain --untracked-files=all`: changed, staged and untracked files. */
  readonly dirtyFiles: number | null;
  /** Commits on its HEAD that base does not have. */
  readonly ahead: number | null;
}

export const UNKNOWN_FACTS: WorktreeFacts = Object.freeze({ branch: null, dirtyFiles: null, ahead: null });

/** One worktree asked about, and the base its commits are counted against. */
export interface FactsWant { readonly path: string; readonly base: string | null }

const SEP = '@@tasks-facts@@';

/**
 * Reads a worktree's branch, uncommitted files and commits ahead of base with one shell and three
 * git commands, killed after timeoutMs. Only in a folder proven to be a worktree of repo
 * (proveWorktree): a claim's folder comes from registry.json, which a repository can commit, and
 * git run in a folder shaped like a repository obeys that folder's config. Never throws: what
 * could not be read is null.
 */
export async function readFacts(want: FactsWant, o: { repo: string; env: Readonly<Record<string, string | undefined>>; timeoutMs: number; signal?: AbortSignal }): Promise<WorktreeFacts> {
  if (proveWorktree(o.repo, want.path).kind !== 'worktree') return UNKNOWN_FACTS;
  const range = `${want.base ?? 'HEAD'}..HEAD`;
  const r = await bounded(want.path, { env: o.env, timeoutMs: o.timeoutMs, ceiling: path.dirname(want.path), ...(o.signal ? { signal: o.signal } : {}) },
    (sh) => sh`git symbolic-ref --quiet --short HEAD || true; echo ${SEP}; git rev-list --count ${range} 2>/dev/null || echo '?'; echo ${SEP}; git status --porcelain --untracked-files=all`);
  // The shell could not start there (the folder went away meanwhile), or git was killed: nothing is known.
  if (r.error !== undefined || r.killed !== undefined) return UNKNOWN_FACTS;
  const [branch, ahead, status] = r.stdout.split(`${SEP}\n`);
  const count = Number((ahead ?? '').trim());
  return {
    branch: branch?.trim() || null,
    ahead: want.base !== null && (ahead ?? '').trim() !== '' && Number.isSafeInteger(count) ? count : null,
    // status is the last command: it ran to the end only when the shell exited 0.
    dirtyFiles: r.code === 0 && status !== undefined ? status.split('\n').filter((l) => l !== '').length : null,
  };
}

export interface FactsOptions {
  /** The repository the worktrees belong to: git runs only in those proven to be its worktrees. */
  readonly repo: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Facts younger than this are reused without asking git. */
  readonly ttlMs: number;
  /** Each read of one worktree is killed after this long. */
  readonly timeoutMs: number;
  readonly concurrency: number;
  readonly now: () => Date;
}

interface Entry { at: number; facts: WorktreeFacts; job: Promise<void> | undefined }

/**
 * The facts of the current claims' worktrees, cached per worktree and base for ttlMs. A tick asks
 * for what it needs and waits up to a budget: reads still running then finish in the background
 * and the snapshot shows the last facts known (null the first time), so a slow git never holds a tick.
 */
export class FactsCache {
  private readonly o: FactsOptions;
  private readonly pool: Pool;
  private readonly entries = new Map<string, Entry>();
  private readonly ac = new AbortController();
  private checkedOutBase: { at: number; value: string | undefined; job: Promise<void> | undefined } | undefined;

  constructor(o: FactsOptions) {
    this.o = o;
    this.pool = new Pool(o.concurrency);
  }

  /** Refreshes the facts of these worktrees where they are older than the ttl, waiting up to budgetMs. */
  async refresh(wants: readonly FactsWant[], budgetMs: number): Promise<void> {
    const now = this.o.now().getTime();
    const keys = new Set(wants.map(keyOf));
    // Only current claims are kept: a released claim's worktree is not asked about again.
    for (const [k, e] of this.entries) if (!keys.has(k) && e.job === undefined) this.entries.delete(k);
    const jobs: Promise<void>[] = [];
    for (const want of wants) {
      if (!fs.existsSync(want.path)) continue;
      const k = keyOf(want);
      const e = this.entries.get(k) ?? { at: -Infinity, facts: UNKNOWN_FACTS, job: undefined };
      this.entries.set(k, e);
      if (e.job === undefined && now - e.at >= this.o.ttlMs) {
        e.job = this.pool.run(() => readFacts(want, { repo: this.o.repo, env: this.o.env, timeoutMs: this.o.timeoutMs, signal: this.ac.signal }))
          .then((facts) => { Object.assign(e, { facts, at: this.o.now().getTime() }); })
          .finally(() => { e.job = undefined; });
      }
      if (e.job) jobs.push(e.job);
    }
    await settleWithin(jobs, budgetMs);
  }

  /** The last facts known of a worktree; unknown when it is missing or was never read. */
  facts(want: FactsWant): WorktreeFacts {
    if (!fs.existsSync(want.path)) return UNKNOWN_FACTS;
    return this.entries.get(keyOf(want))?.facts ?? UNKNOWN_FACTS;
  }

  /** The branch (or commit) checked out in repo, asked at most once per ttl: the base of claims that did not record one. */
  async checkedOut(repo: string, budgetMs: number): Promise<string | undefined> {
    const now = this.o.now().getTime();
    const b = (this.checkedOutBase ??= { at: -Infinity, value: undefined, job: undefined });
    if (b.job === undefined && now - b.at >= this.o.ttlMs) {
      b.job = checkedOut(repo, { env: this.o.env, timeoutMs: this.o.timeoutMs, signal: this.ac.signal })
        .then((value) => { Object.assign(b, { value, at: this.o.now().getTime() }); })
        .finally(() => { b.job = undefined; });
    }
    if (b.job) await settleWithin([b.job], budgetMs);
    return b.value;
  }

  /** Stops the reads still running (they only read, so killing them loses nothing). */
  async close(): Promise<void> {
    this.ac.abort();
    await settleWithin([...this.entries.values()].flatMap((e) => e.job ?? []), 2000);
  }
}

function keyOf(w: FactsWant): string {
  return `${w.path}\0${w.base ?? ''}`;
}
