// Parents, subtasks and reverse dependencies ("blocks") of every task, worked out once per task list with the model's id resolver.
import { taskIndex } from '../../tasks/model.ts';
import type { Task } from '../../tasks/taskfile.ts';

/** How the tasks of one list refer to each other, every reference resolved the way the model resolves ids. */
export interface Relations {
  /** The task a reference names, in any spelling the resolver accepts (`task-24.1`, `BACK-24.1`, `24.1`). */
  readonly resolve: (ref: string) => Task | undefined;
  /** Every task a reference names at the first step that finds any (more than one: the reference is ambiguous). */
  readonly matches: (ref: string) => readonly Task[];
  /** Each task's parent, when its `parent` names another task of the list. */
  readonly parent: ReadonlyMap<Task, Task>;
  /** The tasks whose parent is this one, in list order. */
  readonly children: ReadonlyMap<Task, readonly Task[]>;
  /** The tasks whose dependencies name this one, in list order: what this task blocks. */
  readonly blocks: ReadonlyMap<Task, readonly Task[]>;
}

const NONE: readonly Task[] = [];
const cache = new WeakMap<readonly Task[], { readonly items: readonly Task[]; readonly relations: Relations }>();

/**
 * The relations of a task list, computed once per list: the server keeps one list per model, so
 * the pages and the API of one model share them. The list is compared task by task with the one
 * they were computed from (a caller may replace a task in place). A task that names itself is not
 * its own parent or blocker; a dependency written twice (in two spellings) counts once.
 */
export function relationsOf(tasks: readonly Task[]): Relations {
  const known = cache.get(tasks);
  if (known !== undefined && known.items.length === tasks.length && known.items.every((t, i) => t === tasks[i])) return known.relations;
  const index = taskIndex(tasks);
  const resolve = (ref: string): Task | undefined => index.resolve(ref);
  const parent = new Map<Task, Task>();
  const children = new Map<Task, Task[]>();
  const blocks = new Map<Task, Task[]>();
  const add = (map: Map<Task, Task[]>, key: Task, t: Task): void => {
    const list = map.get(key);
    if (list === undefined) map.set(key, [t]);
    else list.push(t);
  };
  for (const t of tasks) {
    const p = t.parent === null ? undefined : resolve(t.parent);
    if (p !== undefined && p !== t) {
      parent.set(t, p);
      add(children, p, t);
    }
    const seen = new Set<Task>();
    for (const ref of t.dependsOn) {
      const dep = resolve(ref);
      if (dep === undefined || dep === t || seen.has(dep)) continue;
      seen.add(dep);
      add(blocks, dep, t);
    }
  }
  const relations: Relations = { resolve, matches: (ref) => index.matches(ref), parent, children, blocks };
  cache.set(tasks, { items: [...tasks], relations });
  return relations;
}

/** Another task as a task page links it: its id, page file name (in tasks/), status and title. */
export interface RelatedTask { readonly id: string; readonly page: string; readonly status: string; readonly title: string }

/** A reference as written in the file and the task it resolves to (null: no such task). */
export interface ResolvedRef { readonly ref: string; readonly task: RelatedTask | null }

/** What a task page shows of the tasks around it; also its signature, so the page is re-rendered when one of them changes. */
export interface TaskRelated {
  readonly parent: ResolvedRef | null;
  readonly dependencies: readonly ResolvedRef[];
  readonly children: readonly RelatedTask[];
  readonly blocks: readonly RelatedTask[];
}

/** The relations of one task as its page shows them; `pageOf` names the page of any task of the list. */
export function relatedOf(task: Task, relations: Relations, pageOf: (t: Task) => string): TaskRelated {
  const shown = (t: Task): RelatedTask => ({ id: t.id, page: pageOf(t), status: t.status, title: t.title });
  const ref = (written: string): ResolvedRef => {
    const t = relations.resolve(written);
    return { ref: written, task: t === undefined ? null : shown(t) };
  };
  const parent = relations.parent.get(task);
  return {
    parent: task.parent === null ? null : parent === undefined ? { ref: task.parent, task: null } : { ref: task.parent, task: shown(parent) },
    dependencies: task.dependsOn.map(ref),
    children: (relations.children.get(task) ?? NONE).map(shown),
    blocks: (relations.blocks.get(task) ?? NONE).map(shown),
  };
}

/** The ids the API gives for a task's relations: its resolved parent, subtasks and the tasks it blocks. */
export function relatedIds(task: Task, relations: Relations): { parentId: string | null; children: string[]; blocks: string[] } {
  return {
    parentId: relations.parent.get(task)?.id ?? null,
    children: (relations.children.get(task) ?? NONE).map((t) => t.id),
    blocks: (relations.blocks.get(task) ?? NONE).map((t) => t.id),
  };
}
