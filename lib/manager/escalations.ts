// Escalations: what needs an operator, from the claims and the task files, with the reason and since when.
import type { Claim } from './registry.ts';
import type { ParseError, Task } from '../tasks/taskfile.ts';

/** An escalation: something an operator must look at. */
export interface Escalation { id: string; reason: string; since: string }

export interface EscalationInput {
  readonly byId: ReadonlyMap<string, Task>;
  readonly reasons: ReadonlyMap<string, string[]>;
  readonly errors: readonly ParseError[];
  readonly claims: Readonly<Record<string, Claim>>;
  readonly escalateAfterS: number;
  readonly now: Date;
  /** When a condition was first seen (kept by the caller across ticks), for conditions with no timestamp of their own. */
  readonly firstSeen: (key: string) => string;
}

/** Everything that needs an operator, one entry per task (run and claim reasons first), then parse errors. */
export function escalations(e: EscalationInput): Escalation[] {
  const out: Escalation[] = [];
  const claimed = new Map<string, [string, string][]>();
  for (const claim of Object.values(e.claims)) {
    const t = e.byId.get(claim.id);
    const reasons = runReasons(claim);
    // A shared registry's claim whose host stopped renewing it: taken over once its lease runs out.
    if (claim.silent && claim.host !== undefined) reasons.unshift([`host ${claim.host} silent since ${claim.renewedAt ?? 'unknown'} (lease until ${claim.leaseUntil ?? 'unknown'})`, claim.renewedAt ?? claim.claimedAt]);
    if (t && t.status !== 'review' && t.status !== 'completed') {
      const due = Date.parse(claim.claimedAt) + e.escalateAfterS * 1000;
      if (e.now.getTime() >= due) reasons.push([`claimed ${formatDuration(e.now.getTime() - Date.parse(claim.claimedAt))} ago without reaching review`, new Date(due).toISOString()]);
    }
    if (reasons.length) claimed.set(claim.id, reasons);
  }
  // Runs that failed or were cut off come first: they are what an operator acts on now.
  const ids = [...new Set([...claimed.keys(), ...e.reasons.keys()])].filter((k) => e.byId.has(k));
  for (const id of ids) {
    const all: [string, string][] = [...(claimed.get(id) ?? []), ...(e.reasons.get(id) ?? []).map((r): [string, string] => [r, e.firstSeen(`${id}:${r}`)])];
    out.push({ id, reason: all.map((r) => r[0]).join('; '), since: (all[0] as [string, string])[1] });
  }
  for (const err of e.errors) out.push({ id: err.path, reason: `parse error: ${err.reason}`, since: e.firstSeen(`${err.path}:parse`) });
  return out;
}

/** Why a claim's run needs an operator (it failed, was cut off or never started), each with since when; empty while it runs or after it exited 0. */
export function runReasons(claim: Claim): [string, string][] {
  const reasons: [string, string][] = [];
  const at = claim.endedAt ?? claim.claimedAt;
  if (claim.state === 'exited' && claim.exitCode !== 0) reasons.push([`run exited with code ${claim.exitCode}`, at]);
  // A claim whose run never started (its worktree could not be made) says why in its note.
  if (claim.state === 'interrupted' && claim.startedAt === null && claim.pid === null && claim.note) reasons.push([`run ${claim.note}`, at]);
  else if (claim.state === 'interrupted') reasons.push([`run interrupted: ${claim.note ?? 'stopped with its heartbeat'}`, at]);
  if (claim.state === 'timed_out') reasons.push([`run ${claim.note ?? 'timed out'}`, at]);
  return reasons;
}

/**
 * The snapshot's escalations plus the runs that failed, were cut off or never started since the
 * last tick (the registry has them at once), first as escalations() puts them: the page and
 * `status` show a failed run among the escalations at once, not at the next tick, up to an interval later.
 */
export function withRunEscalations(list: Escalation[], claims: readonly Claim[]): Escalation[] {
  if (!Array.isArray(list)) return list;
  const fresh: Escalation[] = [];
  const rest = [...list];
  for (const claim of claims) {
    const reasons = runReasons(claim).filter(([r]) => !rest.some((e) => e.id === claim.id && e.reason.includes(r)));
    if (!reasons.length) continue;
    const i = rest.findIndex((e) => e.id === claim.id);
    const had = i >= 0 ? rest.splice(i, 1)[0] : undefined;
    const reason = [...reasons.map((r) => r[0]), ...(had ? [had.reason] : [])].join('; ');
    fresh.push({ id: claim.id, reason, since: (reasons[0] as [string, string])[1] });
  }
  return fresh.length ? [...fresh, ...rest] : list;
}

/** The reasons plus "git failed: …" for the tasks a failing git holds back from dispatch. */
export function withGitReasons(reasons: ReadonlyMap<string, string[]>, held: readonly string[], failure: string | undefined): ReadonlyMap<string, string[]> {
  if (failure === undefined || held.length === 0) return reasons;
  const out = new Map(reasons);
  for (const id of held) out.set(id, [`git failed: ${failure}`, ...(reasons.get(id) ?? [])]);
  return out;
}

/** A duration as an operator reads it: "45 s", "12 min", "1.5 h", "3.2 d". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 48 * 3600) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}
