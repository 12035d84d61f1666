// The server's build folder's writer: each file's .br and .gz compressed on libuv's thread pool, then the three written in order.
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { writeChunksAtomic } from '../../base/atomic.ts';

/**
 * How much is being compressed at once: jobs are handed to libuv's thread pool (four threads
 * unless UV_THREADPOOL_SIZE says otherwise) four at a time, up to 4 MB, and always at least one.
 * Each job in flight holds a brotli and a gzip state (the gzip one alone is 256 KB), made when
 * it is handed over: with 256 in flight the server's peak at 50,000 tasks rose above what two
 * writer threads cost. Four keep the pool busy between the build's turns of its event loop. The
 * server's own thread uses the same pool: it reads a file of up to 1 MB without it (statics.ts),
 * but a larger one streams through it, and `/api/tasks` is compressed on it (json-body.ts); both
 * may wait behind the jobs in flight.
 */
const WINDOW_BYTES = 4 * 1024 * 1024;
const WINDOW_JOBS = 4;

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);
const C = zlib.constants;
/** gzip at zlib's default level 6: level 4 was both slower and larger on the task bodies of 10,000 tasks. */
export const GZIP: zlib.ZlibOptions = { level: 6 };

/**
 * Brotli at quality 5, the window fitted to the file. Why 5: on a page of a few KB it costs about
 * what quality 4 does, and on a file of megabytes it comes out 40 % smaller in the same time; 6
 * and up cost 4x and more (bench/site.ts). `/api/tasks` is compressed the same way (json-body.ts).
 */
export function brotliOptions(length: number): zlib.BrotliOptions {
  return { params: {
    [C.BROTLI_PARAM_QUALITY]: 5, [C.BROTLI_PARAM_MODE]: C.BROTLI_MODE_TEXT, [C.BROTLI_PARAM_SIZE_HINT]: length,
    [C.BROTLI_PARAM_LGWIN]: Math.min(24, Math.max(16, Math.ceil(Math.log2(length + 1)))),
  } };
}

interface Job { readonly file: string; readonly bytes: Buffer }

/** A job whose compressing has started: its outcome, never a rejected promise left unwatched. */
interface Started { readonly job: Job; readonly made: Promise<{ br: Buffer; gz: Buffer } | { error: string }> }

function start(job: Job): Started {
  // gzip hands back each output chunk on the calling thread: 16 KB chunks made a large file wait on
  // the build thread's turns (151 ms for 4 MB behind a busy thread, 5 ms with one chunk).
  const chunkSize = Math.min(4 * 1024 * 1024, Math.max(16 * 1024, job.bytes.length));
  const made = Promise.all([brotli(job.bytes, brotliOptions(job.bytes.length)), gzip(job.bytes, { ...GZIP, chunkSize })])
    .then(([br, gz]) => ({ br, gz }), (err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }));
  return { job, made };
}

/**
 * Writes the server's build folder: for each file `<file>.br` (brotli, above), `<file>.gz` (gzip at
 * zlib's default level 6), then the file itself, each to a temp file renamed into place, so a
 * reader gets one whole version and a sibling is never newer than its file once the file is in.
 *
 * Compressing every page is as much work as rendering it: it runs on libuv's thread pool, and
 * only the writes (three small files a page) happen on the calling thread. Two writer threads
 * did it before, each a V8 heap and a malloc arena of its own: the server at 10,000 tasks peaked
 * at 251-253 MB with them and 197-202 MB without, and at 50,000 at 516-532 against 455-459 MB.
 * Every page was on disk later: 16.0-16.5 s against 14.0-16.7 s at 10,000, 87 s (one run)
 * against 66-80 s at 50,000. A synchronous render gives the pool no new job until it turns its
 * event loop, which the server's build does every 200 pages.
 *
 * Jobs are done in the order given, so two versions of one file are never written out of order.
 * flush() resolves once every job so far is on disk, and rejects with the first failure since the
 * last flush (a full disk): a failed job is reported and the next one tried.
 */
export class SiteWriter {
  private readonly queue: Job[] = [];
  private readonly started: Started[] = [];
  private startedBytes = 0;
  private running = false;
  private sent = 0;
  private done = 0;
  private error: string | undefined;
  private waiting: { upTo: number; resolve: () => void; reject: (err: Error) => void }[] = [];

  /** Queues `<file>.br`, `<file>.gz` and then the file itself. */
  put(file: string, chunks: readonly Buffer[]): void {
    const bytes = chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks);
    this.queue.push({ file, bytes });
    this.sent++;
    // Started here, not only by the pump: a build renders many pages without turning its event loop.
    this.fill();
    void this.pump();
  }

  /** Resolves when every job queued so far is written (rejects with the first failure since the last flush). */
  flush(): Promise<void> {
    const upTo = this.sent;
    return new Promise((resolve, reject) => {
      this.waiting.push({ upTo, resolve, reject });
      this.settle();
    });
  }

  /** How many jobs are queued or being compressed (tests). */
  get pending(): number {
    return this.sent - this.done;
  }

  /** Starts compressing up to the window, then writes each job once its siblings are made, in order. */
  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        this.fill();
        // The head stays counted in the window until it is written.
        const head = this.started[0];
        if (head === undefined) return;
        const made = await head.made;
        this.write(head.job, made);
        this.started.shift();
        this.startedBytes -= head.job.bytes.length;
        this.done++;
        this.settle();
      }
    } finally {
      this.running = false;
    }
  }

  private fill(): void {
    while (this.queue.length > 0 && (this.started.length === 0 || (this.started.length < WINDOW_JOBS && this.startedBytes + (this.queue[0] as Job).bytes.length <= WINDOW_BYTES))) {
      const job = this.queue.shift() as Job;
      this.startedBytes += job.bytes.length;
      this.started.push(start(job));
    }
  }

  private write(job: Job, made: { br: Buffer; gz: Buffer } | { error: string }): void {
    try {
      if ('error' in made) throw new Error(`compressing a page failed: ${made.error}`);
      writeChunksAtomic(`${job.file}.br`, [made.br]);
      writeChunksAtomic(`${job.file}.gz`, [made.gz]);
      writeChunksAtomic(job.file, [job.bytes]);
    } catch (err) {
      this.error ??= err instanceof Error ? err.message : String(err);
    }
  }

  /** Resolves (or rejects, with the error since the last settling) the flushes whose jobs are all done. */
  private settle(): void {
    const ready = this.waiting.filter((w) => this.done >= w.upTo);
    if (ready.length === 0) return;
    this.waiting = this.waiting.filter((w) => !ready.includes(w));
    const error = this.error;
    this.error = undefined;
    for (const w of ready) {
      if (error === undefined) w.resolve();
      else w.reject(new Error(error));
    }
  }
}

let shared: SiteWriter | undefined;

/**
 * The process's writer: every precompressing SiteFiles shares it (a builder replaced after a
 * failed write leaves nothing behind). A flush waits for every job queued so far, whoever queued it.
 */
export function siteWriter(): SiteWriter {
  shared ??= new SiteWriter();
  return shared;
}
