// Scale benchmark (issue 19): 50,000 generated tasks and one 100 MB task file, served cold (no build
// on disk) with the heartbeat. Prints, without asserting: the peak RSS (VmHWM) of the server and of
// the heartbeat, the time from spawn to the first useful page (the first 200 of `/` that lists tasks,
// not the "being built" page) and to the URL line, the bytes of `/api/tasks`, and the huge task's page.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import { generateTasks, writeHugeTask } from './generate.ts';
import { ROOT, benchEnv, cliCommand, endServe, staleSource, until } from './lib-measure.ts';

const TASKS = Number(process.env.BENCH_SCALE_TASKS ?? 50_000);
const HUGE_BYTES = 100 * 1024 * 1024;
/** Cold starts at 50,000 tasks took 23 s to the URL line before issue 19: generous, so a slow machine still reports. */
const DEADLINE_MS = 300_000;

/** Status and body bytes of one GET (no compression asked for: the bytes a script reads). */
function get(url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
  });
}

/** VmHWM of a live process in MB, or NaN once it is gone. */
function peakMb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** The pid on line 1 of a pid file, if it is there. */
function pidIn(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

const mb = (n: number): string => `${n.toFixed(0)} MB`;
const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

async function main(): Promise<void> {
  const stale = staleSource();
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
    writeHugeTask(path.join(dir, 'HUGE-1.md'), '---\nid: HUGE-1\ntitle: Huge task\nstatus: backlog\n---\n', HUGE_BYTES);
    console.log(`scale: ${TASKS} generated tasks + one ${HUGE_BYTES / 1024 / 1024} MB task file, written in ${s(performance.now() - g0)}; cold start (no build on disk), heartbeat on; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);

    const port = await getPort({ host: '127.0.0.1' });
    const base = `http://127.0.0.1:${port}`;
    const t0 = performance.now();
    serve = spawn(process.execPath, [...cliCommand(), 'serve', `owner=${owner}`, `dir=${dir}`, `port=${port}`], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let urlLineMs: number | undefined;
    serve.stdout?.on('data', (c: Buffer) => { out += String(c); if (urlLineMs === undefined && out.includes('serving tasks')) urlLineMs = performance.now() - t0; });
    serve.stderr?.on('data', (c: Buffer) => { out += String(c); });
    const child = serve;

    // Useful: `/` answers 200 with task rows, not the page that says the dashboard is being built.
    const firstUsefulMs = await until('the first 200 of / that lists tasks', async () => {
      if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${out}`);
      const r = await get(`${base}/`).catch(() => undefined);
      const html = r?.status === 200 ? r.body.toString('utf8') : '';
      return html.includes('AREA_') && !html.includes('data-building') ? performance.now() - t0 : undefined;
    }, DEADLINE_MS);
    await until('the URL line', () => urlLineMs, DEADLINE_MS);

    const api = await until('/api/tasks', async () => {
      const r = await get(`${base}/api/tasks`);
      return r.status === 200 ? r.body.length : undefined;
    }, DEADLINE_MS);
    const huge = await until('the huge task page', async () => {
      const r = await get(`${base}/tasks/HUGE-1.html`);
      return r.status === 200 ? r.body : undefined;
    }, DEADLINE_MS);
    const cut = /The body is cut here: ([^<]*?) more are not shown/.exec(huge.toString('utf8'))?.[1] ?? 'no truncation line';

    const paths = path.join(dir, 'logs', 'task_manager', `task-manager-${owner}`);
    const serverPid = pidIn(`${paths}.server.pid`) ?? child.pid;
    const heartbeatPid = pidIn(`${paths}.heartbeat.pid`);
    console.log(`  first useful page (/ lists tasks) ${s(firstUsefulMs)}; URL line ${s(urlLineMs ?? NaN)}`);
    console.log(`  peak RSS: server ${mb(peakMb(serverPid))} (pid ${serverPid}), heartbeat ${mb(peakMb(heartbeatPid))} (pid ${heartbeatPid ?? 'none'})`);
    console.log(`  /api/tasks ${(api / 1024 / 1024).toFixed(1)} MB (${api} bytes, uncompressed)`);
    console.log(`  HUGE-1 page ${(huge.length / 1024).toFixed(0)} KB: ${cut}`);
  } finally {
    if (serve !== undefined) await endServe(serve, owner, dir);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
