// The index's Fleet charts in Chromium (issue 20's done-when): 20 real dispatches with mixed outcomes grow the run timeline live, each bar says what /api/history says, and the charts hold up light and dark at 1280 and 390 px.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import getPort from 'get-port';
import type { Browser, Page } from 'playwright-core';
import type { HistoryData, RunRecord } from '../lib/manager/fleet-events.ts';
import { OUTCOME_WORDS, durationText } from '../lib/web/client/charts-data.ts';
import { ARTIFACTS, evalAll, evalOne, launchChromium } from './chromium.ts';
import { SCRIPT, TSX, killAll, start, tempTasks, uniqueOwner, waitUntilAsync } from './helpers.ts';

const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const TASKS = Array.from({ length: 20 }, (_, i) => `C-${String(i + 1).padStart(2, '0')}`);
/** By task number: every 4th fails (exit 1), 7 and 14 sleep past run_timeout (timed out), the rest succeed; each takes long enough that the 20 runs (3 at a time) span several ticks. run_timeout leaves a success 3.2 s beyond its 0.8 s: at 1.5 s a loaded CI machine timed out C-09. */
const DISPATCH = 'n=${TASK_ID#C-}; case $n in 04|08|12|16|20) sleep 0.6; exit 1;; 07|14) sleep 30;; *) sleep 0.8; exit 0;; esac';
const EXPECTED: Readonly<Record<string, string>> = Object.fromEntries(TASKS.map((id) => {
  const n = Number(id.slice(2));
  return [id, n % 4 === 0 ? 'failed' : n === 7 || n === 14 ? 'timed_out' : 'success'];
}));

interface Bar { id: string; label: string; title: string; href: string | null; domId: string }

/** The timeline's bars as drawn now: accessible name, tooltip, link, and the lane they are in. */
const barsOf = (page: Page): Promise<Bar[]> => evalAll(page, '#fleet-timeline .tl-lane a', (as) => as.map((a) => ({
  id: (a.closest('.tl-lane') as HTMLElement).dataset.id ?? '',
  label: a.getAttribute('aria-label') ?? '',
  title: a.querySelector('title')?.textContent ?? '',
  href: a.getAttribute('href'),
  domId: a.id,
})));

