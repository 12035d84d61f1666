// axe-core in Debian's Chromium: the index, the board and a task page, light and dark, wide and phone, with a failed run on show.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import getPort from 'get-port';
import type { Browser, Page } from 'playwright-core';
import { evalOne, launchChromium } from './chromium.ts';
import { SCRIPT, TSX, cli, killAll, start, tempTasks, uniqueOwner } from './helpers.ts';

const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** A folder with work in every state the pages draw: open, in progress, blocked, done, and FIRST-TASK's failed run. */
const FILES: Record<string, string> = {
  'WIP.md': '---\nid: WIP\ntitle: Work in progress\nstatus: In Progress\npriority: p2\nowner: dave\nlabels: [web]\n---\nGoing.\n',
  'TODO.md': '---\nid: TODO\ntitle: Later\nstatus: todo\npriority: p3\ndepends_on: [WIP]\n---\nLater.\n',
  'STUCK.md': '---\nid: STUCK\ntitle: Stuck\nstatus: blocked\npriority: p1\ndue: 2000-01-01\n---\nWaiting.\n',
  'DONE.md': '---\nid: DONE\ntitle: Done long ago\nstatus: completed\npriority: p2\n---\nDone.\n',
};

interface Violation { id: string; impact: string | null; help: string; nodes: { target: string[]; failureSummary?: string }[] }

