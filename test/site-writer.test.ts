// The server's site writer: large batches on writer threads that end when idle, small ones written by the calling thread, every file with its .br and .gz.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { SiteWriter } from '../lib/web/site/site-writer.ts';
import { waitUntil } from './helpers.ts';

/** This process's threads, from /proc: a writer thread is one more while it lives. */
function threads(): number {
  return Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1]);
}

function check(file: string, text: string): void {
  assert.equal(fs.readFileSync(file, 'utf8'), text);
  assert.equal(zlib.brotliDecompressSync(fs.readFileSync(`${file}.br`)).toString(), text);
  assert.equal(zlib.gunzipSync(fs.readFileSync(`${file}.gz`)).toString(), text);
}

test('a small flush is written without a thread; a large build starts threads, which end when idle; the last version of a file wins', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'site-writer-'));
  try {
    const writer = new SiteWriter(300);
    const before = threads();
    writer.put(path.join(dir, 'index.html'), [Buffer.from('<p>one</p>')]);
    await writer.flush();
    check(path.join(dir, 'index.html'), '<p>one</p>');
    assert.equal(threads(), before, 'a small flush starts no thread');

    // 300 pages: batches of 128 go to threads while the "build" goes on.
    for (let i = 0; i < 300; i++) writer.put(path.join(dir, `p${i}.html`), [Buffer.from(`<p>page ${i} ${'x'.repeat(2000)}</p>`)]);
    writer.put(path.join(dir, 'index.html'), [Buffer.from('<p>two</p>')]);
    assert.ok(threads() > before, 'a large build runs on writer threads');
    await writer.flush();
    for (let i = 0; i < 300; i += 37) check(path.join(dir, `p${i}.html`), `<p>page ${i} ${'x'.repeat(2000)}</p>`);
    check(path.join(dir, 'index.html'), '<p>two</p>');
    await waitUntil(() => threads() === before, 'the idle writer threads to end', 30_000);

    // After the threads ended: small again, in this thread, and the newest version is the one on disk.
    writer.put(path.join(dir, 'index.html'), [Buffer.from('<p>three</p>')]);
    await writer.flush();
    check(path.join(dir, 'index.html'), '<p>three</p>');
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')), [], 'no temp file left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
