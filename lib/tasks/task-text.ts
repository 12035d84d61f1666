// Task text kept aside: a scan that keeps none (the dashboard's build thread) keeps a digest of each body instead, and reads the file again when the text is wanted.
import path from 'node:path';
import { sha1Digest } from '../base/digest.ts';
import type { FolderFormat } from './format.ts';
import type { Entry, Task } from './taskfile.ts';
import { readEntry } from './task-read.ts';
import { NO_FIELDS, NO_SECTIONS, own } from './shared-values.ts';

/** The digest of each body dropped, by its task object. */
const TEXT_KEYS = new WeakMap<Task, string>();

/**
 * A digest of the body a scan that keeps no task text dropped: a re-read file whose text changed
 * differs here. Undefined when the task has its body.
 */
export function textKeyOf(task: Task): string | undefined {
  return TEXT_KEYS.get(task);
}

/**
 * The task without body, sections or fields, its body's digest kept beside it, not on it: a
 * property the parsed task does not have gives each task object a shape of its own (+900 bytes a
 * task, 45 MB at 50,000, more than the bodies it replaces).
 */
export function withoutTextKeyed(task: Task): Task {
  // Its fields are text too (withTextOf reads them again). What it keeps is copied out of the text it drops (the pooled values are copies already).
  const slim: Task = {
    ...task, id: own(task.id), title: own(task.title), created: own(task.created), updated: own(task.updated), parent: own(task.parent),
    completed: own(task.completed), dependsOn: task.dependsOn.length === 0 ? task.dependsOn : task.dependsOn.map(own), pr: own(task.pr),
    fields: NO_FIELDS, body: '', sections: NO_SECTIONS,
  };
  TEXT_KEYS.set(slim, sha1Digest(task.body, 'base64url'));
  return slim;
}

/**
 * The task with its body as the file holds it now, for a task kept without its text; the task
 * itself otherwise. The file is read again the way a scan reads it (capped, no link followed); one
 * that is gone or is no longer a task gives an empty body. `current` is false when that body is not
 * the one the scan saw (the file changed since, or is being written): what is rendered from it must
 * be rendered again at the next build, which the file's change brings.
 */
export function withTextOf(dir: string, format: Pick<FolderFormat, 'statuses' | 'taskPrefix'>, task: Task): { task: Task; current: boolean } {
  const key = TEXT_KEYS.get(task);
  if (key === undefined) return { task, current: true };
  let read: Entry | undefined;
  try {
    read = readEntry(path.join(dir, ...task.path.split('/')), task.path, format);
  } catch {
    read = undefined;
  }
  const again = read?.kind === 'task' && read.result.ok ? read.result.task : undefined;
  const body = again?.body ?? '';
  const text: Task = { ...task, fields: again?.fields ?? {}, body, ...(again?.omittedBytes === undefined ? {} : { omittedBytes: again.omittedBytes }) };
  return { task: text, current: again !== undefined && sha1Digest(body, 'base64url') === key };
}
