// The JSON documents of /api/tasks, /api/tasks/<id> and a script's page of the list (`?limit=&after=&fields=`): made in the build thread, which holds the task model (api-answers.ts).
import type { Remote } from '../../tasks/pr.ts';
import type { CiState, Task } from '../../tasks/taskfile.ts';
import { prShown } from '../render/html.ts';
import { type Relations, relatedIds, relationsOf } from '../render/relations.ts';
import { ciOf } from '../render/snapshot-read.ts';
import { streamedBody } from './json-doc.ts';

/** What the snapshot adds to a task in the API: its escalation and the CI state the heartbeat got from gh. */
export interface SnapshotFacts {
  readonly escalations: ReadonlyMap<string, { reason: string; since: string }>;
  readonly ci: ReadonlyMap<string, CiState>;
}

/** The fields of a task in /api/tasks, in their order: what `?fields=` may name (test/api-tasks.test.ts checks them against apiTask). */
export const TASK_FIELDS: readonly string[] = [
  'id', 'slug', 'path', 'title', 'status', 'priority', 'milestone', 'owner', 'completedBy', 'completed', 'dependsOn', 'pr', 'prUrl',
  'prNumber', 'ci', 'progress', 'escalation', 'owners', 'labels', 'created', 'updated', 'due', 'parent', 'parentId', 'children',
  'blocks', 'archived', 'acceptance', 'effort', 'statusHint',
];

/**
 * The /api/tasks shape of a task (field names are an interface: docs/api.md); with full, the body
 * and sections too. `relations` are those of the whole list the task belongs to (relationsOf).
 */
export function apiTask(t: Task, facts: SnapshotFacts, remote: Remote | undefined, full: boolean, relations: Relations): Record<string, unknown> {
  const e = facts.escalations.get(t.id);
  const pr = prShown(t.pr, remote);
  const { parentId, children, blocks } = relatedIds(t, relations);
  return {
    id: t.id,
    slug: t.slug,
    path: t.path,
    title: t.title,
    status: t.status,
    priority: t.priority,
    milestone: t.milestone,
    owner: t.owner,
    completedBy: t.completedBy,
    completed: t.completed,
    dependsOn: t.dependsOn,
    pr: t.pr,
    prUrl: pr?.url ?? null,
    prNumber: pr?.number ?? null,
    ci: ciOf(t, facts.ci),
    progress: t.progress,
    escalation: e ? { reason: e.reason, since: e.since } : null,
    owners: t.owners,
    labels: t.labels,
    created: t.created,
    updated: t.updated,
    due: t.due,
    parent: t.parent,
    parentId,
    children,
    blocks,
    archived: t.archived,
    acceptance: t.acceptance,
    effort: t.effort,
    statusHint: t.statusHint,
    ...(full ? { fields: t.fields, body: t.body, sections: t.sections } : {}),
  };
}

/**
 * The /api/tasks document in pieces: `JSON.stringify({ tasks, errors })` and a newline, one task at
 * a time. At 50,000 tasks the array of task objects and the 31 MB string would cost the server's
 * thread about twice what the bytes do; the pieces go into a body (json-doc.ts) as they come.
 */
export function* apiTasksPieces(tasks: readonly Task[], errors: readonly unknown[], facts: SnapshotFacts, remote: Remote | undefined): Generator<string> {
  const relations = relationsOf(tasks);
  yield '{"tasks":[';
  for (let i = 0; i < tasks.length; i++) yield `${i === 0 ? '' : ','}${JSON.stringify(apiTask(tasks[i] as Task, facts, remote, false, relations))}`;
  yield `],"errors":${JSON.stringify(errors)}}\n`;
}

/** The /api/tasks document as a body: kept as gzip only when large (json-doc.ts). */
export function apiTasksBody(tasks: readonly Task[], errors: readonly unknown[], facts: SnapshotFacts, remote: Remote | undefined): ReturnType<typeof streamedBody> {
  return streamedBody(apiTasksPieces(tasks, errors, facts, remote));
}

/** The /api/tasks document as text (without its newline). */
export function apiTasksText(tasks: readonly Task[], errors: readonly unknown[], facts: SnapshotFacts, remote: Remote | undefined): string {
  return [...apiTasksPieces(tasks, errors, facts, remote)].join('').slice(0, -1);
}

/**
 * The /api/tasks/<id> document of one task of the list: with its frontmatter fields, body and
 * sections, from `text` (the file read again: the model keeps tasks without their text).
 * The task itself must be the list's object: its relations are found by it.
 */
export function apiTaskText(tasks: readonly Task[], t: Task, facts: SnapshotFacts, remote: Remote | undefined, text: Pick<Task, 'fields' | 'body' | 'sections'> = t): string {
  return JSON.stringify({ ...apiTask(t, facts, remote, false, relationsOf(tasks)), fields: text.fields, body: text.body, sections: text.sections });
}

/**
 * The task an API path names: a task whose id, else whose slug, is exactly `id`; else the task the
 * model's resolver finds (any case, within a prefix: `task-24.1`, `back-24.1` and `24.1` name
 * `BACK-24.1` in a Backlog.md folder).
 */
export function findTask(tasks: readonly Task[], id: string): Task | undefined {
  return exactTask(tasks, id) ?? relationsOf(tasks).resolve(id);
}

