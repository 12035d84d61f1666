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

// The CLI in two builds, so `status` reads one file and every module still exists once (a class
// copied into two files would fail `instanceof` across them). dist/tasks.mjs holds the entry and
// everything `status` runs (its static imports); each other action and each module loaded on
// demand is a chunk of a second, split build (`dist/chunks/`), which imports what the entry holds
// from dist/tasks.mjs itself. Node loads each file for a start; 18 small ones cost `status` more
// than the one it runs in. Dependencies stay imports from node_modules, except the two tiny ones
// every command loads at start (kleur, minimist): bundled, so a command that needs no other
// package never resolves one (node's first package lookup costs more than both packages' code).
const dist = path.join(root, 'dist');
const ENTRY = path.join(root, 'scripts', 'tasks-serve.ts');
/** What the entry loads on demand yet keeps in its own file: `status`. */
const IN_ENTRY = new Set([path.join(root, 'lib', 'cli', 'actions', 'status.ts')]);
const BUNDLED_PACKAGES = new Set(['kleur', 'minimist']);
const externalPackages = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (a) => (BUNDLED_PACKAGES.has(a.path) || a.path.startsWith('node:') ? undefined : { path: a.path, external: true }));
  },
};
// absWorkingDir: the metafiles name inputs relative to the root, wherever prepare is run from.
const common = { absWorkingDir: root, bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning' };
/** A chunk's name for a source file: its path under the root, so two `store.ts` never meet. */
const chunkKey = (file) => path.relative(root, file).replace(/\.ts$/, '').replace(/[^A-Za-z0-9]+/g, '-');

// 1. What the entry holds: its static imports and the status action. Every other import() is left
// out and noted; it becomes an entry of the split build.
const lazy = new Set();
/** What the modules `status` runs may load on demand (a shared registry, git): not the other actions. */
const statusLazy = new Set();
const entryPlugin = (inEntry) => ({
  name: 'entry-only',
  setup(b) {
    b.onResolve({ filter: /^\./ }, (a) => {
      if (a.kind !== 'dynamic-import') return undefined;
      const file = path.resolve(a.resolveDir, a.path);
      if (IN_ENTRY.has(file) || inEntry?.has(file)) return undefined;
      lazy.add(file);
      if (a.importer !== ENTRY) statusLazy.add(file);
      return { path: `./chunks/${chunkKey(file)}.mjs`, external: true };
    });
  },
});
const probe = await build({ ...common, entryPoints: [ENTRY], write: false, metafile: true, outdir: dist, plugins: [entryPlugin(), externalPackages] });
const held = new Set(Object.keys(probe.metafile.inputs).filter((f) => f.endsWith('.ts')).map((f) => path.resolve(root, f)));
for (const f of held) lazy.delete(f);

// 2. Every export of each held module, under a name of its own (`__<n>_<export>`), so the chunks
// can import them from dist/tasks.mjs.
const heldList = [...held].filter((f) => f !== ENTRY);
const names = await build({ absWorkingDir: root, entryPoints: heldList, bundle: false, format: 'esm', write: false, metafile: true, outdir: path.join(os.tmpdir(), 'tasks-prepare-names'), outbase: root, logLevel: 'warning' });
const exportsOf = new Map(Object.values(names.metafile.outputs).filter((o) => o.entryPoint).map((o) => [path.resolve(root, o.entryPoint), o.exports]));
const alias = (i, name) => `__${i}_${name}`;
const barrel = [`import ${JSON.stringify(ENTRY)};`, ...heldList.map((f, i) => `export { ${(exportsOf.get(f) ?? []).map((n) => `${n} as ${alias(i, n)}`).join(', ')} } from ${JSON.stringify(f)};`)].join('\n');

fs.rmSync(dist, { recursive: true, force: true });
await build({
  ...common,
  stdin: { contents: barrel, resolveDir: root, sourcefile: 'tasks-entry.js', loader: 'js' },
  outfile: path.join(dist, 'tasks.mjs'),
  plugins: [entryPlugin(held), externalPackages],
});

// 3. The rest, split: a module the entry holds is read from dist/tasks.mjs, never copied.
const fromEntry = {
  name: 'from-entry',
  setup(b) {
    b.onResolve({ filter: /^\./ }, (a) => {
      if (a.namespace === 'held') return { path: '../tasks.mjs', external: true };
      const file = path.resolve(a.resolveDir, a.path);
      return held.has(file) ? { path: file, namespace: 'held' } : undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'held' }, (a) => {
      const i = heldList.indexOf(a.path);
      return { contents: `export { ${(exportsOf.get(a.path) ?? []).map((n) => `${alias(i, n)} as ${n}`).join(', ')} } from "../tasks.mjs";`, loader: 'js' };
    });
  },
};
const chunks = await build({
  ...common,
  entryPoints: Object.fromEntries([...lazy].map((f) => [chunkKey(f), f])),
  splitting: true,
  metafile: true,
  plugins: [fromEntry, externalPackages],
  outdir: path.join(dist, 'chunks'),
  outExtension: { '.js': '.mjs' },
  chunkNames: '[name]-[hash]',
});

// 4. The sources `status` runs, for the entry's stale-bundle check: `status` stats these (and
// only these), any other action every file under lib/ and scripts/.
const outputs = chunks.metafile.outputs;
const statusFiles = new Set(held);
const reach = (out) => {
  for (const f of Object.keys(outputs[out].inputs)) if (f.endsWith('.ts') && !f.startsWith('held:')) statusFiles.add(path.resolve(root, f));
  for (const i of outputs[out].imports) if (!i.external && outputs[i.path]) reach(i.path);
};
for (const [out, o] of Object.entries(outputs)) if (o.entryPoint && statusLazy.has(path.resolve(root, o.entryPoint))) reach(out);
fs.writeFileSync(path.join(dist, 'status-sources.json'), `${JSON.stringify([...statusFiles].map((f) => path.relative(root, f)).sort(), null, 1)}\n`);

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
