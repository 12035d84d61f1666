// The task model: statuses and priorities in order, id resolution, readiness, dependency problems, counts.
import { CANONICAL_STATUSES, customStatuses, foldId, normaliseStatus, priorityLevel } from './mapping.ts';
import { shellArg } from '../base/shellword.ts';
import type { Task } from './taskfile.ts';

export { foldId, ownerKey } from './mapping.ts';

/**
 * Rank of a priority across scales, case-insensitive: p0 = critical (0) > p1 = high (1) >
 * p2 = medium (2) > p3 = low (3) > p4 (4) > any other text (8) > none (9).
 */
export function priorityRank(priority: string | null): number {
  if (priority === null) return 9;
  return priorityLevel(priority) ?? 8;
}

/** Statuses in lifecycle order. */
export const STATUS_ORDER: readonly string[] = CANONICAL_STATUSES;

/**
 * The canonical statuses in lifecycle order, then the folder's custom statuses (as its config
 * declares them, folded; those that fold to a canonical one dropped) in config order.
 */
export function statusOrder(custom: readonly string[] = []): string[] {
  return [...STATUS_ORDER, ...customStatuses(custom)];
}

/** Finds the task a reference names. */
export interface TaskIndex {
  /**
   * The task `ref` names: the first of `matches(ref)` (an active task before a draft before an
   * archived one, then the first in path order).
   */
  resolve(ref: string): Task | undefined;
  /**
   * Every task `ref` names at the first step that names any: the exact id, then the id
   * case-insensitively, then the folded id (foldId, or one of the task's aliases: in Backlog.md
   * `task-24.1` and `24.1` name BACK-24.1; a fold never crosses prefixes, so `task-8` never names
   * DRAFT-8). Only the best of active, draft, archived is kept, in path order. More than one task
   * with different ids means the reference is ambiguous.
   */
  matches(ref: string): readonly Task[];
}

/** One task, or several when a key names more than one (rare: kept apart so the common case costs no array). */
type Slot = Task | Task[];

/** An id resolver over a task list (build it once per list: it indexes every id three ways). */
export function taskIndex(tasks: readonly Task[]): TaskIndex {
  const exact = new Map<string, Slot>();
  const lower = new Map<string, Slot>();
  const folded = new Map<string, Slot>();
  const add = (map: Map<string, Slot>, key: string, t: Task): void => {
    const slot = map.get(key);
    if (slot === undefined) map.set(key, t);
    else if (Array.isArray(slot)) slot.push(t);
    else if (slot !== t) map.set(key, [slot, t]);
  };
  // Active tasks first, drafts after them, archived ones last, so each key's first task is the one
  // that wins: `2` names tasks/task-2 rather than an archived task-2.
  const ordered = [0, 1, 2].flatMap((r) => tasks.filter((t) => referenceRank(t) === r));
  for (const t of ordered) {
    add(exact, t.id, t);
    add(lower, t.id.toLowerCase(), t);
    add(folded, foldId(t.id), t);
    for (const alias of t.aliases) add(folded, alias, t);
  }
  const matches = (ref: string): readonly Task[] => {
    const r = ref.trim();
    const slot = exact.get(r) ?? lower.get(r.toLowerCase()) ?? folded.get(foldId(r));
    if (slot === undefined) return [];
    if (!Array.isArray(slot)) return [slot];
    const best = referenceRank(slot[0] as Task);
    return slot.filter((t) => referenceRank(t) === best);
  };
  return { resolve: (ref) => matches(ref)[0], matches };
}

/** 0 for an active task, 1 for a draft, 2 for an archived one: the order in which a reference prefers them. */
export function referenceRank(t: Task): number {
  return t.archived ? 2 : t.status === 'draft' ? 1 : 0;
}

/**
 * Dependency problems of the active tasks by id: references that name no task, and cycles.
 * References resolve through taskIndex; an archived task may satisfy a reference.
 */
export function dependencyProblems(tasks: readonly Task[], index: TaskIndex = taskIndex(tasks)): Map<string, string> {
  const problems = new Map<string, string>();
  const deps = new Map<Task, Task[]>();
  const depsOf = (t: Task): Task[] => {
    let list = deps.get(t);
    if (list === undefined) {
      list = t.dependsOn.flatMap((d) => index.resolve(d) ?? []);
      deps.set(t, list);
    }
    return list;
  };
  for (const t of tasks) {
    if (t.archived) continue;
    const missing = t.dependsOn.filter((d) => index.resolve(d) === undefined);
    if (missing.length) problems.set(t.id, `missing dependency ${missing.join(', ')}`);
  }
  // Iterative DFS colouring; every active task on a cycle is reported with the cycle's path.
  const colour = new Map<Task, 1 | 2>();
  for (const start of tasks) {
    if (start.archived || colour.has(start)) continue;
    const stack: { task: Task; next: number }[] = [{ task: start, next: 0 }];
    colour.set(start, 1);
    while (stack.length) {
      const top = stack[stack.length - 1] as { task: Task; next: number };
      const list = depsOf(top.task);
      if (top.next >= list.length) {
        colour.set(top.task, 2);
        stack.pop();
        continue;
      }
      const dep = list[top.next++] as Task;
      const c = colour.get(dep);
      if (c === 1) {
        const from = stack.findIndex((s) => s.task === dep);
        const cycle = [...stack.slice(from).map((s) => s.task), dep];
        const text = `dependency cycle ${cycle.map((t) => t.id).join(' -> ')}`;
        for (const t of cycle) if (!t.archived && !problems.has(t.id)) problems.set(t.id, text);
      } else if (c === undefined) {
        colour.set(dep, 1);
        stack.push({ task: dep, next: 0 });
      }
    }
  }
  return problems;
}

