// What `startup` asks of the machine: systemctl --user, crontab and loginctl (each bounded), private files, and whether a process runs inside a unit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeChunksAtomic } from '../base/atomic.ts';
import { type ChildResult, bounded } from '../base/bounded.ts';
import { TasksError } from '../base/errors.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** How long one systemctl, crontab or loginctl may take: a manager that hangs must not hang startup. */
const TOOL_TIMEOUT_MS = 20_000;

/** Runs one tool with its words quoted by zx, bounded (its own process group, TERM then KILL at the deadline). */
export function tool(env: Env, cwd: string, words: readonly string[], timeoutMs = TOOL_TIMEOUT_MS): Promise<ChildResult> {
  return bounded(cwd, { env, timeoutMs }, (sh) => sh`${words}`);
}

/** The one line a failed tool call becomes: its own first error line, or why it did not finish. */
export function toolFailure(words: readonly string[], r: ChildResult): string {
  if (r.killed === 'timeout') return `\`${words.join(' ')}\` did not answer within ${TOOL_TIMEOUT_MS / 1000} s`;
  const why = (r.error ?? r.stderr.trim().split('\n')[0]) || r.stdout.trim().split('\n')[0] || `exit ${r.code ?? 'unknown'}`;
  return `\`${words.join(' ')}\` failed: ${why}`;
}

/** A shell's answer for a command it cannot find. */
const NOT_FOUND = 127;

/** Whether a systemd user manager answers: `systemctl --user show-environment` succeeds. */
export async function systemdUser(env: Env, cwd: string): Promise<{ ok: true } | { ok: false; why: string }> {
  const words = ['systemctl', '--user', 'show-environment'];
  const r = await tool(env, cwd, words, 10_000);
  if (r.code === 0) return { ok: true };
  if (r.code === NOT_FOUND) return { ok: false, why: 'no systemctl command' };
  return { ok: false, why: `no systemd user manager (${toolFailure(words, r)})` };
}

/** Runs systemctl --user with these words; throws a TasksError with its own reason when it fails. */
export async function systemctl(env: Env, cwd: string, words: readonly string[]): Promise<void> {
  const all = ['systemctl', '--user', ...words];
  const r = await tool(env, cwd, all, 60_000);
  if (r.code !== 0) throw new TasksError(`startup: ${toolFailure(all, r)}`);
}

/** The user's crontab: its text ('' for none yet), or missing (no crontab command), or why it could not be read. */
export async function readCrontab(env: Env, cwd: string): Promise<{ kind: 'ok'; text: string } | { kind: 'missing' } | { kind: 'failed'; why: string }> {
  const words = ['crontab', '-l'];
  const r = await tool(env, cwd, words);
  if (r.code === 0) return { kind: 'ok', text: r.stdout };
  if (r.code === NOT_FOUND) return { kind: 'missing' };
  // Every cron says "no crontab for <user>" (exit 1) for a user who has none yet.
  if (r.code === 1 && /no crontab/i.test(r.stderr)) return { kind: 'ok', text: '' };
  return { kind: 'failed', why: toolFailure(words, r) };
}

/**
 * Installs a whole crontab: written to a private temp file, handed to `crontab <file>` (a bounded
 * child has no stdin to pipe it through), then removed.
 */
export async function writeCrontab(env: Env, cwd: string, text: string): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-crontab-'));
  try {
    const file = path.join(tmp, 'crontab');
    fs.writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
    const words = ['crontab', file];
    const r = await tool(env, cwd, words);
    if (r.code !== 0) throw new TasksError(`startup: ${toolFailure(words, r)}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** True when the user's manager outlives their sessions (linger is on); undefined when loginctl cannot say. */
export async function lingers(env: Env, cwd: string, user: string): Promise<boolean | undefined> {
  const r = await tool(env, cwd, ['loginctl', 'show-user', user, '--property=Linger', '--value'], 10_000);
  if (r.code !== 0) return undefined;
  return r.stdout.trim() === 'yes';
}

/** A file's text, or undefined when there is none. */
export function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Writes a file atomically (a temp file renamed over it: a link in its place is replaced, never
 * written through), its folder made if missing; 0600 for the environment file (a secret).
 */
export function writeOwnFile(file: string, text: string, mode: 0o600 | 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeChunksAtomic(file, [Buffer.from(text)], mode);
}

/** Whether a process runs inside this systemd unit (its cgroup path ends with the unit's name). */
export function inUnit(pid: number, unit: string): boolean {
  const text = readText(`/proc/${pid}/cgroup`) ?? '';
  return text.split('\n').some((l) => l.endsWith(`/${unit}`) || l.includes(`/${unit}/`));
}
