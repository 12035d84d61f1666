// Validators of single option values: one rule and one message template each.
import fs from 'node:fs';
import path from 'node:path';
import { usageError } from '../base/errors.ts';
import { normaliseStatus } from '../tasks/mapping.ts';

/** Validates an owner name: it becomes part of file names, so no separators or dot-dot. */
export function checkOwner(value: string, name = 'owner'): string {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(value) || value === '.' || value === '..') {
    throw usageError(`\`${name}\` must be 1-64 characters of A-Z a-z 0-9 . _ - (not . or ..), got \`${value}\`; pass owner=<name>`);
  }
  return value;
}

export function checkInteger(name: string, value: string, min: number, max: number): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw usageError(`\`${name}\` must be an integer from ${min} to ${max}, got \`${value}\``);
  }
  return n;
}

export function checkInterval(value: string): number {
  const n = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n <= 0 || n > 86400) {
    throw usageError(`\`interval\` must be a number of seconds > 0 and <= 86400 (e.g. 30 or 0.5), got \`${value}\``);
  }
  return n;
}

export function checkDuration(name: string, value: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(s|m|h|d)?$/.exec(value);
  const n = m ? Number(m[1]) * ({ s: 1, m: 60, h: 3600, d: 86400 } as const)[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'] : NaN;
  if (!Number.isFinite(n) || n <= 0) throw usageError(`\`${name}\` must be a duration such as 7200, 90m, 2h or 1d, got \`${value}\``);
  return n;
}

/** on or off (also yes/no, true/false, 1/0). */
export function checkOnOff(name: string, value: string): 'on' | 'off' {
  const v = value.trim().toLowerCase();
  if (['on', 'yes', 'true', '1'].includes(v)) return 'on';
  if (['off', 'no', 'false', '0'].includes(v)) return 'off';
  throw usageError(`\`${name}\` must be on or off, got \`${value}\``);
}

/**
 * The statuses that count as ready: comma-separated, none empty, none a finished status (a
 * completed task dispatched again would redo done work).
 */
export function checkReady(value: string): string[] {
  const words = value.split(',').map((w) => w.trim());
  if (words.some((w) => w === '' || /[\u0000-\u001f\u007f]/.test(w))) throw usageError(`\`ready\` must list statuses separated by commas, such as ready='To Do' or ready=ready,todo (no control characters), got \`${value}\``);
  const finished = words.find((w) => ['completed', 'cancelled'].includes(normaliseStatus(w).status));
  if (finished !== undefined) throw usageError(`\`ready\` must not include a finished status, got \`${finished}\`; pass the statuses of work still to do, such as ready='To Do'`);
  return [...new Set(words)];
}

/** A branch name git would accept as a start point (no spaces, no leading dash, no ..). */
export function checkBranch(value: string): string {
  if (!/^[A-Za-z0-9._/@+-]{1,200}$/.test(value) || value.startsWith('-') || value.includes('..') || value.endsWith('/') || value.endsWith('.lock')) {
    throw usageError(`\`base\` must be a branch name such as main, got \`${value}\``);
  }
  return value;
}

/**
 * The default tasks folder must stay in the repository: a clone can commit `tasks` as a link to
 * anywhere, and the runtime state would follow it there. Given as dir=, a link is the operator's.
 */
export function checkDefaultDir(root: string, resolved: string, real: string): void {
  if (!fs.lstatSync(resolved).isSymbolicLink()) return;
  const top = fs.realpathSync(root);
  if (real === top || real.startsWith(`${top}${path.sep}`)) return;
  throw usageError(`${resolved} is a symbolic link to ${real}, outside the repository; pass dir=${real} to use that folder`);
}

/**
 * The shared registry's keys: registry= (or $TASK_MANAGER_REGISTRY) a postgres:// URL, queue= a
 * name, lease= a duration long enough to outlast a few ticks (a shorter one would let another
 * host take over the claims of a host that is merely between ticks).
 */
export function checkShared(keys: { registry?: string; queue?: string; lease?: string }, env: Readonly<Record<string, string | undefined>>, interval: number): { registry: string | undefined; queue: string | undefined; lease: number } {
  const word = keys.registry ?? env.TASK_MANAGER_REGISTRY;
  const from = keys.registry !== undefined ? 'registry' : 'TASK_MANAGER_REGISTRY';
  let registry: string | undefined;
  if (word !== undefined && word.trim() !== '' && word.trim() !== 'file') {
    registry = word.trim();
    let ok = false;
    try {
      ok = ['postgres:', 'postgresql:'].includes(new URL(registry).protocol);
    } catch {
      ok = false;
    }
    // The value may hold a password: it is named by its scheme only.
    if (!ok) throw usageError(`\`${from}\` must be a postgres://user@host:port/database URL (or file), got a value starting \`${registry.slice(0, 11).replace(/[^\x20-\x7e]/g, '?')}\`; pass registry=postgres://…`);
    // A command line is in every user's process list for as long as it runs.
    if (keys.registry !== undefined && hasPassword(registry)) throw usageError('`registry` holds a password, which anyone on this machine can read in the process list; put it in ~/.pgpass (or give the URL in TASK_MANAGER_REGISTRY; a PGPASSWORD you export reaches dispatched runs too) and pass registry=postgres://user@host:port/database');
  }
  const queue = keys.queue === undefined ? env.TASK_MANAGER_QUEUE?.trim() || undefined : keys.queue.trim();
  if (queue !== undefined && (queue === '' || queue.length > 200 || /[\x00-\x1f\x7f]/.test(queue))) throw usageError(`\`queue\` must be a name of 1 to 200 printable characters, got \`${JSON.stringify(queue).slice(1, -1)}\``);
  const lease = keys.lease === undefined ? 600 : checkDuration('lease', keys.lease);
  if (keys.lease !== undefined && (lease < 30 || lease < 3 * interval)) throw usageError(`\`lease\` must be at least 30 s and 3 intervals (${3 * interval} s), got \`${keys.lease}\`; pass lease=${Math.max(30, Math.ceil(3 * interval))} or more`);
  return { registry, queue, lease };
}

/** True when a database URL carries a password (user:password@, or a password= parameter). */
function hasPassword(url: string): boolean {
  try {
    const u = new URL(url);
    return u.password !== '' || u.searchParams.has('password');
  } catch {
    return false;
  }
}
