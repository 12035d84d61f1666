// Finding the task an operator names with id=: by id or file name (slug), in the files and the registry.
import { usageError } from '../base/errors.ts';
import { runtimePaths } from '../base/paths.ts';
import { type Claim, type Released, peekRegistry } from '../manager/registry.ts';
import { TaskScanner } from '../tasks/scan.ts';
import { taskIndex } from '../tasks/model.ts';
import type { Task } from '../tasks/taskfile.ts';

/** The task behind an id= word: what the files and the registry know of it. */
export interface TaskRef {
  readonly id: string;
  readonly slug: string;
  /** The task's file relative to the tasks folder, when a file holds it now. */
  readonly path: string | undefined;
  /** Its current claim, if any, and the registry key it sits under. */
  readonly claim: { readonly key: string; readonly claim: Claim } | undefined;
  /** Its last released claim, if any (newest first). */
  readonly released: Released | undefined;
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/**
 * Resolves id= to one task: exact id or slug first, then the same case-insensitively, then the
 * way dependencies resolve (across prefixes and leading zeros: `24.1` names BACK-24.1). An active
 * task wins over an archived one with the same id. An id that names nothing is a usage error
 * (exit 2) that says where the known ids are.
 */
export function findTask(dir: string, owner: string, word: string): TaskRef {
  const reg = peekRegistry(runtimePaths(dir, owner).registry);
  const scanned = new TaskScanner(dir, { keepBody: false }).scan().tasks;
  const tasks = [...scanned.filter((t) => !t.archived), ...scanned.filter((t) => t.archived)];
  const lookup = (match: (a: string) => boolean, known?: Task): TaskRef | undefined => {
    const task = known ?? tasks.find((t) => match(t.id)) ?? tasks.find((t) => match(t.slug));
    const key = Object.keys(reg?.claims ?? {}).find((k) => {
      const c = reg?.claims[k];
      return c !== undefined && (match(c.id) || match(c.slug) || (task !== undefined && (c.id === task.id || c.slug === task.slug)));
    });
    const claim = key === undefined ? undefined : reg?.claims[key];
    const released = [...(reg?.history ?? [])].reverse().find((h) => match(h.id) || match(h.slug) || (task !== undefined && h.id === task.id));
    const id = task?.id ?? claim?.id ?? released?.id;
    const slug = task?.slug ?? claim?.slug ?? released?.slug;
    return id !== undefined && slug !== undefined ? { id, slug, path: task?.path, claim: key !== undefined && claim ? { key, claim } : undefined, released } : undefined;
  };
  const found = lookup((a) => a === word) ?? lookup((a) => same(a, word));
  if (found) return found;
  const task = taskIndex(tasks).resolve(word);
  const resolved = task && lookup((a) => a === task.id, task);
  if (resolved) return resolved;
  throw usageError(`unknown task \`${word}\`: no task file, claim or released claim has that id or file name; see the tasks with: just tasks status`);
}
