import fs from 'node:fs';
import { isErrno } from './errors.ts';

/** Reads a JSON file; undefined when it is missing or not JSON (a writer keeps a corrupt one aside). */
export function readJsonFile<T>(file: string): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}
