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

function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const bare = etag.slice(2);
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag === etag || tag === bare || tag === `W/${bare}`;
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

/**
 * Answers a GET or HEAD from the build folder and returns true, or returns false when the path
 * names no file there (the caller answers 404). The `.br` or `.gz` sibling is sent when the client
 * accepts it; every answer carries `Vary: Accept-Encoding`, an ETag (304 on a match) and
 * `Cache-Control: no-cache`, so browsers keep the files and ask again each time. `allowed` says
 * which files of the folder may be sent (a sibling asked for by name goes with its file); the
 * folders from `<dir>/logs` down to the file must not be links.
 */
export function sendStatic(root: string, req: http.IncomingMessage, res: http.ServerResponse, pathname: string, allowed: (rel: string) => boolean = () => true): boolean {
  const rel = staticPath(pathname);
  if (rel === undefined) return false;
  const sibling = ENCODINGS.find((e) => rel.endsWith(e.ext));
  if (!allowed(rel) && (sibling === undefined || !allowed(rel.slice(0, -sibling.ext.length)))) return false;
  const type = TYPES[path.extname(rel)] ?? 'application/octet-stream';
  const base = path.join(root, rel);
  try {
    checkFolders(path.dirname(base));
  } catch (err) {
    if (err instanceof RuntimeFolderError) return false;
    throw err;
  }
  let found: { fd: number; st: fs.Stats; ext: string } | undefined;
  for (const ext of acceptedEncodings(req.headers['accept-encoding'])) {
    const v = openVariant(base + ext);
    if (v) {
      found = { ...v, ext };
      break;
    }
  }
  if (found === undefined) return false;
  const { fd, st, ext } = found;
  const etag = etagOf(st, ext);
  const headers: http.OutgoingHttpHeaders = {
    'content-type': type, etag, 'last-modified': st.mtime.toUTCString(), 'cache-control': 'no-cache', vary: 'Accept-Encoding',
  };
  if (ext) headers['content-encoding'] = ENCODINGS.find((e) => e.ext === ext)?.name;
  if (matches(req.headers['if-none-match'], etag)) {
    fs.closeSync(fd);
    res.writeHead(304, headers).end();
    return true;
  }
  headers['content-length'] = st.size;
  if (req.method === 'HEAD') {
    fs.closeSync(fd);
    res.writeHead(200, headers).end();
    return true;
  }
  if (st.size <= READ_WHOLE_MAX) {
    const body = Buffer.alloc(st.size);
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
    res.writeHead(200, headers).end(body);
    return true;
  }
  res.writeHead(200, headers);
  const stream = fs.createReadStream('', { fd, start: 0, end: st.size - 1, autoClose: true });
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  stream.pipe(res);
  return true;
}
