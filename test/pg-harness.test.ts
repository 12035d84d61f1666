// The PostgreSQL test harness itself: a real throwaway cluster that restarts, a proxy that really
// hangs and cuts, and a stop() that leaves no postmaster and no folder behind.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import pg from 'pg';
import { alive, waitUntil } from './helpers.ts';
import { type Pg, pgSkip, startPostgres, withPostgres } from './pg.ts';
import { startTcpProxy } from './tcp-proxy.ts';

/** A connected client whose asynchronous errors (a server gone, a reset) are recorded, not thrown at the process. */
async function connect(url: string, opts: { queryTimeoutMs?: number; connectTimeoutMs?: number } = {}): Promise<{ client: pg.Client; errors: Error[] }> {
  const client = new pg.Client({ connectionString: url, query_timeout: opts.queryTimeoutMs ?? 10_000, connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000 });
  const errors: Error[] = [];
  client.on('error', (err) => errors.push(err));
  await client.connect();
  return { client, errors };
}

async function selectOne(url: string): Promise<number> {
  const { client } = await connect(url);
  try {
    const res = await client.query<{ one: number }>('select 1 as one');
    return res.rows[0]?.one ?? 0;
  } finally {
    await client.end();
  }
}

test('a throwaway cluster answers, survives a restart on the same url, and stop() leaves no postmaster and no folder', { skip: pgSkip }, async () => {
  let cluster: Pg | undefined;
  try {
    cluster = await startPostgres();
    assert.ok(cluster, 'startPostgres gave no cluster although binaries exist');
    assert.match(cluster.url, /^postgres:\/\/postgres@127\.0\.0\.1:[0-9]+\/t_[0-9]+_[0-9a-f]+$/);
    assert.equal(await selectOne(cluster.url), 1);
    const first = cluster.pid;
    assert.ok(alive(first), `postmaster ${first} is not running`);

    const held = await connect(cluster.url);
    await cluster.restart();
    assert.ok(!alive(first), `the old postmaster ${first} survived restart()`);
    assert.ok(alive(cluster.pid) && cluster.pid !== first, `restart() gave no new postmaster (${cluster.pid})`);
    await assert.rejects(held.client.query('select 1'), 'a connection from before the restart still worked');
    assert.equal(await selectOne(cluster.url), 1);

    const other = await cluster.createDatabase('second_db');
    assert.equal(await selectOne(other), 1);

    const { pid, socketDir } = cluster;
    await cluster.stop();
    assert.ok(!alive(pid), `postmaster ${pid} still alive after stop()`);
    assert.ok(!fs.existsSync(socketDir), `${socketDir} still there after stop()`);
    await cluster.stop();
  } finally {
    await cluster?.stop();
  }
});

test('through the proxy: queries pass, pause() hangs them until resume(), cut() resets them until heal()', { skip: pgSkip }, async () => {
  await withPostgres(async (cluster) => {
    const proxy = await startTcpProxy({ host: cluster.host, port: cluster.port });
    try {
      assert.equal(await selectOne(proxy.url(cluster.db)), 1);

      const { client } = await connect(proxy.url(cluster.db), { queryTimeoutMs: 1000 });
      proxy.pause();
      await assert.rejects(client.query('select 1'), /timeout/i, 'a query went through a paused proxy');
      await assert.rejects(connect(proxy.url(cluster.db), { connectTimeoutMs: 1000 }), /timeout/i, 'a new connection got through a paused proxy');
      proxy.resume();
      assert.equal(await selectOne(proxy.url(cluster.db)), 1);
      await client.end().catch(() => undefined);

      const held = await connect(proxy.url(cluster.db));
      // The proxy learns of the earlier clients' ends a moment after they do.
      await waitUntil(() => proxy.connections === 1 || undefined, 'one open connection through the proxy');
      proxy.cut();
      await assert.rejects(held.client.query('select 1'), 'a query worked on a connection the proxy cut');
      await assert.rejects(connect(proxy.url(cluster.db)), 'a new connection got through a cut proxy');
      assert.equal(proxy.connections, 0);
      proxy.heal();
      assert.equal(await selectOne(proxy.url(cluster.db)), 1);
    } finally {
      await proxy.close();
    }
  });
});
