// The list's order: open work first by default, else rows sorted by a column (the URL's `sort`), and subtasks grouped under their parent.
import type { TaskRow } from './rows.ts';

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

type SortKey = string | number;
const KEYS = new Map<string, (r: TaskRow) => SortKey>([
  ['id', (r) => r.id],
  ['title', (r) => r.title],
  ['status', (r) => r.statusRank],
  ['priority', (r) => r.priorityRank],
  ['milestone', (r) => r.milestone ?? ''],
  ['owner', (r) => r.owners?.[0] ?? ''],
  ['due', (r) => r.due ?? ''],
  ['created', (r) => r.created ?? ''],
  ['ci', (r) => r.ci],
  ['progress', (r) => (r.total ? (r.done ?? 0) / r.total : -1)],
]);

/** Numbers by value; text in natural order, empty values last. */
function compare(a: SortKey, b: SortKey): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  if (x === '' || y === '') return Number(x === '') - Number(y === '');
  return collator.compare(x, y);
}

/** Open work by how near it is to done (in progress first), then the rest of the lifecycle; completed and cancelled last. */
const OPEN_FIRST: readonly string[] = ['in_progress', 'ready', 'todo', 'review', 'blocked', 'draft'];
const LAST: readonly string[] = ['completed', 'cancelled'];

/** Where a status stands in the default order: OPEN_FIRST, then other statuses by lifecycle rank, then LAST. */
function openRank(r: TaskRow): number {
  const open = OPEN_FIRST.indexOf(r.status);
  if (open >= 0) return open;
  const last = LAST.indexOf(r.status);
  return last >= 0 ? 1e6 + last : OPEN_FIRST.length + r.statusRank;
}

/** The default order between two rows at positions ia and ib: open work first (openRank), then priority, then id in natural order, then position. */
export function openWorkCompare(a: TaskRow, ia: number, b: TaskRow, ib: number): number {
  return openRank(a) - openRank(b) || a.priorityRank - b.priorityRank || collator.compare(a.id, b.id) || ia - ib;
}

/** The default order: open work first (openRank), then priority, then id in natural order; stable. */
export function openWorkFirst(rows: readonly TaskRow[]): TaskRow[] {
  return rows.map((r, i) => ({ s: openRank(r), i, r }))
    .sort((a, b) => a.s - b.s || a.r.priorityRank - b.r.priorityRank || collator.compare(a.r.id, b.r.id) || a.i - b.i)
    .map((x) => x.r);
}

/** The rows in the order `sort` names (`id`, `-due`…; anything else: as served), stable: equal keys keep the served order. */
export function sortRows(rows: readonly TaskRow[], sort: string): readonly TaskRow[] {
  const desc = sort.startsWith('-');
  const name = sort.replace(/^-/, '');
  const key = KEYS.get(name);
  if (key === undefined) return rows;
  return rows.map((r, i) => ({ k: key(r), i, r }))
    .sort((a, b) => (desc ? -compare(a.k, b.k) : compare(a.k, b.k)) || (name === 'status' ? collator.compare(a.r.status, b.r.status) : 0) || a.i - b.i)
    .map((x) => x.r);
}

/**
 * The list with each subtask right after its parent (and the parent's other subtasks), in the
 * chosen order within each level. A task whose parent the filters leave out stays at the top
 * level; a parent cycle is broken where it is first met.
 */
export function grouped(list: readonly TaskRow[]): { list: TaskRow[]; depth: Map<TaskRow, number> } {
  const shown = new Set(list.map((r) => r.page));
  const children = new Map<string, TaskRow[]>();
  const roots: TaskRow[] = [];
  for (const r of list) {
    if (r.parent !== undefined && r.parent !== r.page && shown.has(r.parent)) {
      const kids = children.get(r.parent);
      if (kids === undefined) children.set(r.parent, [r]);
      else kids.push(r);
    } else roots.push(r);
  }
  const out: TaskRow[] = [];
  const depth = new Map<TaskRow, number>();
  const visit = (r: TaskRow, d: number): void => {
    if (depth.has(r)) return;
    depth.set(r, d);
    out.push(r);
    for (const c of children.get(r.page) ?? []) visit(c, d + 1);
  };
  for (const r of roots) visit(r, 0);
  for (const r of list) visit(r, 0);
  return { list: out, depth };
}
