// The server's build folder's manifest: the files its own build wrote, trusted only in the very folder that build wrote it into.
import fs from 'node:fs';
import path from 'node:path';
import { writeChunksAtomic } from '../../base/atomic.ts';
import { readIfExists } from './site-bytes.ts';

/** Hidden, so the static server never sends it (statics.ts refuses dot-names). */
export const MANIFEST_NAME = '.manifest.json';

interface ManifestDoc { readonly tool: string; readonly folder: string; readonly files: readonly string[] }

const TOOL = 'tasks site';

/**
 * The build folder's identity: its device, inode and birth time (ns). A repository can commit a
 * manifest, but not the inode and birth time that a clone's folder gets on the operator's disk, so
 * a committed build folder (and a copied one) never passes for this tool's own build.
 */
function folderIdentity(dir: string): string | undefined {
  const st = fs.lstatSync(dir, { bigint: true, throwIfNoEntry: false });
  if (st === undefined || !st.isDirectory()) return undefined;
  return `${st.dev}:${st.ino}:${st.birthtimeNs}`;
}

/** Records the files of a build (paths relative to dir, without their compressed siblings), atomically, once they are all on disk; unchanged, it is left as it is. */
export function writeManifest(dir: string, files: readonly string[]): void {
  const folder = folderIdentity(dir);
  if (folder === undefined) return; // the folder went away under the build: the next one writes it anew
  const doc: ManifestDoc = { tool: TOOL, folder, files: [...files].sort() };
  const file = path.join(dir, MANIFEST_NAME);
  const bytes = Buffer.from(`${JSON.stringify(doc)}\n`);
  // A restart that finds every file right writes nothing, this one included.
  if (readIfExists(file)?.equals(bytes) !== true) writeChunksAtomic(file, [bytes]);
}

/**
 * The files a previous build of this tool wrote into dir, or undefined when the folder holds no
 * manifest of its own: none, a link or a non-file in its place, another folder's identity (a
 * committed or copied one), or not ours in shape. The server shows nothing from such a folder
 * until its own first build is in.
 */
export function readManifest(dir: string): Set<string> | undefined {
  const bytes = readIfExists(path.join(dir, MANIFEST_NAME));
  if (bytes === undefined) return undefined;
  let doc: Partial<ManifestDoc>;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as Partial<ManifestDoc>;
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
  if (doc.tool !== TOOL || !Array.isArray(doc.files) || doc.folder !== folderIdentity(dir)) return undefined;
  return new Set(doc.files.filter((f): f is string => typeof f === 'string'));
}
