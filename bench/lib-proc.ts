// What the benchmarks that watch servers share: a GET that never throws, peak RSS and process trees
// from /proc, pid files, and stopping a process group the benchmark started.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';

/** Status and body of one GET; gone servers and timeouts are a status of 0. */
export function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve) => {
    const req = http.get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', () => resolve({ status: 0, body: Buffer.alloc(0) }));
    });
    req.setTimeout(60_000, () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: Buffer.alloc(0) }));
  });
}

/** VmHWM of a process in MB (0 once it is gone). */
export function peakMb(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** A process's proportional set size in MB (smaps_rollup): pages shared with other processes (the node binary) count shared; 0 when gone. */
export function pssMb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** pid and the pids of all its descendants, from /proc. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Field 4 of stat, after the command in parentheses (which may hold spaces), is the parent.
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch { /* gone meanwhile */ }
  }
  const all: number[] = [];
  for (const queue = [pid]; queue.length > 0;) {
    const p = queue.shift() as number;
    all.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return all;
}

/** The pid on line 1 of a pid file, if it is there. */
export function pidIn(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };

/** Stops a group this benchmark started and every pid seen in it: SIGTERM, then SIGKILL after 10 s. */
export async function stopGroup(child: ChildProcess, pids: readonly number[] = []): Promise<void> {
  const all = [...new Set([child.pid as number, ...pids])];
  try { process.kill(-(child.pid as number), 'SIGTERM'); } catch { /* already gone */ }
  for (const p of all) if (p !== child.pid && alive(p)) process.kill(p, 'SIGTERM');
  const t0 = Date.now();
  while (all.some(alive) && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
  for (const p of all) if (alive(p)) process.kill(p, 'SIGKILL');
}
