// Scale benchmark (issue 19): 50,000 generated tasks and one 100 MB task file, served cold (no build
// on disk) with the heartbeat. Prints, without asserting, beside the targets: the peak RSS (VmHWM) of
// the server and of the heartbeat once every page is on disk, the time from spawn to the first useful
// page (the first 200 of `/` that lists tasks, not the "being built" page), to a task page, to the
// URL line and to every page built (`/api/health` build `current`), the bytes of `/api/tasks`, the
// huge task's page, and the server's peak RSS within each of those phases (where the peak happens).
//   BENCH_SCALE_TASKS=10000   another number of tasks (700 and 10,000: issue 19's memory rows)
//   BENCH_SCALE_HUGE_MB=0     no huge task file (default 100)
//   BENCH_BUNDLE=<tasks.mjs>  run another bundle (a copy of dist/: a rebuild of this checkout's dist/ under a running server breaks its lazy chunks)
//   BENCH_NODE_FLAGS='--max-semi-space-size=2'  node flags for the server (with MALLOC_ARENA_MAX=2 in the environment: docs/operations.md's memory settings)
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import { generateTasks, writeHugeTask } from './generate.ts';
import { ROOT, benchEnv, cliCommand, endServe, staleSource, until } from './lib-measure.ts';
import { get, peakMb, pidIn } from './lib-proc.ts';
import { RssTrace } from './lib-rss.ts';

const TASKS = Number(process.env.BENCH_SCALE_TASKS ?? 50_000);
const HUGE_BYTES = Number(process.env.BENCH_SCALE_HUGE_MB ?? 100) * 1024 * 1024;
const BUNDLE = process.env.BENCH_BUNDLE;
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
/** Cold starts at 50,000 tasks took 23-60 s to the first useful page before issue 19: generous, so a slow machine still reports. */
const DEADLINE_MS = 300_000;
/** Issue 19's targets at 50,000 tasks. */
const TARGET_SERVER_MB = 300;
const TARGET_FIRST_S = 5;

const mb = (n: number): string => `${n.toFixed(0)} MB`;
const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const load = (): string => os.loadavg().map((l) => l.toFixed(1)).join(' ');

