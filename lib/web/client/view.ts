// The all-tasks table's view: filters, search and sort, kept in the URL without reloading.
import { HTTP, byId } from './dom.ts';

/** The filter selects (`#f-<name>`), matched against the rows' data attributes. */
export const FILTERS = ['status', 'priority', 'milestone', 'owner'] as const;
type Filter = (typeof FILTERS)[number];

const state: { filters: Record<Filter, string>; q: string; sort: string } = {
  filters: { status: '', priority: '', milestone: '', owner: '' },
  q: '',
  sort: '',
};
let rows: HTMLTableRowElement[] = [];
/** Each row's searchable text (id and title), lowercased once. */
const texts = new WeakMap<HTMLTableRowElement, string>();
/** search.json by page name; null: not asked for yet; false: unavailable, so search matches titles only. */
let bodies: Map<string, string> | null | false = null;
let loading = false;
/** The sort the rows are in now. */
let sorted = '';
const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

function table(): HTMLTableElement | null {
  return byId('tasks', HTMLTableElement);
}

function readUrl(): void {
  const p = new URLSearchParams(location.search);
  for (const f of FILTERS) state.filters[f] = p.get(f) ?? '';
  state.q = p.get('q') ?? '';
  state.sort = p.get('sort') ?? '';
}

function writeUrl(): void {
  const p = new URLSearchParams(location.search);
  const set = (key: string, value: string): void => (value ? p.set(key, value) : p.delete(key));
  for (const f of FILTERS) set(f, state.filters[f]);
  set('q', state.q);
  set('sort', state.sort);
  const s = p.toString();
  try {
    history.replaceState(null, '', s ? `?${s}` : location.pathname);
  } catch {
    // Some file:// views refuse replaceState; the view still applies, only the URL does not follow.
  }
}

/** Shows the state in the controls: select values (adding a value from a shared URL), the search box, the sort arrows. */
function syncControls(): void {
  for (const f of FILTERS) {
    const select = byId(`f-${f}`, HTMLSelectElement);
    if (select === null) continue;
    const want = state.filters[f];
    if (want && ![...select.options].some((o) => o.value === want)) select.add(new Option(want, want));
    select.value = want;
  }
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

/** Takes the table's rows as they are now: at start, and after live updates replaced them. */
export function takeRows(): void {
  const body = table()?.tBodies[0];
  rows = body === undefined ? [] : [...body.rows];
  sorted = '';
  bodies = null;
}

function rowText(r: HTMLTableRowElement): string {
  let s = texts.get(r);
  if (s === undefined) {
    s = `${r.dataset.id ?? ''} ${r.cells[1]?.textContent ?? ''}`.toLowerCase();
    texts.set(r, s);
  }
  return s;
}

/** Fetches the task bodies for search once, on the first search. */
function loadBodies(): void {
  if (loading || bodies !== null || !state.q) return;
  // Under file:// the browser refuses the fetch (and logs an error): search titles only.
  if (!HTTP) {
    bodies = false;
    return;
  }
  loading = true;
  fetch(new URL('search.json', location.href).href, { cache: 'no-store' })
    .then((r) => {
      if (!r.ok) throw new Error(String(r.status));
      return r.json() as Promise<Record<string, string>>;
    })
    .then((j) => {
      bodies = new Map(Object.entries(j));
      apply();
    })
    .catch(() => {
      bodies = false; // offline or gone: titles only
    })
    .finally(() => {
      loading = false;
    });
}

type SortKey = string | number;
const num = (v: string | undefined): number => Number(v);
const KEYS = new Map<string, (r: HTMLTableRowElement) => SortKey>([
  ['id', (r) => r.dataset.id ?? ''],
  ['title', (r) => r.cells[1]?.textContent ?? ''],
  ['status', (r) => num(r.dataset.statusRank)],
  ['priority', (r) => num(r.dataset.priorityRank)],
  ['milestone', (r) => r.dataset.milestone ?? ''],
  ['owner', (r) => r.dataset.owner ?? ''],
  ['ci', (r) => r.dataset.ci ?? ''],
  ['progress', (r) => (num(r.dataset.total) ? num(r.dataset.done) / num(r.dataset.total) : -1)],
]);

/** Numbers by value; text in natural order, empty values last. */
function compare(a: SortKey, b: SortKey): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  if (x === '' || y === '') return Number(x === '') - Number(y === '');
  return collator.compare(x, y);
}

function sortRows(): void {
  if (sorted === state.sort) return;
  const body = table()?.tBodies[0];
  if (body === undefined) return;
  const desc = state.sort.startsWith('-');
  const key = KEYS.get(state.sort.replace(/^-/, ''));
  let list = rows;
  if (key !== undefined) {
    // Stable: equal keys keep the served order.
    list = rows.map((r, i) => ({ k: key(r), i, r }))
      .sort((a, b) => (desc ? -compare(a.k, b.k) : compare(a.k, b.k)) || a.i - b.i)
      .map((x) => x.r);
  }
  const frag = document.createDocumentFragment();
  for (const r of list) frag.appendChild(r);
  body.appendChild(frag);
  sorted = state.sort;
}

/** Shows the rows the filters and search let through, in the chosen order. */
export function apply(): void {
  if (table() === null) return;
  const q = state.q.trim().toLowerCase();
  if (q && bodies === null) loadBodies();
  let shown = 0;
  for (const r of rows) {
    let ok = FILTERS.every((f) => {
      const want = state.filters[f];
      const has = r.dataset[f] ?? '';
      return !want || (want === '-' ? has === '' : has === want);
    });
    if (ok && q) ok = rowText(r).includes(q) || (bodies ? (bodies.get(r.dataset.slug ?? '') ?? '').includes(q) : false);
    if (r.hidden === ok) r.hidden = !ok;
    if (ok) shown++;
  }
  sortRows();
  syncControls();
  const out = byId('shown', HTMLOutputElement);
  if (out !== null) out.textContent = shown === rows.length ? `${shown} tasks` : `${shown} of ${rows.length} tasks`;
}

function change(): void {
  writeUrl();
  apply();
}

/** Reads the view from the URL, wires the controls (selects, search, sortable headers, count links, the / key) and applies it. */
export function startView(): void {
  readUrl();
  takeRows();
  for (const f of FILTERS) {
    const select = byId(`f-${f}`, HTMLSelectElement);
    select?.addEventListener('change', () => {
      state.filters[f] = select.value;
      change();
    });
  }
  const q = byId('q', HTMLInputElement);
  q?.addEventListener('input', () => {
    state.q = q.value;
    change();
  });
  byId('controls', HTMLFormElement)?.addEventListener('submit', (e) => e.preventDefault());
  document.addEventListener('click', (e) => {
    if (!(e.target instanceof Element)) return;
    const th = e.target.closest<HTMLElement>('#tasks th[data-sort]');
    if (th !== null) {
      const k = th.dataset.sort ?? '';
      state.sort = state.sort === k ? `-${k}` : state.sort === `-${k}` ? '' : k;
      change();
      return;
    }
    const a = e.target.closest<HTMLElement>('#counts a[data-status]');
    // A count links to ?status=…; on the index it filters in place, unless the user asks for a new tab or window.
    if (a !== null && table() !== null && !e.ctrlKey && !e.metaKey && !e.shiftKey) {
      e.preventDefault();
      state.filters.status = a.dataset.status ?? '';
      change();
    }
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
  apply();
}
