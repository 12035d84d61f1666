// A new task file in the folder's own format and naming, under the folder's lock, never reusing an id.
import fs from 'node:fs';
import path from 'node:path';
import { quoteText } from '../base/controls.ts';
import { acquireLock } from '../supervise/lock.ts';
import { EditRefused, type EditResult, versionOf } from './edit-types.ts';
import { writeNew } from './edit-file.ts';
import { textProblem } from './edit-apply.ts';
import { scalarSource } from './edit-yaml.ts';
import { slugify, stamp, statusWord } from './edit-words.ts';
import { type FolderFormat, detectFormat } from './format.ts';
import { parseYamlMapping } from './frontmatter.ts';
import { TITLE_MAX_CHARS } from './ids.ts';
import { foldId } from './mapping.ts';
import { TaskScanner } from './scan.ts';

export interface NewTask { title: string; status?: string; priority?: string; fields?: Record<string, string | string[]>; body?: string }

/** Fields the format's own lines write; given again in `fields` they would repeat a key. */
const OWN_KEYS = new Set(['id', 'title', 'status', 'priority']);

/** Every name already taken in the folder, folded: task ids (archived, drafts, files that do not parse too) and file names. */
function takenNames(dir: string): Taken {
  const scan = new TaskScanner(dir, { keepBody: false }).scan();
  const written = scan.tasks.map((t) => t.id);
  const ids = new Set(written.map(foldId));
  const files = [...scan.tasks.map((t) => t.path), ...scan.errors.map((e) => e.path), ...scan.docs.map((d) => d.path)].map((p) => p.slice(p.lastIndexOf('/') + 1).toLowerCase());
  return { ids, files, written };
}

/** Names taken: folded ids and lowercased file names (to avoid), and the ids as their files write them (to follow). */
interface Taken { ids: Set<string>; files: string[]; written: string[] }

/**
 * The prefix a new Backlog.md id is written with: as the folder's highest-numbered task writes it
 * (`task-1` keeps `task`, `TASK-1` keeps `TASK`), else the config's task_prefix as written, else TASK.
 */
function idPrefix(format: FolderFormat, written: readonly string[], prefix: string): string {
  const re = new RegExp(`^(${prefix})[-_ ]?0*(\\d+)`, 'i');
  let best: { n: number; as: string } | undefined;
  for (const id of written) {
    const m = re.exec(id.trim());
    if (m !== null && (best === undefined || Number(m[2]) > best.n)) best = { n: Number(m[2]), as: m[1] as string };
  }
  const configured = configText(format, 'task_prefix')?.replace(/[-_ ]+$/, '');
  return best?.as ?? (configured !== undefined && configured.toLowerCase() === prefix ? configured : prefix.toUpperCase());
}

/** The highest number after `prefix-` (Backlog.md) or at the start (taskmd, prefix '') among ids and file names. */
function highest(taken: Taken, prefix: string): number {
  const re = prefix === '' ? /^0*(\d+)(?:$|[-_ .])/ : new RegExp(`^${prefix}-0*(\\d+)(?:$|[-_ .])`);
  let max = 0;
  for (const name of [...taken.ids, ...taken.files]) {
    const m = re.exec(name);
    if (m !== null) max = Math.max(max, Number(m[1]));
  }
  return max;
}

function yamlLine(key: string, value: string | readonly string[]): string {
  const v = typeof value === 'string' ? scalarSource(value, undefined) : `[${value.map((i) => scalarSource(i, undefined)).join(', ')}]`;
  return `${key}: ${v}`;
}

/** A text value of the folder's config (Backlog.md's `default_status`, `task_prefix`), if it has one. */
function configText(format: FolderFormat, key: string): string | undefined {
  if (format.config === null) return undefined;
  try {
    const v = parseYamlMapping(fs.readFileSync(format.config, 'utf8'))?.[key];
    return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
  } catch {
    return undefined;
  }
}

interface Planned { rel: string; id: string; text: string }

