// The bounded children (git, gh) of a daemon being stopped: found before it is killed, ended after, each proven by its start time.
import { BOUNDED_MARKER } from '../base/bounded.ts';
import { allPids, isLiveStat, readEnvironQuiet, readStatQuiet, signal, sleep } from './proc.ts';

/** A process seen at one moment: the pid is signalled only while its start time is still this one. */
export interface Proven { readonly pid: number; readonly starttime: string }

/** How long bounded children get after SIGTERM (git removes a half-made worktree on it) before SIGKILL. */
const TERM_GRACE_MS = 1000;

/** True when the process's environment carries the bounded marker naming parent; false when it does not or cannot be read. */
function boundedBy(pid: number, parent: number): boolean {
  return readEnvironQuiet(pid)?.toString('latin1').split('\0').includes(`${BOUNDED_MARKER}=${parent}`) ?? false;
}

/** The live descendants of pid that carry its bounded marker (a bounded child it started, and what that started). */
export function boundedDescendants(pid: number): Proven[] {
  const children = new Map<number, number[]>();
  const stats = new Map<number, string>();
  for (const p of allPids()) {
    const st = readStatQuiet(p);
    if (!isLiveStat(st)) continue;
    stats.set(p, st.starttime);
    children.set(st.ppid, [...(children.get(st.ppid) ?? []), p]);
  }
  const out: Proven[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      if (boundedBy(c, pid)) out.push({ pid: c, starttime: stats.get(c) as string });
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** SIGTERM, a moment, then SIGKILL to each of these still alive as the same process (a reused pid is never hit). */
export async function endProven(found: readonly Proven[]): Promise<void> {
  const same = (p: Proven): boolean => readStatQuiet(p.pid)?.starttime === p.starttime && isLiveStat(readStatQuiet(p.pid));
  const send = (sig: NodeJS.Signals): void => { for (const p of found) if (same(p)) signal(p.pid, sig); };
  if (!found.some(same)) return;
  send('SIGTERM');
  const deadline = Date.now() + TERM_GRACE_MS;
  while (found.some(same) && Date.now() < deadline) await sleep(25);
  send('SIGKILL');
}
