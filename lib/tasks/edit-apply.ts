// One edit applied to a task file's text in memory: the named frontmatter values and body parts, nothing else.
import YAML from 'yaml';
import type { FolderFormat } from './format.ts';
import { BodyProblem, appendNote, tickBox } from './edit-body.ts';
import { type Frontmatter, cutFrontmatter, parseFrontmatter, setKey, valueText } from './edit-yaml.ts';
import { noteLine, statusWord } from './edit-words.ts';
import { normaliseStatus } from './mapping.ts';

/** The parts of an edit request this module applies (EditRequest without its version). */
export interface Change {
  status?: string;
  fields?: Record<string, string | string[] | null>;
  note?: string;
  check?: number | string;
}

/** A problem that refuses the edit (one line naming the fix); nothing is written. */
export class ApplyProblem extends Error {
  /** `usage`: the request itself is wrong (a status the folder does not take, a key that cannot be set), not the file: the CLI's exit 2. */
  constructor(message: string, readonly usage = false) {
    super(message);
  }
}

/** A frontmatter key an edit may set: a plain YAML key, never `id` (a task's id names its claims and runs). */
const FIELD_KEY = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

/** The file's parts for editing, or why it cannot be edited safely. */
export function openText(text: string): { fm: Frontmatter; doc: YAML.Document.Parsed } {
  const fm = cutFrontmatter(text);
  if (typeof fm === 'string') throw new ApplyProblem(`${fm}; add a --- frontmatter block, or edit the file by hand`);
  const doc = parseFrontmatter(fm.yaml);
  if (typeof doc === 'string') throw new ApplyProblem(`${doc}; fix the YAML by hand first`);
  return { fm, doc };
}

/** The text with the change applied, and what changed in words (["status: To Do → In Progress", "note", "check 2"]). */
export function applyChange(text: string, change: Change, format: FolderFormat, now: Date): { text: string; changed: string[] } {
  const { fm, doc } = openText(text);
  const changed: string[] = [];
  let yaml = fm.yaml;
  let current = doc;
  const fields: [string, string | string[] | null][] = [];
  if (change.status !== undefined) fields.push(['status', change.status]);
  for (const [key, value] of Object.entries(change.fields ?? {})) {
    if (key === 'status' && typeof value === 'string' && change.status === undefined) fields.unshift(['status', value]);
    else fields.push([key, value]);
  }
  if (change.note !== undefined) {
    const problem = textProblem(change.note, NOTE_MAX_CHARS);
    if (problem) throw new ApplyProblem(`the note ${problem}`, true);
  }
  for (const [key, value] of fields) {
    if (key === 'id') throw new ApplyProblem('`id` cannot be changed: claims, runs and dependencies name the task by it; create a new task instead', true);
    if (!FIELD_KEY.test(key)) throw new ApplyProblem(`\`${key}\` is not a field name an edit can set; use letters, digits, _ . - (at most 64)`, true);
    const before = valueText(current, key);
    let write: string | string[] | null = value;
    if (key === 'status') {
      if (typeof value !== 'string') throw new ApplyProblem('`status` takes one word, not a list or nothing; e.g. status=in_progress', true);
      const word = statusWord(value, format);
      if ('problem' in word) throw new ApplyProblem(word.problem, true);
      // The same status in another spelling is no change: the file keeps its own word.
      if (before !== undefined && before.trim() !== '' && normaliseStatus(before, format.statuses).status === word.status) continue;
      write = word.word;
    }
    const after = write === null ? undefined : typeof write === 'string' ? write : write.join(', ');
    if (before === after && (write === null || typeof write === 'string' || YAML.isSeq(current.get(key, true)))) continue;
    // A frontmatter written as one flow mapping ({id: a, x: 1}) has no line a key can be added or cut on.
    if ((write === null || before === undefined) && YAML.isMap(current.contents) && current.contents.flow) {
      throw new ApplyProblem(`the frontmatter is one flow mapping ({…}): \`${key}\` can be changed there but not ${write === null ? 'removed' : 'added'}; write it as key: value lines first`);
    }
    yaml = setKey(yaml, current, key, write, fm.eol);
    const next = parseFrontmatter(yaml);
    if (typeof next === 'string') throw new ApplyProblem(`setting \`${key}\` would make the frontmatter unreadable (${next}); nothing was written`);
    current = next;
    changed.push(write === null ? `${key} removed` : `${key}: ${before === undefined || before === '' ? '(none)' : before} → ${after}`);
  }
  let body = fm.tail;
  // The closing --- line is the frontmatter's: body edits start after it.
  const cut = body.indexOf('\n') + 1;
  const closing = cut === 0 ? body + fm.eol : body.slice(0, cut);
  let rest = cut === 0 ? '' : body.slice(cut);
  try {
    if (change.check !== undefined) {
      const t = tickBox(rest, change.check);
      rest = t.body;
      if (t.ticked) changed.push(`check ${t.n}: ${t.text}`);
    }
  } catch (err) {
    if (err instanceof BodyProblem) throw new ApplyProblem(err.message);
    throw err;
  }
  if (change.note !== undefined) {
    if (change.note.trim() === '') throw new ApplyProblem('the note is empty; give its text, e.g. text="ran the tests"', true);
    rest = appendNote(rest, noteLine(change.note, now), format.kind, fm.eol);
    changed.push('note');
  }
  body = cut === 0 && rest === '' ? fm.tail : closing + rest;
  return { text: fm.head + yaml + body, changed };
}

/** What differs between two versions of a file, in words: each top-level key whose value changed, and `body`. */
export function describeChanges(before: string, after: string): string[] {
  const a = cutFrontmatter(before);
  const b = cutFrontmatter(after);
  if (typeof a === 'string' || typeof b === 'string') return ['frontmatter'];
  const da = parseFrontmatter(a.yaml);
  const db = parseFrontmatter(b.yaml);
  const out: string[] = [];
  if (typeof da === 'string' || typeof db === 'string') out.push('frontmatter');
  else {
    const keys = new Set([...keysOf(da), ...keysOf(db)]);
    for (const k of keys) {
      const x = valueText(da, k);
      const y = valueText(db, k);
      if (x !== y) out.push(y === undefined ? `${k} removed` : x === undefined ? `${k} added` : `${k}: ${x} → ${y}`);
    }
    if (out.length === 0 && a.yaml !== b.yaml) out.push('frontmatter');
  }
  if (a.tail !== b.tail) out.push('body');
  return out.length === 0 ? ['bytes'] : out;
}

function keysOf(doc: YAML.Document.Parsed): string[] {
  return YAML.isMap(doc.contents) ? doc.contents.items.map((p) => String(YAML.isScalar(p.key) ? p.key.value : p.key)) : [];
}

/** The longest note an edit appends: a line of progress, not a document (the file stays editable). */
export const NOTE_MAX_CHARS = 4000;

/** Why a title or note cannot be written as one line of text (control characters, a line break, too long), or undefined. */
export function textProblem(text: string, max: number): string | undefined {
  if (/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/.test(text)) return 'holds a line break or a control character; give one line of text';
  if (text.length > max) return `is ${text.length} characters; the limit is ${max}`;
  return undefined;
}
