// The site builder: index, task pages and assets, written only when their bytes change.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { APP_JS, FAVICON_SVG, STYLE_CSS } from './assets.ts';
import { isErrno } from '../base/errors.ts';
import { countByStatus } from '../tasks/model.ts';
import { renderIndex, renderRow } from './render.ts';
import type { TaskRef } from './render.ts';
import { renderTaskPage } from './render-task.ts';
import type { PageClaim } from './render-task.ts';
import type { Task, ParseError } from '../tasks/taskfile.ts';
import type { Snapshot } from '../manager/tick.ts';

export interface SiteInput {
  project: string;
  /** With body and sections. Treated as immutable: a changed task must be a new object (TaskScanner does so). */
  tasks: Task[];
  errors: ParseError[];
  /** undefined: the heartbeat has never ticked. */
  snapshot: Snapshot | undefined;
  /** From the pid file, at build time. */
  heartbeat: { running: boolean; pid: number | null };
  now: Date;
}

/** What one build did; filesChanged: a file was added or removed (not just rewritten). */
export interface BuildResult { written: number; removed: number; filesChanged: boolean }

/** A task page's file name: the slug with anything outside [A-Za-z0-9._-] replaced by '_', never hidden. */
export function pageName(slug: string): string {
  const name = slug.replace(/[^A-Za-z0-9._-]/gu, '_');
  // A leading dot would make a dotfile the static server refuses; 200 keeps `<name>.html` under NAME_MAX.
  return (name === '' || name.startsWith('.') ? `_${name}` : name).slice(0, 200);
}

interface Entry {
  /** The task object last rendered: the same object means the same content, without hashing it again. */
  task: Task;
  content: string;
  /** What the page shows besides the task itself: escalation, claim, dependencies. */
  extra: string;
  /** Kept as bytes, and as the same object while unchanged, so the index is compared and written without re-encoding. */
  row: Buffer;
  search: Buffer;
}

/** A file assembled from a head, cached per-task parts and a tail; compared part by part, by identity. */
interface Assembled { head: Buffer; parts: Buffer[]; tail: Buffer }

const STATIC_FILES: readonly [string, string][] = [['style.css', STYLE_CSS], ['app.js', APP_JS], ['favicon.svg', FAVICON_SVG]];
const COMMA = Buffer.from(',\n');

type Stats = { written: number; removed: number; added: number };

/**
 * Builds the dashboard into a folder and keeps, per task page, a signature of what the page shows,
 * so a rebuild renders only the pages whose inputs changed and writes only files whose bytes changed.
 */
export class SiteBuilder {
  private readonly outDir: string;
  /** By page name, which is unique within a build (unlike a slug). */
  private entries = new Map<string, Entry>();
  private project: string | undefined;
  /** Hash of the bytes on disk for each task page and static file this builder wrote, by path relative to outDir. */
  private hashes = new Map<string, string>();
  /** index.html and search.json as last written. */
  private assembled = new Map<string, Assembled>();
  /** Files found on disk before the first build: compared by content instead of rewritten. */
  private found = new Set<string>();
  private first = true;

  private readonly pruneUnknown: boolean;

  /** pruneUnknown: the folder is ours alone, so task pages found there that no task has are removed. */
  constructor(outDir: string, options: { pruneUnknown?: boolean } = {}) {
    this.outDir = path.resolve(outDir);
    this.pruneUnknown = options.pruneUnknown ?? false;
  }

