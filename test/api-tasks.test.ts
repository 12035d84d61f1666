// /api/tasks for big folders and scripts (issue 19), against a real `serve` of 3,000 generated tasks:
// br and gzip by Accept-Encoding with an ETag per encoding, pages that cover every task once
// (an archived copy sharing an id included), field selection, and a 400 naming each bad value.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import zlib from 'node:zlib';
import { generateTasks } from '../bench/generate.ts';
import { TASK_FIELDS } from '../lib/web/site/api-doc.ts';
import { type RawReply, rawRequest as request, serveBare, stopServe, waitUntilAsync, withTempFolder } from './helpers.ts';

const N = 3000;
/** An archived copy of the last task: it sorts first (archive/ < area-) and shares the active task's id. */
const SHARED = `AREA_${Math.floor((N - 1) / 100)}-TASK_${N - 1}`;

interface ApiTask { id: string; path: string; [field: string]: unknown }
interface Page { tasks: ApiTask[]; errors: unknown[]; next?: string | null }
const json = (r: RawReply): Page => JSON.parse(r.body.toString('utf8')) as Page;

describe('/api/tasks at 3,000 tasks', () => {
  test('compressed by Accept-Encoding, paged, field-selected, and a 400 for each bad value', () => withTempFolder('apitasks', async (t) => {
    generateTasks(t.dir, N);
    fs.mkdirSync(path.join(t.dir, 'archive'));
    fs.writeFileSync(path.join(t.dir, 'archive', `${SHARED}.md`), `---\nid: ${SHARED}\ntitle: The archived copy\nstatus: completed\n---\n`);
    const { s, base } = await serveBare(t);
    try {
      const plain = await waitUntilAsync(async () => {
        const r = await request(`${base}/api/tasks`);
        return r.status === 200 ? r : undefined;
      }, `/api/tasks to answer 200; output:\n${s.output()}`, 180_000);
      const whole = json(plain);
      assert.equal(whole.tasks.length, N + 2, 'the generated tasks, the archived copy and the folder\'s FIRST-TASK');
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.equal(plain.headers.vary, 'Accept-Encoding');
      // The field list ?fields= checks against is the shape apiTask serves.
      for (const task of whole.tasks) assert.deepEqual(Object.keys(task), TASK_FIELDS);
      const etag = plain.headers.etag as string;
      assert.match(etag, /^"[A-Za-z0-9_-]+"$/);

      // br, else gzip, by the client's Accept-Encoding; each decodes to the same bytes, under its own tag.
      const decode: Record<string, (b: Buffer) => Buffer> = { br: zlib.brotliDecompressSync, gzip: zlib.gunzipSync };
      for (const [accept, encoding] of [['gzip, deflate, br', 'br'], ['gzip', 'gzip'], ['br;q=0, gzip', 'gzip'], ['*', 'br'], ['identity', undefined], ['gzip;q=0, br;q=0', undefined]] as const) {
        const r = await request(`${base}/api/tasks`, { 'accept-encoding': accept });
        assert.equal(r.status, 200, accept);
        assert.equal(r.headers['content-encoding'], encoding, accept);
        assert.equal(r.headers.vary, 'Accept-Encoding', accept);
        assert.equal(Number(r.headers['content-length']), r.body.length, accept);
        if (encoding === undefined) {
          assert.deepEqual([r.headers.etag, r.body.equals(plain.body)], [etag, true], accept);
          continue;
        }
        assert.ok(r.body.length * 10 < plain.body.length, `${accept}: ${r.body.length} bytes of ${plain.body.length}`);
        assert.ok((decode[encoding] as (b: Buffer) => Buffer)(r.body).equals(plain.body), `${accept}: decodes to the plain body`);
        const tag = r.headers.etag as string;
        assert.equal(tag, `${etag.slice(0, -1)}-${encoding === 'br' ? 'br' : 'gz'}"`, accept);
        // 304 for the tag of the encoding asked for; the same tag from a client that now takes another encoding is a 200.
        const same = await request(`${base}/api/tasks`, { 'accept-encoding': accept, 'if-none-match': tag });
        assert.deepEqual([same.status, same.body.length, same.headers.etag, same.headers.vary], [304, 0, tag, 'Accept-Encoding'], accept);
        const other = await request(`${base}/api/tasks`, { 'if-none-match': tag });
        assert.deepEqual([other.status, other.headers.etag], [200, etag], accept);
        const head = await request(`${base}/api/tasks`, { 'accept-encoding': accept }, 'HEAD');
        assert.deepEqual([head.status, head.headers['content-encoding'], head.headers['content-length'], head.body.length], [200, encoding, String(r.body.length), 0], accept);
      }
      assert.equal((await request(`${base}/api/tasks`, { 'if-none-match': etag })).status, 304);
      // A parameter the list does not know (a cache-buster) leaves the whole answer as it is.
      const busted = await request(`${base}/api/tasks?_=123`);
      assert.deepEqual([busted.headers.etag, busted.body.equals(plain.body)], [etag, true]);

      // Pages of 250 cover every task exactly once, in the served order; the archived copy's `next` is its path.
      const walk = async (extra: string, accept = ''): Promise<ApiTask[]> => {
        const seen: ApiTask[] = [];
        let after: string | null = null;
        for (let pages = 0; ; pages++) {
          assert.ok(pages <= N / 250 + 2, 'the pages end');
          const r = await request(`${base}/api/tasks?limit=250${extra}${after === null ? '' : `&after=${encodeURIComponent(after)}`}`, accept ? { 'accept-encoding': accept } : {});
          assert.equal(r.status, 200, r.body.toString());
          const page = JSON.parse((accept ? zlib.brotliDecompressSync(r.body) : r.body).toString('utf8')) as Page;
          assert.ok(page.tasks.length > 0 && page.tasks.length <= 250, `page ${pages + 1} has ${page.tasks.length}`);
          assert.deepEqual(page.errors, whole.errors);
          seen.push(...page.tasks);
          assert.ok(page.next !== undefined, 'a page says next');
          if (page.next === null) return seen;
          after = page.next;
        }
      };
      const paged = await walk('');
      assert.deepEqual(paged, whole.tasks, 'every task once, in order, with the same fields');
      const at = whole.tasks.findIndex((x) => x.path === `archive/${SHARED}.md`);
      const archived = json(await request(`${base}/api/tasks?limit=1&after=${encodeURIComponent(whole.tasks[at - 1]?.id as string)}`));
      assert.deepEqual([archived.tasks[0]?.title, archived.next], ['The archived copy', `archive/${SHARED}.md`]);
      const after = json(await request(`${base}/api/tasks?limit=1&after=${encodeURIComponent(archived.next as string)}`));
      assert.deepEqual([after.tasks[0]?.id, after.next], [whole.tasks[at + 1]?.id, whole.tasks[at + 1]?.id]);
      const n = whole.tasks.length;
      assert.deepEqual(json(await request(`${base}/api/tasks?after=${encodeURIComponent(whole.tasks[n - 2]?.id as string)}`)), { tasks: [whole.tasks[n - 1]], errors: whole.errors, next: null });

      // Fields: only those, in the order asked, the same values; compressed pages decode too.
      const picked = await walk('&fields=title,id,status', 'br');
      assert.deepEqual(picked, whole.tasks.map((x) => ({ title: x.title, id: x.id, status: x.status })));
      const fieldsOnly = json(await request(`${base}/api/tasks?fields=id`));
      assert.deepEqual([fieldsOnly.tasks.map((x) => x.id), 'next' in fieldsOnly], [whole.tasks.map((x) => x.id), false]);

      // Bad values: 400, one line that names the value and the fix; the whole list is never the answer.
      const bad: [string, RegExp][] = [
        ['limit=0', /^limit="0" is not a whole number from 1 to 1000000; ask for a page size/],
        ['limit=abc', /limit="abc" is not a whole number/],
        ['limit=-5', /limit="-5" is not a whole number/],
        ['limit=2.5', /limit="2\.5" is not a whole number/],
        ['limit=1&limit=2', /^limit= is given 2 times; give it once$/],
        ['after=', /^after= is empty; pass the "next" of the previous page/],
        ['limit=5&after=NO-SUCH', /^after="NO-SUCH" names no task in the list .*; start again without after=$/],
        [`after=${SHARED}`, new RegExp(`^after="${SHARED}" names 2 tasks .*; pass the path of the one you mean`)],
        ['fields=', /^fields="" names an empty field; list fields of id,slug,path,.* with commas, e.g\. \?fields=id,status,title$/],
        ['fields=id,nope', /^fields="id,nope" names no field "nope"; list fields of /],
        ['fields=id,,title', /names an empty field/],
        ['fields=body', /names no field "body"/],
      ];
      for (const [query, line] of bad) {
        const r = await request(`${base}/api/tasks?${query}`, { 'accept-encoding': 'br' });
        assert.equal(r.status, 400, query);
        assert.equal(r.headers['content-type'], 'application/json; charset=utf-8', query);
        const { error } = JSON.parse(r.body.toString('utf8')) as { error: string };
        assert.match(error, line, query);
        assert.doesNotMatch(error, /\n/, query);
      }
    } finally {
      await stopServe(s);
    }
  }));
});

