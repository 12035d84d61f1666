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
