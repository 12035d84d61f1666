// The build folder over HTTP: each answer is one whole file as it was opened, in the encoding the client accepts.
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { isErrno } from '../../base/errors.ts';
import { openRegular } from '../../base/jsonfile.ts';
import { RuntimeFolderError, checkFolders } from '../../base/nofollow.ts';
import { ENCODINGS } from '../site/site-files.ts';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** Files up to this size are read whole and sent in one write; larger ones are streamed from the same descriptor. */
const READ_WHOLE_MAX = 64 * 1024;

/**
 * The file a request path names inside the build folder, relative to it: `/` and a folder give
 * their `index.html`. Undefined for anything that could leave the folder or name a hidden file:
 * `..` or a dot-name in any segment (percent-encoded too), a NUL, a backslash.
 */
export function staticPath(pathname: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch (err) {
    if (err instanceof URIError) return undefined;
    throw err;
  }
  if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const segments = decoded.slice(1).split('/');
  const last = segments.pop() ?? '';
  if (segments.some((s) => s === '' || s.startsWith('.')) || last.startsWith('.')) return undefined;
  // A build's temp files (`<file>.<pid>.<n>.tmp`) are half-written by nature: never served.
  if (last.endsWith('.tmp')) return undefined;
  return [...segments, last === '' ? 'index.html' : last].join('/');
}

/** The encodings to try for a request, best first, ending with the file itself (''); q=0 refuses one. */
export function acceptedEncodings(header: string | string[] | undefined): string[] {
  const accepted = new Map<string, number>();
  for (const part of (Array.isArray(header) ? header.join(',') : header ?? '').split(',')) {
    const [raw, ...params] = part.toLowerCase().split(';');
    const name = raw?.trim();
    if (!name) continue;
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    accepted.set(name, q === undefined ? 1 : Number(q));
  }
  const ok = (name: string): boolean => (accepted.get(name) ?? accepted.get('*') ?? 0) > 0;
  return [...ENCODINGS.filter((e) => ok(e.name)).map((e) => e.ext), ''];
}

/**
 * A weak validator from the opened file (inode, size and mtime) and its encoding. Every rewrite is
 * a rename of a new file, so a new inode: two versions of the same size within one mtime tick
 * (coarse clocks of FAT, HFS+, some NFS) still differ.
 */
function etagOf(st: fs.Stats, ext: string): string {
  return `W/"${st.ino.toString(36)}-${st.size.toString(36)}-${Math.floor(st.mtimeMs).toString(36)}${ext ? `-${ext.slice(1)}` : ''}"`;
}

/**
 * Whether an If-None-Match header names this ETag, or is `*`: compared weakly, as RFC 9110 says
 * If-None-Match is (a `W/` on either side does not count). The build folder's files and the API's
 * bodies both answer 304 by it.
 */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const opaque = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);
  const mine = opaque(etag);
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || opaque(tag) === mine;
  });
}

/**
 * Opens one variant without following a symlink; undefined when it is not there or not a file.
 * The descriptor pins that version of the file: the build replaces files by rename, never in place,
 * so what is read from it is one whole file even while a rebuild runs.
 */
function openVariant(file: string): { fd: number; st: fs.Stats } | undefined {
  try {
    return openRegular(file);
  } catch (err) {
    if (['ENOENT', 'ENOTDIR', 'ELOOP', 'EISDIR', 'ENAMETOOLONG', 'ENXIO'].some((code) => isErrno(err, code))) return undefined;
    throw err;
  }
}

/** One answer kept in memory: the variant's headers and bytes, as the file was when it was read. */
interface Kept { readonly headers: http.OutgoingHttpHeaders; readonly etag: string; readonly body: Buffer }

/** Files up to this size are kept in memory once read, up to KEEP_MAX_TOTAL bytes in all. */
const KEEP_MAX_FILE = 1024 * 1024;
const KEEP_MAX_TOTAL = 32 * 1024 * 1024;

/**
 * The build folder's small files kept in memory, so a hot page (`/` above all) is answered without
 * a file system call. The folder changes only by builds, and the server empties this whenever a
 * build's version moves and whenever the pages are not shown: until then a kept answer is the whole file as
 * it was when read, like the descriptor an uncached answer reads from.
 */
export class StaticCache {
  private readonly kept = new Map<string, Kept | null>();
  private bytes = 0;
  private version: number | undefined;

  /** Empties the cache when the build's version moved (a build wrote or removed files since it was filled). */
  follow(version: number): void {
    if (version !== this.version) this.clear();
    this.version = version;
  }

