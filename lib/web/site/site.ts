// The site builder: index, task pages and assets, written only when their bytes change.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeFolders } from '../../base/atomic.ts';
import { checkFolders } from '../../base/nofollow.ts';
import { ASSET_NAMES, clientAssets } from './client-assets.ts';
import { type BuildResult, SiteFiles, type SiteFilesOptions } from './site-files.ts';
import { countByStatus, statusOrder } from '../../tasks/model.ts';
import { renderIndex } from '../render/render.ts';
import type { IndexInput } from '../render/render.ts';
import { boardStatuses, taskRow } from '../render/render-list.ts';
import { type TaskRow, searchFold } from '../client/rows.ts';
import { type PrShown, type TaskRef, isOverdue, prShown } from '../render/html.ts';
import { renderTaskPage } from '../render/render-task.ts';
import { docPages } from '../render/render-doc.ts';
import { relatedOf, relationsOf } from '../render/relations.ts';
import type { PageClaim } from '../render/render-task.ts';
import type { RunLogTail } from '../render/run-log.ts';
import { type WebClaim, type WebSnapshot, ciMapOf, ciOf, holdsOf } from '../render/snapshot-read.ts';
import type { DocFile, Task, ParseError } from '../../tasks/taskfile.ts';
import type { Remote } from '../../tasks/pr.ts';
import { KIND_FOLDERS, assignPages, kindPages } from '../render/pages.ts';
import { PendingPages } from './site-pending.ts';

/** A task page's file name (in tasks/): see pages.ts. */
export { pageName } from '../render/pages.ts';

export interface SiteInput {
  project: string;
  /** ` dir=…` (shell-quoted) for the hints when the tasks folder is not the default one, else ''. */
  folderWords?: string;
  /** With body and sections. Treated as immutable: a changed task must be a new object (TaskScanner does so). */
  tasks: Task[];
  errors: ParseError[];
  /** Docs, decisions and milestones (the scan's non-task kinds): listed on the index, never as tasks. */
  docs?: readonly DocFile[];
  /**
   * The scan's folder format: its custom statuses (config order) come after the canonical ones in
   * sorting; its declared statuses, as written, are the board's columns and words (boardStatuses).
   */
  format?: { readonly customStatuses: readonly string[]; readonly statuses?: readonly string[] };
  /** undefined: the heartbeat has never ticked. */
  snapshot: WebSnapshot | undefined;
  /** The owner whose heartbeat the pages show (named before its first snapshot too). */
  owner?: string;
  /** From the pid file, at build time. */
  heartbeat: IndexInput['heartbeat'];
  now: Date;
  /** The git remote that `pr: <number>` links to; without it a number shows as text. */
  remote?: Remote | undefined;
  /** The run log tails to show, by task id. */
  runLogs?: ReadonlyMap<string, RunLogTail>;
  /** The pages are served with the API (the server's own build): they link the whole run logs. */
  api?: boolean;
}

export type { BuildResult } from './site-files.ts';

/** deferPages: task pages whose content changed are kept pending (renderPending writes them) instead of rendered now. */
export interface BuildOptions { readonly deferPages?: boolean }

interface Entry {
  /** The task object last rendered: the same object means the same content, without hashing it again. */
  task: Task;
  content: string;
  /** What the page shows besides the task itself: escalation, claim, dependencies. */
  extra: string;
  /** The task as the list and board show it, as a tasks.json record. */
  row: TaskRow;
  /** The record as bytes and its hash, kept as the same objects while unchanged, so tasks.json is compared and written without re-encoding. */
  data: Buffer;
  hash: string;
  search: Buffer;
  /** The PR as shown, resolved once per task object (the remote is global: a new one clears every entry). */
  pr: PrShown | null;
}

const COMMA = Buffer.from(',\n');

/**
 * Builds the dashboard into a folder and keeps, per task page, a signature of what the page shows,
 * so a rebuild renders only the pages whose inputs changed and writes only files whose bytes changed.
 */
export class SiteBuilder {
  private readonly files: SiteFiles;
  /** By page name, which is unique within a build (unlike a slug). */
  private entries = new Map<string, Entry>();
  /** The signature of each doc, decision and milestone page written, by its path. */
  private docs = new Map<string, string>();
  /** What every page shows alike (project, remote, API links): a change re-renders them all. */
  private global: string | undefined;
  private first = true;
  private readonly pruneUnknown: boolean;
  /** Task pages a deferred build has not rendered yet, with their latest inputs. */
  private readonly pending = new PendingPages();

  /** pruneUnknown: the folder is ours alone, so task pages found there that no task has are removed. The rest goes to SiteFiles (the server's compressed siblings and page versions). */
  constructor(outDir: string, options: { pruneUnknown?: boolean } & SiteFilesOptions = {}) {
    this.files = new SiteFiles(outDir, options);
    this.pruneUnknown = options.pruneUnknown ?? false;
  }

