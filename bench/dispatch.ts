// Dispatch benchmark (issue 9): 200 ready tasks with dispatch='true' and max=200. Worktrees off:
// time from the first tick's start to all 200 runs started, next to spawning `sh -c true` 200
// times from node in the same process (target <= 2x). Worktrees on, in a temporary git
// repository: the cost per task of making its worktree, shown apart, and how the tick spreads
// 200 of them over ticks (each tick waits at most 1 s for the worktrees it dispatches into).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prepareWorktree } from '../lib/manager/worktrees.ts';
import { managerTicker } from '../lib/manager/ticker.ts';
import type { Snapshot } from '../lib/manager/tick.ts';
import { benchEnv, median } from './lib-measure.ts';

const N = 200;
const ROUNDS = 3;

function writeTasks(dir: string, n: number): void {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) {
    const id = `BENCH-${String(i).padStart(3, '0')}`;
    fs.writeFileSync(path.join(dir, `${id}.md`), `---\nid: ${id}\ntitle: Dispatch bench task ${i}\nstatus: ready\npriority: p${i % 4}\n---\n## Plan\n- [ ] run\n`);
  }
}

/** Milliseconds to spawn `sh -c true` n times until every child has started (its 'spawn' event), then waits for them to exit. */
async function spawnBaseline(n: number): Promise<number> {
  const t0 = performance.now();
  const children: ChildProcess[] = [];
  const started = Array.from({ length: n }, () => new Promise<void>((resolve, reject) => {
    const child = spawn('sh', ['-c', 'true'], { stdio: 'ignore' });
    child.once('spawn', () => resolve());
    child.once('error', reject);
    children.push(child);
  }));
  await Promise.all(started);
  const ms = performance.now() - t0;
  await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
  return ms;
}

const startedRuns = (s: Snapshot): number => s.claims.filter((c) => c.pid !== null).length;

/** One manager tick over n ready tasks (worktrees off): ms from its start until it returns with every run started. */
async function dispatchOff(n: number): Promise<number> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-bench-dispatch-'));
  const dir = path.join(tmp, 'tasks');
  writeTasks(dir, n);
  const ticker = managerTicker({ owner: 'bench', dir, root: tmp, dispatch: 'true', max: n, escalateAfterS: 7200, env: benchEnv(), once: false, log: () => undefined, now: () => new Date() });
  try {
    const t0 = performance.now();
    const snap = await ticker.tick({ owner: 'bench', dir, pid: process.pid, interval: 30, tick: 1, now: () => new Date() });
    const ms = performance.now() - t0;
    if (startedRuns(snap) !== n) throw new Error(`the first tick started ${startedRuns(snap)} runs, not ${n}`);
    return ms;
  } finally {
    await ticker.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** A temporary git repository with a commit and the tasks folder inside it. */
function gitRepo(n: number): { tmp: string; dir: string } {
  const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-bench-wt-')));
  const git = (...args: string[]): void => { execFileSync('git', args, { cwd: tmp, stdio: 'ignore' }); };
  git('init', '-q', '-b', 'main');
  git('config', 'user.email', 'bench@example.invalid');
  git('config', 'user.name', 'bench');
  // A small project: 50 files, so a checkout costs something but the figure is git's own overhead.
  for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(tmp, `file-${i}.txt`), `line ${i}\n`.repeat(20));
  fs.writeFileSync(path.join(tmp, '.gitignore'), '/.worktrees/\ntasks/logs/\n');
  git('add', '.');
  git('commit', '-q', '-m', 'init');
  const dir = path.join(tmp, 'tasks');
  writeTasks(dir, n);
  return { tmp, dir };
}

/** Ms per worktree made one after another, as prepareWorktree makes them (git worktree add through zx). */
async function worktreeEach(n: number): Promise<number> {
  const { tmp } = gitRepo(0);
  try {
    await prepareWorktree(tmp, 'warm-up', 'main'); // loads zx once
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const p = await prepareWorktree(tmp, `T-${i}`, 'main');
      if (!p.ok) throw new Error(p.reason);
    }
    return (performance.now() - t0) / n;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Ms per `git worktree add` run directly (no shell, no zx): what git itself costs here. */
function worktreeGitAlone(n: number): number {
  const { tmp } = gitRepo(0);
  try {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) execFileSync('git', ['worktree', 'add', '--quiet', '--no-track', '-b', `task/T-${i}`, path.join(tmp, '.worktrees', `T-${i}`), 'main'], { cwd: tmp, stdio: 'ignore' });
    return (performance.now() - t0) / n;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The ticker with worktrees on over n ready tasks: runs started by the first tick, and ticks and ms until all have started. */
async function dispatchOn(n: number): Promise<{ firstTick: number; firstTickMs: number; ticks: number; ms: number }> {
  const { tmp, dir } = gitRepo(n);
  const ticker = managerTicker({ owner: 'bench', dir, root: tmp, repo: tmp, worktrees: true, base: undefined, dispatch: 'true', max: n, escalateAfterS: 7200, env: benchEnv(), once: false, log: () => undefined, now: () => new Date() });
  try {
    const t0 = performance.now();
    let tick = 0;
    let first = { started: 0, ms: 0 };
    for (;;) {
      const snap = await ticker.tick({ owner: 'bench', dir, pid: process.pid, interval: 30, tick: ++tick, now: () => new Date() });
      if (tick === 1) first = { started: startedRuns(snap), ms: performance.now() - t0 };
      const failed = snap.claims.filter((c) => c.pid === null);
      if (failed.length) throw new Error(`${failed.length} runs did not start: ${failed[0]?.note}`);
      if (startedRuns(snap) === n) return { firstTick: first.started, firstTickMs: first.ms, ticks: tick, ms: performance.now() - t0 };
      if (tick > 50) throw new Error(`only ${startedRuns(snap)} of ${n} runs started after 50 ticks`);
    }
  } finally {
    await ticker.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

console.log(`dispatch benchmark, node ${process.version}, ${os.cpus().length} cpus, ${N} ready tasks, dispatch='true', max=${N}`);
const base: number[] = [];
const off: number[] = [];
await spawnBaseline(20); // warm the spawn path once
for (let r = 0; r < ROUNDS; r++) {
  base.push(await spawnBaseline(N));
  off.push(await dispatchOff(N));
}
const ratio = median(off) / median(base);
console.log(`worktrees off: first tick to all ${N} runs started ${median(off).toFixed(0)} ms (median of ${ROUNDS}); ${N} x sh -c true from node ${median(base).toFixed(0)} ms; ratio ${ratio.toFixed(2)} vs <= 2: ${ratio <= 2 ? 'met' : 'MISSED'}`);
const each = await worktreeEach(40);
const alone = worktreeGitAlone(40);
console.log(`worktree creation: ${each.toFixed(1)} ms per task, one after another (git worktree add through zx, 50-file repository; git alone ${alone.toFixed(1)} ms)`);
const on = await dispatchOn(N);
console.log(`worktrees on: the first tick started ${on.firstTick} of ${N} runs in ${on.firstTickMs.toFixed(0)} ms (it waits at most 1 s for worktrees); all ${N} started after ${on.ticks} ticks (${on.ms.toFixed(0)} ms of ticking, ${(on.ms / N).toFixed(1)} ms per task)`);
