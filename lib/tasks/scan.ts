// The incremental scanner: walks the tasks folder, re-parses only changed files.
import fs from 'node:fs';
import path from 'node:path';
import { isErrno } from '../base/errors.ts';
import { nonUtf8Entries } from './filenames.ts';
import { idKey } from './ids.ts';
import { type FolderFormat, detectFormat, formatSignature } from './format.ts';
import type { DocFile, Entry, ParseError, Task } from './taskfile.ts';
import { type Capped, errorText, parseCapped, readCapped, readEntry } from './task-read.ts';
import { withTextOf, withoutTextKeyed } from './task-text.ts';

/** One scan of a tasks folder: tasks, docs and parse errors sorted by path, and what was (re)read. */
export interface ScanResult {
  /** Every task, archived ones too (`archived: true`); ids are unique among the active ones. */
  tasks: Task[];
  /** Docs, decisions and milestones: never tasks, never counted or dispatched. */
  docs: DocFile[];
  errors: ParseError[];
  /** The folder's format: Backlog.md, taskmd or ours, its custom statuses and where its tasks are read from. */
  format: FolderFormat;
  read: number;
  reused: number;
  files: number;
  /** False when no file was (re)read and none disappeared: callers may reuse what they derived last time. */
  changed: boolean;
}

export interface ScanOptions {
  /** Keep bodies and sections (the dashboard needs them; the heartbeat does not, and saves memory). */
  readonly keepBody?: boolean;
  /**
   * Keep sections (default: as keepBody). The dashboard's build renders the body and never reads
   * the sections, a second copy of its text (50 MB at 50,000 tasks); /api/tasks/<id> reads its file again.
   */
  readonly keepSections?: boolean;
  /**
   * Tasks keep neither body, sections nor raw fields, only a digest of the body (task-text.ts textKeyOf), and withText
   * reads them again when they are wanted (a page rendered, a search shard written): the dashboard's
   * build thread, which at 50,000 tasks held 110 MB of task text. Docs keep their bodies.
   */
  readonly bodyKeys?: boolean;
}

interface CacheEntry { mtimeMs: number; size: number; ino: number; entry: Entry }

/**
 * Scans the `.md` task files under a folder, re-reading only files whose mtime, size or inode
 * changed since the previous scan. Skips the top-level `logs/`, hidden entries and symlinks.
 */
export class TaskScanner {
  private readonly dir: string;
  private cache = new Map<string, CacheEntry>();
  /** What lean() keeps of each file read. */
  private readonly keep: { readonly keepBody: boolean; readonly keepSections: boolean; readonly bodyKeys: boolean };
  private walkErrors: ParseError[] = [];
  private format: FolderFormat;
  private signature: string;

  constructor(dir: string, options: ScanOptions = {}) {
    this.dir = path.resolve(dir);
    const keepBody = options.keepBody ?? true;
    this.keep = { keepBody, keepSections: keepBody && (options.keepSections ?? true), bodyKeys: options.bodyKeys ?? false };
    this.signature = quietly(() => formatSignature(this.dir), '');
    this.format = readFormat(this.dir);
  }

  /**
   * Re-reads only the given files (paths relative to the folder, as fs.watch reports them) and
   * answers from the cache for the rest: a watched change costs one file, not a walk. Anything
   * that is not a plain task file path falls back to a full scan.
   */
  rescan(relPaths: readonly string[]): ScanResult {
    const counts = { read: 0, reused: 0 };
    let removed = false;
    const root = this.format.root;
    for (const raw of relPaths) {
      const rel = raw.split(path.sep).join('/');
      const parts = rel.split('/');
      // A name that is not UTF-8 reaches us mangled (U+FFFD): only a walk reads it as it is.
      if (!rel.endsWith('.md') || rel.includes('\ufffd') || parts[0] === 'logs' || parts.some((p) => p.startsWith('.') || p === '' || p === '..')) return this.scan();
      if (root !== '' && !rel.startsWith(`${root}/`)) return this.scan();
      const before = this.cache.get(rel);
      const entry = this.load(rel, path.join(this.dir, rel), this.cache, counts);
      if (entry === null) removed = this.cache.delete(rel) || removed;
      else if (entry.kind === 'task' && !entry.result.ok && this.cache.get(rel) === before) return this.scan(); // a read error is not cached: let the walk report it
    }
    const entries = [...this.cache.values()].map((e) => e.entry);
    return { ...collect(entries, this.walkErrors, counts.read, this.cache.size - counts.read, this.format), changed: counts.read > 0 || removed };
  }

