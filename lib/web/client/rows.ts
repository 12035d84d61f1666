// A task as the list and the board show it (one record of the data files), and its row and card as HTML: one renderer for the server's first page and the client.
import { isOverdue } from './due.ts';

/**
 * One task in the data files (data/tasks-<k>.json), with what a row or a card shows and what the filters and sorts need.
 * Empty values are left out (the file holds every task: 10,000 of them are megabytes).
 */
export interface TaskRow {
  /** The page name under `tasks/`. */
  readonly page: string;
  readonly id: string;
  readonly title: string;
  readonly status: string;
  /** Lifecycle position (unknown statuses share the last one and sort by name). */
  readonly statusRank: number;
  readonly priority?: string;
  /** Across scales: p0 = critical first; none last. */
  readonly priorityRank: number;
  readonly milestone?: string;
  readonly owners?: readonly string[];
  readonly labels?: readonly string[];
  readonly due?: string;
  readonly created?: string;
  readonly updated?: string;
  readonly archived?: true;
  /** The page of its parent task, when its parent names a task of the list (the list can group by it). */
  readonly parent?: string;
  /** The heartbeat escalated it. */
  readonly escalated?: true;
  readonly ci: string;
  /** The pull request as shown: its label and a web link (http(s) only, checked by the server). */
  readonly pr?: { readonly label: string; readonly url: string | null };
  /** Checked and all checkboxes of the body. */
  readonly done?: number;
  readonly total?: number;
}

/** Every task in the served order, and the version the index names (`data-v`): what the data index and its shards add up to. */
export interface TasksDoc { readonly version: string; readonly tasks: readonly TaskRow[] }

/** Rows on one page of the list; the index carries the first page of the default view. */
export const PAGE_SIZE = 100;

/** Text as search compares it: accents dropped (é is e), lowercased; the server folds the bodies shards so, the page folds the query. */
export function searchFold(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** HTML-escapes text for element content and attribute values. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** Status key → the folder's word for it ("todo" → "To Do"): one small map for the page, never a field per task. */
export type StatusWords = Readonly<Record<string, string>>;

/** The folder's word for a status key, or the key itself. */
export function statusWord(status: string, words: StatusWords): string {
  return Object.prototype.hasOwnProperty.call(words, status) ? words[status] as string : status;
}

/** A status as a badge, in the folder's word for it; the class is derived from the status key with anything but [a-z_] dropped. */
export function badge(status: string, words: StatusWords = {}): string {
  return `<span class="st st-${esc(status.replace(/[^a-z_]/g, ''))}">${esc(statusWord(status, words))}</span>`;
}

const dash = (v: string | undefined): string => (v === undefined || v === '' ? '—' : esc(v));
const chips = (list: readonly string[] | undefined, cls: string): string =>
  list === undefined || list.length === 0 ? '' : `<span class="${cls}">${list.map((x) => `<span class="chip">${esc(x)}</span>`).join('')}</span>`;

/** The PR link (its URL was checked to be http(s) by the server) and the CI state. */
function prCi(r: TaskRow): string {
  if (r.pr === undefined && r.ci === 'unknown') return '—';
  const p = r.pr;
  const link = p === undefined ? '' : p.url !== null ? `<a href="${esc(p.url)}" rel="noreferrer">${esc(p.label)}</a> ` : `${esc(p.label)} `;
  return `${link}<span class="ci ci-${esc(r.ci.replace(/[^a-z]/g, ''))}">${esc(r.ci)}</span>`;
}

function dueText(r: TaskRow, today: string): string {
  if (r.due === undefined) return '—';
  return isOverdue(r, today) ? `<span class="overdue" title="overdue">${esc(r.due)}</span>` : esc(r.due);
}

/** The list's columns: sort key and header. */
export const COLUMNS: readonly (readonly [string, string])[] = [['id', 'ID'], ['title', 'Title'], ['status', 'Status'], ['priority', 'Priority'],
  ['milestone', 'Milestone'], ['owner', 'Owners'], ['due', 'Due'], ['created', 'Created'], ['ci', 'PR / CI'], ['progress', 'Progress']];

/** How deep a grouped list indents (deeper subtasks show at this depth). */
export const MAX_DEPTH = 4;

/** One row of the task list; `today` (dayOf) decides what is overdue; `depth` > 0: a subtask shown under its parent; `words`: the folder's words for statuses. */
export function rowHtml(r: TaskRow, today: string, depth = 0, words: StatusWords = {}): string {
  const d = Math.min(depth, MAX_DEPTH);
  const cls = [r.escalated ? 'esc' : '', isOverdue(r, today) ? 'late' : '', r.archived ? 'archived' : '', d ? `sub sub${d}` : ''].filter(Boolean).join(' ');
  const progress = r.total ? `${r.done ?? 0}/${r.total}` : '—';
  return `<tr data-page="${esc(r.page)}"${cls ? ` class="${cls}"` : ''}><td>${d ? '<span class="tree" aria-hidden="true">↳ </span>' : ''}<a href="tasks/${esc(r.page)}.html">${esc(r.id)}</a></td>` +
    `<td>${esc(r.title)}${r.archived ? ' <span class="chip arch">archived</span>' : ''}${chips(r.labels, 'labels')}</td><td>${badge(r.status, words)}</td>` +
    `<td>${dash(r.priority)}</td><td>${dash(r.milestone)}</td><td>${r.owners?.length ? esc(r.owners.join(', ')) : '—'}</td>` +
    `<td>${dueText(r, today)}</td><td>${dash(r.created)}</td><td>${prCi(r)}</td><td>${progress}</td></tr>\n`;
}

/** One card of the board: a link to the task page (Enter opens it), focusable by the arrow keys. */
export function cardHtml(r: TaskRow, today: string): string {
  const cls = ['card', r.escalated ? 'esc' : '', isOverdue(r, today) ? 'late' : '', r.archived ? 'archived' : ''].filter(Boolean).join(' ');
  const meta = [r.owners?.length ? esc(r.owners.join(', ')) : '', r.due === undefined ? '' : `due ${dueText(r, today)}`].filter(Boolean).join(' · ');
  return `<li><a class="${cls}" href="tasks/${esc(r.page)}.html" data-page="${esc(r.page)}" tabindex="-1">` +
    `<span class="card-head"><code>${esc(r.id)}</code>${r.priority === undefined ? '' : ` <span class="pri">${esc(r.priority)}</span>`}</span>` +
    `<span class="card-title">${esc(r.title)}</span>${meta ? `<span class="card-meta">${meta}</span>` : ''}${chips(r.labels, 'labels')}</a></li>`;
}