  /** Forgets every kept file (a build wrote or removed files). */
  clear(): void {
    this.kept.clear();
    this.bytes = 0;
    this.version = undefined;
  }

  get(key: string): Kept | null | undefined {
    return this.kept.get(key);
  }

  /** Keeps an answer (null: no variant of that name is on disk) while there is room. */
  put(key: string, value: Kept | null): void {
    const size = value?.body.length ?? 0;
    if (this.bytes + size > KEEP_MAX_TOTAL) return;
    this.bytes += size;
    this.kept.set(key, value);
  }
}

/** Writes a kept answer: 304 on a matching ETag, the headers alone for HEAD. */
function sendKept(req: http.IncomingMessage, res: http.ServerResponse, k: Kept): void {
  if (matchesEtag(req.headers['if-none-match'], k.etag)) {
    const { 'content-length': _length, ...rest } = k.headers;
    res.writeHead(304, rest).end();
    return;
  }
  res.writeHead(200, k.headers).end(req.method === 'HEAD' ? undefined : k.body);
}

/** Reads the rest of an opened file whole, closing it. */
function readWhole(fd: number, size: number): Buffer {
  const body = Buffer.alloc(size);
  try {
    let at = 0;
    while (at < body.length) {
      const n = fs.readSync(fd, body, at, body.length - at, at);
      if (n === 0) break;
      at += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return body;
}

/**
 * Answers a GET or HEAD from the build folder and returns true, or returns false when the path
 * names no file there (the caller answers 404). The `.br` or `.gz` sibling is sent when the client
 * accepts it; every answer carries `Vary: Accept-Encoding`, an ETag (304 on a match) and
 * `Cache-Control: no-cache`, so browsers keep the files and ask again each time. `allowed` says
 * which files of the folder may be sent (a sibling asked for by name goes with its file); the
 * folders from `<dir>/logs` down to the file must not be links.
 */
export function sendStatic(root: string, req: http.IncomingMessage, res: http.ServerResponse, pathname: string, allowed: (rel: string) => boolean = () => true, cache?: StaticCache): boolean {
  const rel = staticPath(pathname);
  if (rel === undefined) return false;
  const sibling = ENCODINGS.find((e) => rel.endsWith(e.ext));
  if (!allowed(rel) && (sibling === undefined || !allowed(rel.slice(0, -sibling.ext.length)))) return false;
  const encodings = acceptedEncodings(req.headers['accept-encoding']);
  const key = `${rel}\n${encodings.join(',')}`;
  const kept = cache?.get(key);
  if (kept === null) return false;
  if (kept !== undefined) {
    sendKept(req, res, kept);
    return true;
  }
  const type = TYPES[path.extname(rel)] ?? 'application/octet-stream';
  const base = path.join(root, rel);
  try {
    checkFolders(path.dirname(base));
  } catch (err) {
    if (err instanceof RuntimeFolderError) return false;
    throw err;
  }
  let found: { fd: number; st: fs.Stats; ext: string } | undefined;
  for (const ext of encodings) {
    const v = openVariant(base + ext);
    if (v) {
      found = { ...v, ext };
      break;
    }
  }
  if (found === undefined) {
    cache?.put(key, null);
    return false;
  }
  const { fd, st, ext } = found;
  const etag = etagOf(st, ext);
  const headers: http.OutgoingHttpHeaders = {
    'content-type': type, etag, 'last-modified': st.mtime.toUTCString(), 'cache-control': 'no-cache', vary: 'Accept-Encoding',
  };
  if (ext) headers['content-encoding'] = ENCODINGS.find((e) => e.ext === ext)?.name;
  headers['content-length'] = st.size;
  if (cache !== undefined && st.size <= KEEP_MAX_FILE) {
    const k: Kept = { headers, etag, body: readWhole(fd, st.size) };
    cache.put(key, k);
    sendKept(req, res, k);
    return true;
  }
  if (matchesEtag(req.headers['if-none-match'], etag)) {
    fs.closeSync(fd);
    delete headers['content-length'];
    res.writeHead(304, headers).end();
    return true;
  }
  if (req.method === 'HEAD') {
    fs.closeSync(fd);
    res.writeHead(200, headers).end();
    return true;
  }
  if (st.size <= READ_WHOLE_MAX) {
    res.writeHead(200, headers).end(readWhole(fd, st.size));
    return true;
  }
  res.writeHead(200, headers);
  const stream = fs.createReadStream('', { fd, start: 0, end: st.size - 1, autoClose: true });
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  stream.pipe(res);
  return true;
}
