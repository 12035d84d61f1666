// Scan benchmark: a cold `new TaskScanner(dir).scan()` (what the dashboard's first page and the
// heartbeat's first tick wait for) over 10,000 and 50,000 generated Backlog.md tasks, with the
// frontmatter read by the yaml library only (as before the fast reader) and with the fast reader
// first. Prints medians of alternating rounds and their ratio, without asserting.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { frontmatterReader } from '../lib/tasks/frontmatter.ts';
import { TaskScanner } from '../lib/tasks/scan.ts';
import { generateBacklogTasks } from './generate-backlog.ts';
import { median } from './lib-measure.ts';

const SIZES = (process.env.BENCH_SCAN_TASKS ?? '10000,50000').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_SCAN_ROUNDS ?? 3);

/** One cold scan (a new scanner, so nothing is cached but the OS's page cache): wall and CPU ms (CPU time is what a loaded machine distorts least). */
function coldScan(dir: string, fast: boolean, expect: number): { wall: number; cpu: number } {
  frontmatterReader.fast = fast;
  try {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const result = new TaskScanner(dir).scan();
    const c = process.cpuUsage(c0);
    const ms = { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
    // A scan that read nothing, or errors, is no figure.
    if (result.tasks.length !== expect || result.errors.length > 0) throw new Error(`scan found ${result.tasks.length} tasks and ${result.errors.length} errors, expected ${expect} and 0`);
    return ms;
  } finally {
    frontmatterReader.fast = true;
  }
}

const loadavg = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' ');
console.log(`scan benchmark, node ${process.version}, ${os.cpus().length} cpus, load average ${loadavg()}`);
for (const n of SIZES) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-scan-'));
  try {
    generateBacklogTasks(tmp, n);
    coldScan(tmp, true, n); // warms the page cache and the JIT for both rounds alike
    const yamlOnly: Array<{ wall: number; cpu: number }> = [];
    const fast: Array<{ wall: number; cpu: number }> = [];
    for (let k = 0; k < ROUNDS; k++) {
      yamlOnly.push(coldScan(tmp, false, n));
      fast.push(coldScan(tmp, true, n));
    }
    for (const what of ['wall', 'cpu'] as const) {
      const before = median(yamlOnly.map((m) => m[what]));
      const after = median(fast.map((m) => m[what]));
      console.log(`${n} Backlog.md tasks, cold scan ${what} time: yaml only ${before.toFixed(0)} ms, fast reader ${after.toFixed(0)} ms (${(before / after).toFixed(1)}x faster); median of ${ROUNDS}`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
console.log(`load average at end ${loadavg()}`);
