// The words an edit writes: a status in the folder's own vocabulary, a dated note line, a file-name slug.
import type { FolderFormat } from './format.ts';
import { escapeControls } from '../base/controls.ts';
import { CANONICAL_STATUSES, STATUS_ALIASES, editDistance, foldStatus, normaliseStatus } from './mapping.ts';

/** How each format spells the canonical statuses it has (Backlog.md's defaults, taskmd's own); ours writes them as they are. */
const OWN_WORDS: Record<'backlog' | 'taskmd', Readonly<Record<string, string>>> = {
  backlog: { draft: 'Draft', todo: 'To Do', in_progress: 'In Progress', completed: 'Done', cancelled: "Won't Do" },
  taskmd: { todo: 'pending', in_progress: 'in-progress', completed: 'completed', blocked: 'blocked', cancelled: 'cancelled' },
};

/**
 * A status as asked (canonical `in_progress` or the folder's `In Progress`) → its canonical name and
 * the word this folder writes for it: the config's declared spelling, else the format's own, else
 * the canonical name. A folder whose config declares statuses is written only in those words: a
 * status none of them maps to (`ready` beside To Do / In Progress / Done) is refused like a
 * mistyped one, with one line naming the value and the words the folder does take.
 */
export function statusWord(asked: string, format: FolderFormat): { status: string; word: string } | { problem: string } {
  const shown = `\`${escapeControls(asked.trim())}\``;
  if (asked.trim() === '') return { problem: `give a status; ${wordsOf(format)}` };
  const { status, known } = normaliseStatus(asked, format.statuses);
  if (!known) return { problem: `unknown status ${shown}: ${suggestion(asked, format)}${wordsOf(format)}` };
  const declared = declaredWord(asked, status, format.statuses);
  if (declared !== undefined) return { status, word: declared };
  if (format.statuses.length > 0) return { problem: `status ${shown} is not one this folder's config declares; ${wordsOf(format)}` };
  const own = format.kind === 'tasks' ? undefined : OWN_WORDS[format.kind][status];
  return { status, word: own ?? status };
}

/** The declared word for a status: the one spelled as asked, else the one that means the same canonical status. */
function declaredWord(asked: string, status: string, declared: readonly string[]): string | undefined {
  return declared.find((s) => foldStatus(s) === foldStatus(asked)) ?? declared.find((s) => normaliseStatus(s, declared).status === status);
}

/** "its statuses are To Do, In Progress, Done": the folder's declared words, else the canonical ones. */
function wordsOf(format: FolderFormat): string {
  return format.statuses.length > 0
    ? `this folder's statuses are ${format.statuses.map(escapeControls).join(', ')}`
    : `the statuses are ${CANONICAL_STATUSES.join(', ')}`;
}

/**
 * "did you mean In Progress? " when the asked word is a slip of a spelling this folder takes: the
 * nearest alias (`inprogress`) is said as the word it writes (`in_progress`, or the folder's own).
 */
function suggestion(asked: string, format: FolderFormat): string {
  const folded = foldStatus(asked);
  const spellings = [...CANONICAL_STATUSES, ...Object.keys(STATUS_ALIASES), ...format.statuses.map(foldStatus)];
  let best: string | undefined;
  let distance = Infinity;
  for (const spelling of spellings) {
    const d = editDistance(folded, spelling);
    if (d < distance) [best, distance] = [spelling, d];
  }
  if (best === undefined || distance > (folded.length <= 4 ? 1 : 2) || distance >= best.length) return '';
  const status = normaliseStatus(best, format.statuses).status;
  const word = format.statuses.length > 0 ? declaredWord(best, status, format.statuses) : status;
  return word === undefined ? '' : `did you mean ${escapeControls(word)}? `;
}

/** `2026-12-07 10:03` in local time, as Backlog.md's `date_format` writes dates. */
export function stamp(now: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${two(now.getMonth() + 1)}-${two(now.getDate())} ${two(now.getHours())}:${two(now.getMinutes())}`;
}

/** A note as one markdown list line: line breaks become spaces, and a `<!--` cannot open a marker. */
export function noteLine(text: string, now: Date): string {
  const one = text.replace(/\s*[\r\n]+\s*/g, ' ').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '').replace(/<!--/g, '&lt;!--').trim();
  return `- ${stamp(now)} ${one}`;
}

/** A title as a file name's slug: lowercase ASCII letters and digits joined by `-`, at most 60 characters; `task` when nothing is left. */
export function slugify(title: string): string {
  const s = title.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return s.slice(0, 60).replace(/-+$/, '') || 'task';
}
