// Many hosts, one queue: real heartbeats (one per simulated host: its own clone, owner and
// TASK_MANAGER_HOST) on a real PostgreSQL, each run counted by its run marker, so a task dispatched
// twice across hosts shows as two markers, however the hosts die, the database restarts or the network hangs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sleep, sleeperIn } from './helpers.ts';
import { type Fleet, type Host, claimRows, exitedHosts, heartbeatLog, killHost, killPid, liveRuns, liveRunsByTask, marks, runsByTask, snapshotOf, startHost, story, taskIds, waitFleet, withFleet } from './hosts.ts';
import { pgSkip, withPostgres } from './pg.ts';
import { startTcpProxy } from './tcp-proxy.ts';

/** A dispatch command: `start <id> <run> <host> <ms>`, then (with seconds) a sleep and `done …`, each appended to the fleet's file. */
function runCommand(f: Fleet, seconds?: number): string {
  const line = (word: string): string => `echo "${word} $TASK_ID $TASK_RUN_ID $TASK_MANAGER_HOST $(date +%s%3N)" >> '${f.out}'`;
  return seconds === undefined ? line('start') : `${line('start')}; ${sleeperIn(f.root)} ${seconds}; ${line('done')}`;
}

function assertOncePerTask(f: Fleet, ids: readonly string[], word: string): void {
  const runs = runsByTask(marks(f), word);
  const twice = [...runs].filter(([, r]) => r.size > 1).map(([id, r]) => `${id}: ${[...r].join(', ')}`);
  assert.deepEqual(twice, [], `tasks with more than one "${word}" run marker:\n${twice.join('\n')}\n${story(f)}`);
  assert.deepEqual(ids.filter((id) => !runs.has(id)), [], `tasks with no "${word}"`);
  assert.equal(marks(f).filter((m) => m.word === word).length, ids.length, `one "${word}" line per task`);
}

function assertHeartbeatsUp(f: Fleet): void {
  assert.deepEqual(exitedHosts(f).map((h) => h.name), [], `heartbeats exited:\n${story(f)}`);
}

test('4 hosts × 200 ready tasks, max=20: each task is dispatched exactly once, and every host sees all 200 claims with their hosts', { skip: pgSkip, timeout: 120_000 }, async () => {
  await withPostgres((db) => withFleet(['h1', 'h2', 'h3', 'h4'], 200, async (f) => {
    const ids = taskIds(200);
    for (const h of f.hosts) startHost(f, h, db.url, { dispatch: runCommand(f), max: 20 });
    await waitFleet(f, () => runsByTask(marks(f), 'start').size >= 200 || undefined, `200 tasks dispatched`, 45_000);
    // Every host's view settles on all 200 claims, their runs ended: a second dispatch would have shown by now.
    for (const h of f.hosts) {
      await waitFleet(f, () => { const s = snapshotOf(h); return s && s.claims.length === 200 && s.claims.every((c) => c.state === 'exited'); }, `${h.name}'s snapshot to list 200 ended runs`, 20_000);
    }
    assertOncePerTask(f, ids, 'start');
    const byTask = new Map(marks(f).map((m) => [m.id, m]));
    for (const h of f.hosts) {
      const claims = snapshotOf(h)?.claims ?? [];
      const wrong = claims.filter((c) => c.host !== byTask.get(c.id)?.host || c.runId !== byTask.get(c.id)?.run);
      assert.deepEqual(wrong.map((c) => `${c.id} ${c.host} ${c.runId}`), [], `${h.name}'s snapshot names the host and run that ran each task`);
    }
    // A host that starts late may find every task taken; two at least must have raced for them.
    assert.ok(new Set(marks(f).map((m) => m.host)).size >= 2, 'the tasks were dispatched by more than one host');
    assertHeartbeatsUp(f);
  }));
});

