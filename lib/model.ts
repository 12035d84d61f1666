import type { Claim } from './registry.ts';
import type { ParseError, Task } from './taskfile.ts';

/** An escalation: something an operator must look at (SPEC §6). */
export interface Escalation { id: string; reason: string; since: string }

/** Rank of a priority: p0 first, unknown text after p3, none last. */
export function priorityRank(priority: string | null): number {
  if (priority === null) return 9;
  const m = /^p([0-3])$/.exec(priority);
  return m ? Number(m[1]) : 8;
}

/** Dependency problems per task id: missing ids and cycles. */
export function dependencyProblems(tasks: readonly Task[]): Map<string, string> {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const problems = new Map<string, string>();
  for (const t of tasks) {
    const missing = t.dependsOn.filter((d) => !byId.has(d));
    if (missing.length) problems.set(t.id, `missing dependency ${missing.join(', ')}`);
  }
  // Iterative DFS colouring; every task on a cycle is reported with the cycle's path.
  const colour = new Map<string, 1 | 2>();
  for (const start of tasks) {
    if (colour.has(start.id)) continue;
    const stack: { id: string; next: number }[] = [{ id: start.id, next: 0 }];
    colour.set(start.id, 1);
    while (stack.length) {
      const top = stack[stack.length - 1] as { id: string; next: number };
      const deps = byId.get(top.id)?.dependsOn ?? [];
      if (top.next >= deps.length) {
        colour.set(top.id, 2);
        stack.pop();
        continue;
      }
      const dep = deps[top.next++] as string;
      if (!byId.has(dep)) continue;
      const c = colour.get(dep);
      if (c === 1) {
        const from = stack.findIndex((s) => s.id === dep);
        const cycle = [...stack.slice(from).map((s) => s.id), dep];
        for (const id of cycle) if (!problems.has(id)) problems.set(id, `dependency cycle ${cycle.join(' -> ')}`);
      } else if (c === undefined) {
        colour.set(dep, 1);
        stack.push({ id: dep, next: 0 });
      }
    }
  }
  return problems;
}

/** Ready candidates = status ready, every dependency completed, no dependency problem; best first. Claims are filtered by the caller. */
export function readyCandidates(tasks: readonly Task[], problems: ReadonlyMap<string, string>, createdOf: (t: Task) => string): Task[] {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  return tasks
    .filter((t) => t.status === 'ready' && !problems.has(t.id) && t.dependsOn.every((d) => byId.get(d)?.status === 'completed'))
    .sort((a, b) => priorityRank(a.priority) - priorityRank(b.priority) || createdOf(a).localeCompare(createdOf(b)) || a.id.localeCompare(b.id));
}

/** Counts by normalised status, plus total. */
export function countByStatus(tasks: readonly Task[]): Record<string, number> {
  const tally = new Map<string, number>();
  for (const t of tasks) tally.set(t.status, (tally.get(t.status) ?? 0) + 1);
  // Lifecycle order, then any unknown statuses: the order operators read them in.
  const order = [...STATUS_ORDER.filter((s) => tally.has(s)), ...[...tally.keys()].filter((s) => !STATUS_ORDER.includes(s)).sort()];
  return { total: tasks.length, ...Object.fromEntries(order.map((s) => [s, tally.get(s) as number])) };
}

/** Statuses in lifecycle order. */
export const STATUS_ORDER: readonly string[] = ['draft', 'todo', 'ready', 'in_progress', 'blocked', 'review', 'completed', 'cancelled'];

/** Escalation reasons that depend on the task files only (cacheable while nothing changed). */
export function taskReasons(tasks: readonly Task[], problems: ReadonlyMap<string, string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const t of tasks) {
    const reasons: string[] = [];
    // A finished task needs nobody: its stale dependency list is not an escalation.
    const finished = t.status === 'completed' || t.status === 'cancelled';
    if (t.status === 'blocked') reasons.push('status blocked');
    const problem = problems.get(t.id);
    if (problem && !finished) reasons.push(problem);
    if (t.ci === 'failing') reasons.push('CI failing' + (t.pr ? ` on ${t.pr}` : ''));
    if (reasons.length) out.set(t.id, reasons);
  }
  return out;
}

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
    const reasons: [string, string][] = [];
    if (claim.state === 'exited' && claim.exitCode !== 0) reasons.push([`run exited with code ${claim.exitCode}`, claim.endedAt ?? claim.claimedAt]);
    if (claim.state === 'interrupted') reasons.push([`run interrupted: ${claim.note ?? 'stopped with its heartbeat'}`, claim.endedAt ?? claim.claimedAt]);
    if (t && t.status !== 'review' && t.status !== 'completed') {
      const due = Date.parse(claim.claimedAt) + e.escalateAfterS * 1000;
      if (e.now.getTime() >= due) reasons.push([`claimed ${formatHours(e.now.getTime() - Date.parse(claim.claimedAt))} ago without reaching review`, new Date(due).toISOString()]);
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

function formatHours(ms: number): string {
  const h = ms / 3_600_000;
  return h >= 1 ? `${h.toFixed(1)} h` : `${Math.round(ms / 60_000)} min`;
}
