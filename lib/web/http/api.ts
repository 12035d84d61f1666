// The JSON shapes of /api/tasks and /api/tasks/<id> (their bodies cached and sent by json-body.ts), and the 503 while the model is built.
import type http from 'node:http';
import type { Remote } from '../../tasks/pr.ts';
import type { CiState, Task } from '../../tasks/taskfile.ts';
import { RETRY_AFTER_S } from './building.ts';
import { prShown } from '../render/html.ts';
import { type Relations, relatedIds, relationsOf } from '../render/relations.ts';
import { ciOf } from '../render/snapshot-read.ts';
import { streamedBody } from './json-body.ts';

export { Derived, type JsonBody, jsonBody, sendCached } from './json-body.ts';

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
 * thread about twice what the bytes do; the pieces go into a body (json-body.ts) as they come.
 */
export function* apiTasksPieces(tasks: readonly Task[], errors: readonly unknown[], facts: SnapshotFacts, remote: Remote | undefined): Generator<string> {
  const relations = relationsOf(tasks);
  yield '{"tasks":[';
  for (let i = 0; i < tasks.length; i++) yield `${i === 0 ? '' : ','}${JSON.stringify(apiTask(tasks[i] as Task, facts, remote, false, relations))}`;
  yield `],"errors":${JSON.stringify(errors)}}\n`;
}

/** The /api/tasks document as a cached body: kept as gzip only when large (json-body.ts). */
export function apiTasksBody(tasks: readonly Task[], errors: readonly unknown[], facts: SnapshotFacts, remote: Remote | undefined): ReturnType<typeof streamedBody> {
  return streamedBody(apiTasksPieces(tasks, errors, facts, remote));
}

/** The /api/tasks document as text (without its newline). */
export function apiTasksText(tasks: readonly Task[], errors: readonly unknown[], facts: SnapshotFacts, remote: Remote | undefined): string {
  return [...apiTasksPieces(tasks, errors, facts, remote)].join('').slice(0, -1);
}

/**
 * The /api/tasks/<id> document of one task of the list: with its frontmatter fields, body and
 * sections, from `text` (the file read again: the server's model keeps tasks without their text).
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

/**
 * The answer of a task route before the server has a whole model (its first build is under way):
 * 503 with Retry-After, never an empty list or a "no task" that is not true.
 */
export function sendBuilding(res: http.ServerResponse): void {
  res.setHeader('retry-after', String(RETRY_AFTER_S));
  sendJson(res, 503, JSON.stringify({ error: `the task model is being built; retry in ${RETRY_AFTER_S} s`, building: true, retryAfter: RETRY_AFTER_S }));
}

/** Sends a small JSON answer that is never cached (errors, health, one task). */
export function sendJson(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body + '\n');
}
