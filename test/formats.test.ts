// Task folder formats and mapping rules (docs/task-format.md): one table per rule, through the real parser, scanner and CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEntry, parseTaskFile } from '../lib/tasks/taskfile.ts';
import type { Task } from '../lib/tasks/taskfile.ts';
import { TaskScanner } from '../lib/tasks/scan.ts';
import { detectFormat, projectName } from '../lib/tasks/format.ts';
import { STATUS_ORDER, countByStatus, dependencyProblems, ownerKey, priorityRank, readyCandidates, statusOrder, taskIndex, taskReasons } from '../lib/tasks/model.ts';
import getPort from 'get-port';
import { type Running, SCRIPT, TSX, cli, killAll, start, uniqueOwner, waitUntilAsync, withTree } from './helpers.ts';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'formats');

/** A task file from frontmatter lines and a body. */
const md = (frontmatter: string, body = ''): Buffer => Buffer.from(`---\n${frontmatter}\n---\n${body}`);

function parse(frontmatter: string, body = '', file = 'tasks/t.md', statuses: string[] = [], taskPrefix: string | null = null): Task {
  const r = parseTaskFile(md(frontmatter, body), file, { statuses, taskPrefix });
  assert.ok(r.ok, `expected a task, got ${JSON.stringify(r)}`);
  return r.task;
}

// ---- Statuses -------------------------------------------------------------------------------

const STATUSES: [written: string, status: string][] = [
  ['Draft', 'draft'], ['draft', 'draft'],
  ['To Do', 'todo'], ['todo', 'todo'], ['TODO', 'todo'], ['to-do', 'todo'], ['pending', 'todo'], ['Pending', 'todo'],
  ['open', 'todo'], ['Backlog', 'todo'], ['not started', 'todo'],
  ['ready', 'ready'], ['Ready', 'ready'],
  ['In Progress', 'in_progress'], ['in-progress', 'in_progress'], ['in_progress', 'in_progress'], ['inprogress', 'in_progress'],
  ['wip', 'in_progress'], ['doing', 'in_progress'], ['started', 'in_progress'], ['active', 'in_progress'],
  ['blocked', 'blocked'], ['Blocked', 'blocked'],
  ['review', 'review'], ['In Review', 'review'], ['inreview', 'review'], ['reviewing', 'review'], ['needs review', 'review'],
  ['Done', 'completed'], ['completed', 'completed'], ['complete', 'completed'], ['finished', 'completed'], ['closed', 'completed'], ['resolved', 'completed'],
  ["Won't Do", 'cancelled'], ['Won’t Do', 'cancelled'], ['wont-do', 'cancelled'], ["won't fix", 'cancelled'], ['wontfix', 'cancelled'],
  ['cancelled', 'cancelled'], ['canceled', 'cancelled'], ['abandoned', 'cancelled'], ['dropped', 'cancelled'], ['rejected', 'cancelled'], ['obsolete', 'cancelled'],
];

for (const [written, status] of STATUSES) {
  test(`status table: ${JSON.stringify(written)} → ${status}`, () => {
    const t = parse(`status: ${JSON.stringify(written)}`);
    assert.deepEqual([t.status, t.statusKnown, t.statusHint], [status, true, null]);
  });
}

const CUSTOM = ['To Do', 'In Progress', 'Review Pending', 'QA', 'Done'];

const CUSTOM_ROWS: [written: string, status: string, known: boolean][] = [
  ['Review Pending', 'review_pending', true], ['review-pending', 'review_pending', true], ['QA', 'qa', true],
  // Declared statuses that fold to a canonical one stay canonical.
  ['In Progress', 'in_progress', true], ['Done', 'completed', true],
  ['Blocked By Legal', 'blocked_by_legal', false],
];

for (const [written, status, known] of CUSTOM_ROWS) {
  test(`custom statuses from config: ${JSON.stringify(written)} → ${status}, known ${known}`, () => {
    const t = parse(`status: ${written}`, '', 'tasks/t.md', CUSTOM);
    assert.deepEqual([t.status, t.statusKnown], [status, known]);
  });
}

test('custom statuses come after the canonical ones, in config order, in statusOrder and the counts', () => {
  assert.deepEqual(statusOrder(CUSTOM), [...STATUS_ORDER, 'review_pending', 'qa']);
  assert.deepEqual(statusOrder(), [...STATUS_ORDER]);
  const tasks = ['qa', 'zzz', 'Review Pending', 'done', 'todo'].map((s, i) => parse(`id: T${i}\nstatus: ${s}`, '', 'tasks/t.md', CUSTOM));
  assert.deepEqual(Object.keys(countByStatus(tasks, CUSTOM)), ['total', 'todo', 'completed', 'review_pending', 'qa', 'zzz']);
});

const UNKNOWN: [written: string, custom: string[], hint: string][] = [
  ['readdy', [], 'did you mean ready?'],
  ['raedy', [], 'did you mean ready?'],
  ['Redy', [], 'did you mean ready?'],
  ['donee', [], 'did you mean done?'],
  ['In Progres', [], 'did you mean in_progress?'],
  ['cancled', [], 'did you mean canceled?'],
  ['Review Pendng', CUSTOM, 'did you mean Review Pending?'],
  ['zzz', [], 'known statuses are draft, todo, ready, in_progress, blocked, review, completed, cancelled'],
  ['someday maybe', CUSTOM, 'known statuses are draft, todo, ready, in_progress, blocked, review, completed, cancelled, review_pending, qa'],
];

