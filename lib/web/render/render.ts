// The dashboard index: navigation, health, counts, escalations, dispatchable tasks, claims, parse errors, the Fleet charts, the task list and board, docs.
import { type Delivery, renderDeliveries } from './render-deliveries.ts';
import type { ParseError } from '../../tasks/taskfile.ts';
import type { HeartbeatState } from '../../supervise/health.ts';
import { type TaskRef, escapeHtml, siteTitle, taskLink, timeTag } from './html.ts';
import { KIND_FOLDERS, type KindEntry, PAGE_KINDS, type PageKind, kindPages } from './pages.ts';
import { type ListInput, renderList } from './render-list.ts';
import { type StatusWords, statusWord } from '../client/rows.ts';
import { type Shown, renderClaims, renderRegistryAlert } from './render-run.ts';
import { type WebSnapshot, dispatchNoteOf, dispatchableOf, holdsOf } from './snapshot-read.ts';
import { retryCommand } from './render-run.ts';
import { type FleetHistory, renderFleet } from './charts.ts';

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

export interface IndexInput extends ListInput {
  readonly project: string;
  /** ` dir=…` for the hints when the tasks folder is not the default one. */
  readonly folderWords?: string;
  readonly errors: readonly ParseError[];
  /** Docs, decisions and milestones: a section each, never tasks. */
  readonly docs: readonly KindEntry[];
  readonly snapshot: WebSnapshot | undefined;
  readonly owner?: string | undefined;
  /** From the pid file at build time; state and stale are optional so callers that only know running still fit. */
  readonly heartbeat: { running: boolean; pid: number | null; state?: HeartbeatState; stale?: string | null; beatAt?: string | null };
  readonly refs: ReadonlyMap<string, TaskRef>;
  readonly counts: Record<string, number>;
  /** Each task's PR link and CI state, by id. */
  readonly shown: Shown;
  /** The heartbeat's run and tick history for the Fleet section; undefined: the section is empty and hidden. */
  readonly fleet?: FleetHistory;
  /** The last notification deliveries (newest first), shown under the Heartbeat section; none: nothing shown. */
  readonly deliveries?: readonly Delivery[];
}

/** Most entries the escalations and dispatchable sections list; the list's filters reach the rest. */
const LIST_MAX = 50;
/** Parse errors shown before the rest fold away, and the most listed at all. */
const ERRORS_OPEN = 10;
const ERRORS_MAX = 1000;

/**
 * index.html: the navigation bar, health, counts, escalations, dispatchable tasks, claims, parse
 * errors, the task list and board (render-list.ts), and a section per kind of non-task page.
 */
export function renderIndex(p: IndexInput): string {
  const pages = kindPages(p.docs);
  const kinds = PAGE_KINDS.map((kind) => ({ kind, list: p.docs.map((d, i) => ({ d, page: pages[i] as string })).filter((x) => x.d.kind === kind) }));
  const body = `<a class="skip" id="skip" href="#rows">Skip to tasks</a>
<header><h1>${h(siteTitle(p.project))}</h1><p id="live" role="status"></p></header>
${renderNav(kinds.map((k) => [k.kind, k.list.length]), p.fleet !== undefined)}
<main>
${renderRegistryAlert(p.snapshot?.registry, p.now)}${renderHealth(p)}
${renderCounts(p.counts, p.words)}
${renderEscalations(p)}
${renderDispatchable(p)}
${renderHeld(p)}
${renderClaims(p.snapshot?.claims, p.refs, p.shown, p.now, noSnapshot)}
${renderErrors(p.errors)}
${renderFleet({ history: p.fleet, now: p.now, refs: p.refs, order: Object.keys(p.counts), word: (s) => statusWord(s, p.words) })}
${renderList(p)}
${kinds.map((k) => renderKind(k.kind, k.list)).join('\n')}
</main>`;
  return layout(siteTitle(p.project), '', body);
}

const KIND_TITLES: Readonly<Record<PageKind, string>> = { milestone: 'Milestones', decision: 'Decisions', doc: 'Docs' };

