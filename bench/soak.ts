// Soak benchmark (issue 8), `npm run bench:soak`: SOAK_MINUTES (default 10) of an operator's
// `serve` under load: 2,000 generated tasks, the heartbeat at interval 0.2 s, one task file edited
// every second, and 50 closed-loop clients on 127.0.0.1 (plain http, keep-alive agents): 15 on
// `/`, 15 on `/api/tasks`, 10 on a task page, 10 holding `/api/events` open. Half the clients of
// each route revalidate with If-None-Match as a browser does; the other half fetch whole bodies.
// It reads only what operators can: `serve --json`, the heartbeat log and /proc.
// Targets: 0 errors; >= 99 % of ticks within interval + 50 ms; RSS growth <= 10 % and fds flat
// from minute 1 to the end, for the heartbeat and the server; `/` p99 <= 250 ms.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import { generateTasks } from './generate.ts';
import { ROOT, benchEnv, cliCommand, percentile, staleSource } from './lib-measure.ts';
import { LoadGate, LogTail, type RouteStats, agentSockets, alive, errorCount, pageClient, procUsage, routeStats, streamClient, streamStats } from './lib-soak.ts';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const INTERVAL_S = 0.2;
const TASKS = 2000;
const ROUTES: readonly [string, number][] = [['/', 15], ['/api/tasks', 15], ['/tasks/AREA_5-TASK_500.html', 10]];
const STREAMS = 10;
const env = benchEnv();
const sleep = (ms: number, signal?: AbortSignal): Promise<void> => new Promise((resolve) => {
  const onAbort = (): void => { clearTimeout(t); resolve(); };
  const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
  signal?.addEventListener('abort', onAbort, { once: true });
});

type Usage = ReturnType<typeof procUsage>;
/** conns: the client connections open at the sample, each an fd in the server that is not a leak. */
interface Sample { readonly atS: number; readonly hbPid: number | undefined; readonly hb: Usage; readonly srv: Usage; readonly conns: number; readonly quiet: boolean }