  /** Walks the folder once; a file or folder that cannot be read becomes a parse error. */
  scan(): ScanResult {
    // The config decides the custom statuses and where tasks are read from: when it changed, every file is read again.
    let formatChanged = false;
    const signature = quietly(() => formatSignature(this.dir), '');
    if (signature !== this.signature) {
      const format = readFormat(this.dir);
      formatChanged = JSON.stringify(format) !== JSON.stringify(this.format);
      if (formatChanged) this.cache.clear();
      this.format = format;
      this.signature = signature;
    }
    const next = new Map<string, CacheEntry>();
    const entries: Entry[] = [];
    const walkErrors: ParseError[] = [];
    const counts = { read: 0, reused: 0 };

    const visit = (rel: string, abs: string): void => {
      let dirents: fs.Dirent[];
      try {
        dirents = fs.readdirSync(abs, { withFileTypes: true });
      } catch (err) {
        walkErrors.push({ path: rel === '' ? '.' : `${rel}/`, reason: `cannot read folder: ${errorText(err)}` });
        return;
      }
      let mangled = false;
      const take = (name: string, dirent: fs.Dirent | fs.Dirent<Buffer>): void => {
        const relPath = rel === '' ? name : `${rel}/${name}`;
        if (dirent.isDirectory()) {
          if (rel === '' && name === 'logs') return;
          visit(relPath, abs + path.sep + name);
        } else if (dirent.isFile() && name.endsWith('.md')) {
          const entry = this.load(relPath, abs + path.sep + name, next, counts);
          if (entry !== null) entries.push(entry);
        }
        // Symlinks, FIFOs, sockets and devices are skipped without being opened.
      };
      for (const dirent of dirents) {
        const name = dirent.name;
        // Hidden entries are tool state (.git, .worktrees, taskmd's .worklogs) or editor litter (._x.md, .#x.md).
        if (name.startsWith('.')) continue;
        // readdir decodes a name that is not UTF-8 with U+FFFD: that name opens nothing, so such names are read again as bytes.
        if (name.includes('\ufffd')) mangled = true;
        else take(name, dirent);
      }
      if (!mangled) return;
      try {
        const raw = nonUtf8Entries(rel, abs);
        for (const { name, dirent } of raw.entries) take(name, dirent);
        walkErrors.push(...raw.errors);
      } catch (err) {
        walkErrors.push({ path: rel === '' ? '.' : `${rel}/`, reason: `cannot read folder: ${errorText(err)}` });
      }
    };
    const root = this.format.root;
    visit(root, root === '' ? this.dir : path.join(this.dir, ...root.split('/')));
    const changed = formatChanged || counts.read > 0 || next.size !== this.cache.size || walkErrors.length > 0;
    this.cache = next;
    this.walkErrors = walkErrors;
    return { ...collect(entries, walkErrors, counts.read, counts.reused, this.format), changed };
  }

  /** The task with its text (task-text.ts): for a task this scanner keeps only the key of (bodyKeys), read again from its file. */
  withText(task: Task): { task: Task; current: boolean } {
    return withTextOf(this.dir, this.format, task);
  }

  /** What one file holds, from the cache when its stat did not change; null if no longer a file. */
  private load(relPath: string, abs: string, next: Map<string, CacheEntry>, counts: { read: number; reused: number }): Entry | null {
    const cached = this.cache.get(relPath);
    // A file never read is opened at once: its stat comes from the descriptor (no lstat first: at 50,000 files that was 0.4 s of a cold scan).
    if (cached === undefined) return this.loadNew(relPath, abs, next, counts);
    let st: fs.Stats | undefined;
    try {
      // throwIfNoEntry: false is ~35% faster on Node 20 (no error object built), and this stat is the warm tick's cost.
      st = fs.lstatSync(abs, { throwIfNoEntry: false });
    } catch (err) {
      counts.read++;
      return { kind: 'task', result: { ok: false, path: relPath, reason: `cannot read file: ${errorText(err)}` } };
    }
    if (st === undefined || !st.isFile()) return null; // removed or replaced since readdir
    if (cached.mtimeMs === st.mtimeMs && cached.size === st.size && cached.ino === st.ino) {
      next.set(relPath, cached);
      counts.reused++;
      return cached.entry;
    }
    counts.read++;
    let read: Entry;
    try {
      read = readEntry(abs, relPath, this.format);
    } catch (err) {
      // Not cached, so the next scan tries again (permissions fixed, file back).
      return { kind: 'task', result: { ok: false, path: relPath, reason: `cannot read file: ${errorText(err)}` } };
    }
    const entry = lean(read, this.keep);
    next.set(relPath, { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino, entry });
    return entry;
  }

