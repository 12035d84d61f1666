// The pages of docs, decisions and milestones: title, file, rendered body, a milestone's tasks, and a way back to the dashboard.
import { escapeHtml as h, siteTitle, statusBadge } from './html.ts';
import { renderMarkdown } from './markdown.ts';
import { type PageKind, KIND_FOLDERS, kindPages } from './pages.ts';
import type { RelatedTask } from './relations.ts';
import { layout } from './render.ts';
import { omittedNote } from './render-task.ts';
import type { DocFile, Task } from '../../tasks/taskfile.ts';

export interface DocPageInput {
  readonly project: string;
  /** A doc, decision or milestone as the scan returns it (what the page shows of it). */
  readonly doc: Pick<DocFile, 'id' | 'title' | 'slug' | 'path' | 'body' | 'omittedBytes'> & { readonly kind: PageKind; readonly archived?: boolean };
  /** For a milestone, the tasks that name it (their `page` is the file name in tasks/); shown as a list when given. */
  readonly tasks?: readonly RelatedTask[];
}

const KIND_TITLES: Readonly<Record<PageKind, string>> = { doc: 'Doc', decision: 'Decision', milestone: 'Milestone' };

/**
 * `docs/<page>.html`, `decisions/<page>.html` or `milestones/<page>.html` (pages.ts): one folder
 * below the site root, like a task page. The kind and id, the title, the file, for a milestone its
 * tasks, and the body as markdown (a first H1 equal to the title is not repeated).
 */
export function renderDocPage(p: DocPageInput): string {
  const d = p.doc;
  const kind = KIND_TITLES[d.kind];
  const tasks = p.tasks === undefined ? '' : `<section id="milestone-tasks"><h2>Tasks (${p.tasks.length})</h2>${p.tasks.length === 0
    ? '<p class="none">none</p>'
    : `<ul>${p.tasks.map((t) => `<li><a href="../tasks/${h(t.page)}.html">${h(t.id)}</a> ${statusBadge(t.status)} ${h(t.title)}</li>`).join('')}</ul>`}</section>\n`;
  const body = `<header><a href="../index.html#${KIND_FOLDERS[d.kind]}">← ${h(siteTitle(p.project))}</a><p id="live" role="status"></p></header>
<main data-doc-kind="${h(d.kind)}" data-doc-id="${h(d.id)}">
<p class="kind">${kind} <code>${h(d.id)}</code></p>
<h1>${h(d.title)}</h1>
<p class="path"><code>${h(d.path)}</code>${d.archived === true ? ' <span class="archived">archived</span>' : ''}</p>
${tasks}<article class="body">
${renderMarkdown(d.body, { title: d.title })}${omittedNote(d)}</article>
</main>`;
  return layout(`${kind}: ${d.title} · ${siteTitle(p.project)}`, '../', body);
}

/** One doc, decision or milestone page of a build: where it goes, what it shows (compared between builds), and its HTML. */
export interface DocPageOut {
  /** Relative to the site root: `docs/<page>.html` (pages.ts). */
  readonly rel: string;
  readonly signature: string;
  readonly render: () => string;
}

/**
 * The pages of the scan's docs, decisions and milestones, at the paths the index links to
 * (kindPages). A milestone lists the tasks whose `milestone` names its id or title (any case).
 */
export function docPages(project: string, docs: readonly (DocPageInput['doc'])[], tasks: readonly Task[], pageOf: (t: Task) => string): DocPageOut[] {
  const rels = kindPages(docs);
  const fold = (s: string): string => s.trim().toLowerCase();
  return docs.map((doc, i) => {
    const names = new Set([fold(doc.id), fold(doc.title)]);
    const listed = doc.kind !== 'milestone' ? undefined : tasks.filter((t) => t.milestone !== null && names.has(fold(t.milestone)))
      .map((t) => ({ id: t.id, page: pageOf(t), status: t.status, title: t.title }));
    const input: DocPageInput = listed === undefined ? { project, doc } : { project, doc, tasks: listed };
    return {
      rel: rels[i] as string,
      signature: JSON.stringify([project, doc.kind, doc.id, doc.title, doc.path, doc.archived ?? false, doc.body, doc.omittedBytes ?? 0, listed ?? null]),
      render: () => renderDocPage(input),
    };
  });
}