async function main(): Promise<void> {
  const stale = BUNDLE === undefined ? staleSource() : undefined;
  if (stale !== undefined) console.log(`note: ${stale} is newer than dist/: the bundle runs the sources through tsx (npm run prepare rebuilds it)`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-scale-'));
  const dir = path.join(tmp, 'tasks');
  const owner = `bench-scale-${process.pid}`;
  const env = benchEnv();
  delete env.TASK_MANAGER_DISPATCH; // measured without agents: nothing is dispatched
  let serve: ChildProcess | undefined;
  try {
    const g0 = performance.now();
    generateTasks(dir, TASKS);
    if (HUGE_BYTES > 0) writeHugeTask(path.join(dir, 'HUGE-1.md'), '---\nid: HUGE-1\ntitle: Huge task\nstatus: backlog\n---\n', HUGE_BYTES);
    const huge = HUGE_BYTES > 0 ? ` + one ${HUGE_BYTES / 1024 / 1024} MB task file` : '';
    console.log(`scale: ${TASKS} generated tasks${huge}, written in ${s(performance.now() - g0)}; cold start (no build on disk), heartbeat on${BUNDLE ? `; bundle ${BUNDLE}` : ''}${NODE_FLAGS.length ? `; node ${NODE_FLAGS.join(' ')}` : ''}${process.env.MALLOC_ARENA_MAX ? `; MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX}` : ''}; load average ${load()}`);

    const port = await getPort({ host: '127.0.0.1' });
    const base = `http://127.0.0.1:${port}`;
    const t0 = performance.now();
    const cli = BUNDLE === undefined ? cliCommand() : [BUNDLE];
    serve = spawn(process.execPath, [...NODE_FLAGS, ...cli, 'serve', `owner=${owner}`, `dir=${dir}`, `port=${port}`], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let urlLineMs: number | undefined;
    serve.stdout?.on('data', (c: Buffer) => { out += String(c); if (urlLineMs === undefined && out.includes('serving tasks')) urlLineMs = performance.now() - t0; });
    serve.stderr?.on('data', (c: Buffer) => { out += String(c); });
    const child = serve;
    // Where the peak happens: the server's RSS sampled through the phases below (the child is a
    // launcher when a stale bundle hands over to the sources: the server's pid file names the server).
    const paths = path.join(dir, 'logs', 'task_manager', `task-manager-${owner}`);
    const trace = new RssTrace(() => pidIn(`${paths}.server.pid`) ?? child.pid as number, t0);
    const alive = (): void => { if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${out}`); };

    // Useful: `/` answers 200 with task rows, not the page that says the dashboard is being built.
    const firstUsefulMs = await until('the first 200 of / that lists tasks', async () => {
      alive();
      const r = await get(`${base}/`);
      const html = r.status === 200 ? r.body.toString('utf8') : '';
      return html.includes('AREA_') && !html.includes('data-building') ? performance.now() - t0 : undefined;
    }, DEADLINE_MS);
    trace.mark('first useful page');
    // A task page from the middle of the list, asked for at once (it may still be pending: the server renders it next).
    const middle = `AREA_${Math.floor(TASKS / 200)}-TASK_${Math.floor(TASKS / 2)}`;
    const taskPageMs = await until('a task page', async () => {
      alive();
      const r = await get(`${base}/tasks/${middle}.html`);
      return r.status === 200 && r.body.includes(middle) ? performance.now() - t0 : undefined;
    }, DEADLINE_MS);
    trace.mark('a pending task page');
    const apiBytes = await until('/api/tasks', async () => {
      alive();
      const r = await get(`${base}/api/tasks`);
      return r.status === 200 ? r.body.length : undefined;
    }, DEADLINE_MS);
    trace.mark('/api/tasks');
    const hugePage = HUGE_BYTES > 0 ? await until('the huge task page', async () => {
      const r = await get(`${base}/tasks/HUGE-1.html`);
      return r.status === 200 ? r.body : undefined;
    }, DEADLINE_MS) : undefined;
    // Every page on disk: the peak below covers the whole cold build.
    const allMs = await until('every page built (build current)', async () => {
      alive();
      const r = await get(`${base}/api/health`);
      const build = r.body.length ? (JSON.parse(r.body.toString('utf8')) as { build?: string }).build : undefined;
      return build === 'current' ? performance.now() - t0 : undefined;
    }, DEADLINE_MS);
    trace.mark('every page built');
    await until('the URL line', () => urlLineMs, DEADLINE_MS);
    trace.stop();

    const serverPid = pidIn(`${paths}.server.pid`) ?? child.pid as number;
    const heartbeatPid = pidIn(`${paths}.heartbeat.pid`);
    const server = peakMb(serverPid);
    const heartbeat = heartbeatPid === undefined ? NaN : peakMb(heartbeatPid);
    // The targets are issue 19's at 50,000 tasks: other sizes print the figures only.
    const target = (what: string, ok: boolean): string => (TASKS < 50_000 ? '' : ` (target ${what} at 50,000: ${ok ? 'ok' : 'MISSED'})`);
    console.log(`  first useful page (/ lists tasks) ${s(firstUsefulMs)}${target(`<= ${TARGET_FIRST_S} s`, firstUsefulMs <= TARGET_FIRST_S * 1000)}; a pending task page ${s(taskPageMs)}; URL line ${s(urlLineMs ?? NaN)}; every page built ${s(allMs)}`);
    console.log(`  peak RSS: server ${mb(server)}${target(`<= ${TARGET_SERVER_MB} MB`, server <= TARGET_SERVER_MB)}, heartbeat ${mb(heartbeat)}, both ${mb(server + heartbeat)}`);
    console.log(`  server RSS by phase (peak, at): ${trace.summary()}`);
    console.log(`  /api/tasks ${(apiBytes / 1024 / 1024).toFixed(1)} MB (${apiBytes} bytes, uncompressed)`);
    if (hugePage !== undefined) {
      const cut = /The body is cut here: ([^<]*?) more are not shown/.exec(hugePage.toString('utf8'))?.[1] ?? 'no truncation line';
      console.log(`  HUGE-1 page ${(hugePage.length / 1024).toFixed(0)} KB: ${cut}`);
    }
    console.log(`  load average at the end ${load()}`);
  } finally {
    if (serve !== undefined) await endServe(serve, owner, dir);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
