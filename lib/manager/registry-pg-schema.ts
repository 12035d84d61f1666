// The shared registry's schema: numbered migrations, applied once under an advisory lock however many heartbeats start together.
import type pg from 'pg';
import { TasksError } from '../base/errors.ts';

/** The advisory lock key every migration takes (any constant of our own). */
const MIGRATION_LOCK = 0x7461736b73; // "tasks"

/** Each entry brings the schema from its index to the next version; never edit one that has shipped, add another. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE tasks_claims (
     queue text NOT NULL,
     task_id text NOT NULL,
     host text NOT NULL,
     owner text NOT NULL,
     pid integer,
     run_id text,
     claimed_at timestamptz NOT NULL,
     started_at timestamptz,
     claim jsonb NOT NULL,
     renewed_at timestamptz NOT NULL,
     lease_until timestamptz NOT NULL,
     interval_s double precision NOT NULL,
     PRIMARY KEY (queue, task_id)
   );
   CREATE TABLE tasks_holds (
     queue text NOT NULL,
     task_id text NOT NULL,
     since text NOT NULL,
     held_by text NOT NULL,
     PRIMARY KEY (queue, task_id)
   );
   CREATE TABLE tasks_history (
     seq bigserial PRIMARY KEY,
     queue text NOT NULL,
     task_id text NOT NULL,
     released jsonb NOT NULL
   );
   CREATE INDEX tasks_history_queue ON tasks_history (queue, seq);`,
];

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the schema to SCHEMA_VERSION in one transaction under a transaction-scoped advisory lock:
 * eight heartbeats starting together run each migration once; a database from a newer build
 * (a higher version) is refused rather than written with an older idea of its rows.
 */
export async function migrate(c: pg.PoolClient): Promise<void> {
  await c.query('BEGIN');
  try {
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query('CREATE TABLE IF NOT EXISTS tasks_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const got = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM tasks_schema');
    const have = got.rows[0]?.v ?? 0;
    if (have > SCHEMA_VERSION) throw new TasksError(`the registry's schema is version ${have}, newer than this build's ${SCHEMA_VERSION}; update tasks on this host`);
    for (let v = have; v < SCHEMA_VERSION; v++) {
      await c.query(MIGRATIONS[v] as string);
      await c.query('INSERT INTO tasks_schema (version) VALUES ($1)', [v + 1]);
    }
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
