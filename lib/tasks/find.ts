// Resolving an id= word to one task among the task files (and whatever else the caller knows of, such as the registry's claims); an ambiguous word is refused.
import { quoteText } from '../base/controls.ts';
import { usageError } from '../base/errors.ts';
import { idKey } from './ids.ts';
import { referenceRank, taskIndex } from './model.ts';
import { TaskScanner } from './scan.ts';
import type { Task } from './taskfile.ts';

/** A task one step of the lookup found: in a file, or (from `others`) only elsewhere, such as a claim whose file is gone. */
export interface Candidate { readonly id: string; readonly slug: string; readonly task: Task | undefined; readonly where: string }

/** Whether an id or a file name matches the word, the way one step compares. */
export type Match = (name: string) => boolean;

/** Candidates besides the files (ids no file has), for a step: by id or by file name. */
export type Others = (by: 'id' | 'slug', match: Match, fileIds: ReadonlySet<string>) => Candidate[];

/**
 * Resolves id= to one task, in steps: the exact id, the exact file name (slug), either one in
 * another case, then the way dependencies resolve (leading zeros and separators, and in Backlog.md
 * `task-` or no prefix for its own task prefix: `24.1` names BACK-24.1; never another prefix). The
 * first step that finds anything decides. Of files with one id the active one wins (then a draft,
 * then an archived copy), and files win over `others` of the same id. A step that finds tasks with
 * different ids is refused: like an id that names nothing, a usage error (exit 2) that says what to
 * type instead.
 */
export function findCandidate(dir: string, word: string, others: Others = () => []): Candidate {
  const scanned = new TaskScanner(dir, { keepBody: false }).scan().tasks;
  const tasks = [0, 1, 2].flatMap((r) => scanned.filter((t) => referenceRank(t) === r));
  const fileIds = new Set(tasks.map((t) => t.id));
  // NFC on both sides: café typed as é or as e + U+0301 is one id (idKey).
  const key = idKey(word);
  const lower = key.toLowerCase();
  const exact: Match = (n) => idKey(n) === key;
  const anyCase: Match = (n) => idKey(n).toLowerCase() === lower;
  const byId = (m: Match): Candidate[] => [...tasks.filter((t) => m(t.id)).map(fromFile), ...others('id', m, fileIds)];
  const bySlug = (m: Match): Candidate[] => [...tasks.filter((t) => m(t.slug)).map(fromFile), ...others('slug', m, fileIds)];
  const steps: (() => Candidate[])[] = [
    () => byId(exact),
    () => bySlug(exact),
    () => [...byId(anyCase), ...bySlug(anyCase)],
    () => taskIndex(tasks).matches(word).map(fromFile),
  ];
  for (const step of steps) {
    const candidates = distinct(step());
    const [only] = candidates;
    if (candidates.length === 1 && only !== undefined) return only;
    if (candidates.length > 1) {
      const list = candidates.map((c) => `${quoteText(c.id)} (${c.where})`).join(', ');
      throw usageError(`\`${quoteText(word)}\` names ${candidates.length} tasks: ${list}; give the exact id`);
    }
  }
  throw usageError(`unknown task \`${quoteText(word)}\`: no task file, claim or released claim has that id or file name; see the tasks with: just tasks status`);
}

function fromFile(t: Task): Candidate {
  return { id: t.id, slug: t.slug, task: t, where: quoteText(t.path) };
}

/** One candidate per id, the first found (tasks come best first); files of a lesser rank than the best found are dropped. */
function distinct(list: readonly Candidate[]): Candidate[] {
  const ranks = list.flatMap((c) => (c.task ? [referenceRank(c.task)] : []));
  const best = Math.min(...ranks);
  const kept = new Map<string, Candidate>();
  for (const c of list) if (!kept.has(c.id) && (c.task === undefined || referenceRank(c.task) === best)) kept.set(c.id, c);
  return [...kept.values()];
}
