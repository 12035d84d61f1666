// The command line with a shared PostgreSQL registry: a database that is down starts nothing, a password is never shown, every host's claims are seen and released.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { test } from 'node:test';
import getPort from 'get-port';
import pg from 'pg';
import { alive, cli, cliEnv, listTree, makeRepo, pidsMentioning, readPid, runtimeFile, waitUntil, waitUntilAsync, withTempFolder } from './helpers.ts';
import { type Pg, pgSkip, withPostgres } from './pg.ts';

const SECRET = 'Pw-s3cret-7f2q';

/** The URL with a password in it: trust auth ignores the password, so it only has to stay hidden. */
function secretUrl(p: Pg): string {
  return `postgres://postgres:${SECRET}@${p.host}:${p.port}/${p.db}`;
}

/** A claim row as another host's heartbeat writes it (the tables of registry-pg-schema.ts). */
async function insertForeignClaim(p: Pg, queue: string, id: string, pid: number): Promise<void> {
  const client = new pg.Client({ connectionString: p.url });
  await client.connect();
  try {
    // The heartbeat migrates the schema at its first tick.
    await waitUntilAsync(async () => (await client.query<{ t: string | null }>("SELECT to_regclass('tasks_claims') AS t")).rows[0]?.t ?? undefined, 'the schema to be migrated');
    const now = new Date().toISOString();
    const claim = {
      id, slug: id, path: `${id}.md`, claimedBy: 'far-owner', claimedAt: now, startedAt: now, worktree: `/elsewhere/.worktrees/${id}`,
      pid, pidStart: null, state: 'running', exitCode: null, endedAt: null, log: `/elsewhere/tasks/logs/task_manager/runs/${id}.log`, runId: 'far-run-1',
    };
    await client.query(
      `INSERT INTO tasks_claims (queue, task_id, host, owner, pid, run_id, claimed_at, started_at, claim, renewed_at, lease_until, interval_s)
       VALUES ($1, $2, 'other-host', 'far-owner', $3, 'far-run-1', now(), now(), $4, now(), now() + interval '10 minutes', 30)`,
      [queue, id, pid, claim]);
  } finally {
    await client.end();
  }
}

async function claimRows(p: Pg, queue: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: p.url });
  await client.connect();
  try {
    return (await client.query<{ task_id: string }>('SELECT task_id FROM tasks_claims WHERE queue = $1 ORDER BY task_id', [queue])).rows.map((r) => r.task_id);
  } finally {
    await client.end();
  }
}

test('ensure and serve with a database that is down: one line naming host and port, exit 1, nothing started or written', async () => {
  await withTempFolder('pgdown', async (t) => {
    const port = await getPort({ host: '127.0.0.1' });
    const url = `postgres://postgres:${SECRET}@127.0.0.1:${port}/nowhere`;
    const before = listTree(t.dir);
    for (const action of ['ensure', 'serve']) {
      // The URL (with its password) in the environment: on the command line a password is refused.
      const r = await cli([action, `owner=${t.owner}`, `dir=${t.dir}`, 'queue=down-q', 'interval=1', ...(action === 'serve' ? [`port=${await getPort({ host: '127.0.0.1' })}`] : [])], { env: cliEnv({ TASK_MANAGER_REGISTRY: url }) });
      assert.equal(r.code, 1, `${action}: ${r.stdout}${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1 port ${port}`));
      assert.doesNotMatch(r.stdout + r.stderr, new RegExp(SECRET));
      assert.equal(readPid(runtimeFile(t.dir, t.owner, 'heartbeat.pid')), undefined);
      assert.deepEqual(listTree(t.dir), before, `${action} left files behind`);
      assert.deepEqual(pidsMentioning(t.root), [], `${action} left a process behind`);
    }
    // status still tells the rest, and says the registry cannot be reached (exit 3: no heartbeat).
    const s = await cli(['status', `owner=${t.owner}`, `dir=${t.dir}`, 'queue=down-q'], { env: cliEnv({ TASK_MANAGER_REGISTRY: url }) });
    assert.equal(s.code, 3, s.stdout + s.stderr);
    assert.match(s.stdout, /^heartbeat  not running/m);
    assert.match(s.stdout, new RegExp(`^registry   unreachable: .*127\\.0\\.0\\.1 port ${port}`, 'm'));
    assert.doesNotMatch(s.stdout + s.stderr, new RegExp(SECRET));
  });
});

