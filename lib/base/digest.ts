// A SHA-1 digest of text or bytes in one call: node's one-shot crypto.hash where it exists (20.12 and later: about twice as fast on small inputs, which a build of 50,000 tasks makes 150,000 of), else a Hash object.
import crypto from 'node:crypto';

type Encoding = 'base64' | 'base64url' | 'hex';

const oneShot = (crypto as { hash?: (algorithm: string, data: string | Buffer, encoding: Encoding) => string }).hash;

/** The SHA-1 digest of data in the given encoding. */
export function sha1Digest(data: string | Buffer, encoding: Encoding): string {
  return oneShot !== undefined ? oneShot('sha1', data, encoding) : crypto.createHash('sha1').update(data).digest(encoding);
}
