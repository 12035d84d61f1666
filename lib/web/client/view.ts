// The task list and board's view: filters, search, sort, page and list-or-board, kept in the URL (back and forward too), drawn from every task.
import { drawBoard, startBoard, statusWords } from './board.ts';
import { busy, current, onData, takePage } from './data.ts';
import { byId } from './dom.ts';
import { localDay } from './due.ts';
import { grouped, openWorkFirst, sortRows } from './order.ts';
import { FILTERS, FLAGS, type ViewState, filterRows, mergeQuery, queryOf, readQuery } from './query.ts';
import { PAGE_SIZE, type TaskRow, rowHtml } from './rows.ts';

const state: ViewState = {
  view: 'list',
  filters: { status: '', priority: '', milestone: '', owner: '', label: '' },
  flags: { archived: false, escalated: false, overdue: false },
  q: '',
  sort: '',
  group: false,
  page: 1,
};

function table(): HTMLTableElement | null {
  return byId('tasks', HTMLTableElement);
}

/** Puts the state in the URL: a new history entry for a deliberate change (back undoes it), the same entry while typing a search. */
function writeUrl(push: boolean, hash = location.hash): void {
  const url = queryOf(state, location.search, location.pathname) + hash;
  try {
    if (push) history.pushState(null, '', url);
    else history.replaceState(null, '', url);
  } catch {
    // Some file:// views refuse it; the view still applies, only the URL does not follow.
  }
}

/** Shows the state in the controls: view buttons, selects (adding a value from a shared URL), checkboxes, search box, sort arrows. */
function syncControls(): void {
  for (const v of ['list', 'board'] as const) byId(`v-${v}`, HTMLButtonElement)?.setAttribute('aria-pressed', String(state.view === v));
  for (const f of FILTERS) {
    const select = byId(`f-${f}`, HTMLSelectElement);
    if (select === null) continue;
    const want = state.filters[f];
    if (want && ![...select.options].some((o) => o.value === want)) select.add(new Option(want, want));
    select.value = want;
  }
  for (const f of FLAGS) {
    const box = byId(`f-${f}`, HTMLInputElement);
    if (box !== null) box.checked = state.flags[f];
  }
  const group = byId('f-group', HTMLInputElement);
  if (group !== null) group.checked = state.group;
  const q = byId('q', HTMLInputElement);
  if (q !== null && q.value !== state.q) q.value = state.q;
  const head = table()?.tHead?.rows[0];
  if (head === undefined) return;
  const key = state.sort.replace(/^-/, '');
  for (const th of head.cells) {
    if (th.dataset.sort === key) th.setAttribute('aria-sort', state.sort.startsWith('-') ? 'descending' : 'ascending');
    else th.removeAttribute('aria-sort');
  }
}

/**
 * The rows in the chosen order (stable: equal keys keep the served order), cached per data and
 * sort. With none chosen the list puts open work first; the board's columns keep the served order.
 */
let order: { rows: readonly TaskRow[]; sort: string; list: readonly TaskRow[] } | undefined;
function sorted(rows: readonly TaskRow[]): readonly TaskRow[] {
  const sort = state.sort === '' && state.view === 'list' ? 'open' : state.sort;
  if (order?.rows === rows && order.sort === sort) return order.list;
  const list = sort === 'open' ? openWorkFirst(rows) : sortRows(rows, sort);
  order = { rows, sort, list };
  return list;
}

/** The tasks the filters, the checkboxes and the search let through, in order. */
function visible(): { list: TaskRow[]; of: number } {
  const d = current();
  return filterRows(sorted(d.rows), state, localDay(new Date()), d.bodies);
}

/** What the list shows now, so an unchanged page is not redrawn (keeping focus and hover). */
let drawn = '';

/** Draws one page of the list (grouped by parent when asked); the page number is kept within range. */
function drawList(filtered: readonly TaskRow[]): void {
  const body = table()?.tBodies[0];
  if (body === undefined) return;
  const { list, depth } = state.group ? grouped(filtered) : { list: filtered, depth: undefined };
  const pages = Math.max(1, Math.ceil(list.length / PAGE_SIZE));
  state.page = Math.min(state.page, pages);
  const slice = list.slice((state.page - 1) * PAGE_SIZE, state.page * PAGE_SIZE);
  const today = localDay(new Date());
  const key = `${today}\n${slice.length}\n${slice.map((r) => `${depth?.get(r) ?? 0}${JSON.stringify(r)}`).join('\n')}`;
  if (key !== drawn) {
    const focused = document.activeElement?.closest<HTMLElement>('#tasks tr[data-page]')?.dataset.page;
    body.innerHTML = slice.map((r) => rowHtml(r, today, depth?.get(r) ?? 0, statusWords())).join('');
    drawn = key;
    if (focused !== undefined) body.querySelector<HTMLElement>(`tr[data-page="${CSS.escape(focused)}"] a`)?.focus();
  }
  const pager = document.querySelector<HTMLElement>('#list .pager');
  if (pager !== null) pager.hidden = pages <= 1;
  const info = byId('p-info', HTMLElement);
  if (info !== null) info.textContent = `Page ${state.page} of ${pages}`;
  const prev = byId('p-prev', HTMLButtonElement);
  const next = byId('p-next', HTMLButtonElement);
  if (prev !== null) prev.disabled = state.page <= 1;
  if (next !== null) next.disabled = state.page >= pages;
}

/** Takes the table body as it is now: at start, and after a live update replaced it (new versions to fetch). */
export function takeRows(): void {
  drawn = '';
  takePage(table()?.tBodies[0]);
}