test('a shared registry: the password is never shown, status shows each claim\'s host, logs and release --force of another host\'s claim', { skip: pgSkip }, async () => {
  await withPostgres(async (p) => {
    await withTempFolder('pgcli', async (t) => {
      const url = secretUrl(p);
      const env = cliEnv({ TASK_MANAGER_HOST: 'host-a', TASK_MANAGER_REGISTRY: url });
      // On the command line a password is refused: anyone on the machine can read a process's arguments.
      const typed = await cli(['status', `owner=${t.owner}`, `dir=${t.dir}`, `registry=${url}`], { env: cliEnv({ TASK_MANAGER_HOST: 'host-a' }) });
      assert.equal(typed.code, 2, typed.stdout + typed.stderr);
      assert.match(typed.stderr, /registry. holds a password.*PGPASSWORD/);
      assert.doesNotMatch(typed.stdout + typed.stderr, new RegExp(SECRET));
      const keys = [`owner=${t.owner}`, `dir=${t.dir}`, 'queue=shared-q'];
      // A run on this machine standing for the other host's: release must never signal it.
      const sleeper = spawn('sleep', ['300'], { stdio: 'ignore' });
      t.extra.push(sleeper.pid as number);
      const e = await cli(['ensure', ...keys, 'interval=1'], { env });
      assert.equal(e.code, 0, e.stdout + e.stderr);
      assert.doesNotMatch(e.stdout + e.stderr, new RegExp(SECRET));
      const hb = readPid(runtimeFile(t.dir, t.owner, 'heartbeat.pid'));
      assert.ok(hb !== undefined && alive(hb));
      t.extra.push(hb);
      assert.doesNotMatch(fs.readFileSync(`/proc/${hb}/cmdline`, 'utf8'), new RegExp(SECRET), 'the password is in the heartbeat\'s command line');
      // The registry is passed down, not dropped: the heartbeat's pid file records it (without the password).
      const pidFile = fs.readFileSync(runtimeFile(t.dir, t.owner, 'heartbeat.pid'), 'utf8');
      assert.match(pidFile, new RegExp(`postgres://postgres:\\*\\*\\*@127\\.0\\.0\\.1:${p.port}`));
      assert.doesNotMatch(pidFile, new RegExp(SECRET));

      // An ensure that asks for registry.json finds this heartbeat on the database, and says so (without the password).
      const other = await cli(['ensure', ...keys, 'registry=file'], { env });
      assert.equal(other.code, 0, other.stdout + other.stderr);
      assert.match(other.stdout, new RegExp(`^heartbeat already running \\(pid ${hb}\\) with registry=postgres://postgres:\\*\\*\\*@127\\.0\\.0\\.1:${p.port}/`));
      assert.doesNotMatch(other.stdout + other.stderr, new RegExp(SECRET));

      await insertForeignClaim(p, 'shared-q', 'FAR-TASK', sleeper.pid as number);
      const s = await cli(['status', ...keys], { env });
      assert.equal(s.code, 0, s.stdout + s.stderr);
      assert.match(s.stdout, new RegExp(`^registry   postgres://postgres:\\*\\*\\*@127\\.0\\.0\\.1:${p.port}/${p.db} queue shared-q, this host host-a$`, 'm'));
      assert.match(s.stdout, /^claimed    FAR-TASK by far-owner on other-host: running, pid [0-9]+$/m);
      assert.doesNotMatch(s.stdout + s.stderr, new RegExp(SECRET));
      const json = await cli(['status', '--json', ...keys], { env });
      assert.doesNotMatch(json.stdout, new RegExp(SECRET));
      assert.equal((JSON.parse(json.stdout) as { claims: { host: string }[] }).claims[0]?.host, 'other-host');

      const l = await cli(['logs', 'id=FAR-TASK', ...keys], { env });
      assert.equal(l.code, 0, l.stdout + l.stderr);
      assert.match(l.stdout, /^FAR-TASK is held by host other-host: its run log is \/elsewhere\/tasks\/logs\/task_manager\/runs\/FAR-TASK\.log on that host/);

      const refused = await cli(['release', 'id=FAR-TASK', ...keys], { env });
      assert.equal(refused.code, 1, refused.stdout + refused.stderr);
      assert.match(refused.stderr, /running on host other-host .*--force/);
      assert.deepEqual(await claimRows(p, 'shared-q'), ['FAR-TASK']);
      // retry --force would free the task for any host while its run goes on over there: refused, release first.
      const retried = await cli(['retry', 'id=FAR-TASK', '--force', ...keys], { env });
      assert.equal(retried.code, 1, retried.stdout + retried.stderr);
      assert.match(retried.stderr, /running on host other-host: first just tasks release id=FAR-TASK .*--force/);
      assert.deepEqual(await claimRows(p, 'shared-q'), ['FAR-TASK']);
      const r = await cli(['release', 'id=FAR-TASK', '--force', ...keys], { env });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^released FAR-TASK \(held by host other-host: its heartbeat ends the run at its next tick\); it is held back/);
      assert.deepEqual(await claimRows(p, 'shared-q'), []);
      assert.ok(alive(sleeper.pid as number), 'release signalled a local pid for another host\'s claim');

      const stop = await cli(['stop', ...keys], { env });
      assert.equal(stop.code, 0, stop.stdout + stop.stderr);
      await waitUntil(() => !alive(hb) || undefined, 'the heartbeat to stop');
      assert.doesNotMatch(fs.readFileSync(runtimeFile(t.dir, t.owner, 'heartbeat.log'), 'utf8'), new RegExp(SECRET), 'the password is in the heartbeat log');
    });
  });
});

test('a shared registry needs a queue every clone agrees on: outside git, or without an origin, queue= is asked for and nothing starts', async () => {
  await withTempFolder('pgqueue', async (t) => {
    // No database is needed: the queue is named before anything connects.
    const env = cliEnv({ TASK_MANAGER_REGISTRY: 'postgres://postgres@127.0.0.1:9/none' });
    const outside = await cli(['ensure', `owner=${t.owner}`, `dir=${t.dir}`], { env });
    assert.equal(outside.code, 1, outside.stdout + outside.stderr);
    assert.match(outside.stderr, /not inside a git repository, so no origin names its shared queue; pass queue=<name>/);
    makeRepo(t.root, '');
    const noOrigin = await cli(['ensure', `owner=${t.owner}`, `dir=${t.dir}`], { env });
    assert.equal(noOrigin.code, 1, noOrigin.stdout + noOrigin.stderr);
    assert.match(noOrigin.stderr, /gave no origin URL to name the shared queue .*pass queue=<name>/);
    assert.equal(readPid(runtimeFile(t.dir, t.owner, 'heartbeat.pid')), undefined);
    assert.deepEqual(pidsMentioning(t.root), []);
  });
});
