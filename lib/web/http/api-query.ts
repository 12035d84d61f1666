// /api/tasks for scripts: `?limit=N&after=<id>` pages the list, `?fields=a,b` keeps those fields of each task; a bad value is a 400 that names the fix.
import type http from 'node:http';
import type { Remote } from '../../tasks/pr.ts';
import type { Task } from '../../tasks/taskfile.ts';
import { type SnapshotFacts, TASK_FIELDS, apiTask, sendJson } from './api.ts';
import { type JsonBody, jsonBody, sendCached } from './json-body.ts';
import { relationsOf } from '../render/relations.ts';

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

/**
 * Answers GET /api/tasks: the whole list from the per-version cache (`whole`), or a query's page,
 * made per request and compressed per request (a page costs what its tasks do; a script pages the
 * list once), with an ETag of its bytes all the same, or a 400 naming the bad value.
 */
export function answerTasks(req: http.IncomingMessage, res: http.ServerResponse, search: string, model: { readonly tasks: readonly Task[]; readonly errors: readonly unknown[] }, facts: SnapshotFacts, remote: Remote | undefined, whole: () => Promise<JsonBody>): Promise<void> | void {
  const query = parseTasksQuery(search);
  if (query === undefined) return whole().then((doc) => sendCached(req, res, doc));
  const text = 'error' in query ? query : tasksPageText(model.tasks, model.errors, facts, remote, query);
  if (typeof text !== 'string') return sendJson(res, 400, JSON.stringify({ error: text.error }));
  return sendCached(req, res, jsonBody(text));
}
