// Edit benchmark (issue 18), figures and ratios only, no assertions:
// - one `set` through the CLI against a bare `node -e 0`, in paired runs that take turns;
// - 100 updates per second offered against one task file (open loop: each update starts on its
//   schedule, whatever the others do), through the core in-process and through the CLI (at most
//   one child per CPU at once): updates done per second and p50/p99 latency from the scheduled start.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { editTask } from '../lib/tasks/edit.ts';
import { BUNDLE, ROOT, cliCommand, median, percentile, staleSource, wallMs } from './lib-measure.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const RATE = 100;
const CORE_SECONDS = Number(process.env.BENCH_EDIT_SECONDS ?? 5);
const CLI_UPDATES = Number(process.env.BENCH_EDIT_CLI_UPDATES ?? 200);

const TASK = '---\nid: BENCH\ntitle: Benchmark task\nstatus: ready\npriority: p2\nlabels: [a, b]\n---\n## Plan\n\n- [ ] one\n\n## Implementation Progress\n\n- started\n';

/** The CLI as run here: the bundle when it is current, else the sources through tsx (say which). */
function command(): { args: string[]; how: string } {
  const stale = staleSource();
  if (fs.existsSync(BUNDLE) && stale === undefined) return { args: cliCommand(), how: 'dist/tasks.mjs' };
  return { args: ['--import', 'tsx', path.join(ROOT, 'scripts', 'tasks-serve.ts')], how: `sources through tsx (${stale === undefined ? 'no bundle' : `bundle older than ${stale}`})` };
}

const ms = (x: number): string => `${x.toFixed(1)} ms`;

async function setVersusNode(dir: string, cmd: string[]): Promise<void> {
  const set: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    bare.push(await wallMs(process.execPath, ['-e', '0'], [0]));
    set.push(await wallMs(process.execPath, [...cmd, 'set', `dir=${dir}`, 'id=BENCH', `status=${i % 2 ? 'ready' : 'in_progress'}`], [0]));
  }
  console.log(`set through the CLI: median ${ms(median(set))} (p99 ${ms(percentile(set, 99))}); node -e 0: median ${ms(median(bare))}; ratio ${(median(set) / median(bare)).toFixed(2)}x (${RUNS} paired runs)`);
}

/** Offers `count` updates at RATE per second, at most `parallel` at once; returns throughput and latencies from each update's scheduled start. */
async function openLoop(count: number, parallel: number, update: (i: number) => Promise<void>): Promise<{ perSecond: number; lat: number[] }> {
  const lat: number[] = [];
  const t0 = performance.now();
  let running = 0;
  const waiting: (() => void)[] = [];
  const slot = async (): Promise<void> => {
    if (running < parallel) {
      running++;
      return;
    }
    await new Promise<void>((r) => waiting.push(r));
  };
  const free = (): void => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    jobs.push((async () => {
      await slot();
      try {
        await update(i);
        lat.push(performance.now() - due);
      } finally {
        free();
      }
    })());
  }
  await Promise.all(jobs);
  return { perSecond: count / ((performance.now() - t0) / 1000), lat };
}

function report(what: string, r: { perSecond: number; lat: number[] }, file: string, notes: number): void {
  const written = fs.readFileSync(file, 'utf8').split('\n').filter((l) => / n\d+$/.test(l)).length;
  console.log(`${what}: ${r.perSecond.toFixed(1)} updates/s of ${RATE} offered (${(r.perSecond / RATE * 100).toFixed(0)}%), latency p50 ${ms(percentile(r.lat, 50))} p99 ${ms(percentile(r.lat, 99))}; notes in the file ${written} of ${notes}`);
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-bench-edit-'));
  const { args: cmd, how } = command();
  console.log(`edit bench: CLI = ${how}; ${os.cpus().length} CPUs`);
  try {
    const one = path.join(root, 'one');
    fs.mkdirSync(one);
    fs.writeFileSync(path.join(one, 'BENCH.md'), TASK);
    await setVersusNode(one, cmd);

    const core = path.join(root, 'core');
    fs.mkdirSync(core);
    fs.writeFileSync(path.join(core, 'BENCH.md'), TASK);
    const n = RATE * CORE_SECONDS;
    const inProcess = await openLoop(n, Infinity, async (i) => {
      await editTask(core, 'BENCH', { note: `n${i}` });
    });
    report(`core in-process, ${CORE_SECONDS} s`, inProcess, path.join(core, 'BENCH.md'), n);

    const viaCli = path.join(root, 'cli');
    fs.mkdirSync(viaCli);
    fs.writeFileSync(path.join(viaCli, 'BENCH.md'), TASK);
    const parallel = Math.max(1, os.cpus().length);
    const spawned = await openLoop(CLI_UPDATES, parallel, async (i) => {
      await wallMs(process.execPath, [...cmd, 'note', `dir=${viaCli}`, 'id=BENCH', `text=n${i}`], [0]);
    });
    report(`CLI (${parallel} at once), ${CLI_UPDATES} updates`, spawned, path.join(viaCli, 'BENCH.md'), CLI_UPDATES);
    console.log(`ratio CLI/core throughput: ${(spawned.perSecond / inProcess.perSecond).toFixed(2)}; p99 ${(percentile(spawned.lat, 99) / percentile(inProcess.lat, 99)).toFixed(0)}x`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

await main();
