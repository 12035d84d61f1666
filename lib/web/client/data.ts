// The task data behind the list and the board: the first page carried by the index, then the data index and the shards of records and bodies it names, fetched in the background.
import { HTTP } from './dom.ts';
import type { TaskRow } from './rows.ts';
import { DATA_INDEX, type DataIndex, SHARD_DIGITS, searchShard, tasksShard } from './shards.ts';

/** What the view draws from; `complete` once every task is known (the data files, or a first page that holds them all). */
export interface Data {
  readonly rows: readonly TaskRow[];
  readonly complete: boolean;
  /** Bodies for search by page name; undefined until the bodies shards are in (search matches ids, titles, owners and labels meanwhile). */
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

/** Whether the task records are being fetched (the list is then `aria-busy`). */
export function busy(): boolean {
  return loading.rows;
}

/** A card moved on the board: its row takes the new status at once (the data files bring the rest with the live update). */
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
 * the records, then the bodies (data/index.json and the shards it names), when the index names versions other than those loaded. Called at
 * start and after a live update replaced the table body.
 */
export function takePage(body: HTMLTableSectionElement | undefined): void {
  if (body === undefined) return;
  want = { rows: body.dataset.v ?? '', bodies: body.dataset.s ?? '' };
  if (have.rows === '') {
    // Until the records are in (and always under file://, where it cannot be fetched), the first page is all there is.
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

/** Fetches a file of the site; cacheable (the server answers 304 while its ETag holds; the version in the query keeps an old copy from answering for a new one). */
async function getJson<T>(name: string, version: string): Promise<T> {
  const r = await fetch(new URL(`${name}?v=${encodeURIComponent(version)}`, location.href).href);
  if (!r.ok) throw new Error(`${name}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

/** The shards held, by number, with the hash they were fetched at: one the data index names with another hash is fetched again. */
const held = { rows: new Map<number, { hash: string; rows: readonly TaskRow[] }>(), bodies: new Map<number, { hash: string; bodies: Record<string, string> }>() };
/** The versions the page names, as one key: what the data index is asked for, and what it must name to be kept. */
const wanted = (): string => `${want.rows}.${want.bodies}`;

/** The data index last fetched, and the versions it was asked for. */
let index: { asked: string; doc: DataIndex } | undefined;

/** The data index for the versions the index page names (fetched again only when they moved on). */
async function dataIndex(): Promise<DataIndex> {
  const asked = wanted();
  if (index?.asked === asked) return index.doc;
  const doc = await getJson<DataIndex>(DATA_INDEX, asked);
  // Kept only when it is the one asked for: another build's (a rebuild lands its files one at a time) is asked for again.
  if (`${doc.version}.${doc.search}` === asked) index = { asked, doc };
  return doc;
}

/** A data index of another build is asked for again this long after, at most LAG_TRIES times by each loader for one version of the page. */
const LAG_MS = 1000;
const LAG_TRIES = 10;
const lag = new Map<() => void, { asked: string; tries: number }>();

/**
 * Loads again a second later: the data index answered for other versions than the page names.
 * Never at once: the answer may be a cached one, and a loader that called itself again at once
 * would go round its promises for good, never giving the page a turn (a renderer at full CPU).
 */
function later(load: () => void): void {
  const asked = wanted();
  let tries = lag.get(load);
  if (tries?.asked !== asked) lag.set(load, (tries = { asked, tries: 0 }));
  if (tries.tries++ < LAG_TRIES) setTimeout(load, LAG_MS);
}

/** Brings `held` in line with the hashes: shards no longer named dropped, changed or missing ones fetched (in parallel). */
async function sync<T extends { hash: string }>(map: Map<number, T>, hashes: readonly string[], fetchOne: (k: number, hash: string) => Promise<T>): Promise<void> {
  for (const k of map.keys()) if (k >= hashes.length) map.delete(k);
  await Promise.all(hashes.map(async (hash, k) => {
    if (map.get(k)?.hash !== hash) map.set(k, await fetchOne(k, hash));
  }));
}

function loadRows(): void {
  if (loading.rows) return;
  loading.rows = true;
  const asked = want.rows;
  /** The data index, or a shard it named, was another build's: what is shown stays, and it is asked for again a second later. */
  let stale = false;
  dataIndex()
    .then(async (doc) => {
      // Another build's records are not the page's (an earlier build's can have none at all).
      if (doc.version !== asked) {
        stale = true;
        return;
      }
      await sync(held.rows, doc.tasks, async (k, hash) => ({ hash, rows: (await getJson<{ tasks: TaskRow[] }>(tasksShard(k), hash)).tasks }));
      // The records in the served order: each shard's come in that order, `order` says whose turn it is.
      const next = new Array<number>(doc.tasks.length).fill(0);
      const rows: TaskRow[] = [];
      for (const c of doc.order) {
        const k = SHARD_DIGITS.indexOf(c);
        const row = held.rows.get(k)?.rows[next[k] ?? 0];
        if (row === undefined) {
          held.rows.clear(); // fetched again at the next try, not answered from what disagreed
          stale = true;
          throw new Error('the data index and its shards disagree');
        }
        next[k] = (next[k] ?? 0) + 1;
        rows.push(row);
      }
      have.rows = doc.version;
      data = { ...data, rows, complete: true, failed: false };
    })
    .catch(() => {
      // Keep what is shown; the next live update tries again.
      data = { ...data, failed: true };
    })
    .finally(() => {
      loading.rows = false;
      onChange();
      if (have.rows !== want.rows && (have.rows !== '' || stale)) {
        if (want.rows !== asked) loadRows(); // the index moved on meanwhile
        else if (stale) later(loadRows);
      }
      if (have.rows !== '' && have.bodies !== want.bodies) loadBodies(); // in the background, for search
    });
}

function loadBodies(): void {
  if (loading.bodies) return;
  loading.bodies = true;
  const asked = want.bodies;
  let stale = false;
  dataIndex()
    .then(async (doc) => {
      // Another build's bodies are not the page's: asked for again a second later.
      if (doc.search !== asked) {
        stale = true;
        return;
      }
      await sync(held.bodies, doc.bodies, async (k, hash) => ({ hash, bodies: await getJson<Record<string, string>>(searchShard(k), hash) }));
      const bodies = new Map<string, string>();
      for (const shard of held.bodies.values()) for (const [page, text] of Object.entries(shard.bodies)) bodies.set(page, text);
      have.bodies = doc.search;
      data = { ...data, bodies };
      onChange();
    })
    .catch(() => {
      have.bodies = asked; // offline or gone: ids, titles, owners and labels only
    })
    .finally(() => {
      loading.bodies = false;
      if (have.bodies === want.bodies) return;
      if (want.bodies !== asked) loadBodies(); // the index moved on meanwhile
      else if (stale) later(loadBodies);
    });
}
