import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import getPort from 'get-port';
import type { Browser, Page } from 'playwright-core';
import { ARTIFACTS, evalAll, evalOne, launchChromium } from './chromium.ts';
import { SCRIPT, TSX, killAll, runtimeFile, start, tempTasks, uniqueOwner, type Running } from './helpers.ts';
import { generateTasks } from '../bench/generate.ts';

const HOSTILE = '<img src=x onerror=alert(1)>';
const INTERVAL = 3;

function task(file: string, fields: Record<string, string>, body: string): [string, string] {
  return [file, `---\n${Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('\n')}\n---\n${body}`];
}

/**
 * The board's fixture: every canonical status but blocked and cancelled, an unknown one (On Hold),
 * priorities of two scales, several owners (one written @Erin), labels, a due date in the past on an
 * open task and on a finished one, an archived task, a hostile title, and 12 files that do not parse.
 */
const BOARD = Object.fromEntries([
  task('B-DRAFT.md', { id: 'B-DRAFT', title: 'Draft idea', status: 'draft', priority: 'low' }, 'Maybe.\n'),
  task('B-TODO.md', { id: 'B-TODO', title: 'Todo item', status: 'To Do', priority: 'high', owner: 'erin', labels: '[api]' }, 'Later.\n'),
  task('B-READY.md', { id: 'B-READY', title: 'Ready to go', status: 'ready', priority: 'p1', assignee: '[dave, "@Erin"]', labels: '[web, urgent]' }, 'The zebra escaped.\n'),
  task('B-WIP.md', { id: 'B-WIP', title: 'Work in progress', status: 'In Progress', priority: 'critical', owner: 'dave', labels: '[web]' }, 'Going.\n'),
  task('B-LATE.md', { id: 'B-LATE', title: 'Late review', status: 'review', priority: 'p2', owner: 'mallory', due: '2000-01-01' }, 'Late.\n'),
  task('B-DONE.md', { id: 'B-DONE', title: 'Done long ago', status: 'completed', priority: 'p2', labels: '[web]', due: '2000-01-01' }, 'Done.\n'),
  task('B-HOLD.md', { id: 'B-HOLD', title: 'On hold', status: 'On Hold' }, 'Waiting.\n'),
  task('B-HOSTILE.md', { id: 'B-HOSTILE', title: `'${HOSTILE}'`, status: 'todo', labels: `['${HOSTILE}']` }, 'Hostile.\n'),
  task('archive/B-OLD.md', { id: 'B-OLD', title: 'Archived one', status: 'completed', labels: '[web]' }, 'Old.\n'),
  ...Array.from({ length: 12 }, (_, i): [string, string] => [`broken/bad-${String(i).padStart(2, '0')}.md`, `no frontmatter ${i}\n`]),
]);

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
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  /** Starts a server on a fresh copy of the fixture; stops it and everything it started afterwards. */
  async function withDashboard(fn: (d: Dashboard) => Promise<void>, extra: string[] = [], files: Record<string, string> | ((dir: string) => void) = FILES): Promise<void> {
    const fixture = tempTasks();
    fs.rmSync(path.join(fixture.dir, 'FIRST-TASK.md'));
    if (typeof files === 'function') files(fixture.dir);
    for (const [name, text] of typeof files === 'function' ? [] : Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(fixture.dir, name)), { recursive: true });
      fs.writeFileSync(path.join(fixture.dir, name), text);
    }
    const owner = uniqueOwner('web');
    const port = await getPort({ host: '127.0.0.1' });
    const server = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', `owner=${owner}`, `dir=${fixture.dir}`, `port=${port}`, `interval=${INTERVAL}`, 'project=Acme', ...extra]);
    try {
      // A deadline, not a measure: a loaded machine builds 2,000 pages slowly.
      await server.waitFor(/serving tasks/, 60_000);
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
    evalAll(page, '#tasks tbody tr', (rows) => rows.filter((r) => (r as HTMLElement).offsetParent !== null).map((r) => (r.querySelector('a')?.textContent ?? '').trim()));

  /**
   * Waits (15 s at most) for the list to show exactly `want` (in order, or as a set when `sorted`),
   * then asserts it. The list reads in one turn of the page (evalAll): read with `$$eval`, it came
   * out empty on loaded machines when a live update replaced the rows between its two round trips.
   */
  async function expectIds(page: Page, want: string[], sorted = false): Promise<void> {
    const read = async (): Promise<string[]> => (sorted ? (await visibleIds(page)).sort() : visibleIds(page));
    const same = (ids: string[]): boolean => JSON.stringify(ids) === JSON.stringify(want);
    for (const t0 = Date.now(); Date.now() - t0 < 15_000 && !same(await read()); ) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await read(), want);
  }

  test('the index lists every task, with health, counts and escalations', () => withDashboard(async ({ base, owner }) => {
    const w = await open(base);
    const { page } = w;
    assert.equal(await page.title(), 'Acme Tasks');
    await expectIds(page, ['ALPHA', 'BETA', 'DELTA', 'GAMMA', 'HOSTILE'], true);
    assert.match(await page.textContent('#health') ?? '', new RegExp(owner));
    // The escalations and the ready queue come with the first tick's snapshot, which can land after the page: the page updates in place.
    await page.waitForFunction(() => document.querySelector('#health')?.hasAttribute('data-tick-at'));
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
    await expectIds(page, ['ALPHA']);
    assert.match(page.url(), /status=ready/);
    await page.selectOption('select[name="status"]', '');
    await page.selectOption('select[name="owner"]', 'erin');
    await expectIds(page, ['BETA', 'DELTA'], true);
    await page.selectOption('select[name="owner"]', '');
    await page.keyboard.press('/');
    assert.equal(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.type), 'search');
    await page.keyboard.type('zebra');
    await page.waitForFunction(() => document.querySelectorAll('#tasks tbody tr:not([hidden])').length === 1);
    await expectIds(page, ['ALPHA']);
    assert.match(page.url(), /q=zebra/);
    // A shared URL opens the same view.
    const shared = await open(`${base}?status=blocked`);
    await expectIds(shared.page, ['DELTA']);
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
    assert.equal(await evalAll(page, 'a[href^="javascript:"]', (a) => a.length), 0);
    assert.equal(await evalAll(page, 'main script', (s) => s.length), 0);
    assert.match(text, /<script>alert\(3\)<\/script>/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'task.png'), fullPage: true });
    await finish(w);
  }));

  test('a hostile title shows as text and no dialog opens', () => withDashboard(async ({ base }) => {
    const w = await open(base);
    const { page } = w;
    // No element the markup could have smuggled in: no img, no inline handler attribute anywhere.
    const handlers = (): Promise<number> => evalAll(page, '*', (els) => els.filter((el) => [...el.attributes].some((a) => a.name.startsWith('on'))).length);
    assert.ok((await page.textContent('#tasks') ?? '').includes(HOSTILE));
    assert.equal(await evalAll(page, 'img', (imgs) => imgs.length), 0);
    assert.equal(await handlers(), 0);
    await page.click('#tasks a:text-is("HOSTILE")');
    await page.waitForSelector('main[data-task-id="HOSTILE"]');
    assert.ok((await page.textContent('main') ?? '').includes(HOSTILE));
    assert.equal(await evalAll(page, 'img', (imgs) => imgs.length), 0);
    assert.equal(await handlers(), 0);
    await finish(w);
  }));

  test('editing a task file updates the open pages, keeping filters', () => withDashboard(async ({ base, dir, server }) => {
    const indexW = await open(`${base}?status=ready`);
    const taskW = await open(`${base}tasks/ALPHA.html`);
    const index = indexW.page;
    const taskPage = taskW.page;
    const file = path.join(dir, 'ALPHA.md');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('Alpha ready task', 'Alpha renamed live'));
    const within = 15_000;
    const explain = async (what: string, err: unknown): Promise<never> => {
      const served = await fetch(`${base}tasks/ALPHA.html`).then((r) => r.text());
      throw new Error(`${what} did not update within ${within} ms (${String(err)}); served page has new title: ${served.includes('Alpha renamed live')}; live status: ${await taskPage.textContent('#live')}; server output:\n${server.output()}`);
    };
    await taskPage.waitForFunction(() => document.querySelector('main')?.textContent?.includes('Alpha renamed live'), undefined, { timeout: within }).catch((e) => explain('task page', e));
    await index.waitForFunction(() => document.querySelector('#tasks')?.textContent?.includes('Alpha renamed live'), undefined, { timeout: within }).catch((e) => explain('index', e));
    await expectIds(index, ['ALPHA']);
    assert.match(index.url(), /status=ready/);
    await finish(indexW);
    await finish(taskW);
  }));

  // How fast: bench/watchdog.ts measures kill -9 to restart and to the page's update.
  test('the watchdog restarts a kill -9\'d heartbeat, and the open page shows it without a reload', () => withDashboard(async ({ base, dir, owner, server }) => {
    const pidFile = path.join(dir, 'logs', 'task_manager', `task-manager-${owner}.heartbeat.pid`);
    let first = 0;
    try {
      first = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
    } catch (err) {
      // Once in a CI rehearsal the heartbeat was gone right after serve said it was up: say what both logged.
      const log = runtimeFile(dir, owner, 'heartbeat.log');
      assert.fail(`no heartbeat pid file after "serving tasks" (${String(err)}); serve said:\n${server.output()}\nthe heartbeat's log:\n${fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '(none)'}`);
    }
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
    }, next, { timeout: 15_000 });
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
  /** Waits until the list or board is drawn from every task (tasks.json is in). */
  const loaded = (page: Page): Promise<unknown> =>
    page.waitForFunction(() => document.querySelector('#all')?.getAttribute('aria-busy') === null && !/loading/.test(document.querySelector('#shown')?.textContent ?? ''));

  /** The board's columns in order, each with its cards' ids. */
  const board = (page: Page): Promise<[string, string[]][]> =>
    // Spare columns (hidden empty statuses, shown only as drop targets while a card is dragged) are not on show.
    evalAll(page, '#board:not([hidden]) .col:not(.spare)', (cols) => cols.map((c): [string, string[]] =>
      [(c as HTMLElement).dataset.status ?? '', [...c.querySelectorAll('a.card code')].map((x) => x.textContent ?? '')]));
  const cardIds = async (page: Page): Promise<string[]> => (await board(page)).flatMap(([, ids]) => ids).sort();

  test('the board: a column per status in lifecycle order, unknown ones last; cards show id, title, priority, owners and labels and open the task', () => withDashboard(async ({ base }) => {
    const w = await open(`${base}?view=board`);
    const { page } = w;
    await loaded(page);
    const columns = await board(page);
    // Empty side roads of the lifecycle (blocked, cancelled here) are left out; draft and review have cards.
    assert.deepEqual(columns.map(([s]) => s), ['draft', 'todo', 'ready', 'in_progress', 'review', 'completed', 'on_hold']);
    assert.deepEqual(Object.fromEntries(columns), {
      draft: ['B-DRAFT'], todo: ['B-HOSTILE', 'B-TODO'], ready: ['B-READY'], in_progress: ['B-WIP'], review: ['B-LATE'],
      completed: ['B-DONE'], on_hold: ['B-HOLD'],
    }, 'the archived B-OLD is not on the board');
    const card = page.locator('#board a.card[data-page="B-READY"]');
    assert.equal(await card.getAttribute('href'), 'tasks/B-READY.html');
    assert.equal(await card.locator('code').textContent(), 'B-READY');
    assert.equal(await card.locator('.pri').textContent(), 'p1');
    assert.equal(await card.locator('.card-title').textContent(), 'Ready to go');
    assert.match(await card.locator('.card-meta').textContent() ?? '', /^dave, Erin$/, 'every owner, @ stripped');
    assert.deepEqual(await evalAll(page, '#board a.card[data-page="B-READY"] .labels .chip', (chips) => chips.map((c) => c.textContent)), ['web', 'urgent']);
    assert.match(await page.locator('#board a.card[data-page="B-LATE"]').getAttribute('class') ?? '', /\blate\b/, 'an overdue card is marked');
    assert.doesNotMatch(await page.locator('#board a.card[data-page="B-DONE"]').getAttribute('class') ?? '', /\blate\b/, 'a finished task is never overdue');
    // A hostile title and label are text on a card too.
    assert.equal(await page.locator('#board a.card[data-page="B-HOSTILE"] .card-title').textContent(), HOSTILE);
    assert.equal(await evalAll(page, 'img', (imgs) => imgs.length), 0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'board.png'), fullPage: true });
    await card.click();
    await page.waitForSelector('main[data-task-id="B-READY"]');
    await finish(w);
  }, ['--no-heartbeat'], BOARD));

  test('filters (status, label, owner, priority) and search apply to the board; list and board share one URL state through reloads and history', () => withDashboard(async ({ base }) => {
    const w = await open(`${base}?view=board`);
    const { page } = w;
    await loaded(page);
    await page.selectOption('#f-label', 'web');
    assert.deepEqual(await cardIds(page), ['B-DONE', 'B-READY', 'B-WIP']);
    assert.match(page.url(), /view=board&label=web/);
    await page.selectOption('#f-owner', 'erin');
    assert.deepEqual(await cardIds(page), ['B-READY'], 'web and erin (written @Erin on B-READY)');
    await page.selectOption('#f-label', '');
    assert.deepEqual(await cardIds(page), ['B-READY', 'B-TODO'], 'any of a task\'s owners, case-folded');
    await page.selectOption('#f-owner', '');
    // Priorities are offered by rank across scales.
    assert.deepEqual(await evalAll(page, '#f-priority option', (o) => o.map((x) => (x as HTMLOptionElement).value)), ['', 'critical', 'high', 'p1', 'p2', 'low', '-']);
    await page.selectOption('#f-priority', 'p2');
    assert.deepEqual(await cardIds(page), ['B-DONE', 'B-LATE']);
    await page.selectOption('#f-priority', '');
    await page.selectOption('#f-status', 'todo');
    assert.deepEqual(await board(page), [['todo', ['B-HOSTILE', 'B-TODO']]], 'a status filter leaves its column only');
    await page.selectOption('#f-status', '');
    // Search looks into the bodies (search.json, loaded in the background) on the board too.
    await page.fill('#q', 'zebra');
    await page.waitForFunction(() => document.querySelectorAll('#board a.card').length === 1);
    assert.deepEqual(await cardIds(page), ['B-READY']);
    assert.match(page.url(), /q=zebra/);
    await page.fill('#q', '');
    await page.selectOption('#f-label', 'web');
    // The list shows the same view; the URL keeps the filters and drops view=board.
    await page.click('#v-list');
    await expectIds(page, ['B-DONE', 'B-READY', 'B-WIP'], true);
    assert.doesNotMatch(page.url(), /view=board/);
    assert.match(page.url(), /label=web/);
    assert.equal(await page.getAttribute('#v-list', 'aria-pressed'), 'true');
    // Back returns to the board with the same filters; forward to the list; a reload keeps the view.
    await page.goBack();
    await page.waitForSelector('#board:not([hidden])');
    assert.deepEqual(await cardIds(page), ['B-DONE', 'B-READY', 'B-WIP']);
    assert.equal(await page.inputValue('#f-label'), 'web');
    await page.goForward();
    await page.waitForSelector('#list:not([hidden])');
    await page.reload();
    await loaded(page);
    await expectIds(page, ['B-DONE', 'B-READY', 'B-WIP'], true);
    assert.equal(await page.inputValue('#f-label'), 'web');
    // A shared board URL opens the board with its filters.
    const shared = await open(`${base}?view=board&owner=DAVE&label=web`);
    await loaded(shared.page);
    assert.deepEqual(await cardIds(shared.page), ['B-READY', 'B-WIP']);
    await finish(shared);
    await finish(w);
  }, ['--no-heartbeat'], BOARD));

  test('an edited task file moves its card on an open board, keeping the filters', () => withDashboard(async ({ base, dir }) => {
    const w = await open(`${base}?view=board&label=api`);
    const { page } = w;
    await loaded(page);
    assert.deepEqual(await board(page).then((cols) => cols.filter(([, ids]) => ids.length)), [['todo', ['B-TODO']]]);
    const file = path.join(dir, 'B-TODO.md');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('status: To Do', 'status: review'));
    await page.waitForFunction(() => document.querySelector('#board .col[data-status="review"] a.card[data-page="B-TODO"]') !== null);
    assert.deepEqual(await board(page).then((cols) => cols.filter(([, ids]) => ids.length)), [['review', ['B-TODO']]]);
    assert.match(page.url(), /view=board&label=api/);
    await finish(w);
  }, ['--no-heartbeat'], BOARD));

  test('the board from the keyboard: the switch is a button, Tab enters the board at a card, arrows move between cards and columns, Enter opens one', () => withDashboard(async ({ base }) => {
    const w = await open(base);
    const { page } = w;
    await loaded(page);
    await page.focus('#v-board');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#board:not([hidden])');
    assert.match(page.url(), /view=board/);
    await page.focus('#f-group');
    await page.keyboard.press('Tab');
    const focused = (): Promise<string | undefined> => page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.page);
    assert.equal(await focused(), 'B-DRAFT', 'one tab stop: the first card');
    // Columns: draft [B-DRAFT], todo [B-HOSTILE, B-TODO], ready [B-READY], in_progress [B-WIP], review [B-LATE]…
    const keys: [string, string][] = [['ArrowRight', 'B-HOSTILE'], ['ArrowDown', 'B-TODO'], ['ArrowRight', 'B-READY'], ['ArrowDown', 'B-READY'],
      ['ArrowRight', 'B-WIP'], ['ArrowRight', 'B-LATE'], ['ArrowLeft', 'B-WIP'], ['ArrowLeft', 'B-READY'], ['ArrowLeft', 'B-HOSTILE'], ['End', 'B-TODO'],
      ['Home', 'B-HOSTILE'], ['ArrowDown', 'B-TODO']];
    for (const [key, want] of keys) {
      await page.keyboard.press(key);
      assert.equal(await focused(), want, `${key} leads to ${want}`);
    }
    assert.equal(await evalAll(page, '#board a.card[tabindex="0"]', (a) => a.map((x) => (x as HTMLElement).dataset.page)).then((x) => x.join()), 'B-TODO', 'the tab stop moved along');
    await page.keyboard.press('Enter');
    await page.waitForSelector('main[data-task-id="B-TODO"]');
    await finish(w);
  }, ['--no-heartbeat'], BOARD));

  test('overdue due dates are marked in the list; archived tasks are hidden until the control shows them', () => withDashboard(async ({ base }) => {
    const w = await open(base);
    const { page } = w;
    await loaded(page);
    assert.equal(await page.isHidden('#board'), true, 'the list alone');
    assert.match(await page.getAttribute('#tasks tr[data-page="B-LATE"]', 'class') ?? '', /\blate\b/);
    assert.equal(await page.textContent('#tasks tr[data-page="B-LATE"] .overdue'), '2000-01-01');
    assert.equal(await evalAll(page, '#tasks tr[data-page="B-DONE"] .overdue', (x) => x.length), 0, 'a completed task is not overdue');
    assert.ok(!(await visibleIds(page)).includes('B-OLD'));
    assert.equal(await page.textContent('#n-archived'), '1');
    await page.check('#f-archived');
    assert.ok((await visibleIds(page)).includes('B-OLD'));
    assert.match(page.url(), /archived=1/);
    await page.check('#f-overdue');
    await expectIds(page, ['B-LATE']);
    await page.uncheck('#f-overdue');
    await page.uncheck('#f-archived');
    assert.ok(!(await visibleIds(page)).includes('B-OLD'));
    await finish(w);
  }, ['--no-heartbeat'], BOARD));

  test('a parse error is listed once, folded past 10, and counted among the escalations; the navigation bar reaches the list, the board and the sections', () => withDashboard(async ({ base }) => {
    const w = await open(base);
    const { page } = w;
    await loaded(page);
    // The heartbeat's first snapshot counts the parse errors among its escalations.
    await page.waitForFunction(() => /12 parse errors/.test(document.querySelector('#escalations')?.textContent ?? ''));
    const escalations = await page.textContent('#escalations') ?? '';
    assert.doesNotMatch(escalations, /bad-\d\d\.md/, 'no parse error listed among the escalations');
    const n = Number(/Escalations \((\d+)\)/.exec(escalations)?.[1]);
    assert.ok(n >= 12, `the count (${n}) includes the 12 parse errors`);
    const body = await page.evaluate(() => document.body.innerHTML);
    for (let i = 0; i < 12; i++) assert.equal(body.split(`bad-${String(i).padStart(2, '0')}.md`).length - 1, 1, `bad-${i} listed once`);
    const shownErrors = (): Promise<number> => evalAll(page, '#errors li', (li) => li.filter((x) => x.closest('details:not([open])') === null).length);
    assert.equal(await shownErrors(), 10);
    assert.equal(await page.textContent('#errors summary'), '2 more parse errors');
    await page.click('#errors summary');
    assert.equal(await shownErrors(), 12);
    // The bar is on top and leads everywhere.
    const navTop = await evalOne(page, '#nav', (n) => n.getBoundingClientRect().top);
    assert.ok(navTop < 120, 'the navigation bar is at the top');
    await page.click('#nav a:text-is("Board")');
    await page.waitForSelector('#board:not([hidden])');
    assert.match(page.url(), /view=board#all$/);
    await page.click('#nav a:text-is("Tasks")');
    await page.waitForSelector('#list:not([hidden])');
    assert.ok((await visibleIds(page)).includes('B-READY'));
    for (const [label, id] of [['Errors', 'errors'], ['Escalations', 'escalations'], ['Heartbeat', 'health'], ['Tasks', 'all']] as const) {
      await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
      await page.click(`#nav a:text-is("${label}")`);
      await page.waitForFunction((sid) => {
        const r = document.getElementById(sid)?.getBoundingClientRect();
        return r !== undefined && r.top >= 0 && r.top < window.innerHeight;
      }, id);
    }
    await finish(w);
  }, [], BOARD));

  test('2,000 tasks: the index carries the first page; every task is reachable by paging and by search, and the board shows more on demand', () => withDashboard(async ({ base }) => {
    const html = await fetch(base).then((r) => r.text());
    assert.equal(html.match(/<tr data-page=/g)?.length, 100, 'the index carries the first 100 rows');
    // Without JavaScript: the first page's rows are links to their tasks, and a line says there are more.
    const plain = await browser.newContext({ javaScriptEnabled: false });
    try {
      const p = await plain.newPage();
      await p.goto(base);
      assert.equal(await p.locator('#tasks tbody tr').count(), 100);
      assert.match(await p.textContent('#more') ?? '', /The first 100 of 2000 tasks/);
      assert.equal(await p.isHidden('#board'), true);
      assert.equal(await p.isHidden('#controls .views'), true, 'no switch that could not work');
      // The first row of the default view (open work first), whichever task that is.
      const first = await p.textContent('#tasks tbody tr a') ?? '';
      await p.click(`#tasks a:text-is("${first}")`);
      await p.waitForSelector(`main[data-task-id="${first}"]`);
    } finally {
      await plain.close();
    }
    // In id order the last task is the last row of the last page.
    const w = await open(`${base}?sort=id`);
    const { page } = w;
    await loaded(page);
    assert.equal(await page.textContent('#shown'), '2000 tasks');
    assert.equal(await page.textContent('#p-info'), 'Page 1 of 20');
    const last = 'AREA_19-TASK_1999';
    for (let p = 2; p <= 20; p++) {
      await page.click('#p-next');
      await page.waitForFunction((want) => document.querySelector('#p-info')?.textContent === want, `Page ${p} of 20`);
    }
    assert.equal(await page.isDisabled('#p-next'), true);
    const ids = await visibleIds(page);
    assert.equal(ids.length, 100);
    assert.equal(ids[ids.length - 1], last, 'the last task on the last page');
    assert.match(page.url(), /page=20/);
    await page.click('#p-prev');
    await page.waitForFunction(() => document.querySelector('#p-info')?.textContent === 'Page 19 of 20');
    await page.goBack();
    await page.waitForFunction(() => document.querySelector('#p-info')?.textContent === 'Page 20 of 20');
    // Search reaches it from the first page, and sorting reaches it too.
    await page.fill('#q', 'task_1999');
    await page.waitForFunction(() => document.querySelector('#shown')?.textContent === '1 of 2000 tasks');
    await expectIds(page, [last]);
    assert.equal(await page.isHidden('#list .pager'), true, 'one page: no pager');
    await page.fill('#q', '');
    await page.click('#v-board');
    const completed = page.locator('#board .col[data-status="completed"]');
    assert.equal(await completed.locator('a.card').count(), 100);
    assert.equal(await completed.locator('.n').textContent(), '250');
    await completed.locator('button.more').click();
    assert.equal(await completed.locator('a.card').count(), 200);
    assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.page), await completed.locator('a.card').nth(100).getAttribute('data-page'), 'focus goes to the first card it brought');
    await finish(w);
  }, ['--no-heartbeat'], (dir) => generateTasks(dir, 2000)));
});
