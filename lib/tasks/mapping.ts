// The mapping tables shared by every task format: statuses, priorities, ids, owners and folder kinds (docs/task-format.md).

/** The canonical statuses, in lifecycle order. */
export const CANONICAL_STATUSES = ['draft', 'todo', 'ready', 'in_progress', 'blocked', 'review', 'completed', 'cancelled'] as const;
export type Status = typeof CANONICAL_STATUSES[number];

/**
 * Folded spelling → status. Canonical names come first in each row: a suggestion prefers them.
 * Backlog.md writes To Do / In Progress / Done / Won't Do / Draft, taskmd pending / in-progress /
 * completed / blocked / cancelled.
 */
export const STATUS_ALIASES: Readonly<Record<string, Status>> = Object.freeze({
  draft: 'draft',
  todo: 'todo', to_do: 'todo', pending: 'todo', open: 'todo', backlog: 'todo', not_started: 'todo',
  ready: 'ready',
  in_progress: 'in_progress', inprogress: 'in_progress', wip: 'in_progress', doing: 'in_progress', started: 'in_progress', active: 'in_progress',
  blocked: 'blocked',
  review: 'review', in_review: 'review', inreview: 'review', reviewing: 'review', needs_review: 'review',
  completed: 'completed', complete: 'completed', done: 'completed', finished: 'completed', closed: 'completed', resolved: 'completed',
  cancelled: 'cancelled', canceled: 'cancelled', wont_do: 'cancelled', wontdo: 'cancelled', wont_fix: 'cancelled', wontfix: 'cancelled',
  abandoned: 'cancelled', dropped: 'cancelled', rejected: 'cancelled', obsolete: 'cancelled',
});

