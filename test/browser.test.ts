import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import getPort from 'get-port';
import { type Browser, type Page, chromium } from 'playwright-core';
import { ROOT, SCRIPT, TSX, killAll, start, tempTasks, uniqueOwner, type Running } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');
const HOSTILE = '<img src=x onerror=alert(1)>';
const INTERVAL = 3;

function task(file: string, fields: Record<string, string>, body: string): [string, string] {
  return [file, `---\n${Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('\n')}\n---\n${body}`];
}

const FILES = Object.fromEntries([
  task('ALPHA.md', { id: 'ALPHA', title: 'Alpha ready task', status: 'ready', priority: 'p0', milestone: 'm1', owner: 'dave' }, '## Problem\nThe zebra escaped.\n\n## Plan\n- [x] find it\n- [ ] catch it\n'),
  task('BETA.md', { id: 'BETA', title: 'Beta in progress', status: 'In Progress', priority: 'p1', milestone: 'm1', owner: 'erin', pr: 'https://example.invalid/pull/7', ci: 'failing' }, '## Problem\nSlow builds.\n'),
  task('GAMMA.md', { id: 'GAMMA', title: 'Gamma done', status: 'completed', priority: 'p2', milestone: 'm2', owner: 'dave', completed_by: 'dave', completed: '2026-03-22', depends_on: '[ALPHA, MISSING]' }, '## Problem\nDone.\n[click](javascript:alert(2))\n\n<script>alert(3)</script>\n'),
  task('HOSTILE.md', { id: 'HOSTILE', title: `'${HOSTILE}'`, status: 'todo', priority: 'p3', milestone: 'm2', owner: 'mallory' }, `## Problem\n${HOSTILE}\n`),
  task('sub/DELTA.md', { id: 'DELTA', title: 'Delta blocked', status: 'blocked', priority: 'p1', milestone: 'm3', owner: 'erin' }, '## Problem\nWaiting.\n'),
]);

/** One dashboard per test: its own tasks folder, owner and server, so no test sees another's edits. */
interface Dashboard { base: string; dir: string; owner: string; server: Running; root: string }