for (const [written, custom, hint] of UNKNOWN) {
  test(`unknown status ${JSON.stringify(written)} is kept and escalated: ${hint}`, () => {
    const t = parse(`id: U\nstatus: ${written}`, '', 'tasks/t.md', custom);
    assert.equal(t.statusKnown, false);
    assert.equal(t.status, written.trim().toLowerCase().replace(/\s+/g, '_'));
    assert.equal(t.statusHint, hint);
    assert.deepEqual(taskReasons([t], new Map()).get('U'), [`unknown status '${written}': ${hint}`]);
  });
}

test('a draft folder makes a draft; a missing status is a draft; neither is escalated', () => {
  const inDrafts = parse('id: D\nstatus: ready', '', 'drafts/d.md');
  assert.deepEqual([inDrafts.status, inDrafts.fields['status']], ['draft', 'ready']);
  assert.equal(parse('id: N').status, 'draft');
  assert.equal(taskReasons([inDrafts], new Map()).size, 0);
});

// ---- Priorities -----------------------------------------------------------------------------

const PRIORITIES: [written: string | null, kept: string | null, rank: number][] = [
  ['p0', 'p0', 0], ['P0', 'p0', 0], ['critical', 'critical', 0], ['Critical', 'critical', 0], ['urgent', 'urgent', 0],
  ['p1', 'p1', 1], ['high', 'high', 1], ['HIGH', 'high', 1],
  ['p2', 'p2', 2], ['medium', 'medium', 2], ['Medium', 'medium', 2], ['normal', 'normal', 2],
  ['p3', 'p3', 3], ['low', 'low', 3], ['Low', 'low', 3],
  ['p4', 'p4', 4], ['P4', 'p4', 4], ['lowest', 'lowest', 4],
  ['someday', 'someday', 8], ['1', '1', 8], ['Whenever', 'Whenever', 8],
  [null, null, 9],
];

for (const [written, kept, rank] of PRIORITIES) {
  test(`priority ${JSON.stringify(written)} is kept as ${JSON.stringify(kept)} and ranks ${rank}`, () => {
    const t = parse(written === null ? 'id: P' : `id: P\npriority: ${written}`);
    assert.equal(t.priority, kept);
    assert.equal(priorityRank(t.priority), rank);
  });
}

test('priorities sort across scales: p0 = critical > p1 = high > p2 = medium > p3 = low > p4 > other text > none', () => {
  const written = ['low', 'p4', null, 'high', 'x', 'medium', 'p0', 'critical', 'p2', 'p1', 'p3'];
  const sorted = [...written].sort((a, b) => priorityRank(a) - priorityRank(b));
  assert.deepEqual(sorted, ['p0', 'critical', 'high', 'p1', 'medium', 'p2', 'low', 'p3', 'p4', 'x', null]);
});

test('ready tasks are dispatched best priority first, whatever the scale', () => {
  const tasks = [['A', 'low'], ['B', 'p1'], ['C', 'critical'], ['D', 'medium'], ['E', null]]
    .map(([id, p]) => parse(`id: ${id}\nstatus: ready${p ? `\npriority: ${p}` : ''}`));
  assert.deepEqual(readyCandidates(tasks, new Map(), () => '').map((t) => t.id), ['C', 'B', 'D', 'A', 'E']);
});

// ---- Owners ---------------------------------------------------------------------------------

const OWNERS: [frontmatter: string, owners: string[]][] = [
  ['assignee: []', []],
  ['assignee: [@alice, bob]', ['alice', 'bob']],
  ['assignee: @alice', ['alice']],
  ["assignee: '@alice'", ['alice']],
  ['assignee:\n  - "@alice"\n  - Bob', ['alice', 'Bob']],
  ['assignee: alice, @bob', ['alice', 'bob']],
  ['assignees: [carol]', ['carol']],
  ['owner: dave', ['dave']],
  ['owner: [dave, erin]', ['dave', 'erin']],
  ['owners: [dave, erin]', ['dave', 'erin']],
  ['owner: dave\nassignee: [alice]', ['dave']],
  ['owner:\nassignee: [alice]', ['alice']],
  ['owner: []\nassignee: "@alice"', ['alice']],
  ['', []],
];

for (const [frontmatter, owners] of OWNERS) {
  test(`owners from ${JSON.stringify(frontmatter)}: ${JSON.stringify(owners)}`, () => {
    const t = parse(`id: O\n${frontmatter}`);
    assert.deepEqual(t.owners, owners);
    assert.equal(t.owner, owners[0] ?? null);
  });
}

test('owners fold for filters with ownerKey: @ stripped, case-folded', () => {
  assert.deepEqual(['@Alice', 'alice', ' ALICE '].map(ownerKey), ['alice', 'alice', 'alice']);
});

test('a bare @ or ` at a value start is tolerated anywhere; other YAML errors are still errors', () => {
  const t = parse('id: R\nreporter: @frank\nnote: `code` here');
  assert.deepEqual([t.fields['reporter'], t.fields['note']], ['@frank', '`code` here']);
  const bad = parseTaskFile(md('id: R\ntitle: Fix: the port\nassignee: @a'), 'r.md');
  assert.ok(!bad.ok && bad.reason.startsWith('invalid YAML in frontmatter at line 3'), JSON.stringify(bad));
});

// ---- Field aliases --------------------------------------------------------------------------

