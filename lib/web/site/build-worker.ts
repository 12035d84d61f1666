// The build thread itself: LiveSite in a worker, building at start, on folder watches and when the server asks, then the task pages in slices.
import fs from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import { runtimePaths } from '../../base/paths.ts';
import type { Task } from '../../tasks/taskfile.ts';
import { ApiAnswers } from './api-answers.ts';
import type { BuildWorkerData, Command, FilesUpdate, ModelUpdate, Report } from './build-protocol.ts';
import { type LiveModel, LiveSite } from './live.ts';
import { projectName } from '../../tasks/format.ts';
import { assignPages } from '../render/pages.ts';
import { HeapBudget } from '../../base/heap-budget.ts';
import type { BuildResult } from './site-files.ts';

const NOTHING: BuildResult = { written: 0, removed: 0, filesChanged: false };

/**
 * TASKS_BUILD_HOLD=<file>: every build (and every slice of task pages) waits while that file
 * exists. Tests use it to look at a server whose build is still to come (served from the last
 * build, or the "being built" page).
 * TASKS_PAGES_HOLD=<file>: the task pages a build left pending are not rendered in the background
 * while that file exists; a page the server asks for is rendered all the same. Tests use it to look
 * at a server whose index and API are up while its task pages are still to come.
 */
async function heldWhile(file: string | undefined): Promise<void> {
  while (file && fs.existsSync(file)) await pause(10);
}
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * TASKS_BUILD_EXIT=<file>: the build thread removes that file and exits (code 70) once it exists,
 * looked for every 50 ms; the server starts a new thread as after any death. Tests use it to look
 * at a server whose build thread died.
 */
function exitWhenAsked(file: string | undefined): void {
  if (!file) return;
  setInterval(() => {
    if (!fs.existsSync(file)) return;
    fs.rmSync(file, { force: true });
    process.exit(70);
  }, 50).unref();
}
/**
 * Task pages rendered in the background at a time: about 0.1-0.2 s of rendering, after which a
 * watch event or a page the server asks for goes first; and a slice's pages are on disk before the
 * next one is rendered, so the writer's queue holds one slice, not the whole site.
 */
const SLICE = 200;
/** The garbage a build or slice may leave before the thread collects (heap-budget.ts). */
const HEAP_SLACK_BYTES = 96 * 1024 * 1024;

/** Whether TASKS_PAGES_HOLD holds the task pages (see heldWhile). */
function pagesHeld(): boolean {
  const hold = process.env.TASKS_PAGES_HOLD;
  return hold !== undefined && hold !== '' && fs.existsSync(hold);
}

/**
 * The pages (`tasks/<page>.html`) of the tasks that are new objects since `before` (changed or
 * added), when there are at most a slice of them; none when more (a first build: they go in slices).
 */
function changedPages(before: readonly Task[], now: readonly Task[]): string[] {
  const old = new Set(before);
  const changed = new Set(now.filter((t) => !old.has(t)));
  if (changed.size === 0 || changed.size > SLICE) return [];
  const pages = assignPages(now);
  return now.flatMap((t, i) => (changed.has(t) ? [`tasks/${pages[i] as string}.html`] : []));
}

/** One report for a build and the pages rendered right after it (their files go to filesTracker one after the other). */
function merged(a: BuildResult, b: BuildResult): BuildResult {
  return { written: a.written + b.written, removed: a.removed + b.removed, filesChanged: a.filesChanged || b.filesChanged };
}

/** A build asked for (an id) or due to a watch event (null), run in turn with the others. */
interface Job { readonly id: number | null; readonly work: () => BuildResult }

/**
 * Runs in the worker the server starts (the entry calls it when workerData says so). Each build
 * scans and writes the index, the data files and the pages of docs, and leaves the task pages whose
 * inputs changed pending (files already right on disk are left alone); it ends in a `built` report
 * with the model, so `/` and the API answer before the task pages are all written. Then, between
 * builds, the pending pages are rendered in slices, each ending in a `pages` report: a page the
 * server asks for first, then the others in the scan's order.
 */
