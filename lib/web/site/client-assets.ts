// The dashboard's browser files (app.js, style.css, favicon.svg): prebuilt at install, else bundled in memory by esbuild.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Esbuild from 'esbuild';
import { writeFileAtomic } from '../../base/atomic.ts';
import { TasksError, isErrno } from '../../base/errors.ts';

/** One file the pages link to, by its name in the build folder. */
export interface Asset { readonly name: string; readonly bytes: Buffer }

/** What the pages link to: the build folder holds exactly these beside the pages. */
export const ASSET_NAMES: readonly string[] = ['app.js', 'favicon.svg', 'style.css'];

/** The repository: the nearest folder above this module with a package.json (lib/web/site/ from sources, dist/chunks/ in the bundle). */
function findRoot(from: string): string {
  for (let dir = from, up = 0; up < 5; dir = path.dirname(dir), up++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
  }
  throw new Error(`no package.json above ${from}: cannot locate the dashboard's client files`);
}

const ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
/** The build options below are a source of the assets too. */
const OPTIONS_FILE = path.join(ROOT, 'lib', 'web', 'site', 'client-assets.ts');

/** Where the client's sources are, and where the install step (scripts/prepare.mjs) writes the bundle beside the bundled CLI. */
export interface ClientDirs { readonly sources: string; readonly prebuilt: string }
export const CLIENT_DIRS: ClientDirs = { sources: path.join(ROOT, 'lib', 'web', 'client'), prebuilt: path.join(ROOT, 'dist', 'client') };

let cached: { key: string; assets: readonly Asset[] } | undefined;

/**
 * The assets to write into a build folder: the prebuilt copy when it is newer than every source,
 * else a bundle made in memory from the sources, so an edit is never served stale. Checked on
 * every call (a dozen stats); while nothing changed, the same array is returned without a rebuild.
 */
export function clientAssets(dirs: ClientDirs = CLIENT_DIRS): readonly Asset[] {
  const newest = newestSource(dirs.sources);
  const built = oldestPrebuilt(dirs.prebuilt);
  const prebuilt = built !== undefined && built > newest;
  const key = JSON.stringify(prebuilt ? [dirs.prebuilt, built] : [dirs.sources, newest]);
  if (cached?.key !== key) cached = { key, assets: prebuilt ? readPrebuilt(dirs.prebuilt) : bundleClient(dirs) };
  return cached.assets;
}

/**
 * Bundles and minifies the client with esbuild: main.ts (and what it imports) into app.js,
 * style.css, and the icon copied as is. Nothing is fetched: the bundle has no external imports.
 */
export function bundleClient(dirs: ClientDirs = CLIENT_DIRS): Asset[] {
  const src = dirs.sources;
  if (!fs.existsSync(src)) {
    throw new TasksError(`the dashboard's client files are missing: neither ${dirs.prebuilt} nor ${src} exists; run npm ci`);
  }
  // SiteBuilder.build is synchronous, hence require and buildSync; loaded here only, so nothing
  // else (the status action, a server with a fresh prebuilt copy) pays for loading esbuild.
  const esbuild = createRequire(import.meta.url)('esbuild') as typeof Esbuild;
  const result = esbuild.buildSync({
    entryPoints: [
      { in: path.join(src, 'main.ts'), out: 'app' },
      { in: path.join(src, 'style.css'), out: 'style' },
      { in: path.join(src, 'favicon.svg'), out: 'favicon' },
    ],
    outdir: dirs.prebuilt, // names the outputs; nothing is written there
    write: false,
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2020',
    loader: { '.svg': 'copy' },
    legalComments: 'none',
    logLevel: 'silent',
  });
  const assets = result.outputFiles.map((f) => ({ name: path.relative(dirs.prebuilt, f.path), bytes: Buffer.from(f.contents) }));
  const names = assets.map((a) => a.name).sort();
  if (names.join() !== ASSET_NAMES.join()) throw new Error(`the client bundle made ${names.join(', ')}, expected ${ASSET_NAMES.join(', ')}`);
  return assets;
}

/** Bundles the client into the prebuilt folder (the install step's copy); returns what it wrote. */
export function writeClientAssets(dirs: ClientDirs = CLIENT_DIRS): Asset[] {
  const assets = bundleClient(dirs);
  for (const a of assets) writeFileAtomic(path.join(dirs.prebuilt, a.name), a.bytes);
  return assets;
}

/** The newest modification time among the sources, or -Infinity when there are none. */
function newestSource(sources: string): number {
  let names: string[];
  try {
    names = fs.readdirSync(sources);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return -Infinity; // installed without sources: the prebuilt copy is all there is
    throw err;
  }
  let newest = mtime(OPTIONS_FILE) ?? -Infinity;
  for (const name of names) newest = Math.max(newest, mtime(path.join(sources, name)) ?? -Infinity);
  return newest;
}

/** The oldest modification time among the prebuilt files, or undefined when one is missing. */
function oldestPrebuilt(prebuilt: string): number | undefined {
  let oldest = Infinity;
  for (const name of ASSET_NAMES) {
    const t = mtime(path.join(prebuilt, name));
    if (t === undefined) return undefined;
    oldest = Math.min(oldest, t);
  }
  return oldest;
}

function readPrebuilt(prebuilt: string): Asset[] {
  return ASSET_NAMES.map((name) => ({ name, bytes: fs.readFileSync(path.join(prebuilt, name)) }));
}

function mtime(file: string): number | undefined {
  try {
    return fs.statSync(file).mtimeMs;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}
