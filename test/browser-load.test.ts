// Page loads in Chromium: one request for the page per load once the event stream is connected, one
// more only when the page changed before the stream connected, and the "being built" page reloading itself.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { holdBuild } from './build-hold.ts';
import { evalAll, launchChromium } from './chromium.ts';
import { serveBare, stopServe, waitUntil, waitUntilAsync, withTempFolder, within } from './helpers.ts';

/** The page's version as the build wrote it (the `<!--v:…-->` trailer of its file). */
function trailer(file: string): string | undefined {
  return /<!--v:([A-Za-z0-9_-]{16})-->\n$/.exec(fs.readFileSync(file, 'latin1'))?.[1];
}

describe('page loads in Chromium', () => {
  let browser: Browser;

  before(async () => {
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  /** A page in a context of its own that records every request it makes for `pathname`, and any error. */
  async function counting(pathname: string): Promise<{ context: BrowserContext; page: Page; requests: string[]; errors: string[] }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => { if (new URL(r.url()).pathname === pathname) requests.push(`${r.resourceType()} ${r.url()}`); });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    return { context, page, requests, errors };
  }

  /** Waits until the page has heard the stream's hello and done what it says (data-live-version on <html>). */
  const checked = (page: Page): Promise<string | null> =>
    page.waitForFunction(() => document.documentElement.dataset.liveVersion ?? false).then(() => page.evaluate(() => document.documentElement.dataset.liveVersion ?? null));

  test('one request for the page per load, with the event stream connected (the index and a task page)', () => withTempFolder('load', async (t) => {
    const { s, base } = await serveBare(t, ['project=Acme']);
    await s.waitFor(/serving tasks/);
    const site = path.join(t.dir, 'logs', 'task_manager', `site-${t.owner}`);
    for (const [pathname, file] of [['/', 'index.html'], ['/tasks/FIRST-TASK.html', 'tasks/FIRST-TASK.html']] as const) {
      const w = await counting(pathname);
      await w.page.goto(base + pathname);
      assert.equal(await checked(w.page), trailer(path.join(site, file)), `${pathname}: the page knows its version`);
      assert.match(await w.page.textContent('#live') ?? '', /live/);
      assert.deepEqual(w.requests, [`document ${base}${pathname}`], `${pathname}: fetched once`);
      // Reloads are page loads too: one request each.
      await w.page.reload();
      await checked(w.page);
      assert.equal(w.requests.length, 2, `${pathname}: once more for the reload`);
      assert.deepEqual(w.errors, []);
      await w.context.close();
    }
    await stopServe(s);
  }));

  test('a change between the load and the stream\'s hello: the page fetches itself once more, and only once', () => withTempFolder('load', async (t) => {
    const { s, base } = await serveBare(t, ['project=Acme']);
    await s.waitFor(/serving tasks/);
    const index = path.join(t.dir, 'logs', 'task_manager', `site-${t.owner}`, 'index.html');
    const w = await counting('/');
    let open = (): void => undefined;
    const gate = new Promise<void>((resolve) => { open = resolve; });
    await w.context.route('**/api/events*', async (route) => {
      await gate;
      await route.continue();
    });
    await w.page.goto(`${base}/`);
    const loaded = trailer(index);
    fs.writeFileSync(path.join(t.dir, 'SECOND.md'), '---\nid: SECOND\ntitle: Added after the load\nstatus: ready\n---\n');
    await waitUntilAsync(async () => trailer(index) !== loaded && (await fetch(`${base}/api/health`).then((r) => r.json()) as { build: string }).build === 'current', 'the index rebuilt');
    open();
    assert.equal(await checked(w.page), trailer(index), 'the page shows the version on disk');
    assert.deepEqual(w.requests, [`document ${base}/`, `fetch ${base}/`]);
    assert.deepEqual(w.errors, []);
    await w.context.close();
    await stopServe(s);
  }));

  test('a data index from another build (a rebuild lands its files one at a time): the page neither spins nor shows it, and asks again until they agree', () => withTempFolder('load', async (t) => {
    fs.writeFileSync(path.join(t.dir, 'FRUIT.md'), '---\nid: FRUIT\ntitle: A plain title\nstatus: ready\n---\nOnly the body says kumquat.\n');
    const { s, base } = await serveBare(t, ['project=Acme']);
    await waitUntilAsync(async () => (await fetch(`${base}/api/health`).then((r) => r.json()) as { build: string }).build === 'current' || undefined, 'the build current', 60_000);
    // Both versions of another build, an earlier one with no tasks yet (the records' loader asks again, the page's rows stay), then the bodies' alone (their loader does).
    for (const which of ['version and search', 'search'] as const) {
      const w = await counting('/');
      // The third answer, the page's own, waits until the list was read with only the other two taken.
      let release = (): void => undefined;
      const gate = new Promise<void>((resolve) => { release = resolve; });
      try {
        // The first two answers name other versions, as a data index of the build before or after would.
        const answers: string[] = [];
        await w.context.route('**/data/index.json*', async (route) => {
          if (answers.length >= 2) await gate;
          try {
            const r = await route.fetch();
            const doc = await r.json() as { version: string; search: string };
            const other = answers.length < 2;
            answers.push(other ? 'other' : 'same');
            const changed = which === 'search' ? { ...doc, search: `${doc.search}x` } : { version: `${doc.version}x`, search: `${doc.search}x`, order: '', tasks: [], bodies: [] };
            await route.fulfill({ response: r, json: other ? changed : doc });
          } catch (err) {
            // Released by a failed test's cleanup: the context is closed; anything else fails the test through the answers it lacks.
            if (!/closed|disposed/i.test(String(err))) throw err;
          }
        });
        await w.page.goto(`${base}/`);
        await w.page.waitForSelector('#tasks tbody tr');
        // A page spinning through its promises never turns to this: bounded, so the test fails rather than hangs.
        assert.equal(await within(w.page.evaluate(() => 'turned'), 30_000, `${which}: the page never turned to an evaluate in 30 s: it spins`), 'turned', which);
        // Both answers of another build are in (the second is asked for a second after the first was taken): the list still shows the page's tasks.
        await waitUntil(() => answers.length >= 2, () => `${which}: the page to ask again (answers: ${answers.join(', ')})`);
        const shown = await evalAll(w.page, '#tasks tbody tr[data-page]', (rows) => rows.map((r) => (r as HTMLElement).dataset.page ?? '').sort());
        assert.deepEqual(shown, ['FIRST-TASK', 'FRUIT'], `${which}: the list keeps the page's tasks while the data index is another build's`);
        release();
        await w.page.fill('#q', 'kumquat');
        await w.page.waitForFunction(() => /FRUIT/.test(document.querySelector('#tasks tbody')?.textContent ?? ''), undefined, { timeout: 60_000 });
        await waitUntil(() => answers.length >= 3, () => `${which}: the page to ask again (answers: ${answers.join(', ')})`);
        assert.deepEqual(answers.slice(0, 3), ['other', 'other', 'same'], `${which}: asked again after each answer of another build`);
        assert.ok(answers.length <= 4, `${which}: asked ${answers.length} times`);
        assert.deepEqual(w.errors, []);
      } finally {
        release();
        await w.context.close();
      }
    }
    await stopServe(s);
  }));

  test('with no build yet, the "being built" page reloads itself when the build is ready', () => withTempFolder('load', async (t) => {
    const hold = holdBuild(t);
    const { s, base } = await serveBare(t, ['project=Acme'], hold.env);
    const w = await counting('/');
    await w.page.goto(`${base}/`);
    assert.equal(await w.page.title(), 'Tasks: building the dashboard');
    assert.match(await w.page.textContent('main') ?? '', /is being built/);
    hold.release();
    await w.page.waitForFunction(() => document.title === 'Acme Tasks', undefined, { timeout: 15_000 });
    assert.equal(await w.page.$('main[data-building]'), null);
    assert.deepEqual(w.requests, [`document ${base}/`, `document ${base}/`], 'the placeholder, then the dashboard');
    assert.deepEqual(w.errors.filter((e) => !/503/.test(e)), []);
    await w.context.close();
    await s.waitFor(/serving tasks/);
    await stopServe(s);
  }));
});
