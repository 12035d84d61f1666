// The words an edit writes: a status in the folder's own vocabulary, a dated note line, a file-name slug.
import type { FolderFormat } from './format.ts';
import { foldStatus, normaliseStatus, statusHint } from './mapping.ts';

/** How each format spells the canonical statuses it has (Backlog.md's defaults, taskmd's own); ours writes them as they are. */
const OWN_WORDS: Record<'backlog' | 'taskmd', Readonly<Record<string, string>>> = {
  backlog: { draft: 'Draft', todo: 'To Do', in_progress: 'In Progress', completed: 'Done', cancelled: "Won't Do" },
  taskmd: { todo: 'pending', in_progress: 'in-progress', completed: 'completed', blocked: 'blocked', cancelled: 'cancelled' },
};

/**
 * A status as asked (canonical `in_progress` or the folder's `In Progress`) → its canonical name and
 * the word this folder writes for it: the config's declared spelling, else the format's own, else
 * the canonical name. Undefined `word` with a hint when the status is not one the folder knows.
 */
export function statusWord(asked: string, format: FolderFormat): { status: string; word: string } | { hint: string } {
  const { status, known } = normaliseStatus(asked, format.statuses);
  if (!known || asked.trim() === '') return { hint: asked.trim() === '' ? 'give a status' : statusHint(asked, format.statuses) };
  const declared = format.statuses.find((s) => foldStatus(s) === foldStatus(asked)) ?? format.statuses.find((s) => normaliseStatus(s, format.statuses).status === status);
  if (declared !== undefined) return { status, word: declared };
  const own = format.kind === 'tasks' ? undefined : OWN_WORDS[format.kind][status];
  return { status, word: own ?? status };
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
