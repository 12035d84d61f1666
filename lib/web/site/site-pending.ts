// Files a deferred build left to write later (task pages, search shards): the latest inputs of each, rendered a few at a time, the ones asked for first.

/** A file to render: how to make its bytes from the inputs it was deferred with. */
export type PendingRender = () => string | Buffer;

/**
 * The files whose content changed but which are not on disk yet, by path (`tasks/<page>.html`,
 * `data/search-<k>.json`). A file deferred again before it was rendered keeps only its newest inputs;
 * a dropped one (its task went away) is never rendered. Map order is the order files were first
 * deferred (the scan's order); files deferred `ahead` (the search shards, which every page fetches
 * for its search box) come before the task pages.
 */
export class PendingPages {
  private readonly ahead = new Map<string, PendingRender>();
  private readonly pages = new Map<string, PendingRender>();
  /** What a file weighs in take()'s max, when more than a page: a search shard, its tasks. */
  private readonly weights = new Map<string, number>();

  get size(): number {
    return this.ahead.size + this.pages.size;
  }

  has(rel: string): boolean {
    return this.ahead.has(rel) || this.pages.has(rel);
  }

  /**
   * Defers a file; an earlier deferral of the same file is replaced, keeping its place in line.
   * `weight`: what rendering it costs, in task pages (a search shard reads each of its tasks' files).
   */
  set(rel: string, render: PendingRender, ahead = false, weight = 1): void {
    (ahead ? this.ahead : this.pages).set(rel, render);
    if (weight === 1) this.weights.delete(rel);
    else this.weights.set(rel, weight);
  }

  /** The pending files' paths, in line order. */
  paths(): string[] {
    return [...this.ahead.keys(), ...this.pages.keys()];
  }

  drop(rel: string): void {
    this.ahead.delete(rel);
    this.pages.delete(rel);
    this.weights.delete(rel);
  }

  /**
   * Files taken out of the line: those named in `first` (when pending, all of them: they were
   * asked for), then others while the weight taken is under max (at least one). At 50,000 tasks a
   * search shard weighs about 780 pages: one a slice, not all 64 shards' text at once (8 s of the
   * build thread and about 100 MB of its peak, measured).
   */
  take(max: number, first: readonly string[] = []): [string, PendingRender][] {
    const out: [string, PendingRender][] = [];
    let weight = 0;
    const add = (rel: string): void => {
      const render = this.ahead.get(rel) ?? this.pages.get(rel);
      if (render === undefined) return;
      weight += this.weights.get(rel) ?? 1;
      this.drop(rel);
      out.push([rel, render]);
    };
    for (const rel of first) add(rel);
    for (const line of [this.ahead, this.pages]) {
      for (const rel of line.keys()) {
        if (weight >= max) return out;
        add(rel);
      }
    }
    return out;
  }
}
