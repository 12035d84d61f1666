// One task's share of the site: what its page shows besides the task and its record in the data files, derived once per change; its search text, made when its shard is written.
import type { Task } from '../../tasks/taskfile.ts';
import { sha1Digest } from '../../base/digest.ts';
import { textKeyOf } from '../../tasks/task-text.ts';
import type { Remote } from '../../tasks/pr.ts';
import { type PrShown, isOverdue, prShown } from '../render/html.ts';
import type { TaskRelated } from '../render/relations.ts';
import { taskRow } from '../render/render-list.ts';
import { type PageClaim, renderTaskPage } from '../render/render-task.ts';
import type { RunLogTail } from '../render/run-log.ts';
import { type WebClaim, type WebHold, type WebSnapshot, ciMapOf, ciOf, holdsOf } from '../render/snapshot-read.ts';
import { type TaskRow, searchFold } from '../client/rows.ts';
import type { CiState } from '../../tasks/taskfile.ts';

export interface Entry {
  /** The task object last derived from: the same object means the same content, without hashing it again. */
  task: Task;
  content: string;
  /** What the page shows besides the task itself (escalation, claim, dependencies), as a hash: the text is hundreds of bytes a task. */
  extra: string;
  /**
   * The task as the list and board show it, as a record of the data files: the same object while
   * its JSON is the same, so a shard none of whose rows changed is not encoded again. Its bytes are
   * not kept: a shard is encoded when one of its rows changed (they cost about 28 MB at 50,000 tasks).
   */
  row: TaskRow;
  /** The PR as shown, resolved once per task object (the remote is global: a new one clears every entry). */
  pr: PrShown | null;
  ci: string;
}

/** What the snapshot and the run logs say of each task, by id, read once per build. */
export class TaskSides {
  readonly escalations: Map<string, { id: string; reason: string; since: string }>;
  readonly claims: Map<string, WebClaim>;
  readonly holds: Map<string, WebHold>;
  readonly checks: ReadonlyMap<string, CiState>;
  readonly logs: ReadonlyMap<string, RunLogTail> | undefined;

  constructor(snapshot: WebSnapshot | undefined, logs: ReadonlyMap<string, RunLogTail> | undefined) {
    this.escalations = new Map((snapshot?.escalations ?? []).map((e) => [e.id, e]));
    this.claims = new Map((snapshot?.claims ?? []).map((c) => [c.id, c]));
    this.holds = new Map(holdsOf(snapshot).map((x) => [x.id, x]));
    this.checks = ciMapOf(snapshot);
    this.logs = logs;
  }

  /** Every id something is said of. */
  ids(): Set<string> {
    return new Set([...this.escalations.keys(), ...this.claims.keys(), ...this.holds.keys(), ...this.checks.keys(), ...(this.logs?.keys() ?? [])]);
  }

  /** What is said of one id, as one comparable string (the log by where its lines end: a page is re-rendered when its log grew). */
  of(id: string): string {
    const escalation = this.escalations.get(id);
    const claim = pageClaim(this.claims.get(id));
    const hold = this.holds.get(id);
    const log = this.logs?.get(id);
    return `${escalation === undefined ? '' : JSON.stringify([escalation.reason, escalation.since])}|${claim === undefined ? '' : JSON.stringify(claim)}` +
      `|${this.checks.get(id) ?? ''}|${hold === undefined ? '' : JSON.stringify(hold)}|${log === undefined ? '' : JSON.stringify([log.path, log.log, log.end, log.lines.length])}`;
  }
}

/** What every task of a build shares. */
export interface EntryContext {
  readonly project: string;
  readonly folderWords: string;
  readonly api: boolean;
  readonly now: Date;
  readonly remote: Remote | undefined;
  readonly sides: TaskSides;
  readonly statusRank: (status: string) => number;
  /** The task with its text (SiteInput.textOf), read when its page is rendered. */
  readonly textOf: (task: Task) => Task;
}

/**
 * The entry of the task at a page: the old one when neither the task nor what its page shows
 * changed, else a new one with `changed` set: its page is to be rendered (renderEntryPage; the
 * caller writes or defers it).
 */
export function deriveEntry(ctx: EntryContext, task: Task, page: string, related: TaskRelated, old: Entry | undefined): { entry: Entry; changed: boolean } {
  const sides = ctx.sides;
  const ci = ciOf(task, sides.checks);
  const extra = sha1Digest(`${sides.of(task.id)}|${ci}|${JSON.stringify(related)}|${isOverdue(task, ctx.now)}`, 'base64url');
  const sameTask = old !== undefined && old.task === task;
  const pr = sameTask ? old.pr : prShown(task.pr, ctx.remote);
  const content = sameTask ? old.content : contentKey(task);
  if (old !== undefined && old.content === content && old.extra === extra) return { entry: sameTask ? old : { ...old, task, pr }, changed: false };
  const escalation = sides.escalations.get(task.id);
  const row = taskRow(task, page, escalation !== undefined, pr, ci, ctx.statusRank, related.parent?.task?.page);
  const kept = old !== undefined && JSON.stringify(old.row) === JSON.stringify(row);
  return { entry: { task, content, extra, pr, ci, row: kept ? old.row : row }, changed: true };
}

/**
 * A task's page from its entry and what the build says of it: rendered when it is written, from the
 * latest build's state (a page left pending holds no inputs of its own: 50,000 of them did, 30 MB).
 */
export function renderEntryPage(ctx: EntryContext, entry: Entry, related: TaskRelated): string {
  const { task, pr, ci } = entry;
  const sides = ctx.sides;
  const escalation = sides.escalations.get(task.id);
  return renderTaskPage({ project: ctx.project, task: ctx.textOf(task), related, now: ctx.now,
    escalation: escalation === undefined ? undefined : { reason: escalation.reason, since: escalation.since },
    claim: pageClaim(sides.claims.get(task.id)), pr, ci, runLog: sides.logs?.get(task.id), api: ctx.api, hold: sides.holds.get(task.id), folderWords: ctx.folderWords });
}

/**
 * A task's part of a search shard: its page and its folded title and body. Made when its shard is
 * written, never kept: a task's text is about 1 KB, 50 MB at 50,000 tasks.
 */
export function searchPart(task: Task, page: string): Buffer {
  const text = searchFold(`${task.title}\n${task.body}`).replace(/\s+/g, ' ').trim();
  return Buffer.from(`${JSON.stringify(page)}:${JSON.stringify(text)}`);
}

export function sha1(bytes: Buffer): string {
  return sha1Digest(bytes, 'base64url');
}

/** Everything of a task that its page or row shows, as one comparable string. */
function contentKey(t: Task): string {
  const shown = [t.id, t.slug, t.path, t.title, t.status, t.priority, t.milestone, t.owner, t.completedBy, t.completed,
    t.dependsOn, t.pr, t.ci, t.progress.done, t.progress.total, t.body, t.owners, t.labels, t.created, t.updated, t.due, t.parent,
    t.effort, t.archived, t.acceptance.done, t.acceptance.total, t.statusKnown, t.statusHint, t.omittedBytes ?? 0, textKeyOf(t) ?? ''];
  return sha1Digest(JSON.stringify(shown), 'base64');
}

function pageClaim(c: WebClaim | undefined): PageClaim | undefined {
  if (c === undefined) return undefined;
  const { ageS: _age, ...rest } = c;
  return rest;
}
