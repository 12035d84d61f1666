// Values tasks share, kept once: a pool for what a folder repeats (status, priority, milestone, owners, labels), and one frozen empty list, mapping or count for all.
import type { Section } from './body.ts';

// Tasks are treated as immutable: frozen, a shared value that code tried to change would throw, not change every task.
export const NO_ITEMS: string[] = Object.freeze([]) as unknown as string[];
export const NO_SECTIONS: Section[] = Object.freeze([]) as unknown as Section[];
export const NO_BOXES: { done: number; total: number } = Object.freeze({ done: 0, total: 0 });
export const NO_FIELDS: Record<string, unknown> = Object.freeze({});

/** The list, or the shared empty one. */
export const sharedList = <T>(list: T[]): T[] => (list.length === 0 ? NO_ITEMS as unknown as T[] : list);
/** The checkbox count, or the shared empty one. */
export const sharedBoxes = (b: { done: number; total: number }): { done: number; total: number } => (b.done === 0 && b.total === 0 ? NO_BOXES : b);

/**
 * The string as one of its own. V8 keeps a substring of 13 characters or more as a view into the
 * text it was cut from: a value cut from a frontmatter (or a title from a body's heading) kept all
 * of that text alive once the task dropped it (about 10 MB at 50,000 tasks).
 */
export function own<S extends string | null>(s: S): S {
  return s === null || s.length < 13 ? s : JSON.parse(JSON.stringify(s)) as S;
}

/** A pool this large is emptied (a long-lived process that saw many distinct values): strings already shared stay shared. */
const POOL_MAX = 100_000;

/**
 * One string per distinct value. A value parsed from each file, or cloned into another thread, is
 * a string of its own: 50,000 tasks of five milestones held 50,000 copies of them (3.2 MB in each
 * of the server's two threads, measured in a heap snapshot; as much again for owners, statuses and
 * priorities). Only fields with few values go through it: dates, parents and dependencies are
 * mostly one of a kind, and would only fill it. A value is kept as a copy of its own (own()): the
 * first file's text would otherwise stay alive behind it, through the pool and every task.
 */
export class StringPool {
  private readonly pool = new Map<string, string>();

  of<S extends string | null>(s: S): S {
    if (s === null) return s;
    const known = this.pool.get(s);
    if (known !== undefined) return known as S;
    if (this.pool.size >= POOL_MAX) this.pool.clear();
    const kept = own(s);
    this.pool.set(kept, kept);
    return kept;
  }

  list(xs: string[]): string[] {
    return xs.length === 0 ? NO_ITEMS : xs.map((x) => this.of(x));
  }
}

/** The pool of the parser (taskfile.ts): one per process. */
export const PARSED = new StringPool();
