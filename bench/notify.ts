// What notifications cost a tick: observe() on snapshots of 100 and 1,000 claims (a quiet tick, and a tick where every run ended at once), next to the JSON.stringify of the same snapshot the tick already pays for writing it. The receiver never answers: deliveries wait in the background.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { notifyObserver } from '../lib/manager/notify.ts';
import type { Snapshot, SnapshotClaim } from '../lib/manager/tick.ts';
import { median } from './lib-measure.ts';

const ROUNDS = Number(process.env.BENCH_NOTIFY_ROUNDS ?? 30);

function claim(i: number, ended: boolean, at: Date): SnapshotClaim {
  const start = new Date(at.getTime() - 60_000).toISOString();
  return {
    id: `T-${i}`, slug: `t-${i}`, path: `t-${i}.md`, claimedBy: 'bench', claimedAt: start, startedAt: start, worktree: '', pid: ended ? null : 1000 + i, pidStart: null,
    state: ended ? 'exited' : 'running', exitCode: ended ? i % 3 : null, endedAt: ended ? at.toISOString() : null, log: null, runId: `run-${i}`,
    owner: 'bench', ageS: 60, worktreeExists: false, pr: null, ci: 'unknown',
  };
}

function snap(n: number, ended: boolean, tick: number, at: Date): Snapshot {
  return {
    owner: 'bench', pid: process.pid, dir: '/x', tick, tickAt: at.toISOString(), tickDurationMs: 1, interval: 30, nextTickAt: at.toISOString(), taskCount: n,
    counts: { ready: 0 }, ready: [], claims: Array.from({ length: n }, (_, i) => claim(i, ended, at)), escalations: [], errors: [],
  };
}

async function main(): Promise<void> {
  const held: http.ServerResponse[] = [];
  const server = http.createServer((_req, res) => { held.push(res); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook/secret`;
  console.log(`notify observe() cost, ${ROUNDS} rounds each, medians; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const n of [100, 1000]) {
    const quiet: number[] = [];
    const burst: number[] = [];
    const stringify: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-bench-notify-'));
      const dir = path.join(root, 'tasks');
      fs.mkdirSync(path.join(dir, 'logs', 'task_manager'), { recursive: true });
      const now = new Date();
      const o = notifyObserver({ owner: 'bench', dir, host: 'h', command: undefined, url, env: {}, log: () => undefined, now: () => new Date() });
      if (!o) throw new Error('no observer');
      const running = snap(n, false, 1, now);
      o.observe(running);
      let t0 = performance.now();
      o.observe(snap(n, false, 2, now));
      quiet.push(performance.now() - t0);
      const ended = snap(n, true, 3, new Date());
      t0 = performance.now();
      o.observe(ended);
      burst.push(performance.now() - t0);
      t0 = performance.now();
      JSON.stringify(ended);
      stringify.push(performance.now() - t0);
      await o.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
    const s = median(stringify);
    console.log(`${String(n).padStart(5)} claims: quiet tick ${median(quiet).toFixed(3)} ms (${(median(quiet) / s).toFixed(2)}x the snapshot's JSON.stringify, ${s.toFixed(3)} ms); every run ended at once ${median(burst).toFixed(3)} ms (${(median(burst) / s).toFixed(2)}x; 10 queued, the rest held back by the rate limit for one summary)`);
  }
  for (const r of held) r.destroy();
  server.closeAllConnections();
  server.close();
}

await main();
