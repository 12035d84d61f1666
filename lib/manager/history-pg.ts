// History in the shared registry's database (registry=postgres://…): every host's runs of the queue in one table, each host's ticks beside them, bounded like the files.
import type pg from 'pg';
import type { RunRecord, TickRecord } from './fleet-events.ts';
import { RUNS_MAX, RUNS_MAX_AGE_MS, compactTicks } from './history-compact.ts';
import { parseRun, parseTick } from './history-file.ts';
import { newPool, withPoolClient } from './registry-pg.ts';

/**
 * The tables, made when missing (not a numbered migration of the registry: an older build on
 * another host, which knows nothing of history, must not be refused for a schema it does not use).
 * A run's key is its primary key, so a run is one row whoever records it, however often.
 */
const TABLES = `
  CREATE TABLE IF NOT EXISTS tasks_run_history (
    queue text NOT NULL,
    run_key text NOT NULL,
    task_id text NOT NULL,
    host text NOT NULL,
    owner text NOT NULL,
    at timestamptz NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (queue, run_key)
  );
  CREATE INDEX IF NOT EXISTS tasks_run_history_at ON tasks_run_history (queue, at);
  CREATE TABLE IF NOT EXISTS tasks_tick_history (
    queue text NOT NULL,
    host text NOT NULL,
    owner text NOT NULL,
    at timestamptz NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (queue, host, owner, at)
  );`;

/** Runs kept per queue: every host's, so more than one host's file keeps. */
export const QUEUE_RUNS_MAX = 10 * RUNS_MAX;

export interface PgHistoryOptions {
  readonly url: string;
  readonly queue: string;
  readonly host: string;
  readonly owner: string;
}

/** One host's history in the shared database: writes of its own ticks and runs, reads of the queue's runs and its own ticks. */
export class PgHistory {
  private readonly pool: pg.Pool;
  private made: Promise<void> | undefined;

  constructor(private readonly o: PgHistoryOptions) {
    // One connection, short deadlines: history waits for nothing and holds nothing.
    this.pool = newPool(o.url, 1, 5000, 'tasks-history');
  }

  /** Appends tick and run records; a run already recorded (by this host before a restart, or ever) is left as it is. */
  async write(ticks: readonly TickRecord[], runs: readonly RunRecord[]): Promise<void> {
    if (ticks.length === 0 && runs.length === 0) return;
    await this.client(async (c) => {
      for (const r of runs) {
        await c.query('INSERT INTO tasks_run_history (queue, run_key, task_id, host, owner, at, record) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING',
          [this.o.queue, r.key, r.id, r.host, r.owner, r.end ?? r.start, r]);
      }
      for (const t of ticks) {
        await c.query('INSERT INTO tasks_tick_history (queue, host, owner, at, record) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
          [this.o.queue, this.o.host, this.o.owner, t.at, t]);
      }
    });
  }

  /**
   * Downsamples this host's ticks as the file's are (every tick older than a day is read; only the
   * rows a merge removes are deleted and the records that took them in updated, a few an hour) and
   * drops what is past the caps: ticks and runs older than a year, runs past QUEUE_RUNS_MAX in the
   * queue. One transaction.
   */
  async compact(now: Date): Promise<void> {
    const day = new Date(now.getTime() - 86_400_000);
    const oldest = new Date(now.getTime() - RUNS_MAX_AGE_MS);
    const mine = [this.o.queue, this.o.host, this.o.owner];
    await this.client(async (c) => {
      await c.query('BEGIN');
      try {
        await c.query('DELETE FROM tasks_tick_history WHERE queue = $1 AND host = $2 AND owner = $3 AND at < $4', [...mine, oldest]);
        const rows = await c.query<{ record: unknown }>('SELECT record FROM tasks_tick_history WHERE queue = $1 AND host = $2 AND owner = $3 AND at < $4 ORDER BY at', [...mine, day]);
        const ticks = rows.rows.map((r) => parseTick(JSON.stringify(r.record))).filter((t): t is TickRecord => t !== undefined);
        // A merged record keeps its last tick's time: it is that tick's row, with the n of its span.
        const kept = new Map(compactTicks(ticks, now).map((t) => [t.at, t]));
        const gone = ticks.filter((t) => !kept.has(t.at)).map((t) => t.at);
        if (gone.length) await c.query('DELETE FROM tasks_tick_history WHERE queue = $1 AND host = $2 AND owner = $3 AND at = ANY($4::timestamptz[])', [...mine, gone]);
        for (const t of ticks) {
          const k = kept.get(t.at);
          if (k && (k.n ?? 1) !== (t.n ?? 1)) await c.query('UPDATE tasks_tick_history SET record = $5 WHERE queue = $1 AND host = $2 AND owner = $3 AND at = $4', [...mine, t.at, k]);
        }
        await c.query('DELETE FROM tasks_run_history WHERE queue = $1 AND at < $2', [this.o.queue, oldest]);
        await c.query(`DELETE FROM tasks_run_history WHERE queue = $1 AND at < (SELECT min(at) FROM (SELECT at FROM tasks_run_history WHERE queue = $1 ORDER BY at DESC LIMIT ${QUEUE_RUNS_MAX}) kept)`, [this.o.queue]);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** The queue's runs (every host's) that ended since a time, and this host's ticks of this owner, oldest first. */
  async read(since: Date): Promise<{ runs: RunRecord[]; ticks: TickRecord[] }> {
    return this.client(async (c) => {
      const runs = await c.query<{ record: unknown }>('SELECT record FROM tasks_run_history WHERE queue = $1 AND at >= $2 ORDER BY at, run_key', [this.o.queue, since]);
      const ticks = await c.query<{ record: unknown }>('SELECT record FROM tasks_tick_history WHERE queue = $1 AND host = $2 AND owner = $3 AND at >= $4 ORDER BY at', [this.o.queue, this.o.host, this.o.owner, since]);
      return {
        runs: runs.rows.map((r) => parseRun(JSON.stringify(r.record))).filter((r): r is RunRecord => r !== undefined),
        ticks: ticks.rows.map((r) => parseTick(JSON.stringify(r.record))).filter((t): t is TickRecord => t !== undefined),
      };
    });
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }

  /** fn with a client, the tables made first (once per store, under an advisory lock so hosts starting together make them once); an unreachable database is one line. */
  private client<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return withPoolClient(this.pool, this.o.url, async (c) => {
      this.made ??= makeTables(c).catch((err: unknown) => {
        this.made = undefined;
        throw err;
      });
      await this.made;
      return fn(c);
    });
  }
}

async function makeTables(c: pg.PoolClient): Promise<void> {
  await c.query('BEGIN');
  try {
    await c.query("SELECT pg_advisory_xact_lock(hashtextextended('tasks:history-tables', 7))");
    await c.query(TABLES);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
