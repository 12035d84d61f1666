// One task file read as the scan reads it: without following a link, at most TASK_FILE_CAP bytes cut after a whole line, then parsed.
import fs from 'node:fs';
import path from 'node:path';
import { openRegular } from '../base/jsonfile.ts';
import type { FolderFormat } from './format.ts';
import { TASK_FILE_CAP, parseEntry } from './taskfile.ts';
import type { Entry, ParseResult } from './taskfile.ts';

/** One markdown file of a tasks folder read (its first TASK_FILE_CAP bytes) and parsed as the scan does; throws when it cannot be read. */
export function readEntry(abs: string, relPath: string, format: Pick<FolderFormat, 'statuses' | 'taskPrefix'>): Entry {
  const content = readCapped(abs);
  if (content === undefined) throw new Error('not a regular file');
  return parseCapped(content, relPath, format);
}

export function parseCapped(content: Capped, relPath: string, format: Pick<FolderFormat, 'statuses' | 'taskPrefix'>): Entry {
  return parseEntry(content.bytes, relPath, { statuses: format.statuses, taskPrefix: format.taskPrefix, fileSize: content.size });
}

/**
 * One task file read again as the scan reads it, with its body, sections and fields: the server's
 * thread keeps tasks without their text (/api/tasks/<id> reads it here). A file that is gone, or no
 * longer a task, is a failed result.
 */
export function readTask(dir: string, relPath: string, format: Pick<FolderFormat, 'statuses' | 'taskPrefix'>): ParseResult {
  try {
    const entry = readEntry(path.join(path.resolve(dir), ...relPath.split('/')), relPath, format);
    if (entry.kind === 'task') return entry.result;
    return { ok: false, path: relPath, reason: entry.kind === 'doc' ? 'it is a doc now, not a task' : 'it has no frontmatter now' };
  } catch (err) {
    return { ok: false, path: relPath, reason: `cannot read file: ${errorText(err)}` };
  }
}

/** A file's first TASK_FILE_CAP bytes (cut after a whole line), its size, and the stat of what was read. */
export interface Capped { readonly bytes: Buffer; readonly size: number; readonly st: fs.Stats }

/**
 * Reads a file only if it is still a regular file when opened (openRegular: a symlink or a FIFO
 * swapped in after the walk is refused), and of a file over TASK_FILE_CAP only its first bytes, cut
 * after the last whole line, so neither the heartbeat nor the server ever holds a huge body.
 */
export function readCapped(abs: string): Capped | undefined {
  const opened = openRegular(abs);
  if (opened === undefined) return undefined;
  try {
    // The size from openRegular's fstat: no second fstat, nor readFileSync's own.
    const { st } = opened;
    const size = st.size;
    const buf = Buffer.allocUnsafe(Math.min(size, TASK_FILE_CAP));
    let got = 0;
    for (let n = -1; n !== 0 && got < buf.length; got += n) n = fs.readSync(opened.fd, buf, got, buf.length - got, got);
    if (size <= TASK_FILE_CAP) return { bytes: buf.subarray(0, got), size: got, st };
    // A newline byte is never inside a UTF-8 sequence: cutting after it splits neither a character nor a line.
    const cut = buf.lastIndexOf(0x0a, got - 1) + 1;
    return { bytes: buf.subarray(0, cut > 0 ? cut : utf8Boundary(buf, got)), size: Math.max(size, got), st };
  } finally {
    fs.closeSync(opened.fd);
  }
}

/** The largest length up to end that does not end inside a UTF-8 sequence (a file with no newline in its first MiB). */
function utf8Boundary(buf: Buffer, end: number): number {
  let i = end;
  while (i > 0 && ((buf[i - 1] ?? 0) & 0xc0) === 0x80) i--;
  // i - 1 is a lead byte (or ASCII): drop it unless its whole sequence fits.
  const lead = buf[i - 1] ?? 0;
  const len = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return i > 0 && end - (i - 1) < len ? i - 1 : end;
}

/** An error's first line, for a parse error's reason. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return (err.message.split('\n')[0] ?? '').trim();
  return String(err);
}
