// The writer thread of the server's build folder: each file's .br and .gz, then the file, compressed and written off the build thread.
import { Worker } from 'node:worker_threads';

/**
 * The writer, run as an eval'd worker. For each job, in the order given: `<file>.br` (brotli at
 * quality 5, the window fitted to the file), `<file>.gz` (gzip at zlib's default level 6), then the file
 * itself, each written to a temp file and renamed into place, so a reader gets one whole version
 * and a sibling is never newer than its file once the file is in. A failed job (a full disk) is
 * reported and the next one tried. Plain JavaScript in a string, so it runs the same from the
 * TypeScript sources and the bundle.
 *
 * Why quality 5: on a page of a few KB it costs about what quality 4 does, and on a file of
 * megabytes it comes out 40 % smaller in the same time; 6 and up cost 4x and more (bench/site.ts).
 */
const WRITER = `'use strict';
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const zlib = require('node:zlib');
const C = zlib.constants;
let n = 0;
const put = (file, bytes) => {
  const tmp = file + '.' + process.pid + '.' + (n++) + 'w.tmp';
  try {
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, file);
  } catch (err) {
    try { fs.rmSync(tmp, { force: true }); } catch {}
    throw err;
  }
};
const brotli = (b) => zlib.brotliCompressSync(b, { params: {
  [C.BROTLI_PARAM_QUALITY]: 5, [C.BROTLI_PARAM_MODE]: C.BROTLI_MODE_TEXT, [C.BROTLI_PARAM_SIZE_HINT]: b.length,
  [C.BROTLI_PARAM_LGWIN]: Math.min(24, Math.max(16, Math.ceil(Math.log2(b.length + 1)))),
} });
const gzip = (b) => zlib.gzipSync(b, { level: 6 });
parentPort.on('message', (jobs) => {
  let error = null;
  for (const job of jobs) {
    try {
      const b = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength);
      put(job.file + '.br', brotli(b));
      put(job.file + '.gz', gzip(b));
      put(job.file, b);
    } catch (err) {
      error = error || (err && err.message) || String(err);
    }
  }
  parentPort.postMessage({ done: jobs.length, error });
});
`;

/** Jobs go to the thread in batches of this many, so it starts while the build still renders. */
const BATCH = 128;

interface Job { readonly file: string; readonly bytes: Uint8Array }

/**
 * Hands files to the writer thread: compressing every page of 10,000 tasks and writing three files
 * for each is as much work as rendering them, and on another core it overlaps the render. Jobs are
 * done in the order given; flush() resolves once every job so far is on disk, and rejects with the
 * first failure since the last flush.
 */
export class SiteWriter {
  private worker: Worker | undefined;
  private batch: Job[] = [];
  private sent = 0;
  private done = 0;
  private error: string | undefined;
  private waiting: { upTo: number; resolve: () => void; reject: (err: Error) => void }[] = [];

  /** Queues `<file>.br`, `<file>.gz` and then the file itself. */
  put(file: string, chunks: readonly Buffer[]): void {
    this.batch.push({ file, bytes: chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks) });
    if (this.batch.length >= BATCH) this.post();
  }

  /** Resolves when every job queued so far is written (rejects with the first failure since the last flush). */
  flush(): Promise<void> {
    this.post();
    const upTo = this.sent;
    if (this.done >= upTo) return this.settle(Promise.resolve());
    return new Promise((resolve, reject) => { this.waiting.push({ upTo, resolve, reject }); });
  }

  private settle(p: Promise<void>): Promise<void> {
    const error = this.error;
    this.error = undefined;
    return error === undefined ? p : Promise.reject(new Error(error));
  }

  private post(): void {
    if (this.batch.length === 0) return;
    const worker = this.thread();
    worker.ref();
    worker.postMessage(this.batch);
    this.sent += this.batch.length;
    this.batch = [];
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WRITER, { eval: true });
    worker.on('message', (m: { done: number; error: string | null }) => {
      this.done += m.done;
      if (m.error !== null) this.error ??= m.error;
      if (this.done >= this.sent) worker.unref();
      const ready = this.waiting.filter((w) => w.upTo <= this.done);
      this.waiting = this.waiting.filter((w) => w.upTo > this.done);
      const error = ready.length ? this.error : undefined;
      if (ready.length) this.error = undefined;
      for (const w of ready) {
        if (error === undefined) w.resolve();
        else w.reject(new Error(error));
      }
    });
    // A thread that dies loses the jobs it had: every waiter fails, and the next job starts a new thread.
    const lost = (why: string): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.done = this.sent;
      const waiting = this.waiting;
      this.waiting = [];
      for (const w of waiting) w.reject(new Error(`the site writer thread ${why}`));
    };
    worker.on('error', (err) => lost(`failed: ${err.message}`));
    worker.on('exit', (code) => lost(`exited (code ${code})`));
    this.worker = worker;
    return worker;
  }
}
