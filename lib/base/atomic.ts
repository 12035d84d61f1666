// Atomic file writes (temp file + rename) and removal that never deletes a replaced file.
import fs from 'node:fs';
import path from 'node:path';
import { isErrno } from './errors.ts';

let counter = 0;

/**
 * Makes a folder and at most `levels` - 1 missing folders above it, never more: the state folder
 * (`logs/task_manager`) is made again under a tasks folder that is there, but a tasks folder that
 * was deleted or moved away is never made again by a write that races its removal.
 */
export function makeFolders(dir: string, levels: number): void {
  try {
    fs.mkdirSync(dir);
  } catch (err) {
    if (isErrno(err, 'EEXIST')) return;
    if (!isErrno(err, 'ENOENT') || levels <= 1) throw err;
    makeFolders(path.dirname(dir), levels - 1);
    makeFolders(dir, 1);
  }
}

/**
 * Writes a file atomically: a reader sees the old content or the new, never a torn one. Missing
 * folders above it are made, at most `levels` of them (makeFolders): by default the two of the
 * state folder, so a write never brings back the tasks folder it lives in.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, levels = 2): void {
  makeFolders(path.dirname(file), levels);
  const tmp = `${file}.${process.pid}.${counter++}.tmp`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * writeFileAtomic for a list of buffers into an existing folder: written with writev instead of
 * being concatenated, and no mkdir per file. Both matter for a build of 10,000 pages. Same temp
 * name (`<file>.<pid>.<n>.tmp`), removed when anything fails.
 */
export function writeChunksAtomic(file: string, chunks: readonly Buffer[]): void {
  const tmp = `${file}.${process.pid}.${counter++}.tmp`;
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

/**
 * Removes a file that a concurrent process may replace meanwhile: move it aside first, and if
 * what was moved must be kept (a fresh holder's file, not the stale one), put it back.
 */
export function removeUnlessReplaced(file: string, mustKeep: (moved: string) => boolean): void {
  const aside = `${file}.${process.pid}.${counter++}.aside`;
  try {
    fs.renameSync(file, aside);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  try {
    if (mustKeep(aside)) fs.linkSync(aside, file);
  } catch (err) {
    // EEXIST: yet another holder took the name meanwhile; theirs stands.
    if (!isErrno(err, 'EEXIST')) throw err;
  } finally {
    fs.rmSync(aside, { force: true });
  }
}
