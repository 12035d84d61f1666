import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { branchOf } from '../lib/manager/worktrees.ts';
import { cli, killAll, runPids, uniqueOwner, waitUntil, commitAll, makeRepo } from './helpers.ts';

/** A real temporary git repository: one commit on main, the tasks folder inside it, outputs in a folder beside it. */
interface Repo { root: string; dir: string; out: string; owner: string; state: string }

function gitIn(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function task(id: string, fields: Record<string, string> = {}): string {
  const lines = Object.entries({ id, title: `Task ${id}`, status: 'ready', ...fields }).map(([k, v]) => `${k}: ${v}`);
  return `---\n${lines.join('\n')}\n---\n## Plan\n- [ ] do it\n`;
}

async function withRepo(files: Record<string, string>, fn: (r: Repo) => Promise<void>, inGit = true): Promise<void> {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-wt-')));
  const out = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-wt-out-')));
  const dir = path.join(root, 'tasks');
  fs.mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  if (inGit) {
    // What docs/operations.md tells users to add: the worktrees and the runtime state are not tracked.
    makeRepo(root, '/.worktrees/\ntasks/logs/\n');
    commitAll(root, 'init');
  }
  try {
    await fn({ root, dir, out, owner: uniqueOwner('wt'), state: path.join(dir, 'logs', 'task_manager') });
  } finally {
    await killAll(root, runPids(root));
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(out, { recursive: true, force: true });
  }
}

async function once(r: Repo, more: string[]): Promise<Record<string, any>> {
  const res = await cli(['heartbeat', `owner=${r.owner}`, `dir=${r.dir}`, '--once', '--json', ...more]);
  assert.equal(res.code, 0, res.stderr);
  return JSON.parse(res.stdout) as Record<string, any>;
}

/** A dispatch command that records where it ran and on which branch, then does what `then` says. */
function recorder(r: Repo, then = ''): string {
  const script = path.join(r.out, 'record.sh');
  fs.writeFileSync(script, `#!/bin/sh\necho "$TASK_ID|$(pwd)|$(git branch --show-current 2>/dev/null)|$TASK_WORKTREE|$(cat work.txt 2>/dev/null)" >> "${r.out}/runs.txt"\n${then}\n`, { mode: 0o755 });
  return `dispatch=${script}`;
}

function runs(r: Repo): string[][] {
  const file = path.join(r.out, 'runs.txt');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split('|')) : [];
}

const claimOf = (snap: Record<string, any>, id: string): Record<string, any> => snap.claims.find((c: { id: string }) => c.id === id);

