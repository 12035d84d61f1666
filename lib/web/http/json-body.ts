// JSON bodies cached per version: their ETag, their compressed forms, how a large one is kept (as gzip only) and how each is sent.
import crypto from 'node:crypto';
import type http from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { ENCODINGS } from '../site/site-files.ts';
// The build folder's siblings' settings: a body is compressed as its pages are.
import { GZIP, brotliOptions } from '../site/site-writer.ts';
import { acceptedEncodings, matchesEtag } from './statics.ts';

/**
 * A serialized body and its strong ETag (a hash of the bytes, so an unchanged body keeps its tag
 * across rebuilds), with its compressed forms by encoding (`.br`, `.gz`), each made on the first
 * request that asks for it: a body cached per version is compressed once per version. A body past
 * KEEP_PLAIN_BYTES is kept as gzip only (`body` undefined, `.gz` made while it was written): a
 * plain request gets it decompressed on the way out.
 */
export interface JsonBody { readonly body: Buffer | undefined; readonly length: number; readonly etag: string; readonly encoded: Map<string, Promise<Buffer>> }
/** A body kept as its bytes (jsonBody): what the server reads back (the snapshot). */
export interface PlainBody extends JsonBody { readonly body: Buffer }

/**
 * Bodies larger than this are kept as gzip only. /api/tasks is 5.6 MB at 10,000 tasks (kept plain:
 * a request costs a write) and 31 MB at 50,000, where the plain bytes, their br and the blocks they
 * were written in cost the server's thread about 200 MB of peak RSS (bench/scale.ts); as gzip they
 * are about a tenth, and a plain request costs a decompression on zlib's thread pool.
 */
export const KEEP_PLAIN_BYTES = 8 * 1024 * 1024;
/** The size of the blocks a streamed body is written in. */
const BLOCK_BYTES = 1 << 20;

const etagOf = (hash: crypto.Hash): string => `"${hash.digest('base64url')}"`;

/** Wraps JSON text (or its bytes, ending in a newline) as a body with its ETag. */
export function jsonBody(text: string | Buffer): PlainBody {
  const body = typeof text !== 'string' ? text : Buffer.from(text.endsWith('\n') ? text : `${text}\n`);
  return { body, length: body.length, etag: etagOf(crypto.createHash('sha1').update(body)), encoded: new Map() };
}

/**
 * A body written from pieces of text, as the bytes of their concatenation: into blocks of 1 MiB,
 * with a turn of the event loop after each (a 31 MB list never holds the server's thread in one
 * piece). Past KEEP_PLAIN_BYTES the blocks go through gzip as they fill, one block buffer reused,
 * and only the gzip is kept; the ETag is the one jsonBody gives the same bytes.
 */
export async function streamedBody(pieces: Iterable<string>, keepPlainBytes = KEEP_PLAIN_BYTES): Promise<JsonBody> {
  const hash = crypto.createHash('sha1');
  let kept: Buffer[] | undefined = [];
  let length = 0;
  let gzip: { stream: zlib.Gzip; out: Buffer[]; done: Promise<void> } | undefined;
  const feed = (block: Buffer): Promise<void> => new Promise((resolve, reject) => {
    (gzip as NonNullable<typeof gzip>).stream.write(block, (err) => (err ? reject(err) : resolve()));
  });
  /** Takes a full block; true when it is kept (the writer then needs a new one). */
  const take = async (block: Buffer): Promise<boolean> => {
    hash.update(block);
    length += block.length;
    await new Promise((resolve) => setImmediate(resolve));
    if (kept !== undefined) {
      kept.push(block);
      if (length <= keepPlainBytes) return true;
      const stream = zlib.createGzip(GZIP);
      const out: Buffer[] = [];
      stream.on('data', (c: Buffer) => out.push(c));
      const done = new Promise<void>((resolve, reject) => { stream.on('end', resolve).on('error', reject); });
      // A zlib failure rejects the write under way as well: this one is awaited only at the end.
      done.catch(() => {});
      gzip = { stream, out, done };
      for (const b of kept) await feed(b);
      kept = undefined;
      return true;
    }
    await feed(block);
    return false;
  };
  let block = Buffer.allocUnsafe(BLOCK_BYTES);
  let used = 0;
  for (const text of pieces) {
    if (block.length - used < text.length * 3) {
      if (used > 0 && await take(block.subarray(0, used))) block = Buffer.allocUnsafe(BLOCK_BYTES);
      used = 0;
      if (block.length < text.length * 3) block = Buffer.allocUnsafe(text.length * 3);
    }
    used += block.write(text, used);
  }
  if (used > 0) await take(block.subarray(0, used));
  const etag = etagOf(hash);
  if (kept !== undefined) return { body: Buffer.concat(kept, length), length, etag, encoded: new Map() };
  const g = gzip as NonNullable<typeof gzip>;
  g.stream.end();
  await g.done;
  return { body: undefined, length, etag, encoded: new Map([['.gz', Promise.resolve(Buffer.concat(g.out))]]) };
}

