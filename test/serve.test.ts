import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { before, describe, test } from 'node:test';
import getPort from 'get-port';
import { JUST, ROOT, SCRIPT, TSX, alive, cli, cliEnv, killAll, listTree, pidsMentioning, readPid, run, runtimeFile, sleep, start, tempTasks, uniqueOwner, waitUntil, waitUntilAsync, type Folder, type Running, withTempFolder } from './helpers.ts';

const withFolder = (fn: (t: Folder) => Promise<void>): Promise<void> => withTempFolder('srv', fn);

function get(url: string, method = 'GET'): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method }, (res) => {
      let body = '';
      res.on('data', (c) => { body += String(c); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

function serveArgs(dir: string, owner: string, port: number, more: string[] = []): string[] {
  return ['--import', TSX, SCRIPT, 'serve', `owner=${owner}`, `dir=${dir}`, `port=${port}`, ...more];
}

/** Starts `serve` on a free loopback port for the test's folder and waits for its ready line; the pid goes to the test's kill list. */
async function startServe(t: Pick<Folder, 'dir' | 'owner' | 'extra'>, more: string[]): Promise<{ s: Running; port: number; base: string }> {
  const port = await getPort({ host: '127.0.0.1' });
  const s = start(process.execPath, serveArgs(t.dir, t.owner, port, more));
  t.extra.push(s.child.pid as number);
  await s.waitFor(/serving tasks/);
  return { s, port, base: `http://127.0.0.1:${port}` };
}

for (const sig of ['SIGINT', 'SIGHUP', 'SIGTERM'] as const) {
  test(`${sig} to the foreground group of serve: server gone, heartbeat alive with the same pid`, async () => {
    await withFolder(async ({ dir, owner, extra }) => {
      const port = await getPort({ host: '127.0.0.1' });
      const s = start(process.execPath, serveArgs(dir, owner, port));
      extra.push(s.child.pid as number);
      const m = await s.waitFor(/serving tasks for \S+ at (http:\/\/127\.0\.0\.1:\d+\/)/);
      const hb = readPid(runtimeFile(dir, owner, 'heartbeat.pid'));
      assert.ok(hb && alive(hb));
      const page = await get(m[1] as string);
      assert.equal(page.status, 200);
      assert.match(page.body, new RegExp(`running, pid ${hb}`));
      process.kill(-(s.child.pid as number), sig);
      const exit = await s.exited;
      assert.equal(exit.code, 0, s.output());
      await assert.rejects(get(m[1] as string));
      assert.ok(alive(hb), 'heartbeat survived');
      assert.equal(readPid(runtimeFile(dir, owner, 'heartbeat.pid')), hb);
      assert.ok(!fs.existsSync(runtimeFile(dir, owner, 'server.pid')));
    });
  });
}

describe('ports', () => {
  test('an explicit port that is taken fails in one line naming host:port', async () => {
    await withFolder(async ({ dir, owner }) => {
      const port = await getPort({ host: '127.0.0.1' });
      const blocker = net.createServer().listen(port, '127.0.0.1');
      await new Promise((r) => blocker.once('listening', r));
      try {
        const r = await cli(['serve', `owner=${owner}`, `dir=${dir}`, `port=${port}`, '--no-heartbeat']);
        assert.equal(r.code, 1);
        assert.equal(r.stderr, `tasks: port 127.0.0.1:${port} is already in use by another process; pass another port= or stop what holds it\n`);
      } finally {
        blocker.close();
      }
    });
  });

  test('--detach with a taken explicit port: one line, exit 1; a taken default moves and says so', async () => {
    await withFolder(async ({ dir, owner }) => {
      const port = await getPort({ host: '127.0.0.1' });
      const blocker = net.createServer().listen(port, '127.0.0.1');
      await new Promise((r) => blocker.once('listening', r));
      try {
        const r = await cli(['serve', `owner=${owner}`, `dir=${dir}`, `port=${port}`, '--detach', '--no-heartbeat']);
        assert.equal(r.code, 1);
        assert.match(r.stderr, new RegExp(`^tasks: port 127\\.0\\.0\\.1:${port} is already in use by another process; pass another port= or stop what holds it \\(the detached server did not start; log .*server\\.log\\)\\n$`));
        const moved = await cli(['serve', `owner=${owner}`, `dir=${dir}`, '--detach', '--no-heartbeat'], { env: cliEnv({ TASK_MANAGER_PORT: String(port) }) });
        assert.equal(moved.code, 0, moved.stderr);
        assert.match(moved.stdout, new RegExp(`running in the background at http://127\\.0\\.0\\.1:\\d+/ \\(port ${port} on 127\\.0\\.0\\.1 is taken\\)`));
        await cli(['stop', `owner=${owner}`, `dir=${dir}`]);
      } finally {
        blocker.close();
      }
    });
  });

  test('a taken default port moves to a free one and says so', async () => {
    await withFolder(async ({ dir, owner, extra }) => {
      const port = await getPort({ host: '127.0.0.1' });
      const blocker = net.createServer().listen(port, '127.0.0.1');
      await new Promise((r) => blocker.once('listening', r));
      try {
        const s = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', `owner=${owner}`, `dir=${dir}`, '--no-heartbeat'], { env: cliEnv({ TASK_MANAGER_PORT: String(port) }) });
        extra.push(s.child.pid as number);
        const m = await s.waitFor(/at http:\/\/127\.0\.0\.1:(\d+)\/ \(port (\d+) on 127\.0\.0\.1 is taken\)/);
        assert.equal(Number(m[2]), port);
        assert.notEqual(Number(m[1]), port);
        // No heartbeat (--no-heartbeat): the health check answers 503, still recognisable as ours.
        const health = await get(`http://127.0.0.1:${m[1]}/api/health`);
        assert.equal(health.status, 503);
        assert.deepEqual((({ app, owner, state }) => ({ app, owner, state }))(JSON.parse(health.body) as Record<string, unknown>), { app: 'tasks', owner, state: 'stopped' });
        process.kill(-(s.child.pid as number), 'SIGTERM');
        await s.exited;
      } finally {
        blocker.close();
      }
    });
  });

  test('a second serve while this owner\'s server runs prints its URL and exits 0', async () => {
    await withFolder(async ({ dir, owner, extra }) => {
      const { s, port } = await startServe({ dir, owner, extra }, []);
      for (const args of [[`port=${port}`], []]) {
        const r = await cli(['serve', `owner=${owner}`, `dir=${dir}`, ...args]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`tasks server for ${owner} already running at http://127\\.0\\.0\\.1:${port}/ \\(pid ${s.child.pid}\\)`));
      }
      process.kill(-(s.child.pid as number), 'SIGTERM');
      await s.exited;
    });
  });
});

describe('server', () => {
  test('--detach: URL printed, exit 0, status shows it, stop stops both', async () => {
    await withFolder(async ({ dir, owner }) => {
      const port = await getPort({ host: '127.0.0.1' });
      const r = await cli(['serve', `owner=${owner}`, `dir=${dir}`, `port=${port}`, '--detach', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout) as { pid: number; url: string; serverPid: number };
      assert.equal(doc.url, `http://127.0.0.1:${port}/`);
      assert.ok(alive(doc.pid) && alive(doc.serverPid));
      const health = JSON.parse((await get(`${doc.url}api/health`)).body) as { owner: string; heartbeat: { pid: number } };
      assert.deepEqual([health.owner, health.heartbeat.pid], [owner, doc.pid]);
      const st = JSON.parse((await cli(['status', `owner=${owner}`, `dir=${dir}`, '--json'])).stdout) as { server: { running: boolean; url: string; pid: number } };
      assert.deepEqual(st.server, { running: true, url: doc.url, pid: doc.serverPid, detached: true });
      const stop = await cli(['stop', `owner=${owner}`, `dir=${dir}`]);
      assert.equal(stop.stdout.trim(), `stopped heartbeat (pid ${doc.pid}); stopped server (pid ${doc.serverPid})`);
      assert.ok(!alive(doc.pid) && !alive(doc.serverPid));
    });
  });

  test('API and static rules: health, snapshot, 405, traversal and dotfiles 404', async () => {
    await withFolder(async ({ dir, owner, extra }) => {
      const { s, base } = await startServe({ dir, owner, extra }, ['interval=0.2']);
      await waitUntil(() => fs.existsSync(runtimeFile(dir, owner, 'snapshot.json')), 'first snapshot');
      const snap = await get(`${base}/api/snapshot`);
      assert.equal(snap.status, 200);
      assert.match(snap.headers['content-type'] ?? '', /^application\/json/);
      assert.equal((JSON.parse(snap.body) as { owner: string }).owner, owner);
      assert.equal((await get(`${base}/`, 'POST')).status, 405);
      assert.equal((await get(`${base}/api/health`, 'DELETE')).status, 405);
      for (const p of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/.git/config', '/logs/task_manager/registry.json', '/api/nope']) {
        assert.equal((await get(base + p)).status, 404, p);
      }
      // Bad input answers, it does not crash: an undecodable id, a foreign Host (DNS rebinding).
      assert.equal((await get(`${base}/api/tasks/%E0%A4%A`)).status, 400);
      const foreign = await new Promise<number>((resolve, reject) => {
        http.get(`${base}/api/tasks`, { headers: { host: 'evil.example:80' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
      });
      assert.equal(foreign, 421);
      // The build folder deleted under the server: a request does not kill it, and pages come back.
      // It vanishes at once (moved away, then removed): an rm -r walking it races the writer,
      // which adds files while the heartbeat ticks every 0.2 s, and fails with ENOTEMPTY on a busy machine.
      const site = `${dir}/logs/task_manager/site-${owner}`;
      fs.renameSync(site, `${site}.gone`);
      fs.rmSync(`${site}.gone`, { recursive: true, force: true, maxRetries: 20, retryDelay: 10 });
      await get(`${base}/tasks/FIRST-TASK.html`).catch(() => undefined);
      await waitUntil(() => fs.existsSync(`${dir}/logs/task_manager/site-${owner}/index.html`), 'pages rebuilt');
      assert.equal((await get(`${base}/api/health`)).status, 200);
      assert.equal((await get(`${base}/tasks/FIRST-TASK.html`)).status, 200);
      const types: [string, RegExp][] = [['/', /^text\/html/], ['/tasks/FIRST-TASK.html', /^text\/html/], ['/style.css', /^text\/css/], ['/app.js', /javascript/], ['/data/index.json', /^application\/json/], ['/favicon.svg', /^image\/svg\+xml/], ['/api/health', /^application\/json/]];
      for (const [p, type] of types) {
        const r = await get(base + p);
        assert.equal(r.status, 200, p);
        assert.match(r.headers['content-type'] ?? '', type, p);
      }
      // Static files carry an ETag and answer 304 to a matching If-None-Match.
      for (const p of ['/style.css', '/tasks/FIRST-TASK.html']) {
        const first = await get(base + p);
        const etag = first.headers.etag;
        assert.ok(etag, `${p} has an ETag`);
        const again = await new Promise<number>((resolve, reject) => {
          http.get(base + p, { headers: { 'if-none-match': etag } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
        });
        assert.equal(again, 304, p);
      }
      process.kill(-(s.child.pid as number), 'SIGTERM');
      await s.exited;
    });
  });

  test('a page of the build deleted by hand (the index left in place) is written again when asked for, never a 404', async () => {
    await withFolder(async ({ dir, owner, extra }) => {
      const { base } = await startServe({ dir, owner, extra }, ['--no-heartbeat']);
      const page = `${dir}/logs/task_manager/site-${owner}/tasks/FIRST-TASK.html`;
      // Every page on disk, none asked for yet (a page served once is kept in memory until the next build).
      const state = async (): Promise<string> => (JSON.parse((await get(`${base}/api/health`)).body) as { build: string }).build;
      await waitUntilAsync(async () => ((await state()) === 'current' && fs.existsSync(page)) || undefined, 'every page on disk', 60_000);
      const before = fs.readFileSync(page, 'utf8');
      fs.rmSync(page);
      fs.rmSync(`${page}.br`, { force: true });
      const r = await get(`${base}/tasks/FIRST-TASK.html`);
      assert.equal(r.status, 200, r.body.slice(0, 200));
      assert.equal(fs.readFileSync(page, 'utf8'), before, 'written again as it was');
      assert.equal((await get(`${base}/`)).status, 200);
    });
  });

  test('/api/tasks and /api/tasks/<id> answer from the task model, with escalations from the snapshot', async () => {
    await withFolder(async ({ dir, owner, extra }) => {
      fs.writeFileSync(`${dir}/BLOCKED-ONE.md`, '---\nid: BLOCKED-ONE\ntitle: Stuck\nstatus: Blocked\nassignee: erin\ndependencies: [FIRST-TASK]\npr: https://example.invalid/pull/1\nci: failing\n---\n## Plan\n- [x] a\n- [ ] b\n');
      fs.writeFileSync(`${dir}/broken.md`, 'no frontmatter here\n');
      const { s, base } = await startServe({ dir, owner, extra }, ['interval=0.2']);
      await waitUntil(() => fs.existsSync(runtimeFile(dir, owner, 'snapshot.json')), 'first snapshot');
      const list = JSON.parse((await get(`${base}/api/tasks`)).body) as { tasks: Record<string, unknown>[]; errors: { path: string }[] };
      assert.deepEqual(list.tasks.map((t) => t.id), ['BLOCKED-ONE', 'FIRST-TASK']);
      const blocked = list.tasks[0] as Record<string, any>;
      assert.deepEqual(
        [blocked.status, blocked.owner, blocked.dependsOn, blocked.ci, blocked.pr, blocked.progress],
        ['blocked', 'erin', ['FIRST-TASK'], 'failing', 'https://example.invalid/pull/1', { done: 1, total: 2 }],
      );
      assert.equal(blocked.escalation.reason, 'status blocked; CI failing on https://example.invalid/pull/1');
      for (const k of ['slug', 'path', 'title', 'priority', 'milestone']) assert.ok(k in blocked, k);
      assert.deepEqual(list.errors.map((e) => e.path), ['broken.md']);
      const one = JSON.parse((await get(`${base}/api/tasks/BLOCKED-ONE`)).body) as Record<string, any>;
      assert.equal(one.title, 'Stuck');
      assert.match(one.body, /## Plan/);
      assert.equal((await get(`${base}/api/tasks/NOPE`)).status, 404);
      const st = await cli(['status', `owner=${owner}`, `dir=${dir}`]);
      assert.match(st.stdout, /tasks      2 \(ready 1, blocked 1\)/);
      assert.match(st.stdout, /ready      FIRST-TASK \(p1\)/);
      assert.match(st.stdout, /escalated  BLOCKED-ONE: status blocked; CI failing/);
      assert.match(st.stdout, /escalated  broken\.md: parse error: no frontmatter/);
      process.kill(-(s.child.pid as number), 'SIGTERM');
      await s.exited;
    });
  });

  test('live: editing a task file pushes a change event and the page is rebuilt', async () => {
    await withFolder(async ({ dir, owner, extra }) => {
      const { s, base } = await startServe({ dir, owner, extra }, ['--no-heartbeat']);
      const events: string[] = [];
      const req = http.get(`${base}/api/events`, (res) => {
        assert.match(res.headers['content-type'] ?? '', /^text\/event-stream/);
        res.setEncoding('utf8');
        res.on('data', (c: string) => events.push(c));
      });
      req.on('error', () => undefined);
      try {
        await waitUntil(() => events.join('').includes('event: hello'), 'hello event');
        fs.writeFileSync(`${dir}/FIRST-TASK.md`, '---\nid: FIRST-TASK\ntitle: Renamed on disk\nstatus: ready\n---\n');
        await waitUntil(() => events.join('').includes('event: change'), 'change event');
        assert.match((await get(`${base}/tasks/FIRST-TASK.html`)).body, /Renamed on disk/);
        fs.writeFileSync(`${dir}/SECOND.md`, '---\nid: SECOND\ntitle: Added later\n---\n');
        await waitUntil(() => (events.join('').match(/event: change/g) ?? []).length >= 2, 'second change event');
        const added = await get(`${base}/tasks/SECOND.html`);
        assert.equal(added.status, 200);
        assert.match(added.body, /Added later/);
        // A new folder is watched too: a task written into it shows up.
        // Written right after the folder appears: the new folder's first rescan must include it.
        fs.mkdirSync(`${dir}/area`);
        fs.writeFileSync(`${dir}/area/THIRD.md`, '---\nid: THIRD\ntitle: In a new folder\n---\n');
        await waitUntil(() => fs.existsSync(`${dir}/logs/task_manager/site-${owner}/tasks/THIRD.html`), 'page of a task in a new folder');
        fs.writeFileSync(`${dir}/area/THIRD.md`, '---\nid: THIRD\ntitle: Edited in the new folder\n---\n');
        await waitUntil(() => fs.readFileSync(`${dir}/logs/task_manager/site-${owner}/tasks/THIRD.html`, 'utf8').includes('Edited in the new folder'), 'edit in the new folder');
      } finally {
        req.destroy();
        process.kill(-(s.child.pid as number), 'SIGTERM');
        await s.exited;
      }
    });
  });

  test('build out=<dir> writes the site without a server or a heartbeat, and nothing in the tasks folder', async () => {
    await withFolder(async ({ dir, root, owner }) => {
      const before = listTree(dir);
      const out = `${root}/artifact`;
      const r = await cli(['build', `owner=${owner}`, `dir=${dir}`, `out=${out}`, 'project=Ci']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^built the dashboard into .*artifact \(\d+ files written, 0 removed\)/);
      assert.match(fs.readFileSync(`${out}/index.html`, 'utf8'), /<title>Ci Tasks<\/title>[\s\S]*FIRST-TASK/);
      assert.ok(fs.existsSync(`${out}/tasks/FIRST-TASK.html`));
      assert.deepEqual(listTree(dir), before);
      assert.deepEqual(pidsMentioning(root), []);
      const again = await cli(['build', `owner=${owner}`, `dir=${dir}`, `out=${out}`, 'project=Ci', '--json']);
      assert.deepEqual(JSON.parse(again.stdout), { out, written: 0, removed: 0 });
      for (const bad of [`${dir}/site`, root, `${dir}/..`]) {
        const inside = await cli(['build', `owner=${owner}`, `dir=${dir}`, `out=${bad}`]);
        assert.equal(inside.code, 2, bad);
        assert.match(inside.stderr, /^tasks: `out` must be outside the tasks folder/);
      }
      fs.symlinkSync(dir, `${root}/alias`);
      assert.equal((await cli(['build', `owner=${owner}`, `dir=${dir}`, `out=${root}/alias/x`])).code, 2, 'through a symlink');
      assert.deepEqual(listTree(dir), before);
      // Files in out= that the build did not write are never removed.
      fs.writeFileSync(`${out}/tasks/mine.html`, 'keep me');
      await cli(['build', `owner=${owner}`, `dir=${dir}`, `out=${out}`]);
      assert.equal(fs.readFileSync(`${out}/tasks/mine.html`, 'utf8'), 'keep me');
    });
  });

  test('--no-heartbeat serves without starting a heartbeat; the page says it is down', async () => {
    await withFolder(async ({ dir, owner, extra }) => {
      const { s, port } = await startServe({ dir, owner, extra }, ['--no-heartbeat']);
      assert.ok(!fs.existsSync(runtimeFile(dir, owner, 'heartbeat.pid')));
      assert.match((await get(`http://127.0.0.1:${port}/`)).body, /not running/);
      process.kill(-(s.child.pid as number), 'SIGTERM');
      await s.exited;
    });
  });
});

describe('entry points', () => {
  // The Justfile runs dist/ when it exists: rebuild it from the sources under test, so these
  // tests never pass on a bundle of older code (or on its run-the-sources fallback alone).
  before(() => {
    execFileSync(process.execPath, ['scripts/prepare.mjs'], { cwd: ROOT, env: cliEnv(), stdio: 'ignore' });
  });
  const entries: [string, string, (args: string[]) => string[]][] = [
    ['just (binary from rust-just)', JUST, (a) => ['tasks', ...a]],
    ['npx just (.bin/just is the static binary)', 'npx', (a) => ['--no-install', 'just', 'tasks', ...a]],
    ['npx zx scripts/tasks-serve.ts', 'npx', (a) => ['--no-install', 'zx', 'scripts/tasks-serve.ts', ...a]],
    ['npm run tasks --', 'npm', (a) => ['run', '--silent', 'tasks', '--', ...a]],
  ];
  for (const [name, cmd, argv] of entries) {
    test(`${name}: serve answers HTTP 200 and stops on SIGINT`, async () => {
      await withFolder(async ({ dir, owner, extra }) => {
        const port = await getPort({ host: '127.0.0.1' });
        const s = start(cmd, argv(['serve', `owner=${owner}`, `dir=${dir}`, `port=${port}`]), { cwd: ROOT });
        extra.push(s.child.pid as number);
        await s.waitFor(/serving tasks/, 30_000);
        assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200);
        process.kill(-(s.child.pid as number), 'SIGINT');
        await s.exited;
        await waitUntil(() => !fs.existsSync(runtimeFile(dir, owner, 'server.pid')), 'server to stop');
      });
    });
  }

  // A bare -- and a standalone 1.50 are exactly what rust-just's node wrapper rewrites (it drops
  // the -- and prints 1.50 as 1.5): the error line must name the words as typed.
  for (const [name, cmd, argv] of entries) {
    test(`${name}: a bare -- and 1.50 arrive unparsed`, async () => {
      const afterDashes = await run(cmd, argv(['status', 'owner=x', '--', '--json']), { cwd: ROOT });
      assert.equal(afterDashes.code, 2, afterDashes.stdout + afterDashes.stderr);
      assert.match(afterDashes.stderr, /unexpected argument `--json`/);
      const number = await run(cmd, argv(['status', 'owner=x', '1.50']), { cwd: ROOT });
      assert.equal(number.code, 2, number.stderr);
      assert.match(number.stderr, /unexpected argument `1\.50`/);
    });
  }

  test('just from a subfolder resolves a relative dir= from there', async () => {
    const t = tempTasks();
    try {
      const r = await run(JUST, ['--justfile', `${ROOT}/Justfile`, 'tasks', 'status', 'owner=x', '--json', 'dir=tasks'], { cwd: t.root });
      assert.equal(r.code, 3, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { dir: string }).dir, t.dir);
    } finally {
      t.remove();
    }
  });

  test('a closed pipe ends the output quietly', async () => {
    const r = await run('sh', ['-c', `"${process.execPath}" --import ${TSX} "${SCRIPT}" --help | head -1`]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'usage: tasks <action> [key=value ...] [--flag ...]\n');
    assert.equal(r.stderr, '');
  });

  // Spaces, a literal $HOME and 1.50 in one argument, after a bare --: they must arrive intact
  // through every way in (npx just too: npm ci points .bin/just at the binary, not the re-parsing wrapper).
  for (const [name, cmd, argv] of entries) {
    test(`${name}: arguments reach the script intact`, async () => {
      const t = tempTasks();
      try {
        const odd = `${t.root}/a b $HOME 1.50`;
        fs.mkdirSync(odd);
        const r = await run(cmd, argv(['status', 'owner=x', '--json', '--', `dir=${odd}`]), { cwd: ROOT });
        assert.equal(r.code, 3, r.stderr);
        assert.equal((JSON.parse(r.stdout) as { dir: string }).dir, odd);
      } finally {
        t.remove();
      }
    });
  }
});
