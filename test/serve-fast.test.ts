// serve answers at once: from the previous build while the build thread brings it up to date, a
// "being built" page when there is none, /api/health's build state, whole files during rebuilds,
// precompressed pages by Accept-Encoding, and the page versions the event stream reports.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, test } from 'node:test';
import { holdBuild } from './build-hold.ts';
import { hello } from './event-hello.ts';
import { type Folder, serveBare, stopServe, waitUntil, waitUntilAsync, withTempFolder, within } from './helpers.ts';

const withFolder = (fn: (t: Folder) => Promise<void>): Promise<void> => withTempFolder('fast', fn);

interface Reply { status: number; body: Buffer; headers: http.IncomingHttpHeaders }

/** One request; the body as the bytes received (not decoded). */
function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The body as the page's bytes, whatever encoding it came in. */
function decoded(r: Reply): Buffer {
  const enc = r.headers['content-encoding'];
  return enc === 'br' ? zlib.brotliDecompressSync(r.body) : enc === 'gzip' ? zlib.gunzipSync(r.body) : r.body;
}

const text = (r: Reply): string => decoded(r).toString('utf8');

/** A page is whole when it ends with the version trailer the build computed from every byte before it. */
function wholeVersion(page: Buffer): string | undefined {
  const m = /<!--v:([A-Za-z0-9_-]{16})-->\n$/.exec(page.subarray(-32).toString('latin1'));
  if (!m) return undefined;
  const content = page.subarray(0, page.length - m[0].length);
  return crypto.createHash('sha1').update(content).digest('base64url').slice(0, 16) === m[1] ? m[1] : undefined;
}

async function health(base: string): Promise<Record<string, any>> {
  return JSON.parse((await get(`${base}/api/health`)).body.toString('utf8')) as Record<string, any>;
}

const siteOf = (t: Folder): string => path.join(t.dir, 'logs', 'task_manager', `site-${t.owner}`);

