// History with a shared registry: the runs and ticks also go to the database's tables, once each across restarts; `history` reads them there.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { cli, cliEnv, runtimeFile, waitUntilAsync, withTempFolder } from './helpers.ts';
import { pgSkip, withPostgres } from './pg.ts';

function task(id: string): string {
  return `---\nid: ${id}\ntitle: Task ${id}\nstatus: ready\npriority: p1\n---\nBody.\n`;
}

test('a shared registry: runs and ticks go to the database, a restarted heartbeat adds no run twice, history reads them there', { skip: pgSkip }, async () => {
  await withPostgres(async (p) => {
    await withTempFolder('histpg', async (t) => {
      fs.rmSync(path.join(t.dir, 'FIRST-TASK.md'));
      for (const id of ['A', 'B']) fs.writeFileSync(path.join(t.dir, `${id}.md`), task(id));
      const script = path.join(t.root, 'run.sh');
      // A marks its task done (its claim is released as it ends); B fails.
      fs.writeFileSync(script, '#!/bin/sh\nif [ "$TASK_ID" = A ]; then sed "s/^status: ready/status: done/" "$TASK_FILE" > "$TASK_FILE.new" && mv "$TASK_FILE.new" "$TASK_FILE"; exit 0; fi\nexit 3\n', { mode: 0o755 });
      const env = cliEnv({ TASK_MANAGER_HOST: 'host-a', TASK_MANAGER_REGISTRY: p.url });
      const keys = [`owner=${t.owner}`, `dir=${t.dir}`, 'queue=hist-q'];
      const start = ['ensure', ...keys, 'interval=0.3', 'max=2', `dispatch=${script}`, 'worktrees=off'];
      const db = new pg.Client({ connectionString: p.url });
      try {
        const first = await cli(start, { env });
        assert.equal(first.code, 0, first.stdout + first.stderr);
        await db.connect();
        const runRows = async (): Promise<Record<string, unknown>[]> => {
          try {
            return (await db.query<{ record: Record<string, unknown> }>("SELECT record FROM tasks_run_history WHERE queue = 'hist-q' ORDER BY task_id")).rows.map((r) => r.record);
          } catch {
            return []; // the table is made by the heartbeat's first write
          }
        };
        const tickRows = async (): Promise<number> => Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM tasks_tick_history WHERE queue = 'hist-q' AND host = 'host-a'")).rows[0]?.n ?? 0);
        const runs = await waitUntilAsync(async () => { const r = await runRows(); return r.length >= 2 ? r : undefined; }, 'two run rows');
        assert.deepEqual(runs.map((r) => [r.id, r.outcome, r.exit, r.host, r.owner]), [['A', 'success', 0, 'host-a', t.owner], ['B', 'failed', 3, 'host-a', t.owner]]);
        // Stopped and started again: B's ended claim and A's release are seen again, and not added again.
        const stop1 = await cli(['stop', ...keys], { env });
        assert.equal(stop1.code, 0, stop1.stdout + stop1.stderr);
        const before = await tickRows();
        const again = await cli(start, { env });
        assert.equal(again.code, 0, again.stdout + again.stderr);
        await waitUntilAsync(async () => (await tickRows()) >= before + 5, 'five more tick rows after the restart');
        const stop2 = await cli(['stop', ...keys], { env });
        assert.equal(stop2.code, 0, stop2.stdout + stop2.stderr);
        assert.equal((await runRows()).length, 2);
        // The same runs are in the host's own file.
        const file = fs.readFileSync(runtimeFile(t.dir, t.owner, 'runs.jsonl'), 'utf8').trim().split('\n');
        assert.equal(file.length, 2);
        const h = await cli(['history', ...keys, '--json'], { env });
        assert.equal(h.code, 0, h.stderr);
        const doc = JSON.parse(h.stdout) as { runs: Record<string, unknown>[]; ticks: unknown[] };
        assert.deepEqual(doc.runs.map((r) => r.key).sort(), runs.map((r) => r.key).sort());
        assert.equal(doc.ticks.length, await tickRows());
      } finally {
        await db.end().catch(() => undefined);
        await cli(['stop', ...keys], { env });
      }
    });
  });
});