describe('worktrees', () => {
  test('a dispatched task runs in .worktrees/<slug> on task/<slug>; a rerun after retry reuses it', async () => {
    await withRepo({ 'A.md': task('A') }, async (r) => {
      const wt = path.join(r.root, '.worktrees', 'A');
      // The first run commits one file and leaves another uncommitted.
      const work = recorder(r, 'echo one >> work.txt && git add work.txt && git commit -q -m run && echo scratch > scratch.txt');
      const first = await once(r, [work]);
      assert.deepEqual(runs(r), [['A', wt, 'task/A', wt, '']]);
      assert.equal(gitIn(wt, 'branch', '--show-current'), 'task/A');
      const c = claimOf(first, 'A');
      assert.deepEqual([c.state, c.exitCode, c.worktree, c.worktreeExists, c.worktreeExpected], ['exited', 0, wt, true, true]);
      assert.deepEqual([c.branch, c.dirtyFiles, c.ahead, c.base], ['task/A', 1, 1, 'main']);
      // Task files are still read from the main checkout: the worktree's copy is not a second task.
      assert.equal(first.taskCount, 1);
      assert.equal(gitIn(r.root, 'status', '--porcelain'), '', 'the main checkout is untouched');

      const retry = await cli(['retry', 'id=A', `owner=${r.owner}`, `dir=${r.dir}`]);
      assert.equal(retry.code, 0, retry.stderr);
      const second = await once(r, [work]);
      assert.deepEqual(runs(r)[1], ['A', wt, 'task/A', wt, 'one'], 'the rerun found the first run\'s work');
      assert.equal(claimOf(second, 'A').ahead, 2, 'the second run committed on the same branch');
      assert.equal(gitIn(r.root, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree ')).length, 2, 'main and one worktree');
    });
  });

  test('an existing task/<slug> branch is checked out into a new worktree; base= picks the start', async () => {
    await withRepo({ 'A.md': task('A'), 'B.md': task('B') }, async (r) => {
      gitIn(r.root, 'branch', 'task/A');
      gitIn(r.root, 'switch', '-q', '-c', 'side');
      fs.writeFileSync(path.join(r.root, 'side.txt'), 'side\n');
      gitIn(r.root, 'add', 'side.txt');
      gitIn(r.root, 'commit', '-q', '-m', 'side');
      gitIn(r.root, 'switch', '-q', 'main');
      const snap = await once(r, [recorder(r), 'max=2', 'base=side']);
      assert.deepEqual(runs(r).map((x) => [x[0], x[2]]).sort(), [['A', 'task/A'], ['B', 'task/B']]);
      assert.ok(!fs.existsSync(path.join(r.root, '.worktrees', 'A', 'side.txt')), 'A continues its own branch (from main)');
      assert.ok(fs.existsSync(path.join(r.root, '.worktrees', 'B', 'side.txt')), 'B starts from base=side');
      assert.equal(claimOf(snap, 'B').base, 'side');
    });
  });

  test('a worktree that cannot be made: the claim records git\'s reason, is escalated, and nothing runs', async () => {
    await withRepo({ 'A.md': task('A') }, async (r) => {
      const snap = await once(r, [recorder(r), 'base=no-such-branch']);
      assert.deepEqual(runs(r), [], 'not run');
      const c = claimOf(snap, 'A');
      assert.deepEqual([c.state, c.pid, c.startedAt, c.worktreeExists, c.worktreeExpected], ['interrupted', null, null, false, true]);
      assert.match(c.note, /^not started: git worktree add failed: .*no-such-branch/);
      assert.match(snap.escalations.find((e: { id: string }) => e.id === 'A').reason, /^run not started: git worktree add failed: .*no-such-branch/);
      // status says it never started (not "interrupted"), with the command that reruns it.
      const st = await cli(['status', `owner=${r.owner}`, `dir=${r.dir}`]);
      assert.match(st.stdout, /^failed {5}A \(not started: git worktree add failed: .*\); log: .*; rerun: just tasks retry id=A dir=\S+$/m);
      // Not retried on its own: the next tick leaves the recorded failure alone.
      const again = await once(r, [recorder(r)]);
      assert.deepEqual(runs(r), []);
      assert.equal(claimOf(again, 'A').note, c.note);
      // retry makes it dispatchable; with a good base it runs.
      assert.equal((await cli(['retry', 'id=A', `owner=${r.owner}`, `dir=${r.dir}`])).code, 0);
      await once(r, [recorder(r)]);
      assert.deepEqual(runs(r).map((x) => x[2]), ['task/A']);
    });
  });

  test('worktrees=off inside git dispatches as before: in the folder above the tasks, no worktree made', async () => {
    await withRepo({ 'A.md': task('A') }, async (r) => {
      const snap = await once(r, [recorder(r), 'worktrees=off']);
      assert.deepEqual(runs(r), [['A', r.root, 'main', path.join(r.root, '.worktrees', 'A'), '']]);
      assert.ok(!fs.existsSync(path.join(r.root, '.worktrees')));
      const c = claimOf(snap, 'A');
      assert.deepEqual([c.worktreeExists, c.worktreeExpected, c.branch, c.dirtyFiles, c.ahead, c.base], [false, false, null, null, null, null]);
    });
  });

  test('outside git: worktrees=on is refused with one line, the default dispatches in the folder', async () => {
    await withRepo({ 'A.md': task('A') }, async (r) => {
      const refused = await cli(['heartbeat', `owner=${r.owner}`, `dir=${r.dir}`, '--once', recorder(r), 'worktrees=on']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /worktrees=on, but .* is not inside a git repository; run git init there, or pass worktrees=off/);
      assert.deepEqual(runs(r), []);
      const snap = await once(r, [recorder(r)]);
      assert.deepEqual(runs(r).map((x) => x[1]), [r.root]);
      assert.equal(claimOf(snap, 'A').worktreeExpected, false);
    }, false);
  });

  test('prune removes a completed task\'s clean worktree and its merged branch, keeps a dirty one and says why', async () => {
    await withRepo({ 'A.md': task('A'), 'B.md': task('B'), 'C.md': task('C') }, async (r) => {
      // B leaves uncommitted work; A and C leave nothing; C stays open.
      await once(r, [recorder(r, '[ "$TASK_ID" = B ] && echo wip > notes.txt; exit 0'), 'max=3']);
      for (const id of ['A', 'B']) fs.writeFileSync(path.join(r.dir, `${id}.md`), task(id, { status: 'completed' }));
      const res = await cli(['prune', `owner=${r.owner}`, `dir=${r.dir}`]);
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(res.stdout.trim().split('\n').sort(), [
        'kept .worktrees/B: 1 uncommitted file',
        'kept .worktrees/C: task C is ready',
        'removed .worktrees/A (task A completed); deleted branch task/A (merged into main)',
      ]);
      assert.ok(!fs.existsSync(path.join(r.root, '.worktrees', 'A')));
      assert.equal(fs.readFileSync(path.join(r.root, '.worktrees', 'B', 'notes.txt'), 'utf8'), 'wip\n', 'uncommitted work is never deleted');
      assert.equal(gitIn(r.root, 'branch', '--list', 'task/*').replace(/[*+ ]/g, '').split('\n').sort().join(','), 'task/B,task/C');
      // --json: one document, the same story.
      const json = await cli(['prune', `owner=${r.owner}`, `dir=${r.dir}`, '--json']);
      const doc = JSON.parse(json.stdout) as { removed: unknown[]; kept: { path: string; reason: string; dirtyFiles: number | null }[] };
      assert.deepEqual(doc.removed, []);
      assert.deepEqual(doc.kept.map((k) => [k.path, k.dirtyFiles]), [['.worktrees/B', 1], ['.worktrees/C', null]]);
    });
  });

  test('prune keeps a removed worktree\'s branch that is not merged, and outside git says there is nothing to prune', async () => {
    await withRepo({ 'A.md': task('A') }, async (r) => {
      await once(r, [recorder(r, 'echo x > x.txt && git add x.txt && git commit -q -m x')]);
      fs.writeFileSync(path.join(r.dir, 'A.md'), task('A', { status: 'cancelled' }));
      const res = await cli(['prune', `owner=${r.owner}`, `dir=${r.dir}`]);
      assert.equal(res.stdout.trim(), 'removed .worktrees/A (task A cancelled); kept branch task/A: 1 commit not in main');
      assert.equal(gitIn(r.root, 'rev-parse', '--verify', '--quiet', 'refs/heads/task/A').length, 40, 'never -D');
    });
    await withRepo({ 'A.md': task('A') }, async (r) => {
      const res = await cli(['prune', `owner=${r.owner}`, `dir=${r.dir}`]);
      assert.equal(res.code, 0);
      assert.match(res.stdout, /^nothing to prune: .* is not inside a git repository/);
    }, false);
  });

  test('a running heartbeat makes the worktrees of many tasks at once and shows their git state', async () => {
    const ids = ['A', 'B', 'C', 'D', 'E', 'F'];
    await withRepo(Object.fromEntries(ids.map((id) => [`${id}.md`, task(id)])), async (r) => {
      const cmd = recorder(r, 'echo wip > wip.txt; sleep 30');
      // base= and worktrees= reach the detached heartbeat: its worktrees start from side, not the checked-out main.
      gitIn(r.root, 'branch', 'side');
      const ensured = await cli(['ensure', `owner=${r.owner}`, `dir=${r.dir}`, 'interval=0.2', 'max=6', 'worktrees=on', 'base=side', cmd]);
      assert.equal(ensured.code, 0, ensured.stderr);
      try {
        const pidFile = fs.readFileSync(path.join(r.state, `task-manager-${r.owner}.heartbeat.pid`), 'utf8');
        assert.match(pidFile, /^worktrees=on$/m);
        assert.match(pidFile, /^base=side$/m);
        const snapshot = path.join(r.state, `task-manager-${r.owner}.snapshot.json`);
        const read = (): Record<string, any> | undefined => {
          try { return JSON.parse(fs.readFileSync(snapshot, 'utf8')) as Record<string, any>; } catch { return undefined; }
        };
        const snap = await waitUntil(() => {
          const s = read();
          return s && s.claims.length === ids.length && s.claims.every((c: Record<string, any>) => c.dirtyFiles === 1) && s;
        }, `6 claims with their worktree state; last snapshot: ${JSON.stringify(read())}`, 30_000);
        for (const c of snap.claims) {
          assert.deepEqual([c.state, c.branch, c.ahead, c.base, c.worktreeExists], ['running', `task/${c.id}`, 0, 'side', true]);
        }
        assert.deepEqual(runs(r).map((x) => x[0]).sort(), ids);
        assert.ok(runs(r).every(([id, cwd]) => cwd === path.join(r.root, '.worktrees', id as string)));
      } finally {
        await cli(['stop', `owner=${r.owner}`, `dir=${r.dir}`]);
      }
    });
  });

  test('two owners\' heartbeats on one repository make each worktree once and run each task once', async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `T${i}`);
    await withRepo(Object.fromEntries(ids.map((id) => [`${id}.md`, task(id)])), async (r) => {
      const cmd = recorder(r);
      const owners = [`${r.owner}-a`, `${r.owner}-b`];
      const started = await Promise.all(owners.map((o) => cli(['ensure', `owner=${o}`, `dir=${r.dir}`, 'interval=0.1', 'max=3', cmd])));
      try {
        for (const s of started) assert.equal(s.code, 0, s.stderr);
        // Generous: two heartbeats ticking every 0.1 s share one registry lock and one repository's git, and a
        // git slower than its deadline on a loaded machine holds dispatch until it answers (never a run in the main checkout).
        // On a time-out, what both heartbeats said: the reason nothing ran is in their logs.
        const logs = (): string => owners.map((o) => {
          const file = path.join(r.state, `task-manager-${o}.heartbeat.log`);
          return `\n--- ${o}:\n${fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').slice(-40).join('\n') : '(no log)'}`;
        }).join('');
        await waitUntil(() => runs(r).length >= ids.length || undefined, () => `all ${ids.length} tasks run; runs: ${JSON.stringify(runs(r))}${logs()}`, 90_000);
        const registry = (): Record<string, any> => JSON.parse(fs.readFileSync(path.join(r.state, 'registry.json'), 'utf8')) as Record<string, any>;
        await waitUntil(() => Object.values(registry().claims).every((c: any) => c.state === 'exited') || undefined, 'every run recorded');
        assert.deepEqual(runs(r).map((x) => x[0]).sort(), ids.sort(), 'each task ran once');
        assert.ok(runs(r).every(([id, cwd, branch]) => cwd === path.join(r.root, '.worktrees', id as string) && branch === `task/${id}`));
        assert.ok(Object.values(registry().claims).every((c: any) => c.exitCode === 0), JSON.stringify(registry().claims));
      } finally {
        for (const o of owners) await cli(['stop', `owner=${o}`, `dir=${r.dir}`]);
      }
    });
  });

  test('branch names: task/<slug> for a safe slug, else its safe part and a hash of the slug', () => {
    const cases: [string, RegExp][] = [
      ['A-ONE', /^task\/A-ONE$/], ['v1.2_x', /^task\/v1\.2_x$/], ['my task', /^task\/my-task-[0-9a-f]{8}$/], ['a..b', /^task\/a-b-[0-9a-f]{8}$/],
      ['x.lock', /^task\/x-lock-[0-9a-f]{8}$/], ['.hidden', /^task\/hidden-[0-9a-f]{8}$/], ['a~b^c:d', /^task\/a-b-c-d-[0-9a-f]{8}$/],
      ['é', /^task\/[0-9a-f]{8}$/], ['fix-deadbeef', /^task\/fix-deadbeef-[0-9a-f]{8}$/], ['a'.repeat(252), /^task\/a{60}-[0-9a-f]{8}$/],
    ];
    for (const [slug, branch] of cases) {
      assert.match(branchOf(slug), branch, slug);
      assert.equal(gitIn(os.tmpdir(), 'check-ref-format', '--branch', branchOf(slug)), branchOf(slug));
    }
    // No two slugs share a branch: not x and x.lock, not é and ö, not a slug and one that looks hashed.
    const slugs = ['x', 'x.lock', 'x-lock', 'é', 'ö', 'my task', 'my-task', branchOf('x.lock').slice('task/'.length)];
    assert.equal(new Set(slugs.map(branchOf)).size, slugs.length);
  });
});
