// The site builder: index, task pages and assets, written only when their bytes change.
import fs from 'node:fs';
import path from 'node:path';
import { makeFolders } from '../../base/atomic.ts';
import { ASSET_NAMES, clientAssets } from './client-assets.ts';
import { type BuildResult, SiteFiles, type SiteFilesOptions } from './site-files.ts';
import { countByStatus, statusOrder } from '../../tasks/model.ts';
import { renderIndex } from '../render/render.ts';
import type { IndexInput } from '../render/render.ts';
import { boardStatuses } from '../render/render-list.ts';
import type { PrShown } from '../render/html.ts';
import type { RunLogTail } from '../render/run-log.ts';
import type { WebSnapshot } from '../render/snapshot-read.ts';
import { localDay } from '../client/due.ts';
import type { DocFile, Task, ParseError } from '../../tasks/taskfile.ts';
import type { Remote } from '../../tasks/pr.ts';
import { KIND_FOLDERS, kindPages } from '../render/pages.ts';
import { type Entry, type EntryContext, TaskSides, deriveEntry, renderEntryPage } from './site-entries.ts';
import { SiteLinks } from './site-links.ts';
import { ListParts } from './site-list.ts';
import { PendingPages } from './site-pending.ts';
import { DocPagesWritten } from './site-docs.ts';
import { SiteData } from './site-json.ts';
import { DATA_DIR, MAX_SHARDS, shardCount } from '../client/shards.ts';
import type { FleetHistory } from '../render/charts.ts';
import { readDeliveries } from '../render/render-deliveries.ts';
import { HistoryView } from './history-view.ts';

/** A task page's file name (in tasks/): see pages.ts. */

/** Notification deliveries the Heartbeat section lists. */
const DELIVERIES_SHOWN = 10;
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
  /** The tasks folder: the index's Fleet charts read the owner's history there (history-view.ts). */
  dir?: string;
  /** The history to chart instead of reading it from dir (benchmarks, tests); neither: no Fleet section. */
  history?: FleetHistory;
  /**
   * A task with its text, for tasks the scan kept only a key of (textKeyOf): read when a page or
   * search shard is rendered; `current` false when the text read is not the one the scan saw.
   */
  textOf?: (task: Task) => { task: Task; current: boolean };
}

export type { BuildResult } from './site-files.ts';

/** deferPages: task pages whose content changed, and the search shards, are kept pending (renderPending writes them) instead of rendered now. */
export interface BuildOptions { readonly deferPages?: boolean }

/**
 * Builds the dashboard into a folder and keeps, per task, what it derived (the page's inputs, the
 * record, the search text): a rebuild derives again only the tasks that changed and those whose
 * pages show them, renders only pages whose inputs changed and writes only files whose bytes changed.
 */
export class SiteBuilder {
  private readonly files: SiteFiles;
  /** By page name, which is unique within a build (unlike a slug). */
  private entries = new Map<string, Entry>();
  /** The same entries by position in the last build's task list. */
  private list: Entry[] = [];
  private readonly links = new SiteLinks();
  private readonly listParts = new ListParts();
  /** Each id's PR and CI as shown (by the task its reference names), kept like the entries. */
  private readonly shown = new Map<string, { pr: PrShown | null; ci: string }>();
  /** What the snapshot and run logs said of each id at the last build (TaskSides.of). */
  private sides = new Map<string, string>();
  /** The local day of the last build: overdue marks change with it. */
  private day = '';
  /** The pages of docs, decisions and milestones written. */
  private readonly docs = new DocPagesWritten();
  /** What every page shows alike (project, remote, API links): a change re-renders them all. */
  private global: string | undefined;
  private first = true;
  private readonly pruneUnknown: boolean;
  /** Task pages a deferred build has not rendered yet, with their latest inputs. */
  private readonly pending = new PendingPages();
  private readonly data: SiteData;
  private readonly history = new HistoryView();
  /** What every task page of the last build shares: pending pages render with it. */
  private ctx: EntryContext | undefined;
  /** The paths of tasks whose page was rendered from text the scan did not see: derived again by the next build. */
  private readonly unsure = new Set<string>();

  /** pruneUnknown: the folder is ours alone, so task pages found there that no task has are removed. The rest goes to SiteFiles (the server's compressed siblings and page versions). */
  constructor(outDir: string, options: { pruneUnknown?: boolean } & SiteFilesOptions = {}) {
    this.files = new SiteFiles(outDir, options);
    this.data = new SiteData(this.files);
    this.pruneUnknown = options.pruneUnknown ?? false;
  }

