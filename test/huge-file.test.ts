// A 100 MB task file costs bounded memory: the server and the heartbeat read a task file only up
// to its first MiB (TASK_FILE_CAP), and the task page says how much of the body it left out.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { writeHugeTask } from '../bench/generate.ts';
import { ENTRY, type Folder, cli, run, serveBare, stopServe, waitUntilAsync, withTempFolder } from './helpers.ts';

const MiB = 1024 * 1024;
const HUGE_BYTES = 100 * MiB;
/**
 * The server's peak RSS with the huge file. Without the cap it was 3.2 GB (the body went through
 * markdown, search and the page whole); with it the file adds at most a MiB of body, its search
 * text and a page of a few MiB to a server that peaks near 200 MB on a small folder (tsx, the
 * build worker, markdown-it). 400 MB leaves that room twice and is still 8x below the uncapped peak.
 */
const SERVER_PEAK_KB = 400 * 1024;
/** The one-shot heartbeat peaks near 100 MB on a small folder; it keeps no body, so a MiB read changes little. */
const HEARTBEAT_PEAK_KB = 300 * 1024;
/** The page holds at most a MiB of markdown, rendered: a few MiB, where the whole file made 126 MB. */
const PAGE_MAX_BYTES = 4 * MiB;
const TIME = '/usr/bin/time';

/** The peak resident set of a live process, in kB, from /proc/<pid>/status. */
function peakKb(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `no VmHWM for pid ${pid}`);
  return Number(m[1]);
}

async function withHuge(fn: (t: Folder) => Promise<void>): Promise<void> {
  await withTempFolder('huge', async (t) => {
    fs.rmSync(path.join(t.dir, 'FIRST-TASK.md')); // ready: --once would dispatch it
    writeHugeTask(path.join(t.dir, 'HUGE-1.md'), '---\nid: HUGE-1\ntitle: Huge task\nstatus: backlog\n---\n# Huge task\n', HUGE_BYTES);
    await fn(t);
  });
}

test('serve answers a 100 MB task file\'s page cut at a MiB, with a line saying how much is left out, in bounded memory', { timeout: 240_000 }, async (ctx) => {
  await withHuge(async (t) => {
    const { s, base } = await serveBare(t);
    try {
      const page = await waitUntilAsync(async () => {
        const res = await fetch(`${base}/tasks/HUGE-1.html`).catch(() => undefined);
        return res?.status === 200 ? Buffer.from(await res.arrayBuffer()) : undefined;
      }, 'the huge task\'s page', 180_000);
      const html = page.toString('utf8');
      assert.ok(page.length < PAGE_MAX_BYTES, `the page is ${page.length} bytes, over ${PAGE_MAX_BYTES}`);
      assert.match(html, /<p id="omitted" class="omitted">The body is cut here: 99\.\d MiB \(\d+ bytes\) more are not shown, because a task file is read only up to its first 1\.0 MiB\. Open <code>HUGE-1\.md<\/code>/);
      assert.match(html, /Line 0 of a body/, 'the body\'s start is shown');
      const list = await (await fetch(`${base}/api/tasks`)).json() as { id: string }[] | { tasks: { id: string }[] };
      const ids = (Array.isArray(list) ? list : list.tasks).map((x) => x.id);
      assert.ok(ids.includes('HUGE-1'), `HUGE-1 is listed: ${ids.join(', ')}`);
      const peak = peakKb(s.child.pid as number);
      ctx.diagnostic(`server peak ${Math.round(peak / 1024)} MB, page ${page.length} bytes`);
      assert.ok(peak < SERVER_PEAK_KB, `the server peaked at ${Math.round(peak / 1024)} MB, over ${SERVER_PEAK_KB / 1024} MB`);
    } finally {
      await stopServe(s);
    }
  });
});

test('heartbeat --once reads a 100 MB task file as a task, in bounded memory', { timeout: 120_000 }, async (ctx) => {
  await withHuge(async (t) => {
    const args = ['heartbeat', `owner=${t.owner}`, `dir=${t.dir}`, '--once', '--json'];
    // GNU time reports the peak of a process that has exited; without it, only the outcome is checked.
    const timed = fs.existsSync(TIME);
    const r = timed ? await run(TIME, ['-f', 'maxrss %M', process.execPath, ...ENTRY, ...args], { timeoutMs: 90_000 }) : await cli(args, { timeoutMs: 90_000 });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { taskCount: number; errors: unknown[] };
    assert.equal(out.taskCount, 1, r.stdout);
    assert.deepEqual(out.errors, []);
    if (!timed) return;
    const peak = Number(/maxrss (\d+)/.exec(r.stderr)?.[1]);
    ctx.diagnostic(`heartbeat peak ${Math.round(peak / 1024)} MB`);
    assert.ok(peak > 0 && peak < HEARTBEAT_PEAK_KB, `the heartbeat peaked at ${Math.round(peak / 1024)} MB, over ${HEARTBEAT_PEAK_KB / 1024} MB`);
  });
});

test('a frontmatter still open at the first MiB is a parse error that names the cap and the file\'s size', { timeout: 60_000 }, async () => {
  await withTempFolder('hugefm', async (t) => {
    fs.rmSync(path.join(t.dir, 'FIRST-TASK.md'));
    const lines = Array.from({ length: 40_000 }, (_, i) => `key${i}: a value long enough to add up\n`).join('');
    fs.writeFileSync(path.join(t.dir, 'WIDE-1.md'), `---\nid: WIDE-1\n${lines}`);
    const size = fs.statSync(path.join(t.dir, 'WIDE-1.md')).size;
    assert.ok(size > MiB);
    const r = await cli(['heartbeat', `owner=${t.owner}`, `dir=${t.dir}`, '--once', '--json']);
    const out = JSON.parse(r.stdout) as { errors: { path: string; reason: string }[] };
    assert.deepEqual(out.errors.find((e) => e.path === 'WIDE-1.md'), {
      path: 'WIDE-1.md',
      reason: `frontmatter is not closed by --- within the first 1048576 bytes, the most of a task file that is read (the file is ${size} bytes); close it earlier`,
    });
  });
});
