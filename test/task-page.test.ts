// Task pages, doc pages and the API shape, rendered from tasks the real parser read: relations across id spellings, due dates, alerts, titles, Backlog.md markers.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseTaskFile } from '../lib/tasks/taskfile.ts';
import type { ParseOptions, Task } from '../lib/tasks/taskfile.ts';
import { SiteBuilder } from '../lib/web/site/site.ts';
import type { SiteInput } from '../lib/web/site/site.ts';
import { apiTaskText, apiTasksText, findTask } from '../lib/web/site/api-doc.ts';
import type { SnapshotFacts } from '../lib/web/site/api-doc.ts';
import { isOverdue } from '../lib/web/render/html.ts';
import { dueDay, localDay } from '../lib/web/client/due.ts';
import { renderMarkdown } from '../lib/web/render/markdown.ts';
import { relationsOf } from '../lib/web/render/relations.ts';
import { renderDocPage } from '../lib/web/render/render-doc.ts';
import { TaskScanner } from '../lib/tasks/scan.ts';

const NOW = new Date('2026-03-22T12:00:00Z');
const HOSTILE = '<img src=x onerror=alert(1)>';

/** A task parsed by the real parser from frontmatter lines and a body (options: a Backlog.md folder's, for instance). */
function task(file: string, frontmatter: string, body = '', options: ParseOptions = {}): Task {
  const r = parseTaskFile(Buffer.from(`---\n${frontmatter}\n---\n${body}`), file, options);
  assert.ok(r.ok, `fixture ${file} must parse: ${r.ok ? '' : r.reason}`);
  return r.task;
}

/** A file of a Backlog.md folder whose task_prefix is `back`: there `task-24`, `24` and `back-24` name BACK-24 (a fold never crosses prefixes elsewhere). */
const back = (file: string, frontmatter: string, body = ''): Task => task(file, frontmatter, body, { taskPrefix: 'back' });

/**
 * A Backlog.md family (task_prefix back) written with every id spelling: BACK-24 has two subtasks that name it
 * as `task-24` and `24`; BACK-30 depends on BACK-24.1 written as `task-24.1` and again as
 * `back-24.1` (one dependency), and on a missing id; BACK-31 waits for `24.1` and `BACK-24.2`.
 */
function family(): Task[] {
  return [
    back('tasks/back-24 - Parent.md', 'id: BACK-24\ntitle: Parent epic\nstatus: In Progress\nlabels: [web, api]\nassignee: ["@dave", erin]\ncreated_date: \'2026-03-01 10:00\'\nupdated_date: \'2026-03-10 09:30\'\ndue: 2026-03-01\neffort: 3d',
      '# Parent epic\n\n> [!WARNING]\n> Mind the gap.\n\n## Acceptance Criteria\n<!-- AC:BEGIN -->\n- [x] #1 first\n- [ ] #2 second\n<!-- AC:END -->\n\n## Implementation Plan\n- [x] plan one\n'),
    back('tasks/back-24.1 - Child one.md', 'id: BACK-24.1\ntitle: Child one\nstatus: Done\nparent_task_id: task-24', '<!-- SECTION:DESCRIPTION:BEGIN -->\nThe first child.\n<!-- SECTION:DESCRIPTION:END -->\n'),
    back('tasks/back-24.2 - Child two.md', 'id: BACK-24.2\ntitle: Child two\nstatus: To Do\nparent_task_id: "24"\ndue: 2999-01-01', 'Second child.\n'),
    back('tasks/back-30 - Waiter.md', 'id: BACK-30\ntitle: Waiter\nstatus: To Do\ndependencies: [task-24.1, back-24.1, MISSING-9]\nparent_task_id: task-99', 'Waits.\n'),
    back('tasks/back-31 - Second waiter.md', 'id: BACK-31\ntitle: Second waiter\nstatus: readdy\ndependencies: ["24.1", BACK-24.2]', 'Also waits.\n'),
    back('archive/tasks/back-5 - Old.md', 'id: BACK-5\ntitle: Old one\nstatus: Done', 'Archived.\n'),
  ];
}

