// The writer thread of the server's build folder: each file's .br and .gz, then the file, compressed and written off the build thread.
import { createRequire } from 'node:module';
import os from 'node:os';
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
const CORE = `
const fs = require('node:fs');
const zlib = require('node:zlib');
const C = zlib.constants;
// Temp names apart per thread (the build thread writes small batches itself): <pid>.<digits>w.tmp.
let n = require('node:worker_threads').threadId * 1e9;
// The temp file is made with O_EXCL ('wx'): a link planted under its name is never followed (nor removed).
const put = (file, bytes) => {
  const tmp = file + '.' + process.pid + '.' + (n++) + 'w.tmp';
  let made = false;
  try {
    const fd = fs.openSync(tmp, 'wx');
    made = true;
    try { fs.writeFileSync(fd, bytes); } finally { fs.closeSync(fd); }
    fs.renameSync(tmp, file);
  } catch (err) {
    if (made) try { fs.rmSync(tmp, { force: true }); } catch {}
    throw err;
  }
};
const brotli = (b) => zlib.brotliCompressSync(b, { params: {
  [C.BROTLI_PARAM_QUALITY]: 5, [C.BROTLI_PARAM_MODE]: C.BROTLI_MODE_TEXT, [C.BROTLI_PARAM_SIZE_HINT]: b.length,
  [C.BROTLI_PARAM_LGWIN]: Math.min(24, Math.max(16, Math.ceil(Math.log2(b.length + 1)))),
} });
const gzip = (b) => zlib.gzipSync(b, { level: 6 });
// One job: the siblings, then the file.
const write = (job) => {
  const b = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength);
  put(job.file + '.br', brotli(b));
  put(job.file + '.gz', gzip(b));
  put(job.file, b);
};
`;

const WRITER = `'use strict';
const { parentPort } = require('node:worker_threads');
${CORE}
// The job buffers are dead once written, but a thread this small rarely collects: V8 kept them
// until its external-memory limit (tens of MB a thread). Collected after every 16 MB written, once
// the message's handler is done (its event holds the batch until then); the flag goes off again at once.
const collect = (() => {
  try {
    require('node:v8').setFlagsFromString('--expose-gc');
    return require('node:vm').runInNewContext('gc');
  } catch {
    return () => {};
  } finally {
    require('node:v8').setFlagsFromString('--no-expose-gc');
  }
})();
let uncollected = 0;
parentPort.on('message', (jobs) => {
  let error = null;
  for (const job of jobs) {
    try {
      write(job);
    } catch (err) {
      error = error || (err && err.message) || String(err);
    }
  }
  const bytes = jobs.reduce((n, j) => n + j.bytes.byteLength, 0);
  parentPort.postMessage({ done: jobs.length, bytes, error });
  uncollected += bytes;
  if (uncollected >= 16 * 1024 * 1024) {
    uncollected = 0;
    setImmediate(collect);
  }
});
`;

/** Jobs go to a thread in batches of this many, so it starts while the build still renders. */
const BATCH = 128;
/**
 * A thread idle this long ends: each one is a V8 heap of its own (10 MB and more), and after the
 * first build most rebuilds write a few files. A batch this small, given while the lane has no
 * thread, is written by the calling thread itself (a thread takes longer to start than compressing
 * it); a larger one starts a thread again.
 */
const IDLE_MS = 10_000;
const INLINE_MAX_BYTES = 512 * 1024;
/** Writer threads: two, so a rebuild's few large files (the index, tasks.json, search.json) are compressed side by side. */
const LANES = Math.min(2, Math.max(1, os.availableParallelism()));

interface Job { readonly file: string; readonly bytes: Uint8Array }

/** One writer thread and what it was given: jobs posted and done, bytes not yet done. */
interface Lane { worker: Worker | undefined; batch: Job[]; sent: number; done: number; bytes: number; idle: NodeJS.Timeout | undefined }

/**
 * Hands files to the writer threads: compressing every page of 10,000 tasks and writing three files
 * for each is as much work as rendering them, and on other cores it overlaps the render. Each job
 * goes to the lane with the fewest bytes left to do; a lane does its jobs in the order given (a
 * file's siblings, then the file). flush() resolves once every job so far is on disk, and rejects
 * with the first failure since the last flush.
 */
export class SiteWriter {
  private readonly lanes: Lane[] = Array.from({ length: LANES }, () => ({ worker: undefined, batch: [], sent: 0, done: 0, bytes: 0, idle: undefined }));
  private error: string | undefined;
  private waiting: { upTo: number[]; resolve: () => void; reject: (err: Error) => void }[] = [];

  /** idleMs: how long an idle thread lives (tests shorten it). */
  constructor(private readonly idleMs = IDLE_MS) {}

  /** Each file's last job: its lane and its place in that lane's order (jobs posted before it, plus one). */
  private last = new Map<string, { lane: Lane; seq: number }>();

