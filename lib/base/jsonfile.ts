// Reading a text or JSON file that may be missing, opening only a regular file, and asking whether a folder is there.
import fs from 'node:fs';
import { isErrno } from './errors.ts';

/**
 * A state file's path holds something that is not a regular file: `code` is EISDIR for a folder
 * (as Node's own error), EFTYPE for a FIFO, a socket or a device.
 */
export class NotAFileError extends Error {
  readonly code: 'EISDIR' | 'EFTYPE';
  constructor(readonly file: string, readonly kind: string) {
    super(`${file} is ${kind}, not a file`);
    this.name = 'NotAFileError';
    this.code = kind === 'a folder' ? 'EISDIR' : 'EFTYPE';
  }
}

/** True for a NotAFileError, or Node's EISDIR. */
export function isNotAFile(err: unknown): boolean {
  return isErrno(err, 'EISDIR') || isErrno(err, 'EFTYPE');
}

/**
 * Reads a text file that may be missing (pid files, snapshots, the registry); undefined when it is.
 * Opened without blocking and checked before it is read: a FIFO put in a state file's place throws
 * a NotAFileError instead of hanging the reader (the heartbeat, the server, `status`) forever. A
 * final symlink is not followed (a NotAFileError too): a repository can commit one in a state
 * file's place, and its target (another user file, foreign JSON) must never be read as ours.
 */
export function readTextFile(file: string): string | undefined {
  return readStateBytes(file)?.toString('utf8');
}

/** A state file's bytes, read as readTextFile reads its text (no link followed, never a FIFO); undefined when it is missing. */
export function readStateBytes(file: string): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    if (isErrno(err, 'ELOOP') && fs.lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink()) throw new NotAFileError(file, 'a symbolic link');
    // A Unix socket cannot be opened at all.
    if (isErrno(err, 'ENXIO') && fs.statSync(file, { throwIfNoEntry: false })?.isSocket()) throw new NotAFileError(file, 'a socket');
    throw err;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new NotAFileError(file, st.isDirectory() ? 'a folder' : st.isFIFO() ? 'a FIFO' : 'a device');
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Opens a file to read without following a final symlink (a file swapped for one is not followed
 * out of its folder) and without blocking (a FIFO cannot hang the open): its descriptor and stats
 * when it is a regular file, else undefined (closed). Errors of the open itself are the caller's.
 */
export function openRegular(file: string): { fd: number; st: fs.Stats } | undefined {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  if (st.isFile()) return { fd, st };
  fs.closeSync(fd);
  return undefined;
}

/**
 * Reads a JSON file; undefined when it is missing, not JSON, or not a file (a folder or a FIFO in its place):
 * readers never fail on a damaged state file, the writer keeps a corrupt one aside.
 */
export function readJsonFile<T>(file: string): T | undefined {
  return readStateWith(file, (bytes) => JSON.parse(bytes.toString('utf8')) as T);
}

/**
 * A state file parsed by `parse` from its bytes (read as readStateBytes reads them); undefined when
 * it is missing, not a file, or `parse` returns undefined or throws a SyntaxError.
 */
export function readStateWith<T>(file: string, parse: (bytes: Buffer) => T | undefined): T | undefined {
  let bytes: Buffer | undefined;
  try {
    bytes = readStateBytes(file);
  } catch (err) {
    if (isNotAFile(err)) return undefined;
    throw err;
  }
  if (bytes === undefined) return undefined;
  try {
    return parse(bytes);
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/**
 * A state file's bytes when its signature (inode, size, mtime: a writer that renames a new file in
 * place changes it) is not `known`, opened as openRegular opens one: 'same' when it is, 'none' when
 * there is no file, 'not a file' for a link, a socket, a FIFO or a folder in its place.
 */
export function readIfChanged(file: string, known: string | undefined): { sig: string; bytes: Buffer } | 'same' | 'none' | 'not a file' {
  let opened: ReturnType<typeof openRegular>;
  try {
    opened = openRegular(file);
  } catch (err) {
    // ELOOP: a link; ENXIO: a socket (openRegular never waits on a FIFO either).
    if (isErrno(err, 'ELOOP') || isErrno(err, 'ENXIO')) return 'not a file';
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return 'none';
    throw err;
  }
  if (opened === undefined) return 'not a file';
  const { fd, st } = opened;
  try {
    const sig = `${st.ino}:${st.size}:${st.mtimeMs}`;
    return sig === known ? 'same' : { sig, bytes: fs.readFileSync(fd) };
  } finally {
    fs.closeSync(fd);
  }
}

/** True when the path is a folder now (not missing, not a file, not under a file). */
export function isFolder(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return false;
    throw err;
  }
}
