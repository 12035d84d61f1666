// Site benchmark (issues 4, 10, 12 and 19): full build of 1,000 and 10,000 tasks as the server builds it
// (compressed .br and .gz beside every file, page versions) and without compression, the build that
// defers task pages (what a cold start waits for before the list shows), the incremental rebuild
// after one file changed, the bytes a browser receives for / (and the rest of a first load) with
// Accept-Encoding: br, and requests per second of /, a task page and /api/snapshot at 50
// connections, next to sirv-cli serving the same build folder in the same run.
// Targets: 10,000 full (compression on) <= 5 s, one-changed <= 50 ms at 1,000 and 10,000 tasks, static pages >= 0.9x sirv-cli.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import getPort from 'get-port';
import { TaskScanner } from '../lib/tasks/scan.ts';
import { SiteBuilder } from '../lib/web/site/site.ts';
import { generateTasks } from './generate.ts';
import { median, untilPagesBuilt } from './lib-measure.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
delete env.NODE_OPTIONS;

/** The server's build folder gets compressed siblings and page versions; `build out=` gets neither. */
const SERVED = { pruneUnknown: true, precompress: true, versions: true } as const;

/**
 * Build times until every file is on disk (with compression, the writer done too). Disk
 * writeback makes single builds of 30,000 files noisy, so the two settings take turns, twice,
 * each from a fresh scanner, builder and folder: the best full build of each, the median of its
 * one-changed rebuilds (5 per round).
 */
async function buildTimes(n: number, root: string): Promise<Record<'served' | 'plain', { full: number; changed: number; deferred: number }>> {
  const tmp = fs.mkdtempSync(path.join(root, 'tasks-site-'));
  try {
    const dir = path.join(tmp, 'tasks');
    generateTasks(dir, n);
    const base = { project: 'Bench', snapshot: undefined, heartbeat: { running: false, pid: null } };
    const times = { served: { full: [] as number[], changed: [] as number[], deferred: [] as number[] }, plain: { full: [] as number[], changed: [] as number[], deferred: [] as number[] } };
    for (let round = 0; round < 2; round++) {
      for (const kind of ['served', 'plain'] as const) {
        const out = path.join(tmp, `out-${kind}-${round}`);
        const scanner = new TaskScanner(dir);
        const builder = new SiteBuilder(out, kind === 'served' ? SERVED : {});
        let t0 = performance.now();
        await builder.build({ ...base, ...scanner.scan(), now: new Date() }).settled;
        times[kind].full.push(performance.now() - t0);
        for (let k = 0; k < 5; k++) {
          const rel = `area-000/AREA_0-TASK_${k}.md`;
          fs.appendFileSync(path.join(dir, rel), `\nedited ${round} ${kind} ${k}\n`);
          // What the server does on a watch event naming one file: re-read it, render what changed.
          t0 = performance.now();
          await builder.build({ ...base, ...scanner.rescan([rel]), now: new Date() }).settled;
          times[kind].changed.push(performance.now() - t0);
        }
        fs.rmSync(out, { recursive: true, force: true });
        // A cold start that defers the task pages: scan, index and data files on disk, pages pending.
        const cold = new SiteBuilder(out, kind === 'served' ? SERVED : {});
        t0 = performance.now();
        await cold.build({ ...base, ...new TaskScanner(dir).scan(), now: new Date() }, { deferPages: true }).settled;
        times[kind].deferred.push(performance.now() - t0);
        fs.rmSync(out, { recursive: true, force: true });
      }
    }
    const best = (t: { full: number[]; changed: number[]; deferred: number[] }): { full: number; changed: number; deferred: number } =>
      ({ full: Math.min(...t.full), changed: median(t.changed), deferred: Math.min(...t.deferred) });
    return { served: best(times.served), plain: best(times.plain) };
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

/** The body bytes of one GET with Accept-Encoding: br (what the wire carries, headers aside). */
function brBytes(url: string): Promise<{ bytes: number; encoding: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { 'accept-encoding': 'br' } }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => { bytes += c.length; });
      res.on('end', () => (res.statusCode === 200 ? resolve({ bytes, encoding: String(res.headers['content-encoding'] ?? 'none') }) : reject(new Error(`${url}: ${res.statusCode}`))));
    }).on('error', reject);
  });
}

