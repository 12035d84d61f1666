// A task's run log as the web side reads it: which file it is (never a path from a request), and its last lines.
import fs from 'node:fs';
import path from 'node:path';
import { isErrno } from '../../base/errors.ts';
import { openRegular } from '../../base/jsonfile.ts';
import { runLogName } from '../../base/paths.ts';
import type { Registry } from '../../manager/registry.ts';

/** Lines a task page shows, and what `?tail=` gives by default. */
export const TAIL_DEFAULT = 200;
/** The most lines one `?tail=` answers. */
export const TAIL_MAX = 5000;
/** The most bytes one tail reads, the rotated copy included: 5,000 long lines cost at most this. */
const READ_MAX = 4 * 1024 * 1024;

/** The last lines of a run log, with where they end, so live appends can be lined up with them. */
export interface RunLogTail {
  /** The log file (absolute). */
  readonly path: string;
  /** The current file's identity ("<dev>:<ino>"): a rotation makes a new file. Empty when only the rotated copy exists. */
  readonly log: string;
  /** Bytes of the current file the lines cover (its size when read). */
  readonly end: number;
  readonly lines: string[];
  /** The last line has no newline yet: the next bytes continue it. */
  readonly partial: boolean;
  /** Older lines exist that are not in `lines`. */
  readonly truncated: boolean;
}

/** True when file is a `.log` directly in the runs folder: the only files this side ever reads as run logs. */
export function inRunsFolder(file: string, runsDir: string): boolean {
  const abs = path.resolve(file);
  const name = path.basename(abs);
  return path.dirname(abs) === path.resolve(runsDir) && name.endsWith('.log') && !name.startsWith('.');
}

/** Where run logs are named in the registry: each current claim's, and the newest released claim's per task. */
export interface LogSources {
  readonly claims: ReadonlyMap<string, string>;
  readonly released: ReadonlyMap<string, string>;
}

/** Indexes the registry's log paths once, so finding a task's log costs two lookups. */
export function logSources(registry: Registry | undefined): LogSources {
  const claims = new Map<string, string>();
  const released = new Map<string, string>();
  const current = typeof registry?.claims === 'object' && registry.claims !== null ? Object.values(registry.claims) : [];
  for (const c of current) if (typeof c?.log === 'string' && typeof c.id === 'string') claims.set(c.id, c.log);
  // History is oldest first: later entries overwrite, so the newest release wins.
  for (const h of Array.isArray(registry?.history) ? registry.history : []) if (typeof h?.log === 'string' && typeof h.id === 'string') released.set(h.id, h.log);
  return { claims, released };
}

/**
 * A task's run log: its claim's log, else the newest released claim's, else `runs/<slug>.log` (runLogName) when
 * that exists. Every candidate must lie in the runs folder; the task comes from the model, so
 * nothing in a request names a path. `names` is the runs folder's listing (read by the caller).
 */
export function runLogOf(task: { id: string; slug: string }, sources: LogSources, runsDir: string, names: ReadonlySet<string>): string | undefined {
  for (const c of [sources.claims.get(task.id), sources.released.get(task.id)]) {
    if (c !== undefined && inRunsFolder(c, runsDir) && names.has(path.basename(c))) return path.resolve(c);
  }
  const own = runLogName(task.slug);
  return names.has(own) && inRunsFolder(path.join(runsDir, own), runsDir) ? path.resolve(runsDir, own) : undefined;
}

/** The names in the runs folder (empty when it does not exist yet). */
export function runsListing(runsDir: string): Set<string> {
  // runs/, task_manager/ or logs/ committed as a link would list (and so serve) another folder's files.
  for (let at = runsDir, i = 0; i < 3; at = path.dirname(at), i++) {
    if (fs.lstatSync(at, { throwIfNoEntry: false })?.isSymbolicLink()) return new Set();
  }
  try {
    return new Set(fs.readdirSync(runsDir));
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return new Set();
    throw err;
  }
}

/**
 * Opens a run log for reading without following a symlink or blocking on a FIFO; undefined when
 * it is not there or is not a regular file.
 */
export function openLog(file: string): { fd: number; st: fs.Stats } | undefined {
  try {
    return openRegular(file);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ELOOP') || isErrno(err, 'ENOTDIR') || isErrno(err, 'EACCES')) return undefined;
    throw err;
  }
}

