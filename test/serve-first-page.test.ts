// The first page first: a cold serve shows `/` and answers /api/tasks from the whole model while its
// task pages are still to render (held with TASKS_PAGES_HOLD); a task page asked for meanwhile is
// rendered next and answered 200; /api/health says stale until every page is on disk, then current.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, test } from 'node:test';
import { holdBuild } from './build-hold.ts';
import { type Folder, cliEnv, serveBare, stopServe, waitUntil, waitUntilAsync, withTempFolder } from './helpers.ts';

const withFolder = (fn: (t: Folder) => Promise<void>): Promise<void> => withTempFolder('first', fn);

/** One GET (no compression asked for), with a generous timeout: a pending page's request waits for its render. */
function get(url: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`no answer from ${url} in 60 s`)));
    req.on('error', reject);
  });
}

/** The version of the first search shard the data index names. */
const searchVersion = async (base: string): Promise<string> => (JSON.parse((await get(`${base}/data/index.json`)).body) as { bodies: string[] }).bodies[0] as string;

/** MANY-7 gets a word in its body, the rest of its file as writeTasks wrote it. */
const addKiwi = (t: Folder): void => fs.writeFileSync(path.join(t.dir, 'MANY-7.md'), '---\nid: MANY-7\ntitle: Many number 7\nstatus: ready\n---\n## Problem\nA kiwi now.\n');

/** Waits for the data index to name a search version other than `before`, then checks that shard 0 of that version has MANY-7's word. */
async function expectKiwiShard(base: string, before: string, what: string): Promise<void> {
  const now = await waitUntilAsync(async () => { const v = await searchVersion(base); return v !== before ? v : undefined; }, what, 60_000);
  const r = await get(`${base}/data/search-0.json?v=${now}`);
  assert.equal(r.status, 200, r.body.slice(0, 200));
  assert.match((JSON.parse(r.body) as Record<string, string>)['MANY-7'] ?? '', /a kiwi now/, 'the shard of the version the data index names');
}

const build = async (base: string): Promise<string> => (JSON.parse((await get(`${base}/api/health`)).body) as { build: string }).build;
const siteOf = (t: Folder): string => path.join(t.dir, 'logs', 'task_manager', `site-${t.owner}`);

/** n tasks besides FIRST-TASK: MANY-1 … MANY-n. */
function writeTasks(t: Folder, n: number): void {
  for (let i = 1; i <= n; i++) fs.writeFileSync(path.join(t.dir, `MANY-${i}.md`), `---\nid: MANY-${i}\ntitle: Many number ${i}\nstatus: ready\n---\n## Problem\nBody of ${i}.\n`);
}

/** A serve whose background task pages wait while the hold file exists (build-worker.ts); release() lets them go. */
async function serveHeld(t: Folder): Promise<{ s: Awaited<ReturnType<typeof serveBare>>['s']; base: string; release: () => void }> {
  const hold = path.join(t.root, 'pages-hold');
  fs.writeFileSync(hold, '');
  const { s, base } = await serveBare(t, [], cliEnv({ TASKS_PAGES_HOLD: hold }));
  return { s, base, release: () => fs.rmSync(hold, { force: true }) };
}

