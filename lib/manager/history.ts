// Run and tick history (issue 20): scaffold, filled in by the history work.
import type { HistoryData } from './fleet-events.ts';
import type { TickObserver } from './tick.ts';

export interface HistoryOptions {
  readonly owner: string;
  readonly dir: string;
  /** This machine's name, or the shared registry's host name. */
  readonly host: string;
  readonly log: (line: string) => void;
  readonly now: () => Date;
}

/** The observer that records ticks and runs; undefined while not built. */
export function historyObserver(_o: HistoryOptions): TickObserver | undefined {
  return undefined;
}

/** The runs and ticks recorded for owner in dir since a time (runs still running come from the snapshot). Scaffold: nothing yet. */
export function readHistory(_o: { readonly dir: string; readonly owner: string; readonly since: Date; readonly now: Date }): HistoryData {
  return { runs: [], ticks: [] };
}
