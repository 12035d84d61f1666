import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { alive, cli, killAll, sleeperIn, tempTasks, uniqueOwner, waitUntil } from './helpers.ts';

interface Fixture { root: string; dir: string; owner: string; extra: number[]; state: string }

async function withTasks(files: Record<string, string>, fn: (f: Fixture) => Promise<void>): Promise<void> {
  const t = tempTasks();
  fs.rmSync(path.join(t.dir, 'FIRST-TASK.md'));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(t.dir, name)), { recursive: true });
    fs.writeFileSync(path.join(t.dir, name), text);
  }
  const extra: number[] = [];
  try {
    await fn({ ...t, owner: uniqueOwner('disp'), extra, state: path.join(t.dir, 'logs', 'task_manager') });
  } finally {
    await killAll(t.root, extra);
    t.remove();
  }
}

function task(id: string, fields: Record<string, string> = {}, body = '## Plan\n- [ ] do it\n'): string {
  const lines = Object.entries({ id, title: `Task ${id}`, status: 'ready', ...fields }).map(([k, v]) => `${k}: ${v}`);
  return `---\n${lines.join('\n')}\n---\n${body}`;
}

/** A dispatch command that records its environment and exits with the code in the task id's file. */
function recorder(root: string): string {
  const script = path.join(root, 'record.sh');
  fs.writeFileSync(script, [
    '#!/bin/sh',
    'echo "$TASK_ID|$TASK_SLUG|$TASK_FILE|$TASK_WORKTREE|$TASK_MANAGER_OWNER|$PWD" >> "$(dirname "$0")/dispatched.txt"',
    'echo "working on $TASK_ID"',
    'code=$(cat "$(dirname "$0")/exit-$TASK_ID" 2>/dev/null || echo 0)',
    'exit "$code"',
  ].join('\n') + '\n', { mode: 0o755 });
  return script;
}

function dispatched(root: string): string[][] {
  const file = path.join(root, 'dispatched.txt');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split('|')) : [];
}

async function once(f: Fixture, more: string[] = []): Promise<Record<string, any>> {
  const r = await cli(['heartbeat', `owner=${f.owner}`, `dir=${f.dir}`, '--once', '--json', ...more]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, any>;
}

function snapshotOf(f: Fixture): { pid: number; tick: number } | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(f.state, `task-manager-${f.owner}.snapshot.json`), 'utf8')) as { pid: number; tick: number };
  } catch {
    return undefined; // not written yet, or being replaced
  }
}

/** Waits until the owner's snapshot (of the heartbeat pid, when given) reaches a tick number. */
function waitForTicks(f: Fixture, pid: number | undefined, tick: number): Promise<unknown> {
  return waitUntil(() => {
    const s = snapshotOf(f);
    return s !== undefined && (pid === undefined || s.pid === pid) && s.tick >= tick;
  }, `tick ${tick}${pid ? ` of heartbeat ${pid}` : ''}; snapshot: ${JSON.stringify(snapshotOf(f))}`);
}

function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) { if (p !== path.join(dir, 'logs')) walk(p); continue; }
      out[path.relative(dir, p)] = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

