// Reading /proc (stat, cmdline, boot id, start times) and signalling processes and trees.
import fs from 'node:fs';
import path from 'node:path';
import { isErrno } from '../base/errors.ts';

/** What /proc/<pid>/stat tells about a process. */
export interface ProcStat {
  readonly state: string;
  readonly ppid: number;
  readonly pgid: number;
  /** Start time in clock ticks since boot (field 22): with the pid, it names one process per boot. */
  readonly starttime: string;
}

/** Reads /proc/<pid>/stat, or undefined when no such process exists. */
export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ESRCH')) return undefined;
    throw err;
  }
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [state, ppid, pgid] = fields;
  const starttime = fields[19];
  if (state === undefined || ppid === undefined || pgid === undefined || starttime === undefined) return undefined;
  return { state, ppid: Number(ppid), pgid: Number(pgid), starttime };
}

/** readStat for scans of /proc: a process that vanished or is not ours to read (EACCES, ESRCH) is undefined. */
export function readStatQuiet(pid: number): ProcStat | undefined {
  try {
    return readStat(pid);
  } catch (err) {
    if (isErrno(err, 'EACCES') || isErrno(err, 'ESRCH')) return undefined;
    throw err;
  }
}

/** The argv of a running process from /proc/<pid>/cmdline (empty for zombies and kernel threads). */
export function readCmdline(pid: number): string[] {
  try {
    const text = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return text.split('\0').filter((part, i, all) => i < all.length - 1 || part !== '');
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ESRCH')) return [];
    throw err;
  }
}

/** readCmdline for scans of /proc: a process that vanished or is not ours to read (EACCES, ESRCH) has no words. */
export function readCmdlineQuiet(pid: number): string[] {
  try {
    return readCmdline(pid);
  } catch (err) {
    if (isErrno(err, 'EACCES') || isErrno(err, 'ESRCH')) return [];
    throw err;
  }
}

/**
 * A process's environment as /proc holds it (NUL-separated); undefined when it cannot be read:
 * gone (ENOENT, ESRCH: a zombie has no environment left), another user's or not dumpable
 * (EACCES, EPERM, EINVAL). Those are never ours to signal.
 */
export function readEnvironQuiet(pid: number): Buffer | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`);
  } catch (err) {
    if (['ENOENT', 'ESRCH', 'EACCES', 'EPERM', 'EINVAL'].some((code) => isErrno(err, code))) return undefined;
    throw err;
  }
}

/** True when the process runs as this user (it can be signalled and its /proc read), or uids are unknown. */
export function ownedByUs(pid: number): boolean {
  const uid = process.getuid?.();
  return uid === undefined || fs.statSync(`/proc/${pid}`, { throwIfNoEntry: false })?.uid === uid;
}

/** True when every one of `words` is a whole argument of the process's command line. */
export function hasArgs(pid: number, words: readonly string[]): boolean {
  const cmd = readCmdlineQuiet(pid);
  return words.every((w) => cmd.includes(w));
}

/** True for the stat of a process that exists and is not a zombie (or dead: state X). */
export function isLiveStat(stat: ProcStat | undefined): stat is ProcStat {
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** True when the process exists and is not a zombie (kill 0 succeeds on zombies; /proc does not lie). */
export function isRunning(pid: number): boolean {
  return isLiveStat(readStat(pid));
}

let cachedBootId: string | undefined;
/** The kernel's boot id: pid + start time are unique only within one boot. */
export function bootId(): string {
  cachedBootId ??= fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return cachedBootId;
}

let cachedBootMs: number | undefined;
/**
 * When a process started, from its start time in clock ticks since boot (field 22 of stat) and
 * the boot time (btime in /proc/stat). /proc counts in USER_HZ, which Linux fixes at 100.
 */
export function startedAt(starttime: string): Date | undefined {
  if (cachedBootMs === undefined) {
    const m = /^btime ([0-9]+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'));
    if (!m) return undefined;
    cachedBootMs = Number(m[1]) * 1000;
  }
  const ticks = Number(starttime);
  return Number.isFinite(ticks) ? new Date(cachedBootMs + ticks * 10) : undefined;
}

/** Sends a signal, returning false when the process is already gone. */
export function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch (err) {
    if (isErrno(err, 'ESRCH')) return false;
    throw err;
  }
}

/** Resolves after ms milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True when `ps` is on PATH: tree-kill needs it and crashes its caller without it. */
function hasPs(): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((d) => d !== '' && fs.existsSync(path.join(d, 'ps')));
}

/** Children of a process, from /proc (parent pid is field 4 of stat). */
function childrenOf(pid: number): number[] {
  return allPids().filter((p) => readStatQuiet(p)?.ppid === pid);
}

/** Signals a process and its descendants: tree-kill where `ps` exists, a /proc walk otherwise. */
export async function signalTree(pid: number, sig: NodeJS.Signals): Promise<void> {
  if (hasPs()) {
    // Loaded when a tree is signalled: readers of pid files (status) never load it or child_process.
    const { default: treeKill } = await import('tree-kill');
    await new Promise<void>((resolve) => treeKill(pid, sig, () => resolve()));
    return;
  }
  const all: number[] = [];
  const walk = (p: number): void => { all.push(p); for (const c of childrenOf(p)) walk(c); };
  walk(pid);
  for (const p of all.reverse()) signal(p, sig);
}

/** The inodes of the sockets a process has open (empty when it is gone or not ours to read). */
export function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[([0-9]+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1] as string);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/** The live pids in /proc. */
export function allPids(): number[] {
  return fs.readdirSync('/proc').filter((n) => /^[0-9]+$/.test(n)).map(Number);
}

/**
 * The pids holding an abstract Unix socket bound at `address` (`\0name`): its inode from
 * /proc/net/unix (where the name shows as `@name`, padded with `@` for the NULs Node binds with),
 * then every process with an fd on that inode.
 */
export function abstractSocketHolders(address: string): number[] {
  const name = `@${address.slice(1)}`;
  const inodes = new Set<string>();
  for (const line of fs.readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const at = f[7];
    if (at !== undefined && at.startsWith(name) && /^@*$/.test(at.slice(name.length)) && f[6] !== undefined) inodes.add(f[6]);
  }
  if (inodes.size === 0) return [];
  return allPids().filter((pid) => [...socketInodes(pid)].some((i) => inodes.has(i)));
}

/** The TCP ports a process listens on, with their addresses (IPv4 dotted, IPv6 in brackets), from /proc/net/tcp and tcp6. */
export function listeningPorts(pid: number): { host: string; port: number }[] {
  const mine = socketInodes(pid);
  const out: { host: string; port: number }[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue; // no IPv6
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is hex address:port; st 0A is LISTEN; the inode is the tenth field.
      if (f[3] !== '0A' || f[9] === undefined || !mine.has(f[9])) continue;
      const [hex, port] = (f[1] ?? '').split(':');
      if (hex === undefined || port === undefined) continue;
      out.push({ host: hex.length === 8 ? ipv4(hex) : '[::1]', port: parseInt(port, 16) });
    }
  }
  return out;
}

/** /proc/net/tcp's little-endian hex IPv4 address, dotted. */
function ipv4(hex: string): string {
  return [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.');
}
