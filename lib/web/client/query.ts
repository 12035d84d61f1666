// The list's view state: what the URL's query says (filters, flags, search, sort, group, page, list or board), and which rows it lets through.
import { isOverdue } from './due.ts';
import { type TaskRow, searchFold } from './rows.ts';

/** The filter selects (`#f-<name>`): live updates swap their options. */
export const FILTERS = ['status', 'priority', 'milestone', 'owner', 'label'] as const;
export type Filter = (typeof FILTERS)[number];
/** The checkboxes (`#f-<name>`), each `<name>=1` in the URL. */
export const FLAGS = ['archived', 'escalated', 'overdue'] as const;

export interface ViewState {
  view: 'list' | 'board';
  filters: Record<Filter, string>;
  flags: Record<(typeof FLAGS)[number], boolean>;
  q: string;
  sort: string;
  /** The list shows each subtask right under its parent (`group=parent`). */
  group: boolean;
  /** 1-based page of the list. */
  page: number;
}

/** Sets the state a query string describes; keys it lacks take their defaults. */
export function readQuery(state: ViewState, search: string): void {
  const p = new URLSearchParams(search);
  state.view = p.get('view') === 'board' ? 'board' : 'list';
  for (const f of FILTERS) state.filters[f] = p.get(f) ?? '';
  for (const f of FLAGS) state.flags[f] = p.get(f) === '1';
  state.q = p.get('q') ?? '';
  state.sort = p.get('sort') ?? '';
  state.group = p.get('group') === 'parent';
  state.page = Math.max(1, Math.floor(Number(p.get('page'))) || 1);
}

/** A view link's parameters (`?status=…`, `?escalated=1`) merged into the state: only the keys it names change, and the list starts at page 1. */
export function mergeQuery(state: ViewState, p: URLSearchParams): void {
  if (p.has('view')) state.view = p.get('view') === 'board' ? 'board' : 'list';
  for (const f of FILTERS) if (p.has(f)) state.filters[f] = p.get(f) ?? '';
  for (const f of FLAGS) if (p.has(f)) state.flags[f] = p.get(f) === '1';
  state.page = 1;
}

/** The state as a query string (`?…`, or `path` when every key has its default); other parameters of `search` are kept. */
export function queryOf(state: ViewState, search: string, path: string): string {
  const p = new URLSearchParams(search);
  const set = (key: string, value: string): void => (value ? p.set(key, value) : p.delete(key));
  set('view', state.view === 'board' ? 'board' : '');
  for (const f of FILTERS) set(f, state.filters[f]);
  for (const f of FLAGS) set(f, state.flags[f] ? '1' : '');
  set('q', state.q);
  set('sort', state.sort);
  set('group', state.group ? 'parent' : '');
  set('page', state.page > 1 ? String(state.page) : '');
  const s = p.toString();
  return s ? `?${s}` : path;
}

/** Case-folded as the server folds owners (`@` dropped) and labels. */
const foldOwner = (s: string): string => s.trim().replace(/^@+/, '').toLowerCase();
const foldLabel = (s: string): string => s.trim().toLowerCase();

function matches(r: TaskRow, f: Filter, want: string): boolean {
  if (!want) return true;
  const list = f === 'owner' ? (r.owners ?? []).map(foldOwner) : f === 'label' ? (r.labels ?? []).map(foldLabel) : [r[f] ?? ''].filter(Boolean);
  return want === '-' ? list.length === 0 : list.includes(f === 'owner' ? foldOwner(want) : f === 'label' ? foldLabel(want) : want);
}

/** Each task's id, title, owners and labels, folded once per record. */
const texts = new WeakMap<TaskRow, string>();
function text(r: TaskRow): string {
  let s = texts.get(r);
  if (s === undefined) {
    s = searchFold([r.id, r.title, ...(r.owners ?? []), ...(r.labels ?? [])].join(' '));
    texts.set(r, s);
  }
  return s;
}

/**
 * The rows the filters, the checkboxes and the search let through, in the order given, and how many
 * there are before any but the archived checkbox (the "of" in "3 of 40 tasks"). The search also
 * looks in the bodies once the bodies shards are in (`bodies`: folded body text by page).
 */
export function filterRows(rows: readonly TaskRow[], state: ViewState, today: string, bodies?: ReadonlyMap<string, string>): { list: TaskRow[]; of: number } {
  const q = searchFold(state.q.trim());
  let of = 0;
  const list = rows.filter((r) => {
    if (r.archived && !state.flags.archived) return false;
    of++;
    if (state.flags.escalated && !r.escalated) return false;
    if (state.flags.overdue && !isOverdue(r, today)) return false;
    if (!FILTERS.every((f) => matches(r, f, state.filters[f]))) return false;
    return !q || text(r).includes(q) || (bodies?.get(r.page) ?? '').includes(q);
  });
  return { list, of };
}
