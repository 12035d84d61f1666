// A page's version: a hash of its bytes, written as a `<!--v:…-->` trailer at its end and read back from the file on disk.
import crypto from 'node:crypto';
import fs from 'node:fs';

/** The version trailer of a page: `<!--v:` + 16 base64url characters + `-->` and a newline. */
const VERSION_RE = /<!--v:([A-Za-z0-9_-]{16})-->\n$/;
const TRAILER_BYTES = 32;

/** The chunks of a page with its trailer appended: the version is a hash of the bytes before it. */
export function withVersionTrailer(chunks: readonly Buffer[]): Buffer[] {
  const version = crypto.createHash('sha1');
  for (const c of chunks) version.update(c);
  return [...chunks, Buffer.from(`<!--v:${version.digest('base64url').slice(0, 16)}-->\n`)];
}

/**
 * The version a page of the server's build folder carries (its `<!--v:…-->` trailer), read from
 * the last bytes of the file on disk; null when the file is missing or carries none.
 */
export function pageVersion(file: string): string | null {
  // Never throws: it runs for every open event stream after every build, inside the server's
  // message handler, where an EMFILE or EIO must not take the server down. Any failure reads as
  // "no version", and the page refetches itself, which is always safe.
  let fd: number;
  try {
    // Never waits on a FIFO in a page's place; a link is not followed.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return null;
    const size = st.size;
    const tail = Buffer.alloc(Math.min(TRAILER_BYTES, size));
    fs.readSync(fd, tail, 0, tail.length, size - tail.length);
    return VERSION_RE.exec(tail.toString('latin1'))?.[1] ?? null;
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}
