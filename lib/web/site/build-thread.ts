// The site's build thread as the server sees it: a worker that scans and renders, the model it reports, the build's state.
import fs from 'node:fs';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { RuntimePaths } from '../../base/paths.ts';
import type { Remote } from '../../tasks/pr.ts';
import { type HeartbeatView, readHeartbeatView } from './heartbeat-view.ts';
import type { ApiAnswer, ApiAsk } from './api-answers.ts';
import { Questions } from './build-asks.ts';
import type { BuildState } from './build-state.ts';
import type { BuildResult } from './site-files.ts';
import { readManifest } from './site-manifest.ts';
import type { SharedRegistry } from './registry-poll.ts';
import { type BuildWorkerData, type Command, type FilesUpdate, type ModelUpdate, type Report, type ThreadStart, spawnWorker } from './build-protocol.ts';

export interface BuildThreadInput {
  readonly owner: string;
  readonly dir: string;
  readonly project: string | undefined;
  readonly folderWords?: string;
  readonly paths: RuntimePaths;
  readonly self: { readonly pid: number; readonly ppid: number };
  readonly stuckSlackS: number | undefined;
  readonly start: ThreadStart;
  readonly log: (line: string) => void;
  readonly shared?: SharedRegistry | undefined;
  /** Every build, asked for or not: the server pushes `change` when it wrote or removed a file. */
  readonly onBuilt: (result: BuildResult) => void;
}

const NOTHING: BuildResult = { written: 0, removed: 0, filesChanged: false };
/** A thread that died is started again after 1 s, twice as long after each death without a build between, up to a minute (the pages on disk are served meanwhile). */
const RESTART_MS = 1000;
const RESTART_MAX_MS = 60_000;

/**
 * The build thread: a worker that scans the tasks folder, renders and writes the pages, watches the
 * folders and rebuilds. The server's own thread only answers requests, so a full build of 10,000
 * tasks never holds a request; the pages a request gets are whatever is on disk (files are replaced
 * whole, by rename). Each build reports the heartbeat it showed and whether it has a model. The
 * tasks stay in the thread: the task routes ask it (ask()), so the server's thread holds no copy.
 */
export class BuildThread {
  /** The forget-and-rebuild under way (filesLost). */
  private forgetting: Promise<BuildResult> | undefined;
  /**
   * Rounds that wrote or removed a file (the events' `version`, and what the static cache follows).
   * It only ever grows: a restarted thread counts from 0 again, so its count is added to what the
   * dead one reached, plus one (it may have written files after its last report).
   */
  version = 0;
  /** What the current thread's own count starts from. */
  private versionBase = 0;
  /**
   * What the server knows of the task model: undefined until a build has scanned the whole folder
   * and reported (the API answers 503 meanwhile: an empty model would be a false answer), then
   * whether a task's `pr:` is a bare number. The model itself stays in the build thread.
   */
  model: ModelUpdate | undefined;
  /** Whether the thread running now has reported a model: it can answer the task routes (a restarted one cannot until its first build). */
  private answering = false;
  /** The heartbeat as the last build showed it. */
  heartbeat: HeartbeatView;
  /** Where `pr: 123` links to; set once git answered. */
  remote: Remote | undefined;
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { command: Command; resolve: (r: BuildResult) => void }>();
  /** The task routes' questions the thread has still to answer. */
  private readonly asking = new Questions();
  private built = false;
  private watchPending = false;
  private closed = false;
  /** Deaths since the last build that finished: the next restart waits longer. */
  private deaths = 0;
  /** A previous server's pages were on disk when this one started: they are served while the first build runs. */
  private readonly pagesAtStart: boolean;
  /**
   * The files the last build wrote (its manifest): only these are served. At start, a previous
   * build's, if this tool wrote it into this very folder; undefined until then (site-manifest.ts).
   */
  private served: Set<string> | undefined;
  /** Why the last build failed (a link in the build folder, a full disk); undefined once one succeeds. */
  failure: string | undefined;
  /** Task pages the last report said are still to render: the build is `stale` until they are on disk. */
  pendingPages = 0;

