// Atomic file writes (temp file + rename) and removal that never deletes a replaced file.
import fs from 'node:fs';
import path from 'node:path';
import { isErrno } from './errors.ts';

let counter = 0;

/** Writes a file atomically: a reader sees the old content or the new, never a torn one. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${counter++}.tmp`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
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
