// The index's task list and board: each task as a record of the data files, the controls, and the first page of rows served in the HTML.
import { normaliseStatus } from '../../tasks/mapping.ts';
import { ownerKey, priorityRank, statusOrder } from '../../tasks/model.ts';
import type { Task } from '../../tasks/taskfile.ts';
import { escapeHtml as h, type PrShown } from './html.ts';
import { localDay } from '../client/due.ts';
import { COLUMNS, PAGE_SIZE, type StatusWords, type TaskRow, rowHtml, statusWord } from '../client/rows.ts';
import { openWorkFirst } from '../client/order.ts';

/** A task as the list and the board show it, empty values left out; `statusRank` places a status in the lifecycle (custom ones after). */
export function taskRow(t: Task, page: string, escalated: boolean, pr: PrShown | null, ci: string, statusRank: (status: string) => number, parentPage?: string): TaskRow {
  // Only the keys that have a value are added, never deleted afterwards: a deleted key turns the
  // object into a dictionary of its own (830 bytes a row, 40 MB at 50,000 tasks, where it is kept).
  const row: Record<string, unknown> = { page, id: t.id, title: t.title, status: t.status, statusRank: statusRank(t.status) };
  const put = (k: string, v: unknown): void => { if (v !== undefined) row[k] = v; };
  put('priority', t.priority ?? undefined);
  row.priorityRank = priorityRank(t.priority);
  put('milestone', t.milestone ?? undefined);
  put('owners', t.owners.length ? t.owners : undefined);
  put('labels', t.labels.length ? t.labels : undefined);
  put('due', t.due ?? undefined);
  put('created', t.created ?? undefined);
  put('updated', t.updated ?? undefined);
  put('archived', t.archived || undefined);
  put('parent', parentPage);
  put('escalated', escalated || undefined);
  row.ci = ci;
  put('pr', pr === null ? undefined : { label: pr.label, url: pr.url });
  put('done', t.progress.total ? t.progress.done : undefined);
  put('total', t.progress.total || undefined);
  return row as unknown as TaskRow;
}

/** The board's columns, and the folder's own words for its statuses. */
export interface BoardStatuses {
  /** The columns as status keys, in order (statuses the tasks have beyond these follow, by name). */
  readonly statuses: readonly string[];
  /** The columns shown only while they have cards. */
  readonly hideEmpty: readonly string[];
  /** Status key → the folder's word for it ("todo" → "To Do"), where the two differ. */
  readonly words: StatusWords;
}

/** Canonical statuses a folder without declared statuses sees as columns even when empty: the road a task travels. */
const ALWAYS_SHOWN = new Set(['todo', 'ready', 'in_progress', 'completed']);

/**
 * A folder whose config declares statuses (Backlog.md, taskmd) gets exactly those columns, in config
 * order, headed by its own words. Ours gets the lifecycle and its custom statuses, the side roads
 * (draft, blocked, review, cancelled) only while a task is on them.
 */
export function boardStatuses(format: { readonly statuses?: readonly string[]; readonly customStatuses: readonly string[] } | undefined): BoardStatuses {
  const declared = format?.statuses ?? [];
  if (declared.length === 0) {
    return { statuses: statusOrder(format?.customStatuses), hideEmpty: statusOrder().filter((s) => !ALWAYS_SHOWN.has(s)), words: {} };
  }
  const words: Record<string, string> = {};
  const statuses: string[] = [];
  for (const word of declared) {
    const key = normaliseStatus(word, declared).status;
    if (statuses.includes(key)) continue; // two spellings of one status: the first names the column
    statuses.push(key);
    if (word !== key) words[key] = word;
  }
  return { statuses, hideEmpty: [], words };
}

/** The select filters: URL key, label, what "all" reads as. */
export const SELECTS = [['status', 'Status', 'statuses'], ['priority', 'Priority', 'priorities'], ['milestone', 'Milestone', 'milestones'],
  ['owner', 'Owner', 'owners'], ['label', 'Label', 'labels']] as const;
type SelectKey = (typeof SELECTS)[number][0];

/** A filter's values for one task; owners and labels are case-folded (the shown spelling is the first one seen). */
function valuesOf(t: Task, key: SelectKey): readonly string[] {
  switch (key) {
    case 'status': return [t.status];
    case 'priority': return t.priority === null ? [] : [t.priority];
    case 'milestone': return t.milestone === null ? [] : [t.milestone];
    case 'owner': return t.owners;
    case 'label': return t.labels;
  }
}

const natural = new Intl.Collator('en', { numeric: true });

