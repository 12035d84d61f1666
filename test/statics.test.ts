// The build folder's static paths and content negotiation, as tables: what is served, what never is.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acceptedEncodings, staticPath } from '../lib/web/http/statics.ts';

const PATHS: [string, string | undefined][] = [
  ['/', 'index.html'],
  ['/tasks/A.html', 'tasks/A.html'],
  ['/tasks/', 'tasks/index.html'],
  ['/%2e%2e/registry.json', undefined],
  ['/../x', undefined],
  ['/.hidden', undefined],
  ['/tasks/.x.html', undefined],
  ['/a%00b', undefined],
  ['/a\\b', undefined],
  ['/%E0%A4%A', undefined],
  // A build's temp file is half-written: never served, though its name is no dotfile.
  ['/index.html.1234.7w.tmp', undefined],
  ['/tasks/A.html.99.3.tmp', undefined],
];
for (const [pathname, rel] of PATHS) {
  test(`static path ${pathname} → ${rel ?? 'refused'}`, () => assert.equal(staticPath(pathname), rel));
}

const ENCODED: [string | undefined, string[]][] = [
  [undefined, ['']],
  ['gzip, deflate, br', ['.br', '.gz', '']],
  ['gzip', ['.gz', '']],
  ['br;q=0, gzip', ['.gz', '']],
  // Whitespace around the name or before its parameters does not change what is refused.
  ['*, br ;q=0', ['.gz', '']],
  [' BR ; q=0 , gzip ;q=0.5', ['.gz', '']],
  ['*', ['.br', '.gz', '']],
  ['identity', ['']],
];
for (const [header, want] of ENCODED) {
  test(`Accept-Encoding ${JSON.stringify(header)} → ${want.map((e) => e || 'the file').join(', ')}`, () => assert.deepEqual(acceptedEncodings(header), want));
}