describe('/api/tasks/<id> reads the task file again', () => {
  test('a file changed since the model was built is a 503 to retry, never its new text under the old title; then the new task', () => withTempFolder('apitask-file', async (t) => {
    fs.writeFileSync(path.join(t.dir, 'A-1.md'), '---\nid: A-1\ntitle: Alpha\nstatus: ready\n---\nAlpha body.\n');
    fs.writeFileSync(path.join(t.dir, 'B-2.md'), '---\nid: B-2\ntitle: Beta\nstatus: ready\n---\nBeta body.\n');
    const hold = path.join(t.root, 'build-hold');
    const { s, base } = await serveBare(t, [], { ...process.env, TASKS_BUILD_HOLD: hold } as Record<string, string>);
    try {
      const first = await waitUntilAsync(async () => {
        const r = await request(`${base}/api/tasks/A-1`);
        return r.status === 200 ? JSON.parse(r.body.toString('utf8')) as { title: string; body: string } : undefined;
      }, 'A-1 from the API', 60_000);
      assert.equal(first.title, 'Alpha');
      assert.match(first.body, /Alpha body/);
      // Builds wait from now on: the model keeps Alpha while the file says something else.
      fs.writeFileSync(hold, '');
      fs.writeFileSync(path.join(t.dir, 'A-1.md'), '---\nid: A-1\ntitle: Gamma\nstatus: ready\n---\nGamma body.\n');
      const mixed = await request(`${base}/api/tasks/A-1`);
      assert.equal(mixed.status, 503, mixed.body.toString('utf8'));
      assert.equal(mixed.headers['retry-after'], '1');
      assert.doesNotMatch(mixed.body.toString('utf8'), /Gamma body/);
      // Swapped for another task's file: not A-1's metadata over B-2's text either.
      fs.writeFileSync(path.join(t.dir, 'A-1.md'), '---\nid: B-2\ntitle: Beta\nstatus: ready\n---\nBeta body.\n');
      assert.equal((await request(`${base}/api/tasks/A-1`)).status, 503);
      fs.writeFileSync(path.join(t.dir, 'A-1.md'), '---\nid: A-1\ntitle: Gamma\nstatus: ready\n---\nGamma body.\n');
      fs.rmSync(hold);
      const after = await waitUntilAsync(async () => {
        const r = await request(`${base}/api/tasks/A-1`);
        return r.status === 200 ? JSON.parse(r.body.toString('utf8')) as { title: string; body: string } : undefined;
      }, 'A-1 as the file says, once the build caught up', 60_000);
      assert.equal(after.title, 'Gamma');
      assert.match(after.body, /Gamma body/);
    } finally {
      fs.rmSync(hold, { force: true });
      await stopServe(s);
    }
  }));
});
