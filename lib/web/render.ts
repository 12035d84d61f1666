// The dashboard index: health, counts, escalations, dispatchable tasks, claims, the task list.
import { STATUS_ORDER, priorityRank } from '../tasks/model.ts';
import type { Task, ParseError } from '../tasks/taskfile.ts';
import type { HeartbeatState } from '../supervise/health.ts';
import { type PrShown, type TaskRef, escapeHtml, prCi, statusBadge, taskLink, timeTag } from './html.ts';
import { type Shown, renderClaims } from './render-run.ts';
import { type WebSnapshot, dispatchableOf } from './snapshot-read.ts';

const h = escapeHtml;

/** The document around a page body; `root` is '' for the index and '../' for task pages. */
export function layout(title: string, root: string, body: string): string {
  const [open, close] = layoutParts(title, root);
  return `${open}${body}${close}`;
}

function layoutParts(title: string, root: string): [string, string] {
  return [`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>${h(title)}</title>
<link rel="icon" href="${root}favicon.svg"><link rel="stylesheet" href="${root}style.css"><script src="${root}app.js" defer></script></head>
<body>
`, `
</body></html>
`];
}

const dash = (v: string | null): string => (v === null ? '—' : h(v));

/** One row of the all-tasks table; data attributes carry what the client filters and sorts by. */
export function renderRow(t: Task, page: string, escalated: boolean, pr: PrShown | null, ci: string): string {
  const statusRank = STATUS_ORDER.indexOf(t.status);
  const attrs = [
    ['slug', page], ['id', t.id], ['status', t.status], ['priority', t.priority ?? ''], ['milestone', t.milestone ?? ''],
    ['owner', t.owner ?? ''], ['ci', ci], ['status-rank', String(statusRank < 0 ? STATUS_ORDER.length : statusRank)],
    ['priority-rank', String(priorityRank(t.priority))], ['done', String(t.progress.done)], ['total', String(t.progress.total)],
  ].map(([k, v]) => ` data-${k}="${h(v as string)}"`).join('');
  const progress = t.progress.total === 0 ? '—' : `${t.progress.done}/${t.progress.total}`;
  return `<tr${attrs}${escalated ? ' class="esc"' : ''}><td><a href="tasks/${h(page)}.html">${h(t.id)}</a></td><td>${h(t.title)}</td>` +
    `<td>${statusBadge(t.status)}</td><td>${dash(t.priority)}</td><td>${dash(t.milestone)}</td><td>${dash(t.owner)}</td>` +
    `<td>${prCi(pr, ci)}</td><td>${progress}</td></tr>\n`;
}

export interface IndexInput {
  readonly project: string;
  readonly tasks: readonly Task[];
  readonly errors: readonly ParseError[];
  readonly snapshot: WebSnapshot | undefined;
  /** From the pid file at build time; state and stale are optional so callers that only know running still fit. */
  readonly heartbeat: { running: boolean; pid: number | null; state?: HeartbeatState; stale?: string | null; beatAt?: string | null };
  readonly now: Date;
  readonly refs: ReadonlyMap<string, TaskRef>;
  readonly counts: Record<string, number>;
  /** Each task's PR link and CI state, by id. */
  readonly shown: Shown;
}

const FILTERS = [['status', 'statuses'], ['priority', 'priorities'], ['milestone', 'milestones'], ['owner', 'owners']] as const;

/**
 * index.html around its table rows: health, counts, escalations, ready queue, claims, parse errors
 * and the filterable table of all tasks. The caller puts the cached rows (renderRow) between the two parts.
 */
export function renderIndex(p: IndexInput): { before: string; after: string } {
  const columns = [['id', 'ID'], ['title', 'Title'], ['status', 'Status'], ['priority', 'Priority'], ['milestone', 'Milestone'],
    ['owner', 'Owner'], ['ci', 'PR / CI'], ['progress', 'Progress']];
  const head = columns.map(([k, label]) => `<th data-sort="${k}"><button type="button">${label}</button></th>`).join('');
  const selects = FILTERS.map(([key, plural]) => `<label>${key[0]?.toUpperCase()}${key.slice(1)} <select id="f-${key}" name="${key}">${filterOptions(p.tasks, key, plural)}</select></label>`).join('\n');
  const body = `<header><h1>${h(p.project)} Tasks</h1><p id="live" role="status"></p></header>
<main>
${renderHealth(p)}
${renderCounts(p.counts)}
${renderEscalations(p)}
${renderDispatchable(p)}
${renderClaims(p.snapshot?.claims, p.refs, p.shown, p.now, noSnapshot)}
${renderErrors(p.errors)}
<section id="all"><h2>All tasks</h2>
<form id="controls" role="search">
${selects}
<label>Search <input type="search" id="q" name="q" placeholder="title or text (press /)" autocomplete="off"></label>
<output id="shown">${p.tasks.length} tasks</output>
</form>
<div class="scroll"><table id="tasks"><thead><tr>${head}</tr></thead>
<tbody>
`;
  const after = `</tbody></table></div>
</section>
</main>`;
  const [open, close] = layoutParts(`${p.project} Tasks`, '');
  return { before: open + body, after: after + close };
}

function filterOptions(tasks: readonly Task[], key: 'status' | 'priority' | 'milestone' | 'owner', plural: string): string {
  const values = new Set<string>();
  let none = false;
  for (const t of tasks) {
    const v = t[key];
    if (v === null) none = true;
    else values.add(v);
  }
  const sorted = [...values].sort(key === 'status'
    ? (a, b) => rank(a) - rank(b) || a.localeCompare(b)
    : key === 'priority' ? (a, b) => priorityRank(a) - priorityRank(b) || a.localeCompare(b) : (a, b) => a.localeCompare(b, 'en', { numeric: true }));
  // '-' selects the tasks without a value (no owner, no milestone).
  return `<option value="">all ${plural}</option>${sorted.map((v) => `<option>${h(v)}</option>`).join('')}${none ? '<option value="-">(none)</option>' : ''}`;
}