  constructor(private readonly input: BuildThreadInput) {
    this.heartbeat = this.readHeartbeat();
    this.served = readManifest(input.paths.site);
    this.pagesAtStart = this.served?.has('index.html') === true;
    // Said once, so a hold left set by mistake is not a silent stall (build-worker.ts).
    const hold = process.env.TASKS_BUILD_HOLD;
    if (hold) input.log(`TASKS_BUILD_HOLD is set: every build waits while ${path.resolve(hold)} exists`);
    this.start();
  }

  /** The heartbeat's state now (one pid-file read and stat), for /api/health and the upkeep. */
  readHeartbeat(): HeartbeatView {
    const i = this.input;
    return readHeartbeatView({ owner: i.owner, dir: i.dir, pidFile: i.paths.heartbeatPid, now: () => new Date(), self: i.self, stuckSlackS: i.stuckSlackS });
  }

  /**
   * Whether the pages on disk are served: there is an index a build of this tool wrote, and it is
   * either a previous server's (found at start) or this server has the model it was built from. The first build's writer
   * threads put the index down before its report brings the model, so without the second rule `/`
   * would show tasks a moment before /api/tasks has them.
   */
  pagesShown(): boolean {
    return (this.model !== undefined || this.pagesAtStart) && this.served?.has('index.html') === true && fs.existsSync(this.indexFile());
  }

  /** Whether a file of the build folder (relative to it) is one a build of this tool wrote: nothing else there is served. */
  serves(rel: string): boolean {
    return this.served?.has(rel) === true;
  }

  /** `building` while the pages are not shown (503); `stale` until the first build is done, while a rebuild is asked for or waits, and while task pages are still to render; else `current`. */
  buildState(): BuildState {
    if (!this.pagesShown()) return 'building';
    return !this.built || this.watchPending || this.waiting.size > 0 || this.pendingPages > 0 ? 'stale' : 'current';
  }

  private indexFile(): string {
    return path.join(this.input.paths.site, 'index.html');
  }

  /** Re-reads the given task files (all: a walk) and renders what changed; resolves once it is on disk. */
  rebuild(changed?: readonly string[]): Promise<BuildResult> {
    return this.request((id) => ({ t: 'rebuild', id, changed: changed === undefined ? null : [...changed] }));
  }

  /** Fresh watches and a full rebuild (the tasks folder or its state folder was replaced). */
  rearm(): Promise<BuildResult> {
    return this.request((id) => ({ t: 'rearm', id }));
  }

  /** The git remote answered: the pages are rebuilt with PR links. */
  setRemote(remote: Remote): Promise<BuildResult> {
    this.remote = remote;
    return this.request((id) => ({ t: 'remote', id, remote }));
  }

  /**
   * Asks for a task page (`tasks/<page>.html`) that is not on disk: a build left it pending, so the
   * thread renders it before anything else; resolves once that is on disk (serves() then says so).
   */
  page(rel: string): Promise<BuildResult> {
    return this.request((id) => ({ t: 'page', id, rel }));
  }

  /**
   * A file the manifest lists is not on disk (the build folder changed under us): the thread forgets
   * what it wrote and the next build writes what is missing; resolves once that is on disk. One at a
   * time: requests that find files lost meanwhile wait for the same build.
   */
  filesLost(): Promise<BuildResult> {
    this.forgetting ??= this.request((id) => ({ t: 'forget', id })).finally(() => { this.forgetting = undefined; });
    return this.forgetting;
  }

  /** The build folder lost its index (deleted under us): a full rebuild, unless one is under way. */
  pagesMissing(): void {
    if (this.built && this.waiting.size === 0) void this.rebuild();
  }

  /**
   * Whether the task routes can be answered: the thread running now has built a model. Not before
   * the first build, nor between a thread's death and its replacement's first build (503 meanwhile).
   */
  apiReady(): boolean {
    return this.answering && this.worker !== undefined && !this.closed;
  }

