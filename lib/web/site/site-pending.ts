// Task pages a deferred build left to render later: the latest inputs of each, rendered a few at a time, the ones asked for first.

/** A page to render: its path in the build folder and how to render it from the inputs it was deferred with. */
export type PendingRender = () => string;

/**
 * The task pages whose content changed but which are not on disk yet, by path (`tasks/<page>.html`).
 * A page deferred again before it was rendered keeps only its newest inputs; a dropped one (its task
 * went away) is never rendered. Map order is the order pages were first deferred (the scan's order).
 */
export class PendingPages {
  private readonly pages = new Map<string, PendingRender>();

  get size(): number {
    return this.pages.size;
  }

  has(rel: string): boolean {
    return this.pages.has(rel);
  }

  /** Defers a page; an earlier deferral of the same page is replaced, keeping its place in line. */
  set(rel: string, render: PendingRender): void {
    this.pages.set(rel, render);
  }

  /** The pending pages' paths, in line order. */
  paths(): string[] {
    return [...this.pages.keys()];
  }

  drop(rel: string): void {
    this.pages.delete(rel);
  }

  /** Up to max pages taken out of the line: those named in `first` (when pending) before the others. */
  take(max: number, first: readonly string[] = []): [string, PendingRender][] {
    const out: [string, PendingRender][] = [];
    const add = (rel: string): void => {
      const render = this.pages.get(rel);
      if (render === undefined) return;
      this.pages.delete(rel);
      out.push([rel, render]);
    };
    for (const rel of first) {
      if (out.length >= max) return out;
      add(rel);
    }
    for (const rel of this.pages.keys()) {
      if (out.length >= max) break;
      add(rel);
    }
    return out;
  }
}
