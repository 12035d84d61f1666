// Atomic file writes (temp file + rename) and removal that never deletes a replaced file.
import fs from 'node:fs';
import path from 'node:path';
import { isErrno } from './errors.ts';
import { checkFolders, createNew } from './nofollow.ts';

let counter = 0;

/**
 * Makes a folder and at most `levels` - 1 missing folders above it, never more: the state folder
 * (`logs/task_manager`) is made again under a tasks folder that is there, but a tasks folder that
 * was deleted or moved away is never made again by a write that races its removal. Inside a
 * runtime folder, every folder from `<dir>/logs` down that exists must be a real folder, not a
 * link (checkFolders): mkdir would follow one and make the rest wherever it points.
 */
export function makeFolders(dir: string, levels: number): void {
  checkFolders(dir);
  makeMissing(dir, levels);
}

function makeMissing(dir: string, levels: number): void {
  try {
    fs.mkdirSync(dir);
  } catch (err) {
    if (isErrno(err, 'EEXIST')) return;
    if (!isErrno(err, 'ENOENT') || levels <= 1) throw err;
    makeMissing(path.dirname(dir), levels - 1);
    makeMissing(dir, 1);
  }
}

/**
 * Writes a file atomically: a reader sees the old content or the new, never a torn one. Missing
 * folders above it are made, at most `levels` of them (makeFolders): by default the two of the
 * state folder, so a write never brings back the tasks folder it lives in. A symlink in the
 * file's place is replaced by the rename, never written through.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, levels = 2): void {
  makeFolders(path.dirname(file), levels);
  writeChunksAtomic(file, [typeof data === 'string' ? Buffer.from(data) : data]);
}

/**
 * writeFileAtomic for a list of buffers into an existing folder: written with writev instead of
 * being concatenated, and no mkdir per file. Both matter for a build of 10,000 pages. Same temp
 * name (`<file>.<pid>.<n>.tmp`), made with O_EXCL (a link planted under that name is never
 * followed), removed when anything fails. `mode`: the file's mode, set on the temp file.
 */
export function writeChunksAtomic(file: string, chunks: readonly Uint8Array[], mode?: number): void {
  const { fd, tmp } = createTemp(file);
  try {
    try {
      // Before the first byte: a file that holds a secret is never readable by others, not even for a moment.
      if (mode !== undefined) fs.fchmodSync(fd, mode);
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

/** A new temp file beside `file`; a name taken already (a leftover, or planted) is skipped, a few times. */
export function createTemp(file: string): { fd: number; tmp: string } {
  for (let tries = 0; ; tries++) {
    const tmp = `${file}.${process.pid}.${counter++}.tmp`;
    try {
      return { fd: createNew(tmp), tmp };
    } catch (err) {
      if (!isErrno(err, 'EEXIST') || tries >= 8) throw err;
    }
  }
}

/** writev may write less than asked (IOV_MAX, signals); finish what it left. */
function writeAll(fd: number, batch: Uint8Array[]): void {
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
