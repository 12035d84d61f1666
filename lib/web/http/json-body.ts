// JSON bodies cached per version: their ETag, their compressed forms, how a large one is kept (as gzip only) and how each is sent.
import type http from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { ENCODINGS } from '../site/site-files.ts';
// The build folder's siblings' settings: a body is compressed as its pages are.
import { GZIP, brotliOptions } from '../site/site-writer.ts';
import { acceptedEncodings, matchesEtag } from './statics.ts';
import type { JsonBody } from '../site/json-doc.ts';

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