  /** Renders the whole site the first time, then only pages whose inputs changed. Atomic file writes (write temp + rename). */
  build(input: SiteInput, options: BuildOptions = {}): BuildResult {
    const files = this.files;
    files.begin(['tasks', DATA_DIR, ...Object.values(KIND_FOLDERS)]);
    if (!this.first && !fs.existsSync(path.join(files.dir, 'index.html'))) this.reset(); // the folder was cleared under us
    // A restart neither rewrites identical files nor leaves stale pages.
    if (this.first) files.survey('tasks', '.html', ['index.html', ...SiteData.names(MAX_SHARDS), ...ASSET_NAMES, ...kindPages(input.docs ?? [])]);
    const global = JSON.stringify([input.project, input.folderWords ?? '', input.remote ?? null, input.api ?? false, input.format?.customStatuses ?? []]);
    const day = localDay(input.now);
    const same = global === this.global && !this.first && day === this.day;
    if (global !== this.global) {
      // every page shows these
      this.entries.clear();
      this.docs.clear();
    }
    this.global = global;
    this.day = day;
    // Never more than the build folder's own levels (site-<owner>/tasks under logs/task_manager): a tasks folder deleted meanwhile stays deleted.
    makeFolders(path.join(files.dir, 'tasks'), 4);
    makeFolders(path.join(files.dir, DATA_DIR), 4);

    const sides = new TaskSides(input.snapshot, input.runLogs);
    const said = new Map([...sides.ids()].map((id) => [id, sides.of(id)]));
    const links = this.links;
    // Only task contents changed (same paths, ids, pages and relations): derive again what shows them.
    const changed = same ? links.update(input.tasks, Math.max(16, input.tasks.length >> 3)) : undefined;
    if (changed === undefined) links.full(input.tasks);
    const order = new Map(statusOrder(input.format?.customStatuses).map((s, i) => [s, i]));
    // A page rendered from text the scan did not see (the file changed since) is rendered again at the next build.
    const read = input.textOf;
    const textOf = read === undefined ? (t: Task): Task => t : (t: Task): Task => {
      const { task, current } = read(t);
      if (!current) this.unsure.add(t.path);
      return task;
    };
    const unsure = this.unsure.size === 0 ? undefined : new Set(this.unsure);
    this.unsure.clear();
    const forced = unsure === undefined ? undefined : new Set(input.tasks.flatMap((t, i) => (unsure.has(t.path) ? [i] : [])));
    const ctx: EntryContext = { project: input.project, folderWords: input.folderWords ?? '', api: input.api ?? false, now: input.now, remote: input.remote, sides,
      statusRank: (status) => order.get(status) ?? order.size, textOf };
    this.ctx = ctx;
    const derive = (i: number, old: Entry | undefined): Entry => {
      const page = links.pages[i] as string;
      const related = links.related(i);
      const { entry, changed } = deriveEntry(ctx, input.tasks[i] as Task, page, related, forced?.has(i) === true ? undefined : old);
      const rel = `tasks/${page}.html`;
      if (!changed) return entry;
      if (options.deferPages) this.pending.set(rel, () => this.renderPage(page));
      else {
        this.pending.drop(rel);
        files.write(rel, renderEntryPage(ctx, entry, related));
      }
      return entry;
    };
    if (changed === undefined) this.deriveAll(input.tasks, derive);
    else {
      const dirty = new Set([...changed, ...(forced ?? [])]);
      for (const i of changed) for (const j of links.shownBy(i)) dirty.add(j);
      for (const id of new Set([...said.keys(), ...this.sides.keys()])) if (said.get(id) !== this.sides.get(id)) for (const i of links.positionsOf(id)) dirty.add(i);
      for (const i of dirty) {
        const entry = derive(i, this.list[i]);
        this.list[i] = entry;
        this.entries.set(links.pages[i] as string, entry);
      }
      changed.splice(0, changed.length, ...dirty);
    }
    this.sides = said;
    // A build that does not defer leaves the folder whole: pages an earlier one deferred are written now.
    if (!options.deferPages) for (const [rel, render] of this.pending.take(Infinity)) files.write(rel, render());
    this.docs.write(files, input.project, input.docs ?? [], input.tasks, (t) => links.pageOf(t), this.pruneUnknown && this.first);

    const list = this.list;
    const rows = list.map((e) => e.row);
    const shown = this.shown;
    if (changed === undefined) shown.clear();
    for (const i of changed ?? list.keys()) if (links.namesRef(i)) shown.set((list[i] as Entry).task.id, { pr: (list[i] as Entry).pr, ci: (list[i] as Entry).ci });
    // The data files first: the index names their versions, and a page that sees another fetches the data index again.
    const { version, searchVersion } = this.data.write(list, links.pages, this.pending, options.deferPages ?? false, textOf);
    if (this.pruneUnknown && this.first) this.pruneData(list.length);
    // The assets first: a page that finds the new index finds its script and stylesheet too.
    for (const asset of clientAssets()) files.write(asset.name, asset.bytes);
    const board = boardStatuses(input.format);
    const parts = this.listParts.get(input.tasks, rows, board, changed);
    const owner = input.owner ?? input.snapshot?.owner;
    const fleet = input.history ?? (input.dir === undefined || owner === undefined ? undefined : this.history.read(input.dir, owner, input.snapshot, input.now));
    // The last notification deliveries, under the Heartbeat section (a failing webhook is seen there).
    const deliveries = input.dir === undefined || owner === undefined ? [] : readDeliveries(input.dir, owner, DELIVERIES_SHOWN);
    files.write('index.html', renderIndex({ ...input, docs: input.docs ?? [], refs: links.refs, counts: countByStatus(input.tasks, input.format?.customStatuses), shown, rows, version, searchVersion,
      ...board, ...parts, fleet, deliveries }));
    this.first = false;
    return files.finish();
  }

