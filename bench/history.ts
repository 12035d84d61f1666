// History benchmark (issue 20): the bytes of a simulated year of 30 s ticks and runs after
// downsampling, the cost of one tick's append, and the time to serve /api/history for 30 days
// from a real server on loopback; then the index's first-load bytes with and without the charts
// (bench/charts-bytes.ts).
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import { chartsBuildMs, chartsBytesLines } from './charts-bytes.ts';
import type { RunOutcome, RunRecord, TickRecord } from '../lib/manager/fleet-events.ts';
import { RUNS_MAX, compactTicks, trimRuns } from '../lib/manager/history-compact.ts';
import { appendRecords, historyPaths, rewriteRecords } from '../lib/manager/history-file.ts';
import { compactRunFile, compactTickFile } from '../lib/manager/history.ts';
import { median, serveWithoutHeartbeat } from './lib-measure.ts';

const DAY = 86_400_000;
const TICK_S = 30;
/** A busy fleet: 100 runs a day (a run every 15 minutes, around the clock). */
const RUNS_PER_DAY = 100;

const kb = (bytes: number): string => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MB` : `${(bytes / 1024).toFixed(1)} KB`);

/** A tick as a fleet of ~300 tasks would record it: counts drifting over the year. */
function tick(at: number, i: number): TickRecord {
  const done = 100 + Math.floor(i / 2880);
  const ready = 5 + (i % 17);
  return { at: new Date(at).toISOString(), counts: { total: done + ready + 40, draft: 20, ready, in_progress: 3 + (i % 4), review: 17, done }, ready, running: i % 4, escalations: i % 11 === 0 ? 1 : 0 };
}

function run(end: number, i: number): RunRecord {
  const durationS = 120 + ((i * 7919) % 3000);
  const outcomes: RunOutcome[] = ['success', 'success', 'success', 'success', 'failed', 'success', 'timed_out', 'success'];
  const outcome = outcomes[i % outcomes.length] as RunOutcome;
  return {
    id: `TASK-${1000 + (i % 400)}`, slug: `TASK-${1000 + (i % 400)}`, host: 'build-host-1', owner: 'agent-1',
    start: new Date(end - durationS * 1000).toISOString(), end: new Date(end).toISOString(), exit: outcome === 'success' ? 0 : outcome === 'failed' ? 1 : null,
    durationS, outcome, key: `run:${(BigInt(i) * 2654435761n).toString(16).padStart(8, '0')}-4a1b-9c2d-${String(i).padStart(12, '0')}`,
  };
}

/** A year of history as the recorder leaves it (compacting is stable: once at the end equals hourly all along). */
function simulatedYear(dir: string, owner: string, now: number): { rawTickBytes: number; rawRunBytes: number; ticks: number; runs: number; tickRecords: number; runRecords: number } {
  const ticks: TickRecord[] = [];
  let rawTickBytes = 0;
  for (let at = now - 365 * DAY, i = 0; at <= now; at += TICK_S * 1000, i++) {
    const t = tick(at, i);
    rawTickBytes += JSON.stringify(t).length + 1;
    ticks.push(t);
  }
  const runs: RunRecord[] = [];
  let rawRunBytes = 0;
  const every = DAY / RUNS_PER_DAY;
  for (let end = now - 365 * DAY, i = 0; end <= now; end += every, i++) {
    const r = run(end, i);
    rawRunBytes += JSON.stringify(r).length + 1;
    runs.push(r);
  }
  const p = historyPaths(dir, owner);
  const keptTicks = compactTicks(ticks, new Date(now));
  const keptRuns = trimRuns(runs, new Date(now));
  rewriteRecords(p.ticks, keptTicks);
  rewriteRecords(p.runs, keptRuns);
  return { rawTickBytes, rawRunBytes, ticks: ticks.length, runs: runs.length, tickRecords: keptTicks.length, runRecords: keptRuns.length };
}

function fetchRaw(url: string, encoding: string): Promise<{ status: number; bytes: number; body: Buffer; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    http.get(url, { headers: encoding ? { 'accept-encoding': encoding } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes: Buffer.concat(chunks).length, body: Buffer.concat(chunks), ms: performance.now() - t0 }));
    }).on('error', reject);
  });
}

async function serveHistory(dir: string, owner: string): Promise<string[]> {
  let child: ChildProcess | undefined;
  try {
    const port = await getPort({ host: '127.0.0.1' });
    child = await serveWithoutHeartbeat(dir, owner, port);
    const url = `http://127.0.0.1:${port}/api/history?since=30d`;
    const rows: string[] = [];
    let plainBytes = 0;
    for (const encoding of ['', 'gzip', 'br']) {
      const first = await fetchRaw(url, encoding);
      if (first.status !== 200) throw new Error(`/api/history: ${first.status} ${first.body.toString()}`);
      if (encoding === '') {
        const doc = JSON.parse(first.body.toString()) as { runs: unknown[]; ticks: unknown[] };
        plainBytes = first.bytes;
        rows.push(`/api/history?since=30d: ${doc.runs.length} runs, ${doc.ticks.length} tick records`);
      }
      const again: number[] = [];
      for (let i = 0; i < 9; i++) again.push((await fetchRaw(url, encoding)).ms);
      rows.push(`  Accept-Encoding ${(encoding || '(none)').padEnd(6)}: ${kb(first.bytes).padStart(9)} (${(plainBytes / first.bytes).toFixed(1)}x smaller)   first answer ${first.ms.toFixed(0)} ms, then median ${median(again).toFixed(1)} ms`);
    }
    // A tick appends to the ticks file: the next answer parses that file again and compresses anew.
    const afterTick: number[] = [];
    for (let i = 0; i < 5; i++) {
      appendRecords(historyPaths(dir, owner).ticks, [tick(Date.now(), i)]);
      afterTick.push((await fetchRaw(url, 'br')).ms);
    }
    rows.push(`  the first br answer after a tick (ticks file parsed again, compressed again): median ${median(afterTick).toFixed(0)} ms`);
    return rows;
  } finally {
    if (child?.pid) process.kill(-child.pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
  }
}

