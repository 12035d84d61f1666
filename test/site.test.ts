import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Task } from '../lib/tasks/taskfile.ts';
import type { Snapshot } from '../lib/manager/tick.ts';
import { SiteBuilder, pageName } from '../lib/web/site/site.ts';
import type { SiteInput } from '../lib/web/site/site.ts';
import { CLIENT_DIRS, clientAssets, writeClientAssets } from '../lib/web/site/client-assets.ts';
import { searchFold } from '../lib/web/client/rows.ts';
import { parsedTask, readSearch, readTasks } from './site-data.ts';

const HOSTILE = '<img src=x onerror=alert(1)>';
const NOW = new Date('2026-03-22T12:00:00Z');

const task = parsedTask;

function tasks(): Task[] {
  return [
    task('ALPHA.md', { id: 'ALPHA', title: 'Alpha ready task', status: 'ready', priority: 'p0', milestone: 'm1', owner: 'dave' },
      '## Problem\nThe zebra escaped.\n\n## Plan\n- [x] find it\n- [ ] catch it\n'),
    task('BETA.md', { id: 'BETA', title: 'Beta in progress', status: 'In Progress', priority: 'p1', owner: 'erin', pr: 'https://example.invalid/pull/7', ci: 'failing' }, 'Slow builds.\n'),
    task('done/GAMMA.md', { id: 'GAMMA', title: 'Gamma done', status: 'completed', priority: 'p2', milestone: 'm2', owner: 'dave',
      completed_by: 'dave', completed: '2026-03-20', depends_on: '[ALPHA, MISSING]' },
      '## Problem\n[click](javascript:alert(1)) [data](data:text/html,x) [ok](https://example.invalid/x)\n\n<script>alert(3)</script>\n\n<img src=x onerror=alert(2)>\n'),
    task('HOSTILE.md', { id: 'HOSTILE', title: `'${HOSTILE}'`, status: 'todo', milestone: `'${HOSTILE}'`, owner: `'${HOSTILE}'`, pr: 'javascript:alert(4)' }, 'Body.\n'),
  ];
}

function input(list: Task[], extra: Partial<SiteInput> = {}): SiteInput {
  return { project: 'Acme', tasks: list, errors: [], snapshot: undefined, heartbeat: { running: false, pid: null }, now: NOW, ...extra };
}

