// Tick benchmark (issue 3): cold, warm (nothing changed) and one-changed ticks over 100, 1,000
// and 10,000 generated task files, and the real heartbeat's resident memory at 10,000.
// Targets at 10,000: warm <= 100 ms, one-changed <= 150 ms, cold <= 3 s, RSS <= 120 MB.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../lib/base/atomic.ts';
import { managerTicker } from '../lib/manager/ticker.ts';
import { generateTasks } from './generate.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function measure(n: number): Promise<{ cold: number; warm: number; changed: number }> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-tick-'));
  const dir = path.join(tmp, 'tasks');
  try {
    generateTasks(dir, n);
    const ticker = managerTicker({ owner: 'bench', dir, root: tmp, dispatch: undefined, max: 1, escalateAfterS: 7200, env: {}, once: false, log: () => undefined, now: () => new Date() });
    let tick = 0;
    const timeTick = async (): Promise<number> => {
      const t0 = performance.now();
      // What the heartbeat does per tick: the tick itself and the atomic snapshot write.
      const snap = await ticker.tick({ owner: 'bench', dir, pid: process.pid, interval: 30, tick: ++tick, now: () => new Date() });
      writeFileAtomic(path.join(tmp, 'snapshot.json'), JSON.stringify(snap) + '\n');
      return performance.now() - t0;
    };
    const cold = await timeTick();
    const warm = median([await timeTick(), await timeTick(), await timeTick(), await timeTick(), await timeTick()]);
    const changed: number[] = [];
    for (let k = 0; k < 5; k++) {
      // A real edit between ticks: a status flips to blocked, which the snapshot must show.
      const file = path.join(dir, 'area-000', `AREA_0-TASK_${k}.md`);
      const before = (await ticker.tick({ owner: 'bench', dir, pid: process.pid, interval: 30, tick: ++tick, now: () => new Date() })).counts.blocked ?? 0;
      const text = fs.readFileSync(file, 'utf8');
      const wasBlocked = /^status: blocked$/m.test(text);
      fs.writeFileSync(file, text.replace(/^status: .*$/m, 'status: blocked').replace('## Problem', `## Problem\nedit ${k}`));
      await new Promise((r) => setTimeout(r, 50)); // edits land between ticks; let the watch event arrive
      const t0 = performance.now();
      const snap = await ticker.tick({ owner: 'bench', dir, pid: process.pid, interval: 30, tick: ++tick, now: () => new Date() });
      writeFileAtomic(path.join(tmp, 'snapshot.json'), JSON.stringify(snap) + '\n');
      changed.push(performance.now() - t0);
      const after = snap.counts.blocked ?? 0;
      if (after !== before + (wasBlocked ? 0 : 1)) throw new Error(`the tick after an edit did not see it (blocked ${before} -> ${after})`);
    }
    await ticker.close();
    return { cold, warm, changed: median(changed) };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function heartbeatRss(n: number): Promise<number> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-rss-'));
  const dir = path.join(tmp, 'tasks');
  const cli = (args: string[]): string => {
    const env: Record<string, string | undefined> = { ...process.env };
    delete env.NODE_OPTIONS;
    // What operators run: the bundle (npm ci builds it), which spawns the heartbeat without tsx.
    const entry = fs.existsSync(path.join(ROOT, 'dist', 'tasks.mjs')) ? ['dist/tasks.mjs'] : ['--import', 'tsx', 'scripts/tasks-serve.ts'];
    const r = spawnSync(process.execPath, [...entry, ...args, 'owner=bench-rss', `dir=${dir}`], { cwd: ROOT, env, encoding: 'utf8' });
    return r.stdout;
  };
  try {
    generateTasks(dir, n);
    const { pid } = JSON.parse(cli(['ensure', 'interval=0.5', '--json'])) as { pid: number };
    const snap = path.join(dir, 'logs', 'task_manager', 'task-manager-bench-rss.snapshot.json');
    for (let i = 0; i < 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      if (fs.existsSync(snap) && (JSON.parse(fs.readFileSync(snap, 'utf8')) as { tick: number }).tick >= 5) break;
    }
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    return kb / 1024;
  } finally {
    cli(['stop']);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const targets = { warm: 100, changed: 150, cold: 3000 };
console.log(`tick benchmark, node ${process.version}, ${os.cpus().length} cpus`);
console.log('files    cold ms   warm ms   one-changed ms');
let last = { cold: 0, warm: 0, changed: 0 };
for (const n of [100, 1000, 10000]) {
  last = await measure(n);
  console.log(`${String(n).padStart(6)}  ${last.cold.toFixed(0).padStart(8)}  ${last.warm.toFixed(1).padStart(8)}  ${last.changed.toFixed(1).padStart(14)}`);
}
const rss = await heartbeatRss(10000);
const verdict = (v: number, t: number): string => `${v.toFixed(1)} vs <= ${t}: ${v <= t ? 'met' : 'MISSED'}`;
console.log(`at 10,000 files: warm ${verdict(last.warm, targets.warm)}; one-changed ${verdict(last.changed, targets.changed)}; cold ${verdict(last.cold, targets.cold)}; heartbeat RSS MB ${verdict(rss, 120)}`);
