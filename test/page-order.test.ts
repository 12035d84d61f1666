// The index's words and order: the title never says "Tasks Tasks", the ready queue says why nothing dispatches when the
// heartbeat tells it, and the list puts open work first (in Chromium, with and without the script) with ids that never wrap.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { evalAll, evalOne, launchChromium, openQuiet } from './chromium.ts';
import { type Folder, cli, serveBare, stopServe, waitUntilAsync, withTempFolder } from './helpers.ts';
import { parseTaskFile, type Task } from '../lib/tasks/taskfile.ts';
import type { Snapshot } from '../lib/manager/tick.ts';
import { SiteBuilder, type SiteInput } from '../lib/web/site/site.ts';

const NOW = new Date('2026-03-22T12:00:00Z');

function parsed(id: string, status: string): Task {
  const r = parseTaskFile(Buffer.from(`---\nid: ${id}\ntitle: Task ${id}\nstatus: ${status}\n---\nbody\n`), `${id}.md`);
  assert.ok(r.ok);
  return r.task;
}

/** Builds the site from the input into a temp folder and returns the index and one task page. */
function built(extra: Partial<SiteInput>): { index: string; page: string } {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-order-'));
  try {
    new SiteBuilder(out).build({ project: 'Acme', tasks: [parsed('A-1', 'ready')], errors: [], snapshot: undefined, heartbeat: { running: false, pid: null }, now: NOW, ...extra });
    return { index: fs.readFileSync(path.join(out, 'index.html'), 'utf8'), page: fs.readFileSync(path.join(out, 'tasks', 'A-1.html'), 'utf8') };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

function snapshot(more: Record<string, unknown>): Snapshot {
  return { owner: 'ops', pid: 1, dir: '/x', tick: 1, tickAt: NOW.toISOString(), tickDurationMs: 1, interval: 30, nextTickAt: NOW.toISOString(),
    taskCount: 1, counts: {}, ready: [], dispatchable: [], claims: [], escalations: [], errors: [], ...more } as Snapshot;
}

test('the title is "<Project> Tasks", and a project named tasks (or ending in tasks) is not doubled', () => {
  for (const [project, title] of [['Acme', 'Acme Tasks'], ['Tasks', 'Tasks'], ['tasks', 'tasks'], ['Team tasks', 'Team tasks']] as const) {
    const { index, page } = built({ project });
    assert.match(index, new RegExp(`<title>${title}</title>`), project);
    assert.match(index, new RegExp(`<h1>${title}</h1>`), project);
    assert.match(page, new RegExp(`<title>A-1: Task A-1 · ${title}</title>`), project);
    assert.match(page, new RegExp(`← ${title}</a>`), project);
  }
});

test('"Nothing to dispatch" gives the snapshot\'s dispatchNote, escaped, when it has one', () => {
  const note = 'no status counts as ready in this folder: pass ready=\'To Do\' <b>';
  const { index } = built({ snapshot: snapshot({ dispatchNote: note }) });
  assert.match(index, /<p class="none">Nothing to dispatch: no status counts as ready in this folder: pass ready=&#39;To Do&#39; &lt;b&gt;<\/p>/);
  const plain = built({ snapshot: snapshot({}) }).index;
  assert.match(plain, /<p class="none">Nothing to dispatch: no ready task has all its dependencies completed, no claim and no hold\.<\/p>/);
});

test('a real heartbeat on a folder where no task says ready: the page says why nothing dispatches', async () => {
  await withTempFolder('wnote', async (f) => {
    fs.rmSync(path.join(f.dir, 'FIRST-TASK.md'));
    fs.writeFileSync(path.join(f.dir, 'T-1.md'), '---\nid: T-1\ntitle: Waiting\nstatus: todo\n---\nbody\n');
    const r = await cli(['ensure', `owner=${f.owner}`, `dir=${f.dir}`, 'interval=0.2', 'dispatch=true', 'worktrees=off', '--json']);
    assert.equal(r.code, 0, r.stderr);
    f.extra.push((JSON.parse(r.stdout) as { pid: number }).pid);
    const { s, base } = await serveBare(f);
    try {
      const line = await waitUntilAsync(async () => /<p class="none">(Nothing to dispatch: no task has status ready;[^<]*)<\/p>/.exec(await (await fetch(`${base}/`)).text())?.[1], 'the ready queue to give the note');
      assert.match(line, /this folder&#39;s statuses are todo: pass ready=todo to dispatch todo tasks$/);
    } finally {
      await stopServe(s);
    }
  });
});

describe('the list in Chromium', () => {
  let browser: Browser;
  before(async () => { browser = await launchChromium(); });
  after(async () => { await browser?.close(); });

  /** Statuses and priorities in path order that is not the lifecycle's. */
  function write(f: Folder): void {
    fs.rmSync(path.join(f.dir, 'FIRST-TASK.md'));
    const tasks: [string, string, string][] = [['BACK-1', 'completed', 'high'], ['BACK-2', 'draft', 'high'], ['BACK-3', 'todo', 'low'], ['BACK-4', 'in_progress', 'low'],
      ['BACK-5', 'ready', 'low'], ['BACK-6', 'ready', 'high'], ['BACK-7', 'cancelled', 'high'], ['BACK-8', 'review', 'medium'], ['BACK-9', 'blocked', 'medium'], ['BACK-100', 'todo', 'low']];
    for (const [id, status, priority] of tasks) fs.writeFileSync(path.join(f.dir, `${id}.md`), `---\nid: ${id}\ntitle: Task ${id}\nstatus: ${status}\npriority: ${priority}\n---\nbody\n`);
  }
  const OPEN_FIRST = ['BACK-4', 'BACK-6', 'BACK-5', 'BACK-3', 'BACK-100', 'BACK-8', 'BACK-9', 'BACK-2', 'BACK-1', 'BACK-7'];

  test('open work first by default (served and drawn), the chosen order kept in the URL; an id never wraps', async () => {
    await withTempFolder('word', async (f) => {
      write(f);
      const { s, base } = await serveBare(f);
      try {
        const served = await waitUntilAsync(async () => {
          const html = await (await fetch(`${base}/`)).text();
          const ids = [...html.matchAll(/<tr data-page="[^"]+"><td><a href="[^"]+">([^<]+)<\/a>/g)].map((m) => m[1]);
          return ids.length === 10 ? ids : undefined;
        }, 'the index to list the 10 tasks');
        assert.deepEqual(served, OPEN_FIRST, 'the first page as served, before any script');
        const { page, problems } = await openQuiet(browser, `${base}/`, { width: 390, height: 800 });
        const rows = (): Promise<string[]> => evalAll(page, '#tasks tbody tr', (trs) => trs.map((tr) => tr.querySelector('a')?.textContent ?? ''));
        await page.waitForFunction(() => /^10 tasks$/.test(document.querySelector('#shown')?.textContent ?? ''));
        assert.deepEqual(await rows(), OPEN_FIRST, 'drawn from tasks.json');
        // On a phone the id stays one line: "BACK-100" does not break after its dash.
        const lines = await evalOne(page, '#tasks tbody tr[data-page="BACK-100"] td:first-child a', (a) => a.getClientRects().length);
        assert.equal(lines, 1);
        // A chosen order goes into the URL and stays there.
        await page.click('#tasks th[data-sort="id"] button');
        await page.waitForFunction(() => new URLSearchParams(location.search).get('sort') === 'id');
        assert.deepEqual(await rows(), ['BACK-1', 'BACK-2', 'BACK-3', 'BACK-4', 'BACK-5', 'BACK-6', 'BACK-7', 'BACK-8', 'BACK-9', 'BACK-100']);
        await page.reload();
        await page.waitForFunction(() => /^10 tasks$/.test(document.querySelector('#shown')?.textContent ?? ''));
        assert.equal((await rows())[0], 'BACK-1');
        assert.deepEqual(problems, []);
      } finally {
        await stopServe(s);
      }
    });
  });
});
