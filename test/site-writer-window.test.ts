// The site writer's window: never more than four jobs, or 4 MB past the first, compressing at once (each holds a brotli and a gzip state).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import zlib from 'node:zlib';

test('at most four small jobs, and one job of over 4 MB, are compressing at any time', async () => {
  // Counts the brotli calls in flight: wrapped before the writer takes its reference to it.
  let now = 0;
  let most = 0;
  const real = zlib.brotliCompress;
  (zlib as { brotliCompress: unknown }).brotliCompress = (buf: Buffer, opts: zlib.BrotliOptions, cb: (err: Error | null, out: Buffer) => void) => {
    most = Math.max(most, ++now);
    return real(buf, opts, (err, out) => { now--; cb(err, out); });
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'site-writer-window-'));
  try {
    const { SiteWriter } = await import('../lib/web/site/site-writer.ts');
    const writer = new SiteWriter();
    for (let i = 0; i < 50; i++) writer.put(path.join(dir, `p${i}.html`), [Buffer.from(`<p>${i} ${'x'.repeat(3000)}</p>`)]);
    await writer.flush();
    assert.equal(most, 4, 'four small jobs at once');
    most = 0;
    for (let i = 0; i < 4; i++) writer.put(path.join(dir, `big${i}.json`), [Buffer.alloc(5 * 1024 * 1024, 97 + i)]);
    await writer.flush();
    assert.equal(most, 1, 'a job over the 4 MB window compresses alone');
    assert.equal(fs.statSync(path.join(dir, 'big3.json')).size, 5 * 1024 * 1024);
  } finally {
    (zlib as { brotliCompress: unknown }).brotliCompress = real;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
