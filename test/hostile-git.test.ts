import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { alive, cli, killAll, pidsMentioning, runPids, serveBare, sleep, uniqueOwner, waitUntil, waitUntilAsync, commitAll, makeRepo } from './helpers.ts';

/** The real git, by absolute path: the fake gits below hand it every command they do not sabotage. */
const REAL_GIT = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();

/**
 * A real repository (one commit on main, the tasks folder inside it), a folder for fake gits
 * and one for what the dispatched runs record, all under one temp root.
 */
interface Repo { root: string; repo: string; dir: string; out: string; bin: string; owner: string; state: string; marker: string }

function gitIn(cwd: string, ...args: string[]): string {
  return execFileSync(REAL_GIT, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function task(id: string, fields: Record<string, string> = {}): string {
  const lines = Object.entries({ id, title: `Task ${id}`, status: 'ready', ...fields }).map(([k, v]) => `${k}: ${v}`);
  return `---\n${lines.join('\n')}\n---\n## Plan\n- [ ] do it\n`;
}

async function withRepo(files: Record<string, string>, fn: (r: Repo) => Promise<void>): Promise<void> {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-hostile-git-')));
  const repo = path.join(root, 'repo');
  const dir = path.join(repo, 'tasks');
  const r: Repo = {
    root, repo, dir, out: path.join(root, 'out'), bin: path.join(root, 'bin'), owner: uniqueOwner('hg'), state: path.join(dir, 'logs', 'task_manager'),
    // Every sleep a fake git starts carries this in its argv (a unique fraction of a second), so the test can find and kill it.
    marker: `99999.${crypto.randomInt(1e8, 1e9)}`,
  };
  for (const d of [dir, r.out, r.bin]) fs.mkdirSync(d, { recursive: true });
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  makeRepo(repo, '/.worktrees/\ntasks/logs/\n', REAL_GIT);
  commitAll(repo, 'init', REAL_GIT);
  try {
    await fn(r);
  } finally {
    await killAll(root, [...runPids(root), ...pidsMentioning(r.marker)]);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** Puts a fake `git` in r.bin: `sabotage` is shell code run first (it may exit); anything it lets through goes to the real git. */
function fakeGit(r: Repo, sabotage: string): Record<string, string> {
  fs.writeFileSync(path.join(r.bin, 'git'), `#!/bin/sh\n${sabotage}\nexec "${REAL_GIT}" "$@"\n`, { mode: 0o755 });
  return { PATH: `${r.bin}:${process.env.PATH ?? ''}` };
}

/** A dispatch command that appends the task id and the folder it runs in to out/runs.txt (outside the repository). */
function recorder(r: Repo): string {
  const script = path.join(r.out, 'record.sh');
  fs.writeFileSync(script, `#!/bin/sh\necho "$TASK_ID|$(pwd)|$("${REAL_GIT}" branch --show-current 2>/dev/null)" >> "${r.out}/runs.txt"\n`, { mode: 0o755 });
  return `dispatch=${script}`;
}

function runs(r: Repo): string[][] {
  const file = path.join(r.out, 'runs.txt');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split('|')) : [];
}

function snapshot(r: Repo): Record<string, any> | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(r.state, `task-manager-${r.owner}.snapshot.json`), 'utf8')) as Record<string, any>;
  } catch {
    return undefined; // not written yet
  }
}

function registryClaims(r: Repo): Record<string, any>[] {
  const file = path.join(r.state, 'registry.json');
  return fs.existsSync(file) ? Object.values((JSON.parse(fs.readFileSync(file, 'utf8')) as { claims: Record<string, any> }).claims) : [];
}

function heartbeatLog(r: Repo): string {
  const file = path.join(r.state, `task-manager-${r.owner}.heartbeat.log`);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}

/** Every claim names a worktree that exists (a claim never points at a folder that was not made). */
function assertClaimsTrue(r: Repo): void {
  for (const c of registryClaims(r)) assert.ok(fs.existsSync(c.worktree), `claim of ${c.id} names ${c.worktree}, which was never made`);
}

