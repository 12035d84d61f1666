// A cloned repository attacks through the server's build folder (tasks/logs/task_manager/site-<owner>/): committed
// links in place of its subfolders, aimed at the operator's files, and a committed fake dashboard with extra pages and
// scripts. The server never removes, reads or writes through such a link, and never serves a file its own build did
// not write: not before its first build, not after it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { holdBuild } from './build-hold.ts';
import { type Folder, type Running, cliEnv, serveBare, stopServe, waitUntilAsync, withTempFolder, fingerprint } from './helpers.ts';

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

/** One request on a fresh connection; undefined while nothing listens on the port yet. */
function get(url: string, headers: http.OutgoingHttpHeaders = {}): Promise<Reply | undefined> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer from ${url} within 10 s`)));
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? resolve(undefined) : reject(err)));
  });
}

const task = (id: string, title: string): string => `---\nid: ${id}\ntitle: ${title}\nstatus: todo\n---\n## Problem\nBody of ${id}.\n`;

function siteOf(t: Folder): string {
  return path.join(t.dir, 'logs', 'task_manager', `site-${t.owner}`);
}

/** A victim folder per subfolder name, each with what a build's clean-up would remove, and a committed relative link to it. */
function plantLinks(t: Folder, names: readonly string[]): { victim: string; links: string[] } {
  const victim = path.join(t.root, 'victim');
  const site = siteOf(t);
  fs.mkdirSync(site, { recursive: true });
  const links: string[] = [];
  for (const name of names) {
    const target = path.join(victim, name);
    fs.mkdirSync(target, { recursive: true });
    for (const file of ['a.html', 'b.html', 'c.html.br', 'notes.txt']) fs.writeFileSync(path.join(target, file), `the operator's ${name}/${file}\n`);
    const link = path.join(site, name);
    fs.symlinkSync(path.relative(site, target), link);
    links.push(link);
  }
  return { victim, links };
}

async function tasksTitled(base: string, title: string): Promise<void> {
  await waitUntilAsync(async () => {
    const r = await get(`${base}/api/tasks`);
    return r?.status === 200 && (JSON.parse(r.body) as { tasks: { title: string }[] }).tasks.some((x) => x.title === title);
  }, `/api/tasks to show "${title}"`);
}

/** What serve printed and wrote to its log: the refusal line can be in either. */
function said(t: Folder, s: Running): string {
  const log = path.join(t.dir, 'logs', 'task_manager', `task-manager-${t.owner}.server.log`);
  return s.output() + (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '');
}

describe('links a repository commits inside the build folder', () => {
  for (const names of [['docs', 'decisions', 'milestones'], ['tasks']]) {
    test(`site-<owner>/{${names.join(',')}} as links to the operator's files: nothing there is listed, removed or written, over a first and a second build; the link is refused naming it, and the pages come once it is removed`, () => withTempFolder('hsite', async (t) => {
      fs.writeFileSync(path.join(t.dir, 'T1.md'), task('T1', 'First title'));
      const { victim, links } = plantLinks(t, names);
      const before = fingerprint(victim);
      const { s, base } = await serveBare(t);
      await tasksTitled(base, 'First title');
      fs.writeFileSync(path.join(t.dir, 'T1.md'), task('T1', 'Second title'));
      await tasksTitled(base, 'Second title');
      // A page request asks for the pages again (the build folder lost its index): a third build.
      await get(`${base}/`);
      await get(`${base}/api/health`);
      assert.deepEqual(fingerprint(victim), before, "the operator's folders are byte-identical");
      for (const link of links) assert.ok(fs.lstatSync(link).isSymbolicLink(), `${link} is left for the operator to remove`);
      const first = links[0] as string;
      const line = `${first} is a symbolic link; remove it (rm ${first}) and run again`;
      await waitUntilAsync(async () => said(t, s).includes(line), `serve to say: ${line}`);
      const page = await get(`${base}/`) as Reply;
      assert.equal(page.status, 503, page.body);
      assert.ok(page.body.includes(line), `the "being built" page says why: ${page.body}`);
      for (const link of links) fs.rmSync(link);
      await waitUntilAsync(async () => (await get(`${base}/`))?.status === 200, 'the pages once the links are gone');
      assert.match((await get(`${base}/tasks/T1.html`) as Reply).body, /Second title/);
      await stopServe(s);
      assert.deepEqual(fingerprint(victim), before, "the operator's folders are byte-identical");
    }));
  }
});

