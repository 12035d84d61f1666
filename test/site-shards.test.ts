import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseTaskFile } from '../lib/tasks/taskfile.ts';
import type { Task } from '../lib/tasks/taskfile.ts';
import { SiteBuilder, type SiteInput } from '../lib/web/site/site.ts';
import { shardCount, shardOf } from '../lib/web/client/shards.ts';
import { readSearch, readTasks } from './site-data.ts';

const NOW = new Date('2026-03-22T12:00:00Z');

function task(i: number, title = `Task ${i}`): Task {
  const r = parseTaskFile(Buffer.from(`---\nid: T-${i}\ntitle: ${title}\nstatus: todo\n---\nBody ${i}\n`), `T-${i}.md`);
  assert.ok(r.ok);
  return r.task;
}

const input = (tasks: Task[]): SiteInput => ({ project: 'Acme', tasks, errors: [], snapshot: undefined, heartbeat: { running: false, pid: null }, now: NOW });

/** The bytes of each data file. */
function data(out: string): Map<string, Buffer> {
  const dir = path.join(out, 'data');
  return new Map(fs.readdirSync(dir).map((name) => [name, fs.readFileSync(path.join(dir, name))]));
}

function changedFiles(a: Map<string, Buffer>, b: Map<string, Buffer>): string[] {
  return [...new Set([...a.keys(), ...b.keys()])].filter((k) => !(a.get(k)?.equals(b.get(k) as Buffer) ?? false)).sort();
}

test('one changed task rewrites one records shard, one bodies shard and the data index; an added task never moves the others', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-shards-'));
  try {
    const list = Array.from({ length: 600 }, (_, i) => task(i));
    assert.equal(shardCount(600), 4);
    const builder = new SiteBuilder(out);
    builder.build(input(list));
    assert.equal(readTasks(out).tasks.length, 600);
    const before = data(out);
    assert.equal(before.size, 1 + 2 * 4);
    list[10] = task(10, 'Renamed ten');
    builder.build(input(list));
    const k = shardOf('T-10', 4);
    const after = data(out);
    assert.deepEqual(changedFiles(before, after), ['index.json', `search-${k}.json`, `tasks-${k}.json`]);
    assert.equal(readTasks(out).tasks[10]?.title, 'Renamed ten');
    assert.match(readSearch(out)['T-10'] ?? '', /^renamed ten/);
    // A task added in the middle of the list: its shard and the index change, the others' bytes stay.
    list.splice(300, 0, task(1000));
    builder.build(input(list));
    const j = shardOf('T-1000', 4);
    assert.deepEqual(changedFiles(after, data(out)), ['index.json', `search-${j}.json`, `tasks-${j}.json`]);
    assert.deepEqual(readTasks(out).tasks.map((r) => r.id), list.map((t) => t.id), 'the served order is the list order');
    // Fewer tasks, fewer shards: the shards beyond the count are removed.
    builder.build(input(list.slice(0, 100)));
    assert.deepEqual([...data(out).keys()].sort(), ['index.json', 'search-0.json', 'tasks-0.json']);
    assert.deepEqual(readTasks(out).tasks.map((r) => r.id), list.slice(0, 100).map((t) => t.id));
    // A restart with a change made meanwhile (the shards on disk are the last server's), then a task
    // added at the front (every position moves): each time the data files are a fresh build's, byte for byte.
    const fresh = (tasks: Task[]): Map<string, Buffer> => {
      const other = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-shards-fresh-'));
      try {
        new SiteBuilder(other).build(input(tasks));
        return data(other);
      } finally {
        fs.rmSync(other, { recursive: true, force: true });
      }
    };
    const now = list.slice(0, 100);
    now[5] = task(5, 'Changed while stopped');
    const restarted = new SiteBuilder(out);
    restarted.build(input(now));
    assert.deepEqual(changedFiles(data(out), fresh(now)), []);
    now.unshift(task(2000));
    now[50] = task(49, 'Changed with the add');
    restarted.build(input(now));
    assert.deepEqual(changedFiles(data(out), fresh(now)), []);
    assert.equal(readTasks(out).tasks.find((r) => r.id === 'T-49')?.title, 'Changed with the add');
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('a restart on its own folder removes the whole tasks.json and search.json of earlier versions and shards it no longer has', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-shards-'));
  try {
    new SiteBuilder(out).build(input(Array.from({ length: 600 }, (_, i) => task(i))));
    fs.writeFileSync(path.join(out, 'tasks.json'), '{"version":"old","tasks":[]}\n');
    fs.writeFileSync(path.join(out, 'search.json'), '{}\n');
    new SiteBuilder(out, { pruneUnknown: true }).build(input([task(1), task(2)]));
    assert.deepEqual(fs.readdirSync(out).sort(), ['app.js', 'data', 'favicon.svg', 'index.html', 'style.css', 'tasks']);
    assert.deepEqual(fs.readdirSync(path.join(out, 'data')).sort(), ['index.json', 'search-0.json', 'tasks-0.json']);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
