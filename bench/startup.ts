// Startup benchmark, in one run:
// - `just tasks serve` to the first HTTP 200 at 5, 700 and 10,000 generated tasks, each with a
//   previous build on disk (an untimed round makes it), with the heartbeat already running (warm)
//   and not running (cold), each round next to a bare node http server. Targets (issue 12): at 700
//   tasks warm <= 2x and cold <= 3x the bare server; at 10,000 warm <= 2x.
// - the whole-process time of one `status` call through each way in, from paired runs that take
//   turns with their baseline: the bundle, the just binary, `npm run` and `npx zx` against
//   `node -e 0`; `npx just` against `npx --no-install node -e 0` (issue 7).
//   Targets: `node dist/tasks.mjs status` <= 1.3x (issue 19), `npx just tasks status` <= 1.4x.
// BENCH_ONLY=status runs the status rows alone, against a heartbeat started for them.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import { generateTasks } from './generate.ts';
import { BUNDLE, ROOT, benchEnv, cliCommand, median, staleSource, wallMs } from './lib-measure.ts';

const JUST = path.join(ROOT, 'node_modules', 'rust-just-linux-x64', 'bin', 'just');
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
/** The sizes timed, and the targets (warm, cold) of each as a ratio to the bare server. */
const SIZES: readonly { n: number; warm?: number; cold?: number }[] = [{ n: 5 }, { n: 700, warm: 2, cold: 3 }, { n: 10_000, warm: 2 }];
const STATUS_RUNS = Number(process.env.BENCH_STATUS_RUNS ?? 15);
const STATUS_ONLY = process.env.BENCH_ONLY === 'status';
const env = benchEnv();

function ok(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => { res.resume(); resolve(res.statusCode === 200); });
    req.on('error', () => resolve(false));
    req.setTimeout(500, () => { req.destroy(); resolve(false); });
  });
}

/** Spawns cmd in its own group, polls url until 200, returns ms, then stops the group. */
async function timeTo200(cmd: string, args: string[], url: string): Promise<number> {
  const t0 = performance.now();
  const child: ChildProcess = spawn(cmd, args, { cwd: ROOT, env, stdio: 'ignore', detached: true });
  const exited = new Promise((r) => child.on('exit', r));
  try {
    for (;;) {
      if (await ok(url)) return performance.now() - t0;
      if (performance.now() - t0 > 20_000) throw new Error(`${cmd} ${args.join(' ')}: no 200 from ${url} within 20 s`);
      await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    process.kill(-(child.pid as number), 'SIGTERM');
    await exited;
  }
}

function cliSync(args: string[]): void {
  const r = spawnSync(process.execPath, [...cliCommand(), ...args], { cwd: ROOT, env, encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 3) throw new Error(`tasks ${args.join(' ')} failed: ${r.stderr}`);
}

interface ServeRows { bare: number[]; warm: number[]; cold: number[] }

/** The ready line: printed once the heartbeat is up and the pages are current. */
function untilServing(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += String(c);
      if (!out.includes('serving tasks')) return;
      process.kill(-(child.pid as number), 'SIGTERM');
      resolve();
    });
    child.on('exit', () => reject(new Error(`${args.join(' ')} ended before its ready line: ${out}`)));
  });
}

/**
 * Per round: the bare server, serve with the heartbeat running, then serve after `stop`. Each
 * timed serve is stopped at its first 200; the build it started (nothing to write but the
 * heartbeat's state) is cut short, and the next one finds the files on disk again.
 */
async function serveRows(owner: string, dir: string): Promise<ServeRows> {
  const bare = "require('http').createServer((q,r)=>r.end('ok')).listen(Number(process.argv[1]),'127.0.0.1')";
  const rows: ServeRows = { bare: [], warm: [], cold: [] };
  const serve = async (): Promise<number> => {
    const port = await getPort({ host: '127.0.0.1' });
    return timeTo200(JUST, ['tasks', 'serve', `owner=${owner}`, `dir=${dir}`, `port=${port}`], `http://127.0.0.1:${port}/`);
  };
  // Warm means a heartbeat that has been running: one started by the last serve is let finish its
  // first tick (a full scan, seconds at 10,000 tasks) before the next round, as it would long have.
  const snapshot = path.join(dir, 'logs', 'task_manager', `task-manager-${owner}.snapshot.json`);
  const settled = async (since: number): Promise<void> => {
    for (let t0 = Date.now(); (fs.statSync(snapshot, { throwIfNoEntry: false })?.mtimeMs ?? 0) < since; await new Promise((r) => setTimeout(r, 50))) {
      if (Date.now() - t0 > 60_000) throw new Error(`the heartbeat of ${owner} wrote no snapshot within 60 s`);
    }
  };
  // One untimed round to its ready line: the previous build every timed round finds, a running
  // heartbeat, and warm OS file caches.
  let since = Date.now();
  await untilServing(JUST, ['tasks', 'serve', `owner=${owner}`, `dir=${dir}`, `port=${await getPort({ host: '127.0.0.1' })}`]);
  await settled(since);
  for (let i = 0; i < RUNS; i++) {
    const pb = await getPort({ host: '127.0.0.1' });
    rows.bare.push(await timeTo200(process.execPath, ['-e', bare, String(pb)], `http://127.0.0.1:${pb}/`));
    rows.warm.push(await serve());
    cliSync(['stop', `owner=${owner}`, `dir=${dir}`]);
    since = Date.now();
    rows.cold.push(await serve());
    await settled(since);
  }
  return rows;
}

interface Way { readonly name: string; readonly cmd: string; readonly args: readonly string[]; readonly codes: readonly number[]; readonly base?: string; readonly target?: number }

