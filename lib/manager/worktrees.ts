// Git worktrees of dispatched tasks: .worktrees/<name> on branch task/<name>, one name per slug, made (or reused) before a run starts.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { GitRun } from '../base/bounded.ts';
import { type GitResult, git, headOf } from '../base/git.ts';
import { Pool, settleWithin } from './pool.ts';
import { type Proof, WORKTREES_FOLDER, proveWorktree, worktreesFolderProblem } from './wtproof.ts';
import { isErrno } from '../base/errors.ts';

/** How long one `git worktree add` may take (a checkout of a large tree, a post-checkout hook) before it is killed. */
export const ADD_TIMEOUT_MS = 120_000;

/** A slug used as it is: dot-separated words of letters, digits, `_` and `-` (a ref git accepts and a plain folder name). */
const SAFE_NAME = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;
/** What every hashed name ends with; a slug that looks like it is hashed too, so no slug can take another's name. */
const HASHED_NAME = /(?:^|-)[0-9a-f]{8}$/;
/** Longer slugs are hashed: git writes `refs/heads/task/<name>.lock`, and a file name has at most 255 bytes. */
const NAME_MAX = 100;

/**
 * The one name of a task's worktree folder and branch: the slug itself when it is a safe name
 * (see SAFE_NAME, not ending in `.lock`, at most 100 characters), else its safe part plus a
 * short hash of the whole slug: `x.lock` is `x-lock-<hash>`, `é` is `<hash>`. Hashed names
 * always end in `-<8 hex>` (or are 8 hex) and slugs that do are hashed too, so two different
 * slugs never share a name (short of a hash collision), whatever the files are called.
 */
export function worktreeName(slug: string): string {
  if (SAFE_NAME.test(slug) && !/\.lock$/i.test(slug) && !HASHED_NAME.test(slug) && slug.length <= NAME_MAX) return slug;
  const hash = crypto.createHash('sha256').update(slug).digest('hex').slice(0, 8);
  const part = slug.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 60).replace(/^-+|-+$/g, '');
  return part ? `${part}-${hash}` : hash;
}

/** Where a task's worktree lives: <repo>/.worktrees/<name>. */
export function worktreePath(repo: string, slug: string): string {
  return path.join(repo, WORKTREES_FOLDER, worktreeName(slug));
}

/** The branch of a task's worktree: task/<name> (see worktreeName). Claims record the branch they were given. */
export function branchOf(slug: string): string {
  return `task/${worktreeName(slug)}`;
}

/** True when wt is a worktree git made for repo (proveWorktree): the only folder under .worktrees/ git is run in, or a task. */
export function isWorktree(repo: string, wt: string): boolean {
  return proveWorktree(repo, wt).kind === 'worktree';
}

/** Why a worktree cannot be made when nothing is checked out (and no base= given). */
const NO_BASE = 'no branch or commit is checked out to start from; pass base=<branch>';

/** Failures of `git worktree add` that come from another git command running at the same time. */
const TRANSIENT = /failed to read .*worktrees|unable to create .*\.lock|\.lock': File exists/i;

/** A task's worktree, ready for its run, or why it could not be made. */
export type Prepared =
  | { readonly ok: true; readonly path: string; readonly branch: string; readonly base: string | null; readonly reused: boolean }
  | { readonly ok: false; readonly path: string; readonly branch: string; readonly base: string | null; readonly reason: string };

/**
 * Makes the worktree of one task, or reuses the one that is there (a rerun continues the work). A
 * new folder gets branch task/<name> from base, or that branch when it exists already. A folder
 * in its place that git did not make for this repository (proveWorktree), or a .worktrees that is
 * a link, is refused: git is never run in it nor through it. Never throws: a failure is the
 * value, with git's one-line reason.
 */
