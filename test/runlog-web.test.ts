// Run logs on the web side: the tail reader, which file is a task's log, and the routes and events of a real server.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import getPort from 'get-port';
import { logSources, readRunLogTail, runLogOf } from '../lib/web/render/run-log.ts';
import { utf8Cut } from '../lib/web/http/log-stream.ts';
import { SCRIPT, TSX, start, waitUntil, waitUntilAsync, withTempFolder, type Folder, type Running } from './helpers.ts';

function withDir(fn: (dir: string) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-runlog-'));
  try {
    fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const numbered = (from: number, to: number): string => Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}\n`).join('');

describe('the tail reader', () => {
  test('the last N lines, whether more exist, where they end, and a last line without newline', () => withDir((dir) => {
    const file = path.join(dir, 'A.log');
    fs.writeFileSync(file, numbered(1, 10));
    const t = readRunLogTail(file, 3);
    assert.deepEqual([t?.lines, t?.truncated, t?.partial, t?.end], [['line 8', 'line 9', 'line 10'], true, false, fs.statSync(file).size]);
    assert.equal(t?.log, `${fs.statSync(file).dev}:${fs.statSync(file).ino}`);
    assert.deepEqual(readRunLogTail(file, 20)?.lines.length, 10);
    assert.equal(readRunLogTail(file, 20)?.truncated, false);
    assert.deepEqual(readRunLogTail(file, 0)?.lines, []);
    fs.appendFileSync(file, 'half a li');
    assert.deepEqual([readRunLogTail(file, 2)?.lines, readRunLogTail(file, 2)?.partial], [['line 10', 'half a li'], true]);
    fs.writeFileSync(file, 'dos\r\nline\r\n');
    assert.deepEqual(readRunLogTail(file, 5)?.lines, ['dos', 'line']);
  }));

  test('a short log is topped up from its rotated copy', () => withDir((dir) => {
    const file = path.join(dir, 'A.log');
    fs.writeFileSync(`${file}.1`, numbered(1, 5));
    fs.writeFileSync(file, numbered(6, 10));
    assert.deepEqual(readRunLogTail(file, 7)?.lines, ['line 4', 'line 5', 'line 6', 'line 7', 'line 8', 'line 9', 'line 10']);
    assert.equal(readRunLogTail(file, 7)?.truncated, true);
    assert.equal(readRunLogTail(file, 10)?.truncated, false);
    fs.rmSync(file);
    assert.deepEqual([readRunLogTail(file, 2)?.lines, readRunLogTail(file, 2)?.log], [['line 4', 'line 5'], '']);
  }));

  test('long logs are read from the end only; lines longer than a block survive', () => withDir((dir) => {
    const file = path.join(dir, 'A.log');
    fs.writeFileSync(file, `${'x'.repeat(200_000)}\n${numbered(1, 50_000)}${'y'.repeat(100_000)}\n`);
    const t = readRunLogTail(file, 2);
    assert.deepEqual(t?.lines.map((l) => l.slice(0, 12)), ['line 50000', 'y'.repeat(12)]);
    assert.equal(t?.lines[1]?.length, 100_000);
    assert.equal(readRunLogTail(file, 5000)?.lines.length, 5000);
  }));

  test('a symlink, a folder or a FIFO in the log\'s place is not read', () => withDir((dir) => {
    fs.writeFileSync(path.join(dir, 'secret'), 'secret\n');
    fs.symlinkSync(path.join(dir, 'secret'), path.join(dir, 'LINK.log'));
    fs.mkdirSync(path.join(dir, 'DIR.log'));
    execFileSync('mkfifo', [path.join(dir, 'FIFO.log')]);
    for (const name of ['LINK.log', 'DIR.log', 'FIFO.log', 'NONE.log']) assert.equal(readRunLogTail(path.join(dir, name), 5), undefined, name);
  }));

  test('a task\'s log is its claim\'s, else the newest released one\'s, else runs/<slug>.log; never outside the runs folder', () => withDir((dir) => {
    const runs = path.join(dir, 'runs');
    const names = new Set(['T.log', 'OLD.log', 'NEW.log', 'CLAIM.log']);
    const claim = (log: string | null): Record<string, unknown> => ({ id: 'T', log });
    const reg = (claims: Record<string, unknown>, history: unknown[] = []): ReturnType<typeof logSources> => logSources({ version: 1, claims, history } as never);
    assert.equal(runLogOf({ id: 'T', slug: 'T' }, logSources(undefined), runs, names), path.join(runs, 'T.log'));
    assert.equal(runLogOf({ id: 'T', slug: 'T' }, reg({ T: claim(path.join(runs, 'CLAIM.log')) }), runs, names), path.join(runs, 'CLAIM.log'));
    assert.equal(runLogOf({ id: 'T', slug: 'T' }, reg({}, [claim(path.join(runs, 'OLD.log')), claim(path.join(runs, 'NEW.log'))]), runs, names), path.join(runs, 'NEW.log'));
    for (const outside of ['/etc/passwd', path.join(dir, 'T.log'), path.join(runs, '..', 'x', 'CLAIM.log'), path.join(runs, 'sub', 'CLAIM.log'), path.join(runs, 'CLAIM.txt')]) {
      assert.equal(runLogOf({ id: 'T', slug: 'T' }, reg({ T: claim(outside) }), runs, names), path.join(runs, 'T.log'), outside);
    }
    assert.equal(runLogOf({ id: 'U', slug: 'U' }, logSources(undefined), runs, names), undefined);
  }));

  test('utf8Cut never splits a character', () => {
    const euro = Buffer.from('a€'); // 61 e2 82 ac
    assert.deepEqual([1, 2, 3, 4].map((n) => utf8Cut(euro.subarray(0, n))), [1, 1, 1, 4]);
    assert.equal(utf8Cut(Buffer.from('😀').subarray(0, 3)), 0);
  });
});

function get(url: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
    }).on('error', reject);
  });
}

/** serve without a heartbeat, with the test's registry and run logs standing in for dispatched runs. */
async function serveFolder(t: Folder, more: string[] = []): Promise<{ s: Running; base: string }> {
  const port = await getPort({ host: '127.0.0.1' });
  const s = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', `owner=${t.owner}`, `dir=${t.dir}`, `port=${port}`, '--no-heartbeat', ...more]);
  t.extra.push(s.child.pid as number);
  await s.waitFor(/serving tasks/);
  return { s, base: `http://127.0.0.1:${port}` };
}