describe('a hanging or failing git', () => {
  test('git that hangs on rev-parse: the heartbeat keeps ticking, escalates the task, and never runs it in the main checkout', async () => {
    await withRepo({ 'A.md': task('A') }, async (r) => {
      const env = fakeGit(r, `[ "$1" = rev-parse ] && exec sleep ${r.marker}`);
      const ensured = await cli(['ensure', `owner=${r.owner}`, `dir=${r.dir}`, 'interval=0.2', recorder(r)], { env: { ...process.env as Record<string, string>, ...env } });
      assert.equal(ensured.code, 0, ensured.stderr);
      // git is killed at its deadline (10 s): the task is escalated with git's reason, and asked about again.
      const escalated = await waitUntil(() => snapshot(r)?.escalations?.find((e: { id: string }) => e.id === 'A'), `A escalated; snapshot: ${JSON.stringify(snapshot(r))}`, 40_000);
      assert.equal(escalated.reason, `git failed: git rev-parse took longer than 10 s and was killed; check the git on PATH (${path.join(r.bin, 'git')}) and its hooks`);
      // Ticks go on while git hangs: the heartbeat is running, never stuck.
      const tick = snapshot(r)?.tick as number;
      await waitUntil(() => (snapshot(r)?.tick ?? 0) >= tick + 3, `three more ticks after tick ${tick}`);
      const status = await cli(['status', `owner=${r.owner}`, `dir=${r.dir}`, '--json']);
      assert.equal(status.code, 0, status.stdout);
      assert.equal(JSON.parse(status.stdout).heartbeat.state, 'running');
      assert.deepEqual(runs(r), [], 'nothing ran, least of all in the main checkout');
      assert.deepEqual(registryClaims(r), [], 'no claim');
      assert.equal(heartbeatLog(r).match(/git failed: git rev-parse took longer than 10 s/g)?.length, 1, `said once in the log:\n${heartbeatLog(r)}`);
      // Stopping it while git hangs (what a watchdog does to a stuck heartbeat) makes no fallback either.
      const stopped = await cli(['stop', `owner=${r.owner}`, `dir=${r.dir}`]);
      assert.equal(stopped.code, 0, stopped.stderr);
      await waitUntil(() => pidsMentioning(r.marker).length === 0, `the hanging git (${pidsMentioning(r.marker).join(', ')}) to be gone after stop`);
      assert.deepEqual(runs(r), []);
      assertClaimsTrue(r);
      assert.deepEqual(registryClaims(r), []);
    });
  });

  test('git that exits 128 "dubious ownership": escalated with git\'s line, logged, not dispatched; prune refuses', async () => {
    await withRepo({ 'A.md': task('A', { priority: 'p1' }), 'B.md': task('B', { priority: 'p2' }) }, async (r) => {
      const env = { ...process.env as Record<string, string>, ...fakeGit(r, `case "$PWD" in "${r.repo}"*) echo "fatal: detected dubious ownership in repository at '$PWD'" >&2; echo "To add an exception for this directory, call:" >&2; exit 128;; esac`) };
      for (let i = 0; i < 2; i++) {
        const res = await cli(['heartbeat', `owner=${r.owner}`, `dir=${r.dir}`, '--once', recorder(r)], { env });
        assert.equal(res.code, 0, res.stderr);
        // A foreground heartbeat logs to its stdout: one line says why nothing goes out.
        assert.equal(res.stdout.match(/git failed: detected dubious ownership in repository at '[^']+'; run: git config --global --add safe.directory '[^']+'; no task is dispatched until git answers/g)?.length, 1, res.stdout);
        const snap = snapshot(r) as Record<string, any>;
        // Only the task this tick would have dispatched (max=1) is held back by git.
        assert.deepEqual(snap.escalations.map((e: { id: string; reason: string }) => [e.id, e.reason]), [['A', `git failed: detected dubious ownership in repository at '${r.dir}'; run: git config --global --add safe.directory '${r.dir}'`]]);
        assert.deepEqual(snap.claims, []);
      }
      assert.deepEqual(runs(r), [], 'never run in the main checkout');
      assert.deepEqual(registryClaims(r), []);
      const pruned = await cli(['prune', `owner=${r.owner}`, `dir=${r.dir}`], { env });
      assert.equal(pruned.code, 1);
      assert.match(pruned.stderr, /git failed: detected dubious ownership in repository at .*; nothing was pruned/);
      // Once git answers again, the task goes out in its worktree.
      const res = await cli(['heartbeat', `owner=${r.owner}`, `dir=${r.dir}`, '--once', recorder(r)]);
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(runs(r), [['A', path.join(r.repo, '.worktrees', 'A'), 'task/A']]);
      assertClaimsTrue(r);
    });
  });

  test('worktrees=on and a git that fails, then says "not a git repository": nothing is dispatched, least of all in the main checkout', async () => {
    await withRepo({ 'A.md': task('A') }, async (r) => {
      const asked = path.join(r.out, 'asked-once');
      // The heartbeat's first ask (at start) fails; every later one says there is no repository.
      const env = { ...process.env as Record<string, string>, ...fakeGit(r, `if [ "$1" = rev-parse ]; then if [ -e "${asked}" ]; then echo "fatal: not a git repository (or any of the parent directories): .git" >&2; exit 128; fi; touch "${asked}"; echo "fatal: detected dubious ownership in repository at '$PWD'" >&2; exit 128; fi`) };
      const res = await cli(['heartbeat', `owner=${r.owner}`, `dir=${r.dir}`, '--once', '--json', 'worktrees=on', recorder(r)], { env });
      assert.equal(res.code, 0, res.stderr);
      assert.ok(fs.existsSync(asked), 'the fake git was asked');
      assert.deepEqual(runs(r), [], 'nothing ran, least of all in the main checkout');
      const snap = JSON.parse(res.stdout) as Record<string, any>;
      assert.deepEqual(snap.claims, []);
      assert.deepEqual(snap.escalations.map((e: { id: string; reason: string }) => [e.id, e.reason]), [['A', `git failed: worktrees=on, but ${r.dir} is not inside a git repository; run git init there, or pass worktrees=off`]]);
    });
  });

  test('a git wrapper that leaves a sleep holding its output does not hold the tick', async () => {
    await withRepo({ 'A.md': task('A') }, async (r) => {
      const env = { ...process.env as Record<string, string>, ...fakeGit(r, `sleep ${r.marker} &`) };
      const res = await cli(['heartbeat', `owner=${r.owner}`, `dir=${r.dir}`, '--once', recorder(r)], { env, timeoutMs: 60_000 });
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(runs(r), [['A', path.join(r.repo, '.worktrees', 'A'), 'task/A']]);
      assertClaimsTrue(r);
    });
  });

  test('serve exits on SIGTERM while the `git remote get-url` it started hangs', async () => {
    await withRepo({ 'A.md': task('A', { status: 'todo', pr: '12' }) }, async (r) => {
      const env = { ...process.env as Record<string, string>, ...fakeGit(r, `[ "$1" = remote ] && [ "$2" = get-url ] && exec sleep ${r.marker}`) };
      const extra: number[] = [];
      const { s, base } = await serveBare({ root: r.root, dir: r.dir, owner: r.owner, extra }, [], env);
      const pid = s.child.pid as number;
      // The remote is asked for once a page needs a PR link (A's `pr: 12`).
      await waitUntilAsync(async () => {
        await fetch(`${base}/api/tasks`).then((res) => res.text(), () => '');
        return pidsMentioning(r.marker).length > 0;
      }, 'the fake git to hang on remote get-url', 30_000);
      // Only the server's own pid is signalled (as `kill <pid>` or a supervisor would), not its group.
      process.kill(pid, 'SIGTERM');
      await waitUntil(() => !alive(pid), `serve (pid ${pid}) to exit after SIGTERM; output: ${s.output()}`, 15_000);
      assert.match(s.output(), /tasks server stopped \(SIGTERM\)/);
    });
  });
});