  /** Renders the whole site the first time, then only pages whose inputs changed. Atomic file writes (write temp + rename). */
  build(input: SiteInput, options: BuildOptions = {}): BuildResult {
    const files = this.files;
    files.begin(['tasks', ...Object.values(KIND_FOLDERS)]);
    if (!this.first && !fs.existsSync(path.join(files.dir, 'index.html'))) this.reset(); // the folder was cleared under us
    // A restart neither rewrites identical files nor leaves stale pages.
    if (this.first) files.survey('tasks', '.html', ['index.html', 'search.json', 'tasks.json', ...ASSET_NAMES, ...kindPages(input.docs ?? [])]);
    const global = JSON.stringify([input.project, input.folderWords ?? '', input.remote ?? null, input.api ?? false, input.format?.customStatuses ?? []]);
    if (global !== this.global) {
      // every page shows these
      this.entries.clear();
      this.docs.clear();
    }
    this.global = global;
    // Never more than the build folder's own levels (site-<owner>/tasks under logs/task_manager): a tasks folder deleted meanwhile stays deleted.
    makeFolders(path.join(files.dir, 'tasks'), 4);

    const pages = assignPages(input.tasks);
    const refs = new Map<string, TaskRef>();
    input.tasks.forEach((t, i) => refs.set(t.id, { page: pages[i] as string, status: t.status, title: t.title }));
    const relations = relationsOf(input.tasks);
    const pageOf = new Map(input.tasks.map((t, i) => [t, pages[i] as string]));
    const escalations = new Map((input.snapshot?.escalations ?? []).map((e) => [e.id, e]));
    const claims = new Map((input.snapshot?.claims ?? []).map((c) => [c.id, c]));
    const holds = new Map(holdsOf(input.snapshot).map((x) => [x.id, x]));
    const checks = ciMapOf(input.snapshot);
    const shown = new Map<string, { pr: PrShown | null; ci: string }>();
    const order = new Map(statusOrder(input.format?.customStatuses).map((s, i) => [s, i]));
    const statusRank = (status: string): number => order.get(status) ?? order.size;

    const next = new Map<string, Entry>();
    const rows: TaskRow[] = [];
    const data: Buffer[] = [];
    const hashes: string[] = [];
    const search: Buffer[] = [];
    input.tasks.forEach((task, i) => {
      const page = pages[i] as string;
      const escalation = escalations.get(task.id);
      const claim = pageClaim(claims.get(task.id));
      const ci = ciOf(task, checks);
      const log = input.runLogs?.get(task.id);
      const hold = holds.get(task.id);
      // The log by where its lines end: a page is re-rendered when its log grew, not re-read to compare.
      let extra = `${escalation === undefined ? '' : JSON.stringify([escalation.reason, escalation.since])}|${claim === undefined ? '' : JSON.stringify(claim)}` +
        `|${ci}|${hold === undefined ? '' : JSON.stringify(hold)}|${log === undefined ? '' : JSON.stringify([log.path, log.log, log.end, log.lines.length])}`;
      // Parent, subtasks, dependencies and what it blocks, with their pages, statuses and titles; and whether it is overdue today.
      const related = relatedOf(task, relations, (t) => pageOf.get(t) as string);
      extra += `|${JSON.stringify(related)}|${isOverdue(task, input.now)}`;
      const old = this.entries.get(page);
      const pr = old !== undefined && old.task === task ? old.pr : prShown(task.pr, input.remote);
      shown.set(task.id, { pr, ci });
      const content = old !== undefined && old.task === task ? old.content : contentKey(task);
      let entry: Entry;
      if (old !== undefined && old.content === content && old.extra === extra) {
        entry = old.task === task ? old : { ...old, task, pr };
      } else {
        const esc = escalation === undefined ? undefined : { reason: escalation.reason, since: escalation.since };
        const render = (): string => renderTaskPage({ project: input.project, task, related, now: input.now, escalation: esc, claim, pr, ci, runLog: log, api: input.api ?? false, hold, folderWords: input.folderWords ?? '' });
        if (options.deferPages) this.pending.set(`tasks/${page}.html`, render);
        else {
          this.pending.drop(`tasks/${page}.html`);
          files.write(`tasks/${page}.html`, render());
        }
        const text = searchFold(`${task.title}\n${task.body}`).replace(/\s+/g, ' ').trim();
        const row = taskRow(task, page, escalation !== undefined, pr, ci, statusRank, related.parent?.task?.page);
        const bytes = Buffer.from(JSON.stringify(row));
        const kept = old !== undefined && old.data.equals(bytes);
        entry = {
          task, content, extra, pr, row,
          data: kept ? old.data : bytes,
          hash: kept ? old.hash : sha1(bytes),
          search: same(old?.search, Buffer.from(`${JSON.stringify(page)}:${JSON.stringify(text)}`)),
        };
      }
      next.set(page, entry);
      rows.push(entry.row);
      hashes.push(entry.hash);
      if (i > 0) {
        search.push(COMMA);
        data.push(COMMA);
      }
      search.push(entry.search);
      data.push(entry.data);
    });

    for (const page of this.entries.keys()) {
      if (next.has(page)) continue;
      this.pending.drop(`tasks/${page}.html`);
      files.remove(`tasks/${page}.html`);
    }
    // A build that does not defer leaves the folder whole: pages an earlier one deferred are written now.
    if (!options.deferPages) for (const [rel, render] of this.pending.take(Infinity)) files.write(rel, render());
    // Files this builder did not write are removed only from a folder that is ours alone (the server's); the survey is the first build's.
    if (this.pruneUnknown && this.first) for (const rel of files.surveyed()) if (rel.startsWith('tasks/') && !next.has(rel.slice(6, -5))) files.remove(rel);
    this.entries = next;
    this.buildDocs(input, (t) => pageOf.get(t) as string);

    // The index names the version of tasks.json it goes with: a page that sees another fetches the file again.
    const version = sha1(Buffer.from(hashes.join(''))).slice(0, 16);
    // search.json's from the content keys (they cover the bodies), so an edited body is searched anew.
    const searchVersion = sha1(Buffer.from([...next.values()].map((e) => e.content).join(''))).slice(0, 16);
    // The assets first: a page that finds the new index finds its script and stylesheet too.
    for (const asset of clientAssets()) files.write(asset.name, asset.bytes);
    files.write('index.html', renderIndex({ ...input, docs: input.docs ?? [], refs, counts: countByStatus(input.tasks, input.format?.customStatuses), shown, rows, version, searchVersion,
      ...boardStatuses(input.format) }));
    files.writeAssembled('tasks.json', { head: Buffer.from(`{"version":${JSON.stringify(version)},"tasks":[\n`), parts: data, tail: Buffer.from('\n]}\n') });
    files.writeAssembled('search.json', { head: Buffer.from('{'), parts: search, tail: Buffer.from('}\n') });
    this.first = false;
    return files.finish();
  }

