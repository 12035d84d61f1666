// The soak benchmark's parts: closed-loop HTTP clients with keep-alive, event-stream clients held
// open, a tail of the heartbeat log that survives rotation, and /proc readings of a process.
import fs from 'node:fs';
import http from 'node:http';

/** What the clients of one route saw. */
export interface RouteStats {
  readonly path: string;
  readonly latencies: number[];
  ok: number;
  /** Status codes other than 2xx and 304, by code. */
  readonly bad: Map<number, number>;
  /** Connection errors and timeouts, by message. */
  readonly failures: Map<string, number>;
}

export function routeStats(path: string): RouteStats {
  return { path, latencies: [], ok: 0, bad: new Map(), failures: new Map() };
}

export function errorCount(r: RouteStats): number {
  let n = 0;
  for (const v of r.bad.values()) n += v;
  for (const v of r.failures.values()) n += v;
  return n;
}

const bump = <K>(m: Map<K, number>, k: K): void => { m.set(k, (m.get(k) ?? 0) + 1); };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A request answered within this long or counted as an error, so the soak stays bounded in time. */
const REQUEST_TIMEOUT_MS = 10_000;

/** What the page clients obey: stop, or hold off for a moment so in-flight work can drain. */
export class LoadGate {
  stopped = false;
  paused = false;
  inFlight = 0;

  /** Pauses the clients and resolves once no request is in flight (bounded) and the server settled. */
  async quiesce(): Promise<void> {
    this.paused = true;
    const deadline = Date.now() + REQUEST_TIMEOUT_MS + 2000;
    while (this.inFlight > 0 && Date.now() < deadline) await sleep(20);
    await sleep(300); // the server closes the files it streamed after the last byte is out
  }
}

/**
 * One client: requests base+route back to back over a keep-alive agent until the gate stops it.
 * A revalidating client sends If-None-Match with the last ETag, as a browser does; the others
 * always fetch the whole body, as a script polling the API does.
 */
export async function pageClient(base: string, agent: http.Agent, stats: RouteStats, revalidate: boolean, gate: LoadGate): Promise<void> {
  let etag: string | undefined;
  while (!gate.stopped) {
    if (gate.paused) { await sleep(20); continue; }
    gate.inFlight += 1;
    const t0 = performance.now();
    const outcome = await new Promise<{ status: number; etag?: string } | { error: string }>((resolve) => {
      const headers: http.OutgoingHttpHeaders = revalidate && etag ? { 'if-none-match': etag } : {};
      const req = http.get(base + stats.path, { agent, headers }, (res) => {
        res.on('data', () => undefined);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, etag: res.headers.etag }));
        res.on('error', (err) => resolve({ error: err.message }));
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
      req.on('error', (err) => resolve({ error: err.message }));
    });
    gate.inFlight -= 1;
    if ('error' in outcome) {
      if (gate.stopped) return; // the soak is over and the agent was torn down under this request
      bump(stats.failures, outcome.error);
      await sleep(100); // a dead server must not turn this loop into a busy one
      continue;
    }
    stats.latencies.push(performance.now() - t0);
    if ((outcome.status >= 200 && outcome.status < 300) || outcome.status === 304) stats.ok += 1;
    else bump(stats.bad, outcome.status);
    if (outcome.etag) etag = outcome.etag;
  }
}

/** Sockets an agent holds open now, busy or idle: each is one fd in the server. */
export function agentSockets(agent: http.Agent): number {
  let n = 0;
  for (const list of [...Object.values(agent.sockets), ...Object.values(agent.freeSockets)]) n += list?.length ?? 0;
  return n;
}

/** What the event-stream clients saw. */
export interface StreamStats {
  connects: number;
  /** Streams open now. */
  open: number;
  /** Streams that ended or failed while the soak was running. */
  drops: number;
  events: number;
  readonly bad: Map<number, number>;
  readonly failures: Map<string, number>;
  readonly connectMs: number[];
}

export function streamStats(): StreamStats {
  return { connects: 0, open: 0, drops: 0, events: 0, bad: new Map(), failures: new Map(), connectMs: [] };
}

/**
 * One event-stream client: holds /api/events open and counts the events; a stream that ends
 * while the soak runs is a drop, and the client reconnects after a second, as EventSource does.
 * Returns once stop() says so and its request is destroyed by the caller's abort signal.
 */
export async function streamClient(base: string, stats: StreamStats, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      const req = http.get(`${base}/api/events`, { agent: false, headers: { accept: 'text/event-stream' }, signal }, (res) => {
        if (res.statusCode !== 200) {
          bump(stats.bad, res.statusCode ?? 0);
          res.resume();
          res.on('end', resolve);
          return;
        }
        stats.connects += 1;
        stats.open += 1;
        stats.connectMs.push(performance.now() - t0);
        let pending = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          pending += chunk;
          const blocks = pending.split('\n\n');
          pending = blocks.pop() ?? '';
          stats.events += blocks.filter((b) => /^event: change$/m.test(b)).length;
        });
        res.on('close', () => { stats.open -= 1; if (!signal.aborted) stats.drops += 1; resolve(); });
      });
      req.on('error', (err) => { if (!signal.aborted) bump(stats.failures, err.message); resolve(); });
    });
    if (!signal.aborted) await sleep(1000);
  }
}

/** A heartbeat log line that says when a tick ended (at) and how long it took (ms), when it says so. */
export interface TickLine { readonly at: number; readonly tick: number; readonly ms: number | undefined }

/**
 * Reads a heartbeat log as it grows. The log is capped: when it is rotated (copied to <log>.1,
 * then truncated), the rest of what was not read yet is taken from the copy.
 */
export class LogTail {
  readonly ticks: TickLine[] = [];
  readonly failed: string[] = [];
  readonly starts: string[] = [];
  private offset = 0;
  private partial = '';

  constructor(private readonly file: string) {}

  poll(): void {
    const size = sizeOf(this.file);
    if (size < this.offset) {
      const rotated = `${this.file}.1`;
      if (sizeOf(rotated) > this.offset) this.take(readRange(rotated, this.offset, sizeOf(rotated)));
      this.offset = 0;
    }
    if (size > this.offset) {
      this.take(readRange(this.file, this.offset, size));
      this.offset = size;
    }
  }

  private take(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const tick = /^(\S+) tick (\d+):(?:.* in ([\d.]+) ms)?/.exec(line);
      if (tick) this.ticks.push({ at: Date.parse(tick[1] as string), tick: Number(tick[2]), ms: tick[3] === undefined ? undefined : Number(tick[3]) });
      else if (/\bfailed\b/.test(line)) this.failed.push(line);
      if (/ heartbeat started /.test(line)) this.starts.push(line);
    }
  }
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

function readRange(file: string, from: number, to: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(to - from);
    const n = fs.readSync(fd, buf, 0, buf.length, from);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** Resident memory (MB) and open file descriptors of a live process; undefined once it is gone. */
export function procUsage(pid: number): { rssMb: number; fds: number } | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    return { rssMb: kb / 1024, fds: fs.readdirSync(`/proc/${pid}/fd`).length };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    throw err;
  }
}

/** Whether pid names a live process (a zombie counts as gone). */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
