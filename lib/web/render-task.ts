// One task page: metadata, claim, escalation and rendered body.
import { renderMarkdown } from './markdown.ts';
import { escapeHtml as h, layout, prCi, statusBadge, timeTag } from './render.ts';
import type { TaskRef } from './render.ts';
import type { Task } from '../tasks/taskfile.ts';
import type { SnapshotClaim } from '../manager/tick.ts';

/** A claim as a task page shows it: without `ageS`, which changes every tick (the client computes ages). */
export type PageClaim = Omit<SnapshotClaim, 'ageS'>;

export interface TaskPageInput {
  readonly project: string;
  readonly task: Task;
  readonly refs: ReadonlyMap<string, TaskRef>;
  readonly escalation: { reason: string; since: string } | undefined;
  readonly claim: PageClaim | undefined;
}

/** tasks/<slug>.html: the seven metadata fields, dependencies, PR/CI, claim, progress, escalation and the body. */
export function renderTaskPage(p: TaskPageInput): string {
  const t = p.task;
  const meta: [string, string][] = [
    ['ID', h(t.id)], ['Status', statusBadge(t.status)], ['Priority', value(t.priority)], ['Milestone', value(t.milestone)],
    ['Owner', value(t.owner)], ['Completed by', value(t.completedBy)], ['Completed', value(t.completed)],
  ];
  const sections = [
    p.escalation === undefined ? '' : `<section id="escalation" class="warn"><h2>Escalation</h2><p>${h(p.escalation.reason)} <span class="since">since ${timeTag(p.escalation.since)}</span></p></section>`,
    renderDependencies(t.dependsOn, p.refs),
    t.pr === null && t.ci === 'unknown' ? '' : `<section id="pr"><h2>Pull request</h2><p>${prCi(t.pr, t.ci)}</p></section>`,
    p.claim === undefined ? '' : renderClaim(p.claim),
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

function renderClaim(c: PageClaim): string {
  const rows: [string, string][] = [
    ['Claimed by', h(c.claimedBy)], ['Owner', h(c.owner)], ['Claimed', timeTag(c.claimedAt)], ['Started', timeTag(c.startedAt)],
    ['State', h(c.state)], ['Pid', c.pid === null ? '—' : String(c.pid)],
    ['Exit code', c.exitCode === null ? '—' : `<span class="${c.exitCode === 0 ? 'ok' : 'bad'}">${c.exitCode}</span>`],
    ['Ended', timeTag(c.endedAt)],
    ['Worktree', `<code>${h(c.worktree)}</code> ${c.worktreeExists ? '<span class="ok">exists</span>' : '<span class="bad">missing</span>'}`],
    ['Log', c.log === null ? '—' : `<code>${h(c.log)}</code>`],
    ['PR / CI', prCi(c.pr, c.ci)],
  ];
  return `<section id="claim"><h2>Claim</h2><dl>${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl></section>`;
}