describe('listen first', () => {
  test('a restarted serve answers from the previous build while it rebuilds; /api/health says stale, then current', () => withFolder(async (t) => {
    const first = await serveBare(t);
    await first.s.waitFor(/serving tasks/);
    await stopServe(first.s);
    fs.writeFileSync(path.join(t.dir, 'FIRST-TASK.md'), '---\nid: FIRST-TASK\ntitle: Renamed while stopped\nstatus: ready\n---\n');
    const hold = holdBuild(t);
    const { s, base } = await serveBare(t, [], hold.env);
    const page = await get(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(text(page), /First task/, 'the previous build is served');
    assert.doesNotMatch(text(page), /Renamed while stopped/);
    assert.equal((await get(`${base}/tasks/FIRST-TASK.html`)).status, 200);
    assert.equal((await health(base)).build, 'stale');
    assert.doesNotMatch(s.output(), /serving tasks/, 'the URL line waits for the pages to be current');
    hold.release();
    await s.waitFor(/serving tasks/);
    assert.match(text(await get(`${base}/`)), /Renamed while stopped/);
    await waitUntilAsync(async () => (await health(base)).build === 'current', 'the build to be current');
    await stopServe(s);
  }));

  test('with no previous build: 503 with a page that says it is being built; /api/health says building, then current', () => withFolder(async (t) => {
    const hold = holdBuild(t);
    const { s, base } = await serveBare(t, [], hold.env);
    const page = await get(`${base}/`);
    assert.equal(page.status, 503);
    assert.equal(page.headers['cache-control'], 'no-store');
    assert.match(text(page), /<main data-building>.*is being built/s);
    assert.match(text(page), /<script src="\/app\.js" defer><\/script>/);
    assert.equal((await get(`${base}/tasks/FIRST-TASK.html`)).status, 503, 'a task page too');
    // Its script comes from memory until the build writes it.
    const app = await get(`${base}/app.js`);
    assert.equal(app.status, 200);
    assert.match(app.headers['content-type'] ?? '', /javascript/);
    assert.equal((await health(base)).build, 'building');
    assert.deepEqual(await hello(base, '/'), { version: 0, page: null });
    hold.release();
    await s.waitFor(/serving tasks/);
    assert.equal((await get(`${base}/`)).status, 200);
    await waitUntilAsync(async () => (await health(base)).build === 'current', 'the build to be current');
    await stopServe(s);
  }));

  test('a signal before the first build is done stops the server calmly: exit 0, its pid file removed, no URL line', () => withFolder(async (t) => {
    const hold = holdBuild(t);
    const { s, base } = await serveBare(t, [], hold.env);
    assert.equal((await get(`${base}/`)).status, 503);
    process.kill(-(s.child.pid as number), 'SIGINT');
    // The build never ran: the held thread is ended with the server (a server that waited for it would hang here, so a deadline).
    const exit = await within(s.exited, 15_000, () => `the server did not exit within 15 s of SIGINT:\n${s.output()}`);
    hold.release();
    assert.equal(exit.code, 0, s.output());
    assert.match(s.output(), /tasks server stopped \(SIGINT\)/);
    assert.doesNotMatch(s.output(), /serving tasks/);
    assert.ok(!fs.existsSync(path.join(t.dir, 'logs', 'task_manager', `task-manager-${t.owner}.server.pid`)));
  }));

  test('a restart finds every file right on disk and writes none of them again', () => withFolder(async (t) => {
    const first = await serveBare(t);
    await first.s.waitFor(/serving tasks/);
    await stopServe(first.s);
    const site = siteOf(t);
    // The manifest aside: it leaves out the search shards until they have been compared with the new
    // content (the data index names their version before they are), so it is written again.
    const files = (): Map<string, number> => new Map(['', 'tasks', 'data'].flatMap((sub) => fs.readdirSync(path.join(site, sub)).filter((n) => n.includes('.') && n !== '.manifest.json')
      .map((n) => [path.join(sub, n), fs.statSync(path.join(site, sub, n)).mtimeMs] as const)));
    const before = files();
    assert.ok(before.has('index.html.br') && before.has('tasks/FIRST-TASK.html.gz'), [...before.keys()].join(' '));
    const { s, base } = await serveBare(t);
    await s.waitFor(/serving tasks/);
    await waitUntilAsync(async () => (await health(base)).build === 'current' || undefined, 'every file compared (build current)', 60_000);
    assert.deepEqual(files(), before);
    await stopServe(s);
  }));
});

describe('precompressed pages', () => {
  test('Accept-Encoding picks br, then gzip, else the file; Vary and the ETag on 200 and 304; HEAD has no body', () => withFolder(async (t) => {
    const { s, base } = await serveBare(t);
    await s.waitFor(/serving tasks/);
    const site = siteOf(t);
    for (const p of ['/', '/tasks/FIRST-TASK.html', '/app.js', '/style.css', '/data/index.json', '/data/search-0.json']) {
      const file = fs.readFileSync(path.join(site, p === '/' ? 'index.html' : p.slice(1)));
      const plain = await get(base + p);
      assert.equal(plain.headers['content-encoding'], undefined, p);
      assert.deepEqual(plain.body, file, p);
      for (const [accept, enc] of [['br', 'br'], ['gzip, deflate, br', 'br'], ['gzip', 'gzip'], ['br;q=0, gzip', 'gzip'], ['identity', undefined], ['*', 'br']] as const) {
        const r = await get(base + p, { 'accept-encoding': accept });
        assert.equal(r.status, 200, `${p} ${accept}`);
        assert.equal(r.headers['content-encoding'], enc, `${p} ${accept}`);
        assert.equal(r.headers.vary, 'Accept-Encoding', `${p} ${accept}`);
        assert.equal(Number(r.headers['content-length']), r.body.length, `${p} ${accept}`);
        assert.deepEqual(decoded(r), file, `${p} ${accept}: the same bytes`);
        const again = await get(base + p, { 'accept-encoding': accept, 'if-none-match': r.headers.etag as string });
        assert.deepEqual([again.status, again.headers.vary, again.body.length], [304, 'Accept-Encoding', 0], `${p} ${accept} revalidated`);
      }
      const br = await get(base + p, { 'accept-encoding': 'br' });
      assert.notEqual(br.headers.etag, plain.headers.etag, `${p}: each encoding its own ETag`);
      const head = await get(base + p, { 'accept-encoding': 'br' }, 'HEAD');
      assert.deepEqual([head.status, head.headers['content-encoding'], head.headers['content-length'], head.body.length], [200, 'br', String(br.body.length), 0]);
    }
    // The search bodies are cached and revalidated, not fetched afresh every time; the page's version query names the file all the same.
    const search = await get(`${base}/data/search-0.json?v=abc`);
    assert.deepEqual(search.body, fs.readFileSync(path.join(site, 'data/search-0.json')));
    assert.equal(search.headers['cache-control'], 'no-cache');
    assert.match(search.headers.etag ?? '', /^W\/".+"$/);
    await stopServe(s);
  }));

  test('a removed task takes its page and the page\'s .br and .gz with it', () => withFolder(async (t) => {
    fs.writeFileSync(path.join(t.dir, 'GONE.md'), '---\nid: GONE\ntitle: Soon gone\nstatus: todo\n---\n');
    const { s } = await serveBare(t);
    await s.waitFor(/serving tasks/);
    const page = path.join(siteOf(t), 'tasks', 'GONE.html');
    assert.ok(['', '.br', '.gz'].every((e) => fs.existsSync(page + e)));
    fs.rmSync(path.join(t.dir, 'GONE.md'));
    // The page goes first and its siblings a moment after (the build removes the file first, so a
    // reader never gets a sibling without its page): wait for all three, not for the page alone.
    await waitUntil(() => ['', '.br', '.gz'].every((e) => !fs.existsSync(page + e)), 'the page and its .br and .gz removed');
    await stopServe(s);
  }));
});

describe('whole pages during rebuilds', () => {
  test('fetches of the index and of task pages (small and streamed) while task files change: every answer is one whole version', () => withFolder(async (t) => {
    const big = (n: number): string => `---\nid: BIG\ntitle: Big page ${n}\nstatus: todo\n---\n${`Line ${n} of a long body that makes the page bigger than one read.\n`.repeat(2000)}`;
    for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(t.dir, `T-${i}.md`), `---\nid: T-${i}\ntitle: Task ${i}\nstatus: todo\n---\nBody ${i}.\n`);
    fs.writeFileSync(path.join(t.dir, 'BIG.md'), big(0));
    const { s, base } = await serveBare(t);
    await s.waitFor(/serving tasks/);
    const pages = ['/', '/tasks/T-1.html', '/tasks/BIG.html'];
    const accepts = ['br', 'gzip', ''];
    const seen = new Map<string, Set<string>>(pages.map((p) => [p, new Set<string>()]));
    const problems: string[] = [];
    let answers = 0;
    let editing = true;
    const fetcher = async (k: number): Promise<void> => {
      for (let i = k; editing; i++) {
        const p = pages[i % pages.length] as string;
        const accept = accepts[i % accepts.length] as string;
        const r = await get(base + p, accept ? { 'accept-encoding': accept } : {});
        answers++;
        if (r.status !== 200) { problems.push(`${p}: ${r.status}`); continue; }
        if (Number(r.headers['content-length']) !== r.body.length) problems.push(`${p} ${accept}: content-length ${r.headers['content-length']}, got ${r.body.length}`);
        const version = wholeVersion(decoded(r));
        if (version === undefined) problems.push(`${p} ${accept}: not one whole page (${r.body.length} bytes)`);
        else seen.get(p)?.add(version);
      }
    };
    const fetchers = Array.from({ length: 6 }, (_, k) => fetcher(k));
    try {
      for (let n = 1; n <= 15; n++) {
        fs.writeFileSync(path.join(t.dir, 'T-1.md'), `---\nid: T-1\ntitle: Task 1 edit ${n}\nstatus: todo\n---\nBody ${n}.\n`);
        fs.writeFileSync(path.join(t.dir, 'BIG.md'), big(n));
        fs.writeFileSync(path.join(t.dir, `NEW-${n}.md`), `---\nid: NEW-${n}\ntitle: Added ${n}\nstatus: todo\n---\n`);
        await waitUntilAsync(async () => text(await get(`${base}/tasks/BIG.html`)).includes(`Big page ${n}<`) && text(await get(`${base}/tasks/T-1.html`)).includes(`edit ${n}<`), `edit ${n} served`);
      }
    } finally {
      editing = false;
      await Promise.all(fetchers);
    }
    assert.deepEqual(problems, [], `${problems.length} of ${answers} answers`);
    for (const [p, versions] of seen) assert.ok(versions.size >= 2, `${p}: answers from several builds (${versions.size})`);
    await stopServe(s);
  }));
});

describe('page versions on the event stream', () => {
  test('hello names the version of the page on disk: the trailer of its file, null for no such page, none when no page is named', () => withFolder(async (t) => {
    const { s, base } = await serveBare(t);
    await s.waitFor(/serving tasks/);
    const site = siteOf(t);
    const trailer = (rel: string): string | undefined => wholeVersion(fs.readFileSync(path.join(site, rel)));
    assert.equal((await hello(base, '/')).page, trailer('index.html'));
    assert.equal((await hello(base, '/index.html')).page, trailer('index.html'));
    assert.equal((await hello(base, '/tasks/FIRST-TASK.html')).page, trailer('tasks/FIRST-TASK.html'));
    assert.equal((await hello(base, '/tasks/NOPE.html')).page, null);
    assert.deepEqual(Object.keys(await hello(base)), ['version']);
    await stopServe(s);
  }));
});
