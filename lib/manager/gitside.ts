// What a tick gets from git and gh: where the repository is, worktrees made before dispatch, the claims' worktree state, the PRs' CI.
import { type RepoAnswer, REPO_TIMEOUT_MS } from '../base/git.ts';
import { CiChecks } from './ci.ts';
import { planDispatch } from './dispatch.ts';
import { withGitReasons } from './escalations.ts';
import type { Claim, Registry } from './registry.ts';
import type { SnapshotCi, SnapshotClaim } from './tick.ts';
import { factsWant, snapshotClaims } from './view.ts';
import { WorktreePrep } from './worktrees.ts';
import { FactsCache } from './wtfacts.ts';
import { settleWithin } from './pool.ts';
import type { Task } from '../tasks/taskfile.ts';

/** How long a tick waits for the worktrees it is about to dispatch into; the rest go out at a later tick. */
export const PREPARE_BUDGET_MS = 1000;
/** How long a tick waits for git to say what the claims' worktrees hold; slower answers show at a later tick. */
export const FACTS_BUDGET_MS = 250;
/** How long a tick waits for git to say where the repository is; a slower git is waited for by later ticks (it is killed at REPO_TIMEOUT_MS). */
export const LOCATE_BUDGET_MS = 1000;
/** A worktree's git state is asked again after this long; each read is killed after as long. */
const FACTS_TTL_MS = 5000;

export interface GitSideOptions {
  /** The top folder of the git work tree that holds the tasks folder (undefined: outside git), or how to ask git for it. */
  readonly repo: string | undefined | ((signal: AbortSignal) => Promise<RepoAnswer>);
  /** Worktrees are wanted (on, or the default): they are made only inside git. */
  readonly worktrees: boolean;
  /** worktrees=on: outside git nothing is dispatched (never in the shared folder), whenever git says so. */
  readonly required: boolean;
  /** The tasks folder, named when worktrees=on finds no repository. */
  readonly dir: string;
  readonly base: string | undefined;
  /** Tasks are dispatched (dispatch= is set). */
  readonly dispatch: boolean;
  /** This host's name in a shared registry (another host's worktrees are not looked at). */
  readonly host?: string | undefined;
  /** Where gh runs outside git. */
  readonly root: string;
  /** With once, everything is waited for: the one snapshot is all `heartbeat --once` gives. */
  readonly once: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: (line: string) => void;
  readonly now: () => Date;
}

/**
 * What a tick may do, given what git said about the repository: `known` once git answered (in a
 * repository, or not in one); otherwise git failed or has not answered yet, with the reason of
 * its last failure (undefined while the first ask is under way).
 */
export type GitState = { readonly known: true } | { readonly known: false; readonly failure: string | undefined };

/** One question to git about the repository, under way or answered. */
interface Asking { readonly at: number; answer: RepoAnswer | undefined; job: Promise<void> }

/** The git and gh side of one heartbeat; the repository is asked for at the first tick and again at each tick until git answers. */
export class GitSide {
  private readonly o: GitSideOptions;
  private readonly ci: CiChecks;
  /** Set once git has answered: the repository root, or undefined outside git. */
  private located: { readonly repo: string | undefined } | undefined;
  private asking: Asking | undefined;
  private failure: string | undefined;
  private facts: FactsCache | undefined;
  private preparer: WorktreePrep | undefined;
  /** Ends an ask still under way when the heartbeat stops. */
  private readonly ac = new AbortController();

  constructor(o: GitSideOptions) {
    this.o = o;
    if (typeof o.repo !== 'function') this.settle(o.repo);
    this.ci = new CiChecks({ env: o.env, cwd: () => this.located?.repo ?? o.root, now: o.now, log: o.log });
  }

  /** Each dispatched task runs in its own worktree: wanted, and git said where the repository is. */
  get worktrees(): boolean {
    return this.o.worktrees && this.located?.repo !== undefined;
  }

  /** Makes the worktrees of dispatched tasks; undefined when worktrees are off, outside git, or git has not answered. */
  get prep(): WorktreePrep | undefined {
    return this.preparer;
  }

  /**
   * Asks git where the repository is, until it answers: a failure (a time-out, exit 128 "dubious
   * ownership") is never taken for "not in git", and is asked again at the next tick. Waits up to
   * LOCATE_BUDGET_MS from the ask's start (all of it with once): a hanging git never holds a tick.
   */
  async locate(): Promise<GitState> {
    if (this.located) return { known: true };
    const asking = (this.asking ??= this.ask());
    await settleWithin([asking.job], this.o.once ? REPO_TIMEOUT_MS + 5000 : asking.at + LOCATE_BUDGET_MS - Date.now());
    let answer = asking.answer;
    if (answer === undefined) return { known: false, failure: this.failure };
    this.asking = undefined;
    // worktrees=on was checked at start, but a git that failed then may answer "no repository" later.
    if (answer.kind === 'none' && this.o.required && this.o.dispatch) answer = { kind: 'failed', reason: `worktrees=on, but ${this.o.dir} is not inside a git repository; run git init there, or pass worktrees=off` };
    if (answer.kind === 'failed') {
      // Said once per reason: the escalation of the tasks it holds back stays in the snapshot meanwhile.
      if (answer.reason !== this.failure) {
        const held = this.o.worktrees && this.o.dispatch ? 'no task is dispatched until git answers' : 'worktree state and CI are unknown until git answers';
        this.o.log(`${this.o.now().toISOString()} git failed: ${answer.reason}; ${held} (asked again at each tick)`);
      }
      this.failure = answer.reason;
      return { known: false, failure: answer.reason };
    }
    if (this.failure !== undefined) this.o.log(`${this.o.now().toISOString()} git answers again: ${answer.kind === 'repo' ? `repository ${answer.root}` : 'not in a git repository'}`);
    this.failure = undefined;
    this.settle(answer.kind === 'repo' ? answer.root : undefined);
    return { known: true };
  }

