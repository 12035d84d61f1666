// One task page: metadata, dates and labels, parent, subtasks, dependencies and what it blocks, a failed run's next step, claim and worktree, run log, escalation and rendered body.
import { renderMarkdown } from './markdown.ts';
import { type PrShown, escapeHtml as h, isOverdue, prCi, siteTitle, statusBadge, timeTag } from './html.ts';
import type { RelatedTask, ResolvedRef, TaskRelated } from './relations.ts';
import { layout } from './render.ts';
import { type PageClaim, renderClaim, renderRunFailure, renderRunLog, retryCommand, runFailed } from './render-run.ts';
import type { WebHold } from './snapshot-read.ts';
import type { RunLogTail } from './run-log.ts';
import { TASK_FILE_CAP, type Task } from '../../tasks/taskfile.ts';

export type { PageClaim } from './render-run.ts';

export interface TaskPageInput {
  readonly project: string;
  readonly task: Task;
  /** Its parent, dependencies, subtasks and the tasks it blocks (relations.ts). */
  readonly related: TaskRelated;
  /** The build's time: a `due` day before this one's is overdue. */
  readonly now: Date;
  readonly escalation: { reason: string; since: string } | undefined;
  readonly claim: PageClaim | undefined;
  readonly pr: PrShown | null;
  /** The CI state shown: the frontmatter's, else the heartbeat's from gh. */
  readonly ci: string;
  readonly runLog: RunLogTail | undefined;
  /** The page is served with the API: link the whole run log. */
  readonly api: boolean;
  /** Released by an operator and held back from dispatch. */
  readonly hold: WebHold | undefined;
  /** ` dir=…` for hints when the tasks folder is not the default one, else ''. */
  readonly folderWords: string;
}

/**
 * tasks/<slug>.html: the seven metadata fields (an unknown status with its hint, every owner), then
 * labels, dates, due (overdue marked) and effort; a failed run's exit and next step with its log
 * right below; escalation, parent, subtasks, dependencies, what it blocks, PR/CI, claim (with the
 * worktree), the run log, acceptance and plan progress, body (a first H1 equal to the title left out).
 */
export function renderTaskPage(p: TaskPageInput): string {
  const t = p.task;
  const owners = t.owners.length > 0 ? t.owners : t.owner === null ? [] : [t.owner];
  const meta: [string, string][] = [
    ['ID', h(t.id)], ['Status', status(t)], ['Priority', value(t.priority)], ['Milestone', value(t.milestone)],
    [owners.length > 1 ? 'Owners' : 'Owner', owners.length === 0 ? value(null) : owners.map(h).join(', ')],
    ['Completed by', value(t.completedBy)], ['Completed', value(t.completed)],
  ];
  const overdue = isOverdue(t, p.now);
  const facts: [string, string, string][] = [
    ['Labels', 'labels', t.labels.length === 0 ? '' : `<ul class="labels">${t.labels.map((l) => `<li class="label">${h(l)}</li>`).join('')}</ul>`],
    ['Created', 'created', t.created === null ? '' : h(t.created)],
    ['Updated', 'updated', t.updated === null ? '' : h(t.updated)],
    ['Due', 'due', t.due === null ? '' : overdue ? `<span class="overdue">${h(t.due)} <strong>overdue</strong></span>` : h(t.due)],
    ['Effort', 'effort', t.effort === null ? '' : h(t.effort)],
  ];
  const shownFacts = facts.filter(([, , v]) => v !== '');
  const failed = p.claim !== undefined && runFailed(p.claim);
  const log = p.runLog === undefined ? '' : renderRunLog(p.runLog, t.id, p.api, failed);
  const r = p.related;
  const sections = [
    p.hold === undefined ? '' : renderHold(p.hold, t.id, p.folderWords),
    failed && p.claim !== undefined ? renderRunFailure(p.claim, t.id, p.folderWords) : '',
    failed ? log : '',
    p.escalation === undefined ? '' : `<section id="escalation" class="warn"><h2>Escalation</h2><p>${h(p.escalation.reason)} <span class="since">since ${timeTag(p.escalation.since)}</span></p></section>`,
    r.parent === null ? '' : `<section id="parent"><h2>Parent</h2><p${r.parent.task === null ? ' class="missing"' : ''}>${resolved(r.parent)}</p></section>`,
    r.children.length === 0 ? '' : `<section id="subtasks"><h2>Subtasks (${doneOf(r.children)})</h2>${list(r.children)}</section>`,
    r.dependencies.length === 0 ? '' : `<section id="deps"><h2>Dependencies (${r.dependencies.length})</h2><ul>${r.dependencies.map((d) => `<li${d.task === null ? ' class="missing"' : ''}>${resolved(d)}</li>`).join('')}</ul></section>`,
    r.blocks.length === 0 ? '' : `<section id="blocks"><h2>Blocks (${r.blocks.length})</h2>${list(r.blocks)}</section>`,
    p.pr === null && p.ci === 'unknown' ? '' : `<section id="pr"><h2>Pull request</h2><p>${prCi(p.pr, p.ci)}</p></section>`,
    p.claim === undefined ? '' : renderClaim(p.claim, p.pr, p.ci, t, p.folderWords),
    failed ? '' : log,
    progress('acceptance', 'Acceptance criteria', t.acceptance, 'met'),
    // The plan counts the checkboxes that are not acceptance criteria.
    progress('progress', 'Plan progress', { done: t.progress.done - t.acceptance.done, total: t.progress.total - t.acceptance.total }, 'done'),
  ].filter((s) => s !== '');
  const body = `<header><a href="../index.html">← ${h(siteTitle(p.project))}</a><p id="live" role="status"></p></header>
<main data-task-id="${h(t.id)}">
<h1>${h(t.title)}</h1>
<p class="path"><code>${h(t.path)}</code>${t.archived ? ' <span class="archived">archived</span>' : ''}</p>
<dl class="meta">${meta.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>
${shownFacts.length === 0 ? '' : `<dl class="meta facts" id="facts">${shownFacts.map(([k, c, v]) => `<dt>${k}</dt><dd class="${c}">${v}</dd>`).join('')}</dl>\n`}${sections.join('\n')}
<article class="body">
${renderMarkdown(t.body, { title: t.title })}${omittedNote(t)}</article>
</main>`;
  return layout(`${t.id}: ${t.title} · ${siteTitle(p.project)}`, '../', body);
}

