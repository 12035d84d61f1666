// The task file parser: tolerant YAML frontmatter into a Task (or a doc), or a parse error as a value.
import { type Fields, type Split, type Value, firstLine, splitFile } from './frontmatter.ts';
import { type Section, scanBody, stripMarkers } from './body.ts';
import { lengthProblem } from './ids.ts';
import { PARSED, sharedBoxes, sharedList } from './shared-values.ts';
import { type DocKind, type Status, fieldKind, idAliases, isIndexFile, normalisePriority, normaliseStatus, pathKind, statusHint } from './mapping.ts';

export type { Status, DocKind } from './mapping.ts';
export type { Section } from './body.ts';
export { normaliseStatus } from './mapping.ts';
export type CiState = 'passing' | 'failing' | 'pending' | 'unknown';

/** One parsed task file (docs/task-format.md). Dates and ids are kept as the text written in the file. */
export interface Task {
  id: string;
  slug: string;
  path: string;
  title: string;
  status: Status | string;
  /** False for a status that is neither in the status table nor declared by the folder's config. */
  statusKnown: boolean;
  /** For an unknown status: "did you mean ready?", else "known statuses are …"; null for a known one. */
  statusHint: string | null;
  /** As written; a known word lowercased (`P0` → `p0`, `High` → `high`). Rank it with priorityRank. */
  priority: string | null;
  milestone: string | null;
  /** `owners[0] ?? null`, kept for API compatibility. */
  owner: string | null;
  /** Every owner (owner, else owners, assignee, assignees), '@' stripped, as written; filters fold case (ownerKey). */
  owners: string[];
  /** labels, else tags. */
  labels: string[];
  /** created_date, else created, else date; as written. */
  created: string | null;
  /** updated_date, else updated; as written. */
  updated: string | null;
  /** due, else due_date; as written. */
  due: string | null;
  /** parent_task_id, else parent: the reference as written (resolve it with taskIndex). */
  parent: string | null;
  /** effort, else estimate. */
  effort: string | null;
  /** Other folded ids that name it (idAliases): in Backlog.md with task prefix back, BACK-8 is also `task-8` and `8`. Empty elsewhere. */
  aliases: string[];
  /** Under an archive/ folder: never dispatched, not counted, not escalated; its id may repeat an active one. */
  archived: boolean;
  completedBy: string | null;
  completed: string | null;
  dependsOn: string[];
  pr: string | null;
  ci: CiState;
  fields: Record<string, unknown>;
  body: string;
  sections: Section[];
  progress: { done: number; total: number };
  /** Checkboxes under an 'Acceptance Criteria' heading. */
  acceptance: { done: number; total: number };
  /** Bytes of a file over TASK_FILE_CAP left unread: its body ends early. Absent for a file read whole. */
  omittedBytes?: number;
}

/**
 * A doc, decision or milestone: shown, never a task. A file with `kind:`/`type:` doc, decision or milestone; in Backlog.md one under
 * its top-level docs/, decisions/ or milestones/; elsewhere one under such a folder (any depth) unless it has an `id` and a task status.
 */
export interface DocFile {
  kind: DocKind;
  id: string;
  title: string;
  slug: string;
  path: string;
  archived: boolean;
  body: string;
  fields: Record<string, unknown>;
  /** As Task's: bytes past TASK_FILE_CAP left unread. */
  omittedBytes?: number;
}

/** Why one file is not a task; `reason` is one human-readable line. */
export interface ParseError { path: string; reason: string }
export type ParseResult = { ok: true; task: Task } | ({ ok: false } & ParseError);

/** One markdown file as the scan sees it: a task (or its parse error), a doc, or nothing (a readme without frontmatter). */
export type Entry = { kind: 'task'; result: ParseResult } | { kind: 'doc'; doc: DocFile } | { kind: 'skip' };

export interface ParseOptions {
  /** The statuses the folder's config declares (Backlog.md's config.yml `statuses`), as written. */
  readonly statuses?: readonly string[];
  /** Set only for a Backlog.md folder, to its task prefix (backlogTaskPrefix): its layout decides docs, and `task-8`, `8` name its tasks. */
  readonly taskPrefix?: string | null;
  /** The file's size when content holds only its first TASK_FILE_CAP bytes (readCapped): the rest is counted as omitted. */
  readonly fileSize?: number;
}

