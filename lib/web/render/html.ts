// The small HTML pieces every page uses: escaping, times, status badges, task links, PR links and CI states.
import { type Remote, prLink } from '../../tasks/pr.ts';
import { isOverdue as overdueOn, localDay } from '../client/due.ts';
import { relativeTime } from '../client/time.ts';
import { isWebUrl } from './markdown.ts';

/** HTML-escapes text for element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const h = escapeHtml;

/** The dashboard's title: "<Project> Tasks", without doubling a name that already ends in "tasks" (this repository's own). */
export function siteTitle(project: string): string {
  return /tasks$/i.test(project.trim()) ? project.trim() : `${project} Tasks`;
}

/** How other pages refer to a task: its page file name (in tasks/), status and title. */
export interface TaskRef { readonly page: string; readonly status: string; readonly title: string }

/** A `<time>` the client keeps relative; its text is relative to `now`, or the ISO time itself without one. */
export function timeTag(iso: string | null | undefined, now?: Date): string {
  if (iso === null || iso === undefined || iso === '') return '—';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return h(iso);
  const text = now === undefined ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : relativeTime(at - now.getTime());
  return `<time datetime="${h(iso)}" data-rel title="${h(iso)}">${h(text)}</time>`;
}

/** A status as a badge; the class is derived from the normalised status, never raw text. */
export function statusBadge(status: string): string {
  return `<span class="st st-${h(status.replace(/[^a-z_]/g, ''))}">${h(status)}</span>`;
}

/** A task id linked to its page when the task exists; `prefix` is the path from the page to tasks/. */
export function taskLink(id: string, refs: ReadonlyMap<string, TaskRef>, prefix: string): string {
  const ref = refs.get(id);
  return ref === undefined ? h(id) : `<a href="${prefix}${h(ref.page)}.html">${h(id)}</a>`;
}

/** A task's pull request as the pages show it: `#123` or the text as written, and a web link when one can be made. */
export interface PrShown { readonly label: string; readonly url: string | null; readonly number: number | null }

/** Resolves `pr:` (a number or a URL) against the git remote; null when the task names none. */
export function prShown(pr: string | null, remote: Remote | undefined): PrShown | null {
  const link = prLink(pr, remote);
  if (link === undefined || pr === null) return null;
  // prLink keeps http(s) only; the check stays here too, since this is where the href is written.
  const url = link.url !== null && isWebUrl(link.url) ? link.url : null;
  return { label: link.number === null ? pr.trim() : `#${link.number}`, url, number: link.number };
}

/** The PR link (http(s) only; anything else shown as text) and the CI state. */
export function prCi(pr: PrShown | null, ci: string): string {
  if (pr === null && ci === 'unknown') return '—';
  const link = pr === null ? '' : pr.url !== null ? `<a href="${h(pr.url)}" rel="noreferrer">${h(pr.label)}</a> ` : `${h(pr.label)} `;
  return `${link}<span class="ci ci-${h(ci.replace(/[^a-z]/g, ''))}">${h(ci)}</span>`;
}

/** Overdue at `now`: the one rule of client/due.ts (the list and board use it too), with today in the server's time zone. */
export function isOverdue(t: { readonly due: string | null; readonly status: string }, now: Date): boolean {
  return overdueOn(t, localDay(now));
}
