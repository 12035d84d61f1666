// What the read tools answer: a task's summary, the filtered list, and why nothing is dispatchable. Plain data, no SDK.
import { shellArg } from '../base/shellword.ts';
import type { Registry } from '../manager/registry.ts';
import { dispatchNote, ownerKey, priorityRank } from '../tasks/model.ts';
import { normaliseStatus } from '../tasks/mapping.ts';
import type { Task } from '../tasks/taskfile.ts';
import { type Reading, claimOf } from './folder.ts';

/** A task in a list: enough to choose one, never its body. */
export interface TaskSummary {
  id: string;
  title: string;
  /** Canonical (in_progress), or a custom status folded. */
  status: string;
  /** As the file writes it (In Progress): the word an update may use too. */
  statusText: string;
  priority: string | null;
  owners: string[];
  labels: string[];
  milestone: string | null;
  dependsOn: string[];
  /** Relative to the tasks folder. */
  path: string;
  archived: boolean;
  progress: { done: number; total: number };
  /** The claim the registry holds on it (its run's state), else null. */
  claim: { state: string; by: string; since: string; host: string | null } | null;
  /** Released by an operator: not dispatched again until `tasks retry`. */
  held: boolean;
}

export function summaryOf(t: Task, reg: Registry | undefined): TaskSummary {
  const claim = claimOf(reg, t);
  return {
    id: t.id, title: t.title, status: t.status, statusText: statusText(t), priority: t.priority, owners: t.owners, labels: t.labels,
    milestone: t.milestone, dependsOn: t.dependsOn, path: t.path, archived: t.archived, progress: t.progress,
    claim: claim === undefined ? null : { state: claim.state, by: claim.claimedBy, since: claim.claimedAt, host: claim.host ?? null },
    held: reg?.holds[t.id] !== undefined,
  };
}

function statusText(t: Task): string {
  const raw = t.fields['status'];
  return typeof raw === 'string' && raw.trim() !== '' ? raw.trim() : t.status;
}

/** task_list's filters; each given one must match. */
export interface ListFilter {
  status?: string | undefined;
  dispatchable?: boolean | undefined;
  label?: string | undefined;
  owner?: string | undefined;
  milestone?: string | undefined;
  text?: string | undefined;
  archived?: boolean | undefined;
  limit?: number | undefined;
}

export const LIST_LIMIT = 50;

/** The tasks the filter keeps, best first (status order is the caller's choice of filter; priority, then id), at most limit. */
export function listTasks(r: Reading, f: ListFilter): { tasks: TaskSummary[]; total: number; truncated: boolean } {
  // A status word in the folder's own spelling (In Progress) or canonical (in_progress): both fold to the same status.
  const status = f.status === undefined ? undefined : normaliseStatus(f.status, r.scan.format.statuses).status;
  const dispatchable = new Set(r.dispatchable.map((t) => t.id));
  const fold = (s: string): string => s.normalize('NFC').toLowerCase();
  const text = f.text === undefined ? undefined : fold(f.text);
  const kept = r.scan.tasks.filter((t) =>
    (f.archived === true || !t.archived)
    && (status === undefined || t.status === status)
    && (f.dispatchable === undefined || dispatchable.has(t.id) === f.dispatchable)
    && (f.label === undefined || t.labels.some((l) => fold(l) === fold(f.label as string)))
    && (f.owner === undefined || t.owners.some((o) => ownerKey(o) === ownerKey(f.owner as string)))
    && (f.milestone === undefined || (t.milestone !== null && fold(t.milestone) === fold(f.milestone)))
    && (text === undefined || [t.id, t.title, t.body].some((s) => fold(s).includes(text))));
  kept.sort((a, b) => priorityRank(a.priority) - priorityRank(b.priority) || a.id.localeCompare(b.id));
  const limit = f.limit ?? LIST_LIMIT;
  return { tasks: kept.slice(0, limit).map((t) => summaryOf(t, r.registry)), total: kept.length, truncated: kept.length > limit };
}

/** Why no task is dispatchable now, in one line an agent can act on; undefined when one is. */
export function whyNone(r: Reading, ready: readonly string[]): string | undefined {
  if (r.dispatchable.length > 0) return undefined;
  const tasks = r.scan.tasks;
  const note = dispatchNote(tasks, ready, r.scan.format.statuses);
  if (note !== undefined) return note;
  const readyWords = new Set(ready.map((w) => normaliseStatus(w).status));
  const open = tasks.filter((t) => !t.archived && t.status !== 'completed' && t.status !== 'cancelled');
  if (open.length === 0) return 'no open task: every task is completed or cancelled; create one with task_create';
  const waiting = tasks.filter((t) => !t.archived && readyWords.has(t.status));
  if (waiting.length === 0) return `no task has status ${ready.join(' or ')}`;
  const reasons = waiting.map((t) => whyNotThis(t, r));
  const more = reasons.length > 5 ? `; and ${reasons.length - 5} more` : '';
  return `no ${ready.join(' or ')} task can be dispatched: ${reasons.slice(0, 5).join('; ')}${more}`;
}

/** Why one task with a ready status is not dispatchable. */
function whyNotThis(t: Task, r: Reading): string {
  const problem = r.problems.get(t.id);
  if (problem !== undefined) return `${t.id}: ${problem}`;
  const open = t.dependsOn.flatMap((d) => {
    const dep = r.index.resolve(d);
    return dep === undefined || dep.status === 'completed' ? [] : [`${dep.id} (${dep.status})`];
  });
  if (open.length > 0) return `${t.id} waits for ${open.join(', ')}`;
  const claim = claimOf(r.registry, t);
  if (claim !== undefined) return `${t.id} is claimed by ${claim.claimedBy}${claim.host ? ` on ${claim.host}` : ''} (${claim.state})`;
  const hold = r.registry?.holds[t.id];
  if (hold !== undefined) return `${t.id} was released by ${hold.by} (dispatch it again with: tasks retry ${shellArg('id', t.id)})`;
  return `${t.id} is not dispatchable`;
}
