// Holds and finished runs on the dashboard, in Chromium, against a real heartbeat and the real CLI: a run that
// exited 0 says what happens next, `release` shows a hold on the index (live) and on the task's page, and every
// retry hint names the tasks folder the page was served with.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium, openQuiet } from './chromium.ts';
import { cli, type Folder, serveBare, stopServe, waitUntil, waitUntilAsync, withTempFolder } from './helpers.ts';

function task(dir: string, id: string): void {
  fs.writeFileSync(path.join(dir, `${id}.md`), `---\nid: ${id}\ntitle: Task ${id}\nstatus: ready\n---\nbody\n`);
}

function claimOf(dir: string, id: string): { state: string; exitCode: number | null } | undefined {
  try {
    const reg = JSON.parse(fs.readFileSync(path.join(dir, 'logs', 'task_manager', 'registry.json'), 'utf8')) as { claims: Record<string, { state: string; exitCode: number | null }> };
    return reg.claims[id];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return undefined; // not written yet, or mid-write
    throw err;
  }
}

/** A heartbeat for this folder's owner at interval 0.2 with the given dispatch command; its pid is the folder's to kill. */
async function heartbeat(f: Folder, dir: string, dispatch: string): Promise<void> {
  const r = await cli(['ensure', `owner=${f.owner}`, `dir=${dir}`, 'interval=0.2', `dispatch=${dispatch}`, 'worktrees=off', '--json']);
  assert.equal(r.code, 0, r.stderr);
  f.extra.push((JSON.parse(r.stdout) as { pid: number }).pid);
}

/** The served page of a task, found by its link on the index once the index lists it. */
async function taskPage(base: string, id: string): Promise<string> {
  return waitUntilAsync(async () => {
    const index = await (await fetch(`${base}/`)).text();
    const m = new RegExp(`href="(tasks/[^"]+)">${id}<`).exec(index);
    return m ? `${base}/${m[1]}` : undefined;
  }, `the index to link ${id}`);
}

describe('holds and finished runs on the page', () => {
  let browser: Browser;
  before(async () => { browser = await launchChromium(); });
  after(async () => { await browser?.close(); });

  test('a run that exited 0 on a ready task says it stays claimed; release shows the hold on the index (live) and its page; retry clears it', async () => {
    await withTempFolder('whold', async (f) => {
      fs.rmSync(path.join(f.dir, 'FIRST-TASK.md'));
      task(f.dir, 'DONE');
      await heartbeat(f, f.dir, 'exit 0');
      await waitUntil(() => claimOf(f.dir, 'DONE')?.state === 'exited', 'the run to exit');
      const { s, base } = await serveBare(f);
      try {
        const retry = `just tasks retry id=DONE dir=${f.dir}`;
        // Built first: the "being built" page is not what this test looks at.
        const url = await taskPage(base, 'DONE');
        const { page, problems } = await openQuiet(browser, `${base}/`);
        await page.waitForFunction(() => /stays claimed until its file says completed or cancelled/.test(document.querySelector('#claims')?.textContent ?? ''));

        const own = await page.context().newPage();
        await own.goto(url);
        const next = await own.textContent('#claim-next') ?? '';
        assert.match(next, /The run exited 0, but the task still says ready, so it stays claimed and is not dispatched again until its file says completed or cancelled/);
        assert.ok(next.includes(retry), next);
        assert.ok(next.includes(`just tasks release id=DONE dir=${f.dir}`), next);

        const rel = await cli(['release', `owner=${f.owner}`, `dir=${f.dir}`, 'id=DONE']);
        assert.equal(rel.code, 0, rel.stderr);
        // The open index shows the hold without a reload: who released it, when, and the command.
        await page.waitForFunction(() => /DONE/.test(document.querySelector('#held tbody')?.textContent ?? ''));
        const held = await page.textContent('#held') ?? '';
        assert.match(held, /Held \(1\)/);
        assert.ok(held.includes(`${f.owner} (release)`), held);
        assert.ok(held.includes(retry), held);
        await own.reload();
        const banner = await own.textContent('#held') ?? '';
        assert.match(banner, new RegExp(`Held since .+ \\(released by ${f.owner} \\(release\\)\\): the heartbeat does not dispatch it\\.`));
        assert.ok(banner.includes(`${retry} to dispatch it again`), banner);
        assert.equal(await own.locator('#claim').count(), 0, 'released: no claim any more');

        // The heartbeat ticks on and the hold stays; retry ends it.
        const r = await cli(['retry', `owner=${f.owner}`, `dir=${f.dir}`, 'id=DONE']);
        assert.equal(r.code, 0, r.stderr);
        await page.waitForFunction(() => /Held \(0\)/.test(document.querySelector('#held')?.textContent ?? ''));
        assert.deepEqual(problems, []);
      } finally {
        await stopServe(s);
      }
    });
  });

  test('the run-failed box names the served tasks folder in its retry command, shell-quoted', async () => {
    await withTempFolder('wfail', async (f) => {
      // A folder whose path needs quoting: the hint must paste back as one word.
      const dir = path.join(f.root, "odd dir's tasks");
      fs.mkdirSync(dir);
      task(dir, 'FAILS');
      await heartbeat(f, dir, 'exit 3');
      await waitUntil(() => claimOf(dir, 'FAILS')?.state === 'exited', 'the run to fail');
      const { s, base } = await serveBare({ ...f, dir });
      try {
        const url = await taskPage(base, 'FAILS');
        const { page, problems } = await openQuiet(browser, url);
        await page.waitForSelector('#run-failed');
        const box = await page.textContent('#run-failed') ?? '';
        const quoted = `'${dir.replace(/'/g, `'\\''`)}'`;
        assert.ok(box.includes(`just tasks retry id=FAILS dir=${quoted} to dispatch the task again`), box);
        assert.deepEqual(problems, []);
      } finally {
        await stopServe(s);
      }
    });
  });
});
