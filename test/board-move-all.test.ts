// The board moves a card to any status the folder has, in Chromium: in our own format the side roads
// (draft, blocked, review, cancelled) have no column while no task is on them, yet M offers them and a
// drag shows them as drop targets; after the move the status line on disk is the new one and the
// column appears, holding the card.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { boxOf, evalAll, evalOne, launchChromium, openQuiet } from './chromium.ts';
import { type Folder, type Running, killAll, serveBare, stopServe, tempTasks, uniqueOwner, waitUntil } from './helpers.ts';

function taskText(id: string, status: string): string {
  return `---\nid: ${id}\ntitle: Move ${id}\nstatus: ${status}\npriority: p2\n---\n## Problem\nSomething.\n`;
}

describe('the board offers every status, shown or not (Chromium)', () => {
  let browser: Browser;
  let folder: Folder & { remove: () => void };
  let server: Running;
  let base: string;

  before(async () => {
    browser = await launchChromium();
    const t = tempTasks();
    folder = { ...t, owner: uniqueOwner('moveall'), extra: [] };
    fs.writeFileSync(path.join(t.dir, 'KEYED.md'), taskText('KEYED', 'todo'));
    fs.writeFileSync(path.join(t.dir, 'DRAGGED.md'), taskText('DRAGGED', 'todo'));
    ({ s: server, base } = await serveBare(folder));
    await server.waitFor(/serving tasks/);
  });

  after(async () => {
    await browser?.close();
    if (server !== undefined) await stopServe(server);
    if (folder !== undefined) {
      await killAll(folder.root, folder.extra);
      folder.remove();
    }
  });

  const card = (id: string): string => `#board a.card:has(code:text-is("${id}"))`;
  const columns = (page: Page): Promise<string[]> =>
    evalAll(page, '#board .col', (els) => els.filter((e) => (e as HTMLElement).offsetParent !== null).map((e) => (e as HTMLElement).dataset.status ?? ''));

  test('M on a card lists review, blocked and cancelled though no column shows them; review is written and its column appears', async () => {
    const file = path.join(folder.dir, 'KEYED.md');
    const before = fs.readFileSync(file, 'utf8');
    const { page, problems } = await openQuiet(browser, `${base}/?view=board`);
    await page.waitForSelector(`${card('KEYED')}[draggable="true"]`, { timeout: 20_000 });
    assert.deepEqual(await columns(page), ['todo', 'ready', 'in_progress', 'completed'], 'the empty side roads have no column');
    await page.focus(card('KEYED'));
    await page.keyboard.press('m');
    await page.waitForSelector('#board .move-menu button:focus');
    const offered = await evalAll(page, '#board .move-menu button', (els) => els.map((e) => e.textContent));
    for (const s of ['review', 'blocked', 'cancelled', 'ready', 'in_progress', 'completed']) assert.ok(offered.includes(s), `${s} in ${offered.join(', ')}`);
    assert.ok(!offered.includes('todo'), 'not the card\'s own status');
    await page.click('#board .move-menu button[data-to="review"]');
    await waitUntil(() => fs.readFileSync(file, 'utf8') === before.replace('status: todo\n', 'status: review\n'), 'the status line to read review');
    await page.waitForSelector(`#board .col[data-status="review"] ${card('KEYED').slice('#board '.length)}`, { timeout: 20_000 });
    assert.ok((await columns(page)).includes('review'), 'the review column shows');
    await page.context().close();
    assert.deepEqual(problems, []);
  });

  test('a dragged card shows the hidden columns as drop targets; dropped on blocked, it is written there', async () => {
    const file = path.join(folder.dir, 'DRAGGED.md');
    const before = fs.readFileSync(file, 'utf8');
    const { page, problems } = await openQuiet(browser, `${base}/?view=board`);
    await page.waitForSelector(`${card('DRAGGED')}[draggable="true"]`, { timeout: 20_000 });
    assert.ok(!(await columns(page)).includes('blocked'), 'no blocked column before the drag');
    // The mouse presses where the card is on screen: the board in sight first.
    await evalOne(page, '#board', (el) => el.scrollIntoView());
    const from = await boxOf(page, card('DRAGGED'));
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await page.mouse.down();
    await page.mouse.move(from.x + from.width / 2 + 60, from.y + from.height / 2 + 40, { steps: 8 });
    // Picked up, the card has somewhere to go that had no column.
    const target = '#board .col[data-status="blocked"] h3';
    await page.waitForSelector(target, { state: 'visible', timeout: 20_000 });
    await evalOne(page, target, (e) => e.scrollIntoView({ block: 'nearest' }));
    const to = await boxOf(page, target);
    await page.mouse.move(to.x + to.width / 2, to.y + to.height / 2, { steps: 8 });
    await page.mouse.up();
    await waitUntil(() => fs.readFileSync(file, 'utf8') === before.replace('status: todo\n', 'status: blocked\n'), 'the status line to read blocked');
    await page.waitForSelector(`#board .col[data-status="blocked"] ${card('DRAGGED').slice('#board '.length)}`, { timeout: 20_000 });
    // The drag is over: the side roads with no card are hidden again.
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLElement>('#board .col[data-status="cancelled"]')].every((c) => c.offsetParent === null));
    await page.context().close();
    assert.deepEqual(problems, []);
  });
});