describe('files a repository commits inside the build folder', () => {
  const FAKE = 'FAKE-DASHBOARD';
  /** A committed fake dashboard: an index, a task page, JSON, compressed siblings, an extra page and its script, and a forged manifest naming them. */
  function plantFake(t: Folder): void {
    const site = siteOf(t);
    fs.mkdirSync(path.join(site, 'tasks'), { recursive: true });
    fs.mkdirSync(path.join(site, 'data'), { recursive: true });
    const files: Record<string, string> = {
      'index.html': `<!doctype html><title>${FAKE}</title><script src="/evil.js"></script>\n`,
      'tasks/T1.html': `<!doctype html><title>${FAKE} T1</title>\n`,
      'tasks/T1.html.gz': `${FAKE} gz\n`,
      'tasks/T1.html.br': `${FAKE} br\n`,
      'evil.html': `<!doctype html><title>${FAKE} evil</title><script src="/evil.js"></script>\n`,
      'evil.js': `fetch('/api/tasks').then(() => '${FAKE}');\n`,
      'tasks.json': `{"version":"${FAKE}","tasks":[]}\n`,
      'search.json': `{"${FAKE}":1}\n`,
      'data/index.json': `{"version":"${FAKE}"}\n`,
      '.manifest.json': JSON.stringify({ tool: 'tasks', folder: '1:2:3', files: ['index.html', 'tasks/T1.html', 'evil.html', 'evil.js', 'tasks.json', 'search.json', 'data/index.json'] }),
    };
    for (const [rel, text] of Object.entries(files)) fs.writeFileSync(path.join(site, rel), text);
  }
  const PATHS = ['/', '/index.html', '/tasks/T1.html', '/evil.html', '/evil.js', '/tasks.json', '/search.json', '/data/index.json'];
  /** Files no build of this tool writes (tasks.json and search.json are earlier versions' names): 404 once the build is in. */
  const NEVER = new Set(['/evil.html', '/evil.js', '/tasks.json', '/search.json']);

  test('a committed fake dashboard is never served: not from the first byte of serve while its build is held (the page gate covers JSON and compressed files too), and evil.html and evil.js are 404 after the build and after a restart', () => withTempFolder('hsite', async (t) => {
    fs.writeFileSync(path.join(t.dir, 'T1.md'), task('T1', 'Real title'));
    plantFake(t);
    const hold = holdBuild(t);
    const { s, base } = await serveBare(t, [], hold.env);
    for (const p of PATHS) {
      for (const encoding of ['', 'gzip, br']) {
        const r = await get(base + p, { 'accept-encoding': encoding }) as Reply;
        assert.equal(r.status, 503, `${p} (${encoding || 'identity'}) while the first build is held: ${r.status} ${r.body.slice(0, 200)}`);
        assert.equal(r.headers['retry-after'], '1', p);
        assert.ok(!r.body.includes(FAKE), `${p} served the committed fake: ${r.body.slice(0, 200)}`);
      }
    }
    hold.release();
    await tasksTitled(base, 'Real title');
    await waitUntilAsync(async () => (await get(`${base}/`))?.status === 200, '/ to answer 200');
    await checkBuilt(base);
    await stopServe(s);

    // A restart trusts the build folder this server wrote: its pages are served at once, while the build is held.
    const again = holdBuild(t);
    const second = await serveBare(t, [], again.env);
    const index = await get(`${second.base}/`) as Reply;
    assert.equal(index.status, 200, 'the previous build is served at once');
    assert.ok(!index.body.includes(FAKE));
    for (const p of ['/evil.html', '/evil.js']) assert.equal((await get(second.base + p))?.status, 404, p);
    again.release();
    await tasksTitled(second.base, 'Real title');
    await checkBuilt(second.base);
    await stopServe(second.s);
  }));

  test('from the first byte of serve, polled until the build is in: no answer is ever the committed fake', () => withTempFolder('hsite', async (t) => {
    fs.writeFileSync(path.join(t.dir, 'T1.md'), task('T1', 'Real title'));
    plantFake(t);
    const { s, base } = await serveBare(t, [], cliEnv());
    const deadline = Date.now() + 30_000;
    for (let round = 0; ; round++) {
      assert.ok(Date.now() < deadline, `the build did not come in within 30 s; output:\n${s.output()}`);
      let done = true;
      for (const p of PATHS) {
        const r = await get(base + p, { 'accept-encoding': 'gzip, br' }) as Reply;
        assert.ok(!r.body.includes(FAKE), `round ${round}: ${p} served the committed fake (${r.status})`);
        done &&= NEVER.has(p) ? r.status === 404 : r.status === 200;
      }
      if (done) break;
    }
    await checkBuilt(base);
    await stopServe(s);
  }));

  /** After a build: the pages are the real ones, and the files the build did not write are 404 in every encoding. */
  async function checkBuilt(base: string): Promise<void> {
    const task = await get(`${base}/tasks/T1.html`) as Reply;
    assert.equal(task.status, 200);
    assert.match(task.body, /Real title/);
    for (const p of ['/evil.html', '/evil.js', '/evil.html.gz']) {
      for (const encoding of ['', 'gzip, br']) assert.equal((await get(base + p, { 'accept-encoding': encoding }))?.status, 404, `${p} (${encoding || 'identity'})`);
    }
    for (const p of PATHS) assert.ok(!(await get(base + p, { 'accept-encoding': 'gzip, br' }) as Reply).body.includes(FAKE), p);
  }
});

describe('a socket in the snapshot\'s place', () => {
  test('/api/snapshot answers 404 naming the file, never 500', () => withTempFolder('hsite', async (t) => {
    const state = path.join(t.dir, 'logs', 'task_manager');
    fs.mkdirSync(state, { recursive: true });
    const file = path.join(state, `task-manager-${t.owner}.snapshot.json`);
    const socket = net.createServer();
    await new Promise<void>((resolve) => socket.listen(file, resolve));
    try {
      const { s, base } = await serveBare(t);
      const r = await get(`${base}/api/snapshot`) as Reply;
      assert.equal(r.status, 404, r.body);
      assert.match((JSON.parse(r.body) as { error: string }).error, /snapshot\.json is not a regular file/);
      await stopServe(s);
    } finally {
      socket.close();
    }
  }));
});
