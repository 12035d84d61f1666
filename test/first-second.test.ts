// Every answer is true from the first second of serve: each API route answers from the complete task
// model or 503 with Retry-After (never a false empty list or a false 404), and `/` shows tasks only
// once /api/tasks has them.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import getPort from 'get-port';
import type { Browser } from 'playwright-core';
import { holdBuild } from './build-hold.ts';
import { hello } from './event-hello.ts';
import { launchChromium, openQuiet } from './chromium.ts';
import { type Folder, SCRIPT, TSX, cli, cliEnv, start, stopServe, waitUntilAsync, withTempFolder } from './helpers.ts';

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

/** One request on a fresh connection; undefined while nothing listens on the port yet. */
function get(url: string): Promise<Reply | undefined> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer from ${url} within 10 s`)));
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? resolve(undefined) : reject(err)));
  });
}

/** True for the answer of a model still being built: 503, Retry-After, and a JSON body that says so. */
function isBuilding(r: Reply): boolean {
  if (r.status !== 503 || r.headers['retry-after'] !== '1' || !/^application\/json/.test(r.headers['content-type'] ?? '')) return false;
  const doc = JSON.parse(r.body) as { error?: unknown; building?: unknown; retryAfter?: unknown };
  return doc.building === true && doc.retryAfter === 1 && typeof doc.error === 'string' && /being built/.test(doc.error);
}

/** A folder of `n` tasks whose one ready task has run once (a real run log, registry and snapshot); the others are todo. */
async function ranOnce(t: Folder, n: number, known: string): Promise<{ ids: string[]; log: string; snapshot: string }> {
  fs.rmSync(path.join(t.dir, 'FIRST-TASK.md'));
  const ids: string[] = [];
  for (let i = 1; i <= n; i++) {
    const id = `T-${String(i).padStart(4, '0')}`;
    ids.push(id);
    const status = id === known ? 'ready' : 'todo';
    fs.writeFileSync(path.join(t.dir, `${id}.md`), `---\nid: ${id}\ntitle: Task number ${i}\nstatus: ${status}\npriority: p2\n---\n## Problem\nBody of ${id}.\n`);
  }
  const r = await cli(['heartbeat', `owner=${t.owner}`, `dir=${t.dir}`, '--once', 'dispatch=echo "hello from $TASK_ID"'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const state = path.join(t.dir, 'logs', 'task_manager');
  return {
    ids,
    log: fs.readFileSync(path.join(state, 'runs', `${known}.log`), 'utf8'),
    snapshot: fs.readFileSync(path.join(state, `task-manager-${t.owner}.snapshot.json`), 'utf8'),
  };
}

/** Starts serve without waiting for anything: the caller polls from the first byte. */
async function serveNow(t: Folder, env: Record<string, string> = cliEnv()): Promise<{ s: ReturnType<typeof start>; base: string }> {
  const port = await getPort({ host: '127.0.0.1' });
  const s = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', `owner=${t.owner}`, `dir=${t.dir}`, `port=${port}`, '--no-heartbeat'], { env });
  t.extra.push(s.child.pid as number);
  return { s, base: `http://127.0.0.1:${port}` };
}

/** Serves once until its pages are built, then starts serve again with its build held, and waits for its port. */
async function restartHeld(t: Folder): Promise<{ s: ReturnType<typeof start>; base: string; hold: ReturnType<typeof holdBuild> }> {
  const first = await serveNow(t);
  await first.s.waitFor(/serving tasks/);
  await stopServe(first.s);
  const hold = holdBuild(t);
  const { s, base } = await serveNow(t, hold.env);
  await waitUntilAsync(() => get(`${base}/api/health`), 'the port to answer');
  return { s, base, hold };
}

describe('true from the first second', () => {
  test('while the first build is held: every task route answers 503 with Retry-After, the snapshot from its file, health names the model building, and / waits for the model', () => withTempFolder('first', async (t) => {
    const known = 'T-0002';
    const facts = await ranOnce(t, 3, known);
    const hold = holdBuild(t);
    const { s, base } = await serveNow(t, hold.env);
    const health = await waitUntilAsync(() => get(`${base}/api/health`), 'the port to answer');
    for (const route of ['/api/tasks', `/api/tasks/${known}`, '/api/tasks/NO-SUCH-TASK', `/api/tasks/${known}/log`, `/api/tasks/${known}/log.txt`]) {
      const r = await get(base + route) as Reply;
      assert.ok(isBuilding(r), `${route}: ${r.status} ${JSON.stringify(r.headers)} ${r.body}`);
    }
    assert.equal(health.status, 503, 'no heartbeat: 503 as ever');
    assert.equal((JSON.parse(health.body) as { api?: unknown }).api, 'building');
    const snap = await get(`${base}/api/snapshot`) as Reply;
    assert.deepEqual([snap.status, snap.body], [200, facts.snapshot], 'the snapshot is a whole file of its own');
    assert.equal((await get(`${base}/api/nothing-here`))?.status, 404, 'a route that does not exist is a true 404');
    // The build's writer puts the index down before the model reaches the server's thread:
    // an index that appears before the model is not served.
    const site = path.join(t.dir, 'logs', 'task_manager', `site-${t.owner}`);
    fs.mkdirSync(site, { recursive: true });
    fs.writeFileSync(path.join(site, 'index.html'), '<!doctype html><title>written before the model</title>\n<!--v:AAAAAAAAAAAAAAAA-->\n');
    const page = await get(`${base}/`) as Reply;
    assert.equal(page.status, 503, page.body);
    assert.equal(page.headers['retry-after'], '1');
    assert.match(page.body, /is being built/);
    assert.equal((await hello(base, '/')).page, null, 'the "being built" page must not hear of a page to reload into');
    assert.equal((JSON.parse((await get(`${base}/api/health`) as Reply).body) as { build?: unknown }).build, 'building');
    hold.release();
    const tasks = await waitUntilAsync(async () => { const r = await get(`${base}/api/tasks`); return r?.status === 200 ? r : undefined; }, '/api/tasks to answer 200');
    assert.deepEqual((JSON.parse(tasks.body) as { tasks: { id: string }[] }).tasks.map((x) => x.id), facts.ids);
    assert.equal(JSON.parse((await get(`${base}/api/tasks/${known}`) as Reply).body).id, known);
    assert.equal((await get(`${base}/api/tasks/NO-SUCH-TASK`))?.status, 404);
    assert.ok((JSON.parse((await get(`${base}/api/tasks/${known}/log`) as Reply).body) as { lines: string[] }).lines.includes(`hello from ${known}`));
    assert.equal((await get(`${base}/api/tasks/${known}/log.txt`))?.body, facts.log);
    assert.equal((JSON.parse((await get(`${base}/api/health`) as Reply).body) as { api?: unknown }).api, 'ready');
    assert.equal((await get(`${base}/`))?.status, 200);
    await stopServe(s);
  }));

  test('a restarted serve shows its previous pages at once, while the API answers 503 until its model is built', () => withTempFolder('first', async (t) => {
    const { s, base, hold } = await restartHeld(t);
    assert.equal((await get(`${base}/`))?.status, 200, 'the previous build is served');
    assert.ok(isBuilding(await get(`${base}/api/tasks`) as Reply));
    assert.ok(isBuilding(await get(`${base}/api/tasks/FIRST-TASK`) as Reply));
    hold.release();
    await waitUntilAsync(async () => (await get(`${base}/api/tasks/FIRST-TASK`))?.status === 200, 'the task to answer 200');
    await stopServe(s);
  }));

  test('/api/snapshot answers from the file alone, never through a symlink a repository committed in its place', () => withTempFolder('first', async (t) => {
    const victim = path.join(t.root, 'operator-secret.json');
    fs.writeFileSync(victim, '{"owner": "operator-secret"}\n');
    const state = path.join(t.dir, 'logs', 'task_manager');
    fs.mkdirSync(state, { recursive: true });
    const link = path.join(state, `task-manager-${t.owner}.snapshot.json`);
    fs.symlinkSync(path.relative(state, victim), link);
    const { s, base } = await serveNow(t);
    const r = await waitUntilAsync(() => get(`${base}/api/snapshot`), 'the port to answer');
    assert.equal(r.status, 404, r.body);
    assert.doesNotMatch(r.body, /operator-secret"/);
    assert.match(JSON.parse(r.body).error, /snapshot\.json is not a regular file \(a symlink, a folder or a FIFO\), so it is not read; remove it/);
    // The tasks route reads the escalations from the same file: no escalation comes from a link.
    const tasks = await waitUntilAsync(async () => { const x = await get(`${base}/api/tasks`); return x?.status === 200 ? x : undefined; }, '/api/tasks to answer 200');
    assert.deepEqual((JSON.parse(tasks.body) as { tasks: { escalation: unknown }[] }).tasks.map((x) => x.escalation), [null]);
    assert.ok(fs.lstatSync(link).isSymbolicLink() && fs.readFileSync(victim, 'utf8') === '{"owner": "operator-secret"}\n', 'nothing written through the link');
    await stopServe(s);
  }));

  test('polling every route from the first byte of serve on 700 task files: each answer is the whole truth or 503 with Retry-After, and / never runs ahead of /api/tasks', () => withTempFolder('first', async (t) => {
    const known = 'T-0350';
    const facts = await ranOnce(t, 700, known);
    const { s, base } = await serveNow(t);
    type Route = { path: string; ready: (r: Reply) => boolean };
    const routes: Route[] = [
      // `/` first in each round: once it shows the tasks, everything asked after it must have them.
      { path: '/', ready: (r) => r.status === 200 && r.body.includes('data-total="700"') },
      { path: '/api/tasks', ready: (r) => r.status === 200 && (JSON.parse(r.body) as { tasks: { id: string }[] }).tasks.map((x) => x.id).join() === facts.ids.join() },
      { path: `/api/tasks/${known}`, ready: (r) => r.status === 200 && JSON.parse(r.body).id === known && /Body of T-0350/.test(JSON.parse(r.body).body) },
      { path: '/api/tasks/NO-SUCH-TASK', ready: (r) => r.status === 404 },
      { path: `/api/tasks/${known}/log`, ready: (r) => r.status === 200 && (JSON.parse(r.body) as { lines: string[] }).lines.includes(`hello from ${known}`) },
      { path: `/api/tasks/${known}/log.txt`, ready: (r) => r.status === 200 && r.body === facts.log },
      { path: '/api/snapshot', ready: (r) => r.status === 200 && r.body === facts.snapshot },
    ];
    const seen = new Map<string, string[]>();
    let indexShown = false;
    let rounds = 0;
    const deadline = Date.now() + 60_000;
    for (;;) {
      assert.ok(rounds++ < 5000 && Date.now() < deadline, `not every route was ready after ${rounds} rounds; server output:\n${s.output()}`);
      const first = await get(`${base}/api/health`);
      if (first === undefined) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      // Health is the heartbeat's (none here: 503 stopped) and says whether the model is built.
      assert.equal(first.status, 503, first.body);
      const apiReady = (JSON.parse(first.body) as { api?: unknown }).api === 'ready';
      const heardPage = (await hello(base, '/')).page;
      let all = true;
      for (const route of routes) {
        const r = await get(base + route.path) as Reply;
        const ready = route.ready(r);
        (seen.get(route.path) ?? seen.set(route.path, []).get(route.path) as string[]).push(ready ? 'ready' : String(r.status));
        assert.ok(ready || isBuilding(r) || (route.path === '/' && r.status === 503 && r.headers['retry-after'] === '1'),
          `${route.path} answered a false ${r.status} (round ${rounds}): ${r.body.slice(0, 300)}`);
        if (route.path === '/') {
          if (heardPage !== null) assert.ok(ready, 'the event stream named a page for / that / does not serve');
          indexShown ||= ready;
        } else if (indexShown || apiReady) {
          assert.ok(ready, `${route.path} answered ${r.status} after ${indexShown ? '/ showed the tasks' : '/api/health said the API is ready'}`);
        }
        all &&= ready;
      }
      if (all) break;
    }
    assert.ok(indexShown);
    await stopServe(s);
    // What the loop saw, for the record (a run where the build beat the first answer sees only `ready`).
    assert.ok([...seen.values()].every((list) => list.at(-1) === 'ready'), JSON.stringify(Object.fromEntries(seen)));
  }));
});

describe('true from the first second, in Chromium', () => {
  let browser: Browser;

  before(async () => {
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  test('a task page a restarted serve shows from its previous build retries its run log after the 503, and new lines then reach it', () => withTempFolder('first', async (t) => {
    const known = 'T-0002';
    await ranOnce(t, 3, known);
    const { s, base, hold } = await restartHeld(t);
    const { page, problems } = await openQuiet(browser, `${base}/tasks/${known}.html`);
    try {
      // The page is the previous build's, with the log lines it had; its own fetch of the tail got 503.
      await page.waitForFunction(() => /live/.test(document.getElementById('live')?.textContent ?? ''), undefined, { timeout: 15_000 });
      assert.match(await page.textContent('#runlog-lines') ?? '', new RegExp(`hello from ${known}`));
      hold.release();
      await waitUntilAsync(async () => (await get(`${base}/api/tasks/${known}/log`))?.status === 200, 'the log route to answer 200');
      fs.appendFileSync(path.join(t.dir, 'logs', 'task_manager', 'runs', `${known}.log`), 'a line written after the build\n');
      await page.waitForFunction(() => (document.getElementById('runlog-lines')?.textContent ?? '').includes('a line written after the build'), undefined, { timeout: 15_000, polling: 50 })
        .catch(async (err: unknown) => { throw new Error(`the new line did not reach the page (${String(err)}); it shows:\n${await page.textContent('#runlog-lines')}\nserver output:\n${s.output()}`); });
      assert.deepEqual(problems.filter((p) => !/503/.test(p)), [], 'only the 503 of the build window');
    } finally {
      await page.context().close();
    }
    await stopServe(s);
  }));
});
