// Where each page of the site lives: task pages and the pages of docs, decisions and milestones, by kind and slug.
import type { Task } from '../../tasks/taskfile.ts';

/** The kinds of markdown files that are not tasks; each has a section on the index and a page of its own. */
export type PageKind = 'doc' | 'decision' | 'milestone';

/** A doc, decision or milestone as the index lists it (the scan's entry has these fields and its body). */
export interface KindEntry {
  readonly kind: PageKind;
  readonly id: string;
  readonly title: string;
  readonly slug: string;
  /** Under an archive/ folder: listed, marked archived. */
  readonly archived?: boolean;
}

/** The build folder's subfolder of each kind's pages (tasks live in `tasks/`). */
export const KIND_FOLDERS: Readonly<Record<PageKind, string>> = { doc: 'docs', decision: 'decisions', milestone: 'milestones' };

/** The kinds in the order the index shows their sections. */
export const PAGE_KINDS: readonly PageKind[] = ['milestone', 'decision', 'doc'];

/** A page's file name: the slug with anything outside [A-Za-z0-9._-] replaced by '_', never hidden. */
export function pageName(slug: string): string {
  const name = slug.replace(/[^A-Za-z0-9._-]/gu, '_');
  // A leading dot would make a dotfile the static server refuses; 200 keeps `<name>.html` under NAME_MAX.
  return (name === '' || name.startsWith('.') ? `_${name}` : name).slice(0, 200);
}

/**
 * The page of a doc, decision or milestone, relative to the site root: `docs/<page>.html`,
 * `decisions/<page>.html`, `milestones/<page>.html`. From the index link it as is; from a page
 * one folder down, prefix `../`.
 */
export function kindPage(kind: PageKind, slug: string): string {
  return `${KIND_FOLDERS[kind]}/${pageName(slug)}.html`;
}

/** Names made distinct in list order: a name an earlier one took (case-insensitively, for macOS and Windows) gets `_2`, `_3`… */
export function distinctNames(names: readonly string[]): string[] {
  const taken = new Set<string>();
  return names.map((base) => {
    let name = base;
    for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${base}_${n}`;
    taken.add(name.toLowerCase());
    return name;
  });
}

/**
 * The pages of a list of docs, decisions and milestones, in list order: kindPage, made distinct
 * (distinctNames). The index and the pages both call this with the scan's list, so their links agree.
 */
export function kindPages(list: readonly { readonly kind: PageKind; readonly slug: string }[]): string[] {
  return distinctNames(list.map((e) => kindPage(e.kind, e.slug).slice(0, -'.html'.length))).map((name) => `${name}.html`);
}

/**
 * Page names in task order; a name taken by an earlier task gets a suffix (distinctNames). Active
 * tasks choose first, so an archived copy with the same file name never moves the active task's page.
 */
export function assignPages(tasks: readonly Task[]): string[] {
  const order = [...tasks.keys()].sort((a, b) => Number((tasks[a] as Task).archived) - Number((tasks[b] as Task).archived) || a - b);
  const names = distinctNames(order.map((i) => pageName((tasks[i] as Task).slug)));
  const out: string[] = new Array<string>(tasks.length);
  order.forEach((i, k) => { out[i] = names[k] as string; });
  return out;
}
