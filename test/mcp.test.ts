// The agents' MCP server through a real stdio client: the SDK's Client spawning `tasks mcp` as an agent's client does.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ROOT, cli, withTempFolder } from './helpers.ts';
import { call, withMcp } from './mcp-client.ts';

const versionOf = (file: string): string => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 16);

interface Summary { id: string; status: string; statusText: string; path: string }
interface Edit { id: string; path: string; before: string; version: string; changed: string[] }

/** A Backlog.md folder (the formats fixture) in the test's temp folder, its tasks in Backlog.md's own words only (no `ready`). */
function backlogIn(root: string): string {
  const dir = path.join(root, 'backlog');
  fs.cpSync(path.join(ROOT, 'test', 'fixtures', 'formats', 'backlog'), dir, { recursive: true });
  for (const name of fs.readdirSync(path.join(dir, 'tasks'))) {
    const file = path.join(dir, 'tasks', name);
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^status: ready$/m, 'status: To Do'));
  }
  return dir;
}

describe('tasks mcp', () => {
  test('lists six tools with their annotations, the guidance as a resource and in the instructions', () => withTempFolder('mcp', async (t) => {
    await withMcp(t.dir, t.owner, async ({ client, stderr }) => {
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((x) => x.name).sort(), ['status', 'task_create', 'task_list', 'task_next', 'task_update', 'task_view']);
      for (const tool of tools) {
        assert.ok(tool.outputSchema, `${tool.name} has an output schema`);
        const reads = ['status', 'task_list', 'task_next', 'task_view'].includes(tool.name);
        assert.equal(tool.annotations?.readOnlyHint, reads, `${tool.name} readOnlyHint`);
        assert.equal(typeof tool.annotations?.destructiveHint, 'boolean', `${tool.name} destructiveHint`);
        assert.equal(typeof tool.annotations?.idempotentHint, 'boolean', `${tool.name} idempotentHint`);
      }
      assert.equal(tools.find((x) => x.name === 'task_update')?.annotations?.destructiveHint, true);
      assert.equal(tools.find((x) => x.name === 'task_create')?.annotations?.destructiveHint, false);
      assert.match(client.getInstructions() ?? '', /in_progress/);
      const { resources } = await client.listResources();
      assert.deepEqual(resources.map((r) => r.uri), ['tasks://guidance']);
      const g = await client.readResource({ uri: 'tasks://guidance' });
      assert.match(String((g.contents[0] as { text: string }).text), /note/);
      // Only the protocol went to stdout (the client would have failed on anything else); the log went to stderr.
      assert.match(stderr(), /serving/);
    });
  }));

  test('list, view with a version, update in the canonical word, a stale version is a conflict that writes nothing, create; every call reads the folder live', () => withTempFolder('mcp', async (t) => {
    const file = path.join(t.dir, 'FIRST-TASK.md');
    await withMcp(t.dir, t.owner, async ({ client }) => {
      const list = await call<{ tasks: Summary[]; total: number }>(client, 'task_list', { status: 'ready' });
      assert.deepEqual(list.tasks.map((x) => x.id), ['FIRST-TASK']);
      assert.equal((await call<{ total: number }>(client, 'task_list', { status: 'review' })).total, 0);
      const view = await call<{ version: string; body: string; title: string; run: unknown; log: unknown }>(client, 'task_view', { id: 'first-task' });
      assert.equal(view.version, versionOf(file));
      assert.match(view.body, /Something/);
      assert.equal(view.run, null);
      const stale = view.version;
      const set = await call<Edit>(client, 'task_update', { id: 'FIRST-TASK', status: 'In Progress', version: view.version });
      assert.match(fs.readFileSync(file, 'utf8'), /^status: in_progress$/m);
      assert.equal(set.before, stale);
      assert.equal(set.version, versionOf(file));
      // A stale version: an error result naming the conflict and the current version; the file keeps its bytes.
      const before = fs.readFileSync(file);
      const r = await client.callTool({ name: 'task_update', arguments: { id: 'FIRST-TASK', status: 'review', version: stale } }) as CallToolResult;
      assert.equal(r.isError, true);
      assert.match((r.content[0] as { text: string }).text, /conflict/);
      assert.match((r.content[0] as { text: string }).text, new RegExp(set.version));
      assert.equal((r.structuredContent as { conflict: { current: string } }).conflict.current, set.version);
      assert.deepEqual(fs.readFileSync(file), before);
      // A hand edit on disk is seen at the next call.
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('title: First task', 'title: Renamed by hand'));
      const again = await call<{ title: string; version: string }>(client, 'task_view', { id: 'FIRST-TASK' });
      assert.equal(again.title, 'Renamed by hand');
      assert.equal(again.version, versionOf(file));
      const note = await call<Edit>(client, 'task_update', { id: 'FIRST-TASK', note: 'half way there', version: again.version });
      assert.ok(note.changed.length > 0);
      assert.match(fs.readFileSync(file, 'utf8'), /half way there/);
      const made = await call<Edit>(client, 'task_create', { title: 'Write the agents guide', priority: 'p2' });
      assert.ok(fs.existsSync(path.join(t.dir, made.path)), made.path);
      assert.equal(made.version, versionOf(path.join(t.dir, made.path)));
      const all = await call<{ tasks: Summary[] }>(client, 'task_list', { text: 'agents guide' });
      assert.deepEqual(all.tasks.map((x) => x.id), [made.id]);
      // An unknown id: an error result with one line, nothing thrown at the client.
      const unknown = await client.callTool({ name: 'task_view', arguments: { id: 'NOPE-1' } }) as CallToolResult;
      assert.equal(unknown.isError, true);
      assert.match((unknown.content[0] as { text: string }).text, /NOPE-1/);
    });
  }));

  test("a Backlog.md folder: statuses in its own words or canonical ones, written in its own; task_next says why none and finds one with ready='To Do'", () => withTempFolder('mcp', async (t) => {
    const dir = backlogIn(t.root);
    const file = path.join(dir, 'tasks', 'back-3 - Write-docs.md');
    await withMcp(dir, t.owner, async ({ client }) => {
      const own = await call<{ tasks: Summary[] }>(client, 'task_list', { status: 'In Progress' });
      const canonical = await call<{ tasks: Summary[] }>(client, 'task_list', { status: 'in_progress' });
      assert.ok(own.tasks.length > 0);
      assert.deepEqual(own.tasks.map((x) => x.id), canonical.tasks.map((x) => x.id));
      assert.ok(own.tasks.every((x) => x.statusText === 'In Progress'));
      const next = await call<{ task: unknown; reason: string }>(client, 'task_next');
      assert.equal(next.task, null);
      assert.match(next.reason, /ready='To Do'/);
      const { version } = await call<{ version: string }>(client, 'task_view', { id: 'BACK-3' });
      await call<Edit>(client, 'task_update', { id: 'back-3', status: 'in_progress', version });
      assert.match(fs.readFileSync(file, 'utf8'), /^status: In Progress\r?$/m);
    });
    await withMcp(dir, t.owner, async ({ client }) => {
      const next = await call<{ task: Summary | null; reason: string | null; dispatchable: number }>(client, 'task_next');
      assert.equal(next.reason, null);
      assert.equal(next.task?.statusText, 'To Do');
      const listed = await call<{ tasks: Summary[] }>(client, 'task_list', { dispatchable: true, limit: 500 });
      assert.equal(listed.tasks.length, next.dispatchable);
      assert.equal(listed.tasks[0]?.id, next.task?.id);
    }, ['ready=To Do']);
  }));

  test('task_view shows the claim and the run log; status tells the heartbeat stopped, its escalations and claims', () => withTempFolder('mcp', async (t) => {
    const state = path.join(t.dir, 'logs', 'task_manager');
    fs.mkdirSync(path.join(state, 'runs'), { recursive: true });
    const log = path.join(state, 'runs', 'FIRST-TASK.log');
    fs.writeFileSync(log, 'step one\nstep two\n');
    const claim = {
      id: 'FIRST-TASK', slug: 'FIRST-TASK', path: 'FIRST-TASK.md', claimedBy: t.owner, claimedAt: new Date().toISOString(), startedAt: new Date().toISOString(),
      worktree: '/nowhere', pid: null, pidStart: null, state: 'exited', exitCode: 0, endedAt: new Date().toISOString(), log,
    };
    fs.writeFileSync(path.join(state, 'registry.json'), JSON.stringify({ version: 1, claims: { 'FIRST-TASK': claim }, history: [], holds: {} }));
    await withMcp(t.dir, t.owner, async ({ client }) => {
      const view = await call<{ run: { state: string; exitCode: number }; claim: { by: string }; log: { lines: string[] } }>(client, 'task_view', { id: 'FIRST-TASK' });
      assert.equal(view.run.state, 'exited');
      assert.equal(view.claim.by, t.owner);
      assert.deepEqual(view.log.lines, ['step one', 'step two']);
      // Claimed: not dispatchable, and task_next says by whom.
      const next = await call<{ task: unknown; reason: string }>(client, 'task_next');
      assert.equal(next.task, null);
      assert.match(next.reason, new RegExp(`FIRST-TASK is claimed by ${t.owner}`));
      const s = await call<{ state: string; running: boolean; claims: { id: string }[]; escalations: unknown[] }>(client, 'status');
      assert.equal(s.state, 'stopped');
      assert.equal(s.running, false);
      assert.deepEqual(s.claims.map((c) => c.id), ['FIRST-TASK']);
      assert.ok(Array.isArray(s.escalations));
    });
  }));

  test('a folder that does not exist: one line, exit 2, no server', async () => {
    const r = await cli(['mcp', 'dir=/nonexistent/tasks-mcp', 'owner=mcp-x']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /`dir` must be an existing folder/);
  });
});
