// Notifications' runtime files (the delivery log, the ledger of sent events) and a webhook URL as it may be shown (its secret never).
import { createHash } from 'node:crypto';
import path from 'node:path';
import { usageError } from './errors.ts';

/** The delivery log (capped, one rotated .1) and the ledger of events already handled, of one owner. */
export function notifyFiles(dir: string, owner: string): { readonly log: string; readonly ledger: string } {
  const base = path.join(dir, 'logs', 'task_manager', `task-manager-${owner}`);
  return { log: `${base}.notify.log`, ledger: `${base}.notify-sent.json` };
}

/**
 * A webhook URL as it may be shown anywhere (logs, stderr, pid file, `ensure`'s "differs"):
 * `scheme://host/…`. Slack, Discord and most webhooks carry their secret in the path (or the
 * query, or a user:password), so nothing after the host is ever shown.
 */
export function redactNotifyUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '(a URL that does not parse)';
  }
}

/**
 * A webhook URL as a heartbeat records it (its pid file, compared by `ensure`): shown as
 * `scheme://host/…` plus 8 hex digits of its SHA-256, so a secret rotated on the same host reads
 * as a difference while the secret itself (and anything it could be guessed from) stays out.
 */
export function notifyUrlRecord(url: string): string {
  return `${redactNotifyUrl(url)} #${createHash('sha256').update(url).digest('hex').slice(0, 8)}`;
}

/** Throws the one usage line for a notify_url= that is not an http or https URL (exit 2); never shows the URL itself. */
export function checkNotifyUrl(url: string, name = 'notify_url'): string {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    u = undefined;
  }
  if (u === undefined || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.host === '') {
    const shown = u === undefined ? 'a value that is not a URL' : `${redactNotifyUrl(url)}`;
    throw usageError(`\`${name}\` must be an http:// or https:// URL, got ${shown}; pass notify_url=https://host/path`);
  }
  // fetch refuses a URL with credentials, so every delivery would fail: said once, here.
  if (u.username !== '' || u.password !== '') {
    throw usageError(`\`${name}\` must not hold a user or password before its host (${redactNotifyUrl(url)}): requests to it are refused; put the secret in its path or query`);
  }
  return url;
}