test('a host killed with -9 mid-run: its claims are escalated as silent, taken over only after lease=30s, and each task completes once', { skip: pgSkip, timeout: 120_000 }, async () => {
  await withPostgres((db) => withFleet(['a', 'b', 'c'], 12, async (f) => {
    const [a, b, c] = f.hosts as [Host, Host, Host];
    const ids = taskIds(12);
    const dispatch = runCommand(f, 15);
    // A first, so it holds runs when it dies; B and C take the rest and keep slots for the takeover.
    startHost(f, a, db.url, { dispatch, max: 4, lease: '30s' });
    await waitFleet(f, () => marks(f).filter((m) => m.host === 'a').length >= 4 || undefined, `a to start 4 runs`, 20_000);
    for (const h of [b, c]) startHost(f, h, db.url, { dispatch, max: 8, lease: '30s' });
    await waitFleet(f, () => runsByTask(marks(f), 'start').size >= 12 || undefined, `all 12 tasks started`, 20_000);

    // The whole host dies: its heartbeat's group (runs, relay) and any run of its that left the group.
    const aMarks = marks(f).filter((m) => m.host === 'a');
    const aIds = aMarks.map((m) => m.id);
    const aRuns = new Set(aMarks.map((m) => m.run));
    killHost(a);
    for (const p of liveRuns(f.root)) if (aRuns.has(p.run)) killPid(p.pid);
    await waitFleet(f, () => liveRuns(f.root).every((p) => !aRuns.has(p.run)) || undefined, "a's runs to be gone", 10_000);
    const rows = (await claimRows(db.url, f.queue)).filter((r) => aIds.includes(r.task_id));
    assert.deepEqual(rows.map((r) => r.host), aIds.map(() => 'a'), "the database still holds a's claims");
    const leaseUntil = new Map(rows.map((r) => [r.task_id, r.lease_until.getTime()]));
    const firstExpiry = Math.min(...leaseUntil.values());

    // Until the lease runs out nobody starts a's tasks again; meanwhile B or C says a is silent.
    let silentSeen = false;
    const taken = (): string[] => aIds.filter((id) => (runsByTask(marks(f), 'start').get(id)?.size ?? 0) > 1);
    while (Date.now() < firstExpiry - 300) {
      assert.deepEqual(taken(), [], `a's tasks started again before their lease ran out (${new Date(firstExpiry).toISOString()})`);
      silentSeen ||= [b, c].some((h) => snapshotOf(h)?.escalations.some((e) => aIds.includes(e.id) && e.reason.includes('host a silent since')));
      await sleep(200);
    }
    assert.ok(silentSeen, `neither b's nor c's snapshot escalated "host a silent since" before the lease ran out:\n${JSON.stringify(snapshotOf(b)?.escalations)}`);

    await waitFleet(f, () => taken().length === aIds.length || undefined, `every task of a taken over by b or c`, 30_000);
    for (const id of aIds) {
      const again = marks(f).filter((m) => m.word === 'start' && m.id === id && m.host !== 'a');
      assert.equal(again.length, 1, `${id} started once more, by another host`);
      assert.ok((again[0]?.at ?? 0) >= (leaseUntil.get(id) ?? Infinity) - 1, `${id} was taken over at ${again[0]?.at}, before its lease ran out at ${leaseUntil.get(id)}`);
    }
    assert.match([b, c].map(heartbeatLog).join('\n'), /taken over by host [bc]: host a silent since/);

    await waitFleet(f, () => runsByTask(marks(f), 'done').size >= 12 || undefined, `all 12 tasks done`, 40_000);
    assertOncePerTask(f, ids, 'done');
    assertHeartbeatsUp(f);
  }));
});

test('the database restarted mid-run: every task is dispatched exactly once, and every heartbeat goes on', { skip: pgSkip, timeout: 120_000 }, async () => {
  await withPostgres((db) => withFleet(['h1', 'h2', 'h3'], 60, async (f) => {
    const ids = taskIds(60);
    for (const h of f.hosts) startHost(f, h, db.url, { dispatch: runCommand(f, 3), max: 5 });
    await waitFleet(f, () => runsByTask(marks(f), 'start').size >= 15 || undefined, '15 tasks started', 30_000);
    // A restart the heartbeats surely see: down until one of them says so, then up on the same port.
    await db.down();
    await waitFleet(f, () => f.hosts.some((h) => snapshotOf(h)?.registry?.unreachableSince), 'a snapshot to say the registry is unreachable', 20_000);
    await db.up();
    await waitFleet(f, () => runsByTask(marks(f), 'done').size >= 60 || undefined, 'all 60 tasks done', 60_000);
    for (const h of f.hosts) {
      await waitFleet(f, () => { const s = snapshotOf(h); return s && !s.registry?.unreachableSince && s.claims.length === 60 && s.claims.every((c) => c.state === 'exited'); }, `${h.name}'s snapshot to list 60 ended runs, the registry reachable`, 20_000);
    }
    assertOncePerTask(f, ids, 'start');
    assertOncePerTask(f, ids, 'done');
    assertHeartbeatsUp(f);
  }));
});

