// The folder's format: Backlog.md (config.yml), taskmd (.taskmd.yaml) or ours; where its tasks are, its custom statuses, its project name.
import fs from 'node:fs';
import path from 'node:path';
import { isErrno } from '../base/errors.ts';
import { isFolder, readJsonFile } from '../base/jsonfile.ts';
import { backlogTaskPrefix, customStatuses } from './mapping.ts';
import { parseYamlMapping } from './frontmatter.ts';

export type FolderKind = 'backlog' | 'taskmd' | 'tasks';

/** What a tasks folder's config says (docs/task-format.md, "Folder formats"). */
export interface FolderFormat {
  kind: FolderKind;
  /** The folder the tasks are read from, relative to the tasks folder, `/`-separated; '' is the folder itself (taskmd's `dir:` names another). */
  root: string;
  /** The statuses the config declares, as written (Backlog.md's `statuses`), in config order. */
  statuses: string[];
  /** Those of them that are not canonical statuses or aliases, folded, in config order: known custom statuses. */
  customStatuses: string[];
  /** The project name the config gives, else null. */
  project: string | null;
  /** The folder the project lives in: where package.json and the folder name come from. */
  projectRoot: string;
  /** The config file read, if any. */
  config: string | null;
  /** Backlog.md's task prefix as ids fold it (`task_prefix`, default `task`); null for the other formats. */
  taskPrefix: string | null;
}

const BACKLOG_CONFIGS = ['config.yml', 'config.yaml'];
const TASKMD_CONFIGS = ['.taskmd.yaml', '.taskmd.yml'];
const BACKLOG_KEYS = ['project_name', 'statuses', 'default_status', 'task_prefix'];
const BACKLOG_FOLDERS = ['drafts', 'completed', 'archive', 'decisions', 'docs', 'milestones'];

/**
 * Reads the format of a tasks folder. Backlog.md: a config.yml with Backlog.md keys in the
 * folder or its parent, or a tasks/ subfolder beside drafts/, completed/, archive/, docs/,
 * decisions/ or milestones/. taskmd: a .taskmd.yaml in the folder or its parent. Else ours.
 * An unreadable config is no config.
 */
export function detectFormat(dir: string): FolderFormat {
  const abs = path.resolve(dir);
  const parent = path.dirname(abs);
  for (const where of [abs, parent]) {
    for (const name of BACKLOG_CONFIGS) {
      const config = readConfig(path.join(where, name));
      if (config === undefined || !BACKLOG_KEYS.some((k) => k in config)) continue;
      const statuses = textList(config['statuses']);
      return {
        kind: 'backlog', root: '', statuses, customStatuses: customStatuses(statuses), project: text(config['project_name']),
        projectRoot: path.dirname(where), config: path.join(where, name), taskPrefix: backlogTaskPrefix(text(config['task_prefix'])),
      };
    }
  }
  if (isFolder(path.join(abs, 'tasks')) && BACKLOG_FOLDERS.some((f) => isFolder(path.join(abs, f)))) {
    return { kind: 'backlog', root: '', statuses: [], customStatuses: [], project: null, projectRoot: parent, config: null, taskPrefix: backlogTaskPrefix(null) };
  }
  for (const where of [abs, parent]) {
    for (const name of TASKMD_CONFIGS) {
      const config = readConfig(path.join(where, name));
      if (config === undefined) continue;
      const statuses = textList(config['statuses']);
      // `dir:` names the tasks folder relative to the config; only a folder inside the one given counts.
      const sub = where === abs ? text(config['dir']) : null;
      const rel = sub === null ? '' : path.relative(abs, path.resolve(abs, sub)).split(path.sep).join('/');
      const lexical = rel.startsWith('..') || path.isAbsolute(rel) || rel.split('/').some((p) => p.startsWith('.') && p !== '') ? '' : rel;
      // A link on the way (`dir: notes` with notes -> ~/private) would lead the walk out of the folder: then the whole folder is the root.
      const root = lexical !== '' && !realInside(abs, path.join(abs, lexical)) ? '' : lexical;
      return {
        kind: 'taskmd', root, statuses, customStatuses: customStatuses(statuses),
        project: text(config['name']) ?? text(config['project']) ?? text(config['project_name']) ?? text(config['title']),
        projectRoot: where, config: path.join(where, name), taskPrefix: null,
      };
    }
  }
  return { kind: 'tasks', root: '', statuses: [], customStatuses: [], project: null, projectRoot: parent, config: null, taskPrefix: null };
}

/** A cheap fingerprint of everything detectFormat reads (a few stats): when it changes, detect again. */
export function formatSignature(dir: string): string {
  const abs = path.resolve(dir);
  const parent = path.dirname(abs);
  const files = [abs, parent].flatMap((where) => [...BACKLOG_CONFIGS, ...TASKMD_CONFIGS].map((n) => path.join(where, n)));
  const folders = ['tasks', ...BACKLOG_FOLDERS].map((f) => path.join(abs, f));
  return [...files, ...folders].map((f) => {
    const st = fs.statSync(f, { throwIfNoEntry: false });
    return st === undefined ? '-' : `${st.ino}:${st.size}:${st.mtimeMs}:${st.isDirectory() ? 'd' : 'f'}`;
  }).join('|');
}

/**
 * The project name for the dashboard's title: the config's (Backlog.md's `project_name`, else
 * .taskmd.yaml's `name`, `project`, `project_name` or `title`) as written; else package.json's
 * name in the project's folder (scope dropped), else that folder's name, capitalised.
 */
export function projectName(dir: string): string {
  const format = detectFormat(dir);
  if (format.project !== null) return format.project;
  let name = path.basename(format.projectRoot);
  const pkg = readJsonFile<{ name?: unknown }>(path.join(format.projectRoot, 'package.json'));
  if (typeof pkg?.name === 'string' && pkg.name.trim()) name = pkg.name.trim().replace(/^@[^/]+\//, '');
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/**
 * True when `sub`'s real path (links resolved) lies inside `folder`'s. A part of it that does not
 * exist yet is judged by the deepest part that does (a missing folder leads nowhere by itself).
 */
function realInside(folder: string, sub: string): boolean {
  for (let p = sub; ; p = path.dirname(p)) {
    try {
      const rel = path.relative(fs.realpathSync(folder), fs.realpathSync(p));
      return !rel.startsWith('..') && !path.isAbsolute(rel);
    } catch (err) {
      if (!isErrno(err, 'ENOENT') || path.dirname(p) === p) return false;
    }
  }
}

function readConfig(file: string): Record<string, unknown> | undefined {
  const content = readText(file);
  if (content === undefined) return undefined;
  return parseYamlMapping(content) ?? looseConfig(content);
}

/** A config YAML cannot read: its top-level `key: value` and `key: [a, b]` lines. */
function looseConfig(content: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const line of content.split(/\r?\n/)) {
    const m = /^([A-Za-z_][\w-]*):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (m === null) continue;
    const value = m[2] as string;
    const unquote = (s: string): string => s.trim().replace(/^(["'])(.*)\1$/, '$2');
    out[m[1] as string] = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1).split(',').map(unquote) : unquote(value);
  }
  return out;
}

function readText(file: string): string | undefined {
  try {
    const st = fs.statSync(file, { throwIfNoEntry: false });
    if (st === undefined || !st.isFile() || st.size > 1_000_000) return undefined;
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

function textList(value: unknown): string[] {
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [];
  return items.flatMap((v) => (typeof v === 'string' && v.trim() !== '' ? [v.trim()] : []));
}