/** A served dashboard of n generated tasks: what / and the rest of a first load weigh with brotli. */
async function transfer(n: number): Promise<string> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-br-'));
  const dir = path.join(tmp, 'tasks');
  const owner = `bench-br-${process.pid}`;
  let child: ChildProcess | undefined;
  try {
    generateTasks(dir, n);
    const port = await getPort({ host: '127.0.0.1' });
    child = spawn(process.execPath, ['--import', 'tsx', 'scripts/tasks-serve.ts', 'serve', '--no-heartbeat', `owner=${owner}`, `dir=${dir}`, `port=${port}`], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    // The URL line comes once the pages are current.
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child?.stdout?.on('data', (c: Buffer) => { out += String(c); if (out.includes('serving tasks')) resolve(); });
      child?.on('exit', () => reject(new Error(`serve exited: ${out}`)));
    });
    const base = `http://127.0.0.1:${port}`;
    // The search shards follow the index (written in the background): weighed once they are in.
    await untilPagesBuilt(`${base}/`);
    const index = await brBytes(`${base}/`);
    const site = path.join(dir, 'logs', 'task_manager', `site-${owner}`);
    const plain = fs.statSync(path.join(site, 'index.html')).size;
    const rest: string[] = [];
    let load = index.bytes;
    // The task data: the data index and every shard of records (the list's), the bodies' shards (search's, in the background).
    const data = fs.readdirSync(path.join(site, 'data')).filter((f) => f.endsWith('.json'));
    const groups = [['app.js', ['app.js']], ['style.css', ['style.css']], ['data/index.json', ['data/index.json']],
      ['records shards', data.filter((f) => f.startsWith('tasks-')).map((f) => `data/${f}`)], ['search shards', data.filter((f) => f.startsWith('search-')).map((f) => `data/${f}`)]] as const;
    for (const [label, names] of groups) {
      let bytes = 0;
      for (const name of names) bytes += (await brBytes(`${base}/${name}`)).bytes;
      if (label !== 'search shards') load += bytes;
      rest.push(`${label} ${kb(bytes)}${names.length > 1 ? ` (${names.length} files)` : ''}`);
    }
    return `${String(n).padStart(6)} tasks: / ${kb(index.bytes)} (${index.encoding}; ${kb(plain)} as a file); / + app.js + style.css + records ${kb(load)}; ${rest.join(', ')}`;
  } finally {
    if (child?.pid) stopGroup(child.pid);
    await new Promise((r) => setTimeout(r, 300));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Stops a child's process group; one that already exited (its failure is the error worth seeing) is left be. */
function stopGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGTERM');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;

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
    // Task pages come after the list: both sides get the whole folder.
    await untilPagesBuilt(`http://127.0.0.1:${ours}/`);
    const site = path.join(dir, 'logs', 'task_manager', `site-${owner}`);
    const theirs = await getPort({ host: '127.0.0.1' });
    children.push(spawn(path.join(ROOT, 'node_modules', '.bin', 'sirv'), [site, '--port', String(theirs), '--host', '127.0.0.1', '--etag'], { cwd: ROOT, env, stdio: 'ignore', detached: true }));
    await waitFor200(`http://127.0.0.1:${theirs}/`);
    const page = '/tasks/AREA_5-TASK_500.html';
    // The server shows / before every task page is rendered: measure the page once it is there.
    await waitFor200(`http://127.0.0.1:${ours}${page}`);
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
    for (const c of children) if (c.pid) stopGroup(c.pid);
    await new Promise((r) => setTimeout(r, 300));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

console.log(`site benchmark, node ${process.version}, ${os.cpus().length} cpus, load average ${os.loadavg()[0]?.toFixed(2)}`);
// The disk a build writes to sets much of its time (30,000 new files at 10,000 tasks); a tmpfs,
// when there is one, shows what the build itself costs.
const roots = [{ name: `disk (${os.tmpdir()})`, root: os.tmpdir() }, ...(fs.existsSync('/dev/shm') ? [{ name: 'tmpfs (/dev/shm)', root: '/dev/shm' }] : [])];
for (const { name, root } of roots) {
  console.log(`builds on ${name}, best of 2 full builds each:`);
  for (const n of [1000, 10000]) {
    const { served: t, plain: bare } = await buildTimes(n, root);
    const full = n === 10000 ? `full <= 5000 ms ${t.full <= 5000 ? 'met' : 'MISSED'}, ` : '';
    const verdict = `   targets: ${full}one-changed <= 50 ms ${t.changed <= 50 ? 'met' : 'MISSED'}`;
    console.log(`${String(n).padStart(6)} tasks: full build (scan + render + .br/.gz) ${t.full.toFixed(0)} ms, pages deferred ${t.deferred.toFixed(0)} ms, one changed ${t.changed.toFixed(1)} ms` +
      ` (without compression: ${bare.full.toFixed(0)} ms, ${bare.deferred.toFixed(0)} ms, ${bare.changed.toFixed(1)} ms)${verdict}`);
    console.log(`        load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  }
}
console.log('bytes of a first load with Accept-Encoding: br (bodies):');
for (const n of [1000, 10000]) console.log(await transfer(n));
console.log(`requests per second, 50 connections, best of 2 alternating ${DURATION} s rounds, 1,000-task site:`);
for (const row of await serving()) console.log(row);