describe('dispatch', () => {
  test('claims by priority, runs the command with the documented environment, logs, records the exit code', async () => {
    await withTasks({ 'A.md': task('A', { priority: 'p2' }), 'B.md': task('B', { priority: 'p0' }), 'C.md': task('C', { priority: 'p1' }) }, async (f) => {
      const cmd = recorder(f.root);
      fs.writeFileSync(path.join(f.root, 'exit-B'), '0');
      const snap = await once(f, [`dispatch=${cmd}`]);
      const runs = dispatched(f.root);
      assert.deepEqual(runs, [['B', 'B', path.join(f.dir, 'B.md'), path.join(f.root, '.worktrees', 'B'), f.owner, f.root]]);
      assert.equal(snap.claims.length, 1);
      const claim = snap.claims[0];
      assert.deepEqual([claim.id, claim.owner, claim.state, claim.exitCode, claim.worktreeExists], ['B', f.owner, 'exited', 0, false]);
      // Outside git no worktree is made or expected: TASK_WORKTREE names the conventional folder, as before.
      assert.deepEqual([claim.worktreeExpected, claim.branch, claim.dirtyFiles, claim.ahead, claim.base], [false, null, null, null, null]);
      assert.ok(!fs.existsSync(path.join(f.root, '.worktrees')));
      assert.match(fs.readFileSync(path.join(f.state, 'runs', 'B.log'), 'utf8'), /working on B/);
      const reg = JSON.parse(fs.readFileSync(path.join(f.state, 'registry.json'), 'utf8'));
      assert.deepEqual(Object.keys(reg.claims), ['B']);
      assert.equal(reg.claims.B.claimedBy, f.owner);
      assert.deepEqual(snap.ready.map((r: { id: string }) => r.id), ['C', 'A']);
      const st = await cli(['status', `owner=${f.owner}`, `dir=${f.dir}`]);
      assert.match(st.stdout, new RegExp(`^claimed    B by ${f.owner}: exited 0$`, 'm'));
      const doc = JSON.parse((await cli(['status', `owner=${f.owner}`, `dir=${f.dir}`, '--json'])).stdout) as { claims: { id: string; state: string }[] };
      assert.deepEqual(doc.claims.map((c) => [c.id, c.state]), [['B', 'exited']]);
    });
  });

  test('max is respected and a claimed task is never dispatched twice', async () => {
    const files = Object.fromEntries(['A', 'B', 'C', 'D'].map((id) => [`${id}.md`, task(id, { priority: 'p1' })]));
    await withTasks(files, async (f) => {
      const cmd = recorder(f.root);
      // The first two runs record when they start and end; each ends only once both have started (or after
      // 10 s): run side by side they overlap whatever the load, run one after the other they cannot.
      const both = `[ -e ${f.root}/start-A ] && [ -e ${f.root}/start-B ]`;
      const timed = `date +%s%N > ${f.root}/start-$TASK_ID; ${cmd}; i=0; until ${both} || [ $i -ge 100 ]; do sleep 0.1; i=$((i+1)); done; date +%s%N > ${f.root}/end-$TASK_ID`;
      const first = await once(f, [`dispatch=${timed}`, 'max=2']);
      assert.equal(first.claims.length, 2);
      assert.deepEqual(dispatched(f.root).map((r) => r[0]).sort(), ['A', 'B'], 'the two oldest by id');
      const at = (what: string, id: string): bigint => BigInt(fs.readFileSync(path.join(f.root, `${what}-${id}`), 'utf8').trim());
      assert.ok(at('start', 'A') < at('end', 'B') && at('start', 'B') < at('end', 'A'), 'A and B ran side by side');
      // Exited claims stay until the file says completed: the next tick takes the next two only.
      const second = await once(f, [`dispatch=${cmd}`, 'max=2']);
      assert.equal(second.claims.length, 4);
      assert.deepEqual(dispatched(f.root).map((r) => r[0]).sort(), ['A', 'B', 'C', 'D']);
      await once(f, [`dispatch=${cmd}`, 'max=2']);
      assert.equal(dispatched(f.root).length, 4);
    });
  });

  test('a failing run is escalated with its exit code', async () => {
    await withTasks({ 'A.md': task('A') }, async (f) => {
      const cmd = recorder(f.root);
      fs.writeFileSync(path.join(f.root, 'exit-A'), '3');
      const snap = await once(f, [`dispatch=${cmd}`]);
      assert.equal(snap.claims[0].exitCode, 3);
      assert.deepEqual(snap.escalations.map((e: { id: string; reason: string }) => [e.id, e.reason]), [['A', 'run exited with code 3']]);
      assert.ok(!Number.isNaN(Date.parse(snap.escalations[0].since)));
    });
  });

  test('dependencies: ready only when every dependency is completed; missing and cycles reported, not dispatched', async () => {
    await withTasks({
      'A.md': task('A', { status: 'completed' }),
      'B.md': task('B', { depends_on: '[A]' }),
      'C.md': task('C', { depends_on: '[B]' }),
      'D.md': task('D', { depends_on: '[NOPE]' }),
      'E.md': task('E', { depends_on: '[F]' }),
      'F.md': task('F', { depends_on: '[E]' }),
    }, async (f) => {
      const snap = await once(f, [`dispatch=${recorder(f.root)}`, 'max=10']);
      assert.deepEqual(dispatched(f.root).map((r) => r[0]), ['B']);
      const reasons = Object.fromEntries(snap.escalations.map((e: { id: string; reason: string }) => [e.id, e.reason]));
      assert.equal(reasons.D, 'missing dependency NOPE');
      assert.match(reasons.E, /^dependency cycle /);
      assert.match(reasons.F, /^dependency cycle /);
    });
  });

  test('a claim is released when its task file says completed', async () => {
    await withTasks({ 'A.md': task('A') }, async (f) => {
      await once(f, [`dispatch=${recorder(f.root)}`]);
      fs.writeFileSync(path.join(f.dir, 'A.md'), task('A', { status: 'Done' }));
      const snap = await once(f, [`dispatch=${recorder(f.root)}`]);
      assert.deepEqual(snap.claims, []);
      const reg = JSON.parse(fs.readFileSync(path.join(f.state, 'registry.json'), 'utf8'));
      assert.deepEqual(reg.claims, {});
      assert.deepEqual([reg.history[0].id, reg.history[0].releaseReason], ['A', 'task completed']);
    });
  });

  test('two owners\' heartbeats racing on one folder never claim the same task', async () => {
    const files = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`T${i}.md`, task(`T${String(i).padStart(2, '0')}`)]));
    await withTasks(files, async (f) => {
      const cmd = recorder(f.root);
      const a = `${f.owner}-a`;
      const b = `${f.owner}-b`;
      const args = (o: string): string[] => ['ensure', `owner=${o}`, `dir=${f.dir}`, 'interval=0.05', 'max=3', `dispatch=${cmd}`];
      const [ra, rb] = await Promise.all([cli(args(a)), cli(args(b))]);
      assert.equal(ra.code, 0, ra.stderr);
      assert.equal(rb.code, 0, rb.stderr);
      // Exited claims do not count as running, so the two keep claiming until every task is taken.
      await waitUntil(() => dispatched(f.root).length >= 16 || undefined, 'all 16 tasks dispatched', 30_000);
      // A duplicate would come from a later tick: let both heartbeats tick a few more times.
      for (const o of [a, b]) await waitForTicks({ ...f, owner: o }, undefined, (snapshotOf({ ...f, owner: o })?.tick ?? 0) + 5);
      const runs = dispatched(f.root);
      const ids = runs.map((r) => r[0] as string).sort();
      assert.deepEqual(ids, Object.keys(files).map((n) => `T${n.slice(1, -3).padStart(2, '0')}`).sort(), 'every task ran exactly once: no duplicate, none missing');
      const reg = JSON.parse(fs.readFileSync(path.join(f.state, 'registry.json'), 'utf8'));
      assert.equal(Object.keys(reg.claims).length, 16);
      // Each task's one run was started by the owner whose claim the registry holds, and only by them.
      for (const [id, , , , owner] of runs) assert.equal(reg.claims[id as string]?.claimedBy, owner, `claim and run of ${id}`);
      assert.ok(runs.every((r) => r[4] === a || r[4] === b));
      for (const o of [a, b]) await cli(['stop', `owner=${o}`, `dir=${f.dir}`]);
    });
  });

  test('runs stop with the heartbeat: interrupted, escalated, not re-run', async () => {
    await withTasks({ 'A.md': task('A') }, async (f) => {
      const r = await cli(['ensure', `owner=${f.owner}`, `dir=${f.dir}`, 'interval=0.1', `dispatch=${sleeperIn(f.root)} 30`]);
      assert.equal(r.code, 0, r.stderr);
      const reg = (): Record<string, any> => JSON.parse(fs.readFileSync(path.join(f.state, 'registry.json'), 'utf8'));
      const pid = await waitUntil(() => fs.existsSync(path.join(f.state, 'registry.json')) && reg().claims.A?.pid, 'run to start');
      assert.ok(alive(pid));
      const stop = await cli(['stop', `owner=${f.owner}`, `dir=${f.dir}`]);
      assert.match(stop.stdout, /^stopped heartbeat/);
      assert.ok(!alive(pid), 'the run was stopped with its heartbeat');
      assert.equal(reg().claims.A.state, 'interrupted');
      const snap = await once(f, [`dispatch=${sleeperIn(f.root)} 30`]);
      assert.equal(snap.claims[0].state, 'interrupted');
      assert.match(snap.escalations[0].reason, /interrupted/);
      assert.equal(snap.claims[0].pid, pid, 'not re-run');
    });
  });

  test('a task file missing for a moment while its run is alive is not dispatched again', async () => {
    await withTasks({ 'A.md': task('A') }, async (f) => {
      const cmd = `echo run >> ${f.root}/runs.txt; sleep 2`;
      await cli(['ensure', `owner=${f.owner}`, `dir=${f.dir}`, 'interval=0.1', `dispatch=${cmd}`]);
      await waitUntil(() => fs.existsSync(`${f.root}/runs.txt`), 'first run');
      fs.renameSync(path.join(f.dir, 'A.md'), path.join(f.root, 'A.md.away'));
      // Longer than the 3 ticks after which a claim whose file is gone (and whose run is not alive) is released.
      await waitForTicks(f, undefined, (snapshotOf(f)?.tick ?? 0) + 5);
      fs.renameSync(path.join(f.root, 'A.md.away'), path.join(f.dir, 'A.md'));
      const reg = (): Record<string, any> => JSON.parse(fs.readFileSync(path.join(f.state, 'registry.json'), 'utf8'));
      await waitUntil(() => reg().claims.A?.state === 'exited', 'the run to end');
      await waitForTicks(f, undefined, (snapshotOf(f)?.tick ?? 0) + 5);
      await cli(['stop', `owner=${f.owner}`, `dir=${f.dir}`]);
      assert.equal(fs.readFileSync(`${f.root}/runs.txt`, 'utf8'), 'run\n');
    });
  });

  test('the tool never writes a task file: many ticks with dispatch, claims and releases', async () => {
    const files: Record<string, string> = {
      'A.md': task('A', { priority: 'p0' }),
      'B.md': task('B', { status: 'completed' }),
      'nested/C.md': task('C', { status: 'In Progress', assignee: 'erin', dependencies: '[A]' }),
      'D.md': task('D', { status: 'cancelled' }),
      'E.md': '\uFEFF---\r\nid: E\r\nstatus: ready\r\n---\r\nCRLF body\r\n',
      'bad.md': '---\nid: [unclosed\n---\n',
      'bin.md': Buffer.from([0, 1, 2, 255]).toString('latin1'),
    };
    await withTasks(files, async (f) => {
      // Seed claims on completed/cancelled tasks so that ticks release them.
      fs.mkdirSync(f.state, { recursive: true });
      const stale = (id: string): Record<string, unknown> => ({ id, slug: id, path: `${id}.md`, claimedBy: 'someone', claimedAt: new Date().toISOString(), startedAt: null, worktree: '/nowhere', pid: null, pidStart: null, state: 'exited', exitCode: 0, endedAt: null, log: null });
      fs.writeFileSync(path.join(f.state, 'registry.json'), JSON.stringify({ version: 1, claims: { B: stale('B'), D: stale('D') }, history: [] }));
      const before = hashTree(f.dir);
      const mtimes = Object.keys(before).map((p) => fs.statSync(path.join(f.dir, p)).mtimeMs);
      await cli(['ensure', `owner=${f.owner}`, `dir=${f.dir}`, 'interval=0.05', `dispatch=${recorder(f.root)}`, 'max=3']);
      await waitUntil(() => {
        try {
          return JSON.parse(fs.readFileSync(path.join(f.state, `task-manager-${f.owner}.snapshot.json`), 'utf8')).tick >= 20;
        } catch { return false; }
      }, '20 ticks', 30_000);
      await cli(['stop', `owner=${f.owner}`, `dir=${f.dir}`]);
      const reg = JSON.parse(fs.readFileSync(path.join(f.state, 'registry.json'), 'utf8'));
      assert.deepEqual(Object.keys(reg.claims).sort(), ['A', 'E'], 'A and E claimed; B and D released');
      assert.deepEqual(reg.history.map((h: { id: string }) => h.id).sort(), ['B', 'D']);
      assert.deepEqual(hashTree(f.dir), before);
      assert.deepEqual(Object.keys(before).map((p) => fs.statSync(path.join(f.dir, p)).mtimeMs), mtimes);
    });
  });
});