test('a partition: the cut-off host says so and fences its runs before its lease runs out, another takes them over after it, no task ever has two live runs', { skip: pgSkip, timeout: 120_000 }, async () => {
  await withPostgres(async (db) => {
    const proxy = await startTcpProxy({ host: db.host, port: db.port });
    try {
      await withFleet(['a', 'b'], 6, async (f) => {
        const [a, b] = f.hosts as [Host, Host];
        const dispatch = runCommand(f, 60);
        startHost(f, a, proxy.url(db.db), { dispatch, max: 3, lease: '30s' });
        await waitFleet(f, () => marks(f).filter((m) => m.host === 'a').length >= 3 || undefined, 'a to start 3 runs', 20_000);
        startHost(f, b, db.url, { dispatch, max: 6, lease: '30s' });
        await waitFleet(f, () => runsByTask(marks(f), 'start').size >= 6 || undefined, 'all 6 tasks started', 20_000);
        const aMarks = marks(f).filter((m) => m.host === 'a');
        const aIds = aMarks.map((m) => m.id);
        const aRuns = new Set(aMarks.map((m) => m.run));

        // Every 200 ms: which runs are alive, and is any task running twice?
        const lastAlive = new Map<string, number>();
        const doubled: string[] = [];
        const sample = (): void => {
          const now = Date.now();
          for (const [id, runs] of liveRunsByTask(f.root)) {
            if (runs.size > 1) doubled.push(`${new Date(now).toISOString()} ${id}: ${[...runs].join(', ')}`);
            for (const r of runs) lastAlive.set(r, now);
          }
        };
        const timer = setInterval(sample, 200);
        try {
          proxy.pause();
          const rows = (await claimRows(db.url, f.queue)).filter((r) => aIds.includes(r.task_id));
          assert.deepEqual(rows.map((r) => r.host), aIds.map(() => 'a'), "the database holds a's claims");
          const leaseUntil = new Map(rows.map((r) => [r.task_id, r.lease_until.getTime()]));
          const leaseEnd = Math.min(...leaseUntil.values());
          const at = (ms: number): string => new Date(ms).toISOString();

          // Every breach is collected, so one run tells all of what a partition does wrong.
          const breaches: string[] = [];
          await waitFleet(f, () => snapshotOf(a)?.registry?.unreachableSince, "a's snapshot to say the registry is unreachable", 30_000);
          if (Date.now() >= leaseEnd) breaches.push(`a's snapshot said the registry was unreachable only at ${at(Date.now())}, after its lease ran out at ${at(leaseEnd)}: ${JSON.stringify(snapshotOf(a)?.registry)}`);
          // Fenced, or not by a while after the lease: what was alive after the lease is then the breach.
          await waitFleet(f, () => liveRuns(f.root).every((p) => !aRuns.has(p.run)) || Date.now() > leaseEnd + 3000, "a's runs to be fenced", 40_000);
          for (const r of aRuns) if ((lastAlive.get(r) ?? 0) >= leaseEnd) breaches.push(`a's run ${r} was alive at ${at(lastAlive.get(r) ?? 0)}, after its lease ran out at ${at(leaseEnd)}`);

          await waitFleet(f, () => aIds.every((id) => marks(f).some((m) => m.word === 'start' && m.id === id && m.host === 'b')) || undefined, "b to take a's tasks over", 30_000);
          for (const id of aIds) {
            const again = marks(f).find((m) => m.word === 'start' && m.id === id && m.host === 'b');
            if ((again?.at ?? 0) < (leaseUntil.get(id) ?? Infinity) - 1) breaches.push(`${id} was taken over at ${at(again?.at ?? 0)}, before its lease ran out at ${at(leaseUntil.get(id) ?? 0)}`);
          }
          sample();
          breaches.push(...doubled.map((d) => `two live runs at once: ${d}`));
          assert.deepEqual(breaches, [], `the partition broke the lease:\n${breaches.join('\n')}\n${story(f)}`);
          assertHeartbeatsUp(f);
        } finally {
          clearInterval(timer);
        }
      });
    } finally {
      await proxy.close();
    }
  });
});