export async function prepareWorktree(repo: string, slug: string, base: string | undefined, run: GitRun = {}, noBase = NO_BASE): Promise<Prepared> {
  const wt = worktreePath(repo, slug);
  const branch = branchOf(slug);
  const made = { path: wt, branch, base: base ?? null };
  const proof = await settledProof(repo, wt);
  if (proof.kind === 'worktree') return { ...made, ok: true, reused: true };
  if (proof.kind === 'foreign') return { ...made, ok: false, reason: proof.reason };
  if (base === undefined) return { ...made, ok: false, reason: noBase };
  const timed: GitRun = { timeoutMs: ADD_TIMEOUT_MS, ...run };
  const add = async (): Promise<GitResult> => {
    // A new branch first (one git call in the usual case); --no-track: a task branch made from a
    // remote branch (base=origin/main) must not take it as its upstream. An existing branch is
    // checked out as it is: a rerun continues its work.
    const made = await git(repo, ['worktree', 'add', '--quiet', '--no-track', '-b', branch, wt, base], timed);
    return !made.ok && /already exists/.test(made.reason) && proveWorktree(repo, wt).kind === 'absent' ? git(repo, ['worktree', 'add', '--quiet', wt, branch], timed) : made;
  };
  let r = await add();
  // git reads every worktree's admin folder while adding one: another add under way (a second
  // heartbeat on this repository) can make that read fail half-way. Such a failure is retried.
  for (let i = 0; i < 3 && !r.ok && TRANSIENT.test(r.reason) && !isWorktree(repo, wt); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 150));
    r = await add();
  }
  // Something took its place meanwhile (a pull that brought a .worktrees link): git is not asked
  // again. Another heartbeat's add of the same worktree is waited for (settledProof).
  const after = r.ok || r.killed ? proveWorktree(repo, wt) : await settledProof(repo, wt);
  if (!r.ok && after.kind === 'foreign') return { ...made, ok: false, reason: after.reason };
  if (!r.ok && /missing but already registered/.test(r.reason)) {
    // Its folder was deleted by hand while git still lists it: the folder (and any work in it) is
    // gone already, so forgetting the stale entries loses nothing; the branch stays.
    await git(repo, ['worktree', 'prune'], run);
    r = await add();
  }
  if (!r.ok && r.killed && worktreesFolderProblem(repo) === undefined && fs.lstatSync(wt, { throwIfNoEntry: false })?.isDirectory()) {
    // Our own add, cut off at its deadline: what it left is no worktree to run in (git cleans up
    // on the TERM, not on the KILL that follows). It holds nothing but that checkout.
    const gone = await git(repo, ['worktree', 'remove', '--force', wt], run);
    return { ...made, ok: false, reason: `git worktree add failed: ${r.reason}${gone.ok || !fs.existsSync(wt) ? '' : `; remove the half-made ${wt} by hand (git worktree remove --force)`}` };
  }
  // Another heartbeat on this repository may have made it meanwhile: then it is there to reuse.
  if (!r.ok && isWorktree(repo, wt)) return { ...made, ok: true, reused: true };
  return r.ok ? { ...made, ok: true, reused: false } : { ...made, ok: false, reason: `git worktree add failed: ${r.reason}` };
}

/** How long a worktree another add is making (see inTheMaking) is waited for before it is taken for a foreign folder. */
export const OTHER_ADD_WAIT_MS = 30_000;

/**
 * True when wt is a real folder that holds nothing but, at most, a `.git` file: a worktree git is
 * making (it makes the folder, writes .git, then checks out) for another heartbeat on this
 * repository, or one an add cut off half-way left. A repository cannot commit such a folder:
 * git tracks no empty folder and no `.git`.
 */
function inTheMaking(wt: string): boolean {
  try {
    if (!fs.lstatSync(wt).isDirectory()) return false;
    return fs.readdirSync(wt).every((name) => name === '.git');
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return false;
    throw err;
  }
}

/**
 * proveWorktree, waiting while wt is in the making (up to OTHER_ADD_WAIT_MS): a task is never
 * failed for the worktree another heartbeat is making for it. Only lstat and small reads; no git
 * runs in wt.
 */
