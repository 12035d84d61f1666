// The task data as files: every task's record and search text in shards by page name, and data/index.json naming them; one change rewrites one shard of each.
import { DATA_INDEX, type DataIndex, SHARD_DIGITS, searchShard, shardCount, shardOf, tasksShard } from '../client/shards.ts';
import type { Entry } from './site-entries.ts';
import { searchPart, sha1 } from './site-entries.ts';
import type { SiteFiles } from './site-files.ts';
import type { PendingPages } from './site-pending.ts';
import type { Task } from '../../tasks/taskfile.ts';

const COMMA = Buffer.from(',\n');
const SEARCH_HEAD = Buffer.from('{');
const SEARCH_TAIL = Buffer.from('}\n');

/**
 * One shard: the entries it was made from, in order, and the hashes the data index names. Neither
 * its records nor its search text are kept: they are encoded again when its entries changed (at
 * 50,000 tasks the records' bytes were about 28 MB of the build thread, the search text is twice
 * their size).
 */
interface Shard { readonly entries: readonly Entry[]; readonly tasks: string; readonly search: string }

/**
 * Writes the shards and the data index for a build's entries (by position, with their pages) and
 * returns the versions the index page names. Shards that no longer exist (fewer tasks, fewer
 * shards) are removed; a shard made from the same entry objects as last time is not encoded again
 * (an entry is a new object when what it shows changed).
 */

export class SiteData {
  private count = 0;
  private pages: readonly string[] = [];
  /** Each shard's positions in the list, in order, and each position's shard as SHARD_DIGITS: kept while the pages are. */
  private members: number[][] = [];
  private order = '';
  private shards: Shard[] = [];

  constructor(private readonly files: SiteFiles) {}

  /** The data files a folder of this many shards has (for the survey and the pruning of a restart). */
  static names(count: number): string[] {
    return [DATA_INDEX, ...Array.from({ length: count }, (_, k) => [tasksShard(k), searchShard(k)]).flat()];
  }

  /**
   * `later`: the search shards go there (ahead of the task pages) instead of to disk: their text is
   * the costliest part of a build (a second of 50,000 tasks' first build), and the index names their
   * version from the content keys, so the first page need not wait for them. Without it they are
   * written now, and any deferred earlier are dropped.
   */
  write(list: readonly Entry[], pages: readonly string[], pending: PendingPages, later: boolean, textOf: (task: Task) => Task): { version: string; searchVersion: string } {
    const count = shardCount(list.length);
    if (pages !== this.pages || count !== this.members.length) {
      this.members = Array.from({ length: count }, () => []);
      let order = '';
      pages.forEach((page, i) => {
        const k = shardOf(page, count);
        (this.members[k] as number[]).push(i);
        order += SHARD_DIGITS[k];
      });
      this.order = order;
    }
    this.pages = pages;
    this.shards = this.members.map((members, k) => {
      const kept = this.shards[k];
      // By the entries themselves, not their positions: a task added or removed moves every position after it.
      const same = kept !== undefined && kept.entries.length === members.length && members.every((i, n) => list[i] === kept.entries[n]);
      // The search shard is written when its tasks changed, or when the files forgot it (a folder cleared under the build).
      const rel = searchShard(k);
      if (!same || !(this.files.knows(rel) || (later && pending.has(rel)))) {
        if (later) {
          pending.set(rel, () => searchText(list, pages, members, textOf), true, Math.max(1, members.length));
          // Not served meanwhile: the data index names the new version, and the old bytes would be kept under it.
          this.files.unlist(rel);
        } else {
          pending.drop(rel);
          this.files.write(rel, searchText(list, pages, members, textOf));
        }
      }
      // The records likewise (a write the same as the disk writes nothing).
      if (same && this.files.knows(tasksShard(k))) return kept;
      const records = tasksText(list, members);
      this.files.write(tasksShard(k), records);
      return { entries: members.map((i) => list[i] as Entry), tasks: sha1(records).slice(0, 16), search: same ? kept.search : searchKey(list, pages, members) };
    });
    for (let k = count; k < this.count; k++) {
      this.files.remove(tasksShard(k));
      pending.drop(searchShard(k));
      this.files.remove(searchShard(k));
    }
    this.count = count;
    const tasks = this.shards.map((x) => x.tasks);
    const search = this.shards.map((x) => x.search);
    const version = hash([this.order, ...tasks]);
    const searchVersion = hash(search);
    const index: DataIndex = { version, search: searchVersion, order: this.order, tasks, bodies: search };
    this.files.write(DATA_INDEX, `${JSON.stringify(index)}\n`);
    return { version, searchVersion };
  }
}

const hash = (keys: readonly string[]): string => sha1(Buffer.from(keys.join('\n'))).slice(0, 16);

/**
 * A search shard's bytes: `{"<page>":"<folded title and body>",…}` of the tasks at its positions,
 * assembled from each task's bytes (one string of the whole shard, hundreds of KB, was garbage the
 * build thread's old space kept until its next full collection: about 20 MB more at 10,000 tasks).
 */
function searchText(list: readonly Entry[], pages: readonly string[], members: readonly number[], textOf: (task: Task) => Task): Buffer {
  const parts: Buffer[] = [SEARCH_HEAD];
  members.forEach((i, n) => {
    if (n > 0) parts.push(COMMA);
    parts.push(searchPart(textOf((list[i] as Entry).task), pages[i] as string));
  });
  parts.push(SEARCH_TAIL);
  return Buffer.concat(parts);
}

/** A shard's records: `{"tasks":[…]}` of the rows at its positions, one per line. */
function tasksText(list: readonly Entry[], members: readonly number[]): Buffer {
  return Buffer.from(`{"tasks":[\n${members.map((i) => JSON.stringify((list[i] as Entry).row)).join(',\n')}\n]}\n`);
}

/** What a shard's search text is made from: the content key covers the title and body it is folded from; the page names it. */
function searchKey(list: readonly Entry[], pages: readonly string[], members: readonly number[]): string {
  return hash(members.flatMap((i) => [pages[i] as string, (list[i] as Entry).content]));
}
