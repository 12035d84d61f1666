// The shared registry's store against a real PostgreSQL: a claim taken over in one update gets a lease of its own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { PgStore } from '../lib/manager/registry-pg.ts';
import { type Claim, release } from '../lib/manager/registry.ts';
import { pgSkip, withPostgres } from './pg.ts';

function claimOf(id: string, owner: string, at: string, runId: string): Claim {
  return { id, slug: id, path: `${id}.md`, claimedBy: owner, claimedAt: at, startedAt: at, worktree: `/w/${id}`, pid: null, pidStart: null, state: 'running', exitCode: null, endedAt: null, log: null, runId };
}

test('a claim that replaces an expired one (a takeover) is a new row with a fresh lease, so no third host takes the task over again', { skip: pgSkip }, async () => {
  await withPostgres(async (db) => {
    const b = new PgStore({ url: db.url, queue: 'q', host: 'host-b', renew: { owner: 'ob', leaseS: 60, intervalS: 1 } });
    const client = new pg.Client({ connectionString: db.url });
    try {
      await b.ready();
      await client.connect();
      // Host a's claim, its lease long run out (a was killed).
      const old = claimOf('T1', 'oa', '2026-01-01T00:00:00.000Z', 'run-a');
      await client.query(`INSERT INTO tasks_claims (queue, task_id, host, owner, pid, run_id, claimed_at, started_at, claim, renewed_at, lease_until, interval_s)
        VALUES ('q', 'T1', 'host-a', 'oa', NULL, 'run-a', now() - interval '1 hour', now() - interval '1 hour', $1, now() - interval '1 hour', now() - interval '50 minutes', 1)`, [old]);
      const seen = await b.peek();
      assert.equal(seen.claims['T1']?.leaseExpired, true);
      // b takes it over in one update: a's claim to the history, b's in its place.
      await b.update((r) => {
        release(r, 'T1', 'taken over', new Date());
        r.claims['T1'] = { ...claimOf('T1', 'ob', new Date().toISOString(), 'run-b'), host: 'host-b' };
      });
      const row = (await client.query<{ host: string; run_id: string; live: boolean }>("SELECT host, run_id, lease_until > now() AS live FROM tasks_claims WHERE queue = 'q' AND task_id = 'T1'")).rows[0];
      assert.deepEqual(row, { host: 'host-b', run_id: 'run-b', live: true }, 'the new claim carried the old holder\'s expired lease');
      const again = await b.peek();
      assert.equal(again.claims['T1']?.leaseExpired, false);
    } finally {
      await client.end().catch(() => undefined);
      await b.close();
    }
  });
});
