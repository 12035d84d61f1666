// The task file parser: tolerant YAML frontmatter into a Task, or a parse error as a value.
import YAML from 'yaml';
import type { Node as YamlNode, Document } from 'yaml';

export type Status = 'draft' | 'todo' | 'ready' | 'in_progress' | 'blocked' | 'review' | 'completed' | 'cancelled';
export type CiState = 'passing' | 'failing' | 'pending' | 'unknown';

/** A '## ' (or deeper) heading of a task body and the markdown under it. */
export interface Section { readonly title: string; readonly level: number; readonly text: string }

/** One parsed task file (docs/task-format.md). Dates and ids are kept as the text written in the file. */
export interface Task {
  id: string;
  slug: string;
  path: string;
  title: string;
  status: Status | string;
  statusKnown: boolean;
  priority: string | null;
  milestone: string | null;
  /** `owners[0]`, kept for API compatibility. */
  owner: string | null;
  /** Every owner/assignee, '@' stripped, as written. */
  owners: string[];
  /** labels / tags. */
  labels: string[];
  /** created_date / created, as written. */
  created: string | null;
  /** updated_date / updated, as written. */
  updated: string | null;
  /** due / due_date, as written. */
  due: string | null;
  /** parent_task_id / parent, the raw reference (resolve with taskIndex). */
  parent: string | null;
  effort: string | null;
  /** Under an archive/ folder: never dispatched, not counted. */
  archived: boolean;
  /** Checkboxes under an 'Acceptance Criteria' section. */
  acceptance: { done: number; total: number };
  /** For an unknown status, e.g. "did you mean ready?"; null otherwise. */
  statusHint: string | null;
  completedBy: string | null;
  completed: string | null;
  dependsOn: string[];
  pr: string | null;
  ci: CiState;
  fields: Record<string, unknown>;
  body: string;
  sections: Section[];
  progress: { done: number; total: number };
}

/** Why one file is not a task; `reason` is one human-readable line. */
export interface ParseError { path: string; reason: string }
export type ParseResult = { ok: true; task: Task } | ({ ok: false } & ParseError);

const STATUS_ALIASES: Readonly<Record<string, Status>> = {
  draft: 'draft',
  todo: 'todo', to_do: 'todo',
  ready: 'ready',
  in_progress: 'in_progress', inprogress: 'in_progress', wip: 'in_progress', doing: 'in_progress',
  blocked: 'blocked',
  review: 'review', in_review: 'review',
  completed: 'completed', complete: 'completed', done: 'completed',
  cancelled: 'cancelled', canceled: 'cancelled',
};

const CI_ALIASES: Readonly<Record<string, CiState>> = {
  passing: 'passing', passed: 'passing', pass: 'passing', success: 'passing',
  failing: 'failing', failed: 'failing', fail: 'failing', failure: 'failing',
  pending: 'pending', running: 'pending', queued: 'pending',
};

/** Fields whose value must be one scalar: a list or map there is an error, not a guess. */
const SCALAR_FIELDS = ['id', 'title', 'status', 'priority', 'milestone', 'owner', 'assignee',
  'completed_by', 'completed', 'pr', 'ci'] as const;

/** Aliases can expand a small document exponentially or into a cycle; past these it is refused. */
const MAX_VALUES = 10_000;
const MAX_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Folds a status as written to its canonical name (blank is draft); unknown spellings are kept folded. */
export function normaliseStatus(raw: string): { status: string; known: boolean } {
  const folded = raw.trim().toLowerCase().replace(/[\s-]+/g, '_');
  if (folded === '') return { status: 'draft', known: true };
  const status = STATUS_ALIASES[folded];
  return status === undefined ? { status: folded, known: false } : { status, known: true };
}

/** Parses one task file; never throws, an unusable file is returned as {ok: false, reason}. */
export function parseTaskFile(content: Buffer, relPath: string): ParseResult {
  const path = relPath.replace(/\\/g, '/');
  try {
    return parse(content, path);
  } catch (err) {
    // A bug of ours must not stop a tick: report it against the file like any other failure.
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, path, reason: `cannot parse: ${firstLine(message)}` };
  }
}