/** The options of one select: every value any task has, in order (statuses as the board's columns, priorities by rank), and '(none)'; statuses in the folder's words. */
function filterOptions(tasks: readonly Task[], key: SelectKey, plural: string, statusRank: (status: string) => number, words: StatusWords): string {
  const fold = key === 'owner' ? ownerKey : key === 'label' ? (v: string): string => v.trim().toLowerCase() : undefined;
  const values = new Map<string, string>();
  let none = false;
  for (const t of tasks) {
    const list = valuesOf(t, key);
    if (list.length === 0) none = true;
    for (const v of list) {
      const k = fold === undefined ? v : fold(v);
      if (!values.has(k)) values.set(k, v);
    }
  }
  const order = key === 'status' ? (a: string, b: string): number => statusRank(a) - statusRank(b) || a.localeCompare(b)
    : key === 'priority' ? (a: string, b: string): number => priorityRank(a) - priorityRank(b) || natural.compare(a, b)
    : (a: string, b: string): number => natural.compare(a, b);
  const sorted = [...values.keys()].sort(order);
  const label = (v: string): string => key === 'status' ? statusWord(v, words) : values.get(v) as string;
  // '-' selects the tasks without a value (no owner, no milestone, no label).
  return `<option value="">all ${plural}</option>${sorted.map((v) => `<option value="${h(v)}">${h(label(v))}</option>`).join('')}${none ? '<option value="-">(none)</option>' : ''}`;
}

/** What the all-tasks section is made of; the board's columns and words as boardStatuses gives them. */
export interface ListInput extends BoardStatuses {
  readonly tasks: readonly Task[];
  /** Every task's record, in the served order. */
  readonly rows: readonly TaskRow[];
  /** The records' and the bodies' versions: the client fetches the data index again when the page names others. */
  readonly version: string;
  readonly searchVersion: string;
  readonly now: Date;
  /** The filters' selects (listSelects) and the first page of the default view, when the caller kept them from an earlier build. */
  readonly selects?: string;
  readonly first?: readonly TaskRow[];
}

/** The filters' selects: every value the tasks have, statuses as the board's columns come. */
export function listSelects(tasks: readonly Task[], board: BoardStatuses): string {
  const ranks = new Map(board.statuses.map((s, i) => [s, i]));
  const rank = (status: string): number => ranks.get(status) ?? Infinity;
  return SELECTS.map(([key, label, plural]) => `<label>${label} <select id="f-${key}" name="${key}">${filterOptions(tasks, key, plural, rank, board.words)}</select></label>`).join('\n');
}

/** What of a task the filters' options are made of. */
export function selectValues(t: Task): string {
  return JSON.stringify(SELECTS.map(([key]) => valuesOf(t, key)));
}

/**
 * The all-tasks section: the view switch (list or board), filters, search, the first page of the
 * default view as rows (what works without JavaScript), the pager and the board's place. The
 * client loads the data files and draws every page and the board from it.
 */
export function renderList(p: ListInput): string {
  const head = COLUMNS.map(([k, label]) => `<th data-sort="${k}"><button type="button">${label}</button></th>`).join('');
  // The Status filter lists statuses as the board's columns come.
  const selects = p.selects ?? listSelects(p.tasks, p);
  const archived = p.rows.reduce((n, r) => n + (r.archived ? 1 : 0), 0);
  // The first page of the default view: open work first, as the client orders it.
  const first = p.first ?? openWorkFirst(p.rows.filter((r) => !r.archived)).slice(0, PAGE_SIZE);
  const active = p.rows.length - archived;
  const today = localDay(p.now);
  const more = active > first.length
    ? `<p id="more" class="none">The first ${first.length} of ${active} tasks; the others, the filters and the board load with JavaScript.</p>` : '';
  return `<section id="all"><h2>All tasks</h2>
<form id="controls" role="search">
<div class="views" role="group" aria-label="View" hidden><button type="button" id="v-list" aria-pressed="true">List</button><button type="button" id="v-board" aria-pressed="false">Board</button></div>
${selects}
<label>Search <input type="search" id="q" name="q" placeholder="title or text (press /)" autocomplete="off"></label>
<label class="flag"><input type="checkbox" id="f-archived" name="archived" value="1"> archived (<span id="n-archived">${archived}</span>)</label>
<label class="flag"><input type="checkbox" id="f-escalated" name="escalated" value="1"> escalated only</label>
<label class="flag"><input type="checkbox" id="f-overdue" name="overdue" value="1"> overdue only</label>
<label class="flag"><input type="checkbox" id="f-group" name="group" value="parent"> subtasks under their parent</label>
<output id="shown">${active} tasks</output>
</form>
<div id="list"><div class="scroll"><table id="tasks"><thead><tr>${head}</tr></thead>
<tbody data-v="${h(p.version)}" data-s="${h(p.searchVersion)}" data-total="${p.rows.length}" data-first="${h(JSON.stringify(first))}" id="rows">
${first.map((r) => rowHtml(r, today, 0, p.words)).join('')}</tbody></table></div>
${more}<nav class="pager" aria-label="Pages of the list" hidden><button type="button" id="p-prev">‹ Previous</button> <span id="p-info"></span> <button type="button" id="p-next">Next ›</button></nav></div>
<p id="board-keys" class="none" hidden>On the board, the arrow keys move between cards (Home and End to a column's first and last), Enter opens one.</p>
<div id="board" role="region" aria-label="Board" aria-describedby="board-keys" data-statuses="${h(p.statuses.join(' '))}" data-hide-empty="${h(p.hideEmpty.join(' '))}" data-words="${h(JSON.stringify(p.words))}" hidden></div>
</section>`;
}
