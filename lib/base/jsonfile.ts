// Reading a text or JSON file that may be missing, and asking whether a folder is there.
import fs from 'node:fs';
import { isErrno } from './errors.ts';

/** Reads a text file that may be missing (pid files, snapshots, the registry); undefined when it is. */
export function readTextFile(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

/**
 * Reads a JSON file; undefined when it is missing, not JSON, or not a file (a folder in its place):
 * readers never fail on a damaged state file, the writer keeps a corrupt one aside.
 */
export function readJsonFile<T>(file: string): T | undefined {
  let text: string | undefined;
  try {
    text = readTextFile(file);
  } catch (err) {
    if (isErrno(err, 'EISDIR')) return undefined;
    throw err;
  }
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
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