/** The bar at the top: the list, the board and every section of the index; a kind's link only when it has pages. */
function renderNav(kinds: readonly (readonly [PageKind, number])[], fleet: boolean): string {
  const links = [['#all', 'Tasks', ' data-view="list"'], ['?view=board#all', 'Board', ' data-view="board"'], ['#escalations', 'Escalations', ''], ['#errors', 'Errors', ''],
    ...kinds.map(([kind, n]) => [`#${KIND_FOLDERS[kind]}`, KIND_TITLES[kind], n ? '' : ' hidden']), ['#health', 'Heartbeat', ''], ['#ready', 'Dispatchable', ''], ['#claims', 'Claims', ''],
    ['#fleet', 'Fleet', fleet ? '' : ' hidden']];
  return `<nav id="nav" aria-label="Sections">${links.map(([href, label, attrs]) => `<a href="${href}"${attrs}>${label}</a>`).join('\n')}</nav>`;
}

/** One kind's section: each page's title linked, with its id; hidden while the kind has none. */
function renderKind(kind: PageKind, list: readonly { d: KindEntry; page: string }[]): string {
  const items = list.map(({ d, page }) => `<li><a href="${h(page)}">${h(d.title)}</a>${d.id && d.id !== d.title ? ` <code>${h(d.id)}</code>` : ''}${d.archived ? ' <span class="chip arch">archived</span>' : ''}</li>`);
  return `<section id="${KIND_FOLDERS[kind]}"${list.length ? '' : ' hidden'}><h2>${KIND_TITLES[kind]} (${list.length})</h2><ul>${items.join('')}</ul></section>`;
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
  const owner = h(snap?.owner ?? p.owner ?? '—');
  const last = snap === undefined ? 'never: the heartbeat has not ticked yet' : `#${snap.tick} ${timeTag(snap.tickAt, p.now)} (took ${snap.tickDurationMs} ms)`;
  const next = snap === undefined ? '—' : `${timeTag(snap.nextTickAt, p.now)}, every ${h(String(snap.interval))} s`;
  const alert = state === 'stopped' ? '<p class="alert">The heartbeat is not running: nothing is being dispatched or escalated.</p>\n'
    : state === 'stuck' ? '<p class="alert">The heartbeat is stuck: its process is alive but has not ticked for over 3 intervals, so nothing is being dispatched or escalated.</p>\n'
    : `<p class="alert stale"${stale ? '' : ' hidden'}>The last snapshot is older than 3 intervals: ticks may be failing (see the heartbeat log).</p>\n`;
  return `<section id="health" class="health${warn ? ' warn' : ''}"${attrs}><h2>Heartbeat</h2>
<dl><dt>Owner</dt><dd>${owner}</dd><dt>Heartbeat</dt><dd>${line}</dd><dt>Last tick</dt><dd>${last}</dd><dt>Next tick</dt><dd>${next}</dd></dl>
${alert}${renderDeliveries(p.deliveries ?? [], p.now)}</section>`;
}

/** Each status's count, in the folder's words, linking to the list filtered by it. */
function renderCounts(counts: Record<string, number>, words: StatusWords): string {
  const items = Object.entries(counts).map(([status, n]) => status === 'total'
    ? `<li><b>${n}</b> total</li>`
    : `<li><a href="?status=${encodeURIComponent(status)}#all" data-status="${h(status)}"><b>${n}</b> ${h(statusWord(status, words))}</a></li>`);
  return `<section id="counts"><h2>Counts</h2><ul>${items.join('')}</ul></section>`;
}

const noSnapshot = '<p class="none">No snapshot yet: the heartbeat has never ticked.</p>';

/** A parse error escalation names a file, not a task: the errors section lists it, this one counts it. */
const isParseError = (e: { id: string; reason: string }, refs: ReadonlyMap<string, TaskRef>): boolean => e.reason.startsWith('parse error: ') && !refs.has(e.id);

/**
 * What needs an operator. Parse errors are counted here but listed once, under Parse errors (the
 * scan's list, newer than the snapshot's). Past LIST_MAX the rest are reached through the list's
 * "escalated only" filter.
 */
