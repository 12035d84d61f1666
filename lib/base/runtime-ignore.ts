// Keeps the runtime folder out of git: a `.gitignore` of `*` inside <dir>/logs/task_manager/, written once, never rewritten.
import fs from 'node:fs';
import path from 'node:path';

const TEXT = '# Written by tasks: runtime state (pid files, logs, the registry, the built dashboard), never committed.\n*\n';

/**
 * Writes `<stateDir>/.gitignore` (`*`) unless one is there, so `git status` in the operator's
 * repository never lists runtime files, whatever their own ignore rules say. An operator's own
 * file is left as it is. Best effort: a folder that is missing or not writable is tried again at
 * the next start.
 */
export function ignoreRuntimeFolder(stateDir: string): void {
  try {
    fs.writeFileSync(path.join(stateDir, '.gitignore'), TEXT, { flag: 'wx' });
  } catch {
    // EEXIST (already there: never rewritten), ENOENT, EACCES, ENOSPC: nothing to do now.
  }
}
