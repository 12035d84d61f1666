// The run side of the pages: claims and their worktrees, a failed run's next step, and the run log tail.
import { type PrShown, type TaskRef, escapeHtml as h, prCi, taskLink, timeTag } from './html.ts';
import { TAIL_DEFAULT, type RunLogTail } from './run-log.ts';
import type { WebClaim } from './snapshot-read.ts';
import type { SnapshotRegistry } from '../../manager/tick.ts';
import { showLines } from '../client/logtext.ts';
import { shellArg } from '../../base/shellword.ts';

/** A claim as a task page shows it: without `ageS`, which changes every tick (the client computes ages). */
export type PageClaim = Omit<WebClaim, 'ageS'>;

/** What the pages show of a task's PR and CI, by task id. */
export type Shown = ReadonlyMap<string, { readonly pr: PrShown | null; readonly ci: string }>;

/** The command that makes a task dispatchable again (the CLI's `retry`); `folder` names a tasks folder that is not the default one (` dir=…`). */
export function retryCommand(id: string, folder = ''): string {
  return `just tasks retry ${shellArg('id', id)}${folder}`;
}

/** True when a run ended well (exit 0) but its task's file does not say it is finished: the heartbeat keeps the claim. */
export function doneButOpen(c: Pick<WebClaim, 'state' | 'exitCode'>, status: string | undefined): boolean {
  return c.state === 'exited' && c.exitCode === 0 && status !== undefined && status !== 'completed' && status !== 'cancelled';
}

/** What happens next to a run that exited 0 while its file still says `status`: what claims.ts does, in words. */
function doneButOpenNote(status: string, id: string, folder: string): string {
  return `The run exited 0, but the task still says <b>${h(status)}</b>, so it stays claimed and is not dispatched again until its file says completed or cancelled` +
    ` (the heartbeat then releases the claim at its next tick). To run it again now: <code>${h(retryCommand(id, folder))}</code>; to free it and hold it back: <code>${h(`just tasks release ${shellArg('id', id)}${folder}`)}</code>.`;
}

/** True when the claim's run ended badly: a non-zero exit, stopped with its heartbeat, or timed out. */
export function runFailed(c: Pick<WebClaim, 'state' | 'exitCode'>): boolean {
  return (c.state === 'exited' && c.exitCode !== null && c.exitCode !== 0) || c.state === 'interrupted' || c.state === 'timed_out';
}

const count = (n: unknown): number | undefined => (typeof n === 'number' && Number.isFinite(n) ? n : undefined);
const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;

/**
 * The worktree's path and whether it exists. Missing is red only when a worktree was expected; with
 * worktrees off (or outside git) there is none to miss; a snapshot that does not say is neutral.
 */
export function worktreeState(c: PageClaim): string {
  if (c.worktreeExists) return `<code>${h(c.worktree)}</code> <span class="ok">exists</span>`;
  if (c.worktreeExpected === false) return '<span class="none">none (worktrees off)</span>';
  return `<code>${h(c.worktree)}</code> <span class="${c.worktreeExpected === true ? 'bad' : 'none'}">missing</span>`;
}

/** Branch, uncommitted files and commits ahead of base, each only when the snapshot knows it. */
function worktreeFacts(c: PageClaim): { branch?: string; dirty?: string; ahead?: string } {
  const dirty = count(c.dirtyFiles);
  const ahead = count(c.ahead);
  const base = typeof c.base === 'string' && c.base !== '' ? ` of <code>${h(c.base)}</code>` : ' of base';
  return {
    ...(typeof c.branch === 'string' && c.branch !== '' ? { branch: `<code>${h(c.branch)}</code>` } : {}),
    ...(dirty === undefined ? {} : { dirty: dirty === 0 ? '<span class="ok">clean</span>' : `<span class="dirty">${plural(dirty, 'dirty file')}</span>` }),
    ...(ahead === undefined ? {} : { ahead: `${plural(ahead, 'commit')} ahead${base}` }),
  };
}

