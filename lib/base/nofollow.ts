// Runtime paths that never follow a symlink a repository committed: folders checked with lstat from <dir>/logs down, files opened with O_NOFOLLOW.
import fs from 'node:fs';
import path from 'node:path';
import { TasksError, isErrno } from './errors.ts';
import { NotAFileError } from './jsonfile.ts';
import { shellWord } from './shellword.ts';

/**
 * A runtime folder (or a folder above a runtime file, from `<dir>/logs` down) that is a symlink or
 * not a folder at all. A cloned repository can commit `tasks/logs/task_manager` as a link that
 * climbs out to the operator's home; writing through it would write there. It is refused, never
 * followed, and never removed by us: the operator decides.
 */
export class RuntimeFolderError extends TasksError {
  constructor(readonly folder: string, readonly kind: 'a symbolic link' | 'not a folder') {
    super(`${folder} is ${kind}; remove it (rm ${shellWord(folder)}) and run again`);
    this.name = 'RuntimeFolderError';
  }
}

/**
 * The `<dir>/logs` of a path inside a runtime folder (`<dir>/logs/task_manager/...`), or undefined
 * for any other path (a `build out=` folder, the prebuilt client files). The first `logs/task_manager`
 * of the path counts: a tasks folder inside such a folder has its own checked from higher up, which
 * can only refuse more, never less.
 */
export function runtimeTop(p: string): string | undefined {
  const parts = path.resolve(p).split(path.sep);
  for (let i = 1; i + 1 < parts.length; i++) {
    if (parts[i] === 'logs' && parts[i + 1] === 'task_manager') return parts.slice(0, i + 1).join(path.sep) || path.sep;
  }
  return undefined;
}

/**
 * Checks every folder from `<dir>/logs` down to `folder` with lstat (the tasks folder itself and what
 * is above it are the operator's: followed as given). Stops at the first one that does not exist yet:
 * whoever makes it makes a real folder. Throws a RuntimeFolderError for a link or a non-folder.
 */
export function checkFolders(folder: string): void {
  const top = runtimeTop(folder);
  if (top === undefined) return;
  const rest = path.relative(top, path.resolve(folder)).split(path.sep).filter((s) => s !== '');
  let at = top;
  for (let i = 0; ; i++) {
    if (!checkFolder(at)) return;
    const next = rest[i];
    if (next === undefined) return;
    at = path.join(at, next);
  }
}

/** Refuses the first of these folders (in order) that is a link or not a folder; missing ones are fine. */
export function refuseLinkedFolders(folders: readonly string[]): void {
  for (const f of folders) checkFolder(f);
}

/** True when the folder exists (a real folder), false when it does not; throws for a link or a non-folder. */
function checkFolder(folder: string): boolean {
  const st = fs.lstatSync(folder, { throwIfNoEntry: false });
  if (st === undefined) return false;
  if (st.isSymbolicLink()) throw new RuntimeFolderError(folder, 'a symbolic link');
  if (!st.isDirectory()) throw new RuntimeFolderError(folder, 'not a folder');
  return true;
}

const C = fs.constants;

/**
 * Opens a runtime file to append to, without following a symlink in its place and without
 * blocking on a FIFO: a link there (a repository may commit one, aimed at the operator's files)
 * is removed and a fresh file made; its target is never opened. Anything else that is not a
 * regular file (a folder, a FIFO, a socket) throws a NotAFileError. `readable` opens it for
 * reading too. The folders above are the caller's to check (checkFolders).
 */
export function openAppend(file: string, readable = false): number {
  const flags = (readable ? C.O_RDWR : C.O_WRONLY) | C.O_APPEND | C.O_CREAT | C.O_NOFOLLOW | C.O_NONBLOCK;
  let fd: number;
  try {
    fd = fs.openSync(file, flags, 0o666);
  } catch (err) {
    if (isErrno(err, 'ELOOP')) {
      fs.unlinkSync(file);
      fd = fs.openSync(file, flags | C.O_EXCL, 0o666);
    } else if (isErrno(err, 'EISDIR')) {
      throw new NotAFileError(file, 'a folder');
    } else if (isErrno(err, 'ENXIO')) {
      // A FIFO nobody reads, or a socket: never written to.
      throw new NotAFileError(file, fs.lstatSync(file).isSocket() ? 'a socket' : 'a FIFO');
    } else {
      throw err;
    }
  }
  const st = fs.fstatSync(fd);
  if (st.isFile()) return fd;
  fs.closeSync(fd);
  throw new NotAFileError(file, st.isDirectory() ? 'a folder' : st.isFIFO() ? 'a FIFO' : 'a device');
}

/**
 * Creates a new file that must not exist yet (a temp file of an atomic write): O_EXCL never
 * follows a symlink, so a link a repository planted under a temp name fails the open instead.
 */
export function createNew(file: string): number {
  return fs.openSync(file, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o666);
}
