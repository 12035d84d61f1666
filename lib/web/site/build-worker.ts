// The build thread itself: LiveSite in a worker, building at start, on folder watches and when the server asks, reporting each build.
import fs from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import { runtimePaths } from '../../base/paths.ts';
import type { Task } from '../../tasks/taskfile.ts';
import type { BuildWorkerData, Command, ModelUpdate, Report } from './build-thread.ts';
import { type LiveModel, LiveSite } from './live.ts';
import { projectName } from '../../tasks/format.ts';
import type { BuildResult } from './site-files.ts';

const NOTHING: BuildResult = { written: 0, removed: 0, filesChanged: false };

/**
 * TASKS_BUILD_HOLD=<file>: every build waits while that file exists. Tests use it to look at a
 * server whose build is still to come (served from the last build, or the "being built" page).
 */
async function heldWhile(file: string | undefined): Promise<void> {
  while (file && fs.existsSync(file)) await new Promise((r) => setTimeout(r, 10));
}
/** Changed tasks go in messages of this many, so the server's thread takes in 10,000 between requests, not in one piece. */
const TASKS_PER_MESSAGE = 500;

/**
 * Runs in the worker the server starts (the entry calls it when workerData says so). Builds the
 * whole site first (files already right on disk are left alone), then watches; each build, and
 * each of the server's requests (answered in order, after the first build), ends in a `built`
 * report once what it wrote is on disk.
 */
export function runBuildWorker(data: BuildWorkerData, port: MessagePort): void {
  const live = new LiveSite({
    owner: data.owner, dir: data.dir, project: data.project ?? projectName(data.dir), out: runtimePaths(data.dir, data.owner).site,
    ownFolder: true, folderWords: data.folderWords, now: () => new Date(), self: data.self, stuckSlackS: data.stuckSlackS, shared: data.shared,
  });
  const post = (r: Report): void => port.postMessage(r);
  let sent: LiveModel | undefined;
  let sentTasks = new Map<string, Task>();
  /**
   * The model as changes since the last report: the tasks that are new objects, then the order.
   * None before the first scan (the tasks folder missing at start): the API answers 503 until there
   * is one, never an empty list that is not the folder's.
   */
  const update = (): ModelUpdate | undefined => {
    if (!live.scanned || live.current === sent) return undefined;
    const { tasks, ...rest } = live.current;
    const changed = tasks.filter((t) => sentTasks.get(t.path) !== t);
    for (let i = 0; i < changed.length; i += TASKS_PER_MESSAGE) post({ t: 'tasks', tasks: changed.slice(i, i + TASKS_PER_MESSAGE) });
    sent = live.current;
    sentTasks = new Map(tasks.map((t) => [t.path, t]));
    return { order: tasks.map((t) => t.path), rest };
  };
  const report = (id: number | null, result: BuildResult, error?: string): void => {
    const model = update();
    const { written, removed, filesChanged, files } = result;
    post({ t: 'built', id, result: { written, removed, filesChanged, ...(files ? { files } : {}) }, version: live.version, heartbeat: live.heartbeat, ...(model ? { model } : {}), ...(error === undefined ? {} : { error }) });
  };
  // One build at a time, each finished on disk (its writer thread done) before the next starts:
  // the next one compares with what the last one wrote.
  let chain = Promise.resolve();
  const build = (id: number | null, work: () => BuildResult): void => {
    chain = chain.then(async () => {
      await heldWhile(process.env.TASKS_BUILD_HOLD);
      let result = NOTHING;
      let error: string | undefined;
      try {
        result = work();
        await result.settled;
      } catch (err) {
        // A failed build (a full disk, say) leaves the last good pages served; the next change retries.
        error = (err as Error).message;
      }
      report(id, result, error);
    });
  };
  port.on('message', (c: Command) => {
    if (c.t === 'rebuild') build(c.id, () => live.rebuild(c.changed ?? undefined));
    else if (c.t === 'rearm') build(c.id, () => live.rearm());
    else {
      live.remote = c.remote;
      build(c.id, () => live.rebuild([]));
    }
  });
  // Watch events that come while a build runs make one more build after it, not one each.
  let due = false;
  const onDue = (): void => {
    if (due) return;
    due = true;
    build(null, () => {
      due = false;
      return live.rebuild(live.takeChanged());
    });
  };
  // Watching first: a file changed during the first build is read again after it.
  live.watch(onDue, (err) => post({ t: 'error', message: err.message }), () => post({ t: 'pending' }));
  build(0, () => live.rebuild());
}
