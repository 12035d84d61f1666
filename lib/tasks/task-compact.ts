// One copy of what tasks share: a folder's repeated values (status, priority, milestone, owners, labels, dates) as one string each, one frozen empty list, mapping or count for all.
import type { Section } from './body.ts';
import type { Task } from './taskfile.ts';

// Tasks are treated as immutable: frozen, a shared value that code tried to change would throw, not change every task.
export const NO_ITEMS: string[] = Object.freeze([]) as unknown as string[];
export const NO_SECTIONS: Section[] = Object.freeze([]) as unknown as Section[];
export const NO_BOXES: { done: number; total: number } = Object.freeze({ done: 0, total: 0 });
export const NO_FIELDS: Record<string, unknown> = Object.freeze({});

/** The list, or the shared empty one. */
export const sharedList = <T>(list: T[]): T[] => (list.length === 0 ? NO_ITEMS as unknown as T[] : list);
const sharedBoxes = (b: { done: number; total: number }): { done: number; total: number } => (b.done === 0 && b.total === 0 ? NO_BOXES : b);

/** A pool this large is emptied (a long-lived process that saw many distinct dates): strings already shared stay shared. */
const POOL_MAX = 100_000;

/**
 * One string per distinct value. A value parsed from each file, or cloned into another thread, is
 * a string of its own: 50,000 tasks of five milestones held 50,000 copies of them (3.2 MB in each
 * of the server's two threads, measured in a heap snapshot; as much again for owners, statuses and
 * priorities). Only fields with few values go through it: dates, parents and dependencies are
 * mostly one of a kind, and would only fill it.
 */
export class StringPool {
  private readonly pool = new Map<string, string>();

  of<S extends string | null>(s: S): S {
    if (s === null) return s;
    const known = this.pool.get(s);
    if (known !== undefined) return known as S;
    if (this.pool.size >= POOL_MAX) this.pool.clear();
    this.pool.set(s, s);
    return s;
  }

  list(xs: string[]): string[] {
    return xs.length === 0 ? NO_ITEMS : xs.map((x) => this.of(x));
  }
}

/** The pool of the parser (taskfile.ts): one per process. */
export const PARSED = new StringPool();

/**
 * The task as one object of the parser's shape (toTask's keys in its order: every task shares one
 * hidden class, all properties in the object), its repeated values from the pool and its empty
 * values shared. A task that crossed into another thread needs it: the structured clone gives each
 * copy strings of its own and its properties in a separate store (11.7 MB at 50,000 tasks).
 */
export function compactTask(t: Task, pool: StringPool): Task {
  const compact: Task = {
    id: t.id,
    slug: t.slug,
    path: t.path,
    title: t.title,
    status: pool.of(t.status),
    statusKnown: t.statusKnown,
    statusHint: pool.of(t.statusHint),
    priority: pool.of(t.priority),
    milestone: pool.of(t.milestone),
    owner: pool.of(t.owner),
    owners: pool.list(t.owners),
    labels: pool.list(t.labels),
    created: t.created,
    updated: t.updated,
    due: pool.of(t.due),
    parent: t.parent,
    effort: pool.of(t.effort),
    aliases: sharedList(t.aliases),
    archived: t.archived,
    completedBy: pool.of(t.completedBy),
    completed: t.completed,
    dependsOn: sharedList(t.dependsOn),
    pr: t.pr,
    ci: pool.of(t.ci),
    fields: Object.keys(t.fields).length === 0 ? NO_FIELDS : t.fields,
    body: t.body,
    sections: sharedList(t.sections),
    progress: sharedBoxes(t.progress),
    acceptance: sharedBoxes(t.acceptance),
  };
  if (t.omittedBytes !== undefined) compact.omittedBytes = t.omittedBytes;
  return compact;
}
