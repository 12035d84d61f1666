// task_view's answer: the task as its file is now (with the version an update hands back), its claim, release or hold, and its run log's last lines.
import { tailLines } from '../base/logfile.ts';
import { runtimePaths } from '../base/paths.ts';
import { foreignHost } from '../cli/store.ts';
import type { Cli } from '../cli/context.ts';
import { readForEdit } from '../tasks/edit.ts';
import { logSources, runLogOf, runsListing } from '../web/render/run-log.ts';
import { claimOf } from './folder.ts';
import type { McpFolder } from './folder.ts';
import { type TaskSummary, summaryOf } from './views.ts';

export const LOG_LINES = 40;

export interface TaskView extends TaskSummary {
  /** The file's version (a hash of its bytes): pass it to task_update so an edit made since is a conflict, never overwritten. */
  version: string;
  /** The frontmatter as read. */
  fields: Record<string, unknown>;
  body: string;
  /** The registry's claim in full, else null. */
  run: {
    state: string; claimedBy: string; claimedAt: string; startedAt: string | null; endedAt: string | null;
    exitCode: number | null; worktree: string; branch: string | null; host: string | null; note: string | null;
  } | null;
  /** The last release of its claim, else null. */
  released: { at: string; reason: string; state: string; exitCode: number | null } | null;
  /** An operator's hold (released, not dispatched again until retry), else null. */
  hold: { since: string; by: string } | null;
  /** Its run log: where, and its last lines (none for a run on another host: its log is there). */
  log: { path: string; host: string | null; lines: string[] } | null;
}

export async function viewTask(folder: McpFolder, cli: Cli, ref: string, lines = LOG_LINES): Promise<TaskView> {
  // The file's bytes now (readForEdit resolves ref as id= does): the version is of exactly what is shown.
  const read = await readForEdit(folder.dir, ref);
  const t = read.task;
  const reg = await folder.registry();
  const claim = claimOf(reg, t);
  const released = [...(reg?.history ?? [])].reverse().find((h) => h.id === t.id);
  const hold = reg?.holds[t.id];
  const runs = runtimePaths(folder.dir, folder.owner).runs;
  const remote = foreignHost(claim, cli.env);
  let log: TaskView['log'] = null;
  if (remote !== undefined) log = { path: claim?.log ?? '', host: remote, lines: [] };
  else {
    // Only a .log in the runs folder is read, whatever the registry names (runLogOf).
    const file = runLogOf(t, logSources(reg), runs, runsListing(runs));
    const text = file === undefined ? '' : tailLines(file, lines);
    if (file !== undefined) log = { path: file, host: null, lines: text === '' ? [] : text.split('\n') };
  }
  return {
    ...summaryOf(t, reg),
    version: read.version,
    fields: jsonSafe(t.fields),
    body: t.body,
    run: claim === undefined ? null : {
      state: claim.state, claimedBy: claim.claimedBy, claimedAt: claim.claimedAt, startedAt: claim.startedAt, endedAt: claim.endedAt,
      exitCode: claim.exitCode, worktree: claim.worktree, branch: claim.branch ?? null, host: claim.host ?? null, note: claim.note ?? null,
    },
    released: released === undefined ? null : { at: released.releasedAt, reason: released.releaseReason, state: released.state, exitCode: released.exitCode },
    hold: hold === undefined ? null : { since: hold.since, by: hold.by },
    log,
  };
}

/** The frontmatter as JSON can carry it (a YAML date or a big number read as text). */
function jsonSafe(fields: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(fields, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))) as Record<string, unknown>;
}