/** Draws the list or the board from the data, as the state says. */
export function apply(): void {
  if (table() === null) return;
  const d = current();
  const { list, of } = visible();
  const board = state.view === 'board';
  const listEl = byId('list', HTMLElement);
  const boardEl = byId('board', HTMLElement);
  if (listEl !== null) listEl.hidden = board;
  if (boardEl !== null) boardEl.hidden = !board;
  const keys = byId('board-keys', HTMLElement);
  if (keys !== null) keys.hidden = !board;
  // The skip link leads to what the view shows: the list's rows, or the board (Tab then reaches its card).
  byId('skip', HTMLAnchorElement)?.setAttribute('href', board ? '#board' : '#rows');
  if (board) drawBoard(list, state.filters.status);
  else drawList(list);
  syncControls();
  const more = byId('more', HTMLElement);
  if (more !== null) more.hidden = d.complete;
  const all = byId('all', HTMLElement);
  if (all !== null) {
    if (busy()) all.setAttribute('aria-busy', 'true');
    else all.removeAttribute('aria-busy');
  }
  const archived = d.rows.reduce((n, r) => n + (r.archived ? 1 : 0), 0);
  const n = byId('n-archived', HTMLElement);
  if (n !== null && d.complete) n.textContent = String(archived);
  const out = byId('shown', HTMLOutputElement);
  if (out !== null) {
    const count = list.length === of ? `${of} tasks` : `${list.length} of ${of} tasks`;
    out.textContent = d.failed ? `${count} (could not load every task)` : d.complete ? count : `${count} (loading…)`;
  }
}

/** A deliberate change of the state: into the URL as a new history entry, then drawn. */
function change(push = true): void {
  writeUrl(push);
  apply();
}

/** Follows a link to a view of the list (`?status=…`, `?escalated=1`, the nav's List and Board) in place, merging its parameters into the state. */
function followViewLink(a: HTMLAnchorElement): void {
  const url = new URL(a.href);
  // Only a link that names a query sets from it (`#all` resolves against the current one).
  mergeQuery(state, (a.getAttribute('href') ?? '').startsWith('?') ? url.searchParams : new URLSearchParams());
  if (a.dataset.view === 'list' || a.dataset.view === 'board') state.view = a.dataset.view;
  writeUrl(true, url.hash);
  apply();
  if (url.hash) document.getElementById(decodeURIComponent(url.hash.slice(1)))?.scrollIntoView();
}

/** Reads the view from the URL, wires the controls (view switch, selects, checkboxes, search, sortable headers, pager, view links, the / key) and draws it. */
export function startView(): void {
  if (table() === null) return;
  readQuery(state, location.search);
  onData(apply);
  takeRows();
  const views = document.querySelector<HTMLElement>('#controls .views');
  if (views !== null) views.hidden = false;
  for (const v of ['list', 'board'] as const) {
    byId(`v-${v}`, HTMLButtonElement)?.addEventListener('click', () => {
      if (state.view === v) return;
      state.view = v;
      change();
    });
  }
  /** A filter changed: back to the first page. */
  const onChange = <T extends HTMLElement>(id: string, kind: new () => T, set: (el: T) => void): void => {
    const el = byId(id, kind);
    el?.addEventListener('change', () => {
      set(el);
      state.page = 1;
      change();
    });
  };
  for (const f of FILTERS) onChange(`f-${f}`, HTMLSelectElement, (el) => { state.filters[f] = el.value; });
  for (const f of FLAGS) onChange(`f-${f}`, HTMLInputElement, (el) => { state.flags[f] = el.checked; });
  onChange('f-group', HTMLInputElement, (el) => { state.group = el.checked; });
  const q = byId('q', HTMLInputElement);
  q?.addEventListener('input', () => {
    state.q = q.value;
    state.page = 1;
    change(false);
  });
  byId('controls', HTMLFormElement)?.addEventListener('submit', (e) => e.preventDefault());
  const turn = (by: number): void => {
    state.page += by;
    change();
    const top = byId('all', HTMLElement);
    if (top !== null && top.getBoundingClientRect().top < 0) top.scrollIntoView();
  };
  byId('p-prev', HTMLButtonElement)?.addEventListener('click', () => turn(-1));
  byId('p-next', HTMLButtonElement)?.addEventListener('click', () => turn(1));
  document.addEventListener('click', (e) => {
    if (!(e.target instanceof Element)) return;
    const th = e.target.closest<HTMLElement>('#tasks th[data-sort]');
    if (th !== null) {
      const k = th.dataset.sort ?? '';
      state.sort = state.sort === k ? `-${k}` : state.sort === `-${k}` ? '' : k;
      change();
      return;
    }
    // A link to a view of the list filters in place, unless the user asks for a new tab or window.
    const a = e.target.closest<HTMLAnchorElement>('a[href^="?"], a[data-view]');
    if (a !== null && !e.ctrlKey && !e.metaKey && !e.shiftKey && e.button === 0) {
      e.preventDefault();
      followViewLink(a);
    }
  });
  window.addEventListener('popstate', () => {
    readQuery(state, location.search);
    apply();
  });
  document.addEventListener('keydown', (e) => {
    const t = e.target instanceof HTMLElement ? e.target : null;
    const typing = t !== null && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
    if (e.key === '/' && q !== null && !e.ctrlKey && !e.metaKey && !e.altKey && !typing) {
      e.preventDefault();
      q.focus();
      q.select();
    }
  });
  startBoard(apply);
  apply();
}