describe('the first page before the task pages', () => {
  test('/ lists tasks and /api/tasks is whole while task pages are pending; a pending page asked for is answered 200; stale, then current', () => withFolder(async (t) => {
    writeTasks(t, 30);
    const { s, base, release } = await serveHeld(t);
    try {
      const index = await waitUntilAsync(async () => {
        const r = await get(`${base}/`);
        return r.status === 200 && !r.body.includes('data-building') ? r.body : undefined;
      }, 'the index to list tasks', 60_000);
      assert.match(index, /Many number 17/);
      const api = await get(`${base}/api/tasks`);
      assert.equal(api.status, 200);
      const ids = (JSON.parse(api.body) as { tasks: { id: string }[] }).tasks.map((x) => x.id).sort();
      assert.equal(ids.length, 31, 'the API answers from the whole model');
      assert.equal(await build(base), 'stale', 'task pages are still to render');
      const page = path.join(siteOf(t), 'tasks', 'MANY-17.html');
      assert.equal(fs.existsSync(page), false, 'the page is pending, not on disk');
      // Asked for: rendered next, answered with the page (not a 404, not the "being built" page).
      const r = await get(`${base}/tasks/MANY-17.html`);
      assert.equal(r.status, 200);
      assert.match(r.body, /Many number 17/);
      assert.match(r.body, /Body of 17/);
      assert.doesNotMatch(r.body, /data-building/);
      assert.equal(fs.existsSync(page), true);
      assert.equal(fs.existsSync(path.join(siteOf(t), 'tasks', 'MANY-18.html')), false, 'the others still wait');
      assert.equal(await build(base), 'stale');
      release();
      await waitUntilAsync(async () => (await build(base)) === 'current', 'every page on disk (build current)', 60_000);
      for (let i = 1; i <= 30; i++) assert.equal(fs.existsSync(path.join(siteOf(t), 'tasks', `MANY-${i}.html`)), true, `MANY-${i}.html`);
      const other = await get(`${base}/tasks/MANY-29.html`);
      assert.equal(other.status, 200);
      assert.match(other.body, /Many number 29/);
      assert.equal((await get(`${base}/tasks/NO-SUCH-TASK.html`)).status, 404, 'a page no task has is a 404 once the build is current');
    } finally {
      release();
      await stopServe(s);
    }
  }));

  test('a task changed while its page is pending: the page asked for shows the change', () => withFolder(async (t) => {
    writeTasks(t, 5);
    const { s, base, release } = await serveHeld(t);
    try {
      await waitUntilAsync(async () => {
        const r = await get(`${base}/`);
        return r.status === 200 && r.body.includes('Many number 3');
      }, 'the index to list tasks', 60_000);
      fs.writeFileSync(path.join(t.dir, 'MANY-3.md'), '---\nid: MANY-3\ntitle: Renamed while pending\nstatus: ready\n---\nNew body.\n');
      await waitUntilAsync(async () => (await get(`${base}/`)).body.includes('Renamed while pending'), 'the index to show the change', 60_000);
      assert.equal(fs.existsSync(path.join(siteOf(t), 'tasks', 'MANY-3.html')), false, 'still pending');
      const r = await get(`${base}/tasks/MANY-3.html`);
      assert.equal(r.status, 200);
      assert.match(r.body, /Renamed while pending/);
      assert.match(r.body, /New body/);
    } finally {
      release();
      await stopServe(s);
    }
  }));

  test('the tasks folder moved away while pages are pending: the build thread waits (no busy loop), and renders them once it is back', () => withFolder(async (t) => {
    writeTasks(t, 300);
    const { s, base, release } = await serveHeld(t);
    const away = `${t.dir}-away`;
    try {
      await waitUntilAsync(async () => (await get(`${base}/`)).body.includes('Many number 17'), 'the index to list tasks', 60_000);
      assert.equal(await build(base), 'stale', 'task pages are still to render');
      fs.renameSync(t.dir, away);
      release();
      // A thread going round renderPending -> nothing -> report without end used whole CPUs (the
      // worker and the server's thread taking its reports): seconds of CPU time in these 4 s.
      const cpu = (): number => {
        const stat = fs.readFileSync(`/proc/${s.child.pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return (Number(f[11]) + Number(f[12])) / 100;
      };
      await new Promise((r) => setTimeout(r, 500));
      const before = cpu();
      await new Promise((r) => setTimeout(r, 4000));
      const used = cpu() - before;
      assert.ok(used < 2, `the server used ${used.toFixed(2)} s of CPU in 4 s with its tasks folder gone`);
      fs.renameSync(away, t.dir);
      await waitUntilAsync(async () => (await build(base)) === 'current', 'every page on disk once the folder is back', 90_000);
      for (const i of [1, 150, 300]) assert.equal(fs.existsSync(path.join(siteOf(t), 'tasks', `MANY-${i}.html`)), true, `MANY-${i}.html`);
    } finally {
      release();
      if (fs.existsSync(away) && !fs.existsSync(t.dir)) fs.renameSync(away, t.dir);
      await stopServe(s);
    }
  }));

  test('a link put in the place of the build folder\'s tasks/ while pages are pending loses none of them: once it is gone, every page is written', () => withFolder(async (t) => {
    writeTasks(t, 40);
    const { s, base, release } = await serveHeld(t);
    const tasks = path.join(siteOf(t), 'tasks');
    const elsewhere = path.join(t.root, 'elsewhere');
    try {
      await waitUntilAsync(async () => (await get(`${base}/`)).body.includes('Many number 17'), 'the index to list tasks', 60_000);
      fs.mkdirSync(elsewhere);
      fs.rmSync(tasks, { recursive: true, force: true });
      fs.symlinkSync(elsewhere, tasks);
      release();
      // The slices refuse to write through the link (the pages stay to come); nothing lands elsewhere.
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(fs.readdirSync(elsewhere), []);
      fs.rmSync(tasks);
      // A change to any task builds again: every page is rendered, none lost to the failed slices.
      fs.writeFileSync(path.join(t.dir, 'MANY-1.md'), '---\nid: MANY-1\ntitle: Many number 1 again\nstatus: ready\n---\nBody.\n');
      await waitUntilAsync(async () => (await build(base)) === 'current' && fs.existsSync(path.join(tasks, 'MANY-40.html')), 'every page on disk', 90_000);
      for (let i = 1; i <= 40; i++) assert.equal(fs.existsSync(path.join(tasks, `MANY-${i}.html`)), true, `MANY-${i}.html`);
      assert.equal((await get(`${base}/tasks/MANY-23.html`)).status, 200);
    } finally {
      release();
      await stopServe(s);
    }
  }));

  test('the search shards follow the index: one asked for while it is pending is written then and answered 200, with every task of its shard', () => withFolder(async (t) => {
    writeTasks(t, 30);
    const { s, base, release } = await serveHeld(t);
    try {
      await waitUntilAsync(async () => {
        const r = await get(`${base}/`);
        return r.status === 200 && !r.body.includes('data-building') ? r.body : undefined;
      }, 'the index to list tasks', 60_000);
      const index = JSON.parse((await get(`${base}/data/index.json`)).body) as { bodies: string[] };
      assert.equal(index.bodies.length, 1);
      const shard = path.join(siteOf(t), 'data', 'search-0.json');
      assert.equal(fs.existsSync(shard), false, 'the search shard is pending, not on disk');
      const r = await get(`${base}/data/search-0.json?v=${index.bodies[0] as string}`);
      assert.equal(r.status, 200, r.body.slice(0, 200));
      const bodies = JSON.parse(r.body) as Record<string, string>;
      assert.equal(Object.keys(bodies).length, 31);
      assert.match(bodies['MANY-17'] ?? '', /many number 17 .*body of 17/);
      assert.equal(fs.existsSync(shard), true);
    } finally {
      release();
      await stopServe(s);
    }
  }));

  test('a task whose body alone changed shows its new body on its page and in search (the build thread keeps a digest of each body, not the body)', () => withFolder(async (t) => {
    writeTasks(t, 3);
    const { s, base } = await serveBare(t, []);
    try {
      await waitUntilAsync(async () => (await build(base)) === 'current' || undefined, 'every page on disk (build current)', 60_000);
      const file = path.join(t.dir, 'MANY-2.md');
      const before = fs.readFileSync(file, 'utf8');
      fs.writeFileSync(file, before.replace('Body of 2.', 'A rewritten body, nothing else changed.'));
      const page = path.join(siteOf(t), 'tasks', 'MANY-2.html');
      await waitUntil(() => fs.readFileSync(page, 'utf8').includes('A rewritten body'), 'the page to show the new body', 60_000);
      await waitUntilAsync(async () => (await build(base)) === 'current' || undefined, 'the build current again', 60_000);
      const search = (await get(`${base}/data/search-0.json`)).body;
      assert.match(search, /a rewritten body, nothing else changed/);
      assert.doesNotMatch(search, /body of 2\b/);
    } finally {
      await stopServe(s);
    }
  }));

  test('after a restart, a search shard whose tasks changed meanwhile is never answered from its old file: asked for while pending, it is written first, with the change', () => withFolder(async (t) => {
    writeTasks(t, 30);
    const first = await serveBare(t, []);
    let before = '';
    try {
      await waitUntilAsync(async () => (await build(first.base)) === 'current' || undefined, 'every file on disk (build current)', 60_000);
      before = await searchVersion(first.base);
    } finally {
      await stopServe(first.s);
    }
    const shard = path.join(siteOf(t), 'data', 'search-0.json');
    assert.doesNotMatch(fs.readFileSync(shard, 'utf8'), /kiwi/);
    addKiwi(t);
    const { s, base, release } = await serveHeld(t);
    try {
      // The previous build is served until the new one is in: then the data index names the shard's new version.
      await expectKiwiShard(base, before, 'the data index of the new build');
    } finally {
      release();
      await stopServe(s);
    }
  }));

  test('a search shard written, then changed: while its new text is pending, the old file is not answered for the new version', () => withFolder(async (t) => {
    writeTasks(t, 30);
    const { s, base, release } = await serveHeld(t);
    try {
      await waitUntilAsync(async () => (await get(`${base}/`)).body.includes('Many number 7') || undefined, 'the index to list tasks', 60_000);
      const before = await searchVersion(base);
      // Asked for, so written (the background is held): the server lists it.
      assert.doesNotMatch((await get(`${base}/data/search-0.json?v=${before}`)).body, /kiwi/);
      addKiwi(t);
      await expectKiwiShard(base, before, 'the data index to name the new version');
    } finally {
      release();
      await stopServe(s);
    }
  }));

  test('a task page whose write failed (a folder was in its place) answers 200 once the way is clear, not 404 because the build says current', () => withFolder(async (t) => {
    writeTasks(t, 5);
    const { s, base, release } = await serveHeld(t);
    try {
      await waitUntilAsync(async () => (await get(`${base}/`)).body.includes('Many number 3') || undefined, 'the index to list tasks', 60_000);
      // A folder, not empty, where the page goes: renaming the page into place fails.
      const page = path.join(siteOf(t), 'tasks', 'MANY-3.html');
      fs.mkdirSync(page, { recursive: true });
      fs.writeFileSync(path.join(page, 'x'), 'x');
      release();
      // Written by a slice of pages ("pages failed") or, when a rebuild comes first, with it ("rebuild failed").
      await waitUntil(() => /dashboard (pages|rebuild) failed: .*MANY-3\.html/.test(s.output()), () => `the failed write logged:\n${s.output()}`, 60_000);
      await waitUntilAsync(async () => (await build(base)) === 'current' || undefined, 'the build to say current', 60_000);
      fs.rmSync(page, { recursive: true });
      const r = await get(`${base}/tasks/MANY-3.html`);
      assert.equal(r.status, 200, r.body.slice(0, 200));
      assert.match(r.body, /Many number 3/);
      assert.equal((await get(`${base}/tasks/NO-SUCH-TASK.html`)).status, 404, 'a page no task has is still a 404');
    } finally {
      release();
      await stopServe(s);
    }
  }));

  test('after a restart, a task page the last server never wrote, asked for before the new build has read the folder, waits for that build and answers 200', () => withFolder(async (t) => {
    writeTasks(t, 5);
    // The last server stops before writing any task page.
    const last = await serveHeld(t);
    try {
      await waitUntilAsync(async () => (await get(`${last.base}/`)).body.includes('Many number 3') || undefined, 'the index to list tasks', 60_000);
    } finally {
      await stopServe(last.s);
      last.release();
    }
    const page = path.join(siteOf(t), 'tasks', 'MANY-3.html');
    assert.equal(fs.existsSync(page), false);
    // The new server shows the last one's index at once; its own build waits for the test.
    const hold = holdBuild(t);
    const { s, base } = await serveBare(t, [], hold.env);
    try {
      await waitUntilAsync(async () => (await get(`${base}/`)).body.includes('Many number 3') || undefined, 'the last index served', 60_000);
      const answer = get(`${base}/tasks/MANY-3.html`);
      // The request reaches the held build thread first (a pause, not a condition the test asserts on).
      await new Promise((r) => setTimeout(r, 500));
      hold.release();
      const r = await answer;
      assert.equal(r.status, 200, r.body.slice(0, 200));
      assert.match(r.body, /Many number 3/);
    } finally {
      hold.release();
      await stopServe(s);
    }
  }));
});
