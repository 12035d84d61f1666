// Startup benchmark: median time from invoking `just tasks serve` to the first HTTP 200, with
// the heartbeat already running (warm) and not running (cold), each next to a bare node http
// server started in the same run. Targets (issue 2): warm <= 4x, cold <= 8x the bare server.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const JUST = path.join(ROOT, 'node_modules', 'rust-just-linux-x64', 'bin', 'just');
const RUNS = Number(process.env.BENCH_RUNS ?? 7);

const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
delete env.NODE_OPTIONS;

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

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function cliSync(args: string[]): void {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/tasks-serve.ts', ...args], { cwd: ROOT, env, encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 3) throw new Error(`tasks ${args.join(' ')} failed: ${r.stderr}`);
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-bench-'));
  const dir = path.join(tmp, 'tasks');
  fs.cpSync(path.join(ROOT, 'tasks'), dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}logs`) });
  const owner = `bench-${process.pid}`;
  const bare = "require('http').createServer((q,r)=>r.end('ok')).listen(Number(process.argv[1]),'127.0.0.1')";
  const rows = { bare: [] as number[], warm: [] as number[], cold: [] as number[] };
  try {
    // One untimed round warms the OS file cache and tsx's transform cache.
    const p0 = await getPort({ host: '127.0.0.1' });
    await timeTo200(JUST, ['tasks', 'serve', `owner=${owner}`, `dir=${dir}`, `port=${p0}`], `http://127.0.0.1:${p0}/`);
    for (let i = 0; i < RUNS; i++) {
      const pb = await getPort({ host: '127.0.0.1' });
      rows.bare.push(await timeTo200(process.execPath, ['-e', bare, String(pb)], `http://127.0.0.1:${pb}/`));
      const pw = await getPort({ host: '127.0.0.1' });
      rows.warm.push(await timeTo200(JUST, ['tasks', 'serve', `owner=${owner}`, `dir=${dir}`, `port=${pw}`], `http://127.0.0.1:${pw}/`));
      cliSync(['stop', `owner=${owner}`, `dir=${dir}`]);
      const pc = await getPort({ host: '127.0.0.1' });
      rows.cold.push(await timeTo200(JUST, ['tasks', 'serve', `owner=${owner}`, `dir=${dir}`, `port=${pc}`], `http://127.0.0.1:${pc}/`));
    }
  } finally {
    cliSync(['stop', `owner=${owner}`, `dir=${dir}`]);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const b = median(rows.bare);
  const line = (name: string, xs: number[], target?: number): string => {
    const m = median(xs);
    const ratio = m / b;
    const verdict = target === undefined ? '' : `  target <= ${target}x: ${ratio <= target ? 'met' : 'MISSED'}`;
    return `${name.padEnd(34)} median ${m.toFixed(0).padStart(5)} ms  (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})  ${ratio.toFixed(2)}x bare${verdict}`;
  };
  console.log(`startup to first HTTP 200, ${RUNS} runs each, node ${process.version}, ${os.cpus().length} cpus`);
  console.log(line('bare node http server', rows.bare));
  console.log(line('just tasks serve (heartbeat warm)', rows.warm, 4));
  console.log(line('just tasks serve (heartbeat cold)', rows.cold, 8));
}

await main();