describe('two heartbeats make one worktree', () => {
  test('a worktree another heartbeat is half-way through making is waited for: the task runs once, and is never failed', async () => {
    await withRepo({ 'T0.md': task('T0') }, async (r) => {
      const wt = path.join(r.repo, '.worktrees', 'T0');
      const flag = (name: string): string => path.join(r.out, name);
      // Heartbeat "slow" does what git's own add does (the branch, the folder, then the .git file
      // and the checkout), with the gap held open until the test says go. Heartbeat "fast" marks
      // when it looks up the branch to start from: right before it looks at the worktree's folder.
      const env = fakeGit(r, [
        `if [ "$ROLE" = slow ] && [ "$1" = worktree ] && [ "$2" = add ] && [ "$5" = -b ]; then`,
        `  "${REAL_GIT}" branch --no-track "$6" "$8" && mkdir -p "$7" && touch "${flag('slow-half')}" || exit 1`,
        `  i=0; while [ ! -e "${flag('go')}" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done`,
        `  exec "${REAL_GIT}" worktree add --quiet "$7" "$6"`,
        `fi`,
        `[ "$ROLE" = fast ] && [ "$1" = symbolic-ref ] && touch "${flag('fast-head')}"`,
      ].join('\n'));
      const base = { ...process.env as Record<string, string>, ...env };
      const owners = { slow: `${r.owner}-slow`, fast: `${r.owner}-fast` };
      const slow = cli(['heartbeat', `owner=${owners.slow}`, `dir=${r.dir}`, '--once', recorder(r)], { env: { ...base, ROLE: 'slow' }, timeoutMs: 90_000 });
      await waitUntil(() => fs.existsSync(flag('slow-half')) || undefined, 'the slow add to be half-way', 30_000);
      assert.deepEqual(fs.readdirSync(wt), [], 'half-made: a folder without its .git file');
      const fast = cli(['heartbeat', `owner=${owners.fast}`, `dir=${r.dir}`, '--once', recorder(r)], { env: { ...base, ROLE: 'fast' }, timeoutMs: 90_000 });
      await waitUntil(() => fs.existsSync(flag('fast-head')) || undefined, 'the fast heartbeat to prepare T0', 30_000);
      // Time for the fast heartbeat to look at the half-made folder (it does right after); on a
      // machine too slow for that, it finds the worktree made and the test proves less, never wrongly.
      await sleep(1500);
      fs.writeFileSync(flag('go'), '');
      const done = await Promise.all([slow, fast]);
      for (const d of done) assert.equal(d.code, 0, d.stderr);
      const claims = registryClaims(r);
      assert.equal(claims.length, 1, JSON.stringify(claims));
      assert.equal(claims[0]?.exitCode, 0, `never failed for a folder the other heartbeat was making: ${JSON.stringify(claims)}`);
      assert.deepEqual(runs(r), [['T0', wt, 'task/T0']], 'run once, in its worktree');
      assertClaimsTrue(r);
    });
  });
});

