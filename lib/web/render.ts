// The dashboard index: health, counts, escalations, ready queue, claims, the task list.
import { STATUS_ORDER, priorityRank } from '../tasks/model.ts';
import { isWebUrl } from './markdown.ts';
import { relativeTime } from './client/time.ts';
import type { Task, ParseError } from '../tasks/taskfile.ts';
import type { Snapshot } from '../manager/tick.ts';
import type { HeartbeatState } from '../supervise/health.ts';

/** HTML-escapes text for element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const h = escapeHtml;

/** How other pages refer to a task: its page file name (in tasks/), status and title. */
export interface TaskRef { readonly page: string; readonly status: string; readonly title: string }

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

/** A `<time>` the client keeps relative; its text is relative to `now`, or the ISO time itself without one. */
export function timeTag(iso: string | null | undefined, now?: Date): string {
  if (iso === null || iso === undefined || iso === '') return '—';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return h(iso);
  const text = now === undefined ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : relativeTime(at - now.getTime());
  return `<time datetime="${h(iso)}" data-rel title="${h(iso)}">${h(text)}</time>`;
}

/** A status as a badge; the class is derived from the normalised status, never raw text. */
export function statusBadge(status: string): string {
  return `<span class="st st-${h(status.replace(/[^a-z_]/g, ''))}">${h(status)}</span>`;
}

/** The PR link (http(s) only; anything else shown as text) and the CI state. */
export function prCi(pr: string | null, ci: string): string {
  if (pr === null && ci === 'unknown') return '—';
  const link = pr === null ? '' : isWebUrl(pr) ? `<a href="${h(pr)}" rel="noreferrer">${h(prLabel(pr))}</a> ` : `${h(pr)} `;
  return `${link}<span class="ci ci-${h(ci.replace(/[^a-z]/g, ''))}">${h(ci)}</span>`;
}

function prLabel(pr: string): string {
  const m = /\/pull\/(\d+)\/?$/.exec(pr) ?? /\/merge_requests\/(\d+)\/?$/.exec(pr);
  return m ? `#${m[1]}` : pr;
}

/** A task id linked to its page when the task exists; `prefix` is the path from the page to tasks/. */
export function taskLink(id: string, refs: ReadonlyMap<string, TaskRef>, prefix: string): string {
  const ref = refs.get(id);
  return ref === undefined ? h(id) : `<a href="${prefix}${h(ref.page)}.html">${h(id)}</a>`;
}

const dash = (v: string | null): string => (v === null ? '—' : h(v));

/** One row of the all-tasks table; data attributes carry what the client filters and sorts by. */
export function renderRow(t: Task, page: string, escalated: boolean): string {
  const statusRank = STATUS_ORDER.indexOf(t.status);
  const attrs = [
    ['slug', page], ['id', t.id], ['status', t.status], ['priority', t.priority ?? ''], ['milestone', t.milestone ?? ''],
    ['owner', t.owner ?? ''], ['ci', t.ci], ['status-rank', String(statusRank < 0 ? STATUS_ORDER.length : statusRank)],
    ['priority-rank', String(priorityRank(t.priority))], ['done', String(t.progress.done)], ['total', String(t.progress.total)],
  ].map(([k, v]) => ` data-${k}="${h(v as string)}"`).join('');
  const progress = t.progress.total === 0 ? '—' : `${t.progress.done}/${t.progress.total}`;
  return `<tr${attrs}${escalated ? ' class="esc"' : ''}><td><a href="tasks/${h(page)}.html">${h(t.id)}</a></td><td>${h(t.title)}</td>` +
    `<td>${statusBadge(t.status)}</td><td>${dash(t.priority)}</td><td>${dash(t.milestone)}</td><td>${dash(t.owner)}</td>` +
    `<td>${prCi(t.pr, t.ci)}</td><td>${progress}</td></tr>\n`;
}

export interface IndexInput {
  readonly project: string;
  readonly tasks: readonly Task[];
  readonly errors: readonly ParseError[];
  readonly snapshot: Snapshot | undefined;
  /** From the pid file at build time; state and stale are optional so callers that only know running still fit. */
  readonly heartbeat: { running: boolean; pid: number | null; state?: HeartbeatState; stale?: string | null; beatAt?: string | null };
  readonly now: Date;
  readonly refs: ReadonlyMap<string, TaskRef>;
  readonly counts: Record<string, number>;
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
${renderReady(p)}
${renderClaims(p)}
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

function renderReady(p: IndexInput): string {
  const list = p.snapshot?.ready ?? [];
  const items = list.map((r) => `<li>${taskLink(r.id, p.refs, 'tasks/')} ${r.priority === null ? '' : `<span class="pri">${h(r.priority)}</span> `}${h(r.title)}</li>`);
  const content = p.snapshot === undefined ? noSnapshot : list.length === 0 ? '<p class="none">No task is ready.</p>' : `<ol>${items.join('')}</ol>`;
  return `<section id="ready"><h2>Ready queue (${list.length})</h2>${content}</section>`;
}

function renderClaims(p: IndexInput): string {
  const list = p.snapshot?.claims ?? [];
  const rows = list.map((c) => `<tr><td>${taskLink(c.id, p.refs, 'tasks/')}</td><td>${h(c.owner)}</td><td>${timeTag(c.claimedAt, p.now)}</td>` +
    `<td><code>${h(c.worktree)}</code> ${c.worktreeExists ? '<span class="ok">exists</span>' : '<span class="bad">missing</span>'}</td>` +
    `<td>${c.pid ?? '—'}</td><td>${h(c.state)}</td><td${c.exitCode !== null && c.exitCode !== 0 ? ' class="bad"' : ''}>${c.exitCode ?? '—'}</td><td>${prCi(c.pr, c.ci)}</td></tr>`);
  const content = p.snapshot === undefined ? noSnapshot : list.length === 0 ? '<p class="none">No claims.</p>'
    : `<div class="scroll"><table><thead><tr><th>Task</th><th>Owner</th><th>Claimed</th><th>Worktree</th><th>Pid</th><th>State</th><th>Exit</th><th>PR / CI</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
  return `<section id="claims"><h2>Claims (${list.length})</h2>${content}</section>`;
}

function renderErrors(errors: readonly ParseError[]): string {
  const items = errors.map((e) => `<li><code>${h(e.path)}</code>: ${h(e.reason)}</li>`);
  const content = errors.length === 0 ? '<p class="none">Every task file parses.</p>' : `<ul>${items.join('')}</ul>`;
  return `<section id="errors"${errors.length ? ' class="warn"' : ''}><h2>Parse errors (${errors.length})</h2>${content}</section>`;
}