async function settledProof(repo: string, wt: string): Promise<Proof> {
  const deadline = Date.now() + OTHER_ADD_WAIT_MS;
  for (;;) {
    const proof = proveWorktree(repo, wt);
    if (proof.kind !== 'foreign' || worktreesFolderProblem(repo) !== undefined || !inTheMaking(wt) || Date.now() > deadline) return proof;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface PrepOptions {
  /** The top folder of the git work tree that holds the tasks folder. */
  readonly repo: string;
  /** base=: the branch new worktrees start from; undefined: the one checked out in repo when they are made. */
  readonly base: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;

  readonly log: (line: string) => void;
  readonly now: () => Date;
}

/**
 * The worktrees a tick is about to dispatch into, made ahead of the registry update (which holds
 * the registry lock and must stay short). Each tick asks for the tasks it plans to start and
 * waits for them up to a budget; what is not ready by then goes on in the background and is
 * dispatched by a later tick, so many tasks going out at once never hold a tick for long.
 */
export class WorktreePrep {
  private readonly o: PrepOptions;
  private readonly pool: Pool;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly ready = new Map<string, Prepared>();

  constructor(o: PrepOptions) {
    this.o = o;
    // One at a time: git 2.39 fails an add that reads the admin folder of another add under way.
    this.pool = new Pool(1);
  }

  /** Starts making the worktrees of these slugs (unless ready or under way) and waits for them up to budgetMs. */
  async prepare(slugs: readonly string[], budgetMs: number): Promise<void> {
    const want = new Set(slugs);
    // A result nobody plans to use any more (another owner took the task) is dropped; the folder stays for reuse.
    for (const slug of this.ready.keys()) if (!want.has(slug)) this.ready.delete(slug);
    const fresh = slugs.filter((s) => !this.ready.has(s) && !this.inFlight.has(s));
    if (fresh.length) {
      const run: GitRun = { env: this.o.env };
      // One look at the checked-out branch per batch: every worktree of the batch starts from the same base.
      let base: ReturnType<typeof headOf> | undefined;
      const baseOnce = (): ReturnType<typeof headOf> => (base ??= this.o.base !== undefined ? Promise.resolve({ name: this.o.base }) : headOf(this.o.repo, run));
      for (const slug of fresh) {
        const job = this.pool.run(async () => {
          const from = await baseOnce();
          const p = await prepareWorktree(this.o.repo, slug, from.name, run, from.name === undefined && from.reason !== undefined ? `git failed: ${from.reason}` : NO_BASE);
          if (p.ok && !p.reused) this.o.log(`${this.o.now().toISOString()} made worktree ${p.path} on ${p.branch} from ${p.base}`);
          return p;
        }).then((p) => { this.ready.set(slug, p); }, (err: unknown) => {
          this.ready.set(slug, { ok: false, path: worktreePath(this.o.repo, slug), branch: branchOf(slug), base: null, reason: `making the worktree failed: ${(err as Error).message}` });
        }).finally(() => this.inFlight.delete(slug));
        this.inFlight.set(slug, job);
      }
    }
    await settleWithin(slugs.flatMap((s) => this.inFlight.get(s) ?? []), budgetMs);
  }

  /** The prepared worktree of a slug, once it is ready; undefined while it is being made or was never asked for. */
  result(slug: string): Prepared | undefined {
    const p = this.ready.get(slug);
    // Pruned or deleted since it was made: make it again next time.
    if (p?.ok && !isWorktree(this.o.repo, p.path)) {
      this.ready.delete(slug);
      return undefined;
    }
    return p;
  }

  /** Forgets a slug's result once a claim holds it (its run started, or its failure is recorded). */
  consume(slug: string): void {
    this.ready.delete(slug);
  }

  /**
   * Waits a little for worktrees still being made when the heartbeat stops. They are not killed:
   * a `git worktree add` cut off half-way would leave a folder that looks reusable but is not.
   */
  async close(): Promise<void> {
    await settleWithin([...this.inFlight.values()], 3000);
  }
}