/** The claims table of the index: who runs what, where, and how it went. */
export function renderClaims(claims: readonly WebClaim[] | undefined, refs: ReadonlyMap<string, TaskRef>, shown: Shown, now: Date, none: string): string {
  const waits = '<br><small class="next">stays claimed until its file says completed or cancelled</small>';
  const list = claims ?? [];
  // A shared registry's claims each name their host: a column only then, so one machine's table stays as it was.
  const hosts = list.some((c) => c.host !== undefined);
  const rows = list.map((c) => {
    const f = worktreeFacts(c);
    const facts = [f.branch, f.dirty, f.ahead].filter((x) => x !== undefined);
    const s = shown.get(c.id);
    const failed = runFailed(c);
    return `<tr${failed ? ' class="esc"' : ''}><td>${taskLink(c.id, refs, 'tasks/')}</td>${hosts ? `<td>${h(c.host ?? '—')}</td>` : ''}<td>${h(c.owner)}</td><td>${timeTag(c.claimedAt, now)}</td>` +
      `<td>${worktreeState(c)}${facts.length ? `<br><small>${facts.join(' · ')}</small>` : ''}</td>` +
      `<td>${c.pid ?? '—'}</td><td>${h(c.state)}${doneButOpen(c, refs.get(c.id)?.status) ? waits : ''}</td><td${failed ? ' class="bad"' : ''}>${c.exitCode ?? '—'}</td><td>${prCi(s?.pr ?? null, s?.ci ?? c.ci)}</td></tr>`;
  });
  const content = claims === undefined ? none : list.length === 0 ? '<p class="none">No claims.</p>'
    : `<div class="scroll"><table><thead><tr><th>Task</th>${hosts ? '<th>Host</th>' : ''}<th>Owner</th><th>Claimed</th><th>Worktree</th><th>Pid</th><th>State</th><th>Exit</th><th>PR / CI</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
  return `<section id="claims"><h2>Claims (${list.length})</h2>${content}</section>`;
}

/** The task page's claim: who, when, the run's state and exit, the worktree and its git state, PR/CI. */
export function renderClaim(c: PageClaim, pr: PrShown | null, ci: string, task: { readonly id: string; readonly status: string }, folder: string): string {
  const f = worktreeFacts(c);
  const rows: [string, string][] = [
    ['Claimed by', h(c.claimedBy)], ...(c.host === undefined ? [] : [['Host', h(c.host)] as [string, string]]), ['Owner', h(c.owner)], ['Claimed', timeTag(c.claimedAt)], ['Started', timeTag(c.startedAt)],
    ['State', h(c.state)], ['Pid', c.pid === null ? '—' : String(c.pid)],
    ['Exit code', c.exitCode === null ? '—' : `<span class="${c.exitCode === 0 ? 'ok' : 'bad'}">${c.exitCode}</span>`],
    ['Ended', timeTag(c.endedAt)],
    ['Worktree', worktreeState(c)],
    ...(f.branch === undefined ? [] : [['Branch', f.branch] as [string, string]]),
    ...(f.dirty === undefined ? [] : [['Changes', f.dirty] as [string, string]]),
    ...(f.ahead === undefined ? [] : [['Ahead', f.ahead] as [string, string]]),
    ['PR / CI', prCi(pr, ci)],
  ];
  const next = doneButOpen(c, task.status) ? `<p class="next" id="claim-next">${doneButOpenNote(task.status, task.id, folder)}</p>` : '';
  return `<section id="claim"><h2>Claim</h2><dl>${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>${next}</section>`;
}

/** A failed run's headline: what happened and the next step (read the log, fix, retry). */
export function renderRunFailure(c: PageClaim, taskId: string, folder: string): string {
  const title = c.state === 'timed_out' ? 'Run timed out' : c.state === 'interrupted' ? 'Run interrupted' : 'Run failed';
  const exit = c.exitCode === null ? 'exit status unknown' : `exit code <b>${h(String(c.exitCode))}</b>`;
  const note = c.note ? ` (${h(c.note)})` : '';
  const ended = c.endedAt ? `, ended ${timeTag(c.endedAt)}` : '';
  return `<section id="run-failed" class="warn"><h2>${title}</h2><p class="bad">The run ended with ${exit}${note}${ended}.</p>` +
    `<p class="next">Next step: read the log below, fix the cause, then run <code>${h(retryCommand(taskId, folder))}</code> to dispatch the task again at the next tick.</p></section>`;
}

/**
 * The last lines of the run log, escaped, with what the client needs to append live lines to
 * them (the file's identity and the byte offset they end at) and, served, a link to the whole log.
 */
export function renderRunLog(tail: RunLogTail, taskId: string, api: boolean, failed: boolean): string {
  const full = api ? ` · <a href="../api/tasks/${h(encodeURIComponent(taskId))}/log.txt" rel="nofollow">full log</a>` : '';
  const shown = tail.lines.length < TAIL_DEFAULT && !tail.truncated ? `all ${plural(tail.lines.length, 'line')}` : `last ${tail.lines.length} lines`;
  return `<section id="runlog"${failed ? ' class="warn"' : ''} data-log="${h(tail.log)}" data-end="${tail.end}" data-partial="${tail.partial ? 1 : 0}">` +
    `<h2>Run log</h2><p class="logmeta"><code>${h(tail.path)}</code> · <span id="runlog-count">${shown}</span>${full}</p>` +
    `<pre id="runlog-lines" tabindex="0">${h(showLines(tail.lines))}</pre></section>`;
}

/** The index's banner while the heartbeat cannot reach the shared registry (its snapshot says since when): what is shown is the last read. */
export function renderRegistryAlert(registry: SnapshotRegistry | undefined, now: Date): string {
  if (registry?.unreachableSince === undefined) return '';
  const why = registry.error ? ` (${h(registry.error)})` : '';
  return `<section id="registry-alert" class="warn" role="alert"><h2>Registry unreachable</h2><p class="alert">The shared registry ${h(registry.where)} is unreachable since ${timeTag(registry.unreachableSince, now)}${why}: nothing is dispatched until it answers; the claims shown are the last ones read.</p></section>`;
}
