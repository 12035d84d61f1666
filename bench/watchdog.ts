// Watchdog benchmark (issue 8): how fast a running `serve` replaces a kill -9'd heartbeat and how
// fast open pages hear of it. Each round starts a fresh serve (so every kill is a first restart,
// which waits no backoff), kills its heartbeat with SIGKILL, and times from the kill to:
//   restart  the pid file names a new, live heartbeat          (target <= 2,000 ms)
//   event    /api/events sends a change event                  (target <= 2,000 ms)
//   health   /api/health answers 200 running with the new pid  (target <= 2,000 ms)
// These are targets for a quiet machine; the tests only check that the restart happens.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import { benchEnv, cliCommand, endServe, median, staleSource, until } from './lib-measure.ts';

const ROUNDS = Number(process.env.WATCHDOG_ROUNDS ?? 5);
const TARGET_MS = 2000;

const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
const pidIn = (file: string): number | undefined => {
  try { const n = Number(fs.readFileSync(file, 'utf8').split('\n')[0]); return n > 0 ? n : undefined; } catch { return undefined; }
};

function getJson(url: string): Promise<{ status: number; doc: Record<string, unknown> }> {
  return new Promise((resolve) => {
    http.get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => { try { resolve({ status: res.statusCode ?? 0, doc: JSON.parse(body) as Record<string, unknown> }); } catch { resolve({ status: 0, doc: {} }); } });
    }).on('error', () => resolve({ status: 0, doc: {} }));
  });
}

async function round(i: number): Promise<{ restart: number; event: number; health: number }> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-bench-watchdog-'));
  const dir = path.join(tmp, 'tasks');
  const owner = `bench-wd-${process.pid}-${i}`;
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'ONE.md'), '---\nid: ONE\ntitle: One\nstatus: todo\n---\nbody\n');
  const port = await getPort({ host: '127.0.0.1' });
  const base = `http://127.0.0.1:${port}`;
  const pidFile = path.join(dir, 'logs', 'task_manager', `task-manager-${owner}.heartbeat.pid`);
  const serve: ChildProcess = spawn(process.execPath, [...cliCommand(), 'serve', `owner=${owner}`, `dir=${dir}`, `port=${port}`, 'interval=0.2'], { env: benchEnv(), stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let out = '';
  serve.stdout?.on('data', (c) => { out += String(c); });
  serve.stderr?.on('data', (c) => { out += String(c); });
  let events = '';
  let req: http.ClientRequest | undefined;
  try {
    await until('serve to listen', () => (/serving tasks/.test(out) ? true : undefined));
    const first = await until('the heartbeat', () => { const p = pidIn(pidFile); return p && alive(p) ? p : undefined; });
    await new Promise<void>((resolve, reject) => {
      req = http.get(`${base}/api/events`);
      req.on('response', (res) => { res.setEncoding('utf8'); res.on('data', (c: string) => { events += c; }); resolve(); });
      req.on('error', reject);
    });
    await until('the hello event', () => (events.includes('event: hello') ? true : undefined));
    const before = (events.match(/event: change/g) ?? []).length;
    const t0 = performance.now();
    process.kill(first, 'SIGKILL');
    const times: { restart?: number; event?: number; health?: number } = {};
    let next = 0;
    await until(`the restart; serve said:\n${out}`, async () => {
      const now = performance.now() - t0;
      if (times.event === undefined && (events.match(/event: change/g) ?? []).length > before) times.event = now;
      if (times.restart === undefined) {
        const p = pidIn(pidFile);
        if (p && p !== first && alive(p)) { times.restart = now; next = p; }
      }
      if (next && times.health === undefined) {
        const h = await getJson(`${base}/api/health`);
        if (h.status === 200 && h.doc.heartbeatPid === next) times.health = performance.now() - t0;
      }
      return times.restart !== undefined && times.event !== undefined && times.health !== undefined ? true : undefined;
    });
    return { restart: times.restart as number, event: times.event as number, health: times.health as number };
  } finally {
    req?.destroy();
    await endServe(serve, owner, dir);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const stale = fs.existsSync(path.join(path.dirname(cliCommand()[0] ?? ''), 'tasks.mjs')) ? staleSource() : undefined;
if (stale) console.log(`note: dist/ is older than ${stale}; run \`node scripts/prepare.mjs\` to measure the bundle`);
const rounds: { restart: number; event: number; health: number }[] = [];
for (let i = 0; i < ROUNDS; i++) rounds.push(await round(i));
console.log(`watchdog: kill -9 of the heartbeat under a running serve, ${ROUNDS} rounds, medians (max)`);
for (const key of ['restart', 'event', 'health'] as const) {
  const xs = rounds.map((r) => r[key]);
  const m = median(xs);
  console.log(`  ${key.padEnd(8)} ${m.toFixed(0).padStart(6)} ms  (max ${Math.max(...xs).toFixed(0)} ms)  ${(m / TARGET_MS).toFixed(2)}x of the ${TARGET_MS} ms target  ${m <= TARGET_MS ? 'ok' : 'MISSED'}`);
}