/** Starts `serve --json` in its own process group and returns what it printed on its first line. */
async function startServe(dir: string, owner: string, port: number, stderr: string[]): Promise<{ child: ChildProcess; url: string; pid: number; serverPid: number }> {
  const child = spawn(process.execPath, [...cliCommand(), 'serve', `owner=${owner}`, `dir=${dir}`, `port=${port}`, `interval=${INTERVAL_S}`, '--json'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  // Kept for the report (lines that say failed count as errors); capped so a noisy server cannot fill memory.
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { if (stderr.length < 10_000) stderr.push(...s.split('\n').filter(Boolean)); });
  const first = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve printed no line within 60 s; stderr: ${stderr.join(' | ')}`)), 60_000);
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if (out.includes('\n')) { clearTimeout(timer); resolve(out.slice(0, out.indexOf('\n'))); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`serve exited with ${code}; stderr: ${stderr.join(' | ')}`)); });
  });
  const doc = JSON.parse(first) as { url: string; pid: number; serverPid: number };
  return { child, url: doc.url.replace(/\/$/, ''), pid: doc.pid, serverPid: doc.serverPid };
}

/** Line 1 of the heartbeat pid file: the heartbeat running now (a restart changes it). */
function heartbeatPid(file: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').split('\n')[0]);
    return Number.isInteger(n) && n > 1 ? n : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** One edit a second: a status flip and a line in the body, written in place as an editor does. */
function editOne(dir: string, n: number): void {
  const i = (n * 37) % TASKS;
  const file = path.join(dir, `area-${String(Math.floor(i / 100)).padStart(3, '0')}`, `AREA_${Math.floor(i / 100)}-TASK_${i}.md`);
  const text = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(file, text.replace(/^status: .*$/m, `status: ${n % 2 ? 'review' : 'todo'}`).replace('## Plan', `soak edit ${n}\n\n## Plan`));
}

async function main(): Promise<void> {
  const stale = staleSource();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-soak-'));
  const dir = path.join(tmp, 'tasks');
  const owner = `soak-${process.pid}`;
  const state = path.join(dir, 'logs', 'task_manager');
  const tail = new LogTail(path.join(state, `task-manager-${owner}.heartbeat.log`));
  const pidFile = path.join(state, `task-manager-${owner}.heartbeat.pid`);
  const serveStderr: string[] = [];
  const routes = ROUTES.map(([p]) => routeStats(p));
  const streams = streamStats();
  const samples: Sample[] = [];
  // Ctrl-C ends the soak early; the finally below still stops what it started.
  const abort = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => abort.abort());
  let serve: Awaited<ReturnType<typeof startServe>> | undefined;
  try {
    generateTasks(dir, TASKS);
    serve = await startServe(dir, owner, await getPort({ host: '127.0.0.1' }), serveStderr);
    const { url, serverPid } = serve;
    // Warm-up, not measured: the cold tick over 2,000 files and the first site build.
    for (let i = 0; i < 600 && !abort.signal.aborted; i++) {
      tail.poll();
      if (tail.ticks.length >= 5) break;
      await sleep(100, abort.signal);
    }
    if (abort.signal.aborted) return;
    if (tail.ticks.length < 5) throw new Error(`the heartbeat did not tick 5 times within 60 s; log failures: ${tail.failed.slice(0, 3).join(' | ')}`);
    const t0 = Date.now();
    const durationMs = MINUTES * 60_000;
    const firstS = Math.min(60, durationMs / 2000); // minute 1, or half-way through a shorter soak
    const gate = new LoadGate();
    const agents = ROUTES.map(([, n]) => new http.Agent({ keepAlive: true, maxSockets: n }));
    const clients: Promise<void>[] = [];
    ROUTES.forEach(([, n], r) => {
      for (let c = 0; c < n; c++) clients.push(pageClient(url, agents[r] as http.Agent, routes[r] as RouteStats, c % 2 === 0, gate));
    });
    const streamAbort = new AbortController();
    setMaxListeners(STREAMS + 1, streamAbort.signal); // one listener per held stream is expected, not a leak
    for (let c = 0; c < STREAMS; c++) clients.push(streamClient(url, streams, streamAbort.signal));
    // Under load the server's fd count swings with the files and sockets of requests in flight, so
    // the two samples compared (minute 1 and the end) are taken with the page clients paused.
    const sample = async (quiet: boolean): Promise<void> => {
      if (quiet) await gate.quiesce();
      const hbPid = heartbeatPid(pidFile);
      const conns = agents.reduce((n, a) => n + agentSockets(a), streams.open);
      samples.push({ atS: (Date.now() - t0) / 1000, hbPid, hb: hbPid ? procUsage(hbPid) : undefined, srv: procUsage(serverPid), conns, quiet });
      gate.paused = false;
    };
    let edits = 0;
    let firstTaken = false;
    // One loop owns the clock: an edit every second, the log read, a sample every 10 s and at minute 1.
    for (let s = 1; Date.now() - t0 < durationMs && !abort.signal.aborted; s++) {
      await sleep(t0 + s * 1000 - Date.now(), abort.signal);
      editOne(dir, ++edits);
      tail.poll();
      const at = (Date.now() - t0) / 1000;
      if (!firstTaken && at >= firstS) { await sample(true); firstTaken = true; } else if (s % 10 === 0) await sample(false);
    }
    await sample(true); // the end: taken while every client is still connected
    const windowMs = Date.now() - t0;
    gate.stopped = true;
    streamAbort.abort();
    for (const a of agents) a.destroy();
    await Promise.race([Promise.all(clients), sleep(15_000)]);
    tail.poll();
    report({ t0, windowMs, edits, stale, routes, streams, samples, tail, serveStderr, serverPid });
  } finally {
    await stopAll(serve, dir, owner, pidFile, samples);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Stops serve's process group, then the heartbeat through the CLI, and says if anything survived. */
async function stopAll(serve: Awaited<ReturnType<typeof startServe>> | undefined, dir: string, owner: string, pidFile: string, samples: Sample[]): Promise<void> {
  const hbPids = new Set(samples.map((s) => s.hbPid).filter((p): p is number => p !== undefined));
  const hbNow = heartbeatPid(pidFile);
  if (hbNow) hbPids.add(hbNow);
  if (serve?.child.pid && serve.child.exitCode === null && serve.child.signalCode === null) {
    const exited = new Promise((r) => serve.child.once('exit', r));
    process.kill(-serve.child.pid, 'SIGTERM');
    if (await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]) === false) {
      console.log('serve did not stop within 10 s of SIGTERM; killing its group');
      process.kill(-serve.child.pid, 'SIGKILL');
      await exited;
    }
  }
  const r = spawnSync(process.execPath, [...cliCommand(), 'stop', `owner=${owner}`, `dir=${dir}`], { cwd: ROOT, env, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) console.log(`stop exited with ${r.status ?? r.signal}: ${r.stderr.trim()}`);
  const left = [...hbPids, ...(serve ? [serve.serverPid] : [])].filter(alive);
  if (left.length) console.log(`still alive after stop: ${left.join(', ')}`);
}

interface Run {
  t0: number; windowMs: number; edits: number; stale: string | undefined;
  routes: RouteStats[]; streams: ReturnType<typeof streamStats>; samples: Sample[]; tail: LogTail; serveStderr: string[]; serverPid: number;
}

function report(r: Run): void {
  const verdict = (okay: boolean): string => (okay ? 'met' : 'MISSED');
  const secs = r.windowMs / 1000;
  console.log(`soak, ${secs.toFixed(0)} s measured (after warm-up), node ${process.version}, ${os.cpus().length} cpus, load average ${os.loadavg()[0]?.toFixed(2)}`);
  console.log(`${TASKS} tasks, heartbeat every ${INTERVAL_S} s, ${r.edits} edits (1 a second), ${ROUTES.reduce((n, [, c]) => n + c, 0)} page clients + ${STREAMS} event streams`);
  if (r.stale) console.log(`NOTE: ${r.stale} is newer than dist/tasks.mjs: serve and the heartbeat ran the sources through tsx`);

  // A tick is on time when it starts within interval + 50 ms of the one before. A tick's log line
  // is stamped with its start (the snapshot's tickAt); a long tick makes the next one late.
  const ticks = r.tail.ticks.filter((t) => t.at >= r.t0 && t.at <= r.t0 + r.windowMs);
  const starts = ticks.map((t) => t.at);
  const gaps = starts.slice(1).map((at, i) => at - (starts[i] as number));
  const onTime = gaps.filter((g) => g <= INTERVAL_S * 1000 + 50).length;
  const onTimePct = gaps.length ? (100 * onTime) / gaps.length : 0;
  const durations = ticks.map((t) => t.ms).filter((m): m is number => m !== undefined);
  console.log(`ticks: ${ticks.length} (${(ticks.length / secs).toFixed(2)}/s); on time (started <= ${INTERVAL_S * 1000 + 50} ms after the previous) ${onTimePct.toFixed(2)} %  target >= 99 %: ${verdict(onTimePct >= 99)}`);
  console.log(`  gap between tick starts p99 ${percentile(gaps, 99).toFixed(0)} ms, max ${maxOf(gaps).toFixed(0)} ms; tick duration p50 ${percentile(durations, 50).toFixed(0)} ms, p99 ${percentile(durations, 99).toFixed(0)} ms, max ${maxOf(durations).toFixed(0)} ms`);

  const restarts = Math.max(0, r.tail.starts.length - 1);
  const serverFailures = r.serveStderr.filter((l) => /\bfailed\b|\bbug\b/.test(l));
  const streamErrors = r.streams.drops + [...r.streams.bad.values(), ...r.streams.failures.values()].reduce((a, b) => a + b, 0);
  const errors = r.routes.reduce((n, x) => n + errorCount(x), 0) + streamErrors + r.tail.failed.length + restarts + serverFailures.length;
  console.log(`errors: ${errors}  target 0: ${verdict(errors === 0)}`);
  for (const x of r.routes) {
    const details = [...[...x.bad].map(([code, n]) => `${n}x HTTP ${code}`), ...[...x.failures].map(([msg, n]) => `${n}x ${msg}`)];
    if (details.length) console.log(`  ${x.path}: ${details.join(', ')}`);
  }
  if (streamErrors) console.log(`  /api/events: ${r.streams.drops} dropped, ${[...r.streams.bad].map(([c, n]) => `${n}x HTTP ${c}`).concat([...r.streams.failures].map(([m, n]) => `${n}x ${m}`)).join(', ')}`);
  for (const line of r.tail.failed.slice(0, 5)) console.log(`  heartbeat log: ${line.slice(0, 200)}`);
  if (r.tail.failed.length > 5) console.log(`  … ${r.tail.failed.length - 5} more "failed" lines in the heartbeat log`);
  if (restarts) console.log(`  heartbeat started ${restarts} more time(s) during the soak (restarted)`);
  for (const line of serverFailures.slice(0, 5)) console.log(`  serve stderr: ${line.slice(0, 200)}`);

  console.log('latency per route (ms, whole response, client side):');
  for (const x of r.routes) {
    const p99 = percentile(x.latencies, 99);
    const target = x.path === '/' ? `  target <= 250 ms: ${verdict(p99 <= 250)}` : '';
    console.log(`  ${x.path.padEnd(30)} ${String(x.ok).padStart(7)} ok (${(x.ok / secs).toFixed(0).padStart(5)}/s)  p50 ${percentile(x.latencies, 50).toFixed(1).padStart(6)}  p99 ${p99.toFixed(1).padStart(7)}  max ${maxOf(x.latencies).toFixed(0).padStart(6)}${target}`);
  }
  console.log(`  ${'/api/events'.padEnd(30)} ${r.streams.connects} connects (connect p99 ${percentile(r.streams.connectMs, 99).toFixed(1)} ms), ${r.streams.events} change events received (${(r.streams.events / STREAMS).toFixed(0)} per stream)`);

  const quiet = r.samples.filter((s) => s.quiet);
  const first = quiet[0];
  const last = quiet.length > 1 ? quiet.at(-1) : undefined;
  // The server's fds include one socket per client connection, and a keep-alive agent opens and
  // closes a few as it goes: the fds compared are those beyond the connections open at the sample.
  const row = (who: string, pick: (s: Sample) => Usage, conns: (s: Sample) => number): void => {
    if (!first || !last) { console.log(`  ${who}: not measured (the soak ended before its samples)`); return; }
    const [a, b] = [pick(first), pick(last)];
    if (!a || !b) { console.log(`  ${who}: not measured (process gone ${a ? 'at the end' : 'at the first sample'})`); return; }
    const growth = (100 * (b.rssMb - a.rssMb)) / a.rssMb;
    const peak = maxOf(r.samples.map((s) => pick(s)?.rssMb ?? 0));
    const [fa, fb] = [a.fds - conns(first), b.fds - conns(last)];
    const fds = conns(last) ? `fds ${a.fds} -> ${b.fds}, less client connections ${fa} -> ${fb}` : `fds ${fa} -> ${fb}`;
    console.log(`  ${who.padEnd(10)} RSS ${a.rssMb.toFixed(1)} -> ${b.rssMb.toFixed(1)} MB (${growth >= 0 ? '+' : ''}${growth.toFixed(1)} %, peak ${peak.toFixed(1)})  target <= +10 %: ${verdict(growth <= 10)};  ${fds}  target flat (<= +3): ${verdict(fb - fa <= 3)}`);
  };
  console.log(`memory and fds at ${first?.atS.toFixed(0) ?? '?'} s and at the end (${last?.atS.toFixed(0) ?? '?'} s):`);
  const pids = new Set(r.samples.map((s) => s.hbPid));
  if (pids.size > 1) console.log(`  the heartbeat pid changed during the soak: ${[...pids].join(' -> ')}`);
  row('heartbeat', (s) => s.hb, () => 0);
  row('server', (s) => s.srv, (s) => s.conns);
}

await main();

/** The largest value (0 for none); a spread into Math.max overflows the stack at 10 minutes of latencies. */
function maxOf(xs: readonly number[]): number {
  return xs.reduce((a, b) => (b > a ? b : a), 0);
}
