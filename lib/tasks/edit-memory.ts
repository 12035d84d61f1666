// The texts of recent versions, so a conflict can say what changed since the caller's version: in memory, and on disk for versions an edit wrote.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../base/atomic.ts';
import { readTextFile } from '../base/jsonfile.ts';
import { ignoreRuntimeFolder } from '../base/runtime-ignore.ts';

/** How many written versions are kept on disk per tasks folder (each a copy of one task file). */
const KEEP_ON_DISK = 64;
const KEEP_IN_MEMORY = 256;

const memory = new Map<string, string>();

/** Where written versions are kept: runtime state, never a task file. */
function folderOf(dir: string): string {
  return path.join(dir, 'logs', 'task_manager', 'edit-versions');
}

/** Remembers a version's text in this process (every read and write hands one out). */
export function remember(version: string, text: string): void {
  memory.delete(version);
  memory.set(version, text);
  if (memory.size > KEEP_IN_MEMORY) memory.delete(memory.keys().next().value as string);
}

/**
 * Keeps a version an edit wrote on disk too: the next command line (another process) that is
 * handed it back stale can still name what changed. Best effort: a failure only costs that detail.
 */
export function keepWritten(dir: string, version: string, text: string): void {
  remember(version, text);
  try {
    const folder = folderOf(dir);
    writeFileAtomic(path.join(folder, version), text, 3);
    // The runtime folder may be new (no heartbeat has ticked here): keep it out of the operator's git status.
    ignoreRuntimeFolder(path.dirname(folder));
    const names = fs.readdirSync(folder).filter((n) => /^[0-9a-f]{16}$/.test(n));
    // Pruned in batches: the mtimes are read once every KEEP_ON_DISK writes, not at each.
    if (names.length <= 2 * KEEP_ON_DISK) return;
    const aged = names.map((n) => ({ n, t: fs.lstatSync(path.join(folder, n)).mtimeMs })).sort((a, b) => a.t - b.t);
    for (const { n } of aged.slice(0, names.length - KEEP_ON_DISK)) fs.rmSync(path.join(folder, n), { force: true });
  } catch {
    // Runtime folder unwritable or a link (refused by writeFileAtomic): conflicts then say less.
  }
}

/** The text of a version handed out before, if this process or an edit on disk still has it. */
export function recall(dir: string, version: string): string | undefined {
  if (!/^[0-9a-f]{16}$/.test(version)) return undefined;
  const known = memory.get(version);
  if (known !== undefined) return known;
  try {
    return readTextFile(path.join(folderOf(dir), version));
  } catch {
    return undefined;
  }
}
