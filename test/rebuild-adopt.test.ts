// A registry rebuilt without a live run's claim gets it back, whatever the task's file says now (issue 15, row R).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { emptyRegistry } from '../lib/manager/registry.ts';
import { RegistryKeeper } from '../lib/manager/rebuild.ts';
import type { MarkedProcess } from '../lib/supervise/runs-proc.ts';
import { alive, cli, type Folder, runtimeFile, sleeperIn, waitUntil, withTempFolder } from './helpers.ts';

/** The statuses an agent moves a running task to; completed and cancelled included (re-adopted, released once the run ends). */
const STATUSES = ['in_progress', 'review', 'blocked', 'completed', 'cancelled'];

interface Claim { id: string; runId: string | null; pid: number | null; state: string; claimedBy: string; note?: string }

const withFolder = (fn: (f: Folder) => Promise<void>): Promise<void> => withTempFolder('adopt', (f) => {
  fs.rmSync(path.join(f.dir, 'FIRST-TASK.md'));
  return fn(f);
});

function writeTask(f: Folder, id: string, status: string): void {
  fs.writeFileSync(path.join(f.dir, `${id}.md`), `---\nid: ${id}\ntitle: Task ${id}\nstatus: ${status}\n---\nbody\n`);
}

const registryFile = (f: Folder): string => path.join(f.dir, 'logs', 'task_manager', 'registry.json');

function claims(f: Folder): Record<string, Claim> {
  try {
    return (JSON.parse(fs.readFileSync(registryFile(f), 'utf8')) as { claims: Record<string, Claim> }).claims;
  } catch {
    return {};
  }
}

function heartbeatLog(f: Folder, owner = f.owner): string {
  try {
    return fs.readFileSync(runtimeFile(f.dir, owner, 'heartbeat.log'), 'utf8');
  } catch {
    return '';
  }
}

function snapshot(f: Folder, owner = f.owner): { tick: number; claims: Claim[] } {
  try {
    return JSON.parse(fs.readFileSync(runtimeFile(f.dir, owner, 'snapshot.json'), 'utf8')) as { tick: number; claims: Claim[] };
  } catch {
    return { tick: 0, claims: [] };
  }
}

async function ensure(f: Folder, owner: string, more: readonly string[]): Promise<number> {
  const r = await cli(['ensure', `owner=${owner}`, `dir=${f.dir}`, 'interval=0.2', '--json', ...more]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { pid: number }).pid;
}

/**
 * Starts one run per id under a heartbeat of f.owner (each a sleep whose command line names the
 * test's folder, so the cleanup finds it without the code under test), then writes each task's
 * file with the status an agent would give it. Returns the heartbeat's pid and each run's id.
 */
async function runsMovedOn(f: Folder, statuses: Record<string, string>, more: readonly string[] = []): Promise<{ hb: number; runIds: Record<string, string> }> {
  for (const id of Object.keys(statuses)) writeTask(f, id, 'ready');
  const n = Object.keys(statuses).length;
  const hb = await ensure(f, f.owner, [`max=${n}`, `dispatch=${sleeperIn(f.root)} 300`, ...more]);
  const runIds = await waitUntil(() => {
    const c = claims(f);
    const ids = Object.keys(statuses).map((id) => c[id]?.state === 'running' ? c[id]?.runId : undefined);
    return ids.every(Boolean) ? Object.fromEntries(Object.keys(statuses).map((id, i) => [id, ids[i] as string])) : undefined;
  }, () => `${n} runs; log:\n${heartbeatLog(f)}`);
  for (const [id, status] of Object.entries(statuses)) writeTask(f, id, status);
  return { hb, runIds };
}

/** Kills the heartbeat that started the runs (they live on), and waits until it is gone. */
async function killHeartbeat(pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  await waitUntil(() => !alive(pid), `heartbeat ${pid} gone`);
}