/**
 * How much of a task file is read (docs/task-format.md): the first 1 MiB. One 100 MB file read
 * whole cost the server 3.2 GB through markdown, search and pages; a task is never that long on
 * purpose, so its body is shown cut, and its frontmatter must close within the cap.
 */
export const TASK_FILE_CAP = 1024 * 1024;

const CI_ALIASES: Readonly<Record<string, CiState>> = {
  passing: 'passing', passed: 'passing', pass: 'passing', success: 'passing',
  failing: 'failing', failed: 'failing', fail: 'failing', failure: 'failing',
  pending: 'pending', running: 'pending', queued: 'pending',
};

/**
 * Fields whose value must be one scalar: a list or map there is an error, not a guess. Owners,
 * labels and the fields of the alias table take lists (docs/task-format.md).
 */
const SCALAR_FIELDS = ['id', 'title', 'status', 'priority', 'completed', 'pr', 'ci'] as const;

/** Parses one task file; never throws, an unusable file is returned as {ok: false, reason}. */
export function parseTaskFile(content: Buffer, relPath: string, options: ParseOptions = {}): ParseResult {
  const path = relPath.replace(/\\/g, '/');
  return guard(path, () => taskOf(splitFile(content), path, options));
}

/**
 * Parses one markdown file of the tasks folder: a doc when its folder (DocFile says which) or its
 * `kind:`/`type:` field says so, nothing for a readme or index without frontmatter, else a task
 * (or its parse error). Never throws.
 */
export function parseEntry(content: Buffer, relPath: string, options: ParseOptions = {}): Entry {
  const path = relPath.replace(/\\/g, '/');
  const omitted = Math.max(0, (options.fileSize ?? content.length) - content.length);
  let split: Split | undefined;
  const parsed = guard(path, () => {
    split = cappedSplit(content, omitted);
    return taskOf(split, path, options);
  });
  const result: ParseResult = parsed.ok && omitted > 0 ? { ok: true, task: { ...parsed.task, omittedBytes: omitted } } : parsed;
  const s = split as Split | undefined;
  if (s === undefined) return { kind: 'task', result };
  if (!s.ok && s.bare === true && isIndexFile(path)) return { kind: 'skip' };
  const where = pathKind(path, isBacklog(options));
  const named = s.ok ? fieldKind(s.fields['kind']) ?? fieldKind(s.fields['type']) : undefined;
  let kind = where.kind === 'task' ? named : where.kind;
  // Outside Backlog.md a docs/ area is the team's own: a file there with an id and a task status (and no kind: doc) is a task.
  if (where.kind !== 'task' && !isBacklog(options) && named === undefined && s.ok && readsAsTask(s.fields, options)) kind = undefined;
  // A doc is read leniently: without usable frontmatter it is its text. An unreadable one stays an error.
  if (kind === undefined || (!s.ok && s.text === undefined)) return { kind: 'task', result };
  const fields = s.ok ? s.fields : {};
  const body = stripMarkers(s.ok ? s.body : s.text ?? '');
  const slug = slugOf(path);
  const id = single(fields['id']) ?? slug;
  const title = single(fields['title']) ?? scanBody(body).title ?? slug;
  const doc: DocFile = { kind, id, title, slug, path, archived: where.archived, body, fields };
  if (omitted > 0) doc.omittedBytes = omitted;
  return { kind: 'doc', doc };
}

/** splitFile, where a frontmatter still open at the end of a capped read is too large rather than unclosed. */
function cappedSplit(content: Buffer, omitted: number): Split {
  const split = splitFile(content);
  if (omitted === 0 || split.ok || !split.reason.startsWith('frontmatter is not closed')) return split;
  const size = content.length + omitted;
  return { ok: false, reason: `frontmatter is not closed by --- within the first ${TASK_FILE_CAP} bytes, the most of a task file that is read (the file is ${size} bytes); close it earlier` };
}

/** A Backlog.md folder's options: they carry its task prefix. */
function isBacklog(options: ParseOptions): boolean {
  return options.taskPrefix !== undefined && options.taskPrefix !== null;
}

/** Frontmatter with an `id` and a status that is a task status (canonical, an alias, or the config's). */
function readsAsTask(fields: Fields, options: ParseOptions): boolean {
  const status = single(fields['status']);
  return single(fields['id']) !== null && status !== null && normaliseStatus(status, options.statuses ?? []).known;
}

