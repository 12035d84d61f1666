// Site benchmark (issue 4): full build of 1,000 and 10,000 tasks, the incremental rebuild after one
// file changed, and requests per second of /, a task page and /api/snapshot at 50 connections,
// next to sirv-cli serving the same build folder in the same run.
// Targets: 10,000 full <= 5 s, one-changed <= 100 ms, static pages >= 0.9x sirv-cli.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import getPort from 'get-port';
import { TaskScanner } from '../lib/tasks/scan.ts';
import { SiteBuilder } from '../lib/web/site.ts';
import { generateTasks } from './generate.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
delete env.NODE_OPTIONS;

function buildTimes(n: number): { full: number; changed: number } {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-site-'));
  try {
    const dir = path.join(tmp, 'tasks');
    generateTasks(dir, n);
    const scanner = new TaskScanner(dir);
    const builder = new SiteBuilder(path.join(tmp, 'out'));
    const base = { project: 'Bench', snapshot: undefined, heartbeat: { running: false, pid: null } };
    const input = () => ({ ...base, ...scanner.scan(), now: new Date() });
    let t0 = performance.now();
    builder.build(input());
    const full = performance.now() - t0;
    const changed: number[] = [];
    for (let k = 0; k < 5; k++) {
      const rel = `area-000/AREA_0-TASK_${k}.md`;
      fs.appendFileSync(path.join(dir, rel), `\nedited ${k}\n`);
      // What the server does on a watch event naming one file: re-read it, render what changed.
      t0 = performance.now();
      builder.build({ ...base, ...scanner.rescan([rel]), now: new Date() });
      changed.push(performance.now() - t0);
    }
    return { full, changed: changed.sort((a, b) => a - b)[2] as number };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function waitFor200(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 20_000;
    const tryOnce = (): void => {
      http.get(url, (res) => { res.resume(); if (res.statusCode === 200) resolve(); else retry(); }).on('error', retry);
    };
    const retry = (): void => { if (Date.now() > deadline) reject(new Error(`no 200 from ${url}`)); else setTimeout(tryOnce, 50); };
    tryOnce();
  });
}

async function rps(url: string): Promise<number> {
  const r = await autocannon({ url, connections: 50, duration: DURATION });
  if (r.non2xx || r.errors) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return r.requests.average;
}

async function serving(): Promise<string[]> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-rps-'));
  const dir = path.join(tmp, 'tasks');
  const owner = `bench-rps-${process.pid}`;
  const children: ChildProcess[] = [];
  try {
    generateTasks(dir, 1000);
    spawnSync(process.execPath, ['--import', 'tsx', 'scripts/tasks-serve.ts', 'heartbeat', '--once', `owner=${owner}`, `dir=${dir}`], { cwd: ROOT, env });
    const ours = await getPort({ host: '127.0.0.1' });
    children.push(spawn(process.execPath, ['--import', 'tsx', 'scripts/tasks-serve.ts', 'serve', '--no-heartbeat', `owner=${owner}`, `dir=${dir}`, `port=${ours}`], { cwd: ROOT, env, stdio: 'ignore', detached: true }));
    await waitFor200(`http://127.0.0.1:${ours}/`);
    const site = path.join(dir, 'logs', 'task_manager', `site-${owner}`);
    const theirs = await getPort({ host: '127.0.0.1' });
    children.push(spawn(path.join(ROOT, 'node_modules', '.bin', 'sirv'), [site, '--port', String(theirs), '--host', '127.0.0.1', '--etag'], { cwd: ROOT, env, stdio: 'ignore', detached: true }));
    await waitFor200(`http://127.0.0.1:${theirs}/`);
    const page = '/tasks/AREA_5-TASK_500.html';
    const rows: string[] = [];
    for (const p of ['/', page]) {
      // Alternate the two servers and keep each one's best round, so neither pays for running first.
      const a0 = await rps(`http://127.0.0.1:${ours}${p}`);
      const b0 = await rps(`http://127.0.0.1:${theirs}${p}`);
      const b1 = await rps(`http://127.0.0.1:${theirs}${p}`);
      const a1 = await rps(`http://127.0.0.1:${ours}${p}`);
      const a = Math.max(a0, a1);
      const b = Math.max(b0, b1);
      rows.push(`${p.padEnd(30)} tasks ${a.toFixed(0).padStart(6)} req/s   sirv-cli ${b.toFixed(0).padStart(6)} req/s   ${(a / b).toFixed(2)}x  target >= 0.9x: ${a / b >= 0.9 ? 'met' : 'MISSED'}`);
    }
    const s = await rps(`http://127.0.0.1:${ours}/api/snapshot`);
    rows.push(`${'/api/snapshot'.padEnd(30)} tasks ${s.toFixed(0).padStart(6)} req/s   (no sirv-cli equivalent)`);
    return rows;
  } finally {
    for (const c of children) if (c.pid) process.kill(-c.pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

console.log(`site benchmark, node ${process.version}, ${os.cpus().length} cpus`);
for (const n of [1000, 10000]) {
  const t = buildTimes(n);
  const verdict = n === 10000 ? `   targets: full <= 5000 ms ${t.full <= 5000 ? 'met' : 'MISSED'}, one-changed <= 100 ms ${t.changed <= 100 ? 'met' : 'MISSED'}` : '';
  console.log(`${String(n).padStart(6)} tasks: full build (scan + render) ${t.full.toFixed(0)} ms, one changed ${t.changed.toFixed(1)} ms${verdict}`);
}
console.log(`requests per second, 50 connections, best of 2 alternating ${DURATION} s rounds, 1,000-task site:`);
for (const row of await serving()) console.log(row);
