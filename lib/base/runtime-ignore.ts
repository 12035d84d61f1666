// Keeps the runtime folder out of git: a `.gitignore` of `*` inside <dir>/logs/task_manager/, written once, never rewritten.
import fs from 'node:fs';
import path from 'node:path';
import { isErrno } from './errors.ts';

const TEXT = '# Written by tasks: runtime state (pid files, logs, the registry, the built dashboard), never committed.\n*\n';

/**
 * Writes `<stateDir>/.gitignore` (`*`) unless one is there, so `git status` in the operator's
 * repository never lists runtime files, whatever their own ignore rules say. An operator's own
 * file is left as it is. Best effort: a folder that is missing or not writable is tried again at
 * the next start.
 */
export function ignoreRuntimeFolder(stateDir: string): void {
  try {
    // 'wx' (O_EXCL) never follows a link planted under the name, nor writes over a file there.
    fs.writeFileSync(path.join(stateDir, '.gitignore'), TEXT, { flag: 'wx' });
  } catch (err) {
    // EEXIST (already there, or a link: never rewritten), ENOENT, EACCES, EROFS, ENOSPC: nothing to do now.
    if (!['EEXIST', 'ENOENT', 'EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'EIO', 'ENOTDIR'].some((code) => isErrno(err, code))) throw err;
  }
}