/** Runs a parse; a bug of ours must not stop a tick: it is reported against the file like any other failure. */
function guard(path: string, fn: () => ParseResult): ParseResult {
  try {
    return fn();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, path, reason: `cannot parse: ${firstLine(message)}` };
  }
}

/** The task a split file holds, or why it is none: its split failed, or a field that takes one value has several. */
function taskOf(split: Split, path: string, options: ParseOptions): ParseResult {
  if (!split.ok) return { ok: false, path, reason: split.reason };
  const { fields, body } = split;
  for (const key of SCALAR_FIELDS) {
    const value = fields[key];
    if (value !== null && typeof value === 'object') {
      return { ok: false, path, reason: `\`${key}\` must be a single value, got a ${Array.isArray(value) ? 'list' : 'mapping'}` };
    }
  }
  const task = toTask(fields, body, path, options);
  const tooLong = lengthProblem(single(fields['id']), task.title);
  return tooLong === undefined ? { ok: true, task } : { ok: false, path, reason: tooLong };
}

function toTask(fields: Fields, body: string, path: string, options: ParseOptions): Task {
  // Of aliases, the first key with a value wins: an empty `owner:` falls back to `assignee` (docs/task-format.md).
  const pick = (...keys: string[]): Value | undefined => fields[keys.find((k) => fields[k] !== undefined && fields[k] !== null && single(fields[k]) !== null) ?? ''];
  const text = (...keys: string[]): string | null => single(pick(...keys));
  const slug = slugOf(path);
  const where = pathKind(path, isBacklog(options));
  const rawStatus = text('status');
  const custom = options.statuses ?? [];
  // A task in a drafts/ folder is a draft whatever its status says; the status stays in fields.
  const { status, known } = where.draft || rawStatus === null ? { status: 'draft', known: true } : normaliseStatus(rawStatus, custom);
  const rawPriority = text('priority');
  const clean = stripMarkers(body);
  const doc = scanBody(clean);
  const id = text('id') ?? slug;
  // Most tasks have no owners, labels or acceptance criteria, and share their statuses, milestones and owners: one value each (shared-values.ts).
  const owners = PARSED.list(listOf(pick('owner', 'owners', 'assignee', 'assignees')).map((o) => o.replace(/^@+/, '').trim()).filter((o) => o !== ''));
  const completedBy = listOf(fields['completed_by']);
  return {
    id,
    slug,
    path,
    title: text('title') ?? doc.title ?? slug,
    status: PARSED.of(status),
    statusKnown: known,
    statusHint: known || rawStatus === null ? null : PARSED.of(statusHint(rawStatus, custom)),
    priority: rawPriority === null ? null : PARSED.of(normalisePriority(rawPriority)),
    milestone: PARSED.of(text('milestone')),
    owner: owners[0] ?? null,
    owners,
    labels: PARSED.list(listOf(pick('labels', 'tags'))),
    created: text('created_date', 'created', 'date'),
    updated: text('updated_date', 'updated'),
    due: PARSED.of(text('due', 'due_date')),
    parent: text('parent_task_id', 'parent'),
    effort: PARSED.of(text('effort', 'estimate')),
    aliases: sharedList(idAliases(id, options.taskPrefix ?? null)),
    archived: where.archived,
    completedBy: completedBy.length ? PARSED.of(completedBy.join(', ')) : null,
    completed: text('completed'),
    dependsOn: sharedList(listOf('depends_on' in fields ? fields['depends_on'] : fields['dependencies'])),
    pr: text('pr'),
    ci: CI_ALIASES[(text('ci') ?? '').toLowerCase()] ?? 'unknown',
    fields,
    body: clean,
    sections: sharedList(doc.sections),
    progress: sharedBoxes(doc.progress),
    acceptance: sharedBoxes(doc.acceptance),
  };
}

/** One value: text trimmed (blank is none); a list gives its first text item. */
function single(value: Value | undefined): string | null {
  if (Array.isArray(value)) {
    for (const item of value) {
      const s = single(item);
      if (s !== null) return s;
    }
    return null;
  }
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
}

/** A YAML list or a comma-separated string, trimmed; empty entries are dropped. */
function listOf(value: Value | undefined): string[] {
  const items = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : [];
  return items.flatMap((item) => (typeof item === 'string' && item.trim() !== '' ? [item.trim()] : []));
}

/** The file name without `.md`. */
function slugOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1).replace(/\.md$/i, '');
}
