// Folder watches (one fs.watch per folder) that report which files changed.
import fs from 'node:fs';
import path from 'node:path';
import { isErrno } from './errors.ts';

/** What changed under a tasks folder: a task file (relative path), a folder, or a file of the state folder. */
export type WatchEvent =
  | { readonly kind: 'task'; readonly rel: string }
  | { readonly kind: 'folder' }
  | { readonly kind: 'state'; readonly name: string };

/**
 * One fs.watch per task folder (not Node's recursive watch, which puts an inotify watch on every
 * file): 10,000 tasks in 100 folders cost ~100 watches, not ~20,000. `logs/` and hidden folders
 * are skipped; the state folder, when given, is watched for its own files. take() hands over the
 * task files named since the last call, or says "walk everything" after a folder event.
 */
export class FolderWatcher {
  private readonly watchers = new Map<string, fs.FSWatcher>();
  /** Task files named since the last take(); undefined: a folder changed, walk everything. */
  private pending: Set<string> | undefined;

  constructor(
    private readonly dir: string,
    private readonly stateDir: string | undefined,
    private readonly onEvent: (event: WatchEvent) => void,
    private readonly onError: (err: Error) => void,
  ) {}

  /**
   * The task files (relative paths) named since the last call, or undefined when the caller must
   * walk the whole folder (a folder event, a watch error, never synced, or forceWalk); the
   * watchers are re-armed then.
   */
  take(forceWalk = false): string[] | undefined {
    if (this.pending === undefined || forceWalk) {
      this.sync();
      return undefined;
    }
    const files = [...this.pending];
    this.pending = new Set();
    return files;
  }

  /** (Re)arms watchers for every folder under dir; events from here on are collected for take(). */
  sync(): void {
    this.pending = new Set();
    const folders = new Set<string>([this.dir]);
    const walk = (folder: string): void => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(folder, { withFileTypes: true });
      } catch (err) {
        if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR') || isErrno(err, 'EACCES')) return;
        throw err;
      }
      for (const e of entries) {
        if (!e.isDirectory() || e.name.startsWith('.') || (folder === this.dir && e.name === 'logs')) continue;
        const sub = path.join(folder, e.name);
        folders.add(sub);
        walk(sub);
      }
    };
    walk(this.dir);
    if (this.stateDir && fs.existsSync(this.stateDir)) folders.add(this.stateDir);
    for (const [folder, w] of this.watchers) {
      if (!folders.has(folder)) {
        w.close();
        this.watchers.delete(folder);
      }
    }
    for (const folder of folders) {
      if (this.watchers.has(folder)) continue;
      try {
        const w = fs.watch(folder, (_event, name) => this.dispatch(folder, name === null ? null : String(name)));
        w.on('error', (err) => {
          this.watchers.delete(folder);
          w.close();
          if (!isErrno(err, 'ENOENT') && !isErrno(err, 'EPERM')) this.onError(err);
          this.folderChanged();
        });
        this.watchers.set(folder, w);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
    }
  }

  /** Stops every watcher. */
  close(): void {
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  private dispatch(folder: string, name: string | null): void {
    if (folder === this.stateDir) {
      if (name !== null) this.onEvent({ kind: 'state', name });
      return;
    }
    if (name === null) return this.folderChanged();
    if (name.startsWith('.')) return;
    const rel = path.relative(this.dir, path.join(folder, name));
    if (rel.endsWith('.md')) {
      this.pending?.add(rel);
      this.onEvent({ kind: 'task', rel });
    } else if (path.extname(rel) === '') {
      this.folderChanged();
    }
  }

  private folderChanged(): void {
    this.pending = undefined;
    this.onEvent({ kind: 'folder' });
  }
}