function renderEscalations(p: IndexInput): string {
  const list = (p.snapshot?.escalations ?? []).filter((e) => !isParseError(e, p.refs));
  const errors = p.errors.length;
  const n = list.length + errors;
  const rows = list.slice(0, LIST_MAX).map((e) => `<tr><td>${taskLink(e.id, p.refs, 'tasks/')}</td><td>${h(e.reason)}</td><td>${timeTag(e.since, p.now)}</td></tr>`);
  const more = list.length > LIST_MAX ? `<p>The first ${LIST_MAX} of ${list.length}: <a href="?escalated=1#all" data-escalated="1">every escalated task in the list</a>.</p>` : '';
  const parse = errors ? `<p>${plural(errors, 'parse error')}: listed under <a href="#errors">Parse errors</a>.</p>` : '';
  const content = p.snapshot === undefined ? noSnapshot + parse : n === 0 ? '<p class="none">Nothing needs an operator.</p>'
    : `${list.length ? `<div class="scroll"><table><thead><tr><th>Task</th><th>Reason</th><th>Since</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>` : ''}${more}${parse}`;
  return `<section id="escalations"${n ? ' class="warn"' : ''}><h2>Escalations (${n})</h2>${content}</section>`;
}

const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;

/**
 * What the heartbeat will dispatch, best first. "Ready" is a status (the counts say how many tasks
 * have it); a ready task is dispatchable only when its dependencies are completed and nobody claims it.
 */
function renderDispatchable(p: IndexInput): string {
  const list = p.snapshot === undefined ? [] : dispatchableOf(p.snapshot);
  const items = list.slice(0, LIST_MAX).map((r) => `<li>${taskLink(r.id, p.refs, 'tasks/')} ${r.priority === null ? '' : `<span class="pri">${h(r.priority)}</span> `}${h(r.title)}</li>`);
  const more = list.length > LIST_MAX ? `<p class="none">and ${list.length - LIST_MAX} more.</p>` : '';
  const note = dispatchNoteOf(p.snapshot);
  const nothing = `<p class="none">Nothing to dispatch: ${note === undefined ? 'no ready task has all its dependencies completed, no claim and no hold.' : h(note)}</p>`;
  const content = p.snapshot === undefined ? noSnapshot : list.length === 0 ? nothing : `<ol>${items.join('')}</ol>${more}`;
  // The id stays "ready": links and tests that name the section keep working.
  return `<section id="ready"><h2>Dispatchable (${list.length})</h2>${content}</section>`;
}

/** The tasks an operator released, held back from dispatch: who released each, when, and the command that dispatches it again. */
function renderHeld(p: IndexInput): string {
  const list = holdsOf(p.snapshot);
  const rows = list.slice(0, LIST_MAX).map((x) => `<tr><td>${taskLink(x.id, p.refs, 'tasks/')}</td><td>${h(x.by)}</td><td>${timeTag(x.since, p.now)}</td><td><code>${h(retryCommand(x.id, p.folderWords))}</code></td></tr>`);
  const more = list.length > LIST_MAX ? `<p class="none">and ${list.length - LIST_MAX} more.</p>` : '';
  const content = list.length === 0 ? '<p class="none">Nothing is held back.</p>'
    : `<div class="scroll"><table><thead><tr><th>Task</th><th>Released by</th><th>Since</th><th>To dispatch it again</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>${more}`;
  return `<section id="held"><h2>Held (${list.length})</h2>${content}</section>`;
}

/** Every parse error, listed here only: the first ERRORS_OPEN open, the rest folded in a details element. */
function renderErrors(errors: readonly ParseError[]): string {
  const item = (e: ParseError): string => `<li><code>${h(e.path)}</code>: ${h(e.reason)}</li>`;
  const open = errors.slice(0, ERRORS_OPEN).map(item).join('');
  const rest = errors.slice(ERRORS_OPEN, ERRORS_MAX).map(item).join('');
  const cut = errors.length > ERRORS_MAX ? `<p>${errors.length - ERRORS_MAX} more are not listed here: <code>just tasks status --json</code> lists them all among its escalations.</p>` : '';
  const folded = rest ? `<details><summary>${plural(errors.length - ERRORS_OPEN, 'more parse error')}</summary><ul>${rest}</ul>${cut}</details>` : '';
  const content = errors.length === 0 ? '<p class="none">Every task file parses.</p>' : `<ul>${open}</ul>${folded}`;
  return `<section id="errors"${errors.length ? ' class="warn"' : ''}><h2>Parse errors (${errors.length})</h2>${content}</section>`;
}
