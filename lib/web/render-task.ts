// One task page: metadata, a failed run's next step, claim and worktree, run log, escalation and rendered body.
import { renderMarkdown } from './markdown.ts';
import { type PrShown, type TaskRef, escapeHtml as h, prCi, statusBadge, timeTag } from './html.ts';
import { layout } from './render.ts';
import { type PageClaim, renderClaim, renderRunFailure, renderRunLog, runFailed } from './render-run.ts';
import type { RunLogTail } from './run-log.ts';
import type { Task } from '../tasks/taskfile.ts';

export type { PageClaim } from './render-run.ts';

export interface TaskPageInput {
  readonly project: string;
  readonly task: Task;
  readonly refs: ReadonlyMap<string, TaskRef>;
  readonly escalation: { reason: string; since: string } | undefined;
  readonly claim: PageClaim | undefined;
  readonly pr: PrShown | null;
  /** The CI state shown: the frontmatter's, else the heartbeat's from gh. */
  readonly ci: string;
  readonly runLog: RunLogTail | undefined;
  /** The page is served with the API: link the whole run log. */
  readonly api: boolean;
}

/**
 * tasks/<slug>.html: the seven metadata fields; a failed run's exit and next step with its log
 * right below; escalation, dependencies, PR/CI, claim (with the worktree), the run log, progress, body.
 */
export function renderTaskPage(p: TaskPageInput): string {
  const t = p.task;
  const meta: [string, string][] = [
    ['ID', h(t.id)], ['Status', statusBadge(t.status)], ['Priority', value(t.priority)], ['Milestone', value(t.milestone)],
    ['Owner', value(t.owner)], ['Completed by', value(t.completedBy)], ['Completed', value(t.completed)],
  ];
  const failed = p.claim !== undefined && runFailed(p.claim);
  const log = p.runLog === undefined ? '' : renderRunLog(p.runLog, t.id, p.api, failed);
  const sections = [
    failed && p.claim !== undefined ? renderRunFailure(p.claim, t.id) : '',
    failed ? log : '',
    p.escalation === undefined ? '' : `<section id="escalation" class="warn"><h2>Escalation</h2><p>${h(p.escalation.reason)} <span class="since">since ${timeTag(p.escalation.since)}</span></p></section>`,
    renderDependencies(t.dependsOn, p.refs),
    p.pr === null && p.ci === 'unknown' ? '' : `<section id="pr"><h2>Pull request</h2><p>${prCi(p.pr, p.ci)}</p></section>`,
    p.claim === undefined ? '' : renderClaim(p.claim, p.pr, p.ci),
    failed ? '' : log,
    t.progress.total === 0 ? '' : `<section id="progress"><h2>Plan progress</h2><p><progress value="${t.progress.done}" max="${t.progress.total}"></progress> ${t.progress.done}/${t.progress.total} done</p></section>`,
  ].filter((s) => s !== '');
  const body = `<header><a href="../index.html">← ${h(p.project)} Tasks</a><p id="live" role="status"></p></header>
<main data-task-id="${h(t.id)}">
<h1>${h(t.title)}</h1>
<p class="path"><code>${h(t.path)}</code></p>
<dl class="meta">${meta.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>
${sections.join('\n')}
<article class="body">
${renderMarkdown(t.body)}</article>
</main>`;
  return layout(`${t.id}: ${t.title} · ${p.project} Tasks`, '../', body);
}

function value(v: string | null): string {
  return v === null ? '<span class="none">—</span>' : h(v);
}

function renderDependencies(ids: readonly string[], refs: ReadonlyMap<string, TaskRef>): string {
  if (ids.length === 0) return '';
  const items = ids.map((id) => {
    const ref = refs.get(id);
    return ref === undefined
      ? `<li class="missing">${h(id)} <span class="bad">missing</span></li>`
      : `<li><a href="${h(ref.page)}.html">${h(id)}</a> ${statusBadge(ref.status)} ${h(ref.title)}</li>`;
  });
  return `<section id="deps"><h2>Dependencies (${ids.length})</h2><ul>${items.join('')}</ul></section>`;
}
