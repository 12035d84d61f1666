// The build folder's files: atomic writes that skip files whose bytes are already on disk; for the server, compressed siblings and page versions.
import fs from 'node:fs';
import path from 'node:path';
import { writeChunksAtomic } from '../../base/atomic.ts';
import { isErrno } from '../../base/errors.ts';
import { checkFolders, refuseLinkedFolders } from '../../base/nofollow.ts';
import { withVersionTrailer } from './page-version.ts';
import { readIfExists, sha1Of } from './site-bytes.ts';
import { writeManifest } from './site-manifest.ts';
import { type SiteWriter, siteWriter } from './site-writer.ts';

/**
 * What one build did; filesChanged: a file was added or removed (not just rewritten). With
 * precompress, files are written by the site writer: `settled` resolves once they are all on
 * disk (and rejects when one could not be written; the next build then checks every file again).
 * files (with the manifest option): the build's files, when they are not the ones last reported.
 */
export interface BuildResult { written: number; removed: number; filesChanged: boolean; settled?: Promise<void>; files?: readonly string[]; changes?: FileChanges }

/**
 * The files a build added to and dropped from the folder's list since the last result (with the
 * manifest option), when the result carries no whole `files` list: a slice of 200 task pages at
 * 50,000 tasks reports 200 names, not 50,000.
 */
export interface FileChanges { readonly add: readonly string[]; readonly drop: readonly string[] }

/** How often, at most, slices of task pages write the manifest (which names every file: 50,000 at 50,000 tasks). */
const MANIFEST_EVERY_MS = 2_000;

/** What the server's own build folder gets beyond the files themselves (a `build out=` folder gets neither). */
export interface SiteFilesOptions {
  /**
   * Writes `<file>.br` and `<file>.gz` beside every file, before the file itself, so the server
   * sends them by Accept-Encoding; they are written, kept and removed with their file. The
   * compressing happens on libuv's thread pool (site-writer.ts), overlapping the render.
   */
  readonly precompress?: boolean;
  /**
   * Ends every `.html` file with `<!--v:<version>-->`, the version being a hash of the bytes before
   * it: an open page compares its own with the one on disk (page-version.ts) and refetches only when they differ.
   */
  readonly versions?: boolean;
  /** Records the build's files in the folder's manifest once they are on disk (site-manifest.ts): the server serves only those. */
  readonly manifest?: boolean;
}

/** The compressed siblings, in the order a server prefers them. */
export const ENCODINGS = [{ ext: '.br', name: 'br' }, { ext: '.gz', name: 'gzip' }] as const;

/**
 * The files of one build folder, as this process last wrote them: a hash per file, and what was on disk before the first build (compared by content
 * instead of rewritten, so a restart rewrites nothing that is already right).
 */
export class SiteFiles {
  readonly dir: string;
  private hashes = new Map<string, string>();
  /** Files found on disk before the first build, by path relative to dir. */
  private found = new Set<string>();
  /**
   * The files the survey listed in its folder (a previous build's pages) not written since: still
   * on disk as that build left them, so the manifest keeps them until a write replaces or a removal drops them.
   */
  private onDisk = new Set<string>();
  private stats = { written: 0, removed: 0, added: 0 };
  private readonly options: SiteFilesOptions;
  private readonly writer: SiteWriter | undefined;
  /** The set of files changed since the manifest was last written (or there is none from this process yet). */
  private listDue = true;
  /** The next result carries the whole list (the first one, or after reset()); else its changes. */
  private wholeDue = true;
  private readonly changes = { add: new Set<string>(), drop: new Set<string>() };
  /** When the manifest was last written (Date.now()). */
  private listedAt = 0;

  constructor(dir: string, options: SiteFilesOptions = {}) {
    this.dir = path.resolve(dir);
    this.options = options;
    this.writer = options.precompress ? siteWriter() : undefined;
  }

  /**
   * Starts counting a build's writes afresh (a build that threw leaves its counts behind). The build
   * folder, those above it up to `<dir>/logs` and its subfolders must not be links (a repository can
   * commit `site-<owner>/docs` aimed at the operator's files): a RuntimeFolderError fails the build.
   */
  begin(subfolders: readonly string[] = []): void {
    checkFolders(this.dir);
    refuseLinkedFolders(subfolders.map((f) => path.join(this.dir, f)));
    this.stats = { written: 0, removed: 0, added: 0 };
  }