function parse(content: Buffer, path: string): ParseResult {
  const fail = (reason: string): ParseResult => ({ ok: false, path, reason });
  if (content.length === 0) return fail('empty file');
  if (content.includes(0)) return fail('not a UTF-8 text file');
  let text: string;
  try {
    text = utf8.decode(content); // drops a leading BOM
  } catch (err) {
    if (err instanceof TypeError) return fail('not a UTF-8 text file');
    throw err;
  }
  text = text.replace(/\r\n?/g, '\n');
  if (text.trim() === '') return fail('empty file');

  const lines = text.split('\n');
  if (!/^---[ \t]*$/.test(lines[0] ?? '')) return fail('no frontmatter: the file must start with ---');
  const close = lines.findIndex((line, i) => i > 0 && /^---[ \t]*$/.test(line));
  if (close < 0) return fail('frontmatter is not closed by ---');

  const doc = YAML.parseDocument(lines.slice(1, close).join('\n'), { schema: 'failsafe' });
  const yamlError = doc.errors[0];
  if (yamlError !== undefined) return fail(`invalid YAML in frontmatter${fileLine(yamlError.linePos?.[0])}: ${yamlMessage(yamlError.message)}`);
  const fm = toValue(doc.contents, doc, { left: MAX_VALUES }, 0);
  if (fm === undefined) return fail('frontmatter is too large or nested too deeply (aliases?)');
  // An empty frontmatter (--- then ---) is a task with every field defaulted.
  const fields = fm === null ? {} : fm;
  if (typeof fields !== 'object' || Array.isArray(fields)) return fail('frontmatter is not a key: value mapping');

  for (const key of SCALAR_FIELDS) {
    const value = fields[key];
    if (value !== null && typeof value === 'object') {
      return fail(`\`${key}\` must be a single value, got a ${Array.isArray(value) ? 'list' : 'mapping'}`);
    }
  }
  const body = lines.slice(close + 1).join('\n');
  return { ok: true, task: toTask(fields, body, path) };
}

type Value = string | null | Value[] | { [key: string]: Value };

