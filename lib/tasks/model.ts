// The task model: statuses and priorities in order, readiness, dependency problems, counts.
import type { ParseError, Task } from './taskfile.ts';

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
