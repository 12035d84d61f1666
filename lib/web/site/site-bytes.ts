// The build folder's bytes: files held as lists of buffers, hashed and compared, and a file on disk read without following a link.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { isErrno } from '../../base/errors.ts';
import { openRegular } from '../../base/jsonfile.ts';

/** The sha1 of the bytes the chunks hold, in order. */
export function sha1Of(chunks: readonly Buffer[]): string {
  const hash = crypto.createHash('sha1');
  for (const c of chunks) hash.update(c);
  return hash.digest('base64');
}

/** The same parts by identity: an unchanged task's record is the same Buffer object from build to build. */
export function sameParts(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True when the bytes are exactly the chunks, in order. */
export function equalsChunks(bytes: Buffer, chunks: readonly Buffer[]): boolean {
  let offset = 0;
  for (const c of chunks) {
    if (offset + c.length > bytes.length || !c.equals(bytes.subarray(offset, offset + c.length))) return false;
    offset += c.length;
  }
  return offset === bytes.length;
}

/** A file's bytes; undefined when it is missing, or not a regular file (a link, a FIFO: never followed, never waited on). */
export function readIfExists(file: string): Buffer | undefined {
  let opened: ReturnType<typeof openRegular>;
  try {
    opened = openRegular(file);
  } catch (err) {
    if (['ENOENT', 'ENOTDIR', 'ELOOP', 'ENXIO'].some((code) => isErrno(err, code))) return undefined;
    throw err;
  }
  if (opened === undefined) return undefined;
  try {
    return fs.readFileSync(opened.fd);
  } finally {
    fs.closeSync(opened.fd);
  }
}