  /** Renders the whole site the first time, then only pages whose inputs changed. Atomic file writes (write temp + rename). */
  build(input: SiteInput): BuildResult {
    if (!this.first && !fs.existsSync(path.join(this.outDir, 'index.html'))) this.reset(); // the folder was cleared under us
    if (this.first) this.survey();
    if (input.project !== this.project) this.entries.clear(); // every page shows it
    this.project = input.project;
    const stats: Stats = { written: 0, removed: 0, added: 0 };
    fs.mkdirSync(path.join(this.outDir, 'tasks'), { recursive: true });

    const pages = assignPages(input.tasks);
    const refs = new Map<string, TaskRef>();
    input.tasks.forEach((t, i) => refs.set(t.id, { page: pages[i] as string, status: t.status, title: t.title }));
    const escalations = new Map((input.snapshot?.escalations ?? []).map((e) => [e.id, e]));
    const claims = new Map((input.snapshot?.claims ?? []).map((c) => [c.id, c]));

    const next = new Map<string, Entry>();
    const rows: Buffer[] = [];
    const search: Buffer[] = [];
    input.tasks.forEach((task, i) => {
      const page = pages[i] as string;
      const escalation = escalations.get(task.id);
      const claim = pageClaim(claims.get(task.id));
      let extra = `${escalation === undefined ? '' : JSON.stringify([escalation.reason, escalation.since])}|${claim === undefined ? '' : JSON.stringify(claim)}`;
      for (const d of task.dependsOn) {
        const r = refs.get(d);
        extra += r === undefined ? '|' : `|${JSON.stringify([r.page, r.status, r.title])}`;
      }
      const old = this.entries.get(page);
      const content = old !== undefined && old.task === task ? old.content : contentKey(task);
      let entry: Entry;
      if (old !== undefined && old.content === content && old.extra === extra) {
        entry = old.task === task ? old : { ...old, task };
      } else {
        const esc = escalation === undefined ? undefined : { reason: escalation.reason, since: escalation.since };
        this.write(`tasks/${page}.html`, renderTaskPage({ project: input.project, task, refs, escalation: esc, claim }), stats);
        const text = `${task.title}\n${task.body}`.toLowerCase().replace(/\s+/g, ' ').trim();
        entry = {
          task, content, extra,
          row: same(old?.row, Buffer.from(renderRow(task, page, escalation !== undefined))),
          search: same(old?.search, Buffer.from(`${JSON.stringify(page)}:${JSON.stringify(text)}`)),
        };
      }
      next.set(page, entry);
      rows.push(entry.row);
      if (i > 0) search.push(COMMA);
      search.push(entry.search);
    });

    for (const page of this.entries.keys()) if (!next.has(page)) this.remove(`tasks/${page}.html`, stats);
    // Files this builder did not write are removed only from a folder that is ours alone (the server's).
    if (this.pruneUnknown) for (const rel of this.found) if (rel.startsWith('tasks/') && !next.has(rel.slice(6, -5))) this.remove(rel, stats);
    this.entries = next;

    const { before, after } = renderIndex({ ...input, refs, counts: countByStatus(input.tasks) });
    this.writeAssembled('index.html', { head: Buffer.from(before), parts: rows, tail: Buffer.from(after) }, stats);
    this.writeAssembled('search.json', { head: Buffer.from('{'), parts: search, tail: Buffer.from('}\n') }, stats);
    for (const [name, text] of STATIC_FILES) this.write(name, text, stats);
    this.first = false;
    this.found.clear();
    return { written: stats.written, removed: stats.removed, filesChanged: stats.added > 0 || stats.removed > 0 };
  }

  /** Forgets everything, so the next build renders and checks every file again. */
  private reset(): void {
    this.entries.clear();
    this.hashes.clear();
    this.assembled.clear();
    this.first = true;
  }