/**
 * The line under a body cut at TASK_FILE_CAP: how much was left out and where to read it whole.
 * The server serves no raw task files (a repository is hostile input), so it names the file.
 */
export function omittedNote(f: { readonly path: string; readonly omittedBytes?: number }): string {
  const left = f.omittedBytes ?? 0;
  if (left <= 0) return '';
  return `\n<p id="omitted" class="omitted">The body is cut here: ${mib(left)} (${left} bytes) more are not shown, because a task file is read only up to its first ${mib(TASK_FILE_CAP)}. ` +
    `Open <code>${h(f.path)}</code> in the tasks folder to read it whole.</p>\n`;
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** The banner of a held task: since when, who released it, and the command that dispatches it again. */
function renderHold(hold: WebHold, id: string, folder: string): string {
  return `<section id="held" class="warn"><h2>Held</h2><p>Held since ${timeTag(hold.since)} (released by ${h(hold.by)}): the heartbeat does not dispatch it. ` +
    `<code>${h(retryCommand(id, folder))}</code> to dispatch it again at the next tick.</p></section>`;
}

function value(v: string | null): string {
  return v === null ? '<span class="none">—</span>' : h(v);
}

/** The status badge; an unknown status says so, with the model's guess when it has one. */
function status(t: Task): string {
  if (t.statusKnown) return statusBadge(t.status);
  const hint = t.statusHint === null ? '' : `: ${t.statusHint}`;
  return `${statusBadge(t.status)} <span class="hint">unknown status '${h(t.status)}'${h(hint)}</span>`;
}

/** A related task: its id linked to its page, its status and title. */
function related(t: RelatedTask): string {
  return `<a href="${h(t.page)}.html">${h(t.id)}</a> ${statusBadge(t.status)} ${h(t.title)}`;
}

/** A reference as written: linked to the task it resolves to (saying how it was written when that differs), or marked missing. */
function resolved(r: ResolvedRef): string {
  if (r.task === null) return `${h(r.ref)} <span class="bad">missing</span>`;
  return r.task.id === r.ref ? related(r.task) : `${related(r.task)} <span class="as">(written ${h(r.ref)})</span>`;
}

function list(tasks: readonly RelatedTask[]): string {
  return `<ul>${tasks.map((t) => `<li>${related(t)}</li>`).join('')}</ul>`;
}

/** "3, 1 completed": how many subtasks, and how many of them are done. */
function doneOf(tasks: readonly RelatedTask[]): string {
  const done = tasks.filter((t) => t.status === 'completed').length;
  return `${tasks.length}, ${done} completed`;
}

function progress(id: string, title: string, p: { done: number; total: number }, word: string): string {
  if (p.total === 0) return '';
  return `<section id="${id}"><h2>${title}</h2><p><progress value="${p.done}" max="${p.total}"></progress> ${p.done}/${p.total} ${word}</p></section>`;
}
