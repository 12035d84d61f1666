// The snapshot's claims: each registry claim with its age, its worktree's git state and its PR's CI.
import fs from 'node:fs';
import { type Claim, isLocal } from './registry.ts';
import type { SnapshotClaim } from './tick.ts';
import { type FactsCache, type FactsWant, UNKNOWN_FACTS } from './wtfacts.ts';

export interface ClaimView {
  readonly now: Date;
  /** This heartbeat runs tasks in worktrees: what claims of older heartbeats (which recorded no branch) are taken to expect. */
  readonly worktrees: boolean;
  /** The base of claims that recorded none: base=, else the branch checked out now; undefined when unknown. */
  readonly base: string | undefined;
  readonly facts: FactsCache | undefined;
  readonly pr: (id: string) => string | null;
  readonly ci: (id: string) => string;
  /** This host's name in a shared registry: another host's worktree is not looked at here. */
  readonly host?: string | undefined;
}

/** True when the claim's run works in a worktree: it recorded a branch, or (an older claim) this heartbeat makes worktrees. */
export function worktreeExpected(c: Claim, worktrees: boolean): boolean {
  return c.branch === undefined ? worktrees : c.branch !== null;
}

/** The worktree whose git state the snapshot shows for a claim, if one is expected. */
export function factsWant(c: Claim, v: Pick<ClaimView, 'worktrees' | 'base' | 'host'>): FactsWant | undefined {
  if (!worktreeExpected(c, v.worktrees) || c.worktree === '' || !isLocal(c, v.host)) return undefined;
  return { path: c.worktree, base: c.base ?? v.base ?? null };
}

/** The claims as the snapshot lists them. */
export function snapshotClaims(claims: Readonly<Record<string, Claim>>, v: ClaimView): SnapshotClaim[] {
  return Object.values(claims).map((c) => {
    const want = factsWant(c, v);
    const facts = want && v.facts ? v.facts.facts(want) : UNKNOWN_FACTS;
    return {
      ...c,
      owner: c.claimedBy,
      ageS: Math.round((v.now.getTime() - Date.parse(c.claimedAt)) / 1000),
      worktreeExists: c.worktree !== '' && isLocal(c, v.host) && fs.existsSync(c.worktree),
      worktreeExpected: want !== undefined,
      // The branch checked out there; without a worktree (yet), the one it is to be made on.
      branch: facts.branch ?? (want ? c.branch ?? null : null),
      dirtyFiles: facts.dirtyFiles,
      ahead: facts.ahead,
      base: want?.base ?? null,
      pr: v.pr(c.id),
      ci: v.ci(c.id),
    };
  });
}