/** A status as written, folded: trimmed, lowercased, apostrophes dropped, each run of spaces, hyphens or underscores one `_`. */
export function foldStatus(raw: string): string {
  return raw.trim().toLowerCase().replace(/['’`]/g, '').replace(/[\s_-]+/g, '_');
}

/** The custom statuses of a folder's config: each folded, those that fold to a known status dropped, in config order. */
export function customStatuses(declared: readonly string[]): string[] {
  const out: string[] = [];
  for (const s of declared) {
    const folded = foldStatus(s);
    if (folded !== '' && STATUS_ALIASES[folded] === undefined && !out.includes(folded)) out.push(folded);
  }
  return out;
}

/**
 * A status as written → its canonical name (blank is draft); a custom status declared in the
 * folder's config is known under its folded name; anything else is kept folded and unknown.
 */
export function normaliseStatus(raw: string, custom: readonly string[] = []): { status: string; known: boolean } {
  const folded = foldStatus(raw);
  if (folded === '') return { status: 'draft', known: true };
  const status = STATUS_ALIASES[folded];
  if (status !== undefined) return { status, known: true };
  return { status: folded, known: custom.some((c) => foldStatus(c) === folded) };
}

/**
 * What to tell about an unknown status: "did you mean ready?" when a known spelling (alias or
 * custom status) is within a small edit distance, else the list of known statuses.
 */
export function statusHint(raw: string, custom: readonly string[] = []): string {
  const folded = foldStatus(raw);
  const customFolded = customStatuses(custom);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of [...CANONICAL_STATUSES, ...Object.keys(STATUS_ALIASES), ...customFolded]) {
    const d = editDistance(folded, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  const limit = folded.length <= 4 ? 1 : 2;
  if (best !== undefined && bestDistance <= limit && bestDistance < best.length) {
    // A custom status is suggested as the config writes it.
    const declared = custom.find((c) => foldStatus(c) === best);
    return `did you mean ${declared ?? best}?`;
  }
  return `known statuses are ${[...CANONICAL_STATUSES, ...customFolded].join(', ')}`;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps cost 1. */
export function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return Math.abs(a.length - b.length);
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const prev = rows[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return (rows[a.length] as number[])[b.length] as number;
}

/** Priority words (lowercase) → level: p0 = critical > p1 = high > p2 = medium > p3 = low > p4. */
export const PRIORITY_LEVELS: Readonly<Record<string, number>> = Object.freeze({
  p0: 0, critical: 0, urgent: 0, highest: 0, blocker: 0,
  p1: 1, high: 1,
  p2: 2, medium: 2, med: 2, normal: 2,
  p3: 3, low: 3,
  p4: 4, lowest: 4, trivial: 4,
});

/** The level of a priority as written (case-insensitive), or undefined for other text. */
export function priorityLevel(priority: string): number | undefined {
  return PRIORITY_LEVELS[priority.trim().toLowerCase()];
}

/** A priority as the task keeps it: a known word lowercased (`P0` → `p0`, `High` → `high`), other text as written. */
export function normalisePriority(raw: string): string {
  return priorityLevel(raw) === undefined ? raw : raw.trim().toLowerCase();
}

/**
 * The folded form of a task id, under which references match across case, separators and leading
 * zeros but never across prefixes: `BACK-24.1`, `back_24.01` and `back24.1` fold to `back-24.1`,
 * `"001"` and `1` to `1`, while `task-8` (`task-8`) and `DRAFT-8` (`draft-8`) stay apart. An id
 * whose rest is not a dotted number is only lowercased.
 */
export function foldId(id: string): string {
  const lower = id.trim().toLowerCase();
  const m = /^(?:([a-z]+)[-_ ]?)?(\d+(?:\.\d+)*)$/.exec(lower);
  if (m === null) return lower;
  const number = (m[2] as string).split('.').map((n) => n.replace(/^0+(?=\d)/, '')).join('.');
  return m[1] === undefined ? number : `${m[1]}-${number}`;
}

/**
 * Backlog.md's task prefix as a fold compares it: config's `task_prefix` lowercased without a
 * trailing separator (`BACK-` is `back`), `task` when the config names none.
 */
export function backlogTaskPrefix(configured: string | null): string {
  const p = (configured ?? '').trim().toLowerCase().replace(/[-_ ]+$/, '');
  return /^[a-z]+$/.test(p) ? p : 'task';
}

/**
 * The other folded references that name a task of a Backlog.md folder: there `task-8`, `8` and
 * `<task_prefix>-8` are one task (Backlog.md writes its dependencies with `task-` whatever the
 * prefix), and no other prefix ever joins them (`draft-8` is a draft's own). Empty for any other
 * id, and outside Backlog.md (`taskPrefix` null), where a prefix is always part of the id.
 */
export function idAliases(id: string, taskPrefix: string | null): string[] {
  if (taskPrefix === null) return [];
  const folded = foldId(id);
  const m = /^(?:([a-z]+)-)?(\d+(?:\.\d+)*)$/.exec(folded);
  if (m === null) return [];
  const family = ['', 'task', taskPrefix];
  if (!family.includes(m[1] ?? '')) return [];
  const number = m[2] as string;
  return [...new Set(family.map((p) => (p === '' ? number : `${p}-${number}`)))].filter((k) => k !== folded);
}

/** An owner as filters compare it: `@` stripped, case-folded. Owners are kept as written; fold with this to match. */
export function ownerKey(name: string): string {
  return name.trim().replace(/^@+/, '').toLowerCase();
}

/** What a path inside the tasks folder holds, decided by its folder names (any case). */
export interface PathKind {
  /** `task`, or the kind of a file under docs/, decisions/ or milestones/ where the folder's layout makes those docs. */
  kind: 'task' | DocKind;
  /** Under an archive/ (or archived/) folder, at any depth. */
  archived: boolean;
  /** Under a drafts/ folder, at any depth: a task there is a draft whatever its status says. */
  draft: boolean;
}
export type DocKind = 'doc' | 'decision' | 'milestone';

const DOC_FOLDERS: Readonly<Record<string, DocKind>> = { docs: 'doc', decisions: 'decision', milestones: 'milestone' };

/**
 * The kind of a file from the folders on its path (relative to the tasks folder, `/`-separated).
 * With `backlog`, docs/, decisions/ and milestones/ are Backlog.md's own top-level folders (also
 * inside its top-level archive/): the file is that kind at any depth below them, and a folder of
 * that name elsewhere means nothing. Without it (our format, taskmd) the first such folder at any
 * depth gives the kind the file has unless it reads as a task (docKindOf decides).
 */
export function pathKind(relPath: string, backlog = false): PathKind {
  const folders = relPath.toLowerCase().split('/').slice(0, -1);
  let kind: PathKind['kind'] = 'task';
  const looked = backlog ? [folders[0] === 'archive' ? folders[1] : folders[0]] : folders;
  for (const f of looked) {
    if (f === undefined) break;
    const doc = DOC_FOLDERS[f];
    if (doc !== undefined) {
      kind = doc;
      break;
    }
  }
  return { kind, archived: folders.includes('archive') || folders.includes('archived'), draft: folders.includes('drafts') };
}

/** A `kind:` or `type:` field naming a doc kind makes any file that kind. */
export function fieldKind(value: unknown): DocKind | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim().toLowerCase();
  return v === 'doc' || v === 'document' ? 'doc' : v === 'decision' ? 'decision' : v === 'milestone' ? 'milestone' : undefined;
}

/** A markdown file named readme or index (any case): without frontmatter it is neither a task nor an error. */
export function isIndexFile(relPath: string): boolean {
  return /^(readme|index)\.md$/i.test(relPath.slice(relPath.lastIndexOf('/') + 1));
}
