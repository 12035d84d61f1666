// The dashboard with a shared PostgreSQL registry: every host's claims with their host, a remote run's log, the unreachable database on the page and in /api/health, and never the password.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import getPort from 'get-port';
import pg from 'pg';
import { alive, cli, cliEnv, pidsMentioning, readPid, runtimeFile, serveBare, stopServe, waitUntil, waitUntilAsync, withTempFolder } from './helpers.ts';
import { type Pg, pgSkip, withPostgres } from './pg.ts';

const SECRET = 'Pw-s3cret-9k4w';

function secretUrl(p: Pg): string {
  return `postgres://postgres:${SECRET}@${p.host}:${p.port}/${p.db}`;
}

async function sql(p: Pg, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: p.url });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

/** A running claim of another host on the folder's task, as that host's heartbeat writes it (registry-pg-schema.ts). */
async function insertForeignClaim(p: Pg, queue: string, id: string): Promise<void> {
  await waitUntilAsync(async () => (await sql(p, "SELECT to_regclass('tasks_claims') AS t")).rows[0]?.t ?? undefined, 'the schema to be migrated');
  const now = new Date().toISOString();
  const claim = {
    id, slug: id, path: `${id}.md`, claimedBy: 'far-owner', claimedAt: now, startedAt: now, worktree: `/elsewhere/.worktrees/${id}`,
    pid: 4242, pidStart: null, state: 'running', exitCode: null, endedAt: null, log: `/elsewhere/runs/${id}.log`, runId: 'far-run-2',
  };
  await sql(p, `INSERT INTO tasks_claims (queue, task_id, host, owner, pid, run_id, claimed_at, started_at, claim, renewed_at, lease_until, interval_s)
     VALUES ($1, $2, 'other-host', 'far-owner', 4242, 'far-run-2', now(), now(), $3, now(), now() + interval '10 minutes', 30)`, [queue, id, claim]);
}

async function text(url: string): Promise<string> {
  return (await fetch(url)).text();
}

test('the server reads the shared registry in the background: another host\'s claim shows with its host between ticks, and goes when its row goes', { skip: pgSkip }, async () => {
  await withPostgres(async (p) => {
    await withTempFolder('pgpoll', async (t) => {
      const env = cliEnv({ TASK_MANAGER_HOST: 'host-a' });
      const url = secretUrl(p);
      // No heartbeat ticks here: a snapshot written once, so only the server's own reads can show a claim.
      const migrate = await cli(['status', `owner=${t.owner}`, `dir=${t.dir}`, 'queue=poll-q'], { env: { ...env, TASK_MANAGER_REGISTRY: url } });
      assert.equal(migrate.code, 3, migrate.stdout + migrate.stderr);
      const now = new Date().toISOString();
      fs.mkdirSync(runtimeFile(t.dir, t.owner, 'x').replace(/\/[^/]*$/, ''), { recursive: true });
      fs.writeFileSync(runtimeFile(t.dir, t.owner, 'snapshot.json'), JSON.stringify({
        owner: t.owner, pid: 99999, dir: t.dir, tick: 1, tickAt: now, tickDurationMs: 1, interval: 600, nextTickAt: now, taskCount: 1,
        counts: { ready: 1, total: 1 }, ready: [], claims: [], escalations: [], errors: [], registry: { kind: 'postgres', where: 'postgres://postgres:***@x/y', queue: 'poll-q' },
      }));
      // The operator's way to keep the password out of the process list: the URL in the environment.
      const { s, base } = await serveBare(t, ['queue=poll-q'], { ...env, TASK_MANAGER_REGISTRY: url });
      try {
        assert.doesNotMatch(fs.readFileSync(`/proc/${s.child.pid}/cmdline`, 'utf8'), new RegExp(SECRET));
        await insertForeignClaim(p, 'poll-q', 'FIRST-TASK');
        const page = await waitUntilAsync(async () => { const h = await text(`${base}/`); return h.includes('<td>other-host</td>') ? h : undefined; }, 'the claim of other-host on the index');
        assert.match(page, /<th>Task<\/th><th>Host<\/th><th>Owner<\/th>/);
        assert.doesNotMatch(page, new RegExp(SECRET));
        await sql(p, 'DELETE FROM tasks_claims WHERE queue = $1', ['poll-q']);
        await waitUntilAsync(async () => !(await text(`${base}/`)).includes('other-host') || undefined, 'the released claim to leave the index');
      } finally {
        await stopServe(s);
      }
      assert.doesNotMatch(s.output(), new RegExp(SECRET));
    });
  });
});

