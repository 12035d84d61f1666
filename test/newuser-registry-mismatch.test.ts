// A new user follows operations.md "Several hosts": registry= on serve/ensure only. A later `status` or
// `release` typed without registry= must not silently read and write registry.json beside a heartbeat
// that keeps its claims in PostgreSQL (it said "had no claim" while the run went on).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { alive, cli, cliEnv, readPid, runtimeFile, waitUntilAsync, withTempFolder } from './helpers.ts';
import { pgSkip, withPostgres } from './pg.ts';

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

test('status and release without registry= beside a heartbeat on a shared registry: they see its claims, or refuse naming registry=', { skip: pgSkip }, async () => {
  await withPostgres(async (p) => {
    await withTempFolder('nu-regmis', async (t) => {
      const keys = [`owner=${t.owner}`, `dir=${t.dir}`, 'queue=nu-q'];
      const shared = cliEnv({ TASK_MANAGER_HOST: 'host-a', TASK_MANAGER_REGISTRY: p.url });
      const e = await cli(['ensure', ...keys, 'interval=1'], { env: shared });
      assert.equal(e.code, 0, e.stdout + e.stderr);
      const hb = readPid(runtimeFile(t.dir, t.owner, 'heartbeat.pid'));
      assert.ok(hb !== undefined && alive(hb));
      t.extra.push(hb);
      await waitUntilAsync(async () => (await query<{ t: string | null }>(p.url, "SELECT to_regclass('tasks_claims') AS t"))[0]?.t ?? undefined, 'the schema to be migrated');
      // Another host's running claim on FIRST-TASK (the row a heartbeat writes), so this host does not run it.
      const now = new Date().toISOString();
      const claim = { id: 'FIRST-TASK', slug: 'FIRST-TASK', path: 'FIRST-TASK.md', claimedBy: 'far', claimedAt: now, startedAt: now, worktree: '/elsewhere/.worktrees/FIRST-TASK',
        pid: 999999, pidStart: null, state: 'running', exitCode: null, endedAt: null, log: '/elsewhere/runs/FIRST-TASK.log', runId: 'far-run-1' };
      await query(p.url, `INSERT INTO tasks_claims (queue, task_id, host, owner, pid, run_id, claimed_at, started_at, claim, renewed_at, lease_until, interval_s)
        VALUES ($1, 'FIRST-TASK', 'other-host', 'far', 999999, 'far-run-1', now(), now(), $2, now(), now() + interval '10 minutes', 30)
        ON CONFLICT DO NOTHING`, ['nu-q', claim]);

      // The operator's next commands, typed without registry= (the docs show it on serve only).
      const plain = cliEnv({ TASK_MANAGER_HOST: 'host-a' });
      const s = await cli(['status', ...keys], { env: plain });
      assert.match(s.stdout + s.stderr, /FIRST-TASK|registry/, `status shows neither the shared claim nor the registry:\n${s.stdout}${s.stderr}`);

      const r = await cli(['release', 'id=FIRST-TASK', ...keys], { env: plain });
      const rows = await query<{ task_id: string }>(p.url, 'SELECT task_id FROM tasks_claims WHERE queue = $1', ['nu-q']);
      if (r.code === 0) {
        assert.deepEqual(rows, [], `release said it worked, but the shared claim is still there:\n${r.stdout}${r.stderr}`);
      } else {
        assert.match(r.stderr, /registry/, r.stderr);
        assert.equal(fs.existsSync(path.join(t.dir, 'logs', 'task_manager', 'registry.json')), false, 'a refused release wrote registry.json');
      }
    });
  });
});