describe('dashboard in Chromium', () => {
  let browser: Browser;

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await browser?.close();
  });

  /** Starts a server on a fresh copy of the fixture; stops it and everything it started afterwards. */
  async function withDashboard(fn: (d: Dashboard) => Promise<void>, extra: string[] = []): Promise<void> {
    const fixture = tempTasks();
    fs.rmSync(path.join(fixture.dir, 'FIRST-TASK.md'));
    for (const [name, text] of Object.entries(FILES)) {
      fs.mkdirSync(path.dirname(path.join(fixture.dir, name)), { recursive: true });
      fs.writeFileSync(path.join(fixture.dir, name), text);
    }
    const owner = uniqueOwner('web');
    const port = await getPort({ host: '127.0.0.1' });
    const server = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', `owner=${owner}`, `dir=${fixture.dir}`, `port=${port}`, `interval=${INTERVAL}`, 'project=Acme', ...extra]);
    try {
      await server.waitFor(/serving tasks/);
      await fn({ base: `http://127.0.0.1:${port}/`, dir: fixture.dir, owner, server, root: fixture.root });
    } finally {
      if (server.child.pid) process.kill(-server.child.pid, 'SIGTERM');
      await server.exited;
      await killAll(fixture.root);
      fixture.remove();
    }
  }

  /** What one page did that it must not: requests off loopback, console errors, dialogs. */
  interface Watched { page: Page; offLoopback: string[]; consoleErrors: string[]; dialogs: string[] }

  async function open(url: string, viewport = { width: 1280, height: 900 }): Promise<Watched> {
    const w: Omit<Watched, 'page'> = { offLoopback: [], consoleErrors: [], dialogs: [] };
    const context = await browser.newContext({ viewport });
    await context.route('**/*', (route) => {
      const u = new URL(route.request().url());
      if (u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]') return route.continue();
      w.offLoopback.push(route.request().url());
      return route.abort();
    });
    const page = await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') w.consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => w.consoleErrors.push(e.message));
    page.on('dialog', (d) => { w.dialogs.push(d.message()); void d.dismiss(); });
    await page.goto(url);
    return { page, ...w };
  }

  /** Closes a page after checking it stayed on loopback, logged no error and opened no dialog. */
  async function finish(w: Watched): Promise<void> {
    await w.page.context().close();
    assert.deepEqual(w.offLoopback, [], 'no request left loopback');
    assert.deepEqual(w.consoleErrors, [], 'no console error');
    assert.deepEqual(w.dialogs, [], 'no dialog');
  }

  const visibleIds = (page: Page): Promise<string[]> =>
    page.$$eval('#tasks tbody tr', (rows) => rows.filter((r) => (r as HTMLElement).offsetParent !== null).map((r) => (r.querySelector('a')?.textContent ?? '').trim()));

  test('the index lists every task, with health, counts and escalations', () => withDashboard(async ({ base, owner }) => {
    const w = await open(base);
    const { page } = w;
    assert.equal(await page.title(), 'Acme Tasks');
    assert.deepEqual((await visibleIds(page)).sort(), ['ALPHA', 'BETA', 'DELTA', 'GAMMA', 'HOSTILE']);
    assert.match(await page.textContent('#health') ?? '', new RegExp(owner));
    assert.match(await page.textContent('#escalations') ?? '', /DELTA/);
    assert.match(await page.textContent('#escalations') ?? '', /BETA/);
    assert.doesNotMatch(await page.textContent('#escalations') ?? '', /GAMMA/, 'a completed task is not escalated for its dependencies');
    assert.match(await page.textContent('#ready') ?? '', /ALPHA/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'index.png'), fullPage: true });
    await finish(w);
  }));

  test('filters and search narrow the list and live in the URL', () => withDashboard(async ({ base }) => {
    const w = await open(base);
    const { page } = w;
    await page.selectOption('select[name="status"]', 'ready');
    assert.deepEqual(await visibleIds(page), ['ALPHA']);
    assert.match(page.url(), /status=ready/);
    await page.selectOption('select[name="status"]', '');
    await page.selectOption('select[name="owner"]', 'erin');
    assert.deepEqual((await visibleIds(page)).sort(), ['BETA', 'DELTA']);
    await page.selectOption('select[name="owner"]', '');
    await page.keyboard.press('/');
    assert.equal(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.type), 'search');
    await page.keyboard.type('zebra');
    await page.waitForFunction(() => document.querySelectorAll('#tasks tbody tr:not([hidden])').length === 1);
    assert.deepEqual(await visibleIds(page), ['ALPHA']);
    assert.match(page.url(), /q=zebra/);
    // A shared URL opens the same view.
    const shared = await open(`${base}?status=blocked`);
    assert.deepEqual(await visibleIds(shared.page), ['DELTA']);
    await finish(shared);
    await finish(w);
  }));

  test('a task page shows the metadata, dependencies, and the body rendered safely', () => withDashboard(async ({ base }) => {
    const w = await open(base);
    const { page } = w;
    await page.click('#tasks a:text-is("GAMMA")');
    await page.waitForSelector('main[data-task-id="GAMMA"]');
    const text = await page.textContent('main') ?? '';
    for (const label of ['ID', 'Status', 'Priority', 'Milestone', 'Owner', 'Completed by', 'Completed']) assert.ok(text.includes(label), label);
    for (const value of ['GAMMA', 'completed', 'p2', 'm2', 'dave', '2026-03-22']) assert.ok(text.includes(value), value);
    assert.match(await page.textContent('main ul') ?? text, /MISSING/);
    assert.equal(await page.$$eval('a[href^="javascript:"]', (a) => a.length), 0);
    assert.equal(await page.$$eval('main script', (s) => s.length), 0);
    assert.match(text, /<script>alert\(3\)<\/script>/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'task.png'), fullPage: true });
    await finish(w);
  }));

  test('a hostile title shows as text and no dialog opens', () => withDashboard(async ({ base }) => {
    const w = await open(base);
    const { page } = w;
    // No element the markup could have smuggled in: no img, no inline handler attribute anywhere.
    const handlers = (): Promise<number> => page.$$eval('*', (els) => els.filter((el) => [...el.attributes].some((a) => a.name.startsWith('on'))).length);
    assert.ok((await page.textContent('#tasks') ?? '').includes(HOSTILE));
    assert.equal(await page.$$eval('img', (imgs) => imgs.length), 0);
    assert.equal(await handlers(), 0);
    await page.click('#tasks a:text-is("HOSTILE")');
    await page.waitForSelector('main[data-task-id="HOSTILE"]');
    assert.ok((await page.textContent('main') ?? '').includes(HOSTILE));
    assert.equal(await page.$$eval('img', (imgs) => imgs.length), 0);
    assert.equal(await handlers(), 0);
    await finish(w);
  }));

  test('editing a task file updates the open pages within two intervals, keeping filters', () => withDashboard(async ({ base, dir, server }) => {
    const indexW = await open(`${base}?status=ready`);
    const taskW = await open(`${base}tasks/ALPHA.html`);
    const index = indexW.page;
    const taskPage = taskW.page;
    const file = path.join(dir, 'ALPHA.md');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('Alpha ready task', 'Alpha renamed live'));
    const within = INTERVAL * 2 * 1000;
    const explain = async (what: string, err: unknown): Promise<never> => {
      const served = await fetch(`${base}tasks/ALPHA.html`).then((r) => r.text());
      throw new Error(`${what} did not update within ${within} ms (${String(err)}); served page has new title: ${served.includes('Alpha renamed live')}; live status: ${await taskPage.textContent('#live')}; server output:\n${server.output()}`);
    };
    await taskPage.waitForFunction(() => document.querySelector('main')?.textContent?.includes('Alpha renamed live'), undefined, { timeout: within }).catch((e) => explain('task page', e));
    await index.waitForFunction(() => document.querySelector('#tasks')?.textContent?.includes('Alpha renamed live'), undefined, { timeout: within }).catch((e) => explain('index', e));
    assert.deepEqual(await visibleIds(index), ['ALPHA']);
    assert.match(index.url(), /status=ready/);
    await finish(indexW);
    await finish(taskW);
  }));

  // How fast: bench/watchdog.ts measures kill -9 to restart and to the page's update.
  test('the watchdog restarts a kill -9\'d heartbeat, and the open page shows it without a reload', () => withDashboard(async ({ base, dir, owner }) => {
    const pidFile = path.join(dir, 'logs', 'task_manager', `task-manager-${owner}.heartbeat.pid`);
    const first = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
    const w = await open(base);
    const { page } = w;
    await page.waitForFunction((pid) => document.querySelector('#health')?.textContent?.includes(`pid ${pid}`), first);
    const loads: string[] = [];
    page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) loads.push(frame.url()); });
    process.kill(first, 'SIGKILL');
    let next = 0;
    for (const t0 = Date.now(); ; await new Promise((r) => setTimeout(r, 20))) {
      const line = fs.existsSync(pidFile) ? fs.readFileSync(pidFile, 'utf8').split('\n')[0] : '';
      if (line && Number(line) !== first) { next = Number(line); break; }
      assert.ok(Date.now() - t0 < 15_000, 'the watchdog restarted the heartbeat');
    }
    await page.waitForFunction((pid) => {
      const health = document.querySelector('#health');
      return health?.textContent?.includes(`pid ${pid}`) && health.getAttribute('data-state') === 'running';
    }, next, { timeout: 10_000 });
    assert.deepEqual(loads, [], 'the page updated in place, without a reload');
    await page.screenshot({ path: path.join(ARTIFACTS, 'watchdog-restart.png') });
    await finish(w);
  }));

  test('readable on a phone', () => withDashboard(async ({ base }) => {
    const w = await open(base, { width: 390, height: 844 });
    const { page } = w;
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `page is ${overflow}px wider than the phone`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'index-phone.png'), fullPage: true });
    await finish(w);
  }));
});