  /** Lists the files already on disk, so a restart neither rewrites identical files nor leaves stale pages. */
  private survey(): void {
    this.found.clear();
    let names: string[];
    try {
      names = fs.readdirSync(path.join(this.outDir, 'tasks'));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) names = [];
      else throw err;
    }
    for (const name of names) if (name.endsWith('.html')) this.found.add(`tasks/${name}`);
    for (const name of ['index.html', 'search.json', ...STATIC_FILES.map(([n]) => n)]) this.found.add(name);
  }

  /** Writes a file atomically unless its bytes are already there. */
  private write(rel: string, text: string, stats: Stats): void {
    const hash = crypto.createHash('sha1').update(text).digest('base64');
    let known = this.hashes.get(rel);
    let exists = known !== undefined;
    if (known === undefined && this.found.has(rel)) {
      const old = readIfExists(path.join(this.outDir, rel));
      exists = old !== undefined;
      if (old !== undefined) known = crypto.createHash('sha1').update(old).digest('base64');
    }
    this.hashes.set(rel, hash);
    if (known === hash) return;
    writeAtomic(path.join(this.outDir, rel), [Buffer.from(text)]);
    count(stats, exists);
  }

  /**
   * Writes head + parts + tail unless each is the same as last time (parts by identity): the index of
   * 10,000 tasks is megabytes, and copying, encoding or hashing it on every build would cost more than the rest.
   */
  private writeAssembled(rel: string, next: Assembled, stats: Stats): void {
    const prev = this.assembled.get(rel);
    this.assembled.set(rel, next);
    if (prev !== undefined && prev.head.equals(next.head) && prev.tail.equals(next.tail) && sameParts(prev.parts, next.parts)) return;
    const chunks = [next.head, ...next.parts, next.tail];
    const file = path.join(this.outDir, rel);
    let exists = prev !== undefined;
    if (prev === undefined && this.found.has(rel)) {
      const old = readIfExists(file);
      exists = old !== undefined;
      if (old !== undefined && equalsChunks(old, chunks)) return;
    }
    writeAtomic(file, chunks);
    count(stats, exists);
  }

  private remove(rel: string, stats: Stats): void {
    this.hashes.delete(rel);
    try {
      fs.unlinkSync(path.join(this.outDir, rel));
      stats.removed++;
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }
}

function count(stats: Stats, existed: boolean): void {
  stats.written++;
  if (!existed) stats.added++;
}

/** Page names in task order; a name taken by an earlier task (case-insensitively, for macOS and Windows) gets a suffix. */
function assignPages(tasks: readonly Task[]): string[] {
  const taken = new Set<string>();
  return tasks.map((t) => {
    const base = pageName(t.slug);
    let name = base;
    for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${base}_${n}`;
    taken.add(name.toLowerCase());
    return name;
  });
}

/** The old buffer when its bytes equal the new one, so unchanged parts keep their identity. */
function same(old: Buffer | undefined, next: Buffer): Buffer {
  return old !== undefined && old.equals(next) ? old : next;
}

function sameParts(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function equalsChunks(bytes: Buffer, chunks: readonly Buffer[]): boolean {
  let offset = 0;
  for (const c of chunks) {
    if (offset + c.length > bytes.length || !c.equals(bytes.subarray(offset, offset + c.length))) return false;
    offset += c.length;
  }
  return offset === bytes.length;
}

let tmpCounter = 0;

/**
 * Writes a file atomically (temp file + rename: a reader sees the old bytes or the new, never a torn
 * file). Like atomic.ts, but the folder is made once per build instead of per file, and a list of
 * buffers is written with writev instead of being concatenated: both matter at 10,000 pages.
 */
function writeAtomic(file: string, chunks: readonly Buffer[]): void {
  const tmp = `${file}.${process.pid}.${tmpCounter++}.tmp`;
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      for (let i = 0; i < chunks.length; i += 1024) writeAll(fd, chunks.slice(i, i + 1024));
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** writev may write less than asked (IOV_MAX, signals); finish what it left. */
function writeAll(fd: number, batch: Buffer[]): void {
  let left = fs.writevSync(fd, batch);
  for (const c of batch) {
    if (left >= c.length) {
      left -= c.length;
      continue;
    }
    let at = left;
    while (at < c.length) at += fs.writeSync(fd, c, at);
    left = 0;
  }
}

/** Everything of a task that its page or row shows, as one comparable string. */
function contentKey(t: Task): string {
  const shown = [t.id, t.slug, t.path, t.title, t.status, t.priority, t.milestone, t.owner, t.completedBy, t.completed,
    t.dependsOn, t.pr, t.ci, t.progress.done, t.progress.total, t.body];
  return crypto.createHash('sha1').update(JSON.stringify(shown)).digest('base64');
}

function pageClaim(c: Snapshot['claims'][number] | undefined): PageClaim | undefined {
  if (c === undefined) return undefined;
  const { ageS: _age, ...rest } = c;
  return rest;
}

function readIfExists(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}