/** Runs body with a fresh output folder, removed afterwards. */
function withOut(body: (out: string, read: (rel: string) => string) => void): void {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-site-'));
  try {
    body(out, (rel) => fs.readFileSync(path.join(out, rel), 'utf8'));
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

/** Text of an HTML fragment with tags removed and the five escapes decoded. */
function text(html: string): string {
  return html.replace(/<[^>]*>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

/** Every start tag in the document (escaped text cannot produce one). */
const tags = (html: string): string[] => html.match(/<[a-zA-Z][^>]*>/g) ?? [];
/** True when some element has an on* attribute (quoted values, which may hold escaped text, are skipped). */
const hasHandler = (html: string): boolean => tags(html).some((t) => /\son[a-z]+\s*=/i.test(t.replace(/"[^"]*"/g, '""')));

test('the build writes the index, one page per task, the assets and the task data (records and search bodies)', () => {
  withOut((out, read) => {
    const r = new SiteBuilder(out).build(input(tasks()));
    assert.deepEqual(fs.readdirSync(out).sort(), ['app.js', 'data', 'favicon.svg', 'index.html', 'style.css', 'tasks']);
    assert.deepEqual(fs.readdirSync(path.join(out, 'data')).sort(), ['index.json', 'search-0.json', 'tasks-0.json'], 'four tasks: one shard of each');
    assert.deepEqual(fs.readdirSync(path.join(out, 'tasks')).sort(), ['ALPHA.html', 'BETA.html', 'GAMMA.html', 'HOSTILE.html']);
    assert.deepEqual(r, { written: 11, removed: 0, filesChanged: true });
    const index = read('index.html');
    assert.match(index, /<title>Acme Tasks<\/title>/);
    for (const id of ['ALPHA', 'BETA', 'GAMMA', 'HOSTILE']) assert.match(index, new RegExp(`<a href="tasks/${id}.html">${id}</a>`));
    for (const id of ['health', 'counts', 'escalations', 'ready', 'claims', 'errors', 'tasks']) assert.match(index, new RegExp(`id="${id}"`));
    assert.match(index, /<script src="app.js" defer><\/script>/);
    assert.doesNotMatch(index, /<script>/, 'no inline script');
    assert.ok(!hasHandler(index), 'no inline event handler');
    assert.match(read('tasks/ALPHA.html'), /href="\.\.\/style\.css"/);
  });
});

test('every page runs under a strict CSP: no inline script, style or handler; the icon is a file', () => {
  withOut((out, read) => {
    const aligned = task('TABLE.md', { id: 'TABLE', title: 'Aligned table' }, '|a|b|c|\n|:-:|--:|-|\n|1|2|3|\n');
    new SiteBuilder(out).build(input([...tasks(), aligned]));
    const pages = ['index.html', ...fs.readdirSync(path.join(out, 'tasks')).map((n) => `tasks/${n}`)];
    for (const rel of pages) {
      const html = read(rel);
      const unquoted = tags(html).map((t) => t.replace(/"[^"]*"/g, '""'));
      assert.ok(!unquoted.some((t) => /^<script\b/i.test(t) && !/\ssrc=/.test(t)), `${rel}: no inline script`);
      assert.ok(!unquoted.some((t) => /^<style\b/i.test(t) || /\sstyle\s*=/i.test(t)), `${rel}: no style element or attribute`);
      assert.ok(!hasHandler(html), `${rel}: no event handler attribute`);
      assert.match(html, /<link rel="icon" href="(\.\.\/)?favicon\.svg">/, `${rel}: the icon is a file of the site`);
    }
    assert.match(read('tasks/TABLE.html'), /<th class="align-center">a<\/th>\n<th class="align-right">b<\/th>/, 'alignment as classes');
  });
});

test('the assets are the client bundled and minified, with nothing to fetch from elsewhere', () => {
  withOut((out, read) => {
    new SiteBuilder(out).build(input(tasks()));
    const app = read('app.js');
    const css = read('style.css');
    assert.ok(!app.includes('\n  '), 'app.js is minified');
    assert.match(app, /new EventSource\([^)]*\/api\/events/);
    assert.doesNotMatch(app, /\bimport\b|\brequire\(|https?:\/\//, 'app.js imports nothing and names no URL');
    assert.doesNotMatch(css, /@import|url\(/, 'style.css loads nothing');
    assert.match(css, /prefers-color-scheme:dark/);
    assert.match(read('favicon.svg'), /^<svg /);
  });
});

test('the prebuilt assets are used only while they are newer than every client source', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-client-'));
  try {
    const dirs = { sources: path.join(tmp, 'client'), prebuilt: path.join(tmp, 'dist') };
    fs.cpSync(CLIENT_DIRS.sources, dirs.sources, { recursive: true });
    const past = new Date(Date.now() - 60_000);
    for (const name of fs.readdirSync(dirs.sources)) fs.utimesSync(path.join(dirs.sources, name), past, past);
    writeClientAssets(dirs);
    fs.writeFileSync(path.join(dirs.prebuilt, 'app.js'), '/* prebuilt */');
    const app = (): string => clientAssets(dirs).find((a) => a.name === 'app.js')?.bytes.toString() ?? '';
    assert.equal(app(), '/* prebuilt */', 'fresh prebuilt copy: served as it is');
    const live = path.join(dirs.sources, 'live.ts');
    fs.writeFileSync(live, fs.readFileSync(live, 'utf8').replace("'reconnecting…'", "'edited: reconnecting'"));
    assert.match(app(), /edited: reconnecting/, 'a source newer than the prebuilt copy: bundled from the sources');
    fs.rmSync(dirs.prebuilt, { recursive: true });
    assert.match(app(), /edited: reconnecting/, 'no prebuilt copy: bundled from the sources');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('a task page shows the seven metadata labels with their values', () => {
  withOut((out, read) => {
    new SiteBuilder(out).build(input(tasks()));
    const html = read('tasks/GAMMA.html');
    assert.match(html, /<main data-task-id="GAMMA">/);
    const dl = /<dl class="meta">(.*?)<\/dl>/s.exec(html)?.[1] ?? '';
    const pairs = [...dl.matchAll(/<dt>(.*?)<\/dt><dd>(.*?)<\/dd>/g)].map((m) => [m[1], text(m[2] ?? '')]);
    assert.deepEqual(pairs, [['ID', 'GAMMA'], ['Status', 'completed'], ['Priority', 'p2'], ['Milestone', 'm2'], ['Owner', 'dave'],
      ['Completed by', 'dave'], ['Completed', '2026-03-20']]);
  });
});

test('a hostile title, owner and milestone show as text everywhere', () => {
  withOut((out, read) => {
    new SiteBuilder(out).build(input(tasks()));
    for (const rel of ['index.html', 'tasks/HOSTILE.html']) {
      const html = read(rel);
      assert.ok(!tags(html).some((t) => t.startsWith('<img')), `${rel}: no img element`);
      assert.ok(!hasHandler(html), `${rel}: no event handler attribute`);
      assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'), `${rel}: the title shown escaped`);
      assert.ok(!html.includes('href="javascript:'), `${rel}: the pr field is not linked`);
    }
    const page = read('tasks/HOSTILE.html');
    assert.equal(text(/<dt>Owner<\/dt><dd>(.*?)<\/dd>/.exec(page)?.[1] ?? ''), HOSTILE);
    assert.equal(text(/<dt>Milestone<\/dt><dd>(.*?)<\/dd>/.exec(page)?.[1] ?? ''), HOSTILE);
    assert.match(read('index.html'), /<tr data-page="HOSTILE">.*<td>&lt;img src=x onerror=alert\(1\)&gt;<\/td>/, 'the owner in the row, escaped');
    assert.ok(read('index.html').includes('&quot;owners&quot;:[&quot;&lt;img src=x onerror=alert(1)&gt;&quot;]'), 'and in the first page\'s data, escaped');
    const row = readTasks(out).tasks.find((r) => r.id === 'HOSTILE');
    assert.deepEqual([row?.title, row?.owners, row?.milestone], [HOSTILE, [HOSTILE], HOSTILE], 'the records keep the text as it is (the client escapes it)');
  });
});

test('the body is markdown without raw HTML or unsafe links, with checkboxes', () => {
  withOut((out, read) => {
    new SiteBuilder(out).build(input(tasks()));
    const gamma = read('tasks/GAMMA.html');
    assert.ok(!tags(gamma).some((t) => /^<script\b/i.test(t) && !t.includes('src=')), 'no inline script element');
    assert.ok(!hasHandler(gamma), 'no onerror attribute');
    assert.ok(gamma.includes('&lt;script&gt;alert(3)&lt;/script&gt;'), 'raw HTML shown as text');
    assert.ok(!/href="\s*(javascript|data|vbscript):/i.test(gamma), 'no javascript: or data: href');
    assert.match(gamma, /<a href="https:\/\/example\.invalid\/x">ok<\/a>/);
    const alpha = read('tasks/ALPHA.html');
    assert.match(alpha, /<input type="checkbox" disabled checked> find it/);
    assert.match(alpha, /<input type="checkbox" disabled> catch it/);
    assert.match(alpha, /1\/2 done/);
  });
});

test('dependencies are linked with their status, a missing one is marked', () => {
  withOut((out, read) => {
    new SiteBuilder(out).build(input(tasks()));
    const deps = /<section id="deps">(.*?)<\/section>/s.exec(read('tasks/GAMMA.html'))?.[1] ?? '';
    assert.match(deps, /<a href="ALPHA\.html">ALPHA<\/a> <span class="st st-ready">ready<\/span>/);
    assert.match(deps, /<li class="missing">MISSING <span class="bad">missing<\/span><\/li>/);
  });
});

test('a second build with identical input writes nothing', () => {
  withOut((out) => {
    const builder = new SiteBuilder(out);
    const list = tasks();
    builder.build(input(list));
    assert.deepEqual(builder.build(input(list)), { written: 0, removed: 0, filesChanged: false });
    assert.deepEqual(builder.build(input(tasks())), { written: 0, removed: 0, filesChanged: false }, 'equal but new task objects');
    assert.deepEqual(new SiteBuilder(out).build(input(tasks())), { written: 0, removed: 0, filesChanged: false }, 'a restarted builder');
  });
});

test('changing one task rewrites its page, the index, its records shard and the data index only', () => {
  withOut((out, read) => {
    const builder = new SiteBuilder(out);
    const list = tasks();
    builder.build(input(list));
    const before = fs.statSync(path.join(out, 'tasks/BETA.html')).mtimeMs;
    list[3] = { ...(list[3] as Task), status: 'blocked' }; // HOSTILE: nothing depends on it
    assert.deepEqual(builder.build(input(list)), { written: 4, removed: 0, filesChanged: false });
    assert.match(read('tasks/HOSTILE.html'), /st-blocked/);
    assert.match(read('index.html'), /<tr data-page="HOSTILE">[^\n]*<span class="st st-blocked">blocked<\/span>/);
    assert.equal(readTasks(out).tasks.find((r) => r.id === 'HOSTILE')?.status, 'blocked');
    assert.equal(fs.statSync(path.join(out, 'tasks/BETA.html')).mtimeMs, before);
  });
});

test('a dependency changing status rewrites the pages that show it', () => {
  withOut((out, read) => {
    const builder = new SiteBuilder(out);
    const list = tasks();
    builder.build(input(list));
    list[0] = { ...(list[0] as Task), status: 'completed' }; // ALPHA, shown on GAMMA's page
    assert.equal(builder.build(input(list)).written, 5, 'ALPHA, GAMMA, the index, the records shard and the data index');
    assert.match(read('tasks/GAMMA.html'), /<a href="ALPHA\.html">ALPHA<\/a> <span class="st st-completed">/);
  });
});

test('removing a task removes its page', () => {
  withOut((out) => {
    const builder = new SiteBuilder(out);
    const list = tasks();
    builder.build(input(list));
    const r = builder.build(input(list.filter((t) => t.id !== 'BETA')));
    assert.equal(r.removed, 1);
    assert.equal(r.filesChanged, true);
    assert.ok(!fs.existsSync(path.join(out, 'tasks/BETA.html')));
    assert.ok(!fs.readFileSync(path.join(out, 'index.html'), 'utf8').includes('BETA.html'));
    // A restarted builder on a folder of its own (the server's) also removes pages of tasks that
    // went away while it was not running; on anyone else's folder (build out=) it removes nothing.
    const kept = new SiteBuilder(out).build(input(list.filter((t) => t.id !== 'ALPHA')));
    assert.deepEqual([kept.removed, fs.existsSync(path.join(out, 'tasks/ALPHA.html'))], [0, true]);
    const again = new SiteBuilder(out, { pruneUnknown: true }).build(input(list.filter((t) => t.id !== 'ALPHA')));
    assert.deepEqual([again.removed, fs.existsSync(path.join(out, 'tasks/ALPHA.html'))], [1, false]);
  });
});

test('the search bodies map each page to its lowercased title and body text', () => {
  withOut((out) => {
    new SiteBuilder(out).build(input(tasks()));
    const search = readSearch(out);
    assert.deepEqual(Object.keys(search).sort(), ['ALPHA', 'BETA', 'GAMMA', 'HOSTILE']);
    assert.match(search['ALPHA'] ?? '', /^alpha ready task .*the zebra escaped/);
  });
  // Accents are folded, so a query typed without them finds the text (the page folds the query the same way).
  assert.equal(searchFold('Écrire la DÉMO, naïve Ångström'), 'ecrire la demo, naive angstrom');
});

test('page names keep [A-Za-z0-9._-] only, and colliding slugs get distinct pages', () => {
  assert.equal(pageName('a b/ä:c.d-e_f'), 'a_b___c.d-e_f');
  assert.equal(pageName('emoji-😀'), 'emoji-_', 'one _ per character, not per UTF-16 unit');
  assert.equal(pageName('.hidden'), '_.hidden');
  withOut((out) => {
    const list = [task('a/SAME.md', { id: 'A' }), task('b/SAME.md', { id: 'B' }), task('c/same.md', { id: 'C' }), task('d/x y.md', { id: 'D' })];
    new SiteBuilder(out).build(input(list));
    assert.deepEqual(fs.readdirSync(path.join(out, 'tasks')).sort(), ['SAME.html', 'SAME_2.html', 'same_3.html', 'x_y.html']);
  });
  // An archived copy with the same file name, first in path order, never takes the active task's page.
  withOut((out, read) => {
    new SiteBuilder(out).build(input([task('archive/tasks/old.md', { id: 'OLD', title: 'Archived copy' }), task('completed/old.md', { id: 'OLD', title: 'Active one' })]));
    assert.match(read('tasks/old.html'), /<h1>Active one<\/h1>/);
    assert.match(read('tasks/old_2.html'), /<h1>Archived copy<\/h1>/);
  });
});

test('before its first tick the health names the owner it is for, and says the heartbeat has not ticked', () => {
  withOut((out, read) => {
    new SiteBuilder(out).build(input(tasks(), { snapshot: undefined, owner: 'dave', heartbeat: { running: true, pid: 4242 } }));
    const health = /<section id="health"[^]*?<\/section>/.exec(read('index.html'))?.[0] ?? '';
    assert.match(health, /<dt>Owner<\/dt><dd>dave<\/dd><dt>Heartbeat<\/dt><dd>running, pid 4242<\/dd><dt>Last tick<\/dt><dd>never: the heartbeat has not ticked yet<\/dd>/);
  });
});

test('health, escalations, ready queue and claims come from the snapshot', () => {
  const snapshot: Snapshot = {
    owner: 'ops', pid: 4242, dir: '/x', tick: 7, tickAt: '2026-03-22T11:00:00.000Z', tickDurationMs: 12, interval: 30,
    nextTickAt: '2026-03-22T11:00:30.000Z', taskCount: 4, counts: {},
    ready: [{ id: 'ALPHA', slug: 'ALPHA', title: 'Alpha ready task', priority: 'p0', path: 'ALPHA.md' }],
    claims: [{ id: 'BETA', slug: 'BETA', path: 'BETA.md', claimedBy: 'ops', claimedAt: '2026-03-22T10:00:00.000Z', startedAt: null,
      worktree: '.worktrees/BETA', pid: 99, pidStart: null, state: 'exited', exitCode: 3, endedAt: null, log: null,
      owner: 'ops', ageS: 3600, worktreeExists: false, pr: 'https://example.invalid/pull/7', ci: 'failing' }],
    escalations: [{ id: 'BETA', reason: 'run exited with code 3', since: '2026-03-22T10:30:00.000Z' }],
    errors: [],
  };
  withOut((out, read) => {
    const builder = new SiteBuilder(out);
    builder.build(input(tasks(), { snapshot, heartbeat: { running: true, pid: 4242 }, errors: [{ path: 'bad.md', reason: 'no frontmatter' }] }));
    const index = read('index.html');
    const health = /<section id="health"[^>]*>/.exec(index)?.[0] ?? '';
    assert.match(health, /class="health warn"/, 'the last tick is an hour (120 intervals) old: stale');
    assert.match(health, /data-tick-at="2026-03-22T11:00:00.000Z" data-interval="30"/);
    assert.match(index, /<section id="escalations"[^]*?<a href="tasks\/BETA.html">BETA<\/a><\/td><td>run exited with code 3/);
    assert.match(index, /<section id="ready">[^]*?<a href="tasks\/ALPHA.html">ALPHA<\/a>/);
    // A snapshot that does not say whether a worktree was expected shows missing neutral, not red.
    assert.match(index, /<section id="claims">[^]*?\.worktrees\/BETA<\/code> <span class="none">missing<\/span>/);
    assert.match(index, /<section id="errors"[^]*?<code>bad\.md<\/code>: no frontmatter/);
    assert.match(read('tasks/BETA.html'), /<section id="escalation" class="warn">/);
    assert.match(read('tasks/BETA.html'), /<section id="claim">[^]*?<dt>Exit code<\/dt><dd><span class="bad">3<\/span>/);
    // The claim's age moves every tick; the page does not depend on it.
    const next = { ...snapshot, claims: snapshot.claims.map((c) => ({ ...c, ageS: c.ageS + 30 })) };
    assert.equal(builder.build(input(tasks(), { snapshot: next, heartbeat: { running: true, pid: 4242 }, errors: [{ path: 'bad.md', reason: 'no frontmatter' }] })).written, 0);
  });
});

/** A snapshot with one claim on BETA; `claim` overrides its fields, `more` the snapshot's. */
function claimSnapshot(claim: Record<string, unknown> = {}, more: Record<string, unknown> = {}): Snapshot {
  return {
    owner: 'ops', pid: 4242, dir: '/x', tick: 7, tickAt: NOW.toISOString(), tickDurationMs: 12, interval: 30,
    nextTickAt: NOW.toISOString(), taskCount: 4, counts: {}, ready: [], escalations: [], errors: [],
    claims: [{ id: 'BETA', slug: 'BETA', path: 'BETA.md', claimedBy: 'ops', claimedAt: '2026-03-22T10:00:00.000Z', startedAt: '2026-03-22T10:00:00.000Z',
      worktree: '/repo/.worktrees/BETA', pid: 99, pidStart: null, state: 'running', exitCode: null, endedAt: null, log: '/repo/tasks/logs/task_manager/runs/BETA.log',
      owner: 'ops', ageS: 60, worktreeExists: false, pr: null, ci: 'unknown', ...claim }],
    ...more,
  } as Snapshot;
}

test('worktrees: missing is red only when expected, "none (worktrees off)" when not, branch, dirty files and commits ahead when known', () => {
  withOut((out, read) => {
    const builder = new SiteBuilder(out);
    builder.build(input(tasks(), { snapshot: claimSnapshot({ worktreeExpected: true }) }));
    assert.match(read('index.html'), /\.worktrees\/BETA<\/code> <span class="bad">missing<\/span>/);
    assert.match(read('tasks/BETA.html'), /<dt>Worktree<\/dt><dd><code>\/repo\/\.worktrees\/BETA<\/code> <span class="bad">missing<\/span>/);
    builder.build(input(tasks(), { snapshot: claimSnapshot({ worktreeExpected: false }) }));
    assert.match(read('index.html'), /<span class="none">none \(worktrees off\)<\/span>/);
    assert.doesNotMatch(read('index.html'), /class="bad">missing/);
    assert.match(read('tasks/BETA.html'), /<dt>Worktree<\/dt><dd><span class="none">none \(worktrees off\)<\/span>/);
    builder.build(input(tasks(), { snapshot: claimSnapshot({ worktreeExpected: true, worktreeExists: true, branch: 'task/BETA', dirtyFiles: 2, ahead: 1, base: `'${HOSTILE}'` }) }));
    const page = read('tasks/BETA.html');
    assert.match(page, /<span class="ok">exists<\/span>/);
    assert.match(page, /<dt>Branch<\/dt><dd><code>task\/BETA<\/code>/);
    assert.match(page, /<dt>Changes<\/dt><dd><span class="dirty">2 dirty files<\/span>/);
    assert.match(text(page), /1 commit ahead of '<img src=x onerror=alert\(1\)>'/);
    assert.ok(!hasHandler(page), 'the base branch name is escaped');
    assert.match(read('index.html'), /<small><code>task\/BETA<\/code> · <span class="dirty">2 dirty files<\/span> · 1 commit ahead of/);
    // Facts the snapshot does not carry are left out, not shown as zero.
    builder.build(input(tasks(), { snapshot: claimSnapshot({ worktreeExists: true, dirtyFiles: 0, ahead: null }) }));
    assert.match(read('tasks/BETA.html'), /<dt>Changes<\/dt><dd><span class="ok">clean<\/span>/);
    assert.doesNotMatch(read('tasks/BETA.html'), /<dt>Branch<\/dt>|<dt>Ahead<\/dt>/);
  });
});

test('"Dispatchable (N)" lists the snapshot\'s dispatchable set (else its ready list); the counts chip keeps the status count', () => {
  withOut((out, read) => {
    const alpha = { id: 'ALPHA', slug: 'ALPHA', title: 'Alpha ready task', priority: 'p0', path: 'ALPHA.md' };
    const builder = new SiteBuilder(out);
    builder.build(input(tasks(), { snapshot: claimSnapshot({}, { ready: [alpha] }) }));
    assert.match(read('index.html'), /<section id="ready"><h2>Dispatchable \(1\)<\/h2><ol><li><a href="tasks\/ALPHA.html">ALPHA<\/a>/);
    builder.build(input(tasks(), { snapshot: claimSnapshot({}, { ready: [alpha], dispatchable: [] }) }));
    const index = read('index.html');
    assert.match(index, /<h2>Dispatchable \(0\)<\/h2><p class="none">Nothing to dispatch/);
    assert.match(index, /<b>1<\/b> ready<\/a>/, 'the counts still count the status');
    assert.doesNotMatch(index, /Ready queue/);
  });
});

test('pr: a number links to the pull request on the git remote; CI comes from the frontmatter, else from the snapshot', () => {
  withOut((out, read) => {
    const list = [...tasks(), task('NUM.md', { id: 'NUM', title: 'By number', status: 'review', pr: '123' }), task('OWNCI.md', { id: 'OWNCI', title: 'Own CI', pr: "'#9'", ci: 'passing' })];
    const ci = { NUM: { state: 'failing', checkedAt: NOW.toISOString() }, OWNCI: { state: 'failing', checkedAt: NOW.toISOString() }, BETA: { state: 'nonsense' } };
    const builder = new SiteBuilder(out);
    builder.build(input(list, { snapshot: claimSnapshot({}, { ci }) }));
    assert.match(read('tasks/NUM.html'), /<section id="pr"><h2>Pull request<\/h2><p>#123 <span class="ci ci-failing">failing<\/span>/, 'no remote: the number, no link');
    builder.build(input(list, { snapshot: claimSnapshot({}, { ci }), remote: { host: 'github.com', repo: 'acme/widgets' } }));
    assert.match(read('tasks/NUM.html'), /<a href="https:\/\/github.com\/acme\/widgets\/pull\/123" rel="noreferrer">#123<\/a> <span class="ci ci-failing">failing<\/span>/);
    assert.match(read('index.html'), /<tr data-page="NUM">[^\n]*<a href="https:\/\/github.com\/acme\/widgets\/pull\/123" rel="noreferrer">#123<\/a> <span class="ci ci-failing">/);
    assert.match(read('tasks/OWNCI.html'), /pull\/9" rel="noreferrer">#9<\/a> <span class="ci ci-passing">passing<\/span>/, 'frontmatter ci wins');
    assert.match(read('tasks/BETA.html'), /pull\/7" rel="noreferrer">#7<\/a> <span class="ci ci-failing">failing/, 'an unknown gh state is ignored');
    assert.match(read('tasks/HOSTILE.html'), /<p>javascript:alert\(4\) <span class="ci/);
    assert.doesNotMatch(read('tasks/HOSTILE.html'), /href="javascript:/);
  });
});

test('a task page shows its run log tail escaped; a failed run its exit code, the tail first and the retry command', () => {
  withOut((out, read) => {
    const lines = Array.from({ length: 250 }, (_, i) => `line ${i + 1}`);
    lines.push(`'${HOSTILE}'`, '\u001b[31mred\u001b[0m and a bell \u0007');
    const tail = { path: '/repo/tasks/logs/task_manager/runs/BETA.log', log: '1:2', end: 4000, lines: lines.slice(-200), partial: true, truncated: true };
    const builder = new SiteBuilder(out);
    builder.build(input(tasks(), { snapshot: claimSnapshot(), runLogs: new Map([['BETA', tail]]), api: true }));
    let page = read('tasks/BETA.html');
    assert.match(page, /<section id="runlog" data-log="1:2" data-end="4000" data-partial="1">/);
    assert.match(page, /last 200 lines<\/span> · <a href="\.\.\/api\/tasks\/BETA\/log\.txt" rel="nofollow">full log<\/a>/);
    const pre = /<pre id="runlog-lines"[^>]*>([^]*?)<\/pre>/.exec(page)?.[1] ?? '';
    assert.equal(text(pre).split('\n').length, 200);
    assert.match(text(pre), /^line 53\n[^]*\n'<img src=x onerror=alert\(1\)>'\nred and a bell ␇$/);
    assert.ok(!hasHandler(page));
    assert.doesNotMatch(page, /run-failed/);
    assert.ok(page.indexOf('id="claim"') < page.indexOf('id="runlog"'), 'a running log comes after the claim');
    builder.build(input(tasks(), { snapshot: claimSnapshot({ state: 'exited', exitCode: 3, endedAt: NOW.toISOString(), pid: null }), runLogs: new Map([['BETA', tail]]), api: false }));
    page = read('tasks/BETA.html');
    assert.match(text(page), /Run failed\s*The run ended with exit code 3, ended/);
    assert.match(page, /<code>just tasks retry id=BETA<\/code>/);
    assert.match(page, /<section id="runlog" class="warn"/);
    assert.ok(page.indexOf('id="run-failed"') < page.indexOf('id="runlog"') && page.indexOf('id="runlog"') < page.indexOf('id="claim"'), 'a failed run shows its log first');
    assert.doesNotMatch(page, /full log/, 'a built copy has no API to link to');
  });
});

/** n generated tasks in memory, as the scanner would return them: owners, labels, due dates, and every 30th archived. */
function generated(n: number): Task[] {
  const statuses = ['draft', 'todo', 'ready', 'In Progress', 'blocked', 'review', 'completed', 'cancelled'];
  return Array.from({ length: n }, (_, i) => task(`${i % 30 === 29 ? 'archive/' : ''}area-${Math.floor(i / 100)}/GEN-${i}.md`, {
    id: `GEN-${i}`, title: `Generated task number ${i} with a realistic title`, status: statuses[i % 8] as string, priority: `p${i % 4}`,
    milestone: `m${i % 5}-milestone`, assignee: `[agent-${i % 7}, '@Lead-${i % 3}']`, labels: `[area-${i % 11}, kind-${i % 4}]`,
    due: `2026-0${1 + (i % 9)}-1${i % 10}`, created: '2026-01-02 10:00',
  }, `## Problem\nTask ${i} needs doing. ${'Lorem ipsum dolor sit amet. '.repeat(8)}\n\n## Plan\n- [x] one\n- [ ] two\n`));
}

test('the index of 10,000 tasks carries the first page of the default view only and stays under 300 KB raw; the data files have every task', () => {
  const list = generated(10_000);
  const errors = Array.from({ length: 700 }, (_, i) => ({ path: `broken/bad-${i}.md`, reason: 'assignee must be a single value, got a list' }));
  // Every third task escalated, and the parse errors among the escalations as the heartbeat reports them.
  const escalations = [...list.filter((_, i) => i % 3 === 0).map((t) => ({ id: t.id, reason: 'status blocked', since: NOW.toISOString() })),
    ...errors.map((e) => ({ id: e.path, reason: `parse error: ${e.reason}`, since: NOW.toISOString() }))];
  withOut((out, read) => {
    new SiteBuilder(out).build(input(list, { errors, snapshot: claimSnapshot({}, { escalations }) }));
    const index = read('index.html');
    // The transfer budget of the first paint is 300 KB; the raw bytes staying under it hold it with no compression at all.
    assert.ok(Buffer.byteLength(index) <= 300_000, `index.html is ${Buffer.byteLength(index)} bytes`);
    const rows = [...index.matchAll(/<tr data-page="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(list.some((t) => t.archived), 'the fixture has archived tasks');
    // Open work first: the in-progress tasks (every 8th, all p3) come first, by id in natural order.
    const working = list.filter((t, i) => !t.archived && i % 8 === 3).map((t) => t.slug);
    assert.deepEqual(rows, working.slice(0, 100), 'the first 100 tasks of the default view (archived ones hidden), open work first');
    assert.match(index, /The first 100 of 9667 tasks; the others, the filters and the board load with JavaScript\./);
    const doc = readTasks(out);
    assert.equal(doc.tasks.length, 10_000);
    assert.equal(fs.readdirSync(path.join(out, 'data')).length, 1 + 2 * 64, '10,000 tasks: 64 shards of each');
    assert.equal(doc.tasks.filter((r) => r.archived).length, 333);
    assert.match(index, new RegExp(`<tbody data-v="${doc.version}" data-s="[^"]+" data-total="10000" data-first="`));
    const escRows = /<section id="escalations"[^]*?<\/section>/.exec(index)?.[0] ?? '';
    assert.equal(escRows.match(/<tr>/g)?.length, 1 + 50, 'a header and the first 50 escalations');
    assert.match(escRows, /<h2>Escalations \(4034\)<\/h2>/, '3,334 tasks and 700 parse errors');
    assert.match(escRows, /<a href="\?escalated=1#all" data-escalated="1">every escalated task in the list<\/a>/);
    assert.equal(doc.tasks.filter((r) => r.escalated).length, 3334);
  });
});

test('a parse error is listed once, under Parse errors, folded past 10; the escalations count it without listing it', () => {
  const errors = Array.from({ length: 12 }, (_, i) => ({ path: `bad-${String(i).padStart(2, '0')}.md`, reason: `broken ${i}` }));
  const escalations = [{ id: 'BETA', reason: 'status blocked', since: NOW.toISOString() },
    ...errors.map((e) => ({ id: e.path, reason: `parse error: ${e.reason}`, since: NOW.toISOString() }))];
  withOut((out, read) => {
    const builder = new SiteBuilder(out);
    builder.build(input(tasks(), { errors, snapshot: claimSnapshot({}, { escalations }) }));
    const index = read('index.html');
    for (const e of errors) assert.equal(index.split(e.path).length - 1, 1, `${e.path} appears once`);
    const esc = /<section id="escalations"[^]*?<\/section>/.exec(index)?.[0] ?? '';
    assert.match(esc, /<h2>Escalations \(13\)<\/h2>/);
    assert.match(text(esc), /12 parse errors: listed under Parse errors\./);
    assert.match(esc, /<a href="#errors">Parse errors<\/a>/);
    const section = /<section id="errors"[^]*?<\/section>/.exec(index)?.[0] ?? '';
    assert.match(section, /<h2>Parse errors \(12\)<\/h2><ul>(<li><code>bad-0\d\.md<\/code>: broken \d<\/li>){10}<\/ul><details><summary>2 more parse errors<\/summary><ul><li><code>bad-10\.md<\/code>/);
    // Ten or fewer: nothing folded.
    builder.build(input(tasks(), { errors: errors.slice(0, 10) }));
    assert.doesNotMatch(read('index.html'), /<details>/);
    builder.build(input(tasks(), { errors: [] }));
    assert.match(read('index.html'), /<h2>Escalations \(0\)<\/h2><p class="none">No snapshot yet/);
  });
});

test('docs, decisions and milestones each get a section linking their pages, never rows of the task list', () => {
  const docs = [
    { kind: 'doc', id: 'doc-1', title: 'Architecture', slug: 'doc-1 - Architecture', path: 'docs/doc-1 - Architecture.md', body: '# Architecture\n', archived: false, fields: {} },
    { kind: 'decision', id: 'decision-2', title: `'${HOSTILE}'`, slug: 'decision-2', path: 'decisions/decision-2.md', body: '', archived: false, fields: {} },
    { kind: 'milestone', id: 'm1', title: 'First pilot', slug: 'm1', path: 'milestones/m1.md', body: '', archived: false, fields: {} },
    { kind: 'doc', id: 'doc-3', title: 'Runbook', slug: 'doc-3', path: 'archive/docs/doc-3.md', body: '', archived: true, fields: {} },
  ] as const;
  withOut((out, read) => {
    const builder = new SiteBuilder(out);
    builder.build(input(tasks(), { docs }));
    const index = read('index.html');
    assert.match(index, /<section id="docs"><h2>Docs \(2\)<\/h2><ul><li><a href="docs\/doc-1_-_Architecture\.html">Architecture<\/a> <code>doc-1<\/code><\/li><li><a href="docs\/doc-3\.html">Runbook<\/a> <code>doc-3<\/code> <span class="chip arch">archived<\/span><\/li>/);
    assert.match(index, /<section id="decisions"><h2>Decisions \(1\)<\/h2><ul><li><a href="decisions\/decision-2\.html">&#39;&lt;img src=x onerror=alert\(1\)&gt;&#39;<\/a>/);
    assert.match(index, /<section id="milestones"><h2>Milestones \(1\)<\/h2><ul><li><a href="milestones\/m1\.html">First pilot<\/a>/);
    assert.ok(!hasHandler(index));
    for (const id of ['doc-1', 'decision-2', 'm1']) assert.doesNotMatch(index, new RegExp(`<tr data-page="${id}"`));
    assert.deepEqual(readTasks(out).tasks.map((r) => r.id), ['ALPHA', 'BETA', 'GAMMA', 'HOSTILE']);
    assert.match(index, /<a href="#docs">Docs<\/a>/);
    builder.build(input(tasks()));
    assert.match(read('index.html'), /<section id="docs" hidden>/);
    assert.match(read('index.html'), /<a href="#docs" hidden>Docs<\/a>/);
  });
});

test('the navigation bar comes first and links the list, the board and every section of the index', () => {
  withOut((out, read) => {
    new SiteBuilder(out).build(input(tasks()));
    const index = read('index.html');
    const nav = /<nav id="nav" aria-label="Sections">([^]*?)<\/nav>/.exec(index);
    assert.ok(nav !== null && nav.index < index.indexOf('<main>'), 'the nav comes before the sections');
    const hrefs = [...(nav[1] ?? '').matchAll(/href="([^"]*)"/g)].map((m) => m[1] as string);
    assert.deepEqual(hrefs.slice(0, 4), ['#all', '?view=board#all', '#escalations', '#errors']);
    for (const href of hrefs) assert.match(index, new RegExp(`<section id="${href.replace(/^.*#/, '')}"`), `${href} leads to a section`);
  });
});
