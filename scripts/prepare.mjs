// Install step (`npm ci` runs it as `prepare`): bundle the CLI and the dashboard's browser files
// for a fast start, and point node_modules/.bin/just at rust-just's static binary so `npx just`
// passes arguments untouched. Plain JavaScript run by plain node: the one TypeScript module it
// needs is loaded through tsx's API.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// One entry plus one chunk per action (each action is a dynamic import), so `status` never loads
// the web, YAML or markdown code. Dependencies stay imports from node_modules, except the two tiny
// ones every command loads at start (kleur, minimist): bundled, so a command that needs no other
// package never resolves one (node's first package lookup costs more than both packages' code).
const BUNDLED_PACKAGES = new Set(['kleur', 'minimist']);
const externalPackages = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (a) => (BUNDLED_PACKAGES.has(a.path) || a.path.startsWith('node:') ? undefined : { path: a.path, external: true }));
  },
};
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
await build({
  entryPoints: { tasks: path.join(root, 'scripts', 'tasks-serve.ts') },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  plugins: [externalPackages],
  outdir: path.join(root, 'dist'),
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
});

// The dashboard's app.js, style.css and favicon.svg, prebuilt into dist/client/ so the bundled CLI
// serves them without loading esbuild. One definition of that build, shared with a server run
// from sources (which rebuilds in memory when these are older than lib/web/client/).
const { tsImport } = await import('tsx/esm/api');
const { writeClientAssets } = await tsImport('../lib/web/site/client-assets.ts', import.meta.url);
writeClientAssets();

// rust-just's bin is a node wrapper (yargs + execa): ~0.7 s of CPU per call, and it re-parses the
// arguments (`1.50` becomes `1.5`, a bare `--` is dropped). esbuild's installer does the same swap
// for its own binary. Where no platform package exists, the wrapper stays.
const bin = path.join(root, 'node_modules', '.bin', 'just');
const arch = os.arch() === 'arm' ? 'armv7' : os.arch();
const binary = path.join(root, 'node_modules', `rust-just-${os.platform()}-${arch}`, 'bin', 'just');
if (os.platform() !== 'win32' && fs.existsSync(binary) && fs.existsSync(path.dirname(bin))) {
  const tmp = `${bin}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  fs.symlinkSync(path.relative(path.dirname(bin), binary), tmp);
  fs.renameSync(tmp, bin);
}