/**
 * The statuses that count as ready (the `ready=` key), each as a task's status is kept: `To Do`,
 * `to-do` and `todo` all name todo, a custom status its folded name.
 */
export function readyStatuses(words: readonly string[] = ['ready']): Set<string> {
  return new Set(words.map((w) => normaliseStatus(w).status));
}

/**
 * Ready candidates = active, status one of the ready statuses, every dependency resolved and
 * completed, no dependency problem; best first. Claims are filtered by the caller.
 */
export function readyCandidates(tasks: readonly Task[], problems: ReadonlyMap<string, string>, createdOf: (t: Task) => string,
  index: TaskIndex = taskIndex(tasks), ready: ReadonlySet<string> = readyStatuses()): Task[] {
  return tasks
    .filter((t) => !t.archived && ready.has(t.status) && !problems.has(t.id) && t.dependsOn.every((d) => index.resolve(d)?.status === 'completed'))
    .sort((a, b) => priorityRank(a.priority) - priorityRank(b.priority) || createdOf(a).localeCompare(createdOf(b)) || a.id.localeCompare(b.id));
}

/**
 * Why nothing can be dispatched when no open task has a ready status (a Backlog.md folder says
 * "To Do", never "ready"): one line naming the folder's statuses (its config's, else those its
 * tasks write) and, when one of them means todo, the ready= that would dispatch it. Undefined when
 * some task has a ready status, or no task is open.
 */
export function dispatchNote(tasks: readonly Task[], words: readonly string[], declared: readonly string[] = []): string | undefined {
  const ready = readyStatuses(words);
  const active = tasks.filter((t) => !t.archived);
  if (active.some((t) => ready.has(t.status))) return undefined;
  if (!active.some((t) => t.status !== 'completed' && t.status !== 'cancelled')) return undefined;
  const seen = new Map<string, string>();
  for (const w of declared.length ? declared : active.map(statusAsWritten)) {
    const status = normaliseStatus(w).status;
    if (!seen.has(status)) seen.set(status, w.trim());
  }
  const todo = seen.get('todo');
  const fix = todo === undefined ? 'pass ready=<status> to choose the statuses that dispatch' : `pass ${shellArg('ready', todo)} to dispatch ${todo} tasks`;
  return `no task has status ${words.join(' or ')}; this folder's statuses are ${[...seen.values()].join(', ')}: ${fix}`;
}

/**
 * Counts of the active tasks (archived ones are left out) by status, plus total: the canonical
 * statuses, then the custom ones in config order, then unknown ones alphabetically.
 */
export function countByStatus(tasks: readonly Task[], custom: readonly string[] = []): Record<string, number> {
  const tally = new Map<string, number>();
  let total = 0;
  for (const t of tasks) {
    if (t.archived) continue;
    total++;
    tally.set(t.status, (tally.get(t.status) ?? 0) + 1);
  }
  const known = statusOrder(custom);
  const order = [...known.filter((s) => tally.has(s)), ...[...tally.keys()].filter((s) => !known.includes(s)).sort()];
  return { total, ...Object.fromEntries(order.map((s) => [s, tally.get(s) as number])) };
}

/** Escalation reasons that depend on the task files only (cacheable while nothing changed); archived tasks have none. */
export function taskReasons(tasks: readonly Task[], problems: ReadonlyMap<string, string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const t of tasks) {
    if (t.archived) continue;
    const reasons: string[] = [];
    // A finished task needs nobody: its stale dependency list is not an escalation.
    const finished = t.status === 'completed' || t.status === 'cancelled';
    if (!t.statusKnown) reasons.push(`unknown status '${statusAsWritten(t)}'${t.statusHint ? `: ${t.statusHint}` : ''}`);
    if (t.status === 'blocked') reasons.push('status blocked');
    const problem = problems.get(t.id);
    if (problem && !finished) reasons.push(problem);
    if (t.ci === 'failing') reasons.push('CI failing' + (t.pr ? ` on ${t.pr}` : ''));
    if (reasons.length) out.set(t.id, reasons);
  }
  return out;
}

function statusAsWritten(t: Task): string {
  const raw = t.fields['status'];
  return typeof raw === 'string' && raw.trim() !== '' ? raw.trim() : t.status;
}
