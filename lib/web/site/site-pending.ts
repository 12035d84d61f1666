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

  get size(): number {
    return this.ahead.size + this.pages.size;
  }

  has(rel: string): boolean {
    return this.ahead.has(rel) || this.pages.has(rel);
  }

  /** Defers a file; an earlier deferral of the same file is replaced, keeping its place in line. */
  set(rel: string, render: PendingRender, ahead = false): void {
    (ahead ? this.ahead : this.pages).set(rel, render);
  }

  /** The pending files' paths, in line order. */
  paths(): string[] {
    return [...this.ahead.keys(), ...this.pages.keys()];
  }

  drop(rel: string): void {
    this.ahead.delete(rel);
    this.pages.delete(rel);
  }

  /** Up to max pages taken out of the line: those named in `first` (when pending) before the others. */
  take(max: number, first: readonly string[] = []): [string, PendingRender][] {
    const out: [string, PendingRender][] = [];
    const add = (rel: string): void => {
      const render = this.ahead.get(rel) ?? this.pages.get(rel);
      if (render === undefined) return;
      this.drop(rel);
      out.push([rel, render]);
    };
    for (const rel of first) {
      if (out.length >= max) return out;
      add(rel);
    }
    for (const line of [this.ahead, this.pages]) {
      for (const rel of line.keys()) {
        if (out.length >= max) return out;
        add(rel);
      }
    }
    return out;
  }
}