  /** Forgets what was written, so the next build checks every file again (the folder was cleared under us). */
  reset(): void {
    this.hashes.clear();
    this.onDisk.clear();
    this.listDue = true;
    this.wholeDue = true;
  }

  /** Notes the files already on disk: the pages in `sub` and the given top-level names. */
  survey(sub: string, ext: string, names: readonly string[]): void {
    checkFolders(path.join(this.dir, sub));
    this.found.clear();
    this.onDisk.clear();
    let list: string[];
    try {
      list = fs.readdirSync(path.join(this.dir, sub));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) list = [];
      else throw err;
    }
    for (const name of list) {
      if (!name.endsWith(ext)) continue;
      this.found.add(`${sub}/${name}`);
      this.onDisk.add(`${sub}/${name}`);
    }
    for (const name of names) this.found.add(name);
    if (this.options.precompress) this.dropLeftovers(sub, list);
  }

  /**
   * Removes what an interrupted build left in `sub` and the top folder (the server's build folder is
   * ours alone): temp files of a write that never finished, and compressed siblings whose file is gone.
   */
  private dropLeftovers(sub: string, list: readonly string[]): void {
    let top: string[];
    try {
      top = fs.readdirSync(this.dir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw err;
    }
    for (const [folder, names] of [[sub, list], ['', top]] as const) {
      const here = new Set(names);
      for (const name of names) {
        const sibling = ENCODINGS.find((e) => name.endsWith(e.ext));
        const orphan = sibling !== undefined && !here.has(name.slice(0, -sibling.ext.length));
        // Temp files: `<file>.<pid>.<n>.tmp`, and `…w.tmp` from the writer threads of earlier versions.
        if (orphan || /\.\d+\.\d+w?\.tmp$/.test(name)) fs.rmSync(path.join(this.dir, folder, name), { force: true });
      }
    }
  }

  /** The files the survey found, relative to dir. */
  surveyed(): readonly string[] {
    return [...this.found];
  }

  /** Whether a file was written (or found right) by write() since the last reset: its hash is known. */
  knows(rel: string): boolean {
    return this.hashes.has(rel);
  }

  /** Writes a file atomically unless its bytes are already there. */
  write(rel: string, bytes: string | Buffer): void {
    const chunks = this.withVersion(rel, [typeof bytes === 'string' ? Buffer.from(bytes) : bytes]);
    const hash = sha1Of(chunks);
    let known = this.hashes.get(rel);
    let exists = known !== undefined;
    const surveyed = known === undefined && this.found.has(rel);
    if (surveyed) {
      const old = readIfExists(path.join(this.dir, rel));
      exists = old !== undefined;
      if (old !== undefined) known = sha1Of([old]);
    }
    const listed = this.listed(rel);
    this.hashes.set(rel, hash);
    this.onDisk.delete(rel);
    if (!listed) this.added(rel);
    if (known === hash) {
      // Found right on disk: its siblings may still be missing or from a build that stopped half-way.
      if (surveyed) this.checkSiblings(rel, chunks);
      return;
    }
    this.put(rel, chunks);
    this.count(exists);
  }

  /**
   * Takes a file off the folder's list without removing it: its bytes on disk are out of date and
   * its new ones are still to come (a deferred search shard, whose new version the data index
   * already names), so the server waits for them instead of sending the old ones. The next write
   * compares with the disk, as after a restart.
   */
  unlist(rel: string): void {
    if (!this.listed(rel)) return;
    this.dropFromList(rel);
    this.found.add(rel);
  }

  /** Removes a file (and its compressed siblings: the file first, so a sibling never outlives it for a reader); never through a linked folder. */
  remove(rel: string): void {
    checkFolders(path.dirname(path.join(this.dir, rel)));
    this.dropFromList(rel);
    this.found.delete(rel);
    try {
      fs.unlinkSync(path.join(this.dir, rel));
      this.stats.removed++;
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    if (this.options.precompress) for (const e of ENCODINGS) fs.rmSync(path.join(this.dir, rel + e.ext), { force: true });
  }

  /** Whether the folder's list (the manifest's files) has rel. */
  private listed(rel: string): boolean {
    return this.hashes.has(rel) || this.onDisk.has(rel);
  }

  /** Rel leaves the folder's list (and what this process knew of its bytes). */
  private dropFromList(rel: string): void {
    if (this.listed(rel)) {
      this.listDue = true;
      if (!this.changes.add.delete(rel)) this.changes.drop.add(rel);
    }
    this.hashes.delete(rel);
    this.onDisk.delete(rel);
  }

  /** Rel joins the folder's list. */
  private added(rel: string): void {
    this.listDue = true;
    if (!this.changes.drop.delete(rel)) this.changes.add.add(rel);
  }

  /** The chunks of a page with its version trailer appended (versions on, `.html` only). */
  private withVersion(rel: string, chunks: Buffer[]): Buffer[] {
    return this.options.versions && rel.endsWith('.html') ? withVersionTrailer(chunks) : chunks;
  }

  /**
   * Writes a file, atomically. With precompress its compressed siblings go first, then the file
   * (by the site writer): a reader of any one of them gets one whole version, and the siblings
   * are never newer than the file once it is in place.
   */
  private put(rel: string, chunks: readonly Buffer[]): void {
    if (this.writer) this.writer.put(path.join(this.dir, rel), chunks);
    else writeChunksAtomic(path.join(this.dir, rel), chunks);
  }

  /**
   * After a restart, a file found with the right bytes keeps its siblings only when both exist and
   * neither is newer than it (a build stopped between a sibling and its file leaves a newer one).
   */
  private checkSiblings(rel: string, chunks: readonly Buffer[]): void {
    if (!this.options.precompress) return;
    const at = (p: string): number | undefined => fs.lstatSync(path.join(this.dir, p), { throwIfNoEntry: false })?.mtimeMs;
    const file = at(rel);
    if (file === undefined) return;
    if (ENCODINGS.every((e) => { const t = at(rel + e.ext); return t !== undefined && t <= file; })) return;
    // The file is written again after its siblings, so it stays the newest of the three.
    this.put(rel, chunks);
  }

  /**
   * What was written and removed since begin(). The survey stays for files not written yet (task
   * pages a deferred build renders later are compared with the disk, not rewritten). The manifest goes down once the files are.
   */
  finish(options: { readonly manifestLater?: boolean } = {}): BuildResult {
    const { written, removed, added } = this.stats;
    const manifest = this.options.manifest === true;
    const whole = manifest && this.wholeDue;
    const all = (): string[] => [...this.hashes.keys(), ...this.onDisk];
    const files = whole ? all() : undefined;
    const changes = manifest && !whole && (this.changes.add.size > 0 || this.changes.drop.size > 0)
      ? { add: [...this.changes.add], drop: [...this.changes.drop] } : undefined;
    this.wholeDue = false;
    this.changes.add.clear();
    this.changes.drop.clear();
    // Slices of task pages (manifestLater) write it at most every MANIFEST_EVERY_MS: the result's changes tell the server meanwhile.
    const listNow = manifest && this.listDue && (!options.manifestLater || Date.now() - this.listedAt >= MANIFEST_EVERY_MS);
    const listed = listNow ? files ?? all() : undefined;
    if (listNow) {
      this.listDue = false;
      this.listedAt = Date.now();
    }
    const result: BuildResult = { written, removed, filesChanged: added > 0 || removed > 0, ...(files ? { files } : {}), ...(changes ? { changes } : {}) };
    const list = (): void => { if (listed) writeManifest(this.dir, listed); };
    if (this.writer === undefined) {
      list();
      return result;
    }
    // A file that could not be written must not be taken for right by the next build: check them all again.
    const settled = this.writer.flush().then(list).catch((err: unknown) => {
      this.reset();
      throw err;
    });
    return { ...result, settled };
  }

  private count(existed: boolean): void {
    this.stats.written++;
    if (!existed) this.stats.added++;
  }
}