function input(list: Task[], extra: Partial<SiteInput> = {}): SiteInput {
  return { project: 'Acme', tasks: list, errors: [], snapshot: undefined, heartbeat: { running: false, pid: null }, now: NOW, ...extra };
}

/** Builds the site of `list` into a fresh folder and gives a reader of its files; the folder is removed afterwards. */
function withSite(list: Task[], body: (read: (rel: string) => string) => void, extra: Partial<SiteInput> = {}): void {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-page-'));
  try {
    new SiteBuilder(out).build(input(list, extra));
    body((rel) => fs.readFileSync(path.join(out, rel), 'utf8'));
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

/** Text of an HTML fragment with tags removed, the five escapes decoded and spaces folded. */
function text(html: string): string {
  return html.replace(/<[^>]*>/g, ' ').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&').replace(/\s+/g, ' ').trim();
}

/** The inner HTML of `<section id="…">`, or undefined when the page has none. */
const section = (html: string, id: string): string | undefined => new RegExp(`<section id="${id}">(.*?)</section>`, 's').exec(html)?.[1];
/** The links of an HTML fragment as [href, text]. */
const links = (html: string): string[][] => [...html.matchAll(/<a href="([^"]*)"[^>]*>(.*?)<\/a>/g)].map((m) => [m[1] as string, text(m[2] as string)]);
const tags = (html: string): string[] => html.match(/<[a-zA-Z][^>]*>/g) ?? [];

const PAGE = { 'BACK-24': 'back-24_-_Parent', 'BACK-24.1': 'back-24.1_-_Child_one', 'BACK-24.2': 'back-24.2_-_Child_two', 'BACK-30': 'back-30_-_Waiter', 'BACK-31': 'back-31_-_Second_waiter' } as const;
const href = (id: keyof typeof PAGE): string => `${PAGE[id]}.html`;

describe('relations resolve every id spelling', () => {
  const list = family();
  const byId = (id: string): Task => list.find((t) => t.id === id) as Task;
  const rel = relationsOf(list);

  test('relationsOf is computed once per list object', () => {
    assert.equal(relationsOf(list), rel);
    assert.notEqual(relationsOf([...list]), rel);
  });

  const cases: { id: string; parent: string | null; children: string[]; blocks: string[] }[] = [
    { id: 'BACK-24', parent: null, children: ['BACK-24.1', 'BACK-24.2'], blocks: [] },
    { id: 'BACK-24.1', parent: 'BACK-24', children: [], blocks: ['BACK-30', 'BACK-31'] },
    { id: 'BACK-24.2', parent: 'BACK-24', children: [], blocks: ['BACK-31'] },
    { id: 'BACK-30', parent: null, children: [], blocks: [] },
    { id: 'BACK-31', parent: null, children: [], blocks: [] },
  ];
  for (const c of cases) {
    test(`${c.id}: parent ${c.parent ?? 'none'}, children [${c.children.join(', ')}], blocks [${c.blocks.join(', ')}]`, () => {
      const t = byId(c.id);
      assert.equal(rel.parent.get(t)?.id ?? null, c.parent);
      assert.deepEqual((rel.children.get(t) ?? []).map((x) => x.id), c.children);
      assert.deepEqual((rel.blocks.get(t) ?? []).map((x) => x.id), c.blocks);
    });
  }

  const spellings: [string, string | undefined][] = [
    ['BACK-24.1', 'BACK-24.1'], ['task-24.1', 'BACK-24.1'], ['back-24.1', 'BACK-24.1'], ['24.1', 'BACK-24.1'],
    ['TASK-24', 'BACK-24'], ['24', 'BACK-24'], ['MISSING-9', undefined], ['24.9', undefined],
  ];
  for (const [ref, id] of spellings) {
    test(`the API finds ${ref} as ${id ?? 'nothing'}`, () => assert.equal(findTask(list, ref)?.id, id));
  }

  test('the API finds the active task before an archived copy with the same id, whatever the path order', () => {
    const backlog = { taskPrefix: 'task' };
    const copies = [task('archive/tasks/task-10.md', 'id: task-10\ntitle: Old', '', backlog), task('completed/task-10.md', 'id: task-10\ntitle: New\nstatus: Done', '', backlog)];
    for (const ref of ['task-10', 'TASK-10', '10']) assert.equal(findTask(copies, ref)?.path, 'completed/task-10.md', ref);
  });
});

describe('a task page shows its relations, linked to the canonical task', () => {
  test('a parent lists its subtasks with their status; a subtask links its parent', () => withSite(family(), (read) => {
    const parent = read(`tasks/${href('BACK-24')}`);
    const subtasks = section(parent, 'subtasks') ?? '';
    assert.match(subtasks, /<h2>Subtasks \(2, 1 completed\)<\/h2>/);
    assert.deepEqual(links(subtasks), [[href('BACK-24.1'), 'BACK-24.1'], [href('BACK-24.2'), 'BACK-24.2']]);
    assert.match(subtasks, /BACK-24\.1<\/a> <span class="st st-completed">completed<\/span> Child one/);
    for (const id of ['BACK-24.1', 'BACK-24.2'] as const) {
      const p = section(read(`tasks/${href(id)}`), 'parent') ?? '';
      assert.deepEqual(links(p), [[href('BACK-24'), 'BACK-24']], id);
      assert.match(text(p), /BACK-24 in_progress Parent epic \(written (task-24|24)\)/);
    }
    assert.equal(section(parent, 'parent'), undefined, 'no parent section without a parent');
  }));

  test('"Blocks" lists the tasks whose dependencies resolve to this one, each once', () => withSite(family(), (read) => {
    const blocks = section(read(`tasks/${href('BACK-24.1')}`), 'blocks') ?? '';
    assert.match(blocks, /<h2>Blocks \(2\)<\/h2>/);
    assert.deepEqual(links(blocks), [[href('BACK-30'), 'BACK-30'], [href('BACK-31'), 'BACK-31']]);
    assert.equal(section(read(`tasks/${href('BACK-30')}`), 'blocks'), undefined);
  }));

  test('dependencies link the canonical task whatever the spelling; a missing one is marked', () => withSite(family(), (read) => {
    const page = read(`tasks/${href('BACK-30')}`);
    const deps = section(page, 'deps') ?? '';
    assert.deepEqual(links(deps), [[href('BACK-24.1'), 'BACK-24.1'], [href('BACK-24.1'), 'BACK-24.1']]);
    assert.deepEqual([...deps.matchAll(/<li[^>]*>(.*?)<\/li>/g)].map((m) => text(m[1] as string)), [
      'BACK-24.1 completed Child one (written task-24.1)',
      'BACK-24.1 completed Child one (written back-24.1)',
      'MISSING-9 missing',
    ]);
    assert.match(deps, /<li class="missing">MISSING-9 <span class="bad">missing<\/span><\/li>/);
    assert.equal(text(section(page, 'parent') ?? ''), 'Parent task-99 missing', 'a parent that does not resolve is marked');
  }));

  test('a subtask changing status rewrites its parent\'s page and its blockers\' pages', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-page-'));
    try {
      const builder = new SiteBuilder(out);
      const list = family();
      builder.build(input(list));
      const i = list.findIndex((t) => t.id === 'BACK-24.2');
      list[i] = { ...(list[i] as Task), status: 'completed', title: 'Child two renamed' };
      builder.build(input(list));
      const read = (id: keyof typeof PAGE): string => fs.readFileSync(path.join(out, 'tasks', href(id)), 'utf8');
      assert.match(section(read('BACK-24'), 'subtasks') ?? '', /Subtasks \(2, 2 completed\)[^]*Child two renamed/);
      assert.match(section(read('BACK-31'), 'deps') ?? '', /st-completed">completed<\/span> Child two renamed/);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('metadata, dates and progress', () => {
  test('the seven metadata fields, several owners, labels, dates, effort; acceptance apart from the plan', () => withSite(family(), (read) => {
    const page = read(`tasks/${href('BACK-24')}`);
    const dl = /<dl class="meta">(.*?)<\/dl>/s.exec(page)?.[1] ?? '';
    assert.deepEqual([...dl.matchAll(/<dt>(.*?)<\/dt><dd>(.*?)<\/dd>/g)].map((m) => [m[1], text(m[2] ?? '')]), [
      ['ID', 'BACK-24'], ['Status', 'in_progress'], ['Priority', '—'], ['Milestone', '—'], ['Owners', 'dave, erin'], ['Completed by', '—'], ['Completed', '—'],
    ]);
    const facts = /<dl class="meta facts" id="facts">(.*?)<\/dl>/s.exec(page)?.[1] ?? '';
    assert.deepEqual([...facts.matchAll(/<dt>(.*?)<\/dt><dd[^>]*>(.*?)<\/dd>/g)].map((m) => [m[1], text(m[2] ?? '')]), [
      ['Labels', 'web api'], ['Created', '2026-03-01 10:00'], ['Updated', '2026-03-10 09:30'], ['Due', '2026-03-01 overdue'], ['Effort', '3d'],
    ]);
    assert.match(facts, /<li class="label">web<\/li><li class="label">api<\/li>/);
    assert.match(section(page, 'acceptance') ?? '', /<progress value="1" max="2"><\/progress> 1\/2 met/);
    assert.match(section(page, 'progress') ?? '', /<progress value="1" max="1"><\/progress> 1\/1 done/, 'the plan counts the other checkboxes');
  }));

  test('one owner is "Owner"; a task without the new fields shows no facts list', () => withSite([task('A.md', 'id: A\nowner: dave')], (read) => {
    const page = read('tasks/A.html');
    assert.match(page, /<dt>Owner<\/dt><dd>dave<\/dd>/);
    assert.doesNotMatch(page, /id="facts"|id="subtasks"|id="blocks"|id="parent"|id="acceptance"/);
  }));

  test('an unknown status says so with its hint; an archived task is marked', () => withSite(family(), (read) => {
    const status = /<dt>Status<\/dt><dd>(.*?)<\/dd>/.exec(read(`tasks/${href('BACK-31')}`))?.[1] ?? '';
    assert.equal(text(status), "readdy unknown status 'readdy': did you mean ready?");
    assert.match(read('tasks/back-5_-_Old.html'), /<p class="path"><code>archive\/tasks\/back-5 - Old\.md<\/code> <span class="archived">archived<\/span><\/p>/);
    assert.doesNotMatch(read(`tasks/${href('BACK-24')}`), /class="archived"/);
  }));

  test('hostile labels, owners, dates and effort are text', () => {
    const hostile = task('H.md', `id: H\nlabels: ['${HOSTILE}']\nassignee: ['${HOSTILE}', b]\ndue: '${HOSTILE}'\ncreated: '${HOSTILE}'\neffort: '${HOSTILE}'\nparent: '${HOSTILE}'`, '> [!NOTE]\n> <script>alert(1)</script>\n');
    withSite([hostile], (read) => {
      const page = read('tasks/H.html');
      assert.ok(!tags(page).some((t) => t.startsWith('<img') || /^<script(?![^>]*\bsrc=)/.test(t)), 'no img or inline script');
      assert.ok(page.includes('&lt;img src=x onerror=alert(1)&gt;'));
      assert.ok(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    });
  });
});

describe('overdue: a due day before today, unless completed or cancelled', () => {
  const today = localDay(NOW);
  const cases: [string | null, string, boolean][] = [
    ['2026-03-01', 'todo', true],
    ['2026-3-1', 'in_progress', true],
    ['2026-03-01 17:00', 'ready', true],
    ['2026-03-01T09:00:00Z', 'readdy', true],
    [today, 'todo', false],
    ['2999-01-01', 'todo', false],
    ['2026-03-01', 'completed', false],
    ['2026-03-01', 'cancelled', false],
    ['next week', 'todo', false],
    ['', 'todo', false],
    [null, 'todo', false],
  ];
  for (const [due, status, overdue] of cases) {
    test(`due ${JSON.stringify(due)}, ${status}: ${overdue ? 'overdue' : 'not overdue'}`, () => assert.equal(isOverdue({ due, status }, NOW), overdue));
  }
  test('dates as written become days', () => {
    assert.deepEqual(['2026-3-1', '2026-03-01 12:34', '2026-03-01T00:00', '26-03-01', '2026-03-011'].map(dueDay), ['2026-03-01', '2026-03-01', '2026-03-01', null, null]);
  });
  test('the page marks an overdue due date, and not a future one', () => withSite(family(), (read) => {
    assert.match(read(`tasks/${href('BACK-24')}`), /<dd class="due"><span class="overdue">2026-03-01 <strong>overdue<\/strong><\/span><\/dd>/);
    assert.match(read(`tasks/${href('BACK-24.2')}`), /<dd class="due">2999-01-01<\/dd>/);
  }));
  test('the day passing makes the page overdue at the next build', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-page-'));
    try {
      const builder = new SiteBuilder(out);
      const list = [task('D.md', 'id: D\nstatus: todo\ndue: 2026-03-25')];
      builder.build(input(list));
      assert.doesNotMatch(fs.readFileSync(path.join(out, 'tasks/D.html'), 'utf8'), /overdue/);
      builder.build(input(list, { now: new Date('2026-03-28T12:00:00Z') }));
      assert.match(fs.readFileSync(path.join(out, 'tasks/D.html'), 'utf8'), /class="overdue"/);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('markdown: GFM alerts, the title heading, Backlog.md markers, acceptance items', () => {
  const alerts: [string, string, string][] = [
    ['NOTE', 'note', 'Note'], ['TIP', 'tip', 'Tip'], ['IMPORTANT', 'important', 'Important'], ['WARNING', 'warning', 'Warning'],
    ['CAUTION', 'caution', 'Caution'], ['note', 'note', 'Note'], ['Warning', 'warning', 'Warning'],
  ];
  for (const [marker, kind, title] of alerts) {
    test(`> [!${marker}] is a ${kind} callout titled ${title}`, () => {
      const html = renderMarkdown(`> [!${marker}]\n> Read *this*.\n`);
      assert.equal(html, `<div class="markdown-alert markdown-alert-${kind}">\n<p class="markdown-alert-title">${title}</p>\n<p>Read <em>this</em>.</p>\n</div>\n`);
    });
  }
  const notAlerts: [string, string][] = [
    ['text after the marker', '> [!NOTE] inline\n'],
    ['an unknown kind', '> [!DANGER]\n> x\n'],
    ['no blockquote', '[!NOTE]\nx\n'],
    ['a marker on a later line', '> x\n> [!NOTE]\n'],
  ];
  for (const [what, md] of notAlerts) {
    test(`not an alert: ${what}`, () => assert.doesNotMatch(renderMarkdown(md), /class="markdown-alert/));
  }
  test('an alert whose marker stands alone in its paragraph, nested in a list, keeps its other blocks', () => {
    assert.equal(renderMarkdown('> [!TIP]\n>\n> one\n>\n> two\n'), '<div class="markdown-alert markdown-alert-tip">\n<p class="markdown-alert-title">Tip</p>\n<p>one</p>\n<p>two</p>\n</div>\n');
    assert.match(renderMarkdown('- item\n\n  > [!CAUTION]\n  > hot\n'), /<li>\n<p>item<\/p>\n<div class="markdown-alert markdown-alert-caution">\n<p class="markdown-alert-title">Caution<\/p>\n<p>hot<\/p>\n<\/div>\n<\/li>/);
  });

  const titles: [string, string, string | undefined, boolean][] = [
    ['the first H1 equal to the title', '# Fix the port\n\nBody.\n', 'Fix the port', false],
    ['equal but for case and spaces', '#   fix  THE port\n', 'Fix the port', false],
    ['a different first H1', '# Something else\n', 'Fix the port', true],
    ['no title given', '# Fix the port\n', undefined, true],
    ['an H2 with the title', '## Fix the port\n', 'Fix the port', true],
  ];
  for (const [what, md, title, kept] of titles) {
    test(`the heading is ${kept ? 'kept' : 'left out'}: ${what}`, () => {
      assert.equal(/<h[12]>/.test(renderMarkdown(md, title === undefined ? {} : { title })), kept);
    });
  }
  test('only the first H1 is compared; a later equal one stays', () => {
    assert.equal(renderMarkdown('# Other\n\n# Fix\n', { title: 'Fix' }), '<h1>Other</h1>\n<h1>Fix</h1>\n');
    assert.equal(renderMarkdown('# Fix\n\n# Fix\n', { title: 'Fix' }), '<h1>Fix</h1>\n');
  });
  test('a task page whose body starts with its title shows it once', () => withSite(family(), (read) => {
    const page = read(`tasks/${href('BACK-24')}`);
    assert.equal(page.match(/Parent epic<\/h1>/g)?.length, 1);
    assert.match(page, /<div class="markdown-alert markdown-alert-warning">\n<p class="markdown-alert-title">Warning<\/p>\n<p>Mind the gap.<\/p>/);
  }));

  const markers: [string, string, string][] = [
    ['SECTION markers around a paragraph', '<!-- SECTION:DESCRIPTION:BEGIN -->\nThe text.\n<!-- SECTION:DESCRIPTION:END -->\n', '<p>The text.</p>\n'],
    ['AC markers around a list', '<!-- AC:BEGIN -->\n- [ ] #1 one\n- [x] #2 two\n<!-- AC:END -->\n',
      '<ul>\n<li class="task"><input type="checkbox" disabled> #1 one</li>\n<li class="task"><input type="checkbox" disabled checked> #2 two</li>\n</ul>\n'],
    ['markers right after a paragraph', 'Intro.\n<!-- SECTION:NOTES:BEGIN -->\nNotes.\n<!-- SECTION:NOTES:END -->\n', '<p>Intro.</p>\n<p>Notes.</p>\n'],
    ['a comment over two lines', '<!-- a\nb -->\nText.\n', '<p>Text.</p>\n'],
    ['a comment with text after it stays text', '<!-- x --> tail\n', '<p>&lt;!-- x --&gt; tail</p>\n'],
    ['an unclosed comment stays text and ends at a blank line', '<!-- open\n\n```\n<!-- in code -->\n```\n', '<p>&lt;!-- open</p>\n<pre><code>&lt;!-- in code --&gt;\n</code></pre>\n'],
    ['other raw HTML stays text', '<div>x</div>\n', '<p>&lt;div&gt;x&lt;/div&gt;</p>\n'],
  ];
  for (const [what, md, html] of markers) {
    test(`comments vanish, their content shows: ${what}`, () => assert.equal(renderMarkdown(md), html));
  }
  test('a Backlog.md page shows neither marker and its content', () => withSite(family(), (read) => {
    for (const id of ['BACK-24', 'BACK-24.1'] as const) {
      const page = read(`tasks/${href(id)}`);
      assert.doesNotMatch(page, /SECTION:|AC:BEGIN|AC:END|&lt;!--/, id);
    }
    assert.match(read(`tasks/${href('BACK-24.1')}`), /<p>The first child\.<\/p>/);
    assert.match(read(`tasks/${href('BACK-24')}`), /<li class="task"><input type="checkbox" disabled checked> #1 first<\/li>/);
  }));
});

describe('the API carries the new fields', () => {
  const facts: SnapshotFacts = { escalations: new Map(), ci: new Map() };
  const list = family();
  const doc = JSON.parse(apiTasksText(list, [], facts, undefined)) as { tasks: Record<string, unknown>[]; errors: unknown[] };
  const of = (id: string): Record<string, unknown> => doc.tasks.find((t) => t['id'] === id) as Record<string, unknown>;

  const cases: [string, Record<string, unknown>][] = [
    ['BACK-24', {
      owner: 'dave', owners: ['dave', 'erin'], labels: ['web', 'api'], created: '2026-03-01 10:00', updated: '2026-03-10 09:30', due: '2026-03-01',
      parent: null, parentId: null, children: ['BACK-24.1', 'BACK-24.2'], blocks: [], archived: false, acceptance: { done: 1, total: 2 }, effort: '3d',
      statusHint: null, progress: { done: 2, total: 3 },
    }],
    ['BACK-24.1', { parent: 'task-24', parentId: 'BACK-24', children: [], blocks: ['BACK-30', 'BACK-31'], owners: [], owner: null, labels: [] }],
    ['BACK-30', { parent: 'task-99', parentId: null, dependsOn: ['task-24.1', 'back-24.1', 'MISSING-9'], blocks: [] }],
    ['BACK-31', { status: 'readdy', statusHint: 'did you mean ready?' }],
    ['BACK-5', { archived: true }],
  ];
  for (const [id, want] of cases) {
    test(`${id}: ${Object.keys(want).join(', ')}`, () => {
      const got = of(id);
      for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k], v, k);
    });
  }
  test('the old fields stay, in their order, and the new ones follow', () => {
    assert.deepEqual(Object.keys(of('BACK-24')), ['id', 'slug', 'path', 'title', 'status', 'priority', 'milestone', 'owner', 'completedBy', 'completed',
      'dependsOn', 'pr', 'prUrl', 'prNumber', 'ci', 'progress', 'escalation', 'owners', 'labels', 'created', 'updated', 'due', 'parent', 'parentId',
      'children', 'blocks', 'archived', 'acceptance', 'effort', 'statusHint']);
  });
  test('one task adds its fields, body and sections', () => {
    const one = JSON.parse(apiTaskText(list, list[1] as Task, facts, undefined)) as Record<string, unknown>;
    assert.equal(one['parentId'], 'BACK-24');
    assert.equal(typeof one['body'], 'string');
    assert.ok(Array.isArray(one['sections']));
    assert.equal((one['fields'] as Record<string, unknown>)['parent_task_id'], 'task-24');
  });
});

describe('pages of docs, decisions and milestones', () => {
  const kinds = [['doc', 'Doc'], ['decision', 'Decision'], ['milestone', 'Milestone']] as const;
  for (const [kind, word] of kinds) {
    test(`a ${kind} page: kind, title once, path, body, back link`, () => {
      const html = renderDocPage({ project: 'Acme', doc: { kind, id: `${kind}-1`, title: 'Use SQLite', slug: `${kind}-1 - Use SQLite`, path: `${kind}s/${kind}-1 - Use SQLite.md`, body: '# Use SQLite\n\n> [!IMPORTANT]\n> Decided.\n\n[x](javascript:alert(1)) <b>raw</b>\n' } });
      assert.match(html, new RegExp(`<title>${word}: Use SQLite · Acme Tasks</title>`));
      assert.match(html, /<a href="\.\.\/index\.html#[a-z]+">← Acme Tasks<\/a>/);
      assert.match(html, new RegExp(`<p class="kind">${word} <code>${kind}-1</code></p>`));
      assert.equal(html.match(/Use SQLite<\/h1>/g)?.length, 1);
      assert.match(html, new RegExp(`<p class="path"><code>${kind}s/${kind}-1 - Use SQLite\\.md</code></p>`));
      assert.match(html, /<div class="markdown-alert markdown-alert-important">/);
      assert.match(html, /href="\.\.\/style\.css"/);
      assert.doesNotMatch(html, /href="javascript:|<b>/);
    });
  }
  test('a milestone lists its tasks when given; an archived one says so; hostile text is escaped', () => {
    const html = renderDocPage({
      project: HOSTILE,
      doc: { kind: 'milestone', id: HOSTILE, title: HOSTILE, slug: 'm', path: 'archive/milestones/m.md', body: '', archived: true },
      tasks: [{ id: 'BACK-24', page: 'back-24_-_Parent', status: 'in_progress', title: HOSTILE }],
    });
    assert.deepEqual(links(section(html, 'milestone-tasks') ?? ''), [['../tasks/back-24_-_Parent.html', 'BACK-24']]);
    assert.ok(!tags(html).some((t) => t.startsWith('<img')));
    assert.match(html, /<code>archive\/milestones\/m\.md<\/code> <span class="archived">archived<\/span>/);
  });
});

describe('the build writes the pages of docs, decisions and milestones the scan found', () => {
  /** A Backlog.md-style folder, scanned by the real scanner, built into a folder of its own. */
  function withBacklog(body: (t: { dir: string; out: string; scan: () => SiteInput; read: (rel: string) => string }) => void): void {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-docs-'));
    try {
      const dir = path.join(root, 'backlog');
      const out = path.join(root, 'out');
      const files: Record<string, string> = {
        'config.yml': 'project_name: Acme\n',
        'tasks/back-1 - Board.md': '---\nid: BACK-1\ntitle: Board\nstatus: To Do\nmilestone: v1 release\n---\nBody.\n',
        'tasks/back-2 - Other.md': '---\nid: BACK-2\ntitle: Other\nstatus: To Do\nmilestone: m-2\n---\nBody.\n',
        'milestones/m-1 - v1-release.md': '---\nid: m-1\ntitle: v1 release\n---\n# v1 release\n\nThe first one.\n',
        'docs/doc-1 - Guide.md': '---\nid: doc-1\ntitle: Guide\n---\n> [!TIP]\n> Read me.\n',
        'decisions/decision-1 - Use SQLite.md': '---\nid: decision-1\ntitle: Use SQLite\n---\n<!-- SECTION:CONTEXT:BEGIN -->\nBecause.\n<!-- SECTION:CONTEXT:END -->\n',
      };
      for (const [name, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), text);
      }
      const scanner = new TaskScanner(dir);
      const scan = (): SiteInput => {
        const r = scanner.scan();
        return input(r.tasks, { docs: r.docs });
      };
      body({ dir, out, scan, read: (rel) => fs.readFileSync(path.join(out, rel), 'utf8') });
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }

  test('one page per doc, decision and milestone where the index links; a milestone lists its tasks', () => withBacklog(({ out, scan, read }) => {
    const builder = new SiteBuilder(out, { pruneUnknown: true });
    builder.build(scan());
    assert.deepEqual(['docs', 'decisions', 'milestones'].map((f) => fs.readdirSync(path.join(out, f))), [['doc-1_-_Guide.html'], ['decision-1_-_Use_SQLite.html'], ['m-1_-_v1-release.html']]);
    const milestone = read('milestones/m-1_-_v1-release.html');
    assert.deepEqual(links(section(milestone, 'milestone-tasks') ?? ''), [['../tasks/back-1_-_Board.html', 'BACK-1']], 'named by title; BACK-2 names another');
    assert.equal(milestone.match(/v1 release<\/h1>/g)?.length, 1);
    assert.match(read('docs/doc-1_-_Guide.html'), /<div class="markdown-alert markdown-alert-tip">/);
    assert.match(read('decisions/decision-1_-_Use_SQLite.html'), /<p>Because\.<\/p>/);
    assert.doesNotMatch(read('decisions/decision-1_-_Use_SQLite.html'), /SECTION:/);
    for (const rel of ['docs/doc-1_-_Guide.html', 'decisions/decision-1_-_Use_SQLite.html', 'milestones/m-1_-_v1-release.html']) {
      assert.match(read('index.html'), new RegExp(`href="${rel.replace(/[.]/g, '\\.')}"`), `the index links ${rel}`);
    }
  }));

  test('an unchanged doc is not rewritten; a task joining a milestone rewrites its page; a removed doc loses its page', () => withBacklog(({ dir, out, scan }) => {
    const builder = new SiteBuilder(out, { pruneUnknown: true });
    builder.build(scan());
    assert.deepEqual(builder.build(scan()), { written: 0, removed: 0, filesChanged: false });
    fs.writeFileSync(path.join(dir, 'tasks/back-2 - Other.md'), '---\nid: BACK-2\ntitle: Other\nstatus: To Do\nmilestone: M-1\n---\nBody.\n');
    builder.build(scan());
    assert.match(fs.readFileSync(path.join(out, 'milestones/m-1_-_v1-release.html'), 'utf8'), /back-2_-_Other\.html/);
    fs.rmSync(path.join(dir, 'docs/doc-1 - Guide.md'));
    assert.equal(builder.build(scan()).removed, 1);
    assert.deepEqual(fs.readdirSync(path.join(out, 'docs')), []);
    // A restarted server's builder drops the pages of docs that went away while it was down.
    fs.writeFileSync(path.join(out, 'decisions', 'gone.html'), 'stale');
    new SiteBuilder(out, { pruneUnknown: true }).build(scan());
    assert.deepEqual(fs.readdirSync(path.join(out, 'decisions')), ['decision-1_-_Use_SQLite.html']);
  }));
});