  /** Dispatch waits: worktrees are wanted and git has not said where the repository is (it failed, hangs, or worktrees=on found none). */
  held(state: GitState): boolean {
    return this.o.dispatch && this.o.worktrees && !state.known;
  }

  /** The reasons plus "git failed: …" for the tasks this tick would have dispatched, while git holds them back. */
  withHeld(state: GitState, reasons: ReadonlyMap<string, string[]>, candidates: readonly Task[], reg: Registry, owner: string, max: number, active: number): ReadonlyMap<string, string[]> {
    if (state.known || state.failure === undefined || !this.held(state)) return reasons;
    return withGitReasons(reasons, planDispatch(candidates, reg, owner, max, active, this.o.host).map((t) => t.id), state.failure);
  }

  /**
   * Makes the worktrees of the tasks the coming registry update is expected to start, waiting up
   * to the budget. reg is the registry as it is now, read without its lock.
   */
  async prepare(candidates: readonly Task[], reg: () => Registry | undefined, owner: string, max: number, active: number): Promise<void> {
    if (!this.preparer || candidates.length === 0) return;
    await this.preparer.prepare(planDispatch(candidates, reg(), owner, max, active, this.o.host).map((t) => t.slug), this.o.once ? Infinity : PREPARE_BUDGET_MS);
  }

  /** The snapshot's claims (with their worktrees' git state) and its per-task CI. */
  async snapshotParts(claims: Readonly<Record<string, Claim>>, byId: ReadonlyMap<string, Task>): Promise<{ ci: Record<string, SnapshotCi>; claims: (now: Date) => SnapshotClaim[] }> {
    if (this.o.once) {
      this.ci.states(byId.values());
      await this.ci.settled();
    }
    const ci = this.ci.states(byId.values());
    const list = Object.values(claims);
    const repo = this.located?.repo;
    // Claims of older heartbeats recorded no base: theirs is base=, else the branch checked out now.
    const unrecorded = this.worktrees && list.some((c) => c.base === undefined);
    const base = this.o.base ?? (unrecorded && this.facts && repo !== undefined ? await this.facts.checkedOut(repo, FACTS_BUDGET_MS) : undefined);
    // Until git has said where the repository is, claims are shown as older heartbeats' are: by what they recorded.
    const view = { worktrees: this.located ? this.worktrees : this.o.worktrees, base, host: this.o.host, facts: this.facts, pr: (id: string) => byId.get(id)?.pr ?? null, ci: (id: string) => ci[id]?.state ?? byId.get(id)?.ci ?? 'unknown' };
    await this.facts?.refresh(list.flatMap((c) => factsWant(c, view) ?? []), this.o.once ? FACTS_TTL_MS + 1000 : FACTS_BUDGET_MS);
    return { ci, claims: (now) => snapshotClaims(claims, { ...view, now }) };
  }

  async close(): Promise<void> {
    this.ac.abort();
    await Promise.all([this.asking?.job, this.preparer?.close(), this.facts?.close(), this.ci.close()]);
  }

  /** Starts one ask of git (findRepo is bounded: it answers "failed" once git is killed at its deadline). */
  private ask(): Asking {
    const a: Asking = { at: Date.now(), answer: undefined, job: Promise.resolve() };
    a.job = (this.o.repo as (signal: AbortSignal) => Promise<RepoAnswer>)(this.ac.signal).then(
      (answer) => { a.answer = answer; },
      (err: unknown) => { a.answer = { kind: 'failed', reason: err instanceof Error ? err.message : String(err) }; },
    );
    return a;
  }

  /** Git has said where the repository is (or that there is none): the worktree makers and readers are set up. */
  private settle(repo: string | undefined): void {
    this.located = { repo };
    if (repo === undefined) return;
    if (this.o.worktrees && this.o.dispatch) this.preparer = new WorktreePrep({ repo, base: this.o.base, env: this.o.env, log: this.o.log, now: this.o.now });
    this.facts = new FactsCache({ repo, env: this.o.env, ttlMs: FACTS_TTL_MS, timeoutMs: FACTS_TTL_MS, concurrency: 2, now: this.o.now });
  }
}
