// /api/tasks written one task at a time into blocks (apiTasksBytes): the very bytes of JSON.stringify of the whole document, on tasks the real parser read, with text of every UTF-8 width.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTaskFile } from '../lib/tasks/taskfile.ts';
import type { Task } from '../lib/tasks/taskfile.ts';
import { type SnapshotFacts, apiTask, apiTasksBytes, apiTasksText } from '../lib/web/http/api.ts';
import { relationsOf } from '../lib/web/render/relations.ts';

function task(i: number, title: string): Task {
  const deps = i > 0 ? `depends_on: [T-${i - 1}]\n` : '';
  const r = parseTaskFile(Buffer.from(`---\nid: T-${i}\ntitle: ${JSON.stringify(title)}\nstatus: todo\n${deps}parent: T-0\n---\nBody ${i}\n`), `t/T-${i}.md`);
  assert.ok(r.ok);
  return r.task;
}

test('apiTasksBytes is JSON.stringify of the document and a newline, across block edges and multi-byte text', () => {
  // Titles of 1-, 2-, 3- and 4-byte characters and long ones, so tasks straddle the 1 MiB blocks.
  const words = ['plain', 'café ü', '漢字のタスク', 'emoji 🚀🧪', '"quoted" \\ back\u2028slash', 'x'.repeat(900)];
  const tasks = Array.from({ length: 4000 }, (_, i) => task(i, `${words[i % words.length] as string} ${i}`));
  const facts: SnapshotFacts = { escalations: new Map([['T-3', { reason: 'stuck 🙃', since: '2026-01-01T00:00:00Z' }]]), ci: new Map([['T-5', 'failing']]) };
  const errors = [{ path: 'bad.md', reason: 'no frontmatter ✗' }];
  const relations = relationsOf(tasks);
  const expected = Buffer.from(`${JSON.stringify({ tasks: tasks.map((t) => apiTask(t, facts, undefined, false, relations)), errors })}\n`);
  const bytes = apiTasksBytes(tasks, errors, facts, undefined);
  assert.ok(bytes.length > 2 * 1024 * 1024, 'the document spans several blocks');
  assert.ok(bytes.equals(expected));
  assert.equal(apiTasksText(tasks, errors, facts, undefined), expected.toString('utf8').slice(0, -1));
  assert.ok(apiTasksBytes([], [], facts, undefined).equals(Buffer.from(`${JSON.stringify({ tasks: [], errors: [] })}\n`)));
});