/** Writes registry.json with one running claim per id, each logging to runs/<id>.log unless `log` says otherwise. */
function writeRegistry(dir: string, claims: Record<string, string | null>): void {
  const state = path.join(dir, 'logs', 'task_manager');
  fs.mkdirSync(path.join(state, 'runs'), { recursive: true });
  const entries = Object.entries(claims).map(([id, log]) => [id, {
    id, slug: id, path: `${id}.md`, claimedBy: 'x', claimedAt: new Date().toISOString(), startedAt: new Date().toISOString(), worktree: '/nowhere',
    pid: null, pidStart: null, state: 'running', exitCode: null, endedAt: null, log,
  }]);
  fs.writeFileSync(path.join(state, 'registry.json'), JSON.stringify({ version: 1, claims: Object.fromEntries(entries), history: [] }));
}

describe('run log routes and events', () => {
  test('GET /api/tasks/<id>/log?tail=N, log.txt, 400 and 404; ids never reach the file system', () => withTempFolder('rlog', async (t) => {
    const runs = path.join(t.dir, 'logs', 'task_manager', 'runs');
    fs.writeFileSync(path.join(t.dir, 'OTHER.md'), '---\nid: OTHER\ntitle: Other\nstatus: ready\n---\n');
    fs.writeFileSync(path.join(t.dir, 'ESCAPE.md'), '---\nid: ESCAPE\ntitle: Escape\nstatus: ready\n---\n');
    writeRegistry(t.dir, { 'FIRST-TASK': path.join(runs, 'FIRST-TASK.log'), ESCAPE: path.join(t.dir, 'ESCAPE.md') });
    fs.writeFileSync(path.join(runs, 'FIRST-TASK.log.1'), numbered(1, 3000));
    fs.writeFileSync(path.join(runs, 'FIRST-TASK.log'), `${numbered(3001, 6000)}<b>bold</b>\n`);
    const { base } = await serveFolder(t);
    const log = async (url: string): Promise<Record<string, any>> => {
      const r = await get(base + url);
      assert.match(r.type, /^application\/json/);
      return { status: r.status, ...JSON.parse(r.body) as object };
    };
    const def = await log('/api/tasks/FIRST-TASK/log');
    assert.deepEqual([def.status, def.id, def.path, def.lines.length, def.lines.at(-1), def.truncated], [200, 'FIRST-TASK', path.join(runs, 'FIRST-TASK.log'), 200, '<b>bold</b>', true]);
    assert.deepEqual((await log('/api/tasks/FIRST-TASK/log?tail=2')).lines, ['line 6000', '<b>bold</b>']);
    const max = await log('/api/tasks/FIRST-TASK/log?tail=999999');
    assert.deepEqual([max.lines.length, max.lines[0], max.truncated], [5000, 'line 1002', true], 'at most 5000 lines, from the rotated copy too');
    assert.equal((await log('/api/tasks/FIRST-TASK/log?tail=-1')).status, 400);
    assert.equal((await log('/api/tasks/FIRST-TASK/log?tail=abc')).status, 400);
    const txt = await get(`${base}/api/tasks/FIRST-TASK/log.txt`);
    assert.deepEqual([txt.status, txt.type, txt.body.startsWith('line 1\n'), txt.body.endsWith('line 6000\n<b>bold</b>\n')], [200, 'text/plain; charset=utf-8', true, true]);
    // A task without a run, one whose claim names a file outside the runs folder, and ids that are not tasks.
    const none = await log('/api/tasks/OTHER/log');
    assert.deepEqual([none.status, none.error], [404, 'no run log for task OTHER: it has not been dispatched']);
    assert.equal((await log('/api/tasks/ESCAPE/log')).status, 404);
    assert.equal((await get(`${base}/api/tasks/ESCAPE/log.txt`)).status, 404);
    for (const id of ['..%2F..%2Fregistry.json', '..', '%2E%2E', 'FIRST-TASK%2F..%2F..%2Fregistry.json', 'NOPE']) {
      const r = await get(`${base}/api/tasks/${id}/log`);
      assert.equal(r.status, 404, id);
      assert.doesNotMatch(r.body, /claimedBy|line 1/, id);
    }
    assert.equal((await get(`${base}/api/tasks/FIRST-TASK/../../logs/task_manager/runs/FIRST-TASK.log`)).status, 404);
    assert.equal((await get(`${base}/api/tasks/%E0%A4%A/log`)).status, 400);
    // A symlink planted in the runs folder is not followed.
    fs.writeFileSync(path.join(t.root, 'secret.txt'), 'secret\n');
    fs.symlinkSync(path.join(t.root, 'secret.txt'), path.join(runs, 'OTHER.log'));
    assert.equal((await log('/api/tasks/OTHER/log')).status, 404);
    // The page shows the tail escaped, with the link to the whole log.
    const page = (await get(`${base}/tasks/FIRST-TASK.html`)).body;
    assert.match(page, /&lt;b&gt;bold&lt;\/b&gt;<\/pre>/);
    assert.match(page, /href="\.\.\/api\/tasks\/FIRST-TASK\/log\.txt"/);
  }));

  test('/api/events?log=<id> carries a growing log\'s new lines as `log` events, and only to who asked', () => withTempFolder('rlev', async (t) => {
    const runs = path.join(t.dir, 'logs', 'task_manager', 'runs');
    const file = path.join(runs, 'FIRST-TASK.log');
    writeRegistry(t.dir, { 'FIRST-TASK': file });
    fs.writeFileSync(file, 'old line\n');
    const { base } = await serveFolder(t);
    const listen = (query: string): { text: () => string; close: () => void } => {
      let text = '';
      const req = http.get(`${base}/api/events${query}`, (res) => {
        res.setEncoding('utf8');
        res.on('data', (c: string) => { text += c; });
      });
      req.on('error', () => undefined);
      return { text: () => text, close: () => req.destroy() };
    };
    const mine = listen('?log=FIRST-TASK');
    const other = listen('');
    try {
      await waitUntil(() => mine.text().includes('event: hello') && other.text().includes('event: hello'), 'hello on both streams');
      // The stream follows the log from its end as it was when a page first listened.
      const events = (): Record<string, any>[] => mine.text().split('\n\n').slice(0, -1).filter((f) => f.startsWith('event: log')).map((f) => JSON.parse(f.split('\ndata: ')[1] as string) as Record<string, any>);
      await waitUntil(() => { fs.appendFileSync(file, 'ping\n'); return mine.text().includes('event: log'); }, 'a first log event');
      await waitUntil(() => events().at(-1)?.to === fs.statSync(file).size, 'the pings sent up to the end');
      const at = fs.statSync(file).size;
      fs.appendFileSync(file, 'fresh <line>\nand a half');
      await waitUntil(() => mine.text().includes('and a half'), 'the new lines as a log event');
      const last = events().at(-1) as Record<string, any>;
      const st = fs.statSync(file);
      assert.deepEqual(last, { id: 'FIRST-TASK', log: `${st.dev}:${st.ino}`, from: at, to: st.size, lines: ['fresh <line>', 'and a half'], partial: true });
      assert.doesNotMatch(other.text(), /event: log/, 'a stream that did not ask gets no log lines');
      // A rotation: the rest of the old file, then the new one from byte 0.
      fs.appendFileSync(file, ' more\n');
      fs.renameSync(file, `${file}.1`);
      fs.writeFileSync(file, 'after rotation\n');
      await waitUntil(() => mine.text().includes('after rotation'), 'lines of the rotated log');
      const tail = events().slice(-2);
      assert.deepEqual(tail.map((e) => [e.lines, e.from]), [[[' more'], st.size], [['after rotation'], 0]]);
    } finally {
      mine.close();
      other.close();
    }
  }));

  test('PR numbers link to the git remote in /api/tasks, /api/tasks/<id> and the page', () => withTempFolder('rlpr', async (t) => {
    execFileSync('git', ['init', '-q', t.root]);
    execFileSync('git', ['-C', t.root, 'remote', 'add', 'origin', 'git@github.com:acme/widgets.git']);
    fs.writeFileSync(path.join(t.dir, 'FIRST-TASK.md'), '---\nid: FIRST-TASK\ntitle: First\nstatus: review\npr: 42\n---\n');
    fs.writeFileSync(path.join(t.dir, 'URL.md'), '---\nid: URL\ntitle: By URL\npr: https://gitlab.example.com/g/p/-/merge_requests/8\n---\n');
    const { base } = await serveFolder(t);
    // git is asked once the first page is out (a bare number needs the remote); the links follow.
    const list = await waitUntilAsync(async () => {
      const doc = JSON.parse((await get(`${base}/api/tasks`)).body) as { tasks: Record<string, unknown>[] };
      return doc.tasks[0]?.prUrl ? doc : undefined;
    }, 'prUrl in /api/tasks');
    assert.deepEqual(list.tasks.map((x) => [x.id, x.pr, x.prNumber, x.prUrl]), [
      ['FIRST-TASK', '42', 42, 'https://github.com/acme/widgets/pull/42'],
      ['URL', 'https://gitlab.example.com/g/p/-/merge_requests/8', 8, 'https://gitlab.example.com/g/p/-/merge_requests/8'],
    ]);
    const one = JSON.parse((await get(`${base}/api/tasks/FIRST-TASK`)).body) as Record<string, unknown>;
    assert.equal(one.prUrl, 'https://github.com/acme/widgets/pull/42');
    assert.match((await get(`${base}/tasks/FIRST-TASK.html`)).body, /<a href="https:\/\/github.com\/acme\/widgets\/pull\/42" rel="noreferrer">#42<\/a>/);
  }));
});
