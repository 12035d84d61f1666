// Publishing a built dashboard into out=: only into a folder the build owns, never through a symlink.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../base/atomic.ts';
import { isErrno, usageError } from '../base/errors.ts';

/** The manifest that marks a folder as made by `tasks build` and lists the files it wrote there. */
export const MANIFEST = '.tasks-build.json';

interface Manifest { tool: 'tasks build'; files: string[] }

/** What publishing did. */
export interface Published { written: number; removed: number }

/** Places that are never a build folder, whatever else is true of them. */
export interface Forbidden { readonly home: string; readonly roots: readonly string[]; readonly dir: string }

const inside = (child: string, parent: string): boolean => child === parent || child.startsWith(parent + path.sep);

/**
 * Checks out= (its real path) before anything is built: not /, the home folder, the repository,
 * the tasks folder or anything holding it, and, when it exists and is not empty, a folder an
 * earlier build made (its manifest says so). Returns the files that earlier build wrote.
 */
export function checkOut(real: string, given: string, f: Forbidden): string[] {
  const refuse = (why: string): never => {
    throw usageError(`\`out\` ${why}, got \`${given}\`; pass out=<a new or empty folder, or one an earlier build made>`);
  };
  if (real === path.parse(real).root) refuse('must not be the file system root');
  if (real === f.home) refuse('must not be the home folder');
  for (const root of f.roots) if (inside(root, real)) refuse(`must not be the repository ${root} or a folder holding it`);
  if ((inside(real, f.dir) && !inside(real, path.join(f.dir, 'logs'))) || inside(f.dir, real)) refuse(`must be outside the tasks folder ${f.dir}`);
  const st = fs.lstatSync(real, { throwIfNoEntry: false });
  if (st === undefined) return [];
  if (!st.isDirectory()) refuse('must be a folder');
  const manifest = readManifest(real);
  if (manifest) return manifest.files;
  if (fs.readdirSync(real).length > 0) refuse(`is a folder with files a build did not make (no ${MANIFEST})`);
  return [];
}

function readManifest(dir: string): Manifest | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, MANIFEST), 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  try {
    const doc = JSON.parse(text) as Partial<Manifest>;
    if (doc.tool === 'tasks build' && Array.isArray(doc.files) && doc.files.every((x) => typeof x === 'string' && isPlainRelative(x))) return doc as Manifest;
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
  }
  return undefined;
}

function isPlainRelative(rel: string): boolean {
  return rel !== '' && !path.isAbsolute(rel) && rel.split('/').every((p) => p !== '' && p !== '.' && p !== '..');
}

/** Every regular file under dir, relative, with / separators. */
function filesUnder(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...filesUnder(dir, r));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

/**
 * Moves the staged build into out. Every path is checked before anything moves: a folder on the
 * way must be a real folder (a symlink there is replaced only if an earlier build owned what lies
 * under it), and a file may be replaced only if an earlier build wrote it. Files an earlier build
 * wrote that this one did not are removed (the link itself, never its target). Unchanged files are
 * left alone, so their ETags hold.
 */
export function publish(staging: string, out: string, owned: readonly string[]): Published {
  const mine = new Set(owned);
  const ownsUnder = (dirRel: string): boolean => [...mine].some((f) => f.startsWith(`${dirRel}/`));
  const next = filesUnder(staging);
  const replaceDirs: string[] = [];
  for (const rel of next) {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dirRel = parts.slice(0, i).join('/');
      const st = fs.lstatSync(path.join(out, dirRel), { throwIfNoEntry: false });
      if (st === undefined || st.isDirectory()) continue;
      if (!ownsUnder(dirRel)) throw usageError(`\`out\` holds ${dirRel}, which is not a folder a build made (${st.isSymbolicLink() ? 'a symlink' : 'a file'}); remove it or pass another out=`);
      if (!replaceDirs.includes(dirRel)) replaceDirs.push(dirRel);
    }
    const st = fs.lstatSync(path.join(out, rel), { throwIfNoEntry: false });
    if (st !== undefined && !mine.has(rel)) throw usageError(`\`out\` already holds ${rel}, which a build did not write; remove it or pass another out=`);
    if (st?.isDirectory()) throw usageError(`\`out\` holds a folder at ${rel}, where a page goes; remove it or pass another out=`);
  }
  fs.mkdirSync(out, { recursive: true });
  // A symlink where a build's folder was: remove the link itself, then make the real folder.
  for (const dirRel of replaceDirs) fs.rmSync(path.join(out, dirRel), { force: true });
  let written = 0;
  for (const rel of next) {
    const from = path.join(staging, rel);
    const to = path.join(out, rel);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    const st = fs.lstatSync(to, { throwIfNoEntry: false });
    if (st?.isFile() && sameBytes(from, to)) continue;
    // rename replaces a symlink itself, never the file it points to.
    fs.renameSync(from, to);
    written += 1;
  }
  const keep = new Set(next);
  let removed = 0;
  for (const rel of mine) {
    if (keep.has(rel)) continue;
    const p = path.join(out, rel);
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (st && !st.isDirectory()) {
      fs.rmSync(p, { force: true });
      removed += 1;
    }
    removeEmptyParents(out, path.dirname(rel));
  }
  writeFileAtomic(path.join(out, MANIFEST), JSON.stringify({ tool: 'tasks build', files: next.sort() } satisfies Manifest, null, 1) + '\n');
  return { written, removed };
}

function sameBytes(a: string, b: string): boolean {
  const sa = fs.statSync(a);
  const sb = fs.statSync(b);
  return sa.size === sb.size && fs.readFileSync(a).equals(fs.readFileSync(b));
}

function removeEmptyParents(out: string, dirRel: string): void {
  for (let d = dirRel; d !== '.' && d !== ''; d = path.dirname(d)) {
    try {
      fs.rmdirSync(path.join(out, d));
    } catch (err) {
      if (isErrno(err, 'ENOTEMPTY') || isErrno(err, 'EEXIST') || isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return;
      throw err;
    }
  }
}