  /**
   * Queues `<file>.br`, `<file>.gz` and then the file itself. A file whose previous job is not done
   * yet goes to that job's lane, after it: two versions of one file are never written side by side
   * (a build that threw leaves queued jobs that go out with the next build's).
   */
  put(file: string, chunks: readonly Buffer[]): void {
    const bytes = chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks);
    const prev = this.last.get(file);
    const lane = prev !== undefined && prev.lane.done < prev.seq ? prev.lane : this.lanes.reduce((a, b) => (b.bytes < a.bytes ? b : a));
    if (this.last.size > 100_000) this.last.clear(); // a bound; a forgotten entry only loses the pinning of a job long done
    this.last.set(file, { lane, seq: lane.sent + lane.batch.length + 1 });
    lane.batch.push({ file, bytes });
    lane.bytes += bytes.length;
    if (lane.batch.length >= BATCH) this.post(lane);
  }

  /** Resolves when every job queued so far is written (rejects with the first failure since the last flush). */
  flush(): Promise<void> {
    for (const lane of this.lanes) this.post(lane, true);
    const upTo = this.lanes.map((l) => l.sent);
    return new Promise((resolve, reject) => {
      this.waiting.push({ upTo, resolve, reject });
      this.settle();
    });
  }

  /** Resolves (or rejects, with the error since the last settling) the flushes whose jobs are all done. */
  private settle(): void {
    const ready = this.waiting.filter((w) => w.upTo.every((n, i) => (this.lanes[i] as Lane).done >= n));
    if (ready.length === 0) return;
    this.waiting = this.waiting.filter((w) => !ready.includes(w));
    const error = this.error;
    this.error = undefined;
    for (const w of ready) {
      if (error === undefined) w.resolve();
      else w.reject(new Error(error));
    }
  }

  /** Sends a lane's batch to its thread; at a flush, a small batch of a lane without a thread is written here instead. */
  private post(lane: Lane, flushing = false): void {
    if (lane.batch.length === 0) return;
    if (flushing && lane.worker === undefined && lane.done >= lane.sent && lane.batch.reduce((n, j) => n + j.bytes.length, 0) <= INLINE_MAX_BYTES) {
      this.inline(lane);
      return;
    }
    clearTimeout(lane.idle);
    const worker = this.thread(lane);
    worker.ref();
    worker.postMessage(lane.batch);
    lane.sent += lane.batch.length;
    lane.batch = [];
  }

  /** Writes a small batch in this thread, in order, as the writer thread would (the lane has none and nothing in flight). */
  private inline(lane: Lane): void {
    const jobs = lane.batch;
    lane.batch = [];
    lane.sent += jobs.length;
    for (const job of jobs) {
      try {
        inlineWriter()(job);
      } catch (err) {
        this.error ??= (err as Error).message;
      }
      lane.bytes -= job.bytes.length;
    }
    lane.done += jobs.length;
    this.settle();
  }

  /** Ends a thread that stayed idle: the next large batch starts another. */
  private retire(lane: Lane, worker: Worker): void {
    if (lane.worker !== worker || lane.done < lane.sent || lane.batch.length > 0) return;
    lane.worker = undefined;
    void worker.terminate();
  }

  private thread(lane: Lane): Worker {
    if (lane.worker) return lane.worker;
    const worker = new Worker(WRITER, { eval: true });
    worker.on('message', (m: { done: number; bytes: number; error: string | null }) => {
      lane.done += m.done;
      lane.bytes -= m.bytes;
      if (m.error !== null) this.error ??= m.error;
      if (lane.done >= lane.sent) {
        worker.unref();
        clearTimeout(lane.idle);
        lane.idle = setTimeout(() => this.retire(lane, worker), this.idleMs).unref();
      }
      this.settle();
    });
    // A thread that dies loses the jobs it had: they count as done with an error, and the next job starts a new thread.
    const lost = (why: string): void => {
      if (lane.worker !== worker) return;
      lane.worker = undefined;
      lane.done = lane.sent;
      lane.bytes = lane.batch.reduce((n, j) => n + j.bytes.length, 0);
      this.error ??= `the site writer thread ${why}`;
      this.settle();
    };
    worker.on('error', (err) => lost(`failed: ${err.message}`));
    worker.on('exit', (code) => lost(`exited (code ${code})`));
    lane.worker = worker;
    return worker;
  }
}

/** The writer's own code, run in this thread for small batches: the same text the threads run. */
let inlineWrite: ((job: Job) => void) | undefined;
function inlineWriter(): (job: Job) => void {
  inlineWrite ??= new Function('require', `'use strict';${CORE}\nreturn write;`)(createRequire(import.meta.url)) as (job: Job) => void;
  return inlineWrite;
}

let shared: SiteWriter | undefined;

/**
 * The process's writer: every precompressing SiteFiles shares its threads (a builder replaced after
 * a failed write leaves no threads behind). A flush waits for every job queued so far, whoever queued it.
 */
export function siteWriter(): SiteWriter {
  shared ??= new SiteWriter();
  return shared;
}
