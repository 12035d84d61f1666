// Run-log benchmark (issue 9): how fast a run's new output line reaches the task page open in
// Chromium. One `serve` dispatches one task whose run prints `line-<n>` each time the benchmark
// creates a gate file; the benchmark polls the run's log file and the page notes (MutationObserver)
// when the line shows. Times to the line on the page from the line in the file, and from the gate
// (which adds the run's own polling), over LINES lines spaced unevenly across the heartbeat's tick.
//   Target: <= 1,000 ms each (the browser tests only check that the line arrives, in place).
// Needs Debian's chromium at /usr/bin/chromium (playwright-core drives it; nothing is downloaded).
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import { chromium } from 'playwright-core';
import { benchEnv, cliCommand, endServe, median, staleSource, until } from './lib-measure.ts';

const CHROMIUM = '/usr/bin/chromium';
const LINES = Number(process.env.RUNLOG_LINES ?? 20);
const TARGET_MS = 1000;

if (!fs.existsSync(CHROMIUM)) {
  console.log(`runlog: skipped, ${CHROMIUM} is missing (apt-get install -y chromium)`);
  process.exit(0);
}
const stale = fs.existsSync(path.join(path.dirname(cliCommand()[0] ?? ''), 'tasks.mjs')) ? staleSource() : undefined;
if (stale) console.log(`note: dist/ is older than ${stale}; run \`node scripts/prepare.mjs\` to measure the bundle`);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-bench-runlog-'));
const dir = path.join(tmp, 'tasks');
const owner = `bench-rl-${process.pid}`;
fs.mkdirSync(dir);
fs.writeFileSync(path.join(dir, 'RUN.md'), '---\nid: RUN\ntitle: A run that talks\nstatus: ready\n---\nbody\n');
const gate = (n: number): string => path.join(tmp, `go-${n}`);
const run = `i=1; while [ $i -le ${LINES} ]; do while [ ! -e ${tmp}/go-$i ]; do sleep 0.01; done; echo line-$i; i=$((i+1)); done; while [ ! -e ${tmp}/done ]; do sleep 0.05; done`;
const log = path.join(dir, 'logs', 'task_manager', 'runs', 'RUN.log');
const port = await getPort({ host: '127.0.0.1' });
const serve: ChildProcess = spawn(process.execPath, [...cliCommand(), 'serve', `owner=${owner}`, `dir=${dir}`, `port=${port}`, 'interval=0.5', `dispatch=${run}`, 'worktrees=off'], { env: benchEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
let out = '';
serve.stdout?.on('data', (c) => { out += String(c); });
serve.stderr?.on('data', (c) => { out += String(c); });
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
/** From the line in the file (polled every 5 ms, so up to 5 ms late) to the page; and from the gate (the run polls it every 10 ms) to the page. */
const times: number[] = [];
const gated: number[] = [];
try {
  await until(`serve to listen; it said:\n${out}`, () => (/serving tasks/.test(out) ? true : undefined));
  await until('the run to start', () => (fs.existsSync(log) ? true : undefined));
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/tasks/RUN.html`);
  await page.waitForSelector('#runlog-lines', { timeout: 20_000 });
  // The page notes the wall-clock time at which each line first shows.
  // (A string, not a function: tsx would wrap a named arrow in a helper the page does not have.)
  await page.evaluate(`{
    const seen = (window.seen = {});
    const note = () => {
      for (const m of (document.getElementById('runlog-lines')?.textContent ?? '').matchAll(/line-\\d+/g)) seen[m[0]] ??= Date.now();
    };
    new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true });
    note();
  }`);
  for (let n = 1; n <= LINES; n++) {
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
    fs.writeFileSync(gate(n), '');
    const opened = Date.now();
    const want = new RegExp(`^line-${n}$`, 'm');
    const inFile = await until(`line-${n} in the run log`, () => (want.test(fs.readFileSync(log, 'utf8')) ? Date.now() : undefined), 10_000);
    const onPage = await until(`line-${n} on the page`, async () => page.evaluate((k) => (window as unknown as { seen: Record<string, number> }).seen[k], `line-${n}`), 10_000);
    times.push(onPage - inFile);
    gated.push(onPage - opened);
  }
} finally {
  fs.writeFileSync(path.join(tmp, 'done'), '');
  await browser.close();
  await endServe(serve, owner, dir);
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`runlog: a run's new line reaching the open task page, ${LINES} lines, median (max)`);
for (const [what, xs] of [['from the log file', times], ['from the gate', gated]] as const) {
  const worst = Math.max(...xs);
  console.log(`  ${what.padEnd(18)} ${median(xs).toFixed(0).padStart(5)} ms  (max ${worst.toFixed(0)} ms)  worst ${(worst / TARGET_MS).toFixed(2)}x of the ${TARGET_MS} ms target  ${worst <= TARGET_MS ? 'ok' : 'MISSED'}`);
}
