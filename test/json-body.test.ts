// /api/tasks written one task at a time (apiTasksPieces into streamedBody): the very bytes of JSON.stringify of the whole document, on tasks the real parser
// read, with text of every UTF-8 width; kept plain when small, as gzip only past the limit, and sent the same either way by a real server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { parseTaskFile } from '../lib/tasks/taskfile.ts';
import type { Task } from '../lib/tasks/taskfile.ts';
import { type SnapshotFacts, apiTask, apiTasksPieces, apiTasksText } from '../lib/web/site/api-doc.ts';
import { sendCached } from '../lib/web/http/json-body.ts';
import { type JsonBody, jsonBody, streamedBody } from '../lib/web/site/json-doc.ts';
import { relationsOf } from '../lib/web/render/relations.ts';
import { rawRequest as request } from './helpers.ts';

function task(i: number, title: string): Task {
  const deps = i > 0 ? `depends_on: [T-${i - 1}]\n` : '';
  const r = parseTaskFile(Buffer.from(`---\nid: T-${i}\ntitle: ${JSON.stringify(title)}\nstatus: todo\n${deps}parent: T-0\n---\nBody ${i}\n`), `t/T-${i}.md`);
  assert.ok(r.ok);
  return r.task;
}

// Titles of 1-, 2-, 3- and 4-byte characters and long ones, so tasks straddle the 1 MiB blocks.
const words = ['plain', 'café ü', '漢字のタスク', 'emoji 🚀🧪', '"quoted" \\ back\u2028slash', 'x'.repeat(900)];
const tasks = Array.from({ length: 4000 }, (_, i) => task(i, `${words[i % words.length] as string} ${i}`));
const facts: SnapshotFacts = { escalations: new Map([['T-3', { reason: 'stuck 🙃', since: '2026-01-01T00:00:00Z' }]]), ci: new Map([['T-5', 'failing']]) };
const errors = [{ path: 'bad.md', reason: 'no frontmatter ✗' }];
const expected = Buffer.from(`${JSON.stringify({ tasks: tasks.map((t) => apiTask(t, facts, undefined, false, relationsOf(tasks))), errors })}\n`);

test('the pieces are JSON.stringify of the document and a newline, across block edges and multi-byte text, kept plain under the limit', async () => {
  const doc = await streamedBody(apiTasksPieces(tasks, errors, facts, undefined));
  assert.ok(expected.length > 2 * 1024 * 1024, 'the document spans several blocks');
  assert.ok(doc.body?.equals(expected), 'kept as its bytes');
  assert.deepEqual([doc.length, doc.etag, [...doc.encoded.keys()]], [expected.length, jsonBody(expected).etag, []]);
  assert.equal(apiTasksText(tasks, errors, facts, undefined), expected.toString('utf8').slice(0, -1));
  const empty = await streamedBody(apiTasksPieces([], [], facts, undefined));
  assert.ok(empty.body?.equals(Buffer.from(`${JSON.stringify({ tasks: [], errors: [] })}\n`)));
});


test('past the limit only the gzip is kept, and a real server sends the same bytes, tags and lengths as for a body kept plain', async () => {
  const big = await streamedBody(apiTasksPieces(tasks, errors, facts, undefined), 1024 * 1024);
  assert.equal(big.body, undefined, 'the plain bytes are not kept');
  assert.deepEqual([big.length, big.etag], [expected.length, jsonBody(expected).etag]);
  const gz = await big.encoded.get('.gz');
  assert.ok(gz !== undefined && gz.length * 5 < expected.length && zlib.gunzipSync(gz).equals(expected), 'the gzip decodes to the document');
  // The same document, kept plain: every answer must be alike but for how it was kept.
  const plain = jsonBody(expected);
  const docs: Record<string, JsonBody> = { '/big': big, '/plain': plain };
  const server = http.createServer((req, res) => void sendCached(req, res, docs[req.url ?? ''] as JsonBody));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const decode: Record<string, (b: Buffer) => Buffer> = { br: zlib.brotliDecompressSync, gzip: zlib.gunzipSync };
    for (const [accept, encoding] of [['', undefined], ['gzip', 'gzip'], ['br, gzip', 'br']] as const) {
      const headers: Record<string, string> = accept === '' ? {} : { 'accept-encoding': accept };
      const [a, b] = [await request(`${base}/big`, headers), await request(`${base}/plain`, headers)];
      assert.deepEqual([a.status, a.headers['content-encoding'], a.headers.etag, a.headers['content-type']], [b.status, encoding, b.headers.etag, b.headers['content-type']], accept);
      assert.equal(Number(a.headers['content-length']), a.body.length, accept);
      assert.ok((encoding === undefined ? a.body : (decode[encoding] as (x: Buffer) => Buffer)(a.body)).equals(expected), `${accept || 'plain'}: the document`);
      const head = await request(`${base}/big`, headers, 'HEAD');
      assert.deepEqual([head.status, head.headers['content-length'], head.body.length], [200, String(a.body.length), 0], accept);
      assert.equal((await request(`${base}/big`, { ...headers, 'if-none-match': a.headers.etag as string })).status, 304, accept);
    }
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