export function runBuildWorker(data: BuildWorkerData, port: MessagePort): void {
  const live = new LiveSite({
    owner: data.owner, dir: data.dir, project: data.project ?? projectName(data.dir), out: runtimePaths(data.dir, data.owner).site,
    ownFolder: true, folderWords: data.folderWords, now: () => new Date(), self: data.self, stuckSlackS: data.stuckSlackS, shared: data.shared, remote: data.remote,
  });
  const post = (r: Report): void => port.postMessage(r);
  exitWhenAsked(process.env.TASKS_BUILD_EXIT);
  let sent: LiveModel | undefined;
  /**
   * What the server learns of a new model (build-protocol.ts): none before the first scan (the
   * tasks folder missing at start): the API answers 503 until there is one, never an empty list
   * that is not the folder's.
   */
  const update = (): ModelUpdate | undefined => {
    if (!live.scanned || live.current === sent) return undefined;
    sent = live.current;
    return { barePr: sent.tasks.some((t) => t.pr !== null && /^#?[0-9]+$/.test(t.pr.trim())) };
  };
  const paths = runtimePaths(data.dir, data.owner);
  const answers = new ApiAnswers(live, data.dir, paths.snapshot);
  const files = filesTracker();
  const outcome = async (work: () => BuildResult): Promise<{ result: BuildResult; error?: string }> => {
    try {
      const result = work();
      await result.settled;
      return { result };
    } catch (err) {
      // A failed build (a full disk, say) leaves the last good pages served; the next change retries.
      return { result: NOTHING, error: (err as Error).message };
    }
  };
  const plain = ({ written, removed, filesChanged }: BuildResult): BuildResult => ({ written, removed, filesChanged });
  const heap = new HeapBudget(HEAP_SLACK_BYTES);

  const jobs: Job[] = [];
  /** The pages the server asked for, with the ids of its requests. */
  const wanted = new Map<string, number[]>();
  /** Asked-for pages that were not pending and have let one build go first. */
  const waitedForBuild = new Set<string>();
  /** One round at a time, each finished on disk (its writer done) before the next starts: the next one compares with what the last one wrote. */
  let running = false;
  const run = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      for (;;) {
        heap.check();
        await heldWhile(process.env.TASKS_BUILD_HOLD);
        // A turn of the event loop between rounds: without it the server's messages (a page asked
        // for, a rebuild) waited behind every slice, the rounds chaining on the writer's compressions.
        await new Promise((resolve) => setImmediate(resolve));
        // Asked-for pages before any build: rendered from the inputs of the last one, which is what
        // the index shows. A page no build has left pending waits for one build if one is due (after a
        // restart the index on disk is the last server's, and the new build has not read the folder yet).
        const asked = [...wanted].filter(([rel]) => jobs.length === 0 || live.isPending(rel) || waitedForBuild.has(rel));
        if (asked.length > 0) {
          for (const [rel] of asked) {
            wanted.delete(rel);
            waitedForBuild.delete(rel);
          }
          const { result, error } = await outcome(() => live.renderPending(asked.length, asked.map(([rel]) => rel)));
          post({ t: 'pages', ids: asked.flatMap(([, ids]) => ids), result: plain(result), files: files.update(result), version: live.version, pending: live.pendingPages, ...(error === undefined ? {} : { error }) });
          continue;
        }
        const job = jobs.shift();
        if (job !== undefined) {
          const before = live.scanned ? live.current.tasks : [];
          const built = await outcome(job.work);
          for (const rel of wanted.keys()) waitedForBuild.add(rel);
          // The pages of what changed go down with the build, so its report (and the pages' `change`
          // event) comes with them: the changed tasks' own first (a search shard ahead of them in line
          // fills a slice on its own), then, when few are pending, the others up to a slice.
          const few = live.pendingPages <= SLICE;
          const first = changedPages(before, live.current.tasks);
          const held = pagesHeld();
          const pages = built.error === undefined && !held && (few || first.length > 0) ? await outcome(() => live.renderPending(SLICE, first)) : undefined;
          const result = pages === undefined ? built.result : merged(built.result, pages.result);
          const error = built.error ?? pages?.error;
          const model = update();
          post({ t: 'built', id: job.id, result: plain(result), files: files.update(built.result, pages?.result), version: live.version, heartbeat: live.heartbeat, pending: live.pendingPages, ...(model ? { model } : {}), ...(error === undefined ? {} : { error }) });
          continue;
        }
        if (live.pendingPages === 0 || !live.renderable) return;
        if (pagesHeld()) {
          // Looked at again soon: a message that came meanwhile is taken first.
          await pause(10);
          continue;
        }
        const { result, error } = await outcome(() => live.renderPending(SLICE));
        post({ t: 'pages', ids: [], result: plain(result), files: files.update(result), version: live.version, pending: live.pendingPages, ...(error === undefined ? {} : { error }) });
        // A failed slice is not retried in a loop: the pages stay pending for the next build.
        if (error !== undefined) return;
      }
    } finally {
      running = false;
    }
  };
  const schedule = (job: Job): void => {
    jobs.push(job);
    void run();
  };
  // Every build of the server's folder defers its task pages: the background slices catch up.
  const rebuild = (changed?: readonly string[]): BuildResult => live.rebuild(changed, { deferPages: true });
  port.on('message', (c: Command) => {
    if (c.t === 'ask') {
      // Answered between the rounds' steps, from the model of the last scan: never after the build queue.
      answers.answer(c.ask).then((answer) => post({ t: 'answer', id: c.id, answer }), (err: unknown) => post({ t: 'answer', id: c.id, error: (err as Error).stack ?? String(err) }));
    } else if (c.t === 'page') {
      wanted.set(c.rel, [...(wanted.get(c.rel) ?? []), c.id]);
      void run();
    } else if (c.t === 'rebuild') schedule({ id: c.id, work: () => rebuild(c.changed ?? undefined) });
    else if (c.t === 'rearm') schedule({ id: c.id, work: () => live.rearm({ deferPages: true }) });
    else if (c.t === 'forget') schedule({ id: c.id, work: () => { live.forgetFiles(); return rebuild(); } });
    else {
      schedule({ id: c.id, work: () => { live.remote = c.remote; return rebuild([]); } });
    }
  });
  // Watch events that come while a build runs make one more build after it, not one each.
  let due = false;
  const onDue = (): void => {
    if (due) return;
    due = true;
    schedule({ id: null, work: () => {
      due = false;
      return rebuild(live.takeChanged());
    } });
  };
  // Watching first: a file changed during the first build is read again after it.
  live.watch(onDue, (err) => post({ t: 'error', message: err.message }), () => post({ t: 'pending' }));
  schedule({ id: 0, work: () => rebuild() });
}

/**
 * The build folder's files as the server last heard of them: each report carries what was added
 * and dropped since, not the whole list (at 50,000 tasks, 50,000 names after every slice). A result
 * with the whole list (a new builder's first) resets it; the others bring their changes.
 */
function filesTracker(): { update: (...results: readonly (BuildResult | undefined)[]) => FilesUpdate | undefined } {
  let last: Set<string> | undefined;
  return {
    update(...results) {
      let reset = false;
      const add = new Set<string>();
      const drop = new Set<string>();
      for (const result of results) {
        if (result?.files !== undefined) {
          last = new Set(result.files);
          reset = true;
          add.clear();
          drop.clear();
        } else if (result?.changes !== undefined && last !== undefined) {
          for (const f of result.changes.drop) if (last.delete(f) && !add.delete(f)) drop.add(f);
          for (const f of result.changes.add) {
            if (last.has(f)) continue;
            last.add(f);
            if (!drop.delete(f)) add.add(f);
          }
        }
      }
      if (reset && last !== undefined) return { reset: true, add: [...last], drop: [] };
      return add.size === 0 && drop.size === 0 ? undefined : { reset: false, add: [...add], drop: [...drop] };
    },
  };
}
