// What the edit core takes and gives: the request, the result, a file's version, and the two refusals (a refusal, a conflict).
import crypto from 'node:crypto';
import { quoteText } from '../base/controls.ts';
import { TasksError } from '../base/errors.ts';
import type { Task } from './taskfile.ts';

/** A file's version: the first 16 hex digits of the SHA-256 of its bytes. */
export function versionOf(bytes: Buffer | string): string {
  return crypto.createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

/** What an edit asks for; every part optional, at least one of status/fields/note/check. */
export interface EditRequest {
  /** Canonical (in_progress) or the folder's own word (In Progress); written in the folder's own word. */
  status?: string;
  /** Frontmatter keys set (null removes the key); never id. */
  fields?: Record<string, string | string[] | null>;
  /** Appends one dated line ("- 2026-12-07 10:03 text") to the notes/progress section. */
  note?: string;
  /** Ticks a plan checkbox: its 1-based number among the plan's checkboxes, or its text (exact, else a unique substring). */
  check?: number | string;
  /** The version the caller read; if the file changed since: EditConflict, nothing written. */
  version?: string;
}

export interface EditResult {
  id: string;
  /** Path relative to the tasks folder. */
  path: string;
  /** Version before and after (equal when nothing changed: an edit that changes nothing writes nothing). */
  before: string;
  version: string;
  /** What changed, in words, plain (no shell quotes): ["status: ready → In Progress", "note", "check 2: run the tests"]. */
  changed: string[];
}

/** One task read for editing: the parsed task, its bytes' version, and its path. */
export interface TaskRead { task: Task; version: string; path: string; text: string }

/** The task cannot be edited safely, or the request names nothing it can do: one line naming the fix (the CLI's exit 2 for an unknown or ambiguous id). */
export class EditRefused extends TasksError {
  constructor(message: string, exitCode: 1 | 2 = 1) {
    super(message, exitCode);
    this.name = 'EditRefused';
  }
}

/** The file changed since the version the caller read: nothing was written. */
export class EditConflict extends TasksError {
  constructor(readonly id: string, readonly asked: string, readonly current: string, readonly changes: string[]) {
    super(`${quoteText(id)} changed since version ${asked} (${changes.join(', ')}); it is now version ${current}: read it again and retry`);
    this.name = 'EditConflict';
  }
}
