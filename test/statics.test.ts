// The build folder's static paths and content negotiation, as tables: what is served, what never is; and the files kept in memory.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { StaticCache, acceptedEncodings, matchesEtag, sendStatic, staticPath } from '../lib/web/http/statics.ts';

const PATHS: [string, string | undefined][] = [
  ['/', 'index.html'],
  ['/tasks/A.html', 'tasks/A.html'],
  ['/tasks/', 'tasks/index.html'],
  ['/%2e%2e/registry.json', undefined],
  ['/../x', undefined],
  ['/.hidden', undefined],
  ['/tasks/.x.html', undefined],
  ['/a%00b', undefined],
  ['/a\\b', undefined],
  ['/%E0%A4%A', undefined],
  // A build's temp file is half-written: never served, though its name is no dotfile.
  ['/index.html.1234.7w.tmp', undefined],
  ['/tasks/A.html.99.3.tmp', undefined],
];
for (const [pathname, rel] of PATHS) {
  test(`static path ${pathname} → ${rel ?? 'refused'}`, () => assert.equal(staticPath(pathname), rel));
}

// If-None-Match against a file's weak tag and a body's strong one: compared weakly, `W/` on either side not counting.
const TAGS: [string | undefined, string, boolean][] = [
  [undefined, 'W/"a-1"', false],
  ['W/"a-1"', 'W/"a-1"', true],
  ['"a-1"', 'W/"a-1"', true],
  ['"b", W/"a-1"', 'W/"a-1"', true],
  ['"abc"', '"abc"', true],
  ['W/"abc"', '"abc"', true],
  [' "x" ,  "abc" ', '"abc"', true],
  ['"abc-br"', '"abc"', false],
  ['"ab"', '"abc"', false],
  ['*', '"abc"', true],
  ['"x", *', 'W/"a-1"', true],
  ['', '"abc"', false],
];
for (const [header, etag, want] of TAGS) {
  test(`If-None-Match ${header ?? '(none)'} against ${etag}: ${want ? '304' : '200'}`, () => assert.equal(matchesEtag(header, etag), want));
}

const ENCODED: [string | undefined, string[]][] = [
  [undefined, ['']],
  ['gzip, deflate, br', ['.br', '.gz', '']],
  ['gzip', ['.gz', '']],
  ['br;q=0, gzip', ['.gz', '']],
  // Whitespace around the name or before its parameters does not change what is refused.
  ['*, br ;q=0', ['.gz', '']],
  [' BR ; q=0 , gzip ;q=0.5', ['.gz', '']],
  ['*', ['.br', '.gz', '']],
  ['identity', ['']],
];
for (const [header, want] of ENCODED) {
  test(`Accept-Encoding ${JSON.stringify(header)} → ${want.map((e) => e || 'the file').join(', ')}`, () => assert.deepEqual(acceptedEncodings(header), want));
}

/** A real server on a free loopback port that answers from `root` through sendStatic with one cache. */
async function withServer(root: string, cache: StaticCache, body: (get: (p: string, h?: Record<string, string>) => Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>) => Promise<void>): Promise<void> {
  const server = http.createServer((req, res) => {
    if (!sendStatic(root, req, res, req.url ?? '/', () => true, cache)) res.writeHead(404).end('not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const get = (p: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> => new Promise((resolve, reject) => {
    http.request({ host: '127.0.0.1', port, path: p, headers, method }, (res) => {
      let text = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    }).on('error', reject).end();
  });
  try {
    await body(get);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

test('a kept file is answered from memory until the version moves, then read again', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'statics-cache-'));
  try {
    fs.writeFileSync(path.join(root, 'index.html'), 'first');
    fs.writeFileSync(path.join(root, 'index.html.br'), 'first-br');
    const cache = new StaticCache();
    cache.follow(1);
    await withServer(root, cache, async (get) => {
      assert.equal((await get('/')).body, 'first');
      assert.equal((await get('/', { 'accept-encoding': 'br' })).body, 'first-br');
      // Replaced on disk by a build whose report has not come yet: the whole old file, never a mix.
      fs.writeFileSync(path.join(root, 'index.html.tmp-new'), 'second');
      fs.renameSync(path.join(root, 'index.html.tmp-new'), path.join(root, 'index.html'));
      const kept = await get('/');
      assert.equal(kept.body, 'first');
      // A matching ETag is a 304 from memory too, without a body or a length.
      const etag = String(kept.headers.etag);
      const again = await get('/', { 'if-none-match': etag });
      assert.equal(again.status, 304);
      assert.equal(again.headers['content-length'], undefined);
      cache.follow(1);
      assert.equal((await get('/')).body, 'first', 'the same version keeps the cache');
      cache.follow(2);
      const fresh = await get('/');
      assert.equal(fresh.body, 'second');
      assert.notEqual(fresh.headers.etag, etag);
      assert.equal((await get('/', { 'if-none-match': etag })).status, 200);
      // A file that was not there is remembered as absent, and found once the version moves.
      assert.equal((await get('/late.html')).status, 404);
      fs.writeFileSync(path.join(root, 'late.html'), 'late');
      assert.equal((await get('/late.html')).status, 404);
      cache.clear();
      assert.equal((await get('/late.html')).body, 'late');
    });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
