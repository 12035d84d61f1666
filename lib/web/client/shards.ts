// The task data's files: the records and the search bodies split into shards by a hash of each page name, and the small index that names them; one rule for the builder and the page.

/** The folder of the data files, beside index.html. */
export const DATA_DIR = 'data';
/** The data index: the versions, each task's shard in the served order, each shard's hash. */
export const DATA_INDEX = `${DATA_DIR}/index.json`;
/** One character per task in `order`: its shard's number (at most 64 shards). */
export const SHARD_DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
export const MAX_SHARDS = SHARD_DIGITS.length;

/** data/index.json. */
export interface DataIndex {
  /** The records' version, as the index names it (`data-v`). */
  readonly version: string;
  /** The bodies' version (`data-s`). */
  readonly search: string;
  /** Each task's shard (SHARD_DIGITS), in the served order: shard k's records come in this order too. */
  readonly order: string;
  /** Each records shard's hash: its name carries it, so a cached copy is right or not asked for. */
  readonly tasks: readonly string[];
  /** Each bodies shard's hash. */
  readonly bodies: readonly string[];
}

/** A records shard: `{"tasks":[…]}`, the records of its tasks in the served order. */
export const tasksShard = (k: number): string => `${DATA_DIR}/tasks-${k}.json`;
/** A bodies shard: `{"<page>":"<folded title and body>",…}`. */
export const searchShard = (k: number): string => `${DATA_DIR}/search-${k}.json`;

/** How many shards n tasks get: a power of two, about 256 tasks each, at most MAX_SHARDS. */
export function shardCount(n: number): number {
  let k = 1;
  while (k < MAX_SHARDS && k * 256 < n) k *= 2;
  return k;
}

/** A page's shard among `count` (a power of two): FNV-1a of its name, so adding or removing other tasks never moves it. */
export function shardOf(page: string, count: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < page.length; i++) {
    h ^= page.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & (count - 1);
}
