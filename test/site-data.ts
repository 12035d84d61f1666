// Test helpers of the site builder's tests: a task parsed from fields, and a build folder's task data read the way the page reads it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DATA_INDEX, type DataIndex, SHARD_DIGITS, searchShard, tasksShard } from '../lib/web/client/shards.ts';
import type { TaskRow, TasksDoc } from '../lib/web/client/rows.ts';
import { type Task, parseTaskFile } from '../lib/tasks/taskfile.ts';

/** A task parsed from frontmatter fields and a body, as the scanner would return it. */
export function parsedTask(file: string, fields: Record<string, string>, body = ''): Task {
  const yaml = Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('\n');
  const r = parseTaskFile(Buffer.from(`---\n${yaml}\n---\n${body}`), file);
  assert.ok(r.ok, `fixture ${file} must parse`);
  return r.task;
}

function json<T>(out: string, rel: string): T {
  return JSON.parse(fs.readFileSync(path.join(out, rel), 'utf8')) as T;
}

/** Every record in the served order, with the records' version: what tasks.json used to hold. */
export function readTasks(out: string): TasksDoc {
  const index = json<DataIndex>(out, DATA_INDEX);
  const shards = index.tasks.map((_, k) => json<{ tasks: TaskRow[] }>(out, tasksShard(k)).tasks);
  const next = shards.map(() => 0);
  const tasks = [...index.order].map((c) => {
    const k = SHARD_DIGITS.indexOf(c);
    const row = shards[k]?.[next[k]!++];
    if (row === undefined) throw new Error(`shard ${k} has fewer records than the order names`);
    return row;
  });
  for (const [k, rows] of shards.entries()) if (rows.length !== next[k]) throw new Error(`shard ${k} has records the order does not name`);
  return { version: index.version, tasks };
}

/** The folded title and body of every page: what search.json used to hold. */
export function readSearch(out: string): Record<string, string> {
  const index = json<DataIndex>(out, DATA_INDEX);
  return Object.assign({}, ...index.bodies.map((_, k) => json<Record<string, string>>(out, searchShard(k)))) as Record<string, string>;
}
