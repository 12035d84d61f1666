// A Backlog.md folder on the page, in Chromium: the board's columns are the folder's own statuses in
// its own words, a 600-card column keeps the page bounded, and at 390 px the nav is one line and a
// claim's worktree path stays readable.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import getPort from 'get-port';
import type { Browser, Page } from 'playwright-core';
import { ARTIFACTS, evalAll, evalOne, launchChromium, openQuiet } from './chromium.ts';
import { type Running, SCRIPT, TSX, commitAll, killAll, makeRepo, runPids, start, uniqueOwner } from './helpers.ts';

const DONE = 600;

function taskFile(n: number, title: string, status: string): [string, string] {
  return [`task-${n} - ${title.replace(/ /g, '-')}.md`,
    `---\nid: TASK-${n}\ntitle: ${title}\nstatus: ${status}\nassignee: []\ncreated_date: '2026-01-02 10:00'\nlabels: []\ndependencies: []\npriority: medium\n---\n\n## Description\n\n${title}.\n`];
}

/** A git repository holding a Backlog.md folder: 3 To Do, 2 In Progress and DONE Done tasks. */
function backlogRepo(): { root: string; dir: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-words-'));
  const dir = path.join(root, 'backlog');
  fs.mkdirSync(path.join(dir, 'tasks'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.yml'), 'project_name: "Words"\ndefault_status: "To Do"\nstatuses: ["To Do", "In Progress", "Done"]\n');
  const files = [
    ...[1, 2, 3].map((n) => taskFile(n, `Open work ${n}`, 'To Do')),
    ...[4, 5].map((n) => taskFile(n, `Going ${n}`, 'In Progress')),
    ...Array.from({ length: DONE }, (_, i) => taskFile(i + 6, `Finished work number ${i + 6}`, 'Done')),
  ];
  for (const [name, text] of files) fs.writeFileSync(path.join(dir, 'tasks', name), text);
  makeRepo(root, '/.worktrees/\nlogs/\n');
  commitAll(root, 'a Backlog.md folder');
  return { root, dir };
}

describe('a Backlog.md folder on the board and on a phone (Chromium)', () => {
  let browser: Browser;
  let fixture: { root: string; dir: string };
  let server: Running;
  let base: string;

  before(async () => {
    browser = await launchChromium();
    fixture = backlogRepo();
    const port = await getPort({ host: '127.0.0.1' });
    // ready='To Do' with a long run: the To Do tasks are claimed into worktrees and stay claimed.
    server = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', `owner=${uniqueOwner('words')}`, `dir=${fixture.dir}`, `port=${port}`,
      'interval=0.5', 'ready=To Do', 'dispatch=sleep 30']);
    await server.waitFor(/serving tasks/);
    base = `http://127.0.0.1:${port}/`;
  });

  after(async () => {
    await browser?.close();
    if (server?.child.pid) {
      try { process.kill(-server.child.pid, 'SIGTERM'); } catch { /* gone */ }
      await server.exited;
    }
    if (fixture !== undefined) {
      await killAll(fixture.root, [...runPids(fixture.root), ...(server?.child.pid ? [server.child.pid] : [])]);
      fs.rmSync(fixture.root, { recursive: true, force: true });
    }
  });

  async function board(page: Page): Promise<void> {
    await page.waitForSelector('#board:not([hidden]) a.card', { timeout: 20_000 });
    // Every task loaded: the Done column (status key completed) holds all of them.
    await page.waitForFunction((n) => document.querySelector('#board .col[data-status="completed"] .n')?.textContent === String(n), DONE, { timeout: 20_000 });
  }

  test("the board's columns are the folder's statuses, in its words and order, with no empty canonical ones", async () => {
    const { page, problems } = await openQuiet(browser, `${base}?view=board`);
    await board(page);
    const heads = await evalAll(page, '#board .col h3 .st', (els) => els.map((e) => e.textContent));
    assert.deepEqual(heads, ['To Do', 'In Progress', 'Done']);
    await page.context().close();
    assert.deepEqual(problems, []);
  });

  test("the list's status badges and the Status filter use the folder's words", async () => {
    const { page, problems } = await openQuiet(browser, base);
    await page.waitForFunction(() => document.querySelector('#shown')?.textContent?.startsWith('605 tasks') === true, undefined, { timeout: 20_000 });
    const badges = await evalAll(page, '#tasks tbody .st', (els) => els.map((e) => e.textContent));
    // Open work first: the three To Do and two In Progress tasks lead the list.
    assert.deepEqual(badges.slice(0, 5).sort(), ['In Progress', 'In Progress', 'To Do', 'To Do', 'To Do']);
    assert.ok(badges.includes('To Do') && badges.includes('Done'), badges.join());
    assert.ok(!badges.some((b) => b === 'todo' || b === 'completed' || b === 'in_progress'), badges.join());
    const options = await evalAll(page, '#f-status option', (els) => els.map((e) => e.textContent));
    assert.deepEqual(options, ['all statuses', 'To Do', 'In Progress', 'Done']);
    await page.context().close();
    assert.deepEqual(problems, []);
  });

  test('600 cards in a column keep the page within a few screens and inside its width', async () => {
    for (const viewport of [{ width: 1280, height: 900 }, { width: 390, height: 844 }]) {
      const { page, problems } = await openQuiet(browser, `${base}?view=board`, viewport);
      await board(page);
      const m = await page.evaluate(() => {
        const box = (document.getElementById('board') as HTMLElement).getBoundingClientRect();
        // The Fleet charts (this folder's heartbeat has run a task) take their own height, whatever the board holds.
        const fleet = document.getElementById('fleet')?.getBoundingClientRect().height ?? 0;
        return { height: document.documentElement.scrollHeight - fleet, width: document.documentElement.scrollWidth, board: { right: box.right, height: box.height }, vh: innerHeight, vw: innerWidth };
      });
      assert.ok(m.height < 3 * m.vh, `page ${m.height} px tall at ${viewport.width} px without the Fleet charts (viewport ${m.vh})`);
      assert.ok(m.width <= m.vw, `page ${m.width} px wide (viewport ${m.vw})`);
      assert.ok(m.board.right <= m.vw, `board ends at ${m.board.right} px (viewport ${m.vw})`);
      // Its own sideways scrollbar, at its bottom, is within a screen of its top: the columns past the right edge are reachable.
      assert.ok(m.board.height <= m.vh, `board ${m.board.height} px tall (viewport ${m.vh})`);
      await page.screenshot({ path: path.join(ARTIFACTS, `board-words-${viewport.width}.png`), fullPage: true });
      await page.context().close();
      assert.deepEqual(problems, []);
    }
  });

  test('at 390 px the nav is one line and a claim keeps its worktree path readable', async () => {
    const { page, problems } = await openQuiet(browser, base, { width: 390, height: 844 });
    // The claims come with the heartbeat's first ticks: the index updates in place.
    await page.waitForFunction(() => /\.worktrees/.test(document.querySelector('#claims tbody')?.textContent ?? ''), undefined, { timeout: 30_000 });
    const tops = await evalAll(page, '#nav a:not([hidden])', (els) => els.map((e) => (e as HTMLElement).offsetTop));
    assert.equal(new Set(tops).size, 1, `nav links on ${new Set(tops).size} lines`);
    const cell = await evalOne(page, '#claims tbody tr td:nth-child(4)', (td) => {
      const line = parseFloat(getComputedStyle(td).lineHeight) || 20;
      return { height: td.getBoundingClientRect().height, line, text: td.textContent };
    });
    assert.ok(cell.height < 5 * cell.line, `worktree cell ${cell.height} px tall (line ${cell.line} px): ${cell.text}`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'phone-claims.png') });
    await page.context().close();
    assert.deepEqual(problems, []);
  });
});