describe('a stopped daemon leaves no git behind', () => {
  test('stop kills a heartbeat that ignores SIGTERM, and the git it left hanging in a group of its own', async () => {
    await withRepo({}, async (r) => {
      // A stand-in heartbeat (it carries the marker stop looks for) that ignores SIGTERM and has a
      // bounded git child hanging in a process group of its own, as lib/base/bounded.ts starts them.
      const child = spawn(process.execPath, ['-e', `
        const c = require('child_process').spawn('sleep', ['${r.marker}'], { detached: true, stdio: 'ignore', env: { ...process.env, TASKS_BOUNDED_CHILD: String(process.pid) } });
        process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); console.log('ready ' + c.pid);`, 'heartbeat', `owner=${r.owner}`, `dir=${r.dir}`], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
      child.unref();
      const pid = child.pid as number;
      const sleeper = Number(String(await new Promise((res) => child.stdout?.once('data', res))).trim().split(' ')[1]);
      child.stdout?.destroy();
      try {
        assert.ok(alive(sleeper), 'the hanging git stand-in runs');
        const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        fs.mkdirSync(r.state, { recursive: true });
        fs.writeFileSync(path.join(r.state, `task-manager-${r.owner}.heartbeat.pid`), `${pid}\nstarttime=${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}\nboot=${boot}\n`);
        const stopped = await cli(['stop', `owner=${r.owner}`, `dir=${r.dir}`], { timeoutMs: 30_000 });
        assert.equal(stopped.code, 0, stopped.stderr);
        assert.match(stopped.stdout, /ignored SIGTERM and was killed after the 5 s grace/);
        await waitUntil(() => !alive(sleeper), `the git (pid ${sleeper}) the killed heartbeat left to be ended`);
      } finally {
        await killAll(r.root, [pid, sleeper]);
      }
    });
  });
});

describe('branch and worktree names', () => {
  test('x and x.lock, é and ö get four different branches and worktrees, each run on its own', async () => {
    const slugs = ['x', 'x.lock', 'é', 'ö'];
    await withRepo(Object.fromEntries(slugs.map((s) => [`${s}.md`, task(`T-${slugs.indexOf(s)}`)])), async (r) => {
      const res = await cli(['heartbeat', `owner=${r.owner}`, `dir=${r.dir}`, '--once', '--json', 'max=4', recorder(r)]);
      assert.equal(res.code, 0, res.stderr);
      const snap = JSON.parse(res.stdout) as Record<string, any>;
      const done = runs(r);
      assert.equal(done.length, 4, JSON.stringify(done));
      assert.equal(new Set(done.map((x) => x[1])).size, 4, `four worktrees: ${JSON.stringify(done)}`);
      assert.equal(new Set(done.map((x) => x[2])).size, 4, `four branches: ${JSON.stringify(done)}`);
      for (const [id, cwd, branch] of done) {
        const c = snap.claims.find((k: { id: string }) => k.id === id);
        assert.deepEqual([c.worktree, c.branch, c.exitCode], [cwd, branch, 0], `${id} ran in its own worktree, on its own branch`);
        assert.equal(path.dirname(cwd as string), path.join(r.repo, '.worktrees'));
        assert.match(path.basename(cwd as string), /^[A-Za-z0-9._-]+$/, 'a plain folder name');
        assert.equal(gitIn(r.repo, 'check-ref-format', '--branch', branch as string), branch);
      }
      assert.deepEqual(done.filter((x) => x[0] === 'T-0').map((x) => x.slice(1)), [[path.join(r.repo, '.worktrees', 'x'), 'task/x']], 'a safe slug keeps its own name');
      assertClaimsTrue(r);
    });
  });
});

describe('prune', () => {
  test('a worktree whose run committed on a detached HEAD is kept, and the commit stays reachable', async () => {
    await withRepo({ 'D7.md': task('D7'), 'D8.md': task('D8') }, async (r) => {
      // D7 commits on a detached HEAD; D8 detaches without committing (its HEAD is on main).
      const script = path.join(r.out, 'detach.sh');
      fs.writeFileSync(script, `#!/bin/sh\ngit checkout -q --detach\n[ "$TASK_ID" = D7 ] || exit 0\necho work > work.txt\ngit add work.txt\ngit commit -q -m "work of D7"\ngit rev-parse HEAD > "${r.out}/sha-D7"\n`, { mode: 0o755 });
      const res = await cli(['heartbeat', `owner=${r.owner}`, `dir=${r.dir}`, '--once', `dispatch=${script}`, 'max=2']);
      assert.equal(res.code, 0, res.stderr);
      const sha = fs.readFileSync(path.join(r.out, 'sha-D7'), 'utf8').trim();
      for (const id of ['D7', 'D8']) fs.writeFileSync(path.join(r.dir, `${id}.md`), task(id, { status: 'completed' }));
      const pruned = await cli(['prune', `owner=${r.owner}`, `dir=${r.dir}`]);
      assert.equal(pruned.code, 0, pruned.stderr);
      assert.deepEqual(pruned.stdout.trim().split('\n').sort(), [
        `kept .worktrees/D7: its HEAD ${sha.slice(0, 7)} is on no branch or tag and not in main; merge it or put it on a branch, then prune again`,
        'removed .worktrees/D8 (task D8 completed); deleted branch task/D8 (merged into main)',
      ]);
      assert.ok(fs.existsSync(path.join(r.repo, '.worktrees', 'D7', 'work.txt')), 'the worktree stays');
      assert.equal(gitIn(r.repo, 'rev-parse', '--verify', `${sha}^{commit}`), sha);
      assert.match(gitIn(r.repo, 'worktree', 'list', '--porcelain'), new RegExp(`^HEAD ${sha}$`, 'm'), 'still reachable: a worktree\'s HEAD');
      assert.ok(gitIn(r.repo, 'branch', '--list', 'task/D7'), 'the branch of a kept worktree is kept too');
      // Put on a branch, the same work can go.
      gitIn(path.join(r.repo, '.worktrees', 'D7'), 'switch', '-q', '-c', 'keep-d7');
      const again = await cli(['prune', `owner=${r.owner}`, `dir=${r.dir}`]);
      assert.match(again.stdout, /^removed \.worktrees\/D7 \(task D7 completed\)$/m);
      assert.equal(gitIn(r.repo, 'rev-parse', 'keep-d7'), sha);
    });
  });

  test('a worktree an older heartbeat named after the slug (.worktrees/é on task/-) is still found and pruned', async () => {
    await withRepo({ 'é.md': task('E', { status: 'completed' }) }, async (r) => {
      gitIn(r.repo, 'worktree', 'add', '-q', '-b', 'task/-', path.join(r.repo, '.worktrees', 'é'), 'main');
      const pruned = await cli(['prune', `owner=${r.owner}`, `dir=${r.dir}`]);
      assert.equal(pruned.code, 0, pruned.stderr);
      // Its branch is not the task's name now and no claim recorded it: it is left to the operator.
      assert.equal(pruned.stdout.trim(), 'removed .worktrees/é (task E completed)');
      assert.ok(!fs.existsSync(path.join(r.repo, '.worktrees', 'é')));
      assert.ok(gitIn(r.repo, 'branch', '--list', 'task/-'));
    });
  });
});
