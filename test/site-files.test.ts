// The server's build folder files, in process: compressed siblings written before their file and
// kept in step with it, version trailers, and what a restart finds on disk.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { test } from 'node:test';
import { LiveSite } from '../lib/web/site/live.ts';
import { pageVersion } from '../lib/web/site/page-version.ts';
import { type BuildResult, SiteFiles } from '../lib/web/site/site-files.ts';

const SERVED = { precompress: true, versions: true } as const;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-sitefiles-'));
  try {
    await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** One build's worth of writes: begin, the files, finish (as SiteBuilder does), and the writer done. */
async function build(files: SiteFiles, pages: Record<string, string>, first = false): Promise<Omit<BuildResult, 'settled'>> {
  files.begin();
  if (first) files.survey('tasks', '.html', ['index.html', 'search.json']);
  for (const [rel, text] of Object.entries(pages)) files.write(rel, text);
  const { settled, ...result } = files.finish();
  await settled;
  return result;
}

const page = (title: string): string => `<!doctype html><html><head><title>${title}</title></head><body>${title}</body></html>\n`;

test('a page gets a version trailer from its bytes, and .br and .gz siblings that decompress to the whole file', () => withDir(async (dir) => {
  fs.mkdirSync(path.join(dir, 'tasks'));
  const r = await build(new SiteFiles(dir, SERVED), { 'index.html': page('Index'), 'tasks/A.html': page('A'), 'search.json': '{"a":"x"}\n' }, true);
  assert.deepEqual(r, { written: 3, removed: 0, filesChanged: true }, 'siblings are not counted');
  for (const rel of ['index.html', 'tasks/A.html', 'search.json']) {
    const file = fs.readFileSync(path.join(dir, rel));
    assert.deepEqual(zlib.brotliDecompressSync(fs.readFileSync(path.join(dir, `${rel}.br`))), file, `${rel}.br`);
    assert.deepEqual(zlib.gunzipSync(fs.readFileSync(path.join(dir, `${rel}.gz`))), file, `${rel}.gz`);
    const t = (p: string): number => fs.statSync(path.join(dir, p)).mtimeMs;
    assert.ok(t(`${rel}.br`) <= t(rel) && t(`${rel}.gz`) <= t(rel), `${rel}: its siblings are written first`);
  }
  const index = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
  const version = crypto.createHash('sha1').update(page('Index')).digest('base64url').slice(0, 16);
  assert.equal(index, `${page('Index')}<!--v:${version}-->\n`);
  assert.equal(pageVersion(path.join(dir, 'index.html')), version);
  assert.equal(pageVersion(path.join(dir, 'search.json')), null, 'only pages carry a version');
  assert.equal(pageVersion(path.join(dir, 'tasks', 'NOPE.html')), null);
}));

test('unchanged bytes are not written again, in the same process or after a restart; changed ones are, with their siblings', () => withDir(async (dir) => {
  fs.mkdirSync(path.join(dir, 'tasks'));
  const files = new SiteFiles(dir, SERVED);
  await build(files, { 'index.html': page('Index'), 'tasks/A.html': page('A') }, true);
  const stamp = (): string[] => ['index.html', 'index.html.br', 'index.html.gz', 'tasks/A.html', 'tasks/A.html.br'].map((p) => `${p}:${fs.statSync(path.join(dir, p)).mtimeMs}`);
  const before = stamp();
  assert.deepEqual(await build(files, { 'index.html': page('Index'), 'tasks/A.html': page('A') }), { written: 0, removed: 0, filesChanged: false });
  assert.deepEqual(await build(new SiteFiles(dir, SERVED), { 'index.html': page('Index'), 'tasks/A.html': page('A') }, true), { written: 0, removed: 0, filesChanged: false }, 'a restart');
  assert.deepEqual(stamp(), before);
  await build(files, { 'index.html': page('Index 2'), 'tasks/A.html': page('A') });
  assert.match(zlib.brotliDecompressSync(fs.readFileSync(path.join(dir, 'index.html.br'))).toString(), /Index 2/);
  assert.match(zlib.gunzipSync(fs.readFileSync(path.join(dir, 'index.html.gz'))).toString(), /Index 2/);
}));

test('a restart mends what an interrupted build left: missing or newer siblings, orphaned siblings, temp files', () => withDir(async (dir) => {
  fs.mkdirSync(path.join(dir, 'tasks'));
  await build(new SiteFiles(dir, SERVED), { 'index.html': page('Index'), 'tasks/A.html': page('A'), 'tasks/B.html': page('B') }, true);
  fs.rmSync(path.join(dir, 'tasks', 'A.html.gz'));
  // B's .br written by a build that stopped before B itself: newer than B, and not B's bytes.
  fs.writeFileSync(path.join(dir, 'tasks', 'B.html.br'), zlib.brotliCompressSync(page('B, a later version')));
  const later = new Date(fs.statSync(path.join(dir, 'tasks', 'B.html')).mtimeMs + 5000);
  fs.utimesSync(path.join(dir, 'tasks', 'B.html.br'), later, later);
  fs.writeFileSync(path.join(dir, 'tasks', 'GONE.html.br'), 'orphan');
  fs.writeFileSync(path.join(dir, 'tasks', 'A.html.123.4.tmp'), 'half');
  fs.writeFileSync(path.join(dir, 'index.html.123.5.tmp'), 'half');
  const r = await build(new SiteFiles(dir, SERVED), { 'index.html': page('Index'), 'tasks/A.html': page('A'), 'tasks/B.html': page('B') }, true);
  assert.deepEqual(r, { written: 0, removed: 0, filesChanged: false });
  for (const rel of ['tasks/A.html', 'tasks/B.html']) {
    const file = fs.readFileSync(path.join(dir, rel));
    assert.deepEqual(zlib.gunzipSync(fs.readFileSync(path.join(dir, `${rel}.gz`))), file, `${rel}.gz`);
    assert.deepEqual(zlib.brotliDecompressSync(fs.readFileSync(path.join(dir, `${rel}.br`))), file, `${rel}.br`);
  }
  assert.deepEqual(fs.readdirSync(path.join(dir, 'tasks')).sort(), ['A.html', 'A.html.br', 'A.html.gz', 'B.html', 'B.html.br', 'B.html.gz']);
  assert.ok(!fs.existsSync(path.join(dir, 'index.html.123.5.tmp')));
}));

test('remove takes the siblings with the file; without the options (build out=) there are neither siblings nor trailers', () => withDir(async (dir) => {
  fs.mkdirSync(path.join(dir, 'tasks'));
  const files = new SiteFiles(dir, SERVED);
  await build(files, { 'tasks/A.html': page('A') }, true);
  files.begin();
  files.remove('tasks/A.html');
  const { settled, ...removed } = files.finish();
  await settled;
  assert.deepEqual(removed, { written: 0, removed: 1, filesChanged: true });
  assert.deepEqual(fs.readdirSync(path.join(dir, 'tasks')), []);
  const plain = path.join(dir, 'plain');
  fs.mkdirSync(path.join(plain, 'tasks'), { recursive: true });
  await build(new SiteFiles(plain), { 'index.html': page('Index'), 'tasks/A.html': page('A') }, true);
  assert.deepEqual(fs.readdirSync(plain).sort(), ['index.html', 'tasks']);
  assert.equal(fs.readFileSync(path.join(plain, 'index.html'), 'utf8'), page('Index'));
}));

test('a page the writer could not write is written by the next build (the builder starts afresh)', () => withDir(async (root) => {
  const dir = path.join(root, 'tasks');
  fs.mkdirSync(dir);
  const task = (title: string): void => fs.writeFileSync(path.join(dir, 'A.md'), `---\nid: A\ntitle: ${title}\nstatus: ready\n---\n`);
  task('First');
  const out = path.join(root, 'site');
  const live = new LiveSite({ owner: 'o', dir, project: 'P', out, ownFolder: true, now: () => new Date() });
  await live.rebuild().settled;
  // The page's place taken by a non-empty folder: renaming the new page over it fails.
  const page = path.join(out, 'tasks', 'A.html');
  fs.rmSync(page);
  fs.mkdirSync(page);
  fs.writeFileSync(path.join(page, 'x'), 'x');
  task('Second');
  await assert.rejects(live.rebuild(['A.md']).settled ?? Promise.resolve());
  fs.rmSync(page, { recursive: true });
  // Nothing changed since: only a builder that does not trust what it wrote before puts the page back.
  await live.rebuild([]).settled;
  assert.match(fs.readFileSync(page, 'utf8'), /Second/);
  assert.match(zlib.brotliDecompressSync(fs.readFileSync(`${page}.br`)).toString(), /Second/);
}));