  /**
   * Asks the thread's model (api-answers.ts): answered between its rounds' steps. `building` when
   * there is no thread to answer (closed, dead, not built yet) or it has not answered within
   * ASK_WAIT_MS (build-asks.ts): a 503 to retry.
   */
  ask(ask: ApiAsk): Promise<ApiAnswer> {
    const worker = this.worker;
    if (!this.apiReady() || worker === undefined) return Promise.resolve({ kind: 'building' });
    const id = this.nextId++;
    const answer = this.asking.wait(id);
    worker.postMessage({ t: 'ask', id, ask } satisfies Command);
    return answer;
  }

  /** Ends the thread (a build under way stops where it is; the next start clears what it left). */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.values()) w.resolve(NOTHING);
    this.waiting.clear();
    this.asking.answerAll();
    await this.worker?.terminate();
  }

  private request(make: (id: number) => Command): Promise<BuildResult> {
    if (this.closed) return Promise.resolve(NOTHING);
    const command = make(this.nextId++);
    return new Promise((resolve) => {
      this.waiting.set(command.id, { command, resolve });
      this.worker?.postMessage(command);
    });
  }

  private start(): void {
    const i = this.input;
    const data: BuildWorkerData = { role: 'tasks-build', owner: i.owner, dir: i.dir, project: i.project, folderWords: i.folderWords, stuckSlackS: i.stuckSlackS, self: i.self, shared: i.shared, remote: this.remote };
    const worker = spawnWorker(i.start, data);
    this.worker = worker;
    worker.on('message', (m: Report) => this.receive(m));
    worker.on('error', (err) => i.log(`dashboard build thread failed: ${err.stack ?? err.message}`));
    worker.on('exit', (code) => {
      if (this.closed) return;
      this.worker = undefined;
      this.answering = false;
      // Its questions die with it: the requests answer 503, to retry once the new thread has built.
      this.asking.answerAll();
      // The dead thread may have written files it never reported: the version moves at once (the static cache empties).
      this.version += 1;
      this.versionBase = this.version;
      // Stale until the new thread's first build is on disk.
      this.built = false;
      this.watchPending = false;
      const wait = Math.min(RESTART_MAX_MS, RESTART_MS * 2 ** this.deaths++);
      i.log(`dashboard build thread exited (code ${code}); starting it again in ${wait / 1000} s`);
      // The new thread builds everything first, then takes the requests that were still waiting.
      setTimeout(() => {
        if (this.closed) return;
        this.start();
        for (const w of this.waiting.values()) this.worker?.postMessage(w.command);
      }, wait).unref();
    });
  }

  private receive(m: Report): void {
    if (m.t === 'pending') {
      this.watchPending = true;
    } else if (m.t === 'answer') {
      this.asking.answer(m.id, m.answer, m.error);
    } else if (m.t === 'error') {
      this.input.log(`dashboard rebuild failed: ${m.message}`);
    } else if (m.t === 'pages') {
      this.applyFiles(m.files);
      this.version = this.versionBase + m.version;
      this.pendingPages = m.pending;
      if (m.error !== undefined) this.input.log(`dashboard pages failed: ${m.error}`);
      this.input.onBuilt(m.result);
      for (const id of m.ids) this.answer(id, m.result);
    } else {
      if (m.model) {
        this.model = m.model;
        this.answering = true;
      }
      this.applyFiles(m.files);
      this.failure = m.error;
      this.version = this.versionBase + m.version;
      this.heartbeat = m.heartbeat;
      this.pendingPages = m.pending;
      this.built = true;
      this.deaths = 0;
      if (m.id === null) this.watchPending = false;
      if (m.error !== undefined) this.input.log(`dashboard rebuild failed: ${m.error}`);
      this.input.onBuilt(m.result);
      if (m.id !== null) this.answer(m.id, m.result);
    }
  }

  private answer(id: number, result: BuildResult): void {
    const waiter = this.waiting.get(id);
    this.waiting.delete(id);
    waiter?.resolve(result);
  }

  /** The files now served: a new thread's list replaces the old one (a previous server's manifest, at start). */
  private applyFiles(files: FilesUpdate | undefined): void {
    if (files === undefined) return;
    const served = files.reset || this.served === undefined ? new Set<string>() : this.served;
    for (const f of files.drop) served.delete(f);
    for (const f of files.add) served.add(f);
    this.served = served;
  }
}