describe('corruption', () => {
  test('a corrupt registry.json is kept aside and the registry starts empty', async () => {
    await withTasks({ 'A.md': task('A') }, async (f) => {
      fs.mkdirSync(f.state, { recursive: true });
      fs.writeFileSync(path.join(f.state, 'registry.json'), '{"claims": {"A": tru');
      const r = await cli(['heartbeat', `owner=${f.owner}`, `dir=${f.dir}`, '--once', `dispatch=${recorder(f.root)}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /registry .* was corrupt: it is not JSON .*; kept it as .*registry\.json\.corrupt-/);
      const aside = fs.readdirSync(f.state).filter((n) => n.startsWith('registry.json.corrupt-'));
      assert.equal(aside.length, 1);
      assert.equal(fs.readFileSync(path.join(f.state, aside[0] as string), 'utf8'), '{"claims": {"A": tru');
      assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(path.join(f.state, 'registry.json'), 'utf8')).claims), ['A']);
    });
  });

  test('a corrupt snapshot is kept aside and replaced by the next tick', async () => {
    await withTasks({ 'A.md': task('A') }, async (f) => {
      fs.mkdirSync(f.state, { recursive: true });
      const snapFile = path.join(f.state, `task-manager-${f.owner}.snapshot.json`);
      fs.writeFileSync(snapFile, '\0\0garbage');
      const status = await cli(['status', `owner=${f.owner}`, `dir=${f.dir}`, '--json']);
      assert.equal(status.code, 3);
      assert.equal(JSON.parse(status.stdout).tick, null);
      const r = await cli(['heartbeat', `owner=${f.owner}`, `dir=${f.dir}`, '--once']);
      assert.equal(r.code, 0, r.stderr);
      const aside = fs.readdirSync(f.state).filter((n) => n.includes('.snapshot.json.corrupt-'));
      assert.equal(aside.length, 1);
      assert.equal(fs.readFileSync(path.join(f.state, aside[0] as string), 'utf8'), '\0\0garbage');
      assert.equal(JSON.parse(fs.readFileSync(snapFile, 'utf8')).tick, 1);
    });
  });
});

describe('a killed heartbeat', () => {
  test('its orphaned run is adopted by the next heartbeat and stopped with it', async () => {
    await withTasks({ 'A.md': task('A') }, async (f) => {
      const first = JSON.parse((await cli(['ensure', `owner=${f.owner}`, `dir=${f.dir}`, 'interval=0.1', `dispatch=${sleeperIn(f.root)} 30`, '--json'])).stdout) as { pid: number };
      const reg = (): Record<string, any> => JSON.parse(fs.readFileSync(path.join(f.state, 'registry.json'), 'utf8'));
      const run = await waitUntil(() => fs.existsSync(path.join(f.state, 'registry.json')) && reg().claims.A?.pid, 'run to start');
      process.kill(first.pid, 'SIGKILL');
      await waitUntil(() => !alive(first.pid), 'first heartbeat gone');
      assert.ok(alive(run), 'the run outlives its killed heartbeat');
      const second = await cli(['ensure', `owner=${f.owner}`, `dir=${f.dir}`, 'interval=0.1', `dispatch=${sleeperIn(f.root)} 30`, '--json']);
      assert.equal(second.code, 0, second.stderr);
      const pid = (JSON.parse(second.stdout) as { pid: number }).pid;
      await waitForTicks(f, pid, 5);
      assert.equal(reg().claims.A.state, 'running', 'still running');
      assert.equal(reg().claims.A.pid, run, 'the same run, not re-run');
      await cli(['stop', `owner=${f.owner}`, `dir=${f.dir}`]);
      await waitUntil(() => !alive(run), 'the adopted run stopped with the second heartbeat');
      assert.equal(reg().claims.A.state, 'interrupted');
      assert.match(reg().claims.A.note, /first heartbeat was killed/);
    });
  });
});