/** The last `want` lines of a run log and, when the log has fewer, of its rotated copy (`<log>.1`) before them. */
export function readRunLogTail(file: string, want: number): RunLogTail | undefined {
  const current = openLog(file);
  const older = (budget: number, need: number): { lines: string[]; more: boolean } | undefined => {
    const rotated = openLog(`${file}.1`);
    if (rotated === undefined) return undefined;
    try {
      return tailOf(rotated.fd, rotated.st.size, need, budget);
    } finally {
      fs.closeSync(rotated.fd);
    }
  };
  if (current === undefined) {
    const only = older(READ_MAX, want);
    return only && { path: file, log: '', end: 0, lines: only.lines, partial: false, truncated: only.more };
  }
  try {
    const { size } = current.st;
    const mine = tailOf(current.fd, size, want, READ_MAX);
    const partial = mine.lines.length > 0 && !mine.endsWithNewline;
    let { lines, more } = mine;
    if (!more && lines.length < want) {
      const before = older(READ_MAX - mine.used, want - lines.length);
      if (before) {
        lines = [...before.lines, ...lines];
        more = before.more;
      }
    }
    return { path: file, log: `${current.st.dev}:${current.st.ino}`, end: size, lines, partial, truncated: more };
  } finally {
    fs.closeSync(current.fd);
  }
}

/**
 * The last `want` lines of the first `size` bytes of an open file, read backwards in blocks until
 * enough newlines were seen or `budget` bytes were read. A line cut by the budget is dropped.
 */
function tailOf(fd: number, size: number, want: number, budget: number): { lines: string[]; more: boolean; used: number; endsWithNewline: boolean } {
  const chunks: Buffer[] = [];
  let start = size;
  let newlines = 0;
  while (start > 0 && size - start < budget && newlines <= want) {
    const len = Math.min(64 * 1024, start, budget - (size - start));
    const buf = Buffer.alloc(len);
    const got = fs.readSync(fd, buf, 0, len, start - len);
    // A file cut shorter meanwhile: what was read is all there is.
    if (got < len) {
      chunks.unshift(buf.subarray(0, got));
      start = 0;
      break;
    }
    start -= len;
    chunks.unshift(buf);
    for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) newlines++;
  }
  const data = Buffer.concat(chunks);
  const endsWithNewline = data.length > 0 && data[data.length - 1] === 10;
  const segments = data.toString('utf8').split('\n');
  if (endsWithNewline) segments.pop();
  if (start > 0) segments.shift(); // begins mid-line
  const lines = segments.slice(-want).map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  return { lines: want === 0 ? [] : lines, more: start > 0 || segments.length > want, used: data.length, endsWithNewline };
}

/**
 * The page tails (TAIL_DEFAULT lines) of every task that has a run log, kept between rebuilds:
 * a log is read again only when its identity, size or mtime (or its rotated copy's) changed.
 */
export class RunLogTails {
  private cache = new Map<string, { sig: string; tail: RunLogTail }>();

  constructor(private readonly runsDir: string) {}

  /** By task id; one readdir of the runs folder, then a stat or two per task that has a log. */
  read(tasks: readonly { id: string; slug: string }[], registry: Registry | undefined): Map<string, RunLogTail> {
    const out = new Map<string, RunLogTail>();
    const names = runsListing(this.runsDir);
    const next = new Map<string, { sig: string; tail: RunLogTail }>();
    if (names.size > 0) {
      const sources = logSources(registry);
      for (const t of tasks) {
        const file = runLogOf(t, sources, this.runsDir, names);
        if (file === undefined) continue;
        const sig = `${statSig(file)}|${statSig(`${file}.1`)}`;
        const old = this.cache.get(file) ?? next.get(file);
        const tail = old !== undefined && old.sig === sig ? old.tail : readRunLogTail(file, TAIL_DEFAULT);
        if (tail === undefined) continue;
        next.set(file, { sig, tail });
        out.set(t.id, tail);
      }
    }
    this.cache = next;
    return out;
  }
}

function statSig(file: string): string {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  return st === undefined ? '' : `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
}