  /** How many task pages a deferred build left for renderPending. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Renders and writes up to `max` of the task pages deferred builds left, the ones named in `first`
   * (`tasks/<page>.html`, when pending) before the others; a page enters the result's files once written.
   */
  renderPending(max: number, first: readonly string[] = []): BuildResult {
    this.files.begin(['tasks']);
    const due = this.pending.take(max, first);
    if (due.length) makeFolders(path.join(this.files.dir, 'tasks'), 4);
    for (const [rel, render] of due) this.files.write(rel, render());
    return this.files.finish();
  }

  /** The pages of docs, decisions and milestones: rendered when what they show changed, removed when their file went away. */
  private buildDocs(input: SiteInput, pageOf: (t: Task) => string): void {
    const next = new Map<string, string>();
    const folders = new Set<string>();
    for (const page of docPages(input.project, input.docs ?? [], input.tasks, pageOf)) {
      next.set(page.rel, page.signature);
      if (this.docs.get(page.rel) === page.signature) continue;
      const folder = page.rel.slice(0, page.rel.indexOf('/'));
      if (!folders.has(folder)) makeFolders(path.join(this.files.dir, folder), 4);
      folders.add(folder);
      this.files.write(page.rel, page.render());
    }
    for (const rel of this.docs.keys()) if (!next.has(rel)) this.files.remove(rel);
    // Pages of a kind found on disk at a restart (the server's own folder) that no doc has any more.
    if (this.pruneUnknown && this.first) {
      for (const folder of Object.values(KIND_FOLDERS)) {
        const dir = path.join(this.files.dir, folder);
        checkFolders(dir); // never listed, nor its pages removed, through a link
        const names = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
        for (const name of names) if (name.endsWith('.html') && !next.has(`${folder}/${name}`)) this.files.remove(`${folder}/${name}`);
      }
    }
    this.docs = next;
  }

  /** Forgets everything, so the next build renders and checks every file again. */
  private reset(): void {
    this.entries.clear();
    this.docs.clear();
    this.files.reset();
    this.first = true;
  }
}

/** The old buffer when its bytes equal the new one, so unchanged parts keep their identity. */
function same(old: Buffer | undefined, next: Buffer): Buffer {
  return old !== undefined && old.equals(next) ? old : next;
}

function sha1(bytes: Buffer): string {
  return crypto.createHash('sha1').update(bytes).digest('base64url');
}

/** Everything of a task that its page or row shows, as one comparable string. */
function contentKey(t: Task): string {
  const shown = [t.id, t.slug, t.path, t.title, t.status, t.priority, t.milestone, t.owner, t.completedBy, t.completed,
    t.dependsOn, t.pr, t.ci, t.progress.done, t.progress.total, t.body, t.owners, t.labels, t.created, t.updated, t.due, t.parent,
    t.effort, t.archived, t.acceptance.done, t.acceptance.total, t.statusKnown, t.statusHint, t.omittedBytes ?? 0];
  return crypto.createHash('sha1').update(JSON.stringify(shown)).digest('base64');
}

function pageClaim(c: WebClaim | undefined): PageClaim | undefined {
  if (c === undefined) return undefined;
  const { ageS: _age, ...rest } = c;
  return rest;
}
