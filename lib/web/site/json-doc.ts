// JSON documents as bytes with their ETag: made whole, or from pieces of text into blocks (kept as gzip only when large). Made in either thread; json-body.ts in the HTTP room sends them.
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { GZIP } from './site-writer.ts';

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