/** The file this format would write for the task, numbered `n` (Backlog.md, taskmd) or named by its slug with `n` as a suffix past 1 (ours). */
function plan(format: FolderFormat, req: NewTask, word: string, n: number, now: Date, taken: Taken): Planned {
  const title = req.title.trim();
  const extra = Object.entries(req.fields ?? {}).filter(([k]) => !OWN_KEYS.has(k)).map(([k, v]) => yamlLine(k, v));
  const prio = req.priority === undefined ? [] : [yamlLine('priority', req.priority)];
  const body = req.body === undefined || req.body.trim() === '' ? '' : `${req.body.replace(/\r\n?/g, '\n').replace(/\n*$/, '')}\n`;
  const file = (rel: string, id: string, lines: string[], rest: string): Planned => ({ rel, id, text: `---\n${lines.join('\n')}\n---\n${rest}` });
  if (format.kind === 'backlog') {
    const prefix = format.taskPrefix ?? 'task';
    const id = `${idPrefix(format, taken.written, prefix)}-${n}`;
    const name = title.replace(/[<>:"/\\|?*\u0000-\u001f#%&{}$!'@`=+]/g, '').trim().replace(/\s+/g, '-').slice(0, 60) || 'task';
    const lines = [yamlLine('id', id), yamlLine('title', title), yamlLine('status', word), 'assignee: []', `created_date: '${stamp(now)}'`, 'labels: []', 'dependencies: []', ...prio, ...extra];
    const desc = body === '' ? '' : `\n## Description\n\n<!-- SECTION:DESCRIPTION:BEGIN -->\n${body}<!-- SECTION:DESCRIPTION:END -->\n`;
    return file(`tasks/${prefix}-${n} - ${name}.md`, id, lines, desc);
  }
  const day = stamp(now).slice(0, 10);
  if (format.kind === 'taskmd') {
    const id = String(n).padStart(3, '0');
    const lines = [`id: "${id}"`, yamlLine('title', title), yamlLine('status', word), ...prio, `created: ${day}`, ...extra];
    return file(path.posix.join(format.root, `${id}-${slugify(title)}.md`), id, lines, `\n# ${title}\n${body === '' ? '' : `\n${body}`}`);
  }
  let slug = slugify(title);
  for (let k = 2; taken.ids.has(foldId(slug)) || taken.files.includes(`${slug}.md`); k++) slug = `${slugify(title).slice(0, 56)}-${k}`;
  const lines = [yamlLine('id', slug), yamlLine('title', title), yamlLine('status', word), ...prio, `created: ${day}`, ...extra];
  return file(`${slug}.md`, slug, lines, body === '' ? '' : `\n${body}`);
}

/** Creates a task file in the folder's format: Backlog.md `tasks/<prefix>-<N> - <Title>.md`, taskmd `<NNN>-<slug>.md`, ours `<slug>.md`. */
export async function createTask(dir: string, req: NewTask, o: { now?: () => Date } = {}): Promise<EditResult> {
  const title = req.title.trim();
  if (title === '') throw new EditRefused('a task needs a one-line title: title="…"', 2);
  const bad = textProblem(title, TITLE_MAX_CHARS);
  if (bad !== undefined) throw new EditRefused(`the title ${bad}`, 2);
  if (title.length > TITLE_MAX_CHARS) throw new EditRefused(`the title is ${title.length} characters; the limit is ${TITLE_MAX_CHARS}`, 2);
  for (const k of Object.keys(req.fields ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(k) || k === 'id') throw new EditRefused(`\`${k}\` is not a field a new task can be given; use letters, digits, _ . - (not id)`, 2);
  }
  const abs = fs.realpathSync(path.resolve(dir));
  const format = detectFormat(abs);
  const fallback = format.kind === 'backlog' ? configText(format, 'default_status') ?? 'To Do' : format.kind === 'taskmd' ? 'pending' : 'todo';
  let word = statusWord(req.status ?? fallback, format);
  // No status asked and the usual first one is not among the config's: the config's first is the folder's first.
  const first = format.statuses[0];
  if ('problem' in word && req.status === undefined && first !== undefined) word = statusWord(first, format);
  if ('problem' in word) throw new EditRefused(word.problem, 2);
  const now = (o.now ?? (() => new Date()))();
  // One creator at a time per folder: the next free number is read and taken under the lock.
  const held = await acquireLock(`task-new:${abs}`);
  try {
    const taken = takenNames(abs);
    let n = format.kind === 'tasks' ? 1 : highest(taken, format.kind === 'backlog' ? format.taskPrefix ?? 'task' : '') + 1;
    for (let tries = 0; tries < 100; tries++, n++) {
      const p = plan(format, req, word.word, n, now, taken);
      const target = path.join(abs, p.rel);
      // A folder on the way that is a link (a repository can commit one) would take the file outside the tasks folder.
      const linked = linkedFolder(abs, path.dirname(p.rel));
      if (linked !== undefined) throw new EditRefused(`${linked} is a symbolic link; a new task is never written through one (remove the link, or pass dir= the real folder)`);
      if (format.kind === 'backlog') fs.mkdirSync(path.dirname(target), { recursive: true });
      const data = Buffer.from(p.text);
      // A file made meanwhile without our lock (a person, another tool) keeps its name: take the next.
      // `changed` is data (JSON, MCP): the path plain; the terminal line quotes it.
      if (writeNew(target, data)) return { id: p.id, path: p.rel, before: '', version: versionOf(data), changed: [`created ${p.rel}`] };
      taken.files.push(path.basename(p.rel).toLowerCase());
    }
    throw new EditRefused(`no free file name for ${quoteText(title)} after 100 tries`);
  } finally {
    held.release();
  }
}

/** The first folder of rel (under dir) that is a symbolic link, as a path relative to dir; folders not made yet are fine. */
function linkedFolder(dir: string, rel: string): string | undefined {
  let at = dir;
  const parts = rel.split(/[\\/]/).filter((p) => p !== '' && p !== '.');
  for (const [i, part] of parts.entries()) {
    at = path.join(at, part);
    const st = fs.lstatSync(at, { throwIfNoEntry: false });
    if (st === undefined) return undefined;
    if (st.isSymbolicLink()) return parts.slice(0, i + 1).join('/');
  }
  return undefined;
}