type Key = keyof Task;
const ALIASES: [frontmatter: string, key: Key, value: unknown][] = [
  ['labels: [a, b]', 'labels', ['a', 'b']],
  ['tags: [infra, setup]', 'labels', ['infra', 'setup']],
  ['labels: "x, y"', 'labels', ['x', 'y']],
  ['labels: []\ntags: [t]', 'labels', ['t']],
  ['labels: [l]\ntags: [t]', 'labels', ['l']],
  ["created_date: '2025-06-08 12:34'", 'created', '2025-06-08 12:34'],
  ['created: 2025-01-01', 'created', '2025-01-01'],
  ['date: 2025-01-02', 'created', '2025-01-02'],
  ["created_date: '2025-06-08'\ncreated: 2024-01-01", 'created', '2025-06-08'],
  ["updated_date: '2025-06-10 17:45'", 'updated', '2025-06-10 17:45'],
  ['updated: 2025-02-02', 'updated', '2025-02-02'],
  ['due: 2025-07-01', 'due', '2025-07-01'],
  ['due_date: 2025-07-02', 'due', '2025-07-02'],
  ['parent_task_id: task-24', 'parent', 'task-24'],
  ['parent: BACK-24', 'parent', 'BACK-24'],
  ['dependencies: [task-24.1]', 'dependsOn', ['task-24.1']],
  ['depends_on: A, B', 'dependsOn', ['A', 'B']],
  ['depends_on: []\ndependencies: [X]', 'dependsOn', []],
  ['effort: small', 'effort', 'small'],
  ['estimate: 3', 'effort', '3'],
  ['milestone: [m-1, m-2]', 'milestone', 'm-1'],
  ['completed_by: [dave, erin]', 'completedBy', 'dave, erin'],
  ['id: X', 'archived', false],
  ['id: X', 'statusHint', null],
];

for (const [frontmatter, key, value] of ALIASES) {
  test(`field aliases: ${JSON.stringify(frontmatter)} → ${key} ${JSON.stringify(value)}`, () => {
    assert.deepEqual(parse(frontmatter)[key], value);
  });
}

const STILL_SCALAR: [frontmatter: string, reason: string][] = [
  ['title: [a, b]', '`title` must be a single value, got a list'],
  ['id: [a]', '`id` must be a single value, got a list'],
  ['status: [Done]', '`status` must be a single value, got a list'],
  ['priority: {level: 1}', '`priority` must be a single value, got a mapping'],
  ['pr: [1, 2]', '`pr` must be a single value, got a list'],
];

for (const [frontmatter, reason] of STILL_SCALAR) {
  test(`single-value field: ${JSON.stringify(frontmatter)} is a parse error`, () => {
    const r = parseTaskFile(md(frontmatter), 'x.md');
    assert.deepEqual(r, { ok: false, path: 'x.md', reason });
  });
}

test('fields keeps every frontmatter key as written', () => {
  const t = parse("id: BACK-1\nassignee: [@a]\nordinal: 1000\nreporter: '@m'");
  assert.deepEqual(t.fields, { id: 'BACK-1', assignee: ['@a'], ordinal: '1000', reporter: '@m' });
});

// ---- Body: acceptance criteria, section markers ---------------------------------------------

const ACCEPTANCE: [name: string, body: string, acceptance: { done: number; total: number }, progress: { done: number; total: number }][] = [
  ['## heading with #n items', '## Acceptance Criteria\n- [ ] #1 a\n- [x] #2 b\n\n## Notes\n- [x] c\n', { done: 1, total: 2 }, { done: 2, total: 3 }],
  ['### heading, any case, colon', '### acceptance criteria:\n- [x] a\n#### Detail\n- [ ] b\n### Other\n- [ ] c\n', { done: 1, total: 2 }, { done: 1, total: 3 }],
  ['inside AC markers', '## Acceptance Criteria\n<!-- AC:BEGIN -->\n- [x] #1 a\n<!-- AC:END -->\n', { done: 1, total: 1 }, { done: 1, total: 1 }],
  ['none', '## Plan\n- [x] a\n', { done: 0, total: 0 }, { done: 1, total: 1 }],
  ['in a code fence', '## Acceptance Criteria\n```\n- [ ] no\n```\n', { done: 0, total: 0 }, { done: 0, total: 0 }],
];

for (const [name, body, acceptance, progress] of ACCEPTANCE) {
  test(`acceptance criteria: ${name}`, () => {
    const t = parse('id: A', body);
    assert.deepEqual([t.acceptance, t.progress], [acceptance, progress]);
  });
}

test('Backlog.md section markers are dropped from the body and the sections', () => {
  const t = parse('id: S', '## Description\n\n<!-- SECTION:DESCRIPTION:BEGIN -->\nText.\n<!-- SECTION:DESCRIPTION:END -->\n\n<!-- a comment -->\n');
  assert.equal(t.body, '## Description\n\nText.\n\n<!-- a comment -->\n');
  assert.deepEqual(t.sections, [{ title: 'Description', level: 2, text: 'Text.\n\n<!-- a comment -->' }]);
});

// ---- Ids and dependencies -------------------------------------------------------------------