console.log(`history benchmark, node ${process.version}, ${os.cpus().length} cpus, load average ${os.loadavg()[0]?.toFixed(2)}`);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-history-'));
try {
  const dir = path.join(tmp, 'tasks');
  fs.mkdirSync(dir);
  const owner = `bench-history-${process.pid}`;
  const p = historyPaths(dir, owner);
  const t0 = performance.now();
  const year = simulatedYear(dir, owner, Date.now());
  const simMs = performance.now() - t0;
  const tickBytes = fs.statSync(p.ticks).size;
  const runBytes = fs.statSync(p.runs).size;
  console.log(`a year of ${TICK_S} s ticks: ${year.ticks} ticks (${kb(year.rawTickBytes)} raw) kept as ${year.tickRecords} records: ${kb(tickBytes)} (${(year.rawTickBytes / tickBytes).toFixed(0)}x smaller)`);
  console.log(`a year of runs at ${RUNS_PER_DAY} a day: ${year.runs} runs (${kb(year.rawRunBytes)}) kept as the last ${year.runRecords} (cap ${RUNS_MAX}): ${kb(runBytes)}`);
  console.log(`history files in all: ${kb(tickBytes + runBytes)} (simulated and compacted in ${simMs.toFixed(0)} ms)`);
  // One tick's append, as the recorder does it after each tick (open, one write, close).
  const appends: number[] = [];
  for (let i = 0; i < 200; i++) {
    const a = performance.now();
    appendRecords(p.ticks, [tick(Date.now(), i)]);
    appends.push(performance.now() - a);
  }
  console.log(`one tick's append: median ${(median(appends) * 1000).toFixed(0)} us`);
  // The hourly compaction the recorder runs after a tick (an hour's ticks change tier: read, downsample, rewrite),
  // and the runs file's (capped only: at start and after every 1,000 more runs).
  const compactions: number[] = [];
  const runCompactions: number[] = [];
  for (let h = 1; h <= 3; h++) {
    let a = performance.now();
    compactTickFile(p.ticks, new Date(Date.now() + h * 3_600_000));
    compactions.push(performance.now() - a);
    a = performance.now();
    compactRunFile(p.runs, new Date(Date.now() + h * 3_600_000));
    runCompactions.push(performance.now() - a);
  }
  console.log(`the hourly compaction of a year's ticks: median ${median(compactions).toFixed(0)} ms; of 10,000 runs (at start, then every 1,000 runs): ${median(runCompactions).toFixed(0)} ms`);
  for (const row of await serveHistory(dir, owner)) console.log(row);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

// ---- index first-load bytes with charts vs without (bench/charts-bytes.ts; target: at most 20 KB more, compressed) ----
for (const line of chartsBytesLines()) console.log(line);
const cost = chartsBuildMs();
console.log(`the charts' cost to a build: reading 30 days of history ${cost.readMs.toFixed(0)} ms (at most once a minute), drawing ${cost.drawMs.toFixed(0)} ms`);