/** Runs axe on the Fleet section only; each violation as one line. */
async function fleetViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (c: object, o: object) => Promise<{ violations: { id: string; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
    return (await axe.run({ include: [['#fleet']] }, { resultTypes: ['violations'] })).violations;
  });
  return found.map((v) => `${v.id} (${v.nodes.length}): ${v.help}; ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}

describe('the Fleet charts in Chromium', () => {
  let browser: Browser;
  before(async () => { browser = await launchChromium(); });
  after(async () => { await browser?.close(); });

  /**
   * A served index over a snapshot written by hand: one run of FIRST-TASK in flight (no heartbeat,
   * so nothing changes unless the test writes the snapshot again: `tick(n)`), and one line in the
   * delivery log. Gives the page opened at 1280 px.
   */
  async function withRunning(fn: (page: Page, o: { index: string; tick: (n: number) => void; deliver: (line: string) => void }) => Promise<void>): Promise<void> {
    const fixture = tempTasks();
    const owner = uniqueOwner('chart');
    const state = path.join(fixture.dir, 'logs', 'task_manager');
    fs.mkdirSync(state, { recursive: true });
    const at = new Date(Date.now() - 5000).toISOString();
    const claim = { id: 'FIRST-TASK', slug: 'FIRST-TASK', path: 'FIRST-TASK.md', claimedBy: owner, claimedAt: at, startedAt: at, worktree: '/nowhere', pid: null, pidStart: null,
      state: 'running', exitCode: null, endedAt: null, log: null, runId: 'r-grow', owner, ageS: 5, worktreeExists: false, pr: null, ci: 'unknown' };
    const tick = (n: number): void => {
      const tickAt = new Date().toISOString();
      fs.writeFileSync(path.join(state, `task-manager-${owner}.snapshot.json`), JSON.stringify({ owner, pid: 1, dir: fixture.dir, tick: n, tickAt: n === 1 ? at : tickAt, tickDurationMs: 1, interval: 30,
        nextTickAt: tickAt, taskCount: 1, counts: { total: 1, ready: 1 }, ready: [], claims: [claim], escalations: [], errors: [] }));
    };
    const deliver = (line: string): void => fs.appendFileSync(path.join(state, `task-manager-${owner}.notify.log`), `${line}\n`);
    tick(1);
    deliver(`${at} ok run-finished id="FIRST-TASK" via command attempt 1: exit 0`);
    const port = await getPort({ host: '127.0.0.1' });
    const server = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', `owner=${owner}`, `dir=${fixture.dir}`, `port=${port}`, 'project=Acme', '--no-heartbeat']);
    try {
      await server.waitFor(/serving tasks/);
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      try {
        const page = await context.newPage();
        await page.goto(`http://127.0.0.1:${port}/`);
        await fn(page, { index: path.join(state, `site-${owner}`, 'index.html'), tick, deliver });
      } finally {
        await context.close();
      }
    } finally {
      try {
        if (server.child.pid) process.kill(-server.child.pid, 'SIGTERM');
      } catch {
        // gone already
      }
      await server.exited;
      await killAll(fixture.root, server.child.pid ? [server.child.pid] : []);
      fixture.remove();
    }
  }

  test('a running bar grows as time passes, with no tick and no rebuild (the page redraws the lanes itself)', async () => {
    await withRunning(async (page, { index }) => {
      const served = fs.readFileSync(index);
      const bar = async (): Promise<{ label: string; width: number }> => evalOne(page, '#fleet-timeline a[data-o="running"]', (a) => ({ label: a.getAttribute('aria-label') ?? '', width: Number(a.querySelector('rect')?.getAttribute('width')) }));
      const first = await bar();
      assert.match(first.label, /^FIRST-TASK: running for \d+(\.\d)? s, no exit code yet$/);
      // The span ends now and starts a minute back at least: the bar's share of it widens as the run goes on.
      await page.waitForFunction((w) => Number(document.querySelector('#fleet-timeline a[data-o="running"] rect')?.getAttribute('width')) > w + 20, first.width, { timeout: 15_000, polling: 100 });
      const later = await bar();
      assert.notEqual(later.label, first.label, 'its words say the longer time');
      assert.deepEqual(fs.readFileSync(index), served, 'the page was not rebuilt: the bar grew in the page');
    });
  });

  test('redrawn from the page, the lanes stay the lanes: the axis under them never becomes one more (4 redraws, 1 lane)', async () => {
    await withRunning(async (page) => {
      const lanes = (): Promise<string[]> => evalAll(page, '#fleet-timeline .tl-wrap svg[aria-label]', (svgs) => svgs.map((x) => x.getAttribute('aria-label') ?? ''));
      assert.deepEqual(await lanes(), ['Runs of FIRST-TASK']);
      // Each redraw replaces the wrap's children: count them.
      await page.evaluate(() => {
        const w = window as unknown as { redraws: number };
        w.redraws = 0;
        new MutationObserver((records) => { if (records.some((r) => r.addedNodes.length > 0)) w.redraws += 1; })
          .observe(document.querySelector('#fleet-timeline .tl-wrap') as Node, { childList: true });
      });
      await page.waitForFunction(() => (window as unknown as { redraws: number }).redraws >= 4, undefined, { timeout: 30_000, polling: 100 });
      assert.deepEqual(await lanes(), ['Runs of FIRST-TASK'], 'one lane after 4 redraws');
      assert.equal(await evalAll(page, '#fleet-timeline ol.tl > li', (li) => li.length), 1);
      assert.equal(await evalAll(page, '#fleet-timeline .tl-foot', (f) => f.length), 1, 'one axis under the lanes');
    });
  });

  test('a live swap keeps a chart table and the Notifications open or closed as the operator left them, and the focus on a summary or a range button', async () => {
    await withRunning(async (page, { tick, deliver }) => {
      await page.waitForFunction(() => document.documentElement.dataset.liveVersion ?? false, undefined, { timeout: 15_000 });
      /** Marks the regions, writes the snapshot again, and waits until the server's rebuild has been swapped in for both. */
      const swapped = async (n: number): Promise<void> => {
        await page.evaluate(() => { for (const s of ['#fleet', '#health']) (document.querySelector(s) as HTMLElement).dataset.before = '1'; });
        tick(n);
        await page.waitForFunction(() => document.querySelector('#fleet:not([data-before])') !== null && document.querySelector('#health:not([data-before])') !== null, undefined, { timeout: 20_000, polling: 100 });
      };
      const open = (id: string): Promise<boolean> => evalOne(page, `#${id}`, (d) => (d as HTMLDetailsElement).open);
      const focused = (): Promise<string> => page.evaluate(() => {
        const a = document.activeElement;
        return a === null ? '' : a.tagName === 'SUMMARY' ? `${a.parentElement?.id} summary` : a.id;
      });
      assert.equal(await open('notify-log'), false, 'closed as served: the newest delivery went out');
      await page.click('#notify-log > summary');
      await page.click('#tl-table > summary');
      assert.deepEqual([await open('notify-log'), await open('tl-table'), await focused()], [true, true, 'tl-table summary']);
      await swapped(2);
      assert.deepEqual([await open('notify-log'), await open('tl-table'), await open('tp-table'), await focused()], [true, true, false, 'tl-table summary'],
        'opened by the operator, still open; the others as served; the focus on the same summary');

      await page.click('#flow-b-7d');
      await swapped(3);
      assert.equal(await focused(), 'flow-b-7d', 'the range button keeps the focus');
      assert.equal(await page.getAttribute('#flow-7d', 'hidden'), null);

      // The operator closes the Notifications; then a delivery fails: the server now sends them open, and that shows.
      await page.click('#notify-log > summary');
      await swapped(4);
      assert.equal(await open('notify-log'), false, 'closed by the operator, still closed');
      deliver(`${new Date().toISOString()} failed run-finished id="FIRST-TASK" via command attempt 1: exit 3`);
      await swapped(5);
      assert.equal(await open('notify-log'), true, 'the server opened them (a failed delivery): shown open');
    });
  });

  test('a live swap that arrives while a mouse button is held waits for its release: the click is not lost, and the swap follows', async () => {
    await withRunning(async (page, { tick }) => {
      await page.waitForFunction(() => document.documentElement.dataset.liveVersion ?? false, undefined, { timeout: 15_000 });
      // 30 d first: pressing 7 d then moves the focus from one button to the other (a blur that is no release).
      await page.click('#flow-b-30d');
      assert.equal(await page.getAttribute('#flow-30d', 'hidden'), null);
      await page.evaluate(() => { (document.querySelector('#fleet') as HTMLElement).dataset.before = '1'; });
      const box = await evalOne(page, '#flow-b-7d', (b) => { b.scrollIntoView({ block: 'center' }); const r = b.getBoundingClientRect(); return { x: r.x + r.width / 2, y: r.y + r.height / 2 }; });
      await page.mouse.move(box.x, box.y);
      await page.mouse.down();
      // The tick changes the Fleet section: the page fetches itself, and holds the new one while the button is down.
      const fetched = page.waitForResponse((r) => new URL(r.url()).pathname === '/' && r.request().resourceType() === 'fetch', { timeout: 20_000 });
      tick(2);
      await (await fetched).finished();
      // A window for the swap that did not wait (it came within milliseconds of the answer): the button under the press was replaced then.
      await page.evaluate(() => new Promise((resolve) => { setTimeout(resolve, 500); }));
      assert.equal(await page.getAttribute('#fleet', 'data-before'), '1', 'the swap waits while the button is held');
      await page.mouse.up();
      await page.waitForFunction(() => document.querySelector('#fleet:not([data-before])') !== null, undefined, { timeout: 20_000, polling: 100 });
      assert.equal(await page.getAttribute('#flow-b-7d', 'aria-pressed'), 'true', 'the click pressed 7 d');
      assert.equal(await page.getAttribute('#flow-7d', 'hidden'), null, 'and 7 d shows, in the swapped-in section');
    });
  });

  test('20 runs with mixed outcomes grow the timeline live; every bar says what /api/history says; light and dark at 1280 and 390 px', async () => {
    const fixture = tempTasks();
    fs.rmSync(path.join(fixture.dir, 'FIRST-TASK.md'));
    for (const id of TASKS) fs.writeFileSync(path.join(fixture.dir, `${id}.md`), `---\nid: ${id}\ntitle: Chart run ${id}\nstatus: ready\npriority: p2\n---\nRun.\n`);
    const owner = uniqueOwner('chart');
    const port = await getPort({ host: '127.0.0.1' });
    const server = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', `owner=${owner}`, `dir=${fixture.dir}`, `port=${port}`, 'project=Acme',
      'interval=0.2', 'max=3', 'run_timeout=4', `dispatch=${DISPATCH}`]);
    const base = `http://127.0.0.1:${port}/`;
    const problems: string[] = [];
    try {
      await server.waitFor(/serving tasks/);
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      await context.route('**/*', (route) => {
        if (new URL(route.request().url()).hostname === '127.0.0.1') return route.continue();
        problems.push(`request off loopback: ${route.request().url()}`);
        return route.abort();
      });
      const page = await context.newPage();
      page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      let loads = 0;
      page.on('load', () => { loads += 1; });
      await page.goto(base);
      await page.evaluate(() => { (window as unknown as { mark: number }).mark = 1; });
      // A range picked now stays picked through the live swaps that follow.
      await page.click('#fleet-flow .ch-ranges:not([hidden]) button[data-range="7d"]', { timeout: 15_000 });

      // Live: the number of bars is sampled until every task's run has ended; it must have grown in steps, without a reload.
      const seen: number[] = [];
      const history = async (): Promise<HistoryData> => (await (await fetch(`${base}api/history?since=1h`)).json()) as HistoryData;
      const ended = (h: HistoryData): RunRecord[] => h.runs.filter((r) => r.outcome !== 'running');
      await waitUntilAsync(async () => {
        const bars = await barsOf(page);
        if (seen[seen.length - 1] !== bars.length) seen.push(bars.length);
        const done = bars.length === TASKS.length && bars.every((b) => !/running/.test(b.label));
        return done && ended(await history()).length === TASKS.length;
      }, 'all 20 runs to end and show as bars', 90_000).catch(async (err: Error) => {
        throw new Error(`${err.message}; bar counts seen: ${seen.join(', ')}; bars: ${JSON.stringify(await barsOf(page))}\nserver:\n${server.output()}`);
      });
      assert.ok(seen.filter((n) => n > 0).length >= 3, `the timeline grew in steps while the page was open (bar counts seen: ${seen.join(', ')})`);
      assert.equal(await page.evaluate(() => (window as unknown as { mark?: number }).mark), 1, 'the page was not reloaded');
      assert.equal(loads, 1, 'no navigation');
      assert.deepEqual(await evalAll(page, '#fleet-flow .flow-range', (ps) => ps.map((p) => [p.id, (p as HTMLElement).hidden])), [['flow-24h', true], ['flow-7d', false], ['flow-30d', true]],
        'the 7 d range is still the one shown after the swaps');

      // Each bar against /api/history: the task, how it ended, how long it took, its exit code.
      const runs = ended(await history());
      const bars = await barsOf(page);
      assert.deepEqual(runs.map((r) => r.id).sort(), [...TASKS]);
      for (const r of runs) {
        assert.equal(r.outcome, EXPECTED[r.id], `${r.id} ended as its dispatch command says`);
        const bar = bars.find((b) => b.id === r.id);
        assert.ok(bar, `a bar for ${r.id}`);
        const m = /^(\S+): ([a-z ]+), ([\d.]+ (?:s|min|h)), exit (\d+|none)$/.exec(bar.label);
        assert.ok(m, `${r.id}'s bar has an accessible name of the expected form: ${bar.label}`);
        const what = `${bar.label} against ${JSON.stringify(r)}`;
        assert.equal(m[1], r.id, what);
        assert.equal(m[2], OUTCOME_WORDS[r.outcome], what);
        assert.equal(m[3], durationText(r.durationS as number), what);
        assert.equal(m[4], r.exit === null ? 'none' : String(r.exit), what);
        assert.equal(bar.title, bar.label, 'the tooltip says the same');
        assert.equal(bar.href, `tasks/${r.id}.html`);
      }
      assert.match(await page.textContent('#fleet-timeline .ch-sum') ?? '', /20 runs of 20 tasks: 13 succeeded, 5 failed, 2 timed out/);
      assert.match(await page.textContent('#fleet-throughput .ch-sum') ?? '', /20 runs started, 20 finished, 13 of them succeeded \(65%\)/);

      // Focus shows the bar's words under the lanes; Enter opens the task, and so does a click.
      await page.focus(`#${bars[0]?.domId}`);
      assert.equal(await page.textContent('#fleet-timeline .tl-detail'), bars[0]?.label);
      // One tab stop for all the bars: the arrow keys move it (down to the next lane, right along a lane, up back).
      const stops = (): Promise<string[]> => evalAll(page, '#fleet-timeline a[tabindex="0"]', (as) => as.map((a) => a.id));
      const active = (): Promise<string> => page.evaluate(() => document.activeElement?.id ?? '');
      assert.deepEqual(await stops(), [bars[0]?.domId]);
      await page.keyboard.press('ArrowDown');
      const second = await active();
      assert.equal(await evalOne(page, `#${second}`, (a) => (a.closest('.tl-lane') as HTMLElement).dataset.id), bars.find((b) => b.domId === second)?.id);
      assert.notEqual(second, bars[0]?.domId);
      assert.deepEqual(await stops(), [second], 'the tab stop moved along');
      assert.equal(await page.textContent('#fleet-timeline .tl-detail'), bars.find((b) => b.domId === second)?.label);
      assert.equal(await evalOne(page, `#${second}`, (a) => a.getAttribute('aria-describedby')), 'tl-keys');
      await page.keyboard.press('ArrowUp');
      assert.equal(await active(), bars[0]?.domId);
      assert.deepEqual(await stops(), [bars[0]?.domId]);
      await page.keyboard.press('Enter');
      await page.waitForURL(`${base}${bars[0]?.href}`);
      await page.goBack();
      await page.click(`#${bars[1]?.domId}`);
      await page.waitForURL(`${base}${bars[1]?.href}`);
      await context.close();

      // The range buttons switch the status flow (without script only 24 h shows: the buttons are hidden in the HTML).
      const html = await (await fetch(base)).text();
      assert.match(html, /<div class="ch-ranges" role="group" aria-label="Range" hidden>/);
      assert.match(html, /id="flow-7d" data-range="7d" hidden/);
      for (const colorScheme of ['light', 'dark'] as const) {
        for (const width of [1280, 390]) {
          const ctx = await browser.newContext({ viewport: { width, height: 900 }, colorScheme, bypassCSP: true });
          try {
            const p = await ctx.newPage();
            p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
            await p.goto(base);
            await p.waitForSelector('#fleet-flow .ch-ranges:not([hidden])');
            assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), `no sideways scroll at ${width} px`);
            await evalOne(p, '#fleet', (el) => el.scrollIntoView());
            await p.screenshot({ path: path.join(ARTIFACTS, `charts-${width}-${colorScheme}.png`) });
            await p.screenshot({ path: path.join(ARTIFACTS, `charts-full-${width}-${colorScheme}.png`), fullPage: true });
            assert.deepEqual(await fleetViolations(p), [], `axe on the Fleet section, ${colorScheme} ${width} px`);
            await p.click('#fleet-flow button[data-range="7d"]');
            assert.equal(await p.getAttribute('#flow-7d', 'hidden'), null);
            assert.equal(await p.getAttribute('#flow-24h', 'hidden'), '');
            assert.equal(await p.getAttribute('#fleet-flow button[data-range="7d"]', 'aria-pressed'), 'true');
          } finally {
            await ctx.close();
          }
        }
      }
      assert.deepEqual(problems, []);
    } finally {
      try {
        if (server.child.pid) process.kill(-server.child.pid, 'SIGTERM');
      } catch (err) {
        // Gone already: its output says why (the assertions above name it when it mattered).
        console.log(`the server had exited: ${String(err)}\n${server.output()}`);
      }
      await server.exited;
      await killAll(fixture.root, server.child.pid ? [server.child.pid] : []);
      fixture.remove();
    }
  });
});