function rank(status: string): number {
  const i = STATUS_ORDER.indexOf(status);
  return i < 0 ? STATUS_ORDER.length : i;
}

function renderHealth(p: IndexInput): string {
  const snap = p.snapshot;
  const hb = p.heartbeat;
  const state = hb.state ?? (hb.running ? 'running' : 'stopped');
  const tickAt = snap === undefined ? NaN : Date.parse(snap.tickAt);
  // Only a running heartbeat can have an old snapshot worth a hint: stuck and stopped say more.
  const stale = state === 'running' && !Number.isNaN(tickAt) && snap !== undefined && p.now.getTime() - tickAt > 3 * snap.interval * 1000;
  const warn = state !== 'running' || stale;
  const attrs = `${snap === undefined ? '' : ` data-tick-at="${h(snap.tickAt)}" data-interval="${h(String(snap.interval))}"`} data-running="${state === 'running' ? 1 : 0}" data-state="${state}"`;
  const pid = hb.pid ?? '?';
  const line = state === 'running' ? `running, pid ${pid}`
    : state === 'stuck' ? `stuck, pid ${pid}${hb.beatAt ? `, last beat ${timeTag(hb.beatAt, p.now)}` : ''}`
    : `stopped${hb.stale ? ` (the pid file ${h(hb.stale)})` : snap === undefined ? '' : ` (last pid ${snap.pid})`}`;
  const owner = snap === undefined ? '—' : h(snap.owner);
  const last = snap === undefined ? 'never: the heartbeat has not ticked yet' : `#${snap.tick} ${timeTag(snap.tickAt, p.now)} (took ${snap.tickDurationMs} ms)`;
  const next = snap === undefined ? '—' : `${timeTag(snap.nextTickAt, p.now)}, every ${h(String(snap.interval))} s`;
  const alert = state === 'stopped' ? '<p class="alert">The heartbeat is not running: nothing is being dispatched or escalated.</p>\n'
    : state === 'stuck' ? '<p class="alert">The heartbeat is stuck: its process is alive but has not ticked for over 3 intervals, so nothing is being dispatched or escalated.</p>\n'
    : `<p class="alert stale"${stale ? '' : ' hidden'}>The last snapshot is older than 3 intervals: ticks may be failing (see the heartbeat log).</p>\n`;
  return `<section id="health" class="health${warn ? ' warn' : ''}"${attrs}><h2>Heartbeat</h2>
<dl><dt>Owner</dt><dd>${owner}</dd><dt>Heartbeat</dt><dd>${line}</dd><dt>Last tick</dt><dd>${last}</dd><dt>Next tick</dt><dd>${next}</dd></dl>
${alert}</section>`;
}

function renderCounts(counts: Record<string, number>): string {
  const items = Object.entries(counts).map(([status, n]) => status === 'total'
    ? `<li><b>${n}</b> total</li>`
    : `<li><a href="?status=${encodeURIComponent(status)}" data-status="${h(status)}"><b>${n}</b> ${h(status)}</a></li>`);
  return `<section id="counts"><h2>Counts</h2><ul>${items.join('')}</ul></section>`;
}

const noSnapshot = '<p class="none">No snapshot yet: the heartbeat has never ticked.</p>';

function renderEscalations(p: IndexInput): string {
  const list = p.snapshot?.escalations ?? [];
  const rows = list.map((e) => `<tr><td>${taskLink(e.id, p.refs, 'tasks/')}</td><td>${h(e.reason)}</td><td>${timeTag(e.since, p.now)}</td></tr>`);
  const content = p.snapshot === undefined ? noSnapshot : list.length === 0 ? '<p class="none">Nothing needs an operator.</p>'
    : `<div class="scroll"><table><thead><tr><th>Task</th><th>Reason</th><th>Since</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
  return `<section id="escalations"${list.length ? ' class="warn"' : ''}><h2>Escalations (${list.length})</h2>${content}</section>`;
}

/**
 * What the heartbeat will dispatch, best first. "Ready" is a status (the counts say how many tasks
 * have it); a ready task is dispatchable only when its dependencies are completed and nobody claims it.
 */
function renderDispatchable(p: IndexInput): string {
  const list = p.snapshot === undefined ? [] : dispatchableOf(p.snapshot);
  const items = list.map((r) => `<li>${taskLink(r.id, p.refs, 'tasks/')} ${r.priority === null ? '' : `<span class="pri">${h(r.priority)}</span> `}${h(r.title)}</li>`);
  const content = p.snapshot === undefined ? noSnapshot : list.length === 0 ? '<p class="none">Nothing to dispatch: no ready task has all its dependencies completed and no claim.</p>' : `<ol>${items.join('')}</ol>`;
  // The id stays "ready": links and tests that name the section keep working.
  return `<section id="ready"><h2>Dispatchable (${list.length})</h2>${content}</section>`;
}

function renderErrors(errors: readonly ParseError[]): string {
  const items = errors.map((e) => `<li><code>${h(e.path)}</code>: ${h(e.reason)}</li>`);
  const content = errors.length === 0 ? '<p class="none">Every task file parses.</p>' : `<ul>${items.join('')}</ul>`;
  return `<section id="errors"${errors.length ? ' class="warn"' : ''}><h2>Parse errors (${errors.length})</h2>${content}</section>`;
}