const IDS: [ref: string, id: string | undefined, path?: string][] = [
  ['BACK-24.1', 'BACK-24.1'],
  ['task-24.1', 'BACK-24.1'],
  ['back-24.1', 'BACK-24.1'],
  ['24.1', 'BACK-24.1'],
  ['TASK-24', 'BACK-24'],
  ['001', '001'],
  ['1', '001'],
  ['task-1', '001'],
  // The exact id wins over a folded match, and a case-insensitive one before a folded one.
  ['task-7', 'task-7'],
  ['BACK-7', 'BACK-7'],
  ['back-7', 'BACK-7'],
  ['7', 'task-7'],
  // An active task wins over an archived one with the same id.
  ['BACK-16', 'BACK-16', 'completed/back-16.md'],
  ['task-16', 'BACK-16', 'completed/back-16.md'],
  ['ARCH-ONLY', 'ARCH-ONLY', 'archive/arch.md'],
  ['ops-fix', 'OPS-FIX'],
  ['task-99', undefined],
  ['24', 'BACK-24'],
  ['24.2', undefined],
  // A draft loses to a task that is not one: `2` names tasks/task-2, not drafts/draft-2 (first in path order).
  ['2', 'task-2', 'tasks/task-2.md'],
  ['draft-2', 'draft-2'],
];

const INDEXED = [
  ['archive/tasks/back-16.md', 'BACK-16'], ['archive/arch.md', 'ARCH-ONLY'], ['completed/back-16.md', 'BACK-16'],
  ['tasks/a.md', 'BACK-24.1'], ['tasks/b.md', 'BACK-24'], ['tasks/c.md', '001'], ['tasks/d.md', 'task-7'], ['tasks/e.md', 'BACK-7'],
  ['tasks/f.md', 'OPS-FIX'], ['drafts/draft-2.md', 'draft-2', 'Draft'], ['tasks/task-2.md', 'task-2', 'To Do'],
].map(([file, id, status]) => parse(`id: "${id}"${status ? `\nstatus: ${status}` : ''}`, '', file, [], 'back')); // a Backlog.md folder whose task_prefix is back

for (const [ref, id, file] of IDS) {
  test(`id resolution: ${ref} → ${id ?? 'nothing'}`, () => {
    const t = taskIndex(INDEXED).resolve(ref);
    assert.equal(t?.id, id);
    if (file !== undefined) assert.equal(t?.path, file);
  });
}

test('dependencies resolve through the index: no missing dependency, readiness follows the resolved task', () => {
  const tasks = [
    parse('id: BACK-24.1\nstatus: Done', '', 'tasks/one.md', [], 'back'),
    parse('id: BACK-24.2\nstatus: ready\ndependencies: [task-24.1]', '', 'tasks/two.md', [], 'back'),
    parse('id: "002"\nstatus: ready\ndependencies: ["1"]', '', 'tasks/three.md'),
    parse('id: "001"\nstatus: pending', '', 'tasks/four.md'),
    parse('id: MISS\nstatus: ready\ndependencies: [task-404]', '', 'tasks/five.md'),
  ];
  const problems = dependencyProblems(tasks);
  assert.deepEqual([...problems], [['MISS', 'missing dependency task-404']]);
  assert.deepEqual(readyCandidates(tasks, problems, () => '').map((t) => t.id), ['BACK-24.2']);
});

test('a cycle written in other spellings is still a cycle', () => {
  const tasks = [parse('id: BACK-1\nstatus: ready\ndependencies: [task-2]', '', 'a.md', [], 'back'), parse('id: BACK-2\nstatus: ready\ndependencies: [1]', '', 'b.md', [], 'back')];
  assert.deepEqual([...dependencyProblems(tasks)], [['BACK-1', 'dependency cycle BACK-1 -> BACK-2 -> BACK-1'], ['BACK-2', 'dependency cycle BACK-1 -> BACK-2 -> BACK-1']]);
});

// ---- Files that are not tasks ---------------------------------------------------------------

const ENTRIES: [file: string, content: string, kind: 'task' | 'error' | 'skip' | 'doc' | 'decision' | 'milestone', archived?: boolean][] = [
  ['readme.md', '# Readme\n', 'skip'],
  ['README.md', 'Some text\n', 'skip'],
  ['ReadMe.md', '', 'skip'],
  ['index.md', '   \n', 'skip'],
  ['INDEX.md', 'x', 'skip'],
  ['tasks/readme.md', 'no frontmatter', 'skip'],
  ['readme.md', '---\nid: R\n---\n', 'task'],
  ['readme.md', '---\nid: [x\n---\n', 'error'],
  ['notes.md', 'no frontmatter', 'error'],
  ['readme.txt.md', 'no frontmatter', 'error'],
  ['docs/doc-1.md', '---\nid: doc-1\ntitle: Architecture\ntype: guide\n---\nText\n', 'doc'],
  ['docs/deep/doc-2.md', '# Title only\n', 'doc'],
  ['docs/broken.md', '---\nid: [x\n---\nBody\n', 'doc'],
  ['docs/readme.md', 'The docs.\n', 'skip'],
  ['decisions/decision-1.md', '---\nid: decision-1\nstatus: accepted\n---\n', 'decision'],
  ['milestones/m-1.md', '---\nid: m-1\ntitle: MVP\n---\n', 'milestone'],
  ['Milestones/m-2.md', '---\nid: m-2\n---\n', 'milestone'],
  ['archive/milestones/m-0.md', '---\nid: m-0\n---\n', 'milestone', true],
  ['archive/docs/d.md', '---\nid: d\n---\n', 'doc', true],
  ['area/decisions/x.md', '---\nid: x\n---\n', 'decision'],
  ['tasks/m-3.md', '---\nid: m-3\ntype: milestone\n---\n', 'milestone'],
  ['tasks/d-1.md', '---\nid: d-1\nkind: Decision\n---\n', 'decision'],
  ['tasks/bug.md', '---\nid: b\ntype: bug\n---\n', 'task'],
  ['archive/tasks/t.md', '---\nid: t\n---\n', 'task', true],
  ['archived/t.md', '---\nid: t\n---\n', 'task', true],
  ['docs/bin.md', '\u0000', 'error'],
];

