import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { evalAll, evalOne, launchChromium } from './chromium.ts';

/** A page that replaces its list (and its heading) again at every turn of its event loop, as a live update does now and then. */
const CHURN = `<!doctype html><h1 id="h">x</h1><ul id="l"><li>a</li><li>b</li><li>c</li></ul><script>
const c = new MessageChannel();
c.port1.onmessage = () => {
  document.getElementById('l').innerHTML = '<li>a</li><li>b</li><li>c</li>';
  document.getElementById('h').replaceWith(Object.assign(document.createElement('h1'), { id: 'h', textContent: 'x' }));
  c.port2.postMessage(0);
};
c.port2.postMessage(0);
</script>`;

/** Reads per test: $$eval and $eval fail at the first (the page keeps a renderer busy meanwhile, so few). */
const READS = 50;

describe('reading a live page in the browser tests', () => {
  let browser: Browser;
  let page: Page;

  before(async () => {
    browser = await launchChromium();
    page = await browser.newPage();
    await page.setContent(CHURN);
  });

  after(async () => {
    await browser?.close();
  });

  // $$eval and $eval query in one round trip and call their function in a second: under this page
  // they are handed detached elements at the first read (the empty-list flake of browser.test.ts).
  // A function with an inner named function reads too (tsx names it with a helper the page lacks).
  test('evalAll hands its function the elements as they are in the page, never ones a swap replaced meanwhile', async () => {
    for (let i = 0; i < READS; i++) {
      const read = await evalAll(page, '#l li', (els) => ({ n: els.length, attached: els.every((e) => e.isConnected && (e as HTMLElement).offsetParent !== null) }));
      assert.deepEqual(read, { n: 3, attached: true }, `read ${i}`);
    }
  });

  test('evalOne likewise, and it throws when nothing matches', async () => {
    for (let i = 0; i < READS; i++) assert.equal(await evalOne(page, '#h', (e) => e.isConnected), true, `read ${i}`);
    await assert.rejects(evalOne(page, '#none', (e) => e.id), /no element matches #none/);
  });

  test('a function with a named inner function runs in the page', async () => {
    assert.deepEqual(await evalAll(page, '#l li', (els) => {
      function text(e: Element): string {
        return e.textContent ?? '';
      }
      return els.map(text);
    }), ['a', 'b', 'c']);
  });
});
