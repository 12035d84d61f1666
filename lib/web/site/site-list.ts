// The index's list parts that cost with the folder (the filters' options, the open-work-first order), kept between builds and updated by the tasks that changed.
import type { Task } from '../../tasks/taskfile.ts';
import { type BoardStatuses, listSelects, selectValues } from '../render/render-list.ts';
import { PAGE_SIZE, type TaskRow } from '../client/rows.ts';
import { openWorkCompare } from '../client/order.ts';

/** What of a row places it in the default order. */
const orderKey = (r: TaskRow): string => JSON.stringify([r.archived ?? false, r.status, r.statusRank, r.priorityRank, r.id]);

/**
 * The filters' selects and the first page of the default view for renderList. With the positions
 * that changed since the last call (same list length), the selects are kept unless a changed task's
 * filter values differ, and the order moves only the changed rows whose place in it may differ.
 */
export class ListParts {
  private selects: { key: string; html: string } | undefined;
  /** Positions of the active rows, open work first. */
  private order: number[] | undefined;
  private rows: readonly TaskRow[] = [];
  private tasks: readonly Task[] = [];

  get(tasks: readonly Task[], rows: readonly TaskRow[], board: BoardStatuses, changed: readonly number[] | undefined): { selects: string; first: TaskRow[] } {
    const key = JSON.stringify([board.statuses, board.words]);
    const keepSelects = changed !== undefined && this.selects?.key === key && changed.every((i) => this.tasks[i] === tasks[i] || selectValues(this.tasks[i] as Task) === selectValues(tasks[i] as Task));
    const selects = keepSelects && this.selects ? this.selects.html : listSelects(tasks, board);
    this.selects = { key, html: selects };
    if (changed === undefined || this.order === undefined) this.order = fullOrder(rows);
    else this.order = moved(this.order, this.rows, rows, changed);
    this.rows = rows;
    this.tasks = tasks;
    return { selects, first: this.order.slice(0, PAGE_SIZE).map((i) => rows[i] as TaskRow) };
  }
}

function fullOrder(rows: readonly TaskRow[]): number[] {
  const order: number[] = [];
  rows.forEach((r, i) => { if (!r.archived) order.push(i); });
  return order.sort((a, b) => openWorkCompare(rows[a] as TaskRow, a, rows[b] as TaskRow, b));
}

/** The order with the changed rows whose key changed taken out and put back where they now belong. */
function moved(order: number[], before: readonly TaskRow[], rows: readonly TaskRow[], changed: readonly number[]): number[] {
  const moving = changed.filter((i) => before[i] !== rows[i] && orderKey(before[i] as TaskRow) !== orderKey(rows[i] as TaskRow));
  if (moving.length === 0) return order;
  const gone = new Set(moving);
  const out = order.filter((i) => !gone.has(i));
  for (const i of moving) {
    const r = rows[i] as TaskRow;
    if (r.archived) continue;
    let lo = 0;
    let hi = out.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const j = out[mid] as number;
      if (openWorkCompare(rows[j] as TaskRow, j, r, i) < 0) lo = mid + 1;
      else hi = mid;
    }
    out.splice(lo, 0, i);
  }
  return out;
}
