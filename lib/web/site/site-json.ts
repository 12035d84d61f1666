// The task data as files: every task's record and search text in shards by page name, and data/index.json naming them; one change rewrites one shard of each.
import { DATA_INDEX, type DataIndex, SHARD_DIGITS, searchShard, shardCount, shardOf, tasksShard } from '../client/shards.ts';
import type { Entry } from './site-entries.ts';
import { sha1 } from './site-entries.ts';
import type { SiteFiles } from './site-files.ts';

const COMMA = Buffer.from(',\n');
const TASKS_HEAD = Buffer.from('{"tasks":[\n');
const TASKS_TAIL = Buffer.from('\n]}\n');
const SEARCH_HEAD = Buffer.from('{');
const SEARCH_TAIL = Buffer.from('}\n');

/**
 * Writes the shards and the data index for a build's entries (by position, with their pages) and
 * returns the versions the index page names. Shards that no longer exist (fewer tasks, fewer
 * shards) are removed; unchanged shards are compared by their parts' identity, not re-encoded.
 */
export class SiteData {
  private count = 0;
  private pages: readonly string[] = [];
  private shards: number[] = [];

  constructor(private readonly files: SiteFiles) {}

  /** The data files a folder of this many shards has (for the survey and the pruning of a restart). */
  static names(count: number): string[] {
    return [DATA_INDEX, ...Array.from({ length: count }, (_, k) => [tasksShard(k), searchShard(k)]).flat()];
  }

  write(list: readonly Entry[], pages: readonly string[]): { version: string; searchVersion: string } {
    const count = shardCount(list.length);
    if (pages !== this.pages || count !== this.shards.length) this.shards = pages.map((p) => shardOf(p, count));
    this.pages = pages;
    const rows: Buffer[][] = Array.from({ length: count }, () => []);
    const bodies: Buffer[][] = Array.from({ length: count }, () => []);
    const rowKeys: string[][] = Array.from({ length: count }, () => []);
    const bodyKeys: string[][] = Array.from({ length: count }, () => []);
    let order = '';
    list.forEach((e, i) => {
      const k = this.shards[i] as number;
      order += SHARD_DIGITS[k];
      if ((rows[k] as Buffer[]).length) {
        (rows[k] as Buffer[]).push(COMMA);
        (bodies[k] as Buffer[]).push(COMMA);
      }
      (rows[k] as Buffer[]).push(e.data);
      (bodies[k] as Buffer[]).push(e.search);
      (rowKeys[k] as string[]).push(e.hash);
      // The content key covers the title and body the search text is folded from; the page names it.
      (bodyKeys[k] as string[]).push(pages[i] as string, e.content);
    });
    const hash = (keys: readonly string[]): string => sha1(Buffer.from(keys.join('\n'))).slice(0, 16);
    const tasks = rowKeys.map(hash);
    const search = bodyKeys.map(hash);
    for (let k = 0; k < count; k++) {
      this.files.writeAssembled(tasksShard(k), { head: TASKS_HEAD, parts: rows[k] as Buffer[], tail: TASKS_TAIL });
      this.files.writeAssembled(searchShard(k), { head: SEARCH_HEAD, parts: bodies[k] as Buffer[], tail: SEARCH_TAIL });
    }
    for (let k = count; k < this.count; k++) {
      this.files.remove(tasksShard(k));
      this.files.remove(searchShard(k));
    }
    this.count = count;
    const version = hash([order, ...tasks]);
    const searchVersion = hash(search);
    const index: DataIndex = { version, search: searchVersion, order, tasks, bodies: search };
    this.files.write(DATA_INDEX, `${JSON.stringify(index)}\n`);
    return { version, searchVersion };
  }
}
