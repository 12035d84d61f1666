// The postmaster of a test's cluster as a process: its pid, and ending it without pg_ctl, so a
// test's cleanup never depends on the server (or the code under test) cooperating.
import fs from 'node:fs';
import path from 'node:path';
import { isErrno } from '../lib/base/errors.ts';
import { alive, readPid, sleep } from './helpers.ts';

/** The postmaster pid from data/postmaster.pid, if the file is there. */
export function readPostmasterPid(data: string): number | undefined {
  return readPid(path.join(data, 'postmaster.pid'));
}

/** True when pid is alive and is a process of this cluster (its command line names our folder), so a reused pid is never killed. */
export function isOurs(pid: number, folder: string): boolean {
  try {
    return alive(pid) && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(folder);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ESRCH')) return false;
    throw err;
  }
}

/** Children of pid (the backends), read from /proc. */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(name));
    } catch (err) {
      if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ESRCH')) throw err;
    }
  }
  return found;
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try { process.kill(pid, sig); } catch (err) { if (!isErrno(err, 'ESRCH')) throw err; }
}

/** Ends the postmaster without pg_ctl: SIGQUIT (immediate shutdown), then SIGKILL for it and its backends. */
export async function killPostmaster(pid: number, folder: string): Promise<void> {
  if (!isOurs(pid, folder)) return;
  const backends = childrenOf(pid);
  signal(pid, 'SIGQUIT');
  for (let deadline = Date.now() + 5000; Date.now() < deadline && alive(pid);) await sleep(25);
  if (alive(pid)) for (const p of [pid, ...backends]) signal(p, 'SIGKILL');
  for (let deadline = Date.now() + 5000; Date.now() < deadline && [pid, ...backends].some(alive);) await sleep(25);
}
