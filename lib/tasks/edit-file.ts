// Task files as an edit reads and writes them: never through a link, written atomically with the old file's mode.
import fs from 'node:fs';
import path from 'node:path';
import { createTemp } from '../base/atomic.ts';
import { isErrno } from '../base/errors.ts';
import { openRegular } from '../base/jsonfile.ts';
import { quoteText } from '../base/controls.ts';
import { TaskScanner } from './scan.ts';

/** Task files are small; a larger one is refused rather than read whole into memory. */
const MAX_BYTES = 4 * 1024 * 1024;

/**
 * Why a path under the tasks folder must not be edited: a part of it (a folder below `dir`, or the
 * file) is a symbolic link, or it is no regular file. Undefined when it may be.
 */
export function linkOnPath(dir: string, rel: string): string | undefined {
  const parts = rel.split('/').filter((p) => p !== '');
  let at = dir;
  for (const part of parts) {
    at = path.join(at, part);
    const st = fs.lstatSync(at, { throwIfNoEntry: false });
    if (st === undefined) return 'does not exist (it was moved or removed)';
    if (st.isSymbolicLink()) return at === path.join(dir, ...parts) ? 'is a symbolic link; edit the file it points to' : `is under a symbolic link (${parts.slice(0, parts.indexOf(part) + 1).join('/')}); edit the real file`;
  }
  return undefined;
}

/** The file's bytes and mode, opened with O_NOFOLLOW after a check of every folder on the way; a string says why not. */
export function readNoFollow(dir: string, rel: string): { bytes: Buffer; mode: number } | string {
  const problem = linkOnPath(dir, rel);
  if (problem !== undefined) return problem;
  let opened;
  try {
    opened = openRegular(path.join(dir, rel));
  } catch (err) {
    if (isErrno(err, 'ELOOP')) return 'is a symbolic link; edit the file it points to';
    if (isErrno(err, 'ENOENT')) return 'does not exist (it was moved or removed)';
    throw err;
  }
  if (opened === undefined) return 'is not a regular file';
  try {
    if (opened.st.size > MAX_BYTES) return `is ${opened.st.size} bytes; files over ${MAX_BYTES} bytes are not edited`;
    return { bytes: fs.readFileSync(opened.fd), mode: opened.st.mode & 0o7777 };
  } finally {
    fs.closeSync(opened.fd);
  }
}

/**
 * Writes `data` to `file` atomically (a temp file beside it, then rename) with `mode`; `check`
 * runs just before the rename and may throw to leave the file as it is.
 */
export function writeKeepingMode(file: string, data: Uint8Array, mode: number, check: () => void): void {
  const { fd, tmp } = createTemp(file);
  try {
    try {
      let at = 0;
      while (at < data.length) at += fs.writeSync(fd, data, at);
      fs.fchmodSync(fd, mode);
    } finally {
      fs.closeSync(fd);
    }
    check();
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** Writes a new file that must not exist: a temp file linked to its name (link never replaces), so an id taken meanwhile is never overwritten. False when the name is taken. */
export function writeNew(file: string, data: Uint8Array): boolean {
  const { fd, tmp } = createTemp(file);
  try {
    try {
      let at = 0;
      while (at < data.length) at += fs.writeSync(fd, data, at);
    } finally {
      fs.closeSync(fd);
    }
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    if (isErrno(err, 'EEXIST')) return false;
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Why `ref` names no task although a file by that name is there: it does not parse (no
 * frontmatter, bad YAML), or it is a symbolic link (the scan skips links). Undefined otherwise.
 */
export function whyNotFound(dir: string, ref: string): string | undefined {
  const want = `${ref.trim().toLowerCase().replace(/\.md$/, '')}.md`;
  const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1).toLowerCase();
  const bad = new TaskScanner(dir, { keepBody: false }).scan().errors.find((e) => base(e.path) === want);
  if (bad !== undefined) return `${quoteText(bad.path)} cannot be edited: ${bad.reason}; fix it by hand first`;
  const link = findLink(dir, '', want, 0);
  return link === undefined ? undefined : `${quoteText(link)} is a symbolic link; it is not edited (edit the file it points to)`;
}

/** The first link named `want` under `dir` (hidden entries and the top-level logs/ skipped, links never followed, 8 levels at most). */
function findLink(dir: string, rel: string, want: string, depth: number): string | undefined {
  if (depth > 8) return undefined;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
  } catch {
    return undefined;
  }
  for (const e of entries) {
    const sub = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.name.startsWith('.') || sub === 'logs') continue;
    if (e.isSymbolicLink() && e.name.toLowerCase() === want) return sub;
    if (e.isDirectory()) {
      const found = findLink(dir, sub, want, depth + 1);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}
