// The history observer's side for a shared registry: ticks and runs sent to the database in the background, one batch at a time, never holding a tick.
import type { RunRecord, TickRecord } from './fleet-events.ts';
import type { PgHistory } from './history-pg.ts';

/** Most records waiting for the database (it is away or slow): the oldest ticks go first; runs are kept longest. */
const WAITING_MAX = 1000;
/** How often the database's history is compacted (and once at start), as the files are. */
const COMPACT_EVERY_MS = 60 * 60_000;
/** How long close() waits for a batch under way. */
const CLOSE_WAIT_MS = 3000;

export interface SharedRecorderOptions {
  readonly url: string;
  readonly queue: string;
  readonly host: string;
  readonly owner: string;
  readonly log: (line: string) => void;
  readonly now: () => Date;
}

/**
 * Sends each tick's records to the database: add() returns at once; one batch is in flight at a
 * time and what comes meanwhile waits for the next. A run reaches the table once whatever is sent
 * twice (its key is the primary key), so every ended run a restarted heartbeat sees is sent again.
 * A database that fails costs tick records (the runs wait, up to WAITING_MAX) and one log line
 * until it works again. pg is loaded on first use.
 */
export function sharedRecorder(o: SharedRecorderOptions): { add(tick: TickRecord, runs: readonly RunRecord[]): void; close(): Promise<void> } {
  let db: Promise<PgHistory> | undefined;
  let ticks: TickRecord[] = [];
  let runs: RunRecord[] = [];
  let flowing: Promise<void> | undefined;
  let compactedAt = -Infinity;
  let failed: string | undefined;
  const store = (): Promise<PgHistory> => (db ??= import('./history-pg.ts').then(({ PgHistory: P }) => new P({ url: o.url, queue: o.queue, host: o.host, owner: o.owner })));

  const flow = async (): Promise<void> => {
    while (ticks.length || runs.length) {
      const [t, r] = [ticks, runs];
      ticks = [];
      runs = [];
      try {
        const h = await store();
        const now = o.now();
        if (now.getTime() - compactedAt >= COMPACT_EVERY_MS) {
          compactedAt = now.getTime();
          await h.compact(now);
        }
        await h.write(t, r);
        if (failed !== undefined) o.log(`${o.now().toISOString()} history: the database takes records again`);
        failed = undefined;
      } catch (err) {
        runs = [...r, ...runs].slice(-WAITING_MAX);
        const why = err instanceof Error ? err.message : String(err);
        if (failed !== why) o.log(`${o.now().toISOString()} history: the database did not take records (tick records dropped, runs kept for the next try): ${why}`);
        failed = why;
        return;
      }
    }
  };

  return {
    add(tick, ended) {
      ticks.push(tick);
      if (ticks.length > WAITING_MAX) ticks.shift();
      runs.push(...ended);
      if (runs.length > WAITING_MAX) runs = runs.slice(-WAITING_MAX);
      flowing ??= flow().finally(() => {
        flowing = undefined;
      });
    },
    async close() {
      if (flowing) await Promise.race([flowing, new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref())]);
      if (db) await (await db).close();
    },
  };
}
