// The index's Fleet section: the run timeline, throughput, status flow and run durations, drawn as inline SVG from the heartbeat's history at build time (the page's script only keeps them live).
import type { HistoryData } from '../../manager/fleet-events.ts';
import { STATUS_ORDER } from '../../tasks/model.ts';
import { esc } from '../client/rows.ts';
import { timelineFigure } from '../client/charts-timeline.ts';
import type { TaskRef } from './html.ts';
import { durationFigure } from './charts-duration.ts';
import { flowFigure } from './charts-flow.ts';
import { throughputFigure } from './charts-throughput.ts';

/** The history the section shows: the records, or why they could not be read; undefined: the site has no history to show (an empty, hidden section). */
export type FleetHistory = HistoryData | { readonly error: string } | undefined;

export interface FleetInput {
  readonly history: FleetHistory;
  readonly now: Date;
  /** Task pages by id: a bar links to its task's page. */
  readonly refs: ReadonlyMap<string, TaskRef>;
  /** The statuses in lifecycle order (the counts' order); statuses only the history knows come after. */
  readonly order: readonly string[];
  /** A status in the folder's own word. */
  readonly word: (status: string) => string;
}

/** The section; hidden and empty without a history to show (the navigation's link to it is hidden too). */
export function renderFleet(p: FleetInput): string {
  const h = p.history;
  if (h === undefined) return '<section id="fleet" hidden></section>';
  const head = '<section id="fleet"><h2>Fleet</h2>';
  if ('error' in h) return `${head}<p class="alert">The run history could not be read: ${esc(h.error)}</p></section>`;
  const now = p.now.getTime();
  const hrefOf = (id: string): string | null => {
    const ref = p.refs.get(id);
    return ref === undefined ? null : `tasks/${ref.page}.html`;
  };
  const order = [...new Set([...p.order.filter((s) => s !== 'total'), ...STATUS_ORDER])];
  const note = h.runs.length + h.ticks.length === 0 ? '<p class="none">The heartbeat has recorded no runs or ticks yet.</p>' : '';
  return `${head}${note}<div class="charts">${timelineFigure(h.runs, now, hrefOf)}${throughputFigure(h.runs, now)}`
    + `${flowFigure(h.ticks, now, order, p.word)}${durationFigure(h.runs, now)}</div></section>`;
}
