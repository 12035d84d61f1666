// Debian's Chromium for the browser tests through playwright-core: launched headless, and pages that must stay on loopback and quiet.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { ROOT, waitUntilAsync } from './helpers.ts';

export const CHROMIUM = '/usr/bin/chromium';
/** Where the browser tests leave their screenshots. */
export const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');

/** Launches /usr/bin/chromium headless (no sandbox, nothing fetched of its own); close it in an after hook. */
export async function launchChromium(): Promise<Browser> {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * Opens `url` in a context of its own that may not leave 127.0.0.1; `problems` collects console
 * errors, page errors, dialogs and requests elsewhere (a test ends with it empty).
 */
export async function openQuiet(browser: Browser, url: string, viewport = { width: 1280, height: 900 }): Promise<{ page: Page; problems: string[] }> {
  const problems: string[] = [];
  const context = await browser.newContext({ viewport });
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.hostname === '127.0.0.1') return route.continue();
    problems.push(`request off loopback: ${route.request().url()}`);
    return route.abort();
  });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); void d.dismiss(); });
  await page.goto(url);
  return { page, problems };
}

/**
 * Calls `fn` on the elements `selector` (plain CSS) matches, in one turn of the page's event loop.
 * Playwright's `$$eval` queries in one round trip and calls its function in a second: a live update
 * landing between the two hands it elements already replaced (detached: no `offsetParent`, the old
 * text), and a list that is right read as empty. Every test reads a live page through this instead.
 * `fn` goes to the page as its source, as `$$eval`'s does: it may use nothing from the test's scope.
 */
export function evalAll<R, E extends Element = Element>(page: Page, selector: string, fn: (els: E[]) => R): Promise<R> {
  return page.evaluate(inPage(fn, `[...document.querySelectorAll(${JSON.stringify(selector)})]`)) as Promise<R>;
}

/**
 * `fn`'s source called on `arg` (an expression), as one expression for page.evaluate. The tests run
 * under tsx, whose esbuild names inner functions with a `__name` helper the page does not have:
 * it is given one that does nothing.
 */
function inPage(fn: (...args: never[]) => unknown, arg: string): string {
  return `(() => { const __name = (f) => f; return (${fn.toString()})(${arg}); })()`;
}

/** Calls `fn` on the first element `selector` matches, in one turn of the page (`$eval` has the race evalAll's comment tells); throws when none does. */
export function evalOne<R, E extends Element = Element>(page: Page, selector: string, fn: (el: E) => R): Promise<R> {
  const sel = JSON.stringify(selector);
  return page.evaluate(inPage(fn, `document.querySelector(${sel}) ?? (() => { throw new Error('no element matches ' + ${sel}); })()`)) as Promise<R>;
}

/**
 * Where the first element `selector` (any Playwright selector) matches is on the screen. A handle's
 * boundingBox() is null once a redraw replaced its element between the query and the call: that
 * read is tried again, for 10 s at most.
 */
export function boxOf(page: Page, selector: string): Promise<{ x: number; y: number; width: number; height: number }> {
  return waitUntilAsync(async () => {
    const handle = await page.$(selector);
    const box = await handle?.boundingBox();
    await handle?.dispose();
    return box ?? undefined;
  }, `${selector} on the screen`, 10_000);
}
