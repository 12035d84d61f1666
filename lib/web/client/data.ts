// The task data behind the list and the board: the first page carried by the index, then tasks.json and search.json fetched in the background.
import { HTTP } from './dom.ts';
import type { TaskRow, TasksDoc } from './rows.ts';

/** What the view draws from; `complete` once every task is known (tasks.json, or a first page that holds them all). */
export interface Data {
  readonly rows: readonly TaskRow[];
  readonly complete: boolean;
  /** Bodies for search by page name; undefined until search.json is in (search matches ids, titles, owners and labels meanwhile). */
  readonly bodies: ReadonlyMap<string, string> | undefined;
  /** Loading failed: the view says so. */
  readonly failed: boolean;
}

let data: Data = { rows: [], complete: false, bodies: undefined, failed: false };
/** The versions the loaded files have, and the ones the index names now. */
const have = { rows: '', bodies: '' };
let want = { rows: '', bodies: '' };
const loading = { rows: false, bodies: false };
let onChange: () => void = () => undefined;

export function current(): Data {
  return data;
}

/** Whether tasks.json is being fetched (the list is then `aria-busy`). */
export function busy(): boolean {
  return loading.rows;
}

/** A card moved on the board: its row takes the new status at once (tasks.json brings the rest with the live update). */
export function setStatus(page: string, status: string): void {
  data = { ...data, rows: data.rows.map((r) => (r.page === page ? { ...r, status } : r)) };
  onChange();
}

/** Called whenever the data changed (a file came in or failed). */
export function onData(f: () => void): void {
  onChange = f;
}

/**
 * Reads what the index carries (the versions and the first page of the default view), and fetches
 * tasks.json, then search.json, when the index names versions other than those loaded. Called at
 * start and after a live update replaced the table body.
 */
export function takePage(body: HTMLTableSectionElement | undefined): void {
  if (body === undefined) return;
  want = { rows: body.dataset.v ?? '', bodies: body.dataset.s ?? '' };
  if (have.rows === '') {
    // Until tasks.json is in (and always under file://, where it cannot be fetched), the first page is all there is.
    let first: TaskRow[] = [];
    try {
      first = JSON.parse(body.dataset.first ?? '[]') as TaskRow[];
    } catch {
      first = [];
    }
    data = { ...data, rows: first, complete: first.length === Number(body.dataset.total) };
  }
  if (!HTTP) return;
  if (have.rows !== want.rows) loadRows();
  else if (have.bodies !== '' && have.bodies !== want.bodies) loadBodies();
}

/** Fetches a file of the site; cacheable (the server answers 304 while its ETag holds). */
async function getJson<T>(name: string): Promise<T> {
  const r = await fetch(new URL(name, location.href).href);
  if (!r.ok) throw new Error(`${name}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

function loadRows(): void {
  if (loading.rows) return;
  loading.rows = true;
  const asked = want.rows;
  getJson<TasksDoc>('tasks.json')
    .then((doc) => {
      have.rows = doc.version;
      data = { ...data, rows: doc.tasks, complete: true, failed: false };
    })
    .catch(() => {
      // Keep what is shown; the next live update tries again.
      data = { ...data, failed: true };
    })
    .finally(() => {
      loading.rows = false;
      onChange();
      if (have.rows !== '' && have.rows !== want.rows && want.rows !== asked) loadRows(); // the index moved on meanwhile
      else if (have.rows !== '' && have.bodies !== want.bodies) loadBodies(); // in the background, for search
    });
}

function loadBodies(): void {
  if (loading.bodies) return;
  loading.bodies = true;
  const asked = want.bodies;
  getJson<Record<string, string>>('search.json')
    .then((j) => {
      have.bodies = asked;
      data = { ...data, bodies: new Map(Object.entries(j)) };
      onChange();
    })
    .catch(() => {
      have.bodies = asked; // offline or gone: ids, titles, owners and labels only
    })
    .finally(() => {
      loading.bodies = false;
      if (have.bodies !== want.bodies) loadBodies();
    });
}
