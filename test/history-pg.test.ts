// History with a shared registry: the runs and ticks also go to the database's tables, once each across restarts; `history` reads them there.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { cli, cliEnv, runtimeFile, waitUntilAsync, withTempFolder } from './helpers.ts';
import { pgSkip, withPostgres } from './pg.ts';
import type { RunRecord, TickRecord } from '../lib/manager/fleet-events.ts';
import { PgHistory } from '../lib/manager/history-pg.ts';

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

test('the database keeps history bounded as the file does: old ticks downsampled, a run once, nothing older than a year', { skip: pgSkip }, async () => {
  await withPostgres(async (p) => {
    const now = Date.now();
    const h = new PgHistory({ url: p.url, queue: 'q', host: 'h1', owner: 'o1' });
    const other = new PgHistory({ url: p.url, queue: 'q', host: 'h2', owner: 'o1' });
    try {
      const ticks: TickRecord[] = [];
      for (let at = now - 10 * 86_400_000; at < now - 60_000; at += 30_000) ticks.push({ at: new Date(at).toISOString(), counts: { total: 1 }, ready: 1, running: 0, escalations: 0 });
      for (let i = 0; i < ticks.length; i += 2000) await h.write(ticks.slice(i, i + 2000), []);
      await other.write(ticks.slice(0, 10), []);
      const run = (i: number, endMs: number): RunRecord => ({ id: `T${i}`, slug: `T${i}`, host: 'h1', owner: 'o1', start: new Date(endMs - 1000).toISOString(), end: new Date(endMs).toISOString(), exit: 0, durationS: 1, outcome: 'success', key: `run:${i}` });
      await h.write([], [run(1, now - 400 * 86_400_000), run(2, now - 3600_000), run(2, now - 3600_000)]);
      await other.write([], [run(2, now - 3600_000), run(3, now - 60_000)]);
      await h.compact(new Date(now));
      const got = await h.read(new Date(now - 400 * 86_400_000));
      assert.ok(got.ticks.length > 2880 + 1728 + 60 && got.ticks.length < 2880 + 1728 + 90, `${got.ticks.length} tick records`);
      assert.equal(got.ticks.reduce((n, t) => n + (t.n ?? 1), 0), ticks.length);
      assert.deepEqual(got.runs.map((r) => r.key), ['run:2', 'run:3'], 'the queue\'s runs, each once, none older than a year');
      // Another host's ticks are its own: not compacted by this host, not read as this host's.
      assert.equal((await other.read(new Date(0))).ticks.length, 10);
    } finally {
      await h.close();
      await other.close();
    }
  });
});
