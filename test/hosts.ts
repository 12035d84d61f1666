// Simulated hosts on one shared PostgreSQL registry: one clone folder, owner, TASK_MANAGER_HOST and
// foreground heartbeat per host, all on one queue, for the many-hosts tests (shared-hosts.test.ts).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { type Running, SCRIPT, TSX, alive, cliEnv, killAll, pidsWithEnv, runtimeFile, start, uniqueOwner, waitUntil } from './helpers.ts';
import type { SnapshotClaim } from '../lib/manager/tick.ts';

/** One simulated host: its clone's tasks folder, owner, host name and heartbeat (once started). */
export interface Host { readonly name: string; readonly owner: string; readonly dir: string; hb?: Running; killed?: boolean }

/** What a test's hosts share: the temp root (everything under it is killed and removed), the queue and the runs' output file. */
export interface Fleet { readonly root: string; readonly queue: string; readonly out: string; readonly hosts: Host[] }

/** The task ids T001…Tn, each a ready task file in every host's clone. */
export function taskIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `T${String(i + 1).padStart(3, '0')}`);
}

/** A temp root with one clone per host name, each holding the same n ready tasks; the fleet's processes die and its folder goes in finally. */
export async function withFleet(names: readonly string[], tasks: number, fn: (f: Fleet) => Promise<void>): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-hosts-'));
  const fleet: Fleet = { root, queue: `q-${crypto.randomBytes(4).toString('hex')}`, out: path.join(root, 'runs.txt'), hosts: [] };
  try {
    fs.writeFileSync(fleet.out, '');
    for (const name of names) {
      const dir = path.join(root, name, 'tasks');
      fs.mkdirSync(dir, { recursive: true });
      for (const id of taskIds(tasks)) fs.writeFileSync(path.join(dir, `${id}.md`), `---\nid: ${id}\ntitle: Task ${id}\nstatus: ready\npriority: p2\n---\n## Problem\nShared.\n`);
      fleet.hosts.push({ name, owner: uniqueOwner(name), dir });
    }
    await fn(fleet);
  } finally {
    // Never through the code under test: every heartbeat's group, then whatever names the root (runs, relays).
    for (const h of fleet.hosts) if (h.hb?.child.pid && alive(h.hb.child.pid)) killGroup(h.hb.child.pid);
    await killAll(root, runPidsUnder(root));
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** Starts a host's heartbeat in the foreground (its own process group) on the shared registry at url. */
export function startHost(f: Fleet, h: Host, url: string, keys: { dispatch: string; max: number; lease?: string; interval?: number }): Running {
  const args = [
    '--import', TSX, SCRIPT, 'heartbeat', `owner=${h.owner}`, `dir=${h.dir}`, `interval=${keys.interval ?? 0.5}`, `max=${keys.max}`,
    'worktrees=off', `queue=${f.queue}`, `lease=${keys.lease ?? '10m'}`, `dispatch=${keys.dispatch}`,
  ];
  h.hb = start(process.execPath, args, { env: cliEnv({ TASK_MANAGER_REGISTRY: url, TASK_MANAGER_HOST: h.name }) });
  return h.hb;
}

/** SIGKILL to a whole process group (a heartbeat started with start(), its runs and relay with it). */
export function killGroup(pgid: number): void {
  killPid(-pgid);
}

/** The host dies at once: its heartbeat's group (runs, relay) gets SIGKILL, and waitFleet expects it gone. */
export function killHost(h: Host): void {
  h.killed = true;
  if (h.hb?.child.pid) killGroup(h.hb.child.pid);
}

/** SIGKILL to one pid (negative: a group); one already gone is fine. */
export function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** A host's snapshot, or undefined before its first one (or mid-write). */
export function snapshotOf(h: Host): { claims: SnapshotClaim[]; escalations: { id: string; reason: string }[]; registry?: { unreachableSince?: string } } | undefined {
  try {
    return JSON.parse(fs.readFileSync(runtimeFile(h.dir, h.owner, 'snapshot.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

/** What a host's foreground heartbeat has printed (its log goes to its stdout). */
export function heartbeatLog(h: Host): string {
  return h.hb?.output() ?? '(not started)';
}

/** One line the runs wrote: `<word> <task id> <run id> <host> [<ms since epoch>]`. */
export interface Mark { word: string; id: string; run: string; host: string; at: number }

/** The lines the runs appended to the fleet's output file. */
export function marks(f: Fleet): Mark[] {
  return fs.readFileSync(f.out, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => {
    const [word = '', id = '', run = '', host = '', at = '0'] = l.trim().split(/\s+/);
    return { word, id, run, host, at: Number(at) };
  });
}

/** Distinct run ids per task id among the marks with the given word. */
export function runsByTask(ms: readonly Mark[], word: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const m of ms) if (m.word === word) out.set(m.id, (out.get(m.id) ?? new Set()).add(m.run));
  return out;
}

/** The pids of the runs dispatched from clones under root (found by the TASK_FILE every run carries). */
export function runPidsUnder(root: string): number[] {
  return pidsWithEnv((v) => v.startsWith(`TASK_FILE=${root}/`));
}

/** The live processes of runs dispatched from clones under root, each with its task id and run id. */
export function liveRuns(root: string): { pid: number; id: string; run: string }[] {
  const out: { pid: number; id: string; run: string }[] = [];
  for (const pid of runPidsUnder(root)) {
    let env: string[];
    try {
      env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const get = (k: string): string | undefined => env.find((v) => v.startsWith(`${k}=`))?.slice(k.length + 1);
    const id = get('TASK_ID');
    const run = get('TASK_RUN_ID');
    if (id && run && alive(pid)) out.push({ pid, id, run });
  }
  return out;
}

/** Live runs under root, grouped: task id → the run ids that have a live process now. */
export function liveRunsByTask(root: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const p of liveRuns(root)) out.set(p.id, (out.get(p.id) ?? new Set()).add(p.run));
  return out;
}

/** The queue's claim rows straight from the database (the test's own client, not the code under test). */
export async function claimRows(url: string, queue: string): Promise<{ task_id: string; host: string; lease_until: Date; state: string }[]> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000, query_timeout: 5000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    const r = await c.query<{ task_id: string; host: string; lease_until: Date; state: string }>("SELECT task_id, host, lease_until, claim->>'state' AS state FROM tasks_claims WHERE queue = $1", [queue]);
    return r.rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** The hosts whose heartbeat exited without the test killing it. */
export function exitedHosts(f: Fleet): Host[] {
  return f.hosts.filter((h) => h.hb && !h.killed && (h.hb.child.exitCode !== null || h.hb.child.signalCode !== null));
}

/**
 * waitUntil whose failure carries every host's heartbeat output (read only if it fails), and
 * that fails at once when a heartbeat exits: the hosts must outlive whatever the test does.
 */
export async function waitFleet<T>(f: Fleet, fn: () => T | undefined | false, what: string, timeoutMs: number): Promise<T> {
  try {
    return await waitUntil(() => {
      const gone = exitedHosts(f);
      if (gone.length) throw new Error(`the heartbeat of ${gone.map((h) => `${h.name} (${h.hb?.child.exitCode ?? h.hb?.child.signalCode})`).join(', ')} exited while waiting for ${what}`);
      return fn();
    }, what, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${story(f)}`);
  }
}

/** Each host's heartbeat output, its last lines, for a failure message. */
export function story(f: Fleet): string {
  return f.hosts.map((h) => `--- ${h.name} (${h.owner}):\n${heartbeatLog(h).split('\n').slice(-30).join('\n')}`).join('\n');
}