/** Converts a failsafe YAML node: every scalar is text, an unquoted empty/~/null is null. */
function toValue(node: unknown, doc: Document, budget: { left: number }, depth: number): Value | undefined {
  if (--budget.left < 0 || depth > MAX_DEPTH) return undefined;
  if (node === null || node === undefined) return null;
  if (YAML.isAlias(node)) return toValue(node.resolve(doc), doc, budget, depth + 1);
  if (YAML.isScalar(node)) {
    const value = node.value === null || node.value === undefined ? '' : String(node.value);
    const plain = node.type === 'PLAIN' || node.type === undefined;
    return plain && /^(|~|null|Null|NULL)$/.test(value) ? null : value;
  }
  if (YAML.isSeq(node)) {
    const out: Value[] = [];
    for (const item of node.items) {
      const value = toValue(item, doc, budget, depth + 1);
      if (value === undefined) return undefined;
      out.push(value);
    }
    return out;
  }
  if (YAML.isMap(node)) {
    const out: { [key: string]: Value } = {};
    for (const pair of node.items) {
      const key = toValue(pair.key, doc, budget, depth + 1);
      const value = toValue(pair.value, doc, budget, depth + 1);
      if (key === undefined || value === undefined) return undefined;
      const name = typeof key === 'string' ? key : key === null ? '' : JSON.stringify(key);
      // defineProperty, so a `__proto__:` key is kept as data instead of replacing the prototype.
      Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return String((node as YamlNode).toString());
}

function toTask(fields: { [key: string]: Value }, body: string, path: string): Task {
  const text = (key: string): string | null => {
    const value = fields[key];
    if (typeof value !== 'string') return null;
    const trimmed = value.trim();
    return trimmed === '' ? null : trimmed;
  };
  const base = path.slice(path.lastIndexOf('/') + 1);
  const slug = base.replace(/\.md$/i, '');
  const rawStatus = text('status');
  const { status, known } = rawStatus === null ? { status: 'draft', known: true } : normaliseStatus(rawStatus);
  const rawPriority = text('priority');
  const doc = scanBody(body);
  return {
    id: text('id') ?? slug,
    slug,
    path,
    title: text('title') ?? doc.title ?? slug,
    status,
    statusKnown: known,
    priority: rawPriority !== null && /^p[0-3]$/i.test(rawPriority) ? rawPriority.toLowerCase() : rawPriority,
    milestone: text('milestone'),
    owner: text('owner') ?? text('assignee'),
    owners: [text('owner') ?? text('assignee')].filter((o): o is string => o !== null),
    labels: [],
    created: text('created_date') ?? text('created'),
    updated: text('updated_date') ?? text('updated'),
    due: text('due') ?? text('due_date'),
    parent: text('parent_task_id') ?? text('parent'),
    effort: text('effort'),
    archived: false,
    acceptance: { done: 0, total: 0 },
    statusHint: null,
    completedBy: text('completed_by'),
    completed: text('completed'),
    dependsOn: idList('depends_on' in fields ? fields['depends_on'] : fields['dependencies']),
    pr: text('pr'),
    ci: CI_ALIASES[(text('ci') ?? '').toLowerCase()] ?? 'unknown',
    fields,
    body,
    sections: doc.sections,
    progress: doc.progress,
  };
}

/** Dependencies as a YAML list or a comma-separated string; empty entries are dropped. */
function idList(value: Value | undefined): string[] {
  const items = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : [];
  return items.flatMap((item) => (typeof item === 'string' && item.trim() !== '' ? [item.trim()] : []));
}

interface BodyFacts { title: string | null; sections: Section[]; progress: { done: number; total: number } }

/** One pass over the body: first '# ' title, sections, checkboxes; code fences are skipped. */
function scanBody(body: string): BodyFacts {
  const lines = body.split('\n');
  let title: string | null = null;
  let fence: string | null = null;
  let done = 0;
  let total = 0;
  const headings: { title: string; level: number; line: number }[] = [];
  lines.forEach((line, i) => {
    const fenceMatch = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fenceMatch !== null) {
      const marker = fenceMatch[1] ?? '';
      if (fence === null) fence = marker;
      else if (marker[0] === fence[0] && marker.length >= fence.length) fence = null;
      return;
    }
    if (fence !== null) return;
    const heading = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (heading !== null) {
      const level = (heading[1] ?? '').length;
      const name = (heading[2] ?? '').trim();
      if (level === 1 && title === null && name !== '') title = name;
      headings.push({ title: name, level, line: i });
      return;
    }
    const box = /^\s*(?:[-*+]|\d+[.)])\s+\[([ xX])\](?:\s|$)/.exec(line);
    if (box !== null) {
      total++;
      if (box[1] !== ' ') done++;
    }
  });
  const sections: Section[] = [];
  headings.forEach((h, i) => {
    if (h.level < 2) return;
    const end = headings.slice(i + 1).find((next) => next.level <= h.level)?.line ?? lines.length;
    const text = lines.slice(h.line + 1, end).join('\n').replace(/^\n+|\s+$/g, '');
    sections.push({ title: h.title, level: h.level, text });
  });
  return { title, sections, progress: { done, total } };
}

/** ' at line 3' with the line counted in the file (the frontmatter starts on line 2). */
function fileLine(pos: { line: number; col: number } | undefined): string {
  return pos === undefined ? '' : ` at line ${pos.line + 1}`;
}

/** The YAML library's message without its own position and source excerpt. */
function yamlMessage(message: string): string {
  return firstLine(message).replace(/ at line \d+, column \d+:?$/, '').replace(/:$/, '');
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? '').trim();
}
