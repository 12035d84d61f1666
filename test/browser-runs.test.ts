// Runs in the dashboard, in Chromium: a run's new log lines reach the open task page live, and a failed run shows its exit and log.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import getPort from 'get-port';
import type { Browser, Page } from 'playwright-core';
import { evalAll, launchChromium } from './chromium.ts';
import { SCRIPT, TSX, killAll, start, tempTasks, uniqueOwner, waitUntil, type Running } from './helpers.ts';

/** One dashboard per test: its own tasks folder, owner, server and heartbeat. */
interface Dashboard { base: string; dir: string; root: string; owner: string; server: Running }

describe('runs in Chromium', () => {
  let browser: Browser;

  before(async () => {
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  /**
   * Serves a fresh tasks folder (one ready task, FIRST-TASK) with the given arguments; afterwards
   * stops the server and kills every process whose command line names the folder (the heartbeat,
   * the run's shell, its log relay), checking they are gone.
   */
  async function withDashboard(args: (root: string) => string[], fn: (d: Dashboard) => Promise<void>): Promise<void> {
    const fixture = tempTasks();
    const owner = uniqueOwner('wrun');
    const port = await getPort({ host: '127.0.0.1' });
    const server = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', `owner=${owner}`, `dir=${fixture.dir}`, `port=${port}`, 'project=Acme', ...args(fixture.root)]);
    try {
      await server.waitFor(/serving tasks/);
      await fn({ base: `http://127.0.0.1:${port}/`, dir: fixture.dir, root: fixture.root, owner, server });
    } finally {
      // Runs wait on files in the folder: let them end, then kill whatever is left.
      fs.writeFileSync(path.join(fixture.root, 'done'), '');
      if (server.child.pid) process.kill(-server.child.pid, 'SIGTERM');
      await server.exited;
      await killAll(fixture.root, server.child.pid ? [server.child.pid] : []);
      fixture.remove();
    }
  }

  /** What a page did that it must not: requests off loopback, console errors, dialogs, reloads. */
  interface Watched { page: Page; offLoopback: string[]; consoleErrors: string[]; dialogs: string[]; loads: number }

  async function open(url: string): Promise<Watched> {
    const w: Watched = { page: undefined as unknown as Page, offLoopback: [], consoleErrors: [], dialogs: [], loads: 0 };
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.route('**/*', (route) => {
      const u = new URL(route.request().url());
      if (u.hostname === '127.0.0.1') return route.continue();
      w.offLoopback.push(route.request().url());
      return route.abort();
    });
    w.page = await context.newPage();
    w.page.on('console', (m) => { if (m.type() === 'error') w.consoleErrors.push(m.text()); });
    w.page.on('pageerror', (e) => w.consoleErrors.push(e.message));
    w.page.on('dialog', (d) => { w.dialogs.push(d.message()); void d.dismiss(); });
    w.page.on('load', () => { w.loads += 1; });
    await w.page.goto(url);
    return w;
  }

  async function finish(w: Watched): Promise<void> {
    await w.page.context().close();
    assert.deepEqual(w.offLoopback, [], 'no request left loopback');
    assert.deepEqual(w.consoleErrors, [], 'no console error');
    assert.deepEqual(w.dialogs, [], 'no dialog');
  }

  const logText = (page: Page): Promise<string> => page.evaluate(() => document.getElementById('runlog-lines')?.textContent ?? '');

  /** Waits (polling, with a deadline) until the page's run log shows text; the failure shows what it had. */
  async function waitForLog(page: Page, text: string, server: Running): Promise<void> {
    const timeoutMs = 15_000;
    try {
      await page.waitForFunction((t) => (document.getElementById('runlog-lines')?.textContent ?? '').includes(t), text, { timeout: timeoutMs, polling: 20 });
    } catch (err) {
      throw new Error(`the page's run log did not show ${JSON.stringify(text)} within ${timeoutMs} ms (${String(err)}); it shows:\n${await logText(page)}\nlive: ${await page.textContent('#live')}\nserver output:\n${server.output()}`);
    }
  }

  test('a run\'s next log line reaches the open task page live, without a reload (bench/runlog.ts times it)', () => withDashboard(
    (root) => ['interval=0.2', `dispatch=echo first-$TASK_ID; while [ ! -e ${root}/go ]; do sleep 0.05; done; echo second-$TASK_ID; while [ ! -e ${root}/done ]; do sleep 0.05; done`],
    async ({ base, root, dir, server }) => {
      const w = await open(`${base}tasks/FIRST-TASK.html`);
      const { page } = w;
      await waitForLog(page, 'first-FIRST-TASK', server);
      assert.doesNotMatch(await logText(page), /second-FIRST-TASK/);
      await page.evaluate(() => { (window as unknown as { mark: number }).mark = 1; });
      const loads = w.loads;
      const log = path.join(dir, 'logs', 'task_manager', 'runs', 'FIRST-TASK.log');
      fs.writeFileSync(path.join(root, 'go'), '');
      // From the moment the line is in the file (polled every 10 ms) to the moment the page shows it.
      await waitUntil(() => fs.readFileSync(log, 'utf8').includes('second-FIRST-TASK'), 'the run to write its second line');
      // The line must show, in place; how fast is not a test's assertion (tests wait on conditions).
      await waitForLog(page, 'second-FIRST-TASK', server);
      assert.equal(await page.evaluate(() => (window as unknown as { mark?: number }).mark), 1, 'the page was not reloaded');
      assert.equal(w.loads, loads, 'no navigation');
      assert.match(await page.textContent('#claim') ?? '', /running/);
      assert.match(await page.textContent('#runlog') ?? '', /full log/);
      await finish(w);
    },
  ));

  test('lines appended to a run log stream to the page while nothing else changes (no tick, no rebuild)', () => withDashboard(
    () => ['--no-heartbeat'],
    async ({ base, dir, owner, server }) => {
      const runs = path.join(dir, 'logs', 'task_manager', 'runs');
      fs.mkdirSync(runs, { recursive: true });
      const log = path.join(runs, 'FIRST-TASK.log');
      fs.writeFileSync(log, 'one <b>not bold</b>\n');
      const claim = {
        id: 'FIRST-TASK', slug: 'FIRST-TASK', path: 'FIRST-TASK.md', claimedBy: 'x', claimedAt: new Date().toISOString(), startedAt: new Date().toISOString(),
        worktree: '/nowhere', pid: null, pidStart: null, state: 'running', exitCode: null, endedAt: null, log,
      };
      fs.writeFileSync(path.join(runs, '..', 'registry.json'), JSON.stringify({ version: 1, claims: { 'FIRST-TASK': claim }, history: [] }));
      const site = path.join(dir, 'logs', 'task_manager', `site-${owner}`, 'tasks', 'FIRST-TASK.html');
      await waitUntil(() => fs.readFileSync(site, 'utf8').includes('runlog-lines'), 'the page to show the log');
      const w = await open(`${base}tasks/FIRST-TASK.html`);
      const { page } = w;
      await waitForLog(page, 'one <b>not bold</b>', server);
      assert.equal(await evalAll(page, '#runlog b', (b) => b.length), 0, 'log text is escaped');
      const pageBytes = fs.readFileSync(site, 'utf8');
      for (const n of [2, 3, 4]) {
        fs.appendFileSync(log, `line ${n}\n`);
        await waitForLog(page, `line ${n}`, server);
      }
      // A line written in two parts shows as one.
      fs.appendFileSync(log, 'half');
      await waitForLog(page, 'half', server);
      fs.appendFileSync(log, ' and whole\n');
      await waitForLog(page, 'half and whole', server);
      assert.deepEqual((await logText(page)).split('\n'), ['one <b>not bold</b>', 'line 2', 'line 3', 'line 4', 'half and whole']);
      assert.equal(fs.readFileSync(site, 'utf8'), pageBytes, 'the lines came as events, not through a rebuilt page');
      await finish(w);
    },
  ));

  test('a failed run shows its exit code, its log tail and the retry command', () => withDashboard(
    () => ['interval=0.2', 'dispatch=echo "started $TASK_ID"; echo "oops <b>$TASK_ID</b>" >&2; exit 3'],
    async ({ base, server }) => {
      const w = await open(`${base}tasks/FIRST-TASK.html`);
      const { page } = w;
      try {
        await page.waitForSelector('#run-failed', { timeout: 15_000 });
      } catch (err) {
        throw new Error(`no failed run shown (${String(err)}); main:\n${await page.textContent('main')}\nserver output:\n${server.output()}`);
      }
      assert.match(await page.textContent('#run-failed') ?? '', /Run failed[\s\S]*exit code 3[\s\S]*just tasks retry id=FIRST-TASK/);
      await waitForLog(page, 'oops <b>FIRST-TASK</b>', server);
      assert.match(await logText(page), /started FIRST-TASK\noops <b>FIRST-TASK<\/b>/);
      assert.equal(await evalAll(page, '#runlog b', (b) => b.length), 0, 'log text is escaped');
      // Prominent: the failure and the log come before the claim and the body.
      const order = await evalAll(page, 'main > section', (s) => s.map((x) => x.id));
      assert.deepEqual(order.slice(0, 2), ['run-failed', 'runlog']);
      const index = await open(base);
      assert.match(await index.page.textContent('#claims') ?? '', /FIRST-TASK[\s\S]*exited\s*3/);
      assert.match(await index.page.textContent('#ready h2') ?? '', /^Dispatchable \(0\)$/);
      await finish(index);
      await finish(w);
    },
  ));
});