for (const [file, content, kind, archived = false] of ENTRIES) {
  test(`file kind: ${file} ${JSON.stringify(content.slice(0, 20))} → ${kind}${archived ? ', archived' : ''}`, () => {
    const e = parseEntry(Buffer.from(content), file);
    const got = e.kind === 'skip' ? 'skip' : e.kind === 'doc' ? e.doc.kind : e.result.ok ? 'task' : 'error';
    assert.equal(got, kind, JSON.stringify(e));
    if (e.kind === 'doc') assert.equal(e.doc.archived, archived);
    if (e.kind === 'task' && e.result.ok) assert.equal(e.result.task.archived, archived);
  });
}

test('a doc has an id, title, slug, path, body and fields', () => {
  const e = parseEntry(Buffer.from('# Contributing\n\nHow.\n'), 'docs/guides/doc-2 - Contributing.md');
  assert.equal(e.kind, 'doc');
  if (e.kind !== 'doc') return;
  assert.deepEqual(e.doc, { kind: 'doc', id: 'doc-2 - Contributing', title: 'Contributing', slug: 'doc-2 - Contributing', path: 'docs/guides/doc-2 - Contributing.md', archived: false, body: '# Contributing\n\nHow.\n', fields: {} });
});

// ---- Archived tasks -------------------------------------------------------------------------

test('archived tasks: kept with archived true, not duplicates of active ids, never counted, dispatched or escalated (status, dependencies, CI)', () => {
  withTree({
    'config.yml': 'task_prefix: back\n',
    'completed/back-16.md': '---\nid: BACK-16\nstatus: Done\n---\n',
    'archive/tasks/back-16.md': '---\nid: BACK-16\nstatus: Done\n---\n',
    'archive/completed/back-16.md': '---\nid: BACK-16\nstatus: Done\n---\n',
    'archive/tasks/back-18.md': '---\nid: BACK-18\nstatus: ready\npriority: high\n---\n',
    'archive/tasks/back-19.md': '---\nid: BACK-19\nstatus: readdy\ndependencies: [nowhere]\n---\n',
    'archive/tasks/ci.md': '---\nid: CI-OLD\nstatus: review\nci: failing\npr: 5\n---\n',
    'tasks/back-20.md': '---\nid: BACK-20\nstatus: ready\ndependencies: [task-19]\n---\n',
    'tasks/dup-a.md': '---\nid: DUP\n---\n',
    'tasks/dup-b.md': '---\nid: DUP\n---\n',
  }, (root) => {
    const r = new TaskScanner(root).scan();
    assert.deepEqual(r.errors, [{ path: 'tasks/dup-b.md', reason: 'duplicate id DUP (also in tasks/dup-a.md)' }]);
    assert.deepEqual(r.tasks.map((t) => [t.path, t.archived]), [
      ['archive/completed/back-16.md', true], ['archive/tasks/back-16.md', true], ['archive/tasks/back-18.md', true],
      ['archive/tasks/back-19.md', true], ['archive/tasks/ci.md', true], ['completed/back-16.md', false], ['tasks/back-20.md', false], ['tasks/dup-a.md', false],
    ]);
    assert.deepEqual(countByStatus(r.tasks), { total: 3, draft: 1, ready: 1, completed: 1 });
    const problems = dependencyProblems(r.tasks);
    assert.deepEqual([...problems], []);
    assert.deepEqual(readyCandidates(r.tasks, problems, () => '').map((t) => t.id), []);
    assert.deepEqual([...taskReasons(r.tasks, problems).keys()], []);
    assert.equal(taskIndex(r.tasks).resolve('task-16')?.path, 'completed/back-16.md');
  });
});

// ---- Folder formats and the project name ----------------------------------------------------

