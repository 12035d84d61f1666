// The task routes' answers, made in the build thread from the model it holds: the server's thread keeps no copy of the tasks (at 50,000 tasks, about 90 MB of its peak).
import crypto from 'node:crypto';
import { fieldOrNothing, topFields } from '../../base/json-fields.ts';
import { readIfChanged } from '../../base/jsonfile.ts';
import type { Remote } from '../../tasks/pr.ts';
import { readTask } from '../../tasks/task-read.ts';
import type { Task } from '../../tasks/taskfile.ts';
import { assignPages } from '../render/pages.ts';
import { type WebSnapshot, ciMapOf } from '../render/snapshot-read.ts';
import { type SnapshotFacts, ambiguousTasks, ambiguousText, apiTaskText, apiTasksBody, findTask, parseTasksQuery, tasksPageText } from './api-doc.ts';
import type { JsonBody } from './json-doc.ts';
import type { LiveModel } from './live.ts';

/**
 * What the server's thread asks of the model: the whole list (`have`: the tag of the body it holds,
 * answered `same` while it is still right), a script's page of it (`search`: the query string), one
 * task (`log`: only which task, for its run log), or whether a page name is a task's.
 */
export type ApiAsk =
  | { readonly kind: 'list'; readonly have: string | undefined }
  | { readonly kind: 'query'; readonly search: string }
  | { readonly kind: 'task'; readonly id: string; readonly log: boolean }
  | { readonly kind: 'page'; readonly rel: string };

/** A body as it crosses between the threads (a Map of promises cannot): its bytes, or its gzip only when large (json-doc.ts). */
export interface SentBody { readonly length: number; readonly etag: string; readonly body?: Uint8Array; readonly gz?: Uint8Array }

/**
 * The answers: no model yet (`building`: a 503 to retry); the whole list (`same` as the body the
 * server holds, or a new one, each with the tag of the model, snapshot facts and remote it shows);
 * a JSON answer with its status (`retry`: a 503 that says when); the task a log route names; whether
 * a page is a task's.
 */
export type ApiAnswer =
  | { readonly kind: 'building' }
  | { readonly kind: 'same'; readonly tag: string }
  | { readonly kind: 'list'; readonly tag: string; readonly doc: SentBody }
  | { readonly kind: 'json'; readonly status: number; readonly text: string; readonly retry?: boolean }
  | { readonly kind: 'log'; readonly task: { readonly id: string; readonly slug: string } }
  | { readonly kind: 'page'; readonly known: boolean };

/** What the answers read of the build thread's site: the model of its last scan, and the remote. */
export interface AnswerSource {
  readonly scanned: boolean;
  readonly current: LiveModel;
  readonly remote: Remote | undefined;
}

const NO_FACTS: SnapshotFacts = { escalations: new Map(), ci: new Map() };

/**
 * Answers the task routes from the build thread's model. The escalations and gh's CI states come
 * from the snapshot as it is now, not as the last build saw it: read again when its signature
 * (inode, size, mtime) changed, opened without following a link, and only its `escalations` and
 * `ci` parsed. The whole list's body is made once per (model, facts, remote): the server's thread
 * keeps it and sends its tag back; a tick whose facts say the same keeps the tag, so the body stays.
 */
export class ApiAnswers {
  /**
   * This thread's own part of every tag: the server's thread keeps its body across a restart of
   * the build thread, whose counters start again, and a new thread's `1.0.0` must not be `same`.
   */
  private readonly thread = crypto.randomBytes(6).toString('base64url');
  private snapSig: string | undefined;
  private facts: SnapshotFacts = NO_FACTS;
  private factsSerial = 0;
  /** Each model's serial, and the page names of one, held weakly: a model the site dropped is not kept alive for the next question. */
  private readonly models = new WeakMap<LiveModel, number>();
  private modelSerial = 0;
  private readonly pages = new WeakMap<LiveModel, Set<string>>();
  private remote: Remote | undefined;
  private remoteSerial = 0;
  /** The whole list's body while it is being made. */
  private making: { tag: string; body: Promise<JsonBody> } | undefined;

  constructor(private readonly site: AnswerSource, private readonly dir: string, private readonly snapshotFile: string) {}

