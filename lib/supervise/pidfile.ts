// Pid files and identity: the marker in /proc/<pid>/cmdline, start time and boot id.
import fs from 'node:fs';
import { writeFileAtomic } from '../base/atomic.ts';
import { TasksError } from '../base/errors.ts';
import { NotAFileError, readTextFile } from '../base/jsonfile.ts';
import { bootId, readCmdline, readStat } from './proc.ts';

/** Which daemon a pid file belongs to; also the action word its command line must carry. */
export type DaemonKind = 'heartbeat' | 'serve';

/** Who we expect behind a pid file: the marker its command line must carry. */
export interface Expected {
  readonly kind: DaemonKind;
  readonly owner: string;
  readonly dir: string;
}

/** The identity data a daemon records about itself, line 1 being the bare pid. */
export interface PidRecord {
  readonly pid: number;
  readonly fields: Readonly<Record<string, string>>;
}

export type Inspection =
  | { readonly state: 'missing' }
  | { readonly state: 'stale'; readonly pid: number | undefined; readonly reason: string }
  | { readonly state: 'live'; readonly pid: number; readonly record: PidRecord };

/** The command-line words that mark a process as the daemon of this kind, owner and folder. */
export function markerArgs(e: Expected): string[] {
  return [e.kind, `owner=${e.owner}`, `dir=${e.dir}`];
}

/** Parses pid file text; only a plain decimal pid > 1 on line 1 counts, never "0", "-1", " 12 " or "12\r". */
export function parsePidFile(text: string): PidRecord | { error: string } {
  const lines = text.split('\n');
  const first = lines[0] ?? '';
  if (!/^[1-9][0-9]{0,9}$/.test(first) || Number(first) <= 1 || Number(first) > 4194304) {
    return { error: `holds no valid pid (line 1 is ${JSON.stringify(first.slice(0, 40))})` };
  }
  const fields: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const eq = line.indexOf('=');
    if (eq > 0) fields[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return { pid: Number(first), fields };
}

/** Formats a pid file: the pid alone on line 1 (so `kill $(head -1 file)` works), then key=value identity lines. */
export function formatPidFile(pid: number, fields: Record<string, string>): string {
  return [String(pid), ...Object.entries(fields).map(([k, v]) => `${k}=${v}`)].join('\n') + '\n';
}

/** The identity fields a process records about itself in its pid file. */
export function selfIdentity(e: Expected, extra: Record<string, string> = {}): Record<string, string> {
  const stat = readStat(process.pid);
  if (!stat) throw new Error('cannot read /proc/self/stat');
  return { starttime: stat.starttime, boot: bootId(), kind: e.kind, owner: e.owner, dir: e.dir, started: new Date().toISOString(), ...extra };
}

/** Writes this process's pid file atomically. */
export function publishPidFile(file: string, e: Expected, extra: Record<string, string> = {}): void {
  writeFileAtomic(file, formatPidFile(process.pid, selfIdentity(e, extra)));
}

/**
 * Decides whether a pid file names a live daemon of this kind, owner and folder. Identity is
 * proven by the recorded start time and boot id matching /proc and the marker words in the
 * process's command line; anything less is stale and must never be signalled.
 */
export function inspectPidFile(file: string, e: Expected, self: { pid: number; ppid: number }): Inspection {
  let text: string | undefined;
  try {
    text = readTextFile(file);
  } catch (err) {
    if (err instanceof NotAFileError) throw new TasksError(`pid file ${file} is ${err.kind}, not a file; remove it and try again`);
    throw err;
  }
  if (text === undefined) return { state: 'missing' };
  const parsed = parsePidFile(text);
  if ('error' in parsed) return { state: 'stale', pid: undefined, reason: parsed.error };
  const { pid, fields } = parsed;
  if (pid === self.pid || pid === self.ppid) return { state: 'stale', pid, reason: `names pid ${pid}, which is this command or its parent` };
  const stat = readStat(pid);
  if (!stat) return { state: 'stale', pid, reason: `names pid ${pid}, which has exited` };
  if (stat.state === 'Z' || stat.state === 'X') return { state: 'stale', pid, reason: `names pid ${pid}, which is a zombie` };
  const cmd = readCmdline(pid);
  const same = fields.starttime === stat.starttime && fields.boot === bootId();
  // Killed and not yet a zombie: the same process (pid and start time), its memory and so its command line already gone.
  if (same && cmd.length === 0) return { state: 'stale', pid, reason: `names pid ${pid}, which has exited` };
  const marked = markerArgs(e).every((word) => cmd.includes(word));
  if (!marked || !same) {
    return { state: 'stale', pid, reason: `names pid ${pid}, which is not this ${e.kind} (another process reuses the pid)` };
  }
  return { state: 'live', pid, record: parsed };
}

/** The pid of the live, identified daemon a pid file names (this process included), or undefined. */
export function livePid(file: string, e: Expected): number | undefined {
  // No "self" to exclude: the caller may be the daemon itself, or a reader that never signals.
  const seen = inspectPidFile(file, e, { pid: -1, ppid: -1 });
  return seen.state === 'live' ? seen.pid : undefined;
}

/** Removes a pid file only if it still names the given pid (never a successor's file). */
export function removePidFileIf(file: string, pid: number): boolean {
  const text = readTextFile(file);
  if (text === undefined) return false;
  const parsed = parsePidFile(text);
  if ('error' in parsed || parsed.pid !== pid) return false;
  fs.rmSync(file, { force: true });
  return true;
}