const FOLDERS: { name: string; files: Record<string, string>; dir?: string; kind: string; root: string; project: string; custom?: string[] }[] = [
  { name: 'Backlog.md root with config.yml', files: { 'repo/backlog/config.yml': 'project_name: "My Project"\nstatuses: ["To Do", "In Progress", "QA", "Done"]\n', 'repo/package.json': '{"name":"pkg"}' },
    dir: 'repo/backlog', kind: 'backlog', root: '', project: 'My Project', custom: ['qa'] },
  { name: 'Backlog.md config with a bare @ (YAML it cannot read)', files: { 'repo/backlog/config.yml': 'project_name: Bare\nstatuses: [To Do, Done]\ndefault_assignee: @me\nbad: [x\n' },
    dir: 'repo/backlog', kind: 'backlog', root: '', project: 'Bare' },
  { name: 'Backlog.md by its folders alone', files: { 'repo/backlog/tasks/.keep': '', 'repo/backlog/drafts/.keep': '', 'repo/package.json': '{"name":"@scope/widgets"}' },
    dir: 'repo/backlog', kind: 'backlog', root: '', project: 'Widgets' },
  { name: 'Backlog.md tasks/ subfolder: the parent config counts', files: { 'repo/backlog/config.yml': 'project_name: Parent Named\nstatuses: [Todo, Later]\n', 'repo/backlog/tasks/.keep': '' },
    dir: 'repo/backlog/tasks', kind: 'backlog', root: '', project: 'Parent Named', custom: ['later'] },
  { name: 'a config.yml without Backlog.md keys is not Backlog.md', files: { 'repo/tasks/config.yml': 'port: 80\n', 'repo/package.json': '{"name":"plain"}' },
    dir: 'repo/tasks', kind: 'tasks', root: '', project: 'Plain' },
  { name: 'taskmd with dir: a subfolder', files: { 'proj/.taskmd.yaml': 'dir: ./tasks\nname: Taskmd Named\n', 'proj/tasks/.keep': '' },
    dir: 'proj', kind: 'taskmd', root: 'tasks', project: 'Taskmd Named' },
  { name: 'taskmd: project key, nested dir:', files: { 'proj/.taskmd.yml': 'dir: work/tasks\nproject: P2\n' }, dir: 'proj', kind: 'taskmd', root: 'work/tasks', project: 'P2' },
  { name: 'taskmd: dir: leaving the folder is ignored', files: { 'proj/.taskmd.yaml': 'dir: ../elsewhere\n', 'proj/package.json': '{"name":"inside"}' },
    dir: 'proj', kind: 'taskmd', root: '', project: 'Inside' },
  { name: 'taskmd config in the parent of the tasks folder', files: { 'proj/.taskmd.yaml': 'dir: tasks\n', 'proj/package.json': '{"name":"tm"}', 'proj/tasks/.keep': '' },
    dir: 'proj/tasks', kind: 'taskmd', root: '', project: 'Tm' },
  { name: 'ours: package.json beside the tasks folder', files: { 'acme/package.json': '{"name":"acme-app"}', 'acme/tasks/.keep': '' },
    dir: 'acme/tasks', kind: 'tasks', root: '', project: 'Acme-app' },
  { name: 'ours: the folder name when nothing else names it', files: { 'widget-shop/tasks/.keep': '', 'widget-shop/package.json': '{ broken' },
    dir: 'widget-shop/tasks', kind: 'tasks', root: '', project: 'Widget-shop' },
];

for (const row of FOLDERS) {
  test(`folder format: ${row.name}`, () => {
    withTree(row.files, (root) => {
      const dir = path.join(root, row.dir ?? '');
      const f = detectFormat(dir);
      assert.deepEqual([f.kind, f.root, f.customStatuses], [row.kind, row.root, row.custom ?? []]);
      assert.equal(projectName(dir), row.project);
    });
  });
}

test('taskmd: tasks come from dir: only, paths stay relative to the folder given, .worklogs/ is skipped', () => {
  withTree({
    '.taskmd.yaml': 'dir: tasks\n',
    'tasks/001-a.md': '---\nid: "001"\nstatus: pending\n---\n',
    'tasks/.worklogs/001.md': '---\nid: [bad\n---\n',
    'notes/x.md': 'not a task and not read',
  }, (root) => {
    const scanner = new TaskScanner(root);
    const r = scanner.scan();
    assert.deepEqual(r.tasks.map((t) => [t.path, t.status]), [['tasks/001-a.md', 'todo']]);
    assert.deepEqual(r.errors, []);
    fs.writeFileSync(path.join(root, 'tasks/002-b.md'), '---\nid: "002"\n---\n');
    assert.deepEqual(scanner.rescan(['tasks/002-b.md']).tasks.map((t) => t.id), ['001', '002']);
    assert.deepEqual(scanner.rescan(['notes/x.md']).tasks.map((t) => t.id), ['001', '002'], 'a path outside dir: walks, and finds nothing new');
  });
});

test('a changed config is read again at the next full scan: custom statuses and the tasks root', () => {
  withTree({ 'config.yml': 'project_name: P\nstatuses: [To Do, Done]\n', 'tasks/a.md': '---\nid: A\nstatus: QA\n---\n' }, (root) => {
    const scanner = new TaskScanner(root);
    assert.equal(scanner.scan().tasks[0]?.statusKnown, false);
    fs.writeFileSync(path.join(root, 'config.yml'), 'project_name: P\nstatuses: [To Do, QA, Done]\n');
    const later = new Date(Date.now() + 5_000);
    fs.utimesSync(path.join(root, 'config.yml'), later, later);
    const r = scanner.scan();
    assert.deepEqual([r.tasks[0]?.status, r.tasks[0]?.statusKnown, r.changed, r.format.customStatuses], ['qa', true, true, ['qa']]);
  });
});

// ---- The fixtures, through the scanner ------------------------------------------------------

