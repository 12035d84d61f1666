// What the pages read from a snapshot beyond tick.ts's fields (worktree facts, dispatchable, gh CI), tolerant of snapshots without them.
import { topFields } from '../../base/json-fields.ts';
import { readStateWith } from '../../base/jsonfile.ts';
import type { Snapshot, SnapshotClaim, SnapshotReady } from '../../manager/tick.ts';
import type { CiState, Task } from '../../tasks/taskfile.ts';

/**
 * A claim's worktree facts. Each one is unknown (undefined) in a snapshot written before the
 * heartbeat reported it, so the pages never guess: unknown shows as nothing, not as "missing".
 */
export interface WorktreeFacts {
  /** False when worktrees are off or the tasks folder is not in git: no worktree is missing then. */
  readonly worktreeExpected?: boolean;
  readonly branch?: string | null;
  readonly dirtyFiles?: number | null;
  readonly ahead?: number | null;
  readonly base?: string | null;
}

/** A claim as the pages read it. */
export type WebClaim = SnapshotClaim & WorktreeFacts;

/** The CI state the heartbeat got from `gh`, by task id. */
export interface CiCheck { readonly state?: unknown; readonly checkedAt?: unknown }

/** A snapshot as the pages read it: `dispatchable` (else `ready`) and `ci` may be absent. */
export type WebSnapshot = Omit<Snapshot, 'claims'> & {
  claims: WebClaim[];
  dispatchable?: SnapshotReady[];
  ci?: Record<string, CiCheck>;
  /** Why nothing dispatches, in one line (a folder without a ready status, say); absent from older heartbeats. */
  dispatchNote?: unknown;
};

/** A task an operator released, held back from dispatch until `retry`: who released it and when. */
export interface WebHold { readonly id: string; readonly since: string; readonly by: string }

/** The tasks the heartbeat will dispatch, best first: `dispatchable`, else `ready` (its older name). */
export function dispatchableOf(s: WebSnapshot): readonly SnapshotReady[] {
  const list = s.dispatchable ?? s.ready;
  return Array.isArray(list) ? list : [];
}

/** The snapshot's holds, oldest first, keeping only well-formed entries. */
export function holdsOf(s: WebSnapshot | undefined): WebHold[] {
  const raw: unknown = s?.holds;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return [];
  const list: WebHold[] = [];
  for (const [id, hold] of Object.entries(raw as Record<string, unknown>)) {
    const x = hold as { since?: unknown; by?: unknown } | null;
    if (typeof x === 'object' && x !== null && typeof x.since === 'string' && typeof x.by === 'string') list.push({ id, since: x.since, by: x.by });
  }
  return list.sort((a, b) => a.since.localeCompare(b.since) || a.id.localeCompare(b.id));
}

/** The snapshot's one-line reason why nothing dispatches, when it gives one. */
export function dispatchNoteOf(s: WebSnapshot | undefined): string | undefined {
  const note = s?.dispatchNote;
  return typeof note === 'string' && note.trim() !== '' ? note.trim() : undefined;
}

/** The CI states worth keeping from gh: `unknown` is what a task without one shows anyway. */
const KNOWN_STATES: ReadonlySet<string> = new Set(['passing', 'failing', 'pending']);

/**
 * The CI states the heartbeat learnt from gh, by task id: what ciOf falls back to when a task's
 * file has no `ci:`. The snapshot's `ci` also echoes every file's own `ci:` (source `frontmatter`:
 * 50,000 entries at 50,000 generated tasks, which every build and every /api/tasks kept in a map and
 * compared); those are left out, since the file the server reads wins over them, and so are
 * `unknown` states (the default) and words that are not a CI state.
 */
export function ciMapOf(s: WebSnapshot | undefined): ReadonlyMap<string, CiState> {
  const map = new Map<string, CiState>();
  const raw = s?.ci;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return map;
  for (const [id, check] of Object.entries(raw)) {
    if (typeof check !== 'object' || check === null || check.source === 'frontmatter') continue;
    const state = check.state;
    if (typeof state === 'string' && KNOWN_STATES.has(state)) map.set(id, state as CiState);
  }
  return map;
}

/** How the heartbeat's compact JSON ends an entry of `ci` that echoes a task file's own `ci:`. */
const ECHO_END = Buffer.from('"source":"frontmatter"}');

/**
 * The snapshot file as the pages read it, or undefined when it is missing, not a regular file
 * (read as readTextFile reads one) or not one whole JSON object: every field but the entries of
 * `ci` that echo a task file's own `ci:` (ciMapOf leaves them out anyway). Those are not parsed: at
 * 50,000 generated tasks they are 50,000 of the 8 MB, which each rebuild of the build thread
 * turned into objects to throw away.
 */
export function readSnapshotFile(file: string): Snapshot | undefined {
  return readStateWith(file, (bytes) => {
    const fields = topFields(bytes);
    if (fields === undefined) return undefined;
    const parse = (slice: Buffer): unknown => JSON.parse(slice.toString('utf8'));
    // fromEntries: a `__proto__` key is a field, as JSON.parse makes it. A bad value anywhere is a SyntaxError: no snapshot, as JSON.parse of the whole file.
    return Object.fromEntries([...fields].map(([key, slice]) => {
      const echo = (start: number, end: number): boolean => end - start > ECHO_END.length && slice.compare(ECHO_END, 0, ECHO_END.length, end - ECHO_END.length, end) === 0;
      const ci = key === 'ci' && slice[0] === 0x7b ? topFields(slice, (start, end) => !echo(start, end)) : undefined;
      return [key, ci === undefined ? parse(slice) : Object.fromEntries([...ci].map(([id, entry]) => [id, parse(entry)]))];
    })) as unknown as Snapshot;
  });
}

/** A task's CI state: its frontmatter `ci:` when that is a CI state (it wins), else what the heartbeat learnt from gh, else unknown. */
export function ciOf(t: Task, checks: ReadonlyMap<string, CiState>): CiState {
  return t.ci !== 'unknown' ? t.ci : checks.get(t.id) ?? 'unknown';
}