  /** A file not in the cache: opened without following a link, cached with the stat of what was read; null when it is no longer a regular file (gone, a link, a FIFO), as the walk skips those. */
  private loadNew(relPath: string, abs: string, next: Map<string, CacheEntry>, counts: { read: number; reused: number }): Entry | null {
    let content: Capped | undefined;
    try {
      content = readCapped(abs);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR') || isErrno(err, 'ELOOP')) return null;
      counts.read++;
      // Not cached, so the next scan tries again (permissions fixed, file back).
      return { kind: 'task', result: { ok: false, path: relPath, reason: `cannot read file: ${errorText(err)}` } };
    }
    if (content === undefined) return null;
    counts.read++;
    const { st } = content;
    const entry = lean(parseCapped(content, relPath, this.format), this.keep);
    next.set(relPath, { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino, entry });
    return entry;
  }
}

/**
 * Without bodies and sections when they are not wanted (the heartbeat's scan keeps less in memory),
 * or without sections only, or with a digest of each task's body instead of it (the dashboard's).
 */
function lean(entry: Entry, { keepBody, keepSections, bodyKeys }: { keepBody: boolean; keepSections: boolean; bodyKeys: boolean }): Entry {
  if (bodyKeys && entry.kind === 'task' && entry.result.ok) return { kind: 'task', result: { ok: true, task: withoutTextKeyed(entry.result.task) } };
  if (keepBody && keepSections) return entry;
  if (entry.kind === 'task' && entry.result.ok) return { kind: 'task', result: { ok: true, task: { ...entry.result.task, body: keepBody ? entry.result.task.body : '', sections: [] } } };
  if (entry.kind === 'doc' && !keepBody) return { kind: 'doc', doc: { ...entry.doc, body: '' } };
  return entry;
}

/** The folder's format; one that cannot be read (a folder it may not look into) is ours. */
function readFormat(dir: string): FolderFormat {
  return quietly(() => detectFormat(dir), { kind: 'tasks', root: '', statuses: [], customStatuses: [], project: null, projectRoot: path.dirname(dir), config: null, taskPrefix: null });
}

function quietly<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

/**
 * Sorts by path and turns the second and later active files claiming an id into parse errors. An
 * archived task may share its id with an active one or another archived one: that is history, not a clash.
 */
function collect(entries: Entry[], walkErrors: ParseError[], read: number, reused: number, format: FolderFormat): Omit<ScanResult, 'changed'> {
  const byPath = (a: { path: string }, b: { path: string }): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  const found: Task[] = [];
  const docs: DocFile[] = [];
  const errors: ParseError[] = [...walkErrors];
  for (const e of entries) {
    if (e.kind === 'doc') docs.push(e.doc);
    else if (e.kind === 'task') {
      if (e.result.ok) found.push(e.result.task);
      else errors.push({ path: e.result.path, reason: e.result.reason });
    }
  }
  found.sort(byPath);
  const tasks: Task[] = [];
  const owners = new Map<string, string>();
  const slugs = new Map<string, string>();
  for (const t of found) {
    if (!t.archived) {
      // NFC: café typed two ways is one id (idKey).
      const first = owners.get(idKey(t.id));
      if (first !== undefined) {
        errors.push({ path: t.path, reason: `duplicate id ${t.id} (also in ${first})` });
        continue;
      }
      // The file name names the task's worktree, branch and run log: two active tasks must never share them.
      const sameName = slugs.get(t.slug);
      if (sameName !== undefined) {
        errors.push({ path: t.path, reason: `duplicate file name ${t.slug}.md (also in ${sameName}): it names the task's worktree, branch and run log; rename one` });
        continue;
      }
      owners.set(idKey(t.id), t.path);
      slugs.set(t.slug, t.path);
    }
    tasks.push(t);
  }
  errors.sort(byPath);
  return { tasks, docs: docs.sort(byPath), errors, format, read, reused, files: entries.length };
}
