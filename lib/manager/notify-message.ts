// One notification as it is sent: the JSON document (stdin of notify=, body of notify_url=) with its one readable `text` line.
import type { FleetEvent, RunRecord } from './fleet-events.ts';
import { formatDuration } from './escalations.ts';
import { stripControls } from '../base/controls.ts';

/** What a channel is handed: a fleet event, a summary of what the rate limit held back, or `notify test`'s sample. */
export type Notice =
  | FleetEvent
  | { readonly kind: 'rate-limited'; readonly key: string; readonly id: null; readonly count: number; readonly kinds: Readonly<Record<string, number>> }
  | { readonly kind: 'test'; readonly key: string; readonly id: null };

/** Where the notice comes from: the owner, this machine (or the shared registry's host name) and the tasks folder. */
export interface NoticeSource {
  readonly owner: string;
  readonly host: string;
  readonly dir: string;
}

/**
 * The document a receiver gets (docs/operations.md, Notifications): `text` (and `content`, the
 * same line, for Discord's own webhooks) is what a chat shows; the other fields are for scripts.
 */
export interface NoticeDocument {
  text: string;
  content: string;
  event: Notice['kind'];
  key: string;
  id: string | null;
  title: string | null;
  owner: string;
  host: string;
  dir: string;
  at: string;
  run?: RunRecord;
  reason?: string;
  since?: string;
  count?: number;
  kinds?: Record<string, number>;
}

/** The document of one notice; `title` when the heartbeat knows the task's (it saw it ready). */
export function noticeDocument(n: Notice, src: NoticeSource, title: string | undefined, at: Date): NoticeDocument {
  // A chat shows `text` as it is: no ESC, C1 or bidi control from a title, id or host reaches it.
  const text = stripControls(noticeText(n, src, title)).replace(/[\n\t]/g, ' ');
  const doc: NoticeDocument = { text, content: text, event: n.kind, key: n.key, id: n.id, title: title ?? null, owner: src.owner, host: src.host, dir: src.dir, at: at.toISOString() };
  if ('run' in n) doc.run = n.run;
  if ('reason' in n) doc.reason = n.reason;
  if (n.kind === 'escalation') doc.since = n.since;
  if (n.kind === 'rate-limited') Object.assign(doc, { count: n.count, kinds: { ...n.kinds } });
  return doc;
}

/**
 * One line a person reads in a chat: what happened, the task (id, title), the outcome, duration
 * and exit, and whose heartbeat says so. Each part is one line; noticeDocument also removes every
 * control character from the whole (the `id` and `title` fields keep them, escaped by JSON).
 */
export function noticeText(n: Notice, src: NoticeSource, title: string | undefined): string {
  const who = `(${src.owner} on ${src.host})`;
  const task = n.id === null ? '' : `${oneLine(n.id)}${title ? ` "${oneLine(title)}"` : ''}`;
  switch (n.kind) {
    case 'run-finished':
      return `tasks: run finished: ${task}, exit 0${took(n.run)} ${who}`;
    case 'run-failed':
      return `tasks: run failed: ${task}, ${n.run.outcome === 'failed' ? `exit ${n.run.exit ?? 'unknown'}` : n.run.outcome.replace('_', ' ')}${took(n.run)}${n.run.note ? ` (${oneLine(n.run.note)})` : ''} ${who}`;
    case 'run-timed-out':
      return `tasks: run timed out: ${task}${took(n.run)}${n.run.note ? ` (${oneLine(n.run.note)})` : ''} ${who}`;
    case 'escalation':
      return `tasks: needs an operator: ${task}: ${oneLine(n.reason)} ${who}`;
    case 'watchdog-restart':
      return `tasks: heartbeat restarted by the watchdog: ${oneLine(n.reason)} ${who}`;
    case 'stuck':
      return `tasks: heartbeat stuck: ${oneLine(n.reason)} ${who}`;
    case 'rate-limited':
      return `tasks: ${n.count} more notification${n.count === 1 ? '' : 's'} held back by the rate limit (${Object.entries(n.kinds).map(([k, c]) => `${c} ${k}`).join(', ')}); the dashboard and \`tasks status\` have them ${who}`;
    case 'test':
      return `tasks: a test notification from \`tasks notify test\` ${who}`;
  }
}

function took(run: RunRecord): string {
  return run.durationS === null ? '' : `, after ${formatDuration(run.durationS * 1000)}`;
}

/** A title or reason on one line, at most 200 characters: a chat line, not a document. */
function oneLine(text: string): string {
  const flat = stripControls(text.replace(/\s+/g, ' ')).replace(/ +/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 199)}…` : flat;
}