test('serve with a shared registry: the host on the task page, a remote run\'s log, the database down in /api/health and on the index, and never the password', { skip: pgSkip }, async () => {
  await withPostgres(async (p) => {
    await withTempFolder('pgweb', async (t) => {
      const env = cliEnv({ TASK_MANAGER_HOST: 'host-a' });
      const url = secretUrl(p);
      const port = await getPort({ host: '127.0.0.1' });
      const keys = [`owner=${t.owner}`, `dir=${t.dir}`, 'queue=web-q'];
      // The URL (with its password) in the environment: on the command line a password is refused.
      const served = await cli(['serve', '--detach', ...keys, 'interval=1', `port=${port}`], { env: { ...env, TASK_MANAGER_REGISTRY: url }, timeoutMs: 60_000 });
      assert.equal(served.code, 0, served.stdout + served.stderr);
      t.extra.push(...pidsMentioning(t.root));
      assert.doesNotMatch(served.stdout + served.stderr, new RegExp(SECRET));
      // Neither the detached server nor its heartbeat carries the password in its command line.
      const pids = pidsMentioning(t.root);
      assert.ok(pids.length >= 2, `the server and the heartbeat: ${pids.join(',')}`);
      for (const pid of pids) assert.doesNotMatch(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'), new RegExp(SECRET), `pid ${pid}`);
      const base = `http://127.0.0.1:${port}`;

      await insertForeignClaim(p, 'web-q', 'FIRST-TASK');
      const log = await waitUntilAsync(async () => {
        const r = await fetch(`${base}/api/tasks/FIRST-TASK/log`);
        const body = await r.json() as { host?: string; error?: string };
        return r.status === 404 && body.host === 'other-host' ? body : undefined;
      }, 'the run log route to name the other host');
      assert.equal(log.error, 'task FIRST-TASK is held by host other-host: its run log is /elsewhere/runs/FIRST-TASK.log on that host');
      const taskPage = await waitUntilAsync(async () => { const h = await text(`${base}/tasks/FIRST-TASK.html`); return h.includes('<dt>Host</dt><dd>other-host</dd>') ? h : undefined; }, 'the task page to show the host');
      assert.doesNotMatch(taskPage, new RegExp(SECRET));
      const healthy = await fetch(`${base}/api/health`);
      const h1 = await healthy.json() as { ok: boolean; registry?: { where: string } };
      assert.equal(healthy.status, 200, JSON.stringify(h1));
      assert.match(h1.registry?.where ?? '', /^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:/);

      await p.down();
      try {
        const down = await waitUntilAsync(async () => {
          const r = await fetch(`${base}/api/health`);
          const body = await r.json() as { ok: boolean; reason?: string };
          return r.status === 503 && body.reason ? body : undefined;
        }, '/api/health to answer 503 while the database is down', 60_000);
        assert.match(down.reason ?? '', /^registry unreachable since [0-9-]+T/);
        const index = await waitUntilAsync(async () => { const h = await text(`${base}/`); return h.includes('id="registry-alert"') ? h : undefined; }, 'the index to show the unreachable registry');
        assert.match(index, /The shared registry postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:[0-9]+\/[a-z_0-9]+ is unreachable since/);
        for (const body of [index, JSON.stringify(down), await text(`${base}/api/snapshot`)]) assert.doesNotMatch(body, new RegExp(SECRET));
      } finally {
        await p.up();
      }
      const hb = readPid(runtimeFile(t.dir, t.owner, 'heartbeat.pid'));
      const stop = await cli(['stop', ...keys], { env });
      assert.equal(stop.code, 0, stop.stdout + stop.stderr);
      if (hb !== undefined) await waitUntil(() => !alive(hb) || undefined, 'the heartbeat to stop');
      for (const suffix of ['heartbeat.log', 'server.log']) {
        const file = runtimeFile(t.dir, t.owner, suffix);
        if (fs.existsSync(file)) assert.doesNotMatch(fs.readFileSync(file, 'utf8'), new RegExp(SECRET), suffix);
      }
    });
  });
});
