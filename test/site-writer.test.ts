// The server's site writer: every file with its .br and .gz, compressed on the thread pool and written in the order given, with no thread of its own.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { SiteWriter } from '../lib/web/site/site-writer.ts';

function check(file: string, text: string): void {
  assert.equal(fs.readFileSync(file, 'utf8'), text);
  assert.equal(zlib.brotliDecompressSync(fs.readFileSync(`${file}.br`)).toString(), text);
  assert.equal(zlib.gunzipSync(fs.readFileSync(`${file}.gz`)).toString(), text);
}

/** This process's threads, from /proc: a worker thread is one more while it lives (libuv's pool is started before counting). */
function threads(): number {
  return Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1]);
}

test('a build of many files is written whole, siblings and all, on no thread of its own; the last version of a file wins', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'site-writer-'));
  try {
    const writer = new SiteWriter();
    writer.put(path.join(dir, 'index.html'), [Buffer.from('<p>one</p>')]);
    await writer.flush();
    check(path.join(dir, 'index.html'), '<p>one</p>');
    const before = threads();

    // 300 pages and a few large files (past the window on their own), then two more versions of the index.
    const big = (i: number): string => `<p>big ${i} ${'lorem ipsum '.repeat(600_000)}</p>`;
    for (let i = 0; i < 300; i++) writer.put(path.join(dir, `p${i}.html`), [Buffer.from(`<p>page ${i} `), Buffer.from(`${'x'.repeat(2000)}</p>`)]);
    for (let i = 0; i < 3; i++) writer.put(path.join(dir, `big${i}.json`), [Buffer.from(big(i))]);
    writer.put(path.join(dir, 'index.html'), [Buffer.from('<p>two</p>')]);
    writer.put(path.join(dir, 'index.html'), [Buffer.from('<p>three</p>')]);
    assert.ok(writer.pending > 0, 'the jobs are under way, not written before put() returned');
    assert.equal(threads(), before, 'no thread of its own: the compressing runs on the pool the first flush started');
    await writer.flush();
    assert.equal(writer.pending, 0);
    for (let i = 0; i < 300; i += 37) check(path.join(dir, `p${i}.html`), `<p>page ${i} ${'x'.repeat(2000)}</p>`);
    for (let i = 0; i < 3; i++) check(path.join(dir, `big${i}.json`), big(i));
    check(path.join(dir, 'index.html'), '<p>three</p>');
    // A sibling is never newer than its file.
    const mtime = (p: string): number => fs.statSync(path.join(dir, p)).mtimeMs;
    assert.ok(mtime('index.html.br') <= mtime('index.html') && mtime('index.html.gz') <= mtime('index.html'));
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')), [], 'no temp file left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a file that cannot be written fails its flush once, with the reason; the jobs after it are written, and the next flush is clean', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'site-writer-'));
  try {
    const writer = new SiteWriter();
    // The page's place taken by a folder that is not empty: renaming the new page over it fails.
    const blocked = path.join(dir, 'blocked.html');
    fs.mkdirSync(blocked);
    fs.writeFileSync(path.join(blocked, 'x'), 'x');
    writer.put(path.join(dir, 'a.html'), [Buffer.from('<p>a</p>')]);
    writer.put(blocked, [Buffer.from('<p>blocked</p>')]);
    writer.put(path.join(dir, 'b.html'), [Buffer.from('<p>b</p>')]);
    await assert.rejects(writer.flush(), /blocked\.html|EISDIR|ENOTEMPTY|EEXIST/);
    check(path.join(dir, 'a.html'), '<p>a</p>');
    check(path.join(dir, 'b.html'), '<p>b</p>');
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')), [], 'the failed temp file is removed');

    writer.put(path.join(dir, 'c.html'), [Buffer.from('<p>c</p>')]);
    await writer.flush();
    check(path.join(dir, 'c.html'), '<p>c</p>');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