test('Backlog.md fixture: no errors, docs apart, every dependency and parent resolves, counts and escalations', () => {
  const dir = path.join(FIXTURES, 'backlog');
  const r = new TaskScanner(dir).scan();
  assert.deepEqual(r.errors, []);
  assert.equal(r.format.kind, 'backlog');
  assert.equal(projectName(dir), 'Fixture Backlog');
  assert.deepEqual(r.docs.map((d) => [d.kind, d.id, d.archived]), [
    ['milestone', 'm-0', true], ['decision', 'decision-1', false], ['decision', 'decision-2', false], ['doc', 'doc-1', false],
    ['doc', 'doc-2 - Contributing', false], ['milestone', 'm-1', false], ['milestone', 'm-2', false],
  ]);
  assert.ok(r.tasks.every((t) => !/^(docs|decisions|milestones)\//.test(t.path) && !/readme|index/i.test(t.path)));
  assert.deepEqual(r.tasks.filter((t) => t.archived).map((t) => t.id), ['BACK-16', 'BACK-18', 'BACK-19']);
  const index = taskIndex(r.tasks);
  const refs = r.tasks.flatMap((t) => [...t.dependsOn, ...(t.parent ? [t.parent] : [])]);
  assert.ok(refs.length >= 10);
  assert.deepEqual(refs.filter((ref) => index.resolve(ref) === undefined), []);
  assert.equal(index.resolve('task-24.1')?.id, 'BACK-24.1');
  assert.equal(index.resolve(r.tasks.find((t) => t.id === 'BACK-24.2')?.parent ?? '')?.id, 'BACK-24');
  assert.deepEqual(countByStatus(r.tasks, r.format.customStatuses), {
    total: 22, draft: 3, todo: 4, ready: 3, in_progress: 3, completed: 5, cancelled: 1, review_pending: 1, readdy: 1, zzz: 1,
  });
  const problems = dependencyProblems(r.tasks);
  assert.deepEqual([...problems], []);
  assert.deepEqual(readyCandidates(r.tasks, problems, (t) => t.created ?? '').map((t) => t.id), ['BACK-8', 'BACK-24.2']);
  const byId = new Map(r.tasks.filter((t) => !t.archived).map((t) => [t.id, t]));
  const pick = (id: string): Partial<Task> | undefined => {
    const t = byId.get(id);
    return t && { owners: t.owners, labels: t.labels, priority: t.priority, status: t.status, acceptance: t.acceptance, created: t.created };
  };
  assert.deepEqual(pick('BACK-1'), { owners: [], labels: [], priority: 'high', status: 'todo', acceptance: { done: 1, total: 3 }, created: '2025-06-08 12:34' });
  assert.deepEqual(pick('BACK-2'), { owners: ['alice', 'bob'], labels: ['api', 'backend'], priority: 'medium', status: 'in_progress', acceptance: { done: 2, total: 2 }, created: '2025-06-09 09:00' });
  assert.deepEqual(pick('BACK-3')?.owners, ['carol']);
  assert.deepEqual(pick('BACK-4')?.status, 'cancelled');
  assert.deepEqual(byId.get('BACK-12')?.due, '2025-07-01');
  assert.ok(!byId.get('BACK-1')?.body.includes('SECTION:'), 'section markers dropped');
  assert.deepEqual([...taskReasons(r.tasks, problems)], [
    ['BACK-15', ["unknown status 'zzz': known statuses are draft, todo, ready, in_progress, blocked, review, completed, cancelled, review_pending"]],
    ['BACK-6', ["unknown status 'readdy': did you mean ready?"]],
  ]);
});

test('taskmd fixture: dir: subfolder, pending and critical, tags, effort, created, leading-zero ids', () => {
  const dir = path.join(FIXTURES, 'taskmd');
  const r = new TaskScanner(dir).scan();
  assert.deepEqual(r.errors, []);
  assert.equal(projectName(dir), 'Fixture Taskmd');
  assert.deepEqual(r.tasks.map((t) => [t.id, t.status, t.priority, priorityRank(t.priority)]), [
    ['001', 'todo', 'critical', 0], ['002', 'in_progress', 'high', 1], ['003', 'completed', 'medium', 2],
    ['004', 'blocked', 'low', 3], ['005', 'cancelled', 'low', 3], ['006', 'todo', 'medium', 2],
  ]);
  const first = r.tasks[0] as Task;
  assert.deepEqual([first.labels, first.effort, first.created, first.owners], [['infra', 'setup'], 'small', '2025-01-01', ['alice']]);
  assert.deepEqual([...dependencyProblems(r.tasks)], []);
  assert.equal(taskIndex(r.tasks).resolve('1')?.path, 'tasks/001-set-up-repo.md');
});

test('our own format fixture: package.json names the project, p0–p4, a typo and a missing dependency escalated', () => {
  const dir = path.join(FIXTURES, 'ours', 'tasks');
  const r = new TaskScanner(dir).scan();
  assert.deepEqual(r.errors, []);
  assert.equal(r.format.kind, 'tasks');
  assert.equal(projectName(dir), 'Ours-fixture');
  const problems = dependencyProblems(r.tasks);
  assert.deepEqual(readyCandidates(r.tasks, problems, (t) => t.created ?? '').map((t) => t.id), ['OURS-URGENT', 'OURS-READY']);
  assert.deepEqual([...taskReasons(r.tasks, problems)], [
    ['OURS-BLOCKED', ['status blocked', 'missing dependency OURS-NOWHERE']],
    ['OURS-TYPO', ["unknown status 'redy': did you mean ready?"]],
  ]);
});

// ---- The real CLI ---------------------------------------------------------------------------

interface Snap {
  taskCount: number;
  counts: Record<string, number>;
  dispatchable: { id: string }[];
  escalations: { id: string; reason: string }[];
  errors: { path: string; reason: string }[];
}

/** `heartbeat --once --json` over a copy of a fixture folder (runtime files go under <dir>/logs). */
async function onceOver(fixture: string, sub = ''): Promise<Snap> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-formats-cli-'));
  try {
    fs.cpSync(path.join(FIXTURES, fixture), path.join(root, fixture), { recursive: true });
    const dir = path.join(root, fixture, sub);
    const r = await cli(['heartbeat', '--once', '--json', `owner=${uniqueOwner('fmt')}`, `dir=${dir}`], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.readdirSync(path.join(dir, 'logs', 'task_manager')).length > 0, 'runtime files under <dir>/logs');
    return JSON.parse(r.stdout) as Snap;
  } finally {
    await killAll(root);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

test('CLI: heartbeat --once over the Backlog.md fixture: counts, escalations, no errors, dependencies resolved', async () => {
  const snap = await onceOver('backlog');
  assert.deepEqual(snap.errors, []);
  assert.equal(snap.taskCount, 22);
  assert.deepEqual(snap.counts, { total: 22, draft: 3, todo: 4, ready: 3, in_progress: 3, completed: 5, cancelled: 1, review_pending: 1, readdy: 1, zzz: 1 });
  assert.deepEqual(snap.dispatchable.map((t) => t.id), ['BACK-8', 'BACK-24.2']);
  assert.deepEqual(snap.escalations.map((e) => [e.id, e.reason]), [
    ['BACK-15', "unknown status 'zzz': known statuses are draft, todo, ready, in_progress, blocked, review, completed, cancelled, review_pending"],
    ['BACK-6', "unknown status 'readdy': did you mean ready?"],
  ]);
  assert.ok(!snap.escalations.some((e) => e.reason.includes('missing dependency')));
});

test('CLI: heartbeat --once over the taskmd and our own fixtures', async () => {
  const taskmd = await onceOver('taskmd');
  assert.deepEqual([taskmd.errors, taskmd.counts], [[], { total: 6, todo: 2, in_progress: 1, blocked: 1, completed: 1, cancelled: 1 }]);
  assert.deepEqual(taskmd.escalations.map((e) => [e.id, e.reason]), [['004', 'status blocked']]);
  const ours = await onceOver('ours', 'tasks');
  assert.deepEqual(ours.errors, []);
  assert.deepEqual(ours.dispatchable.map((t) => t.id), ['OURS-URGENT', 'OURS-READY']);
  assert.deepEqual(ours.escalations.map((e) => [e.id, e.reason]), [
    ['OURS-BLOCKED', 'status blocked; missing dependency OURS-NOWHERE'],
    ['OURS-TYPO', "unknown status 'redy': did you mean ready?"],
  ]);
});

test('CLI: build and serve show the Backlog.md folder as itself: its project name, docs, decisions and milestones, custom statuses in config order', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-formats-site-'));
  const owner = uniqueOwner('fmts');
  let server: Running | undefined;
  try {
    fs.cpSync(path.join(FIXTURES, 'backlog'), path.join(root, 'backlog'), { recursive: true });
    const dir = path.join(root, 'backlog');
    const checkIndex = (html: string, where: string): void => {
      assert.match(html, /<title>Fixture Backlog Tasks<\/title>/, `${where}: the title from config.yml`);
      for (const kind of ['milestones', 'decisions', 'docs']) assert.match(html, new RegExp(`<section id="${kind}"><h2>[^<]+ \\([1-9]`), `${where}: a ${kind} section with entries`);
      // The board's columns are the config's own statuses, in its order and its words (custom ones among them).
      assert.match(html, /data-statuses="todo in_progress review_pending completed"/, `${where}: the config's statuses in config order`);
      assert.match(html, /data-words="\{&quot;todo&quot;:&quot;To Do&quot;,&quot;in_progress&quot;:&quot;In Progress&quot;,&quot;review_pending&quot;:&quot;Review Pending&quot;,&quot;completed&quot;:&quot;Done&quot;\}"/, `${where}: the config's words`);
    };
    const out = path.join(root, 'site');
    const built = await cli(['build', `owner=${owner}`, `dir=${dir}`, `out=${out}`], { timeoutMs: 60_000 });
    assert.equal(built.code, 0, built.stderr);
    checkIndex(fs.readFileSync(path.join(out, 'index.html'), 'utf8'), 'build');
    assert.match(fs.readFileSync(path.join(out, 'decisions', 'decision-1_-_Use-YAML-frontmatter.html'), 'utf8'), /<h1>/);

    const port = await getPort({ host: '127.0.0.1' });
    server = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', '--no-heartbeat', `owner=${owner}`, `dir=${dir}`, `port=${port}`]);
    await server.waitFor(/serving tasks/, 60_000);
    const base = `http://127.0.0.1:${port}/`;
    const index = await waitUntilAsync(async () => { const r = await fetch(base); const t = await r.text(); return r.status === 200 && /id="milestones"><h2>/.test(t) ? t : undefined; }, 'the built index');
    checkIndex(index, 'serve');
    const doc = await fetch(`${base}docs/doc-1_-_Architecture.html`);
    assert.equal(doc.status, 200);
    assert.match(await doc.text(), /data-doc-id=/);
  } finally {
    if (server?.child.pid) process.kill(-server.child.pid, 'SIGTERM');
    await server?.exited;
    await killAll(root);
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('taskmd: a dir: that is a link out of the folder is not followed; the folder itself is scanned', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-formats-link-'));
  try {
    const project = path.join(root, 'project');
    const outside = path.join(root, 'private');
    fs.mkdirSync(project);
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'SECRET.md'), '---\nid: SECRET\nstatus: todo\n---\nnot for the dashboard\n');
    fs.writeFileSync(path.join(project, 'OWN.md'), '---\nid: OWN\nstatus: pending\n---\n');
    fs.symlinkSync(outside, path.join(project, 'notes'));
    fs.writeFileSync(path.join(project, '.taskmd.yaml'), 'dir: notes\n');
    assert.equal(detectFormat(project).root, '', 'the link is not the tasks root');
    const ids = new TaskScanner(project).scan().tasks.map((t) => t.id);
    assert.deepEqual(ids, ['OWN']);
    // A real folder named by dir: is the root.
    fs.mkdirSync(path.join(project, 'tasks'));
    fs.writeFileSync(path.join(project, '.taskmd.yaml'), 'dir: tasks\n');
    assert.equal(detectFormat(project).root, 'tasks');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
