// What a tick gets from git and gh: worktrees made before dispatch, the claims' worktree state, the PRs' CI.
import { CiChecks } from './ci.ts';
import { planDispatch } from './dispatch.ts';
import type { Claim, Registry } from './registry.ts';
import type { SnapshotCi, SnapshotClaim } from './tick.ts';
import { factsWant, snapshotClaims } from './view.ts';
import { WorktreePrep } from './worktrees.ts';
import { FactsCache } from './wtfacts.ts';
import type { Task } from '../tasks/taskfile.ts';

/** How long a tick waits for the worktrees it is about to dispatch into; the rest go out at a later tick. */
export const PREPARE_BUDGET_MS = 1000;
/** How long a tick waits for git to say what the claims' worktrees hold; slower answers show at a later tick. */
export const FACTS_BUDGET_MS = 250;
/** A worktree's git state is asked again after this long; each read is killed after as long. */
const FACTS_TTL_MS = 5000;

export interface GitSideOptions {
  /** The top folder of the git work tree that holds the tasks folder; undefined outside git. */
  readonly repo: string | undefined;
  /** Worktrees are wanted (on, or the default): they are made only inside git. */
  readonly worktrees: boolean;
  readonly base: string | undefined;
  /** Tasks are dispatched (dispatch= is set). */
  readonly dispatch: boolean;
  /** Where gh runs outside git. */
  readonly root: string;
  /** With once, everything is waited for: the one snapshot is all `heartbeat --once` gives. */
  readonly once: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: (line: string) => void;
  readonly now: () => Date;
}

/** The git and gh side of one heartbeat, set up once the repository is known. */
export class GitSide {
  /** Each dispatched task runs in its own worktree. */
  readonly worktrees: boolean;
  readonly prep: WorktreePrep | undefined;
  private readonly o: GitSideOptions;
  private readonly facts: FactsCache | undefined;
  private readonly ci: CiChecks;

  constructor(o: GitSideOptions) {
    this.o = o;
    this.worktrees = o.worktrees && o.repo !== undefined;
    this.prep = this.worktrees && o.dispatch ? new WorktreePrep({ repo: o.repo as string, base: o.base, env: o.env, log: o.log, now: o.now }) : undefined;
    this.facts = o.repo === undefined ? undefined : new FactsCache({ env: o.env, ttlMs: FACTS_TTL_MS, timeoutMs: FACTS_TTL_MS, concurrency: 2, now: o.now });
    this.ci = new CiChecks({ env: o.env, cwd: o.repo ?? o.root, now: o.now, log: o.log });
  }

  /**
   * Makes the worktrees of the tasks the coming registry update is expected to start, waiting up
   * to the budget. reg is the registry as it is now, read without its lock.
   */
  async prepare(candidates: readonly Task[], reg: () => Registry | undefined, owner: string, max: number, active: number): Promise<void> {
    if (!this.prep || candidates.length === 0) return;
    await this.prep.prepare(planDispatch(candidates, reg(), owner, max, active), this.o.once ? Infinity : PREPARE_BUDGET_MS);
  }

  /** The snapshot's claims (with their worktrees' git state) and its per-task CI. */
  async snapshotParts(claims: Readonly<Record<string, Claim>>, byId: ReadonlyMap<string, Task>): Promise<{ ci: Record<string, SnapshotCi>; claims: (now: Date) => SnapshotClaim[] }> {
    if (this.o.once) {
      this.ci.states(byId.values());
      await this.ci.settled();
    }
    const ci = this.ci.states(byId.values());
    const list = Object.values(claims);
    // Claims of older heartbeats recorded no base: theirs is base=, else the branch checked out now.
    const unrecorded = this.worktrees && list.some((c) => c.base === undefined);
    const base = this.o.base ?? (unrecorded && this.facts ? await this.facts.checkedOut(this.o.repo as string, FACTS_BUDGET_MS) : undefined);
    const view = { worktrees: this.worktrees, base, facts: this.facts, pr: (id: string) => byId.get(id)?.pr ?? null, ci: (id: string) => ci[id]?.state ?? byId.get(id)?.ci ?? 'unknown' };
    await this.facts?.refresh(list.flatMap((c) => factsWant(c, view) ?? []), this.o.once ? FACTS_TTL_MS + 1000 : FACTS_BUDGET_MS);
    return { ci, claims: (now) => snapshotClaims(claims, { ...view, now }) };
  }

  async close(): Promise<void> {
    await Promise.all([this.prep?.close(), this.facts?.close(), this.ci.close()]);
  }
}