  async answer(ask: ApiAsk): Promise<ApiAnswer> {
    if (!this.site.scanned) return { kind: 'building' };
    const model = this.site.current;
    if (ask.kind === 'page') return { kind: 'page', known: this.isTaskPage(model, ask.rel) };
    const tag = this.tagOf(model);
    const facts = this.facts;
    const remote = this.site.remote;
    if (ask.kind === 'list') {
      if (ask.have === tag) return { kind: 'same', tag };
      // Questions that come while the body is made share it; once sent it is the server's to keep, not this thread's.
      if (this.making?.tag !== tag) {
        const made = apiTasksBody(model.tasks, model.errors, facts, remote);
        this.making = { tag, body: made };
        const done = (): void => { if (this.making?.body === made) this.making = undefined; };
        made.then(done, done);
      }
      const doc = await this.making.body;
      return { kind: 'list', tag, doc: { length: doc.length, etag: doc.etag, ...(doc.body === undefined ? { gz: await doc.encoded.get('.gz') } : { body: doc.body }) } };
    }
    if (ask.kind === 'query') {
      const query = parseTasksQuery(ask.search);
      const text = query === undefined || 'error' in query ? query : tasksPageText(model.tasks, model.errors, facts, remote, query);
      if (typeof text === 'string') return { kind: 'json', status: 200, text };
      return { kind: 'json', status: 400, text: JSON.stringify({ error: text?.error ?? 'the query asks for the whole list' }) };
    }
    const many = ambiguousTasks(model.tasks, ask.id);
    if (many !== undefined) return { kind: 'json', status: 409, text: ambiguousText(ask.id, many) };
    const task = findTask(model.tasks, ask.id);
    if (task === undefined) return { kind: 'json', status: 404, text: JSON.stringify({ error: `no task with id ${ask.id}` }) };
    if (ask.log) return { kind: 'log', task: { id: task.id, slug: task.slug } };
    // The model's tasks carry no text: the body, sections and fields are read from the file now.
    const read = readTask(this.dir, task.path, model.format ?? { statuses: [], taskPrefix: null });
    // The file changed since the model was built (an edit, a checkout that moved or swapped files):
    // its text joined with the model's id, title and status could be two tasks in one answer.
    // The rebuild that follows the change catches up, so this is a 503 to retry, never a mix.
    const moved = !read.ok ? `no longer reads as a task (${read.reason})` : read.task.id !== task.id || read.task.title !== task.title || read.task.status !== task.status ? 'changed' : undefined;
    if (moved !== undefined || !read.ok) {
      return { kind: 'json', status: 503, retry: true, text: JSON.stringify({ error: `task ${task.id}: its file ${task.path} ${moved ?? 'changed'} since the list was built; retry in a moment` }) };
    }
    return { kind: 'json', status: 200, text: apiTaskText(model.tasks, task, facts, remote, read.task) };
  }

  /** The tag of what the whole list shows now; reads the snapshot's facts again when the file changed. */
  private tagOf(model: LiveModel): string {
    let serial = this.models.get(model);
    if (serial === undefined) {
      serial = ++this.modelSerial;
      this.models.set(model, serial);
    }
    if (this.site.remote !== this.remote) {
      this.remote = this.site.remote;
      this.remoteSerial += 1;
    }
    // No file, a link or not a regular file: no escalations (the next tick's rename replaces it).
    const read = readIfChanged(this.snapshotFile, this.snapSig);
    const sig = typeof read === 'string' ? (read === 'same' ? this.snapSig : 'none') : read.sig;
    if (sig !== this.snapSig) {
      this.snapSig = sig;
      const made = typeof read === 'string' ? NO_FACTS : factsOf(read.bytes);
      // The same facts while they read the same (most ticks): the body the server holds stays right.
      if (!sameFacts(this.facts, made)) {
        this.facts = made;
        this.factsSerial += 1;
      }
    }
    return `${this.thread}.${serial}.${this.factsSerial}.${this.remoteSerial}`;
  }

  /**
   * Whether `tasks/<page>.html` is the page of a task in the model: a page that must exist, so a
   * build that lost track of it writes it again rather than the request getting a 404.
   */
  private isTaskPage(model: LiveModel, rel: string): boolean {
    if (!rel.startsWith('tasks/') || !rel.endsWith('.html')) return false;
    let names = this.pages.get(model);
    if (names === undefined) {
      names = new Set(assignPages(model.tasks));
      this.pages.set(model, names);
    }
    return names.has(rel.slice('tasks/'.length, -'.html'.length));
  }
}

/** The escalations and gh's CI states of a snapshot's bytes: its `escalations` and `ci` only, each on its own (a bad `ci` costs the CI states, not the escalations). */
function factsOf(bytes: Buffer): SnapshotFacts {
  const fields = topFields(bytes);
  // A torn or foreign snapshot shows no escalations; the heartbeat writes a whole one next tick.
  if (fields === undefined) return NO_FACTS;
  const raw = fieldOrNothing(fields, 'escalations');
  // An entry without a string id (null, a number) is skipped, not a 500 for every request until the next tick.
  const list = (Array.isArray(raw) ? raw as unknown[] : []).flatMap((e) => {
    const { id, reason, since } = (typeof e === 'object' && e !== null ? e : {}) as { id?: unknown; reason: string; since: string };
    return typeof id === 'string' ? [[id, { reason, since }] as const] : [];
  });
  return { escalations: new Map(list), ci: ciMapOf({ ci: fieldOrNothing(fields, 'ci') } as WebSnapshot) };
}

/** Whether two snapshots' facts say the same of every task: then the /api/tasks body made for the first one serves the second. */
function sameFacts(a: SnapshotFacts, b: SnapshotFacts): boolean {
  if (a.escalations.size !== b.escalations.size || a.ci.size !== b.ci.size) return false;
  for (const [id, e] of b.escalations) {
    const was = a.escalations.get(id);
    if (was === undefined || was.reason !== e.reason || was.since !== e.since) return false;
  }
  for (const [id, state] of b.ci) if (a.ci.get(id) !== state) return false;
  return true;
}
