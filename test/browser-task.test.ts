// A task page in Debian's Chromium: subtasks, "Blocks", an overdue due date, labels, several owners, a GFM alert, the title once, ids in any spelling.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import getPort from 'get-port';
import type { Browser, Page } from 'playwright-core';
import { ARTIFACTS, evalAll, evalOne, launchChromium, openQuiet } from './chromium.ts';
import { SCRIPT, TSX, killAll, start, tempTasks, uniqueOwner } from './helpers.ts';

const HOSTILE = '<img src=x onerror=alert(1)>';

/** A Backlog.md family (prefix back): an epic with two subtasks naming it as `task-24` and `24`, and tasks waiting on a subtask written `task-24.1`. */
const FILES: Record<string, string> = {
  // Backlog.md writes task- references whatever its prefix; only its own folders fold them to BACK- (a fold never crosses prefixes in ours).
  'config.yml': 'task_prefix: back\n',
  'tasks/back-24 - Epic.md': `---
id: BACK-24
title: Ship the board
status: In Progress
priority: high
assignee: ["@dave", erin]
labels: [web, ux]
created_date: '2026-01-05 09:00'
updated_date: '2026-01-20 17:30'
due: 2020-01-01
effort: 5d
---
# Ship the board

> [!WARNING]
> The board is read-only.

## Acceptance Criteria
<!-- AC:BEGIN -->
- [x] #1 columns in order
- [ ] #2 keyboard works
<!-- AC:END -->
`,
  'tasks/back-24.1 - Columns.md': `---
id: BACK-24.1
title: Columns
status: Done
parent_task_id: task-24
---
<!-- SECTION:DESCRIPTION:BEGIN -->
Columns in the canonical order.
<!-- SECTION:DESCRIPTION:END -->
`,
  'tasks/back-24.2 - Keyboard.md': `---
id: BACK-24.2
title: Keyboard
status: To Do
parent_task_id: "24"
due: 2999-12-31
---
Arrow keys.
`,
  'tasks/back-30 - Docs.md': `---
id: BACK-30
title: Document the board
status: To Do
dependencies: [task-24.1]
labels: ['${HOSTILE}']
---
Write it down.
`,
  'tasks/back-31 - Demo.md': `---
id: BACK-31
title: Demo the board
status: To Do
dependencies: [back-24.1, 24.2]
---
Show it. Écrire la démo.
`,
};

