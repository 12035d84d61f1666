// The edit verbs change only the bytes they name, in each format's words: whole files compared with the original, edited by hand.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { cli } from './helpers.ts';

const BOM = '\ufeff';
const LONG = 'a description that runs well past eighty characters so that a re-stringified document would fold it';

/** A Backlog.md folder: config.yml, one task with a BOM, CRLF, comments, unknown keys, padded flow lists and its section markers. */
const BACKLOG_TASK = BOM + [
  '---',
  'id: TASK-7',
  "title: 'Hard: quoted'",
  'status: To Do # Backlog.md word',
  'assignee: [@alice]',
  'labels: [ api,   "x y" ]',
  `summary: ${LONG}`,
  'x-unknown: {nested: [1, 2]}  # kept',
  '---',
  '',
  '## Implementation Plan',
  '',
  '<!-- SECTION:PLAN:BEGIN -->',
  '- [ ] #1 First step',
  '- [ ] #2 Second step',
  '<!-- SECTION:PLAN:END -->',
  '',
  '## Implementation Notes',
  '',
  '<!-- SECTION:NOTES:BEGIN -->',
  'Started.',
  '<!-- SECTION:NOTES:END -->',
  '',
].join('\r\n');

const TASKMD_TASK = [
  '---',
  'id: "012"',
  'title: Write the parser   # the title',
  'status: pending',
  'tags:',
  '  - core',
  '  - "parser"',
  `description: "${LONG}"`,
  'created: 2025-01-02',
  '---',
  '',
  '# Write the parser',
  '',
  '## Subtasks',
  '',
  '- [ ] tokens',
  '- [ ] grammar',
  '',
].join('\n');

const OURS_TASK = [
  '---',
  '# a comment above the id',
  'id: OURS-LONG',
  `title: ${LONG}`,
  "status: 'ready'",
  'priority: p1',
  'depends_on: [ours-a, ours-b]',
  'custom:',
  '  nested: true',
  '---',
  '## Plan',
  '',
  '- [ ] Do it',
  '- [x] Done already',
].join('\n');

function folder(files: Record<string, string>): { dir: string; remove: () => void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-edit-rt-'));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  return { dir: root, remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}

async function ok(args: string[]): Promise<string> {
  const r = await cli(args);
  assert.equal(r.code, 0, `${args.join(' ')}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** The dated line a note wrote (its time is the child's clock): `- 2026-12-07 10:03 <text>`. */
function noteIn(text: string, note: string): string {
  const m = new RegExp(`- \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d ${note}`).exec(text);
  assert.ok(m, `no note line "${note}" in:\n${text}`);
  return m[0];
}

test('Backlog.md: status in its own word, padded flow list, PLAN checkbox and NOTES marker; BOM, CRLF, comments and the long line kept', async () => {
  const f = folder({ 'config.yml': 'project_name: X\nstatuses: ["To Do", "In Progress", "Done"]\n', 'tasks/task-7 - Hard.md': BACKLOG_TASK });
  const file = path.join(f.dir, 'tasks', 'task-7 - Hard.md');
  try {
    const line = await ok(['set', `dir=${f.dir}`, 'id=task-7', 'status=in_progress', 'field.labels=a,b']);
    assert.match(line, /^set TASK-7 status: To Do → In Progress, labels: api, x y → a, b \(.*task-7 - Hard\.md.*, version [0-9a-f]{16}\)\n$/);
    let expected = BACKLOG_TASK.replace('status: To Do #', 'status: In Progress #').replace('[ api,   "x y" ]', '[ a, b ]');
    assert.equal(fs.readFileSync(file, 'utf8'), expected);
    await ok(['check', `dir=${f.dir}`, 'id=TASK-7', 'item=Second step']);
    expected = expected.replace('- [ ] #2 Second', '- [x] #2 Second');
    assert.equal(fs.readFileSync(file, 'utf8'), expected);
    await ok(['note', `dir=${f.dir}`, 'id=7', 'text=tests pass']);
    const now = fs.readFileSync(file, 'utf8');
    expected = expected.replace('Started.\r\n', `Started.\r\n${noteIn(now, 'tests pass')}\r\n`);
    assert.equal(now, expected);
    assert.ok(fs.readFileSync(file).subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf])), 'the BOM stays');
  } finally {
    f.remove();
  }
});

test('taskmd: its status word, a block list stays a block list, the quoted id and the comment kept; a new key appended', async () => {
  const f = folder({ '.taskmd.yaml': 'dir: ./tasks\n', 'tasks/012-write-parser.md': TASKMD_TASK });
  const file = path.join(f.dir, 'tasks', '012-write-parser.md');
  try {
    await ok(['set', `dir=${f.dir}`, 'id=12', 'status=In Progress', 'field.tags=core,lexer', 'field.effort=large']);
    let expected = TASKMD_TASK.replace('status: pending', 'status: in-progress').replace('  - "parser"\n', '  - lexer\n').replace('created: 2025-01-02\n', 'created: 2025-01-02\neffort: large\n');
    assert.equal(fs.readFileSync(file, 'utf8'), expected);
    await ok(['check', `dir=${f.dir}`, 'id=012', 'item=2']);
    expected = expected.replace('- [ ] grammar', '- [x] grammar');
    assert.equal(fs.readFileSync(file, 'utf8'), expected);
    await ok(['note', `dir=${f.dir}`, 'id=012', 'text=half done']);
    const now = fs.readFileSync(file, 'utf8');
    assert.equal(now, `${expected}\n## Notes\n\n${noteIn(now, 'half done')}\n`);
  } finally {
    f.remove();
  }
});

