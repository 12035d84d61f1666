// The build folder's files: atomic writes that skip files whose bytes are already on disk.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { isErrno } from '../base/errors.ts';

/** What one build did; filesChanged: a file was added or removed (not just rewritten). */
export interface BuildResult { written: number; removed: number; filesChanged: boolean }

/** A file assembled from a head, cached per-task parts and a tail; compared part by part, by identity. */
export interface Assembled { head: Buffer; parts: Buffer[]; tail: Buffer }

/**
 * The files of one build folder, as this process last wrote them: a hash per plain file, the parts
 * of each assembled file, and what was on disk before the first build (compared by content
 * instead of rewritten, so a restart rewrites nothing that is already right).
 */
export class SiteFiles {
  readonly dir: string;
  private hashes = new Map<string, string>();
  private assembled = new Map<string, Assembled>();
  /** Files found on disk before the first build, by path relative to dir. */
  private found = new Set<string>();
  private stats = { written: 0, removed: 0, added: 0 };

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  /** Starts counting a build's writes afresh (a build that threw leaves its counts behind). */
  begin(): void {
    this.stats = { written: 0, removed: 0, added: 0 };
  }

  /** Forgets what was written, so the next build checks every file again (the folder was cleared under us). */
  reset(): void {
    this.hashes.clear();
    this.assembled.clear();
  }

  /** Notes the files already on disk: the pages in `sub` and the given top-level names. */
  survey(sub: string, ext: string, names: readonly string[]): void {
    this.found.clear();
    let list: string[];
    try {
      list = fs.readdirSync(path.join(this.dir, sub));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) list = [];
      else throw err;
    }
    for (const name of list) if (name.endsWith(ext)) this.found.add(`${sub}/${name}`);
    for (const name of names) this.found.add(name);
  }

  /** The files the survey found, relative to dir. */
  surveyed(): readonly string[] {
    return [...this.found];
  }

  /** Writes a file atomically unless its bytes are already there. */
  write(rel: string, bytes: string | Buffer): void {
    const hash = sha1(bytes);
    let known = this.hashes.get(rel);
    let exists = known !== undefined;
    if (known === undefined && this.found.has(rel)) {
      const old = readIfExists(path.join(this.dir, rel));
      exists = old !== undefined;
      if (old !== undefined) known = sha1(old);
    }
    this.hashes.set(rel, hash);
    if (known === hash) return;
    writeAtomic(path.join(this.dir, rel), [typeof bytes === 'string' ? Buffer.from(bytes) : bytes]);
    this.count(exists);
  }

  /**
   * Writes head + parts + tail unless each is the same as last time (parts by identity): the index of
   * 10,000 tasks is megabytes, and copying, encoding or hashing it on every build would cost more than the rest.
   */
  writeAssembled(rel: string, next: Assembled): void {
    const prev = this.assembled.get(rel);
    this.assembled.set(rel, next);
    if (prev !== undefined && prev.head.equals(next.head) && prev.tail.equals(next.tail) && sameParts(prev.parts, next.parts)) return;
    const chunks = [next.head, ...next.parts, next.tail];
    const file = path.join(this.dir, rel);
    let exists = prev !== undefined;
    if (prev === undefined && this.found.has(rel)) {
      const old = readIfExists(file);
      exists = old !== undefined;
      if (old !== undefined && equalsChunks(old, chunks)) return;
    }
    writeAtomic(file, chunks);
    this.count(exists);
  }

  remove(rel: string): void {
    this.hashes.delete(rel);
    try {
      fs.unlinkSync(path.join(this.dir, rel));
      this.stats.removed++;
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }

  /** What was written and removed since begin(); the survey is used up by then. */
  finish(): BuildResult {
    const { written, removed, added } = this.stats;
    this.found.clear();
    return { written, removed, filesChanged: added > 0 || removed > 0 };
  }

  private count(existed: boolean): void {
    this.stats.written++;
    if (!existed) this.stats.added++;
  }
}

function sha1(bytes: string | Buffer): string {
  return crypto.createHash('sha1').update(bytes).digest('base64');
}

function sameParts(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function equalsChunks(bytes: Buffer, chunks: readonly Buffer[]): boolean {
  let offset = 0;
  for (const c of chunks) {
    if (offset + c.length > bytes.length || !c.equals(bytes.subarray(offset, offset + c.length))) return false;
    offset += c.length;
  }
  return offset === bytes.length;
}

let tmpCounter = 0;

/**
 * Writes a file atomically (temp file + rename: a reader sees the old bytes or the new, never a torn
 * file). Like atomic.ts, but the folder is made once per build instead of per file, and a list of
 * buffers is written with writev instead of being concatenated: both matter at 10,000 pages.
 */
function writeAtomic(file: string, chunks: readonly Buffer[]): void {
  const tmp = `${file}.${process.pid}.${tmpCounter++}.tmp`;
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      for (let i = 0; i < chunks.length; i += 1024) writeAll(fd, chunks.slice(i, i + 1024));
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** writev may write less than asked (IOV_MAX, signals); finish what it left. */
function writeAll(fd: number, batch: Buffer[]): void {
  let left = fs.writevSync(fd, batch);
  for (const c of batch) {
    if (left >= c.length) {
      left -= c.length;
      continue;
    }
    let at = left;
    while (at < c.length) at += fs.writeSync(fd, c, at);
    left = 0;
  }
}

function readIfExists(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}
