// The edit core (issue 18): read a task with its version, change exactly what is named, under a per-file lock, atomically, never over a newer save.
import fs from 'node:fs';
import path from 'node:path';
import { quoteText } from '../base/controls.ts';
import { TasksError } from '../base/errors.ts';
import { findCandidate } from './find.ts';
import { acquireLock } from '../supervise/lock.ts';
import { ApplyProblem, applyChange, describeChanges, openText } from './edit-apply.ts';
import { readNoFollow, whyNotFound, writeKeepingMode } from './edit-file.ts';
import { EditConflict, EditRefused, type EditRequest, type EditResult, type TaskRead, versionOf } from './edit-types.ts';
import { keepWritten, recall, remember } from './edit-memory.ts';
import { type FolderFormat, detectFormat } from './format.ts';
import { type Task, parseTaskFile } from './taskfile.ts';

export { createTask } from './edit-new.ts';
export { EditConflict, EditRefused, type EditRequest, type EditResult, type TaskRead, versionOf } from './edit-types.ts';

/** The task `ref` names (as id= resolves it), its file relative to `dir`; an unknown or ambiguous ref is refused (exit 2). */
function resolve(dir: string, ref: string): { id: string; rel: string } {
  let found;
  try {
    found = findCandidate(dir, ref);
  } catch (err) {
    if (!(err instanceof TasksError)) throw err;
    // A file by that name that is no task (no frontmatter, bad YAML, a link) is said as such, not as an unknown id.
    const why = whyNotFound(dir, ref);
    throw why === undefined ? new EditRefused(err.message, 2) : new EditRefused(why);
  }
  if (found.task === undefined) throw new EditRefused(`${quoteText(ref)} has no task file to edit`, 2);
  return { id: found.id, rel: found.task.path };
}

/** The file's text (BOM kept) read without following links, or a refusal naming why. */
function readText(dir: string, rel: string): { text: string; bytes: Buffer; mode: number } {
  const got = readNoFollow(dir, rel);
  if (typeof got === 'string') throw new EditRefused(`${quoteText(rel)} ${got}`);
  if (got.bytes.includes(0)) throw new EditRefused(`${quoteText(rel)} is not a text file; it cannot be edited`);
  const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(got.bytes);
  return { text, bytes: got.bytes, mode: got.mode };
}

function parseOptions(dir: string): { statuses: string[]; taskPrefix: string | null } {
  const format = detectFormat(dir);
  return { statuses: format.statuses, taskPrefix: format.kind === 'backlog' ? format.taskPrefix : null };
}

/** Reads one task for editing: its parsed form, its version and its text. Refuses a file that could not be edited safely. */
export async function readForEdit(dir: string, ref: string): Promise<TaskRead> {
  const { rel } = resolve(dir, ref);
  const { text, bytes } = readText(dir, rel);
  try {
    openText(text);
  } catch (err) {
    if (err instanceof ApplyProblem) throw new EditRefused(`${quoteText(rel)}: ${err.message}`);
    throw err;
  }
  const parsed = parseTaskFile(bytes, rel, parseOptions(dir));
  if (!parsed.ok) throw new EditRefused(`${quoteText(rel)}: ${parsed.reason}`);
  const version = versionOf(bytes);
  remember(version, text);
  return { task: parsed.task, version, path: rel, text };
}

/**
 * Edits one task: under the file's lock, re-reads it, compares with `req.version`, applies the
 * change, writes atomically (keeping the mode) and checks once more that nobody saved meanwhile.
 */
export async function editTask(dir: string, ref: string, req: EditRequest, o: { now?: () => Date } = {}): Promise<EditResult> {
  const asks = req.status !== undefined || req.fields !== undefined || req.note !== undefined || req.check !== undefined;
  if (!asks) throw new EditRefused('nothing to change: give a status, fields, a note or a check', 2);
  const abs = path.resolve(dir);
  const { id, rel } = resolve(abs, ref);
  const format = detectFormat(abs);
  const name = `task-edit:${fs.realpathSync(abs)}/${rel}`;
  const now = (o.now ?? (() => new Date()))();
  return serially(name, async () => {
    const held = await acquireLock(name);
    try {
      return editLocked(abs, id, rel, req, format, now);
    } finally {
      held.release();
    }
  });
}

/** The edit itself, under the file's lock: re-read, compare with the version asked, apply, write. */
function editLocked(abs: string, id: string, rel: string, req: EditRequest, format: FolderFormat, now: Date): EditResult {
  const { text, bytes, mode } = readText(abs, rel);
  const before = versionOf(bytes);
  if (req.version !== undefined && req.version !== before) {
    const old = recall(abs, req.version);
    throw new EditConflict(id, req.version, before, old === undefined ? ['the file was saved since'] : describeChanges(old, text));
  }
  let next: { text: string; changed: string[] };
  try {
    next = applyChange(text, req, format, now);
  } catch (err) {
    if (err instanceof ApplyProblem) throw err.usage ? new EditRefused(err.message, 2) : new EditRefused(`${quoteText(rel)}: ${err.message}`);
    throw err;
  }
  if (next.changed.length === 0 || next.text === text) {
    remember(before, text);
    return { id, path: rel, before, version: before, changed: [] };
  }
  const data = Buffer.from(next.text);
  // An editor that is not ours saves without our lock: the file is read once more just before the rename.
  writeKeepingMode(path.join(abs, rel), data, mode, () => {
    const again = readText(abs, rel);
    const v = versionOf(again.bytes);
    if (v !== before) throw new EditConflict(id, req.version ?? before, v, describeChanges(text, again.text));
  });
  const version = versionOf(data);
  keepWritten(abs, version, next.text);
  return { id, path: rel, before, version, changed: next.changed };
}

/** This process's edits of one file, one after another: the process lock is then taken by one waiter at a time, not polled by each. */
const queues = new Map<string, Promise<unknown>>();
export function serially<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const previous = queues.get(name) ?? Promise.resolve();
  const next = previous.then(fn, fn);
  const settled = next.then(() => undefined, () => undefined);
  queues.set(name, settled);
  void settled.then(() => { if (queues.get(name) === settled) queues.delete(name); });
  return next;
}