/** The registry lost and rebuilt by another writer: deleted, then `release` of an unrelated task writes a new one (its hold only). */
async function registryRewritten(f: Folder): Promise<void> {
  writeTask(f, 'OTHER', 'todo');
  fs.rmSync(registryFile(f));
  const r = await cli(['release', `owner=${f.owner}`, `dir=${f.dir}`, 'id=OTHER']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(Object.keys(claims(f)), [], 'the rewritten registry has no claim');
}

const statusOf = (i: number): string => STATUSES[i] as string;

describe('live runs whose task is no longer ready, after the registry is rebuilt', () => {
  test('the next heartbeat puts every claim back (in_progress, review, blocked, completed, cancelled); status and the snapshot show them; release --force reaches one; a completed task\'s claim is released once its run ends', async () => {
    await withFolder(async (f) => {
      const statuses = Object.fromEntries(STATUSES.map((s, i) => [`T${i}`, statusOf(i)]));
      const { hb, runIds } = await runsMovedOn(f, statuses);
      await killHeartbeat(hb);
      await registryRewritten(f);
      await ensure(f, f.owner, [`max=${STATUSES.length}`, `dispatch=${sleeperIn(f.root)} 300`]);
      const back = await waitUntil(() => {
        const c = claims(f);
        return Object.entries(runIds).every(([id, runId]) => c[id]?.runId === runId) ? c : undefined;
      }, () => `every live run's claim back; registry: ${JSON.stringify(claims(f))}\nlog:\n${heartbeatLog(f)}`);
      for (const id of Object.keys(runIds)) {
        assert.equal(back[id]?.state, 'running', `${id} (${statuses[id]}) is running`);
        assert.match(back[id]?.note ?? '', /rebuilt from its live run/);
      }
      assert.match(heartbeatLog(f), /registry .* had no claim for live runs .*; put them back \(live runs found by their run marker: /);
      const st = await cli(['status', `owner=${f.owner}`, `dir=${f.dir}`, '--json']);
      assert.deepEqual((JSON.parse(st.stdout) as { claims: Claim[] }).claims.map((c) => c.id).sort(), Object.keys(runIds).sort(), 'status shows every live run');
      await waitUntil(() => snapshot(f).claims.length === STATUSES.length, () => `the snapshot to show every live run: ${JSON.stringify(snapshot(f).claims)}`);

      const pid = back.T0?.pid as number;
      const forced = await cli(['release', `owner=${f.owner}`, `dir=${f.dir}`, 'id=T0', '--force', '--json']);
      assert.equal(forced.code, 0, forced.stderr);
      assert.ok((JSON.parse(forced.stdout) as { stopped: { found: number } }).stopped.found >= 1, forced.stdout);
      assert.ok(!alive(pid), `the run of T0 (pid ${pid}) was stopped`);

      // A re-adopted run of a completed task keeps its claim while it lives; once it ends, the usual rule releases it.
      const done = back.T3?.pid as number;
      const children = fs.readFileSync(`/proc/${done}/task/${done}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      for (const p of [done, ...children]) process.kill(p, 'SIGKILL');
      const released = await waitUntil(() => {
        const reg = JSON.parse(fs.readFileSync(registryFile(f), 'utf8')) as { claims: Record<string, Claim>; history: (Claim & { releaseReason: string })[] };
        return reg.claims.T3 ? undefined : reg.history.find((h) => h.runId === runIds.T3);
      }, () => `the claim of T3 released once its run ended; registry: ${JSON.stringify(claims(f))}`);
      assert.equal(released.releaseReason, 'task completed');
    });
  });

  test('run_timeout reaches a re-adopted run (in_progress): it is ended and escalated', async () => {
    await withFolder(async (f) => {
      const { hb, runIds } = await runsMovedOn(f, { A: 'in_progress' });
      const pid = claims(f).A?.pid as number;
      await killHeartbeat(hb);
      await registryRewritten(f);
      await ensure(f, f.owner, ['run_timeout=1', `dispatch=${sleeperIn(f.root)} 300`]);
      await waitUntil(() => claims(f).A?.runId === runIds.A && claims(f).A?.state === 'timed_out' ? true : undefined, () => `the claim of A back and timed out; registry: ${JSON.stringify(claims(f))}\nlog:\n${heartbeatLog(f)}`);
      await waitUntil(() => !alive(pid), `the run of A (pid ${pid}) ended by run_timeout`);
      const escalated = await waitUntil(() => (snapshot(f) as { escalations?: { id: string; reason: string }[] }).escalations?.find((e) => e.id === 'A'), 'the escalation of A');
      assert.match(escalated.reason, /^run timed out after /);
    });
  });

  test('a heartbeat already running (another owner) puts back a live run\'s claim dropped by a registry replaced whole', async () => {
    await withFolder(async (f) => {
      const other = `${f.owner}-b`;
      const { hb, runIds } = await runsMovedOn(f, { A: 'in_progress' });
      const watcher = await ensure(f, other, []);
      await killHeartbeat(hb);
      // The other owner's heartbeat has seen the claim (a tick wrote its snapshot since).
      const from = snapshot(f, other).tick;
      await waitUntil(() => snapshot(f, other).tick >= from + 2, 'two ticks of the other heartbeat');
      // Replaced whole (an older copy put back by hand): a heartbeat that is running sees a valid registry, not a missing one.
      const copy = `${registryFile(f)}.old`;
      fs.writeFileSync(copy, JSON.stringify({ version: 1, claims: {}, history: [], holds: {} }));
      fs.renameSync(copy, registryFile(f));
      await waitUntil(() => claims(f).A?.runId === runIds.A ? true : undefined, () => `the claim of A back; registry: ${JSON.stringify(claims(f))}\nlog:\n${heartbeatLog(f, other)}`);
      assert.equal(claims(f).A?.claimedBy, f.owner, 'still claimed by the owner whose run it is');
      assert.ok(alive(watcher));
    });
  });
});

describe('in-process: when the keeper looks for live runs (the scan is the input; the keeper is under test)', () => {
  const dir = '/nowhere/tasks';
  const run: MarkedProcess = {
    pid: 4242, ppid: 1, starttime: '100', runId: 'run-a', relay: false,
    env: { TASK_RUN_ID: 'run-a', TASK_ID: 'A', TASK_FILE: `${dir}/A.md`, TASK_SLUG: 'A', TASK_MANAGER_OWNER: 'x', TASK_WORKTREE: '' },
  };
  const keeper = (): { k: RegistryKeeper; scans: () => number } => {
    let n = 0;
    const k = new RegistryKeeper({
      mergeTracked: () => undefined,
      scanLiveRuns: () => { n++; return new Map([['run-a', [run]]]); },
      context: () => ({ dir, byId: new Map(), byPath: new Map(), fileId: () => undefined, now: new Date() }),
      runsDir: `${dir}/logs/task_manager/runs`,
    });
    return { k, scans: () => n };
  };

  test('a whole registry is searched on the first look only, then again only when a going run\'s claim vanished', () => {
    const { k, scans } = keeper();
    const r = emptyRegistry();
    assert.match(k.review(r), /live runs found by their run marker: A/);
    assert.equal(r.claims.A?.runId, 'run-a');
    k.written(structuredClone(r));
    for (let i = 0; i < 5; i++) assert.equal(k.review(structuredClone(r)), '', 'nothing lost: no scan');
    assert.equal(scans(), 1);
    const rewritten = emptyRegistry();
    assert.match(k.review(rewritten), /live runs found by their run marker: A/, 'the claim vanished: scanned again');
    assert.equal(rewritten.claims.A?.runId, 'run-a');
    // A claim released on purpose is on record: not a loss.
    const released = emptyRegistry();
    released.history.push({ ...(r.claims.A as NonNullable<typeof r.claims.A>), releasedAt: new Date().toISOString(), releaseReason: 'release by x' });
    assert.equal(k.review(released), '');
    assert.equal(released.claims.A, undefined);
  });

  test('a registry missing twice in a row (its rebuilt copy deleted again) is searched again when it lost a run', () => {
    const { k } = keeper();
    k.beginTick();
    const first = emptyRegistry();
    assert.match(k.rebuild(first, 'missing'), /live runs found by their run marker: A/);
    k.written(structuredClone(first));
    k.beginTick();
    const second = emptyRegistry();
    assert.match(k.rebuild(second, 'missing'), /live runs found by their run marker: A/);
    assert.equal(second.claims.A?.runId, 'run-a');
  });
});
