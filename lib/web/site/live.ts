// The live site: the model kept current from folder watches, rebuilds, and server-sent events.
import path from 'node:path';
import { isFolder, readJsonFile } from '../../base/jsonfile.ts';
import { type HeartbeatView, readHeartbeatView } from './heartbeat-view.ts';
import { type RuntimePaths, runtimePaths } from '../../base/paths.ts';
import { TaskScanner } from '../../tasks/scan.ts';
import { FolderWatcher } from '../../base/watch.ts';
import { type BuildOptions, type BuildResult, SiteBuilder } from './site.ts';
import type { Claim, Registry } from '../../manager/registry.ts';
import { withRunEscalations } from '../../manager/escalations.ts';
import type { DocFile, ParseError, Task } from '../../tasks/taskfile.ts';
import type { FolderFormat } from '../../tasks/format.ts';
import type { Snapshot, SnapshotClaim } from '../../manager/tick.ts';
import type { Remote } from '../../tasks/pr.ts';
import { RunLogTails } from '../render/run-log.ts';
import { readSnapshotFile } from '../render/snapshot-read.ts';
import { RegistryPoll, type SharedRegistry } from './registry-poll.ts';

export interface LiveSiteOptions {
  readonly owner: string;
  readonly dir: string;
  readonly project: string;
  /** What a hint adds after `just tasks retry id=…` to name this tasks folder: ` dir=<dir>` (shell-quoted), or '' (the default: the default folder). */
  readonly folderWords?: string;
  /** Where the pages go: the server's build folder, or build's out=. */
  readonly out: string;
  /**
   * True for the server's own build folder: stale pages found there are removed, every file
   * gets compressed siblings and every page a version trailer, and a manifest lists the files (site-files.ts).
   */
  readonly ownFolder: boolean;
  readonly now: () => Date;
  /** The reading process (never taken for the heartbeat); default: nobody excluded. */
  readonly self?: { readonly pid: number; readonly ppid: number };
  /** Seconds past 3 intervals before a silent heartbeat is stuck (default: health.ts's). */
  readonly stuckSlackS?: number;
  /** The git remote, for links from `pr: <number>`. */
  readonly remote?: Remote;
  /** A shared registry (registry=postgres://…): its claims are read from the database, not registry.json. */
  readonly shared?: SharedRegistry | undefined;
}

export type { HeartbeatView } from './heartbeat-view.ts';

/** The task model of one rebuild: a new object each time, so it can key what is derived from it. */
export interface LiveModel {
  readonly tasks: Task[];
  readonly errors: ParseError[];
  /** Docs, decisions and milestones: pages and index sections of their own, never tasks. */
  readonly docs: DocFile[];
  /** The folder's format: its custom statuses order the board and the counts. */
  readonly format?: FolderFormat;
}

const NOTHING: BuildResult = { written: 0, removed: 0, filesChanged: false };

/**
 * The dashboard build folder kept in step with the task files and the snapshot: rebuild() scans
 * incrementally and re-renders only what changed.
 */
export class LiveSite {
  readonly paths: RuntimePaths;
  private readonly scanner: TaskScanner;
  private builder: SiteBuilder;
  private watcher: FolderWatcher | undefined;
  private onWatchEvent: (() => void) | undefined;
  private onWatchError: ((err: Error) => void) | undefined;
  version = 0;
  /** The task model of the last rebuild: what the pages show, and what /api/tasks answers from. */
  current: LiveModel = { tasks: [], errors: [], docs: [] };
  /** False until a rebuild has scanned the folder: until then `current` is a placeholder, not the folder's tasks. */
  scanned = false;
  /** The heartbeat as the last rebuild saw it. */
  heartbeat: HeartbeatView;
  /** Where `pr: 123` links to (the git remote); set by the server once git has answered. */
  remote: Remote | undefined;
  private readonly runLogs: RunLogTails;
  /** The shared registry read in the background; undefined: registry.json, read at each rebuild. */
  private readonly poll: RegistryPoll | undefined;

  constructor(readonly options: LiveSiteOptions) {
    this.paths = runtimePaths(options.dir, options.owner);
    // Task text is read again when a page or search shard is rendered, never kept (TaskScanner.withText).
    this.scanner = new TaskScanner(options.dir, { bodyKeys: true });
    this.builder = this.newBuilder();
    this.heartbeat = this.readHeartbeat();
    this.remote = options.remote;
    this.runLogs = new RunLogTails(this.paths.runs);
    // A read that differs from the last one is a change like a watch event: a rebuild follows.
    this.poll = options.shared ? new RegistryPoll({ ...options.shared, dir: options.dir, owner: options.owner, onChange: () => this.onWatchEvent?.() }) : undefined;
  }

