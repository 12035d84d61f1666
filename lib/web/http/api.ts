// The JSON shapes of /api/tasks and /api/tasks/<id>, JSON bodies serialized once per version with an ETag, and the 503 while the model is built.
import crypto from 'node:crypto';
import type http from 'node:http';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Remote } from '../../tasks/pr.ts';
import type { CiState, Task } from '../../tasks/taskfile.ts';
import { RETRY_AFTER_S } from './building.ts';
import { prShown } from '../render/html.ts';
import { type Relations, relatedIds, relationsOf } from '../render/relations.ts';
import { ENCODINGS } from '../site/site-files.ts';
import { ciOf } from '../render/snapshot-read.ts';
import { acceptedEncodings } from './statics.ts';

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
 * The /api/tasks document: every task (with its relations) and every parse error, as the bytes of
 * `JSON.stringify({ tasks, errors })` and a newline. Written one task at a time into blocks: at
 * 50,000 tasks the array of task objects, the 31 MB string and its copies cost the server's thread
 * about twice what the bytes do (bench/scale.ts).
 */
export function apiTasksBytes(tasks: readonly Task[], errors: readonly unknown[], facts: SnapshotFacts, remote: Remote | undefined): Buffer {
  const relations = relationsOf(tasks);
  const out = new BlockWriter();
  out.write('{"tasks":[');
  tasks.forEach((t, i) => out.write(`${i === 0 ? '' : ','}${JSON.stringify(apiTask(t, facts, remote, false, relations))}`));
  out.write(`],"errors":${JSON.stringify(errors)}}\n`);
  return out.bytes();
}

/** The /api/tasks document as text (apiTasksBytes without its newline). */
export function apiTasksText(tasks: readonly Task[], errors: readonly unknown[], facts: SnapshotFacts, remote: Remote | undefined): string {
  const bytes = apiTasksBytes(tasks, errors, facts, remote);
  return bytes.toString('utf8', 0, bytes.length - 1);
}

/** Text appended as UTF-8 into 1 MiB blocks, then copied once into a Buffer of its exact size. */
class BlockWriter {
  private readonly blocks: Buffer[] = [];
  private block = Buffer.allocUnsafe(0);
  private used = 0;
  private total = 0;

  write(text: string): void {
    if (this.block.length - this.used < text.length * 3) {
      this.seal();
      this.block = Buffer.allocUnsafe(Math.max(1 << 20, text.length * 3));
    }
    const n = this.block.write(text, this.used);
    this.used += n;
    this.total += n;
  }

  private seal(): void {
    if (this.used > 0) this.blocks.push(this.block.subarray(0, this.used));
    this.used = 0;
  }

  bytes(): Buffer {
    this.seal();
    return Buffer.concat(this.blocks, this.total);
  }
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
 * A serialized body and its strong ETag (a hash of the bytes, so an unchanged body keeps its tag
 * across rebuilds), with its compressed forms by encoding (`.br`, `.gz`), each made on the first
 * request that asks for it: a body cached per version is compressed once per version.
 */
export interface JsonBody { readonly body: Buffer; readonly etag: string; readonly encoded: Map<string, Promise<Buffer>> }

/** Wraps JSON text (or its bytes, ending in a newline: apiTasksBytes) as a body with its ETag. */
export function jsonBody(text: string | Buffer): JsonBody {
  const body = typeof text !== 'string' ? text : Buffer.from(text.endsWith('\n') ? text : `${text}\n`);
  return { body, etag: `"${crypto.createHash('sha1').update(body).digest('base64url')}"`, encoded: new Map() };
}

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

/**
 * The body in one encoding, made on zlib's thread pool (a 5 MB list takes tens of ms: never on the
 * request thread). The settings of the build folder's siblings (site-writer.ts): brotli quality 5
 * with the window fitted to the body, gzip level 6. A failure is forgotten, so the next request tries again.
 */
function encodedOf(doc: JsonBody, ext: string): Promise<Buffer> {
  const known = doc.encoded.get(ext);
  if (known !== undefined) return known;
  const b = doc.body;
  const C = zlib.constants;
  const made = ext === '.br'
    ? brotli(b, { params: {
      [C.BROTLI_PARAM_QUALITY]: 5, [C.BROTLI_PARAM_MODE]: C.BROTLI_MODE_TEXT, [C.BROTLI_PARAM_SIZE_HINT]: b.length,
      [C.BROTLI_PARAM_LGWIN]: Math.min(24, Math.max(16, Math.ceil(Math.log2(b.length + 1)))),
    } })
    : gzip(b, { level: 6 });
  doc.encoded.set(ext, made);
  made.catch(() => doc.encoded.delete(ext));
  return made;
}

/**
 * A value derived at most once per source version: the key parts are compared one by one by
 * identity (a new model object per rebuild, a new stat signature per snapshot write), and the
 * value is made only when a request asks after a part changed.
 */
export class Derived<T> {
  private keys: readonly unknown[] | undefined;
  private value: T | undefined;

  get(keys: readonly unknown[], make: () => T): T {
    const same = this.keys !== undefined && this.keys.length === keys.length && keys.every((k, i) => k === this.keys?.[i]);
    if (!same || this.value === undefined) {
      this.value = make();
      this.keys = keys;
    }
    return this.value;
  }
}

/** True when an If-None-Match header names this ETag (or is `*`). */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === etag || t === `W/${etag}`;
  });
}

/**
 * Sends a cached body in the best encoding the client accepts, as the build folder's files are
 * (statics.ts): br, else gzip, else the bytes, with `Vary: Accept-Encoding` and an ETag per
 * encoding (the body's tag as it was for the bytes; `-br` or `-gz` inside the quotes for the
 * others). 304 when the client has that tag, else 200 (revalidated on every use: no-cache).
 */
export async function sendCached(req: http.IncomingMessage, res: http.ServerResponse, doc: JsonBody): Promise<void> {
  const ext = acceptedEncodings(req.headers['accept-encoding'])[0] ?? '';
  const etag = ext === '' ? doc.etag : `${doc.etag.slice(0, -1)}-${ext.slice(1)}"`;
  const headers: http.OutgoingHttpHeaders = { 'cache-control': 'no-cache', etag, vary: 'Accept-Encoding' };
  if (matchesEtag(req.headers['if-none-match'], etag)) {
    res.writeHead(304, headers).end();
    return;
  }
  const body = ext === '' ? doc.body : await encodedOf(doc, ext);
  if (ext !== '') headers['content-encoding'] = ENCODINGS.find((e) => e.ext === ext)?.name;
  res.writeHead(200, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(body.length) });
  res.end(req.method === 'HEAD' ? undefined : body);
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