/**
 * One `status` through each way in, STATUS_RUNS rounds. Each round runs every way once, in an
 * order that rotates from round to round, so a way and its baseline always run close together
 * and none of them always runs first; a way's ratio is the median of its per-round ratios.
 */
async function statusRows(owner: string, dir: string): Promise<string[]> {
  const st = ['status', `owner=${owner}`, `dir=${dir}`];
  // status exits 0 running, 3 stopped, 4 stuck: each is a complete answer.
  const codes = [0, 3, 4];
  const ways: Way[] = [
    { name: 'node -e 0', cmd: process.execPath, args: ['-e', '0'], codes: [0] },
    { name: 'npx --no-install node -e 0', cmd: 'npx', args: ['--no-install', 'node', '-e', '0'], codes: [0] },
    { name: 'node dist/tasks.mjs status', cmd: process.execPath, args: [BUNDLE, ...st], codes, base: 'node -e 0', target: 1.3 },
    { name: 'just tasks status (binary)', cmd: JUST, args: ['tasks', ...st], codes, base: 'node -e 0' },
    { name: 'npm run --silent tasks -- status', cmd: 'npm', args: ['run', '--silent', 'tasks', '--', ...st], codes, base: 'node -e 0' },
    { name: 'npx zx scripts/tasks-serve.ts status', cmd: 'npx', args: ['zx', 'scripts/tasks-serve.ts', ...st], codes, base: 'node -e 0' },
    { name: 'npx just tasks status', cmd: 'npx', args: ['just', 'tasks', ...st], codes, base: 'npx --no-install node -e 0', target: 1.4 },
  ];
  const times = new Map<string, number[]>(ways.map((w) => [w.name, []]));
  for (const w of ways) await wallMs(w.cmd, w.args, w.codes, env); // untimed: warms the file cache
  for (let r = 0; r < STATUS_RUNS; r++) {
    for (let k = 0; k < ways.length; k++) {
      const w = ways[(r + k) % ways.length] as Way;
      times.get(w.name)?.push(await wallMs(w.cmd, w.args, w.codes, env));
    }
  }
  return ways.map((w) => {
    const xs = times.get(w.name) ?? [];
    let tail = '';
    if (w.base) {
      const base = times.get(w.base) ?? [];
      const ratio = median(xs.map((x, i) => x / (base[i] as number)));
      const verdict = w.target === undefined ? '' : `  target <= ${w.target}x: ${ratio <= w.target ? 'met' : 'MISSED'}`;
      tail = `  ${ratio.toFixed(2)}x ${w.base}${verdict}`;
    }
    return `${w.name.padEnd(38)} median ${median(xs).toFixed(0).padStart(5)} ms  (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})${tail}`;
  });
}

/** The status rows alone: this repository's tasks, with a heartbeat started (and stopped) for them. */
async function statusAlone(): Promise<string[]> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-bench-'));
  const dir = path.join(tmp, 'tasks');
  fs.cpSync(path.join(ROOT, 'tasks'), dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}logs`) });
  const owner = `bench-${process.pid}-status`;
  try {
    cliSync(['ensure', `owner=${owner}`, `dir=${dir}`]);
    return await statusRows(owner, dir);
  } finally {
    cliSync(['stop', `owner=${owner}`, `dir=${dir}`]);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (!fs.existsSync(BUNDLE)) throw new Error('dist/tasks.mjs is missing: run `npm ci` (its prepare step builds it) first');
  const stale = staleSource();
  console.log(`startup benchmark, node ${process.version}, ${os.cpus().length} cpus, load average ${os.loadavg()[0]?.toFixed(2)}`);
  if (stale) console.log(`NOTE: ${stale} is newer than dist/tasks.mjs, so the bundle hands over to the sources through tsx and its figures measure that; rebuild with \`node scripts/prepare.mjs\``);
  let status: string[] = [];
  if (STATUS_ONLY) status = await statusAlone();
  else console.log(`first HTTP 200 with a previous build on disk, ${RUNS} runs each; a ratio is the median of each run's time over the bare server's of the same round:`);
  for (const size of STATUS_ONLY ? [] : SIZES) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-bench-'));
    const dir = path.join(tmp, 'tasks');
    if (size.n === 5) fs.cpSync(path.join(ROOT, 'tasks'), dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}logs`) });
    else generateTasks(dir, size.n);
    const owner = `bench-${process.pid}-${size.n}`;
    try {
      const rows = await serveRows(owner, dir);
      const line = (name: string, xs: number[], target?: number): string => {
        const ratio = median(xs.map((x, i) => x / (rows.bare[i] as number)));
        const verdict = target === undefined ? '' : `  target <= ${target}x: ${ratio <= target ? 'met' : 'MISSED'}`;
        return `  ${name.padEnd(36)} median ${median(xs).toFixed(0).padStart(5)} ms  (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})  ${ratio.toFixed(2)}x bare${verdict}`;
      };
      const count = size.n === 5 ? `${fs.readdirSync(dir).filter((f) => f.endsWith('.md')).length} tasks (this repository's)` : `${size.n.toLocaleString('en')} tasks`;
      console.log(count);
      console.log(line('bare node http server', rows.bare));
      console.log(line('just tasks serve (heartbeat warm)', rows.warm, size.warm));
      console.log(line('just tasks serve (heartbeat cold)', rows.cold, size.cold));
      // The last cold serve left the heartbeat running: status reports a live heartbeat and its tick.
      if (size.n === 5) status = await statusRows(owner, dir);
    } finally {
      cliSync(['stop', `owner=${owner}`, `dir=${dir}`]);
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  console.log(`one status call, whole process, ${STATUS_RUNS} paired rounds (heartbeat running):`);
  for (const row of status) console.log(row);
}

await main();
