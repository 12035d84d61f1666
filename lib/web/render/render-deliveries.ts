// The notifications' delivery log as the Heartbeat section shows it: the last deliveries read back from task-manager-<owner>.notify.log, and a small table.
import { tailLines } from '../../base/logfile.ts';
import { notifyFiles } from '../../base/notify-files.ts';
import { escapeHtml as h, timeTag } from './html.ts';

/** One line of the delivery log (lib/manager/notify-queue.ts's deliveryLine). */
export interface Delivery {
  readonly at: string;
  readonly result: 'ok' | 'failed' | 'dropped';
  /** The event: run-finished, run-failed, run-timed-out, escalation, watchdog-restart, stuck, rate-limited, test. */
  readonly kind: string;
  readonly id: string | null;
  /** `command`, or the URL as scheme://host/…. */
  readonly channel: string;
  readonly attempt: number;
  readonly reason: string;
}

const LINE = /^(\S+) (ok|failed|dropped) (\S+) id=(-|"(?:[^"\\]|\\.)*") via (\S+) attempt (\d+): (.*)$/;

/** The last n deliveries, newest first; lines that do not parse (cut, or not ours) are skipped. Nothing when there is no log (or a link in its place). */
export function readDeliveries(dir: string, owner: string, n: number): Delivery[] {
  let text: string;
  try {
    text = tailLines(notifyFiles(dir, owner).log, n);
  } catch {
    return [];
  }
  const out: Delivery[] = [];
  for (const line of text.split('\n')) {
    const d = parseDelivery(line);
    if (d) out.push(d);
  }
  return out.reverse();
}

/** One delivery-log line, or undefined. */
export function parseDelivery(line: string): Delivery | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  let id: string | null = null;
  if (m[4] !== '-') {
    try {
      id = JSON.parse(m[4] as string) as string;
    } catch {
      return undefined;
    }
  }
  return { at: m[1] as string, result: m[2] as Delivery['result'], kind: m[3] as string, id, channel: m[5] as string, attempt: Number(m[6]), reason: m[7] as string };
}

/**
 * A `<details>` "Notifications" with a table of the deliveries given (newest first): when, what,
 * the task, the channel and how it went. Everything escaped; '' for an empty list. Open when the
 * newest delivery failed, so a broken webhook is seen; its id lets a live swap keep it as the operator
 * left it (lib/web/client/live.ts).
 */
export function renderDeliveries(list: readonly Delivery[], now?: Date): string {
  if (list.length === 0) return '';
  const ok = list.filter((d) => d.result === 'ok').length;
  const failed = list.length - ok;
  const summary = `Notifications: ${ok} sent${failed ? `, ${failed} failed or dropped` : ''} (last ${list.length})`;
  const rows = list.map((d) => `<tr class="nt-${d.result}"><td>${timeTag(d.at, now)}</td><td>${h(d.kind)}</td><td>${d.id === null ? '—' : `<code>${h(d.id)}</code>`}</td><td>${h(d.channel)}</td><td>${h(d.result)}${d.attempt > 1 ? ` (attempt ${d.attempt})` : ''}: ${h(d.reason)}</td></tr>`);
  const open = list[0]?.result === 'ok' ? '' : ' open';
  return `<details class="notify" id="notify-log"${open}><summary>${h(summary)}</summary><div class="scroll"><table><thead><tr><th>When</th><th>Event</th><th>Task</th><th>Channel</th><th>Result</th></tr></thead><tbody>${rows.join('')}</tbody></table></div></details>`;
}