describe('a task page in Chromium', () => {
  let browser: Browser;

  before(async () => {
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  /** A server without a heartbeat on its own copy of the fixture and its own owner; stopped, and everything it started killed, afterwards. */
  async function withServer(fn: (base: string, dir: string) => Promise<void>): Promise<void> {
    const fixture = tempTasks();
    for (const [name, text] of Object.entries(FILES)) {
      fs.mkdirSync(path.dirname(path.join(fixture.dir, name)), { recursive: true });
      fs.writeFileSync(path.join(fixture.dir, name), text);
    }
    const port = await getPort({ host: '127.0.0.1' });
    const server = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', `owner=${uniqueOwner('wtask')}`, `dir=${fixture.dir}`, `port=${port}`, '--no-heartbeat', 'project=Acme']);
    try {
      await server.waitFor(/serving tasks/);
      await fn(`http://127.0.0.1:${port}/`, fixture.dir);
    } finally {
      if (server.child.pid) process.kill(-server.child.pid, 'SIGTERM');
      await server.exited;
      await killAll(fixture.root);
      fixture.remove();
    }
  }

  const listed = (page: Page, section: string): Promise<string[]> =>
    evalAll(page, `#${section} li`, (items) => items.map((li) => (li.textContent ?? '').replace(/\s+/g, ' ').trim()));

  test('the epic shows subtasks, labels, owners, an overdue due date, its alert and its title once', () => withServer(async (base) => {
    const { page, problems } = await openQuiet(browser, `${base}tasks/back-24_-_Epic.html`);
    await page.waitForSelector('main[data-task-id="BACK-24"]');

    assert.equal(await evalAll(page, 'h1', (hs) => hs.filter((h) => h.textContent === 'Ship the board').length), 1, 'the title shows once');
    assert.deepEqual(await listed(page, 'subtasks'), ['BACK-24.1 completed Columns', 'BACK-24.2 todo Keyboard']);
    assert.match(await page.textContent('#subtasks h2') ?? '', /Subtasks \(2, 1 completed\)/);

    const facts = await evalAll(page, '#facts dt', (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent, (dt.nextElementSibling?.textContent ?? '').replace(/\s+/g, ' ').trim()])));
    assert.deepEqual(facts, { Labels: 'webux', Created: '2026-01-05 09:00', Updated: '2026-01-20 17:30', Due: '2020-01-01 overdue', Effort: '5d' });
    assert.deepEqual(await evalAll(page, '#facts .label', (ls) => ls.map((l) => l.textContent)), ['web', 'ux']);
    assert.equal(await page.textContent('dl.meta dt:text-is("Owners") + dd'), 'dave, erin');

    // Overdue is drawn in the "bad" colour, unlike the text around it.
    const colours = await evalOne(page, '#facts .overdue', (el) => [getComputedStyle(el).color, getComputedStyle(el.closest('dl') as Element).color]);
    assert.notEqual(colours[0], colours[1], 'the overdue date stands out');

    // The alert is a styled callout with its title, not the literal marker.
    const alert = await evalOne(page, '.body .markdown-alert-warning', (el) => ({
      title: el.querySelector('.markdown-alert-title')?.textContent, text: el.textContent ?? '', border: getComputedStyle(el).borderLeftStyle,
    }));
    assert.equal(alert.title, 'Warning');
    assert.match(alert.text, /The board is read-only\./);
    assert.equal(alert.border, 'solid');
    const body = await page.textContent('main') ?? '';
    assert.doesNotMatch(body, /\[!WARNING\]|AC:BEGIN|AC:END|SECTION:/);
    assert.match(await page.textContent('#acceptance') ?? '', /1\/2 met/);
    assert.equal(await evalAll(page, '.body input[type=checkbox]', (bs) => bs.length), 2);

    await page.screenshot({ path: path.join(ARTIFACTS, 'task-relations.png'), fullPage: true });
    await page.context().close();
    assert.deepEqual(problems, []);
  }));

  test('a subtask links its parent and lists what it blocks; links follow to the canonical task', () => withServer(async (base) => {
    const { page, problems } = await openQuiet(browser, `${base}tasks/back-24.1_-_Columns.html`);
    await page.waitForSelector('main[data-task-id="BACK-24.1"]');
    assert.match(await page.textContent('#parent') ?? '', /BACK-24 in_progress Ship the board \(written task-24\)/);
    assert.deepEqual(await listed(page, 'blocks'), ['BACK-30 todo Document the board', 'BACK-31 todo Demo the board']);
    assert.match(await page.textContent('main') ?? '', /Columns in the canonical order\./);
    assert.equal(await page.$('#facts .overdue'), null, 'no due date, nothing overdue');

    await page.click('#blocks a:text-is("BACK-31")');
    await page.waitForSelector('main[data-task-id="BACK-31"]');
    assert.deepEqual(await listed(page, 'deps'), ['BACK-24.1 completed Columns (written back-24.1)', 'BACK-24.2 todo Keyboard (written 24.2)']);
    await page.click('#deps a:text-is("BACK-24.2")');
    await page.waitForSelector('main[data-task-id="BACK-24.2"]');
    assert.equal(await page.$('#facts .overdue'), null, 'a due date in the future is not overdue');
    assert.match(await page.textContent('#facts') ?? '', /2999-12-31/);

    // The API answers for any spelling of an id, with the relations (asked from here: tsx names functions a page cannot run).
    const json = async (p: string): Promise<Record<string, unknown>> => (await fetch(new URL(p, base))).json() as Promise<Record<string, unknown>>;
    const api = { a: await json('api/tasks/task-24.1'), b: await json('api/tasks/24'), list: await json('api/tasks') as { tasks: Record<string, unknown>[] } };
    assert.deepEqual([api.a['id'], api.a['parentId'], api.a['blocks']], ['BACK-24.1', 'BACK-24', ['BACK-30', 'BACK-31']]);
    assert.deepEqual([api.b['id'], api.b['children'], api.b['owners'], api.b['labels']], ['BACK-24', ['BACK-24.1', 'BACK-24.2'], ['dave', 'erin'], ['web', 'ux']]);
    assert.deepEqual(api.list.tasks.map((t) => [t['id'], t['parentId']]).sort(), [['BACK-24', null], ['BACK-24.1', 'BACK-24'], ['BACK-24.2', 'BACK-24'], ['BACK-30', null], ['BACK-31', null], ['FIRST-TASK', null]]);
    await page.context().close();
    assert.deepEqual(problems, []);
  }));

  test('the list groups subtasks under their parent, in the chosen order, and keeps it in the URL', () => withServer(async (base) => {
    const { page, problems } = await openQuiet(browser, `${base}?sort=-id&group=parent`);
    const rows = (): Promise<string[]> => evalAll(page, '#tasks tbody tr', (trs) => trs.map((tr) => `${tr.classList.contains('sub1') ? '  ' : ''}${tr.querySelector('a')?.textContent ?? ''}`));
    const loaded = (): Promise<unknown> => page.waitForFunction(() => /^\d+ (of \d+ )?tasks$/.test(document.querySelector('#shown')?.textContent ?? ''));
    await loaded();
    assert.ok(await page.isChecked('#f-group'));
    assert.deepEqual(await rows(), ['FIRST-TASK', 'BACK-31', 'BACK-30', 'BACK-24', '  BACK-24.2', '  BACK-24.1']);
    // Unchecked: the plain order, and the URL drops group=.
    await page.uncheck('#f-group');
    await page.waitForFunction(() => !location.search.includes('group='));
    assert.deepEqual(await rows(), ['FIRST-TASK', 'BACK-31', 'BACK-30', 'BACK-24.2', 'BACK-24.1', 'BACK-24']);
    // A subtask whose parent the filters leave out stays at the top level.
    await page.goto(`${base}?sort=-id&group=parent&status=todo`);
    await loaded();
    assert.deepEqual(await rows(), ['BACK-31', 'BACK-30', 'BACK-24.2']);
    // Search folds accents both ways: "ecrire" finds a body that says "Écrire", "démo" finds "demo" in it.
    for (const q of ['ecrire', 'DÉMO']) {
      await page.goto(`${base}?q=${encodeURIComponent(q)}`);
      await page.waitForFunction(() => document.querySelectorAll('#tasks tbody tr').length === 1 && /BACK-31/.test(document.querySelector('#tasks tbody')?.textContent ?? ''));
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'list-grouped.png') });
    await page.context().close();
    assert.deepEqual(problems, []);
  }));

  test('a subtask finished on disk shows on the open parent page without a reload; hostile labels stay text', () => withServer(async (base, dir) => {
    const { page, problems } = await openQuiet(browser, `${base}tasks/back-24_-_Epic.html`);
    await page.waitForSelector('#subtasks');
    const file = path.join(dir, 'tasks/back-24.2 - Keyboard.md');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('status: To Do', 'status: Done'));
    await page.waitForFunction(() => /Subtasks \(2, 2 completed\)/.test(document.querySelector('#subtasks h2')?.textContent ?? ''));
    assert.deepEqual(await listed(page, 'subtasks'), ['BACK-24.1 completed Columns', 'BACK-24.2 completed Keyboard']);

    await page.goto(`${base}tasks/back-30_-_Docs.html`);
    assert.equal(await page.textContent('#facts .label'), HOSTILE);
    assert.equal(await evalAll(page, 'img', (imgs) => imgs.length), 0);
    await page.context().close();
    assert.deepEqual(problems, []);
  }));
});