const brotli = promisify(zlib.brotliCompress);
const gzipped = promisify(zlib.gzip);

/** The plain bytes of a body kept as gzip only, as a stream. */
function plainStream(gz: Buffer): NodeJS.ReadableStream {
  return Readable.from([gz]).pipe(zlib.createGunzip());
}

/**
 * The body in one encoding, made on zlib's thread pool (a 5 MB list takes tens of ms: never on the
 * request thread); a body kept as gzip is decompressed into brotli as a stream. A failure is
 * forgotten, so the next request tries again.
 */
function encodedOf(doc: JsonBody, ext: string): Promise<Buffer> {
  const known = doc.encoded.get(ext);
  if (known !== undefined) return known;
  const b = doc.body;
  let made: Promise<Buffer>;
  if (b !== undefined) made = ext === '.br' ? brotli(b, brotliOptions(b.length)) : gzipped(b, GZIP);
  else {
    made = (doc.encoded.get('.gz') as Promise<Buffer>).then(async (gz) => {
      const out: Buffer[] = [];
      await pipeline(plainStream(gz), zlib.createBrotliCompress(brotliOptions(doc.length)), async (source: AsyncIterable<Buffer>) => { for await (const c of source) out.push(c); });
      return Buffer.concat(out);
    });
  }
  doc.encoded.set(ext, made);
  made.catch(() => doc.encoded.delete(ext));
  return made;
}

/**
 * A value derived at most once per source version: the key parts are compared one by one by
 * identity (a new model object per rebuild, a new stat signature per snapshot write), and the
 * value is made only when a request asks after a part changed.
 */
export class Derived<T> {
  private keys: readonly unknown[] | undefined;
  private value: T | undefined;

  /** Drops the value: the next get makes it again (a body whose making failed). */
  forget(): void {
    this.keys = undefined;
    this.value = undefined;
  }

  get(keys: readonly unknown[], make: () => T): T {
    const same = this.keys !== undefined && this.keys.length === keys.length && keys.every((k, i) => k === this.keys?.[i]);
    if (!same || this.value === undefined) {
      this.value = make();
      this.keys = keys;
    }
    return this.value;
  }
}

/**
 * Sends a cached body in the best encoding the client accepts, as the build folder's files are
 * (statics.ts): br, else gzip, else the bytes, with `Vary: Accept-Encoding` and an ETag per
 * encoding (the body's tag as it was for the bytes; `-br` or `-gz` inside the quotes for the
 * others). 304 when the client has that tag, else 200 (revalidated on every use: no-cache).
 */
export async function sendCached(req: http.IncomingMessage, res: http.ServerResponse, doc: JsonBody): Promise<void> {
  const ext = acceptedEncodings(req.headers['accept-encoding'])[0] ?? '';
  const etag = ext === '' ? doc.etag : `${doc.etag.slice(0, -1)}-${ext.slice(1)}"`;
  const headers: http.OutgoingHttpHeaders = { 'cache-control': 'no-cache', etag, vary: 'Accept-Encoding' };
  if (matchesEtag(req.headers['if-none-match'], etag)) {
    res.writeHead(304, headers).end();
    return;
  }
  const head = req.method === 'HEAD';
  if (ext === '' && doc.body === undefined) {
    const gz = await (doc.encoded.get('.gz') as Promise<Buffer>);
    res.writeHead(200, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(doc.length) });
    if (head) return void res.end();
    // A client that goes away mid-body ends the pipeline: nothing to answer then.
    return pipeline(plainStream(gz), res).catch(() => void res.destroy());
  }
  const body = ext === '' ? doc.body as Buffer : await encodedOf(doc, ext);
  if (ext !== '') headers['content-encoding'] = ENCODINGS.find((e) => e.ext === ext)?.name;
  res.writeHead(200, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(body.length) });
  res.end(head ? undefined : body);
}