/** An active task before an archived copy with the same id or slug (the resolver ranks them so too). */
function exactTask(tasks: readonly Task[], id: string): Task | undefined {
  const pick = (match: (t: Task) => boolean): Task | undefined => tasks.find((t) => !t.archived && match(t)) ?? tasks.find(match);
  return pick((t) => t.id === id) ?? pick((t) => t.slug === id);
}

/**
 * The tasks `id` names when it names more than one (`Abc` with `abc` and `ABC`, no exact match):
 * the caller refuses rather than pick one. Undefined when it names one task or none.
 */
export function ambiguousTasks(tasks: readonly Task[], id: string): readonly Task[] | undefined {
  if (exactTask(tasks, id) !== undefined) return undefined;
  const found = relationsOf(tasks).matches(id);
  return new Set(found.map((t) => t.id)).size > 1 ? found : undefined;
}

/** The 409 body for an id that names several tasks: the candidates, and the fix. */
export function ambiguousText(id: string, tasks: readonly Task[]): string {
  const ids = [...new Set(tasks.map((t) => t.id))];
  return JSON.stringify({ error: `${JSON.stringify(id)} names ${ids.length} tasks (${ids.join(', ')}); ask for the exact id`, candidates: ids });
}

/** What a request asks of the list: a page (limit, after) and the fields of each task; undefined where not given. */
export interface TasksQuery { readonly limit: number | undefined; readonly after: string | undefined; readonly fields: readonly string[] | undefined }

/** A bad query: the one line of the 400. */
export interface QueryError { readonly error: string }

const LIMIT_MAX = 1_000_000;

/**
 * The paging and field selection of a query string; undefined when it gives neither (the whole
 * list, cached). Other parameters are ignored, as everywhere in the API (a cache-buster stays harmless).
 */
export function parseTasksQuery(search: string): TasksQuery | QueryError | undefined {
  const params = new URLSearchParams(search);
  const given: Record<'limit' | 'after' | 'fields', string | undefined> = { limit: undefined, after: undefined, fields: undefined };
  for (const name of ['limit', 'after', 'fields'] as const) {
    const all = params.getAll(name);
    if (all.length > 1) return { error: `${name}= is given ${all.length} times; give it once` };
    given[name] = all[0];
  }
  const { limit, after, fields } = given;
  if (limit === undefined && after === undefined && fields === undefined) return undefined;
  if (limit !== undefined && (!/^[1-9][0-9]{0,6}$/.test(limit) || Number(limit) > LIMIT_MAX)) {
    return { error: `limit=${JSON.stringify(limit)} is not a whole number from 1 to ${LIMIT_MAX}; ask for a page size, e.g. ?limit=500` };
  }
  if (after === '') return { error: 'after= is empty; pass the "next" of the previous page, or leave after out for the first page' };
  const names = fields?.split(',');
  const unknown = names?.find((f) => !TASK_FIELDS.includes(f));
  if (unknown !== undefined) {
    return { error: `fields=${JSON.stringify(fields)} names ${unknown === '' ? 'an empty field' : `no field ${JSON.stringify(unknown)}`}; list fields of ${TASK_FIELDS.join(',')} with commas, e.g. ?fields=id,status,title` };
  }
  return { limit: limit === undefined ? undefined : Number(limit), after, fields: names === undefined ? undefined : [...new Set(names)] };
}

/**
 * Where the task `after` names sits in the list: its path (always one task), else its id when one
 * task has it (archived copies can share an active task's id).
 */
function positionOf(tasks: readonly Task[], after: string): number | QueryError {
  const byPath = tasks.findIndex((t) => t.path === after);
  if (byPath !== -1) return byPath;
  const byId = tasks.flatMap((t, i) => (t.id === after ? [i] : []));
  if (byId.length === 1) return byId[0] as number;
  if (byId.length > 1) return { error: `after=${JSON.stringify(after)} names ${byId.length} tasks (archived copies share the id); pass the path of the one you mean, as "next" does` };
  return { error: `after=${JSON.stringify(after)} names no task in the list (removed or renamed since the previous page?); start again without after=` };
}

/** What `after` takes to go on after the task: its id, or its path when the id would not name it alone. */
function cursorOf(tasks: readonly Task[], t: Task): string {
  return tasks.filter((o) => o.id === t.id || o.path === t.id).length === 1 ? t.id : t.path;
}

/**
 * The document of a query: the page's tasks (with only the fields asked for, in the order asked),
 * every parse error, and when paged `next` (what `after` takes for the next page, null after the last).
 */
export function tasksPageText(tasks: readonly Task[], errors: readonly unknown[], facts: SnapshotFacts, remote: Remote | undefined, query: TasksQuery): string | QueryError {
  const at = query.after === undefined ? -1 : positionOf(tasks, query.after);
  if (typeof at !== 'number') return at;
  const end = query.limit === undefined ? tasks.length : Math.min(tasks.length, at + 1 + query.limit);
  const relations = relationsOf(tasks);
  const shown = tasks.slice(at + 1, end).map((t) => {
    const full = apiTask(t, facts, remote, false, relations);
    return query.fields === undefined ? full : Object.fromEntries(query.fields.map((f) => [f, full[f]]));
  });
  const last = tasks[end - 1];
  const paged = query.limit !== undefined || query.after !== undefined;
  const next = end < tasks.length && last !== undefined ? cursorOf(tasks, last) : null;
  return JSON.stringify({ tasks: shown, errors, ...(paged ? { next } : {}) });
}