  /** Every task derived (an unchanged one keeps its entry by page), and the pages of tasks that went away removed. */
  private deriveAll(tasks: readonly Task[], derive: (i: number, old: Entry | undefined) => Entry): void {
    const next = new Map<string, Entry>();
    this.list = tasks.map((_, i) => {
      const page = this.links.pages[i] as string;
      const entry = derive(i, this.entries.get(page));
      next.set(page, entry);
      return entry;
    });
    for (const page of this.entries.keys()) {
      if (next.has(page)) continue;
      this.pending.drop(`tasks/${page}.html`);
      this.files.remove(`tasks/${page}.html`);
    }
    // Files this builder did not write are removed only from a folder that is ours alone (the server's); the survey is the first build's.
    if (this.pruneUnknown && this.first) for (const rel of this.files.surveyed()) if (rel.startsWith('tasks/') && !next.has(rel.slice(6, -5))) this.files.remove(rel);
    this.entries = next;
  }

  /**
   * A pending task page, from the latest build's state: its entry, relations and context (a page
   * deferred by an earlier build and not derived again since shows the same, being unchanged).
   */
  private renderPage(page: string): string {
    const entry = this.entries.get(page);
    const i = entry === undefined ? undefined : this.links.positionOfTask(entry.task);
    if (entry === undefined || i === undefined || this.ctx === undefined) throw new Error(`no task has the page ${page} any more`);
    return renderEntryPage(this.ctx, entry, this.links.related(i));
  }

  /** How many task pages (and search shards) a deferred build left for renderPending. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Whether a deferred build left this file for renderPending. */
  isPending(rel: string): boolean {
    return this.pending.has(rel);
  }

  /** The task pages (`tasks/<page>.html`) a deferred build left for renderPending: on disk in an older version, or not at all. */
  pendingPaths(): string[] {
    return this.pending.paths();
  }

  /**
   * Renders and writes up to `max` of the task pages deferred builds left, the ones named in `first`
   * (`tasks/<page>.html`, when pending) before the others; a page enters the result's files once written.
   */
  renderPending(max: number, first: readonly string[] = []): BuildResult {
    this.files.begin(['tasks', DATA_DIR]);
    // The folders first: one that cannot be made (a link in its place) throws before any page is taken.
    if (this.pending.size > 0) {
      makeFolders(path.join(this.files.dir, 'tasks'), 4);
      makeFolders(path.join(this.files.dir, DATA_DIR), 4);
    }
    const due = this.pending.take(max, first);
    for (const [rel, render] of due) this.files.write(rel, render());
    // The manifest at most every few seconds while pages are still to come, and once they are all in.
    return this.files.finish({ manifestLater: this.pending.size > 0 });
  }

  /** Data files a restart finds that this many tasks do not have: more shards, or the whole tasks.json and search.json of earlier versions. */
  private pruneData(tasks: number): void {
    const kept = new Set(SiteData.names(shardCount(tasks)));
    for (const rel of ['tasks.json', 'search.json', ...SiteData.names(MAX_SHARDS)]) if (!kept.has(rel)) this.files.remove(rel);
  }

  /** Forgets everything, so the next build renders and checks every file again. */
  private reset(): void {
    this.entries.clear();
    this.list = [];
    this.docs.clear();
    this.files.reset();
    this.first = true;
  }
}