  private newBuilder(): SiteBuilder {
    const own = this.options.ownFolder;
    return new SiteBuilder(this.options.out, { pruneUnknown: own, precompress: own, versions: own, manifest: own });
  }

  /** The heartbeat's state now: one pid-file read and stat, never a signal; a damaged pid file is `stopped` with the reason. */
  readHeartbeat(): HeartbeatView {
    const o = this.options;
    return readHeartbeatView({ owner: o.owner, dir: o.dir, pidFile: this.paths.heartbeatPid, now: o.now, self: o.self, stuckSlackS: o.stuckSlackS });
  }

  /**
   * Scans (only the given task files when known) and renders; returns what was written. While the
   * server's tasks folder is gone (moved away, deleted) nothing is built: the build folder lives
   * inside it, and writing there would recreate the folder in the way of the one coming back.
   */
  rebuild(changed?: readonly string[], options: BuildOptions = {}): BuildResult {
    if (this.folderGone()) return NOTHING;
    const scan = changed ? this.scanner.rescan(changed) : this.scanner.scan();
    // The same model object while nothing was re-read: what is derived from it (the /api/tasks body) stays valid.
    if (scan.changed || !this.scanned) this.current = { tasks: scan.tasks, errors: scan.errors, docs: scan.docs, format: scan.format };
    this.scanned = true;
    const { tasks, errors, docs, format } = this.current;
    this.heartbeat = this.readHeartbeat();
    // The shared registry as last read (never waited for here); registry.json as it is now.
    const registry = this.poll ? this.poll.last : readJsonFile<Registry>(this.paths.registry);
    const result = this.guarded(() => this.builder.build({
      project: this.options.project,
      folderWords: this.options.folderWords ?? '',
      tasks,
      errors,
      docs,
      format,
      snapshot: withRegistry(readSnapshotFile(this.paths.snapshot), registry),
      owner: this.options.owner,
      // The view carries state and stale besides running and pid; render.ts shows them.
      heartbeat: this.heartbeat,
      now: this.options.now(),
      remote: this.remote,
      runLogs: this.runLogs.read(this.localRuns(tasks, registry), registry),
      // Only the server's own pages can link to its API (a built copy is opened from files).
      api: this.options.ownFolder,
      dir: this.options.dir,
      textOf: (t) => this.scanner.withText(t),
    }, options));
    return this.counted(result);
  }

  /** Whether a deferred rebuild left this file (`tasks/<page>.html`, a search shard) to render. */
  isPending(rel: string): boolean {
    return this.builder.isPending(rel);
  }

  /**
   * Task pages a deferred rebuild left to render (renderPending writes them), counted while the
   * folder is gone too: they are still missing, so the build is not `current` (it said so for the
   * moment between the folder coming back and its rearm, with none of the pages on disk).
   */
  get pendingPages(): number {
    return this.builder.pendingCount;
  }

  /**
   * Whether renderPending can write now. Not while the folder is gone: the build thread would go
   * round without end. The rearm when it comes back builds again, and the slices go on.
   */
  get renderable(): boolean {
    return !this.folderGone();
  }

  /**
   * Renders up to max of the task pages deferred rebuilds left, those named in first
   * (`tasks/<page>.html`) before the others. Nothing while the tasks folder is gone, as rebuild.
   */
  renderPending(max: number, first: readonly string[] = []): BuildResult {
    if (this.folderGone() || this.builder.pendingCount === 0) return NOTHING;
    return this.counted(this.guarded(() => this.builder.renderPending(max, first)));
  }

  /**
   * A build or a slice that throws half way (a link where a folder of the build folder belongs, a
   * render bug) leaves the builder with some of the new state and pages taken but not written: a
   * fresh builder compares every page with the disk at the next build, so nothing stays stale or lost.
   */
  private guarded(work: () => BuildResult): BuildResult {
    try {
      return work();
    } catch (err) {
      this.builder = this.newBuilder();
      throw err;
    }
  }

  /**
   * The build folder lost a file the builder wrote (changed under us: deleted by hand, or half of
   * it while a build ran): a fresh builder compares every page with the disk at the next build and
   * writes what is missing.
   */
  forgetFiles(): void {
    this.builder = this.newBuilder();
  }

  /** While the server's tasks folder is gone nothing is written: the build folder lives inside it. */
  private folderGone(): boolean {
    return this.options.ownFolder && !isFolder(this.options.dir);
  }

