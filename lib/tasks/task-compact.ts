// A task that crossed into another thread given the parser's shape again, its repeated values from a pool and its empty ones shared (shared-values.ts).
import { NO_FIELDS, type StringPool, sharedBoxes, sharedList } from './shared-values.ts';
import type { Task } from './taskfile.ts';

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
