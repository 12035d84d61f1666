import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Task } from '../lib/tasks/taskfile.ts';
import { SiteBuilder, type SiteInput } from '../lib/web/site/site.ts';
import { readManifest } from '../lib/web/site/site-manifest.ts';
import { LiveSite } from '../lib/web/site/live.ts';
import { parsedTask } from './site-data.ts';

const NOW = new Date('2026-03-22T12:00:00Z');

const task = parsedTask;

function tasks(): Task[] {
  return [
    task('ALPHA.md', { id: 'ALPHA', title: 'Alpha', status: 'ready' }, 'First.\n'),
    task('BETA.md', { id: 'BETA', title: 'Beta', status: 'in_progress', depends_on: '[ALPHA]' }, 'Second.\n'),
    task('GAMMA.md', { id: 'GAMMA', title: 'Gamma', status: 'todo', parent: 'ALPHA' }, 'Third.\n'),
  ];
}

function input(list: Task[]): SiteInput {
  return { project: 'Acme', tasks: list, errors: [], snapshot: undefined, heartbeat: { running: false, pid: null }, now: NOW };
}

function withOut(body: (out: string) => void): void {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-defer-'));
  try {
    body(out);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

const pages = (out: string): string[] => fs.existsSync(path.join(out, 'tasks')) ? fs.readdirSync(path.join(out, 'tasks')).sort() : [];

/** Every file of a folder (relative path → bytes), the manifest left out (it names the folder's inode). */
function folder(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const file = path.join(dir, rel);
    if (fs.statSync(file).isFile() && !rel.endsWith('.manifest.json')) files.set(rel, fs.readFileSync(file, 'latin1'));
  }
  return files;
}

test('a deferred build writes the index and data but keeps the task pages and search shards pending until renderPending, the named ones first', () => {
  withOut((out) => {
    const builder = new SiteBuilder(out, { manifest: true });
    const r = builder.build(input(tasks()), { deferPages: true });
    assert.ok(fs.existsSync(path.join(out, 'index.html')));
    assert.ok(fs.existsSync(path.join(out, 'data/index.json')));
    assert.ok(fs.existsSync(path.join(out, 'data/tasks-0.json')));
    // The search shard's text is the costliest part of a first build: it follows the index, before the pages.
    assert.ok(!fs.existsSync(path.join(out, 'data/search-0.json')));
    assert.deepEqual(pages(out), []);
    assert.equal(builder.pendingCount, 4);
    assert.deepEqual(builder.pendingPaths(), ['data/search-0.json', 'tasks/ALPHA.html', 'tasks/BETA.html', 'tasks/GAMMA.html']);
    assert.ok(r.files !== undefined && !r.files.includes('data/search-0.json'), 'no shard is listed before it is on disk');
    assert.ok(r.files !== undefined && !r.files.some((f) => f.startsWith('tasks/')), 'no page is listed before it is on disk');
    assert.ok(![...(readManifest(out) ?? [])].some((f) => f.startsWith('tasks/')));

    const one = builder.renderPending(1, ['tasks/GAMMA.html', 'tasks/NOPE.html']);
    assert.equal(one.written, 1);
    assert.deepEqual(pages(out), ['GAMMA.html']);
    // The page joins the list the server serves from; the manifest (every file's name) follows within seconds, or once nothing is pending.
    assert.deepEqual(one.changes, { add: ['tasks/GAMMA.html'], drop: [] });
    assert.equal(builder.pendingCount, 3);
    assert.equal(builder.renderPending(1).written, 1);
    assert.ok(fs.existsSync(path.join(out, 'data/search-0.json')), 'the search shard comes before the other pages');
    assert.deepEqual(pages(out), ['GAMMA.html']);

    assert.equal(builder.renderPending(10).written, 2);
    assert.equal(builder.pendingCount, 0);
    assert.ok(readManifest(out)?.has('tasks/GAMMA.html'));
    assert.ok(readManifest(out)?.has('tasks/ALPHA.html'));
    assert.deepEqual(pages(out), ['ALPHA.html', 'BETA.html', 'GAMMA.html']);
    assert.equal(builder.renderPending(10).written, 0);
    withOut((fresh) => {
      new SiteBuilder(fresh, { manifest: true }).build(input(tasks()));
      assert.deepEqual(folder(out), folder(fresh), 'deferred then rendered equals a build that never deferred');
    });
  });
});

test('a page changed again before it was rendered renders once with the newest inputs; a removed task\'s pending page is never written', () => {
  withOut((out) => {
    const builder = new SiteBuilder(out);
    const list = tasks();
    builder.build(input(list));
    list[1] = task('BETA.md', { id: 'BETA', title: 'Beta renamed', status: 'in_progress', depends_on: '[ALPHA]' }, 'Second.\n');
    builder.build(input(list), { deferPages: true });
    // ALPHA shows what it blocks (BETA's title): its page is pending too, and the search shard BETA's title is in.
    assert.equal(builder.pendingCount, 3);
    list[1] = task('BETA.md', { id: 'BETA', title: 'Beta renamed twice', status: 'in_progress', depends_on: '[ALPHA]' }, 'Second.\n');
    builder.build(input(list), { deferPages: true });
    assert.equal(builder.pendingCount, 3, 'one pending render per file');
    assert.deepEqual(builder.pendingPaths().sort(), ['data/search-0.json', 'tasks/ALPHA.html', 'tasks/BETA.html']);
    const gamma = task('GAMMA.md', { id: 'GAMMA', title: 'Gamma again', status: 'todo', parent: 'ALPHA' }, 'Third.\n');
    builder.build(input([...list.slice(0, 2), gamma]), { deferPages: true });
    assert.equal(builder.pendingCount, 4);
    builder.build(input(list.slice(0, 2)), { deferPages: true });
    assert.deepEqual(pages(out), ['ALPHA.html', 'BETA.html'], 'the removed task\'s page is gone');
    assert.equal(builder.pendingCount, 3, 'and its pending render dropped');
    assert.equal(builder.renderPending(Infinity).written, 3);
    assert.deepEqual(pages(out), ['ALPHA.html', 'BETA.html']);
    const search = fs.readFileSync(path.join(out, 'data/search-0.json'), 'utf8');
    assert.match(search, /beta renamed twice/i);
    assert.doesNotMatch(search, /gamma/i, 'the search shard rendered with the newest inputs');
    const beta = fs.readFileSync(path.join(out, 'tasks/BETA.html'), 'utf8');
    assert.match(beta, /Beta renamed twice/);
    assert.match(fs.readFileSync(path.join(out, 'tasks/ALPHA.html'), 'utf8'), /Beta renamed twice/);
  });
});

test('a build without deferPages writes what earlier deferred builds left pending', () => {
  withOut((out) => {
    const builder = new SiteBuilder(out);
    builder.build(input(tasks()), { deferPages: true });
    assert.deepEqual(pages(out), []);
    builder.build(input(tasks()));
    assert.equal(builder.pendingCount, 0);
    assert.deepEqual(pages(out), ['ALPHA.html', 'BETA.html', 'GAMMA.html']);
  });
});

test('a restarted builder that defers compares pending pages with the disk instead of rewriting them, and keeps listing them meanwhile (not a search shard: the data index names its new version)', () => {
  withOut((out) => {
    new SiteBuilder(out, { pruneUnknown: true, manifest: true }).build(input(tasks()));
    const manifest = fs.readFileSync(path.join(out, '.manifest.json'));
    const builder = new SiteBuilder(out, { pruneUnknown: true, manifest: true });
    const r = builder.build(input(tasks()), { deferPages: true });
    assert.equal(r.written, 0);
    assert.equal(builder.pendingCount, 4);
    // The previous build's pages are on disk: the manifest goes on naming them.
    assert.ok(readManifest(out)?.has('tasks/BETA.html'));
    // The search shard is not served until it is written again: its old bytes could be another version's.
    assert.ok(r.files !== undefined && !r.files.includes('data/search-0.json'));
    assert.equal(readManifest(out)?.has('data/search-0.json'), false);
    assert.ok(fs.existsSync(path.join(out, 'data/search-0.json')), 'left on disk');
    assert.deepEqual(builder.renderPending(Infinity), { written: 0, removed: 0, filesChanged: false, changes: { add: ['data/search-0.json'], drop: [] } });
    assert.deepEqual(pages(out), ['ALPHA.html', 'BETA.html', 'GAMMA.html']);
    // Compared with the disk, nothing was rewritten, and the manifest is the one before the restart again.
    assert.ok(fs.readFileSync(path.join(out, '.manifest.json')).equals(manifest));
  });
});

test('a pending page rendered from a file that changed after the scan is rendered again by the next build, even when the file is back as the scan saw it', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-defer-'));
  try {
    const dir = path.join(root, 'tasks');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'A.md');
    const original = '---\nid: A\ntitle: Alpha\nstatus: ready\n---\nThe body as it was.\n';
    fs.writeFileSync(file, original);
    const out = path.join(root, 'site');
    // The dashboard's build: task text is not kept, a page reads its file when it is rendered.
    const live = new LiveSite({ owner: 'o', dir, project: 'P', out, ownFolder: false, now: () => NOW });
    await live.rebuild(undefined, { deferPages: true }).settled;
    // Edited after the scan, and the page rendered before any rescan (an editor's truncate-then-write,
    // a stash and pop inside the watch's debounce): the page shows the edit.
    fs.writeFileSync(file, original.replace('The body as it was.', 'An edit soon undone.'));
    await live.renderPending(Infinity).settled;
    const page = path.join(out, 'tasks', 'A.html');
    assert.match(fs.readFileSync(page, 'utf8'), /An edit soon undone/);
    // Undone: the rescan sees the text the first scan saw, and the page must follow it all the same.
    fs.writeFileSync(file, original);
    await live.rebuild(['A.md'], { deferPages: true }).settled;
    await live.renderPending(Infinity).settled;
    assert.match(fs.readFileSync(page, 'utf8'), /The body as it was/);
    assert.doesNotMatch(fs.readFileSync(page, 'utf8'), /An edit soon undone/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