test('ours: canonical status with its quotes kept, a field removed, nothing else moves; an edit that changes nothing writes nothing', async () => {
  const f = folder({ 'OURS-LONG.md': OURS_TASK });
  const file = path.join(f.dir, 'OURS-LONG.md');
  try {
    const out = JSON.parse(await ok(['set', `dir=${f.dir}`, 'id=ours-long', 'status=In Progress', 'field.custom=', '--json'])) as { version: string; changed: string[] };
    const expected = OURS_TASK.replace("status: 'ready'", "status: 'in_progress'").replace('custom:\n  nested: true\n', '');
    assert.equal(fs.readFileSync(file, 'utf8'), expected);
    assert.deepEqual(out.changed, ['status: ready → in_progress', 'custom removed']);
    const mtime = fs.statSync(file).mtimeMs;
    const same = await ok(['set', `dir=${f.dir}`, 'id=OURS-LONG', 'status=in_progress']);
    assert.match(same, /nothing changed/);
    assert.equal(fs.statSync(file).mtimeMs, mtime, 'not written');
    await ok(['note', `dir=${f.dir}`, 'id=OURS-LONG', 'text=one']);
    const now = fs.readFileSync(file, 'utf8');
    assert.equal(now, `${expected}\n\n## Implementation Progress\n\n${noteIn(now, 'one')}\n`);
  } finally {
    f.remove();
  }
});

test('new: each format\'s naming and next free number; ours gets a unique slug', async () => {
  const f = folder({
    'backlog/config.yml': 'task_prefix: "back"\nstatuses: ["To Do", "Doing", "Done"]\ndefault_status: "To Do"\n',
    'backlog/tasks/back-3 - Old.md': '---\nid: BACK-3\ntitle: Old\nstatus: To Do\n---\n',
    'backlog/completed/back-9 - Older.md': '---\nid: BACK-9\ntitle: Older\nstatus: Done\n---\n',
    'md/.taskmd.yaml': 'dir: ./tasks\n',
    'md/tasks/004-four.md': '---\nid: "004"\ntitle: Four\nstatus: pending\n---\n',
    'ours/fix-the-build.md': '---\nid: fix-the-build\ntitle: Fix the build\nstatus: todo\n---\n',
  });
  try {
    const b = JSON.parse(await ok(['new', `dir=${path.join(f.dir, 'backlog')}`, 'title=Ship it now', 'status=in_progress', '--json'])) as { id: string; path: string };
    assert.deepEqual([b.id, b.path], ['BACK-10', 'tasks/back-10 - Ship-it-now.md']);
    assert.match(fs.readFileSync(path.join(f.dir, 'backlog', b.path), 'utf8'), /^---\nid: BACK-10\ntitle: Ship it now\nstatus: Doing\n/);
    const t = JSON.parse(await ok(['new', `dir=${path.join(f.dir, 'md')}`, 'title=Five', 'priority=high', '--json'])) as { id: string; path: string };
    assert.deepEqual([t.id, t.path], ['005', 'tasks/005-five.md']);
    assert.match(fs.readFileSync(path.join(f.dir, 'md', t.path), 'utf8'), /^---\nid: "005"\ntitle: Five\nstatus: pending\npriority: high\n/);
    const o = JSON.parse(await ok(['new', `dir=${path.join(f.dir, 'ours')}`, 'title=Fix the build!', 'field.labels=ci,', '--json'])) as { id: string; path: string };
    assert.deepEqual([o.id, o.path], ['fix-the-build-2', 'fix-the-build-2.md']);
    assert.match(fs.readFileSync(path.join(f.dir, 'ours', o.path), 'utf8'), /^---\nid: fix-the-build-2\ntitle: Fix the build!\nstatus: todo\ncreated: \d{4}-\d\d-\d\d\nlabels: \[ci\]\n---\n$/);
  } finally {
    f.remove();
  }
});