/** Runs axe on the page as it is drawn now; each violation as one line: rule, count, first targets, summary. */
async function violations(page: Page): Promise<string[]> {
  // The page's CSP allows only its own scripts; the context bypasses it, and evaluate adds axe.
  await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (o: object) => Promise<{ violations: Violation[] }> } }).axe;
    return (await axe.run({ resultTypes: ['violations'] })).violations;
  });
  return found.map((v) => `${v.id} (${v.impact ?? '?'}, ${v.nodes.length}): ${v.help}; ${v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')} ${(n.failureSummary ?? '').replace(/\s+/g, ' ').slice(0, 160)}`).join(' | ')}`);
}

describe('accessibility (axe-core in Chromium)', () => {
  let browser: Browser;
  before(async () => { browser = await launchChromium(); });
  after(async () => { await browser?.close(); });

  test('the index, the board and a task page have no axe violations, light and dark, at 1280 and 390 px', async () => {
    const fixture = tempTasks();
    for (const [name, text] of Object.entries(FILES)) fs.writeFileSync(path.join(fixture.dir, name), text);
    const owner = uniqueOwner('a11y');
    const port = await getPort({ host: '127.0.0.1' });
    const server = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', `owner=${owner}`, `dir=${fixture.dir}`, `port=${port}`, 'project=Acme', 'interval=0.2', 'dispatch=exit 3']);
    try {
      await server.waitFor(/serving tasks/);
      const base = `http://127.0.0.1:${port}/`;
      const pages: [string, string, string][] = [
        ['index', base, '#tasks tbody tr'],
        ['board', `${base}?view=board`, '#board:not([hidden]) a.card'],
        ['task', `${base}tasks/FIRST-TASK.html`, '#run-failed'],
      ];
      const report: string[] = [];
      for (const [name, url, drawn] of pages) {
        for (const colorScheme of ['light', 'dark'] as const) {
          for (const width of [1280, 390]) {
            const context = await browser.newContext({ viewport: { width, height: 900 }, bypassCSP: true, colorScheme });
            try {
              const page = await context.newPage();
              await page.goto(url);
              await page.waitForSelector(drawn, { timeout: 15_000 });
              // The index shows the failed run among the escalations too.
              if (name === 'index') await page.waitForFunction(() => /FIRST-TASK/.test(document.querySelector('#escalations')?.textContent ?? ''), undefined, { timeout: 15_000 });
              for (const line of await violations(page)) report.push(`${name} ${colorScheme} ${width}px: ${line}`);
            } finally {
              await context.close();
            }
          }
        }
      }
      assert.deepEqual(report, [], `axe violations:\n${report.join('\n')}`);
    } finally {
      fs.writeFileSync(path.join(fixture.root, 'done'), '');
      if (server.child.pid) process.kill(-server.child.pid, 'SIGTERM');
      await server.exited;
      await killAll(fixture.root, server.child.pid ? [server.child.pid] : []);
      fixture.remove();
    }
  });

  test('the first Tab lands on "Skip to tasks", which leads to the first task in the list and to the board\'s card, in sight, with the arrow keys named', async () => {
    // Work only in review and done: on a phone, the empty columns before them fill the screen.
    const fixture = tempTasks();
    fs.rmSync(path.join(fixture.dir, 'FIRST-TASK.md'));
    fs.writeFileSync(path.join(fixture.dir, 'LOOK.md'), '---\nid: LOOK\ntitle: Look at it\nstatus: review\npriority: p1\n---\nLook.\n');
    fs.writeFileSync(path.join(fixture.dir, 'DONE.md'), FILES['DONE.md'] as string);
    const owner = uniqueOwner('a11y');
    const port = await getPort({ host: '127.0.0.1' });
    // No heartbeat yet: its first tick comes after the keys, as on a slow machine.
    const server = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', '--no-heartbeat', `owner=${owner}`, `dir=${fixture.dir}`, `port=${port}`, 'project=Acme']);
    try {
      await server.waitFor(/serving tasks/);
      const base = `http://127.0.0.1:${port}/`;
      const context = await browser.newContext({ viewport: { width: 390, height: 800 } });
      try {
        const page = await context.newPage();
        const focused = (): Promise<string> => page.evaluate(() => {
          const a = document.activeElement;
          return a === null ? '' : `${a.tagName} ${(a.textContent ?? '').trim().split(/\s+/)[0] ?? ''}`;
        });
        // In sight within a pixel (scrolling to the nearest edge leaves fractional positions); a miss names the box and the screen.
        const onScreen = async (selector: string): Promise<boolean> => {
          const { left, right, top, bottom, width, height } = await evalOne(page, selector, (e) => {
            const r = e.getBoundingClientRect();
            return { left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: window.innerWidth, height: window.innerHeight };
          });
          const inside = right > left && bottom > top && left >= -1 && right <= width + 1 && top >= -1 && bottom <= height + 1;
          if (!inside) console.log(`${selector} out of sight: ${JSON.stringify({ left, right, top, bottom })} on a screen of ${width}x${height}`);
          return inside;
        };

        await page.goto(base);
        await page.waitForSelector('#tasks tbody tr');
        await page.keyboard.press('Tab');
        assert.equal(await focused(), 'A Skip', 'the first Tab focuses the skip link');
        assert.equal(await page.textContent('#skip'), 'Skip to tasks');
        assert.ok(await onScreen('#skip'), 'the focused skip link is visible');
        await page.keyboard.press('Enter');
        await page.keyboard.press('Tab');
        assert.equal(await focused(), 'A LOOK', 'the next Tab reaches the first task of the list (open work first)');
        assert.ok(await page.isHidden('#board-keys'), 'the list has no arrow-key hint');

        await page.goto(`${base}?view=board`);
        await page.waitForSelector('#board:not([hidden]) a.card');
        assert.match(await page.textContent('#board-keys') ?? '', /arrow keys move between cards/);
        assert.ok(await page.isVisible('#board-keys'), 'the board names its arrow keys');
        // Before any key: the card where Tab enters the board is in sight, not in a column off the screen.
        const stop = await evalOne(page, '#board', (board) => {
          const card = board.querySelector('a.card[tabindex="0"]');
          const v = board.getBoundingClientRect();
          const r = card?.getBoundingClientRect();
          return { page: card?.getAttribute('data-page'), inside: r !== undefined && r.left >= v.left && r.right <= v.right };
        });
        assert.deepEqual(stop, { page: 'LOOK', inside: true }, 'the tab stop is in the part of the board on screen');
        await page.evaluate(() => window.scrollTo(0, 0));
        await page.keyboard.press('Tab');
        assert.equal(await focused(), 'A Skip');
        await page.keyboard.press('Enter');
        await page.keyboard.press('Tab');
        assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-page')), 'LOOK', 'the skip link leads to the board\'s card');
        await page.keyboard.press('ArrowRight');
        assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-page')), 'DONE', 'the arrow keys move between cards');
        assert.ok(await onScreen('a.card[data-page="DONE"]'), 'the card the arrow reached is in sight');
        // The heartbeat's first tick, arriving now, makes the Fleet section above grow (its charts appear):
        // the live swap keeps the focused card where it is on screen, not pushed down out of sight.
        const top = (): Promise<number> => evalOne(page, 'a.card[data-page="DONE"]', (e) => Math.round(e.getBoundingClientRect().top));
        const before = await top();
        const fleet = (): Promise<number> => evalOne(page, '#fleet', (e) => Math.round(e.getBoundingClientRect().height));
        const tall = await fleet();
        const tick = await cli(['heartbeat', '--once', `owner=${owner}`, `dir=${fixture.dir}`]);
        assert.equal(tick.code, 0, tick.stderr);
        await page.waitForFunction(() => /At the last recorded tick/.test(document.querySelector('#fleet')?.textContent ?? ''), undefined, { timeout: 30_000 });
        assert.ok(await fleet() > tall, 'the Fleet section above the board grew');
        assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-page')), 'DONE', 'the card keeps the focus');
        const after = await top();
        // Within a pixel: the swap corrects moves of a pixel or more, and the positions are rounded.
        assert.ok(Math.abs(after - before) <= 1, `the focused card stays where it was on screen (${before} px, then ${after} px)`);
        assert.ok(await onScreen('a.card[data-page="DONE"]'), 'the focused card is still in sight');
      } finally {
        await context.close();
      }
    } finally {
      if (server.child.pid) process.kill(-server.child.pid, 'SIGTERM');
      await server.exited;
      await killAll(fixture.root, server.child.pid ? [server.child.pid] : []);
      fixture.remove();
    }
  });
});