  /** A write round's result: the version moves when it wrote or removed a file. */
  private counted(result: BuildResult): BuildResult {
    if (result.written || result.removed) this.version += 1;
    // Files the writer could not write (a full disk, the folder deleted under them) are
    // known to the builder as written: a fresh one renders every page again and compares it with
    // what is on disk, so the next build writes what is missing or wrong.
    const builder = this.builder;
    result.settled?.catch(() => { if (this.builder === builder) this.builder = this.newBuilder(); });
    return result;
  }

  /** The tasks whose run log is on this host: a claim another host holds (shared registry) has its log there, not in this runs folder. */
  private localRuns(tasks: Task[], registry: Registry | undefined): Task[] {
    const here = this.options.shared?.host;
    if (here === undefined || registry === undefined) return tasks;
    return tasks.filter((t) => { const host = registry.claims[t.id]?.host; return host === undefined || host === here; });
  }

  /**
   * Watches the task files and this owner's snapshot (inotify through fs.watch, no polling).
   * onPending hears that a change came in; onDue, once it has waited out the debounce, that it is
   * time to rebuild: the caller runs rebuild(takeChanged()) in turn with its other builds (the
   * server's build thread finishes writing one build before it starts the next). Returns a stop function.
   */
  watch(onDue: () => void, onError: (err: Error) => void, onPending: () => void = () => undefined, debounceMs = 100): () => void {
    let timer: NodeJS.Timeout | undefined;
    this.onWatchEvent = (): void => {
      if (timer) clearTimeout(timer);
      else onPending();
      timer = setTimeout(() => {
        timer = undefined;
        onDue();
      }, debounceMs);
    };
    this.onWatchError = onError;
    this.arm();
    return () => {
      if (timer) clearTimeout(timer);
      this.onWatchEvent = undefined;
      this.watcher?.close();
      this.watcher = undefined;
    };
  }

  /** The task files the watches named since the last call, or undefined: walk the whole folder. */
  takeChanged(): string[] | undefined {
    return this.watcher?.take();
  }

  /**
   * New watches from scratch and a full rebuild: after the tasks folder (or its state folder) was
   * deleted or moved and is back, the old watches follow the old inodes and hear nothing.
   */
  rearm(options: BuildOptions = {}): BuildResult {
    if (this.onWatchEvent) this.arm();
    return this.rebuild(undefined, options);
  }

  private arm(): void {
    const watched = new Set([path.basename(this.paths.snapshot), path.basename(this.paths.heartbeatPid), 'registry.json']);
    this.watcher?.close();
    const watcher = new FolderWatcher(this.options.dir, this.paths.stateDir, (event) => {
      // The snapshot, the heartbeat starting or stopping, and claims changing between ticks.
      if (event.kind !== 'state' || watched.has(event.name)) this.onWatchEvent?.();
      // A new snapshot: a tick changed claims, so the shared registry is read now, not at the next poll.
      if (event.kind === 'state' && event.name === path.basename(this.paths.snapshot)) this.poll?.kick();
    }, (err) => this.onWatchError?.(err));
    this.watcher = watcher;
    watcher.sync();
  }
}

/**
 * A shared registry's claims the snapshot does not list yet (another host took them since this
 * host's last tick), as the snapshot would: the worktree and PR facts are that host's, unknown here.
 */
function sharedSince(snapshot: Snapshot, registry: Registry): SnapshotClaim[] {
  const listed = new Set(snapshot.claims.map((c) => c.id));
  const now = Date.parse(snapshot.tickAt);
  return Object.values(registry.claims).filter((c) => c.host !== undefined && !listed.has(c.id)).map((c) => ({
    ...c, owner: c.claimedBy, ageS: Math.max(0, Math.round((now - Date.parse(c.claimedAt)) / 1000)), worktreeExists: false, worktreeExpected: false, pr: null, ci: 'unknown',
  }));
}

/**
 * The snapshot's claims and holds as the registry has them now: a run that ended or was
 * interrupted after the last tick (the heartbeat stopped, say), a release or a retry, shows so
 * without waiting for a tick that may never come.
 */
export function withRegistry(snapshot: Snapshot | undefined, registry: Registry | undefined): Snapshot | undefined {
  if (!snapshot || typeof registry !== 'object' || registry === null) return snapshot;
  const claims = !registry.claims ? snapshot.claims : [...snapshot.claims
    .filter((c) => registry.claims[c.id] !== undefined)
    .map((c) => ({ ...c, ...registry.claims[c.id] })), ...sharedSince(snapshot, registry)];
  // A registry written before holds existed has none: the snapshot's stand.
  return { ...snapshot, claims, escalations: withRunEscalations(snapshot.escalations, claims), ...(registry.holds === undefined ? {} : { holds: registry.holds }) };
}
