// The words the edit verbs and the MCP tools write and say: only statuses the folder takes, usage
// errors as exit 2, unknown MCP arguments named, lines that do not repeat the verb, ids in the folder's case.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { cli, fingerprint, uniqueOwner, withTempFolder } from './helpers.ts';
import { withMcp } from './mcp-client.ts';

const TASK = '---\nid: task-1\ntitle: First\nstatus: To Do\n---\n\n## Implementation Plan\n\n- [ ] run the tests\n- [ ] ship\n';

/** A Backlog.md folder whose config declares three statuses, with one task written as `id: task-1`. */
function backlog(config = 'project_name: demo\nstatuses: [To Do, In Progress, Done]\n'): { root: string; dir: string; file: string; remove: () => void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-words-'));
  const dir = path.join(root, 'backlog');
  fs.mkdirSync(path.join(dir, 'tasks'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.yml'), config);
  const file = path.join(dir, 'tasks', 'task-1 - First.md');
  fs.writeFileSync(file, TASK);
  return { root, dir, file, remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}

test('a folder that declares statuses: a status none of them maps to is refused (exit 2, one line, its own words), nothing written', async () => {
  const f = backlog();
  try {
    const before = fingerprint(f.dir);
    for (const word of ['ready', 'review', 'blocked', 'wontdo', 'bogus']) {
      const r = await cli(['set', `dir=${f.dir}`, 'id=task-1', `status=${word}`]);
      assert.equal(r.code, 2, `${word}: exit ${r.code}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`\`${word}\`.*To Do, In Progress, Done`), word);
      assert.doesNotMatch(r.stderr, /draft, todo/, word);
    }
    const slip = await cli(['set', `dir=${f.dir}`, 'id=task-1', 'status=inprogres']);
    assert.equal(slip.code, 2, slip.stderr);
    assert.match(slip.stderr, /did you mean In Progress\?/);
    assert.deepEqual(fingerprint(f.dir), before, 'nothing written');
    // A word that maps to a declared one is written in the folder's spelling.
    const done = await cli(['set', `dir=${f.dir}`, 'id=task-1', 'status=done']);
    assert.equal(done.code, 0, done.stderr);
    assert.match(fs.readFileSync(f.file, 'utf8'), /^status: Done$/m);
    await withMcp(f.dir, uniqueOwner('words'), async ({ client }) => {
      const r = await client.callTool({ name: 'task_create', arguments: { title: 'Second', status: 'ready' } }) as CallToolResult;
      assert.equal(r.isError, true, JSON.stringify(r.content));
      assert.match((r.content[0] as { text: string }).text, /`ready`.*To Do, In Progress, Done/);
    });
    assert.deepEqual(fs.readdirSync(path.join(f.dir, 'tasks')), ['task-1 - First.md'], 'no task created');
  } finally {
    f.remove();
  }
});

test('a folder without declared statuses: a slip suggests a real status word and lists the canonical ones', async () => {
  await withTempFolder('words', async (t) => {
    const r = await cli(['set', 'id=FIRST-TASK', 'status=inprogres', `dir=${t.dir}`]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /did you mean in_progress\?/);
    assert.match(r.stderr, /draft, todo, ready, in_progress, blocked, review, completed, cancelled/);
  });
});

test('MCP: an argument a tool does not take is an error naming it, nothing written', async () => {
  await withTempFolder('words', async (t) => {
    const file = path.join(t.dir, 'FIRST-TASK.md');
    const before = fs.readFileSync(file);
    await withMcp(t.dir, t.owner, async ({ client }) => {
      const r = await client.callTool({ name: 'task_update', arguments: { id: 'FIRST-TASK', stauts: 'done' } }) as CallToolResult;
      assert.equal(r.isError, true, JSON.stringify(r.content));
      assert.match((r.content[0] as { text: string }).text, /stauts/);
      const next = await client.callTool({ name: 'task_next', arguments: { limit: 3 } }) as CallToolResult;
      assert.equal(next.isError, true, JSON.stringify(next.content));
      assert.match((next.content[0] as { text: string }).text, /limit/);
    });
    assert.deepEqual(fs.readFileSync(file), before);
  });
});

test('note and check say what they did without repeating the verb; JSON values carry no shell quotes', async () => {
  const f = backlog();
  try {
    const note = await cli(['note', `dir=${f.dir}`, 'id=task-1', 'text=started']);
    assert.equal(note.code, 0, note.stderr);
    assert.match(note.stdout, /^note task-1 appended \(/);
    const check = await cli(['check', `dir=${f.dir}`, 'id=task-1', 'item=2']);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /^check task-1 ticked item 2: ship \(/);
    const made = await cli(['new', `dir=${f.dir}`, 'title=Second one', '--json']);
    assert.equal(made.code, 0, made.stderr);
    assert.deepEqual((JSON.parse(made.stdout) as { changed: string[] }).changed, ['created tasks/task-2 - Second-one.md']);
  } finally {
    f.remove();
  }
});

test('new follows the case of the folder\'s ids, else the config\'s task_prefix as written', async () => {
  const f = backlog();
  const g = backlog('project_name: demo\ntask_prefix: "back"\n');
  try {
    const r = await cli(['new', `dir=${f.dir}`, 'title=Second', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const made = JSON.parse(r.stdout) as { id: string; path: string };
    assert.equal(made.id, 'task-2');
    assert.match(fs.readFileSync(path.join(f.dir, made.path), 'utf8'), /^id: task-2$/m);
    fs.rmSync(g.file);
    const fresh = await cli(['new', `dir=${g.dir}`, 'title=First', '--json']);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.equal((JSON.parse(fresh.stdout) as { id: string }).id, 'back-1');
  } finally {
    f.remove();
    g.remove();
  }
});
