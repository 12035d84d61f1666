// Finding the task an operator names with id=: by id or file name (slug), in the files and the registry; an ambiguous id is refused.
import { quoteText } from '../base/controls.ts';
import { usageError } from '../base/errors.ts';
import type { Claim, Registry, Released } from '../manager/registry.ts';
import { idKey } from '../tasks/ids.ts';
import { TaskScanner } from '../tasks/scan.ts';
import { referenceRank, taskIndex } from '../tasks/model.ts';
import type { Task } from '../tasks/taskfile.ts';

/** The task behind an id= word: what the files and the registry know of it. */
export interface TaskRef {
  readonly id: string;
  readonly slug: string;
  /** The task's file relative to the tasks folder, when a file holds it now. */
  readonly path: string | undefined;
  /** Its current claim, if any, and the registry key it sits under. */
  readonly claim: { readonly key: string; readonly claim: Claim } | undefined;
  /** Its last released claim, if any (newest first). */
  readonly released: Released | undefined;
}

/** A task one step of the lookup found: in a file, or only in the registry (a claim or a release whose file is gone). */
interface Candidate { readonly id: string; readonly slug: string; readonly task: Task | undefined; readonly where: string }

type Match = (name: string) => boolean;

/**
 * Resolves id= to one task, in steps: the exact id, the exact file name (slug), either one in
 * another case, then the way dependencies resolve (leading zeros and separators, and in Backlog.md
 * `task-` or no prefix for its own task prefix: `24.1` names BACK-24.1; never another prefix). The
 * first step that finds anything decides. Of files with one id the active one wins (then a draft,
 * then an archived copy), and files win over registry entries of the same id. A step that finds
 * tasks with different ids is refused: like an id that names nothing, a usage error (exit 2) that
 * says what to type instead, before anything is written or stopped. reg: the registry as the
 * action's store has it (undefined: none, or a damaged file).
 */
export function findTask(dir: string, word: string, reg: Registry | undefined): TaskRef {
  const scanned = new TaskScanner(dir, { keepBody: false }).scan().tasks;
  const tasks = [0, 1, 2].flatMap((r) => scanned.filter((t) => referenceRank(t) === r));
  const fileIds = new Set(tasks.map((t) => t.id));
  // NFC on both sides: café typed as é or as e + U+0301 is one id (idKey).
  const key = idKey(word);
  const lower = key.toLowerCase();
  const exact: Match = (n) => idKey(n) === key;
  const anyCase: Match = (n) => idKey(n).toLowerCase() === lower;
  const byId = (m: Match): Candidate[] => [...tasks.filter((t) => m(t.id)).map(fromFile), ...registryOnly(reg, fileIds, (c) => m(c.id))];
  const bySlug = (m: Match): Candidate[] => [...tasks.filter((t) => m(t.slug)).map(fromFile), ...registryOnly(reg, fileIds, (c) => m(c.slug))];
  const steps: (() => Candidate[])[] = [
    () => byId(exact),
    () => bySlug(exact),
    () => [...byId(anyCase), ...bySlug(anyCase)],
    () => taskIndex(tasks).matches(word).map(fromFile),
  ];
  for (const step of steps) {
    const candidates = distinct(step());
    const [only] = candidates;
    if (candidates.length === 1 && only !== undefined) return refOf(only, reg);
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

/** Claims and releases (newest first) that match and whose id no file has: their task's file is gone. */
function registryOnly(reg: Registry | undefined, fileIds: ReadonlySet<string>, match: (c: { id: string; slug: string }) => boolean): Candidate[] {
  const claimed = Object.values(reg?.claims ?? {}).map((c) => ({ id: c.id, slug: c.slug, task: undefined, where: 'no file; claimed' }));
  const released = [...(reg?.history ?? [])].reverse().map((h) => ({ id: h.id, slug: h.slug, task: undefined, where: 'no file; released' }));
  return [...claimed, ...released].filter((c) => !fileIds.has(c.id) && match(c));
}

/** One candidate per id, the first found (tasks come best first); files of a lesser rank than the best found are dropped. */
function distinct(list: readonly Candidate[]): Candidate[] {
  const ranks = list.flatMap((c) => (c.task ? [referenceRank(c.task)] : []));
  const best = Math.min(...ranks);
  const kept = new Map<string, Candidate>();
  for (const c of list) if (!kept.has(c.id) && (c.task === undefined || referenceRank(c.task) === best)) kept.set(c.id, c);
  return [...kept.values()];
}

/** The claim and the last release that belong to the task found. */
function refOf(c: Candidate, reg: Registry | undefined): TaskRef {
  // A claim follows its task by id; by slug too, when the file's id was edited since it was claimed.
  const key = Object.keys(reg?.claims ?? {}).find((k) => {
    const claim = reg?.claims[k];
    return claim !== undefined && (claim.id === c.id || (c.task !== undefined && claim.slug === c.slug));
  });
  const claim = key === undefined ? undefined : reg?.claims[key];
  const released = [...(reg?.history ?? [])].reverse().find((h) => h.id === c.id);
  return { id: c.id, slug: c.slug, path: c.task?.path, claim: key !== undefined && claim ? { key, claim } : undefined, released };
}
