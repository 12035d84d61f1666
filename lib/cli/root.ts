// Which repository an installed `tasks` command serves: the one it is typed in, found by walking up for .git (no git run), and its default tasks folder there.
import fs from 'node:fs';
import path from 'node:path';
import { isErrno } from '../base/errors.ts';
import { isFolder } from '../base/jsonfile.ts';

/** The files that make a folder Backlog.md's (as lib/tasks/format.ts reads them). */
const BACKLOG_CONFIGS = ['config.yml', 'config.yaml'];

/**
 * The top level of the git repository that holds `from` (the nearest folder upward with a .git
 * folder or file, as a worktree has), else `from` itself. Only names are looked at: no git runs,
 * so a crafted repository or a slow git cannot hold the command up.
 */
export function findHostRoot(from: string): string {
  const start = path.resolve(from);
  for (let at = start; ; at = path.dirname(at)) {
    if (exists(path.join(at, '.git'))) return at;
    if (path.dirname(at) === at) return start;
  }
}

/**
 * The folder `dir=` names when it is not given: <root>/tasks, or <root>/backlog when there is no
 * tasks/ but a Backlog.md folder (one with its config.yml). When neither exists, <root>/tasks, so
 * the usage error names the folder to create.
 */
export function defaultTasksDir(root: string): string {
  const tasks = path.join(root, 'tasks');
  if (isFolder(tasks)) return tasks;
  const backlog = path.join(root, 'backlog');
  if (isFolder(backlog) && BACKLOG_CONFIGS.some((name) => exists(path.join(backlog, name)))) return backlog;
  return tasks;
}

/** True when something is at p (a link counts as itself: it is not followed). */
function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR') || isErrno(err, 'EACCES')) return false;
    throw err;
  }
}
