// Finding the task an operator names with id=: by id or file name (slug), in the files and the registry, with its claim and last release.
import type { Claim, Registry, Released } from '../manager/registry.ts';
import { type Candidate, findCandidate } from '../tasks/find.ts';

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

/**
 * Resolves id= to one task (lib/tasks/find.ts has the steps), with the registry's claims and
 * releases whose file is gone as candidates too: files win over them. An unknown or ambiguous word
 * is a usage error (exit 2), before anything is written or stopped. reg: the registry as the
 * action's store has it (undefined: none, or a damaged file).
 */
export function findTask(dir: string, word: string, reg: Registry | undefined): TaskRef {
  return refOf(findCandidate(dir, word, (by, match, fileIds) => registryOnly(reg, fileIds, (c) => match(by === 'id' ? c.id : c.slug))), reg);
}

/** Claims and releases (newest first) that match and whose id no file has: their task's file is gone. */
function registryOnly(reg: Registry | undefined, fileIds: ReadonlySet<string>, match: (c: { id: string; slug: string }) => boolean): Candidate[] {
  const claimed = Object.values(reg?.claims ?? {}).map((c) => ({ id: c.id, slug: c.slug, task: undefined, where: 'no file; claimed' }));
  const released = [...(reg?.history ?? [])].reverse().map((h) => ({ id: h.id, slug: h.slug, task: undefined, where: 'no file; released' }));
  return [...claimed, ...released].filter((c) => !fileIds.has(c.id) && match(c));
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
