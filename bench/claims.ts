// Shared-claims benchmark (issue 17): 8 simulated hosts (8 clone folders, 8 owners, 8
// TASK_MANAGER_HOST names, one queue in one throwaway PostgreSQL) x the same 1,000 ready tasks,
// max=50, each run appending "<task id> <owner> <run marker>" to one shared file. It prints the
// double dispatches (ids the file holds more than once: must be 0, else exit 1), the time until
// every task has been dispatched once, claims per second, and beside them a plain INSERT loop of
// 1,000 rows from one client into the same database, so the figure says what the claim protocol
// costs over the database's own floor. Needs PostgreSQL's server binaries (test/pg.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { runtimePaths } from '../lib/base/paths.ts';
import { pgSkip, startPostgres } from '../test/pg.ts';
import { ROOT, benchEnv, cliCommand } from './lib-measure.ts';

const HOSTS = 8;
const TASKS = 1000;
const MAX = 50;
const INTERVAL_S = 0.5;
const QUEUE = 'bench-claims';
/** A run that ends later than this after the last first dispatch would be a late double: watch that long. */
const SETTLE_MS = 3000;
const DEADLINE_MS = 120_000;

function writeTasks(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < TASKS; i++) {
    const id = `C-${String(i).padStart(4, '0')}`;
    fs.writeFileSync(path.join(dir, `${id}.md`), `---\nid: ${id}\ntitle: Claims bench task ${i}\nstatus: ready\npriority: p${i % 4}\n---\n## Plan\n- [ ] run\n`);
  }
}

/** Ms for 1,000 single-row INSERTs, one statement each, autocommit, one client: the database's own floor. */
async function insertLoop(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('CREATE TABLE bench_insert (id integer PRIMARY KEY, note text NOT NULL)');
    await client.query('INSERT INTO bench_insert VALUES (-1, $1)', ['warm-up']);
    const t0 = performance.now();
    for (let i = 0; i < TASKS; i++) await client.query('INSERT INTO bench_insert VALUES ($1, $2)', [i, `row ${i}`]);
    return performance.now() - t0;
  } finally {
    await client.end();
  }
}

interface Line { id: string; owner: string; run: string; at: number }

/** Reads the lines appended since offset; a line still being written (no newline yet) waits for the next read. */
function readNew(file: string, from: { offset: number; rest: string }, at: number): Line[] {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size <= from.offset) return [];
    const buf = Buffer.alloc(size - from.offset);
    const n = fs.readSync(fd, buf, 0, buf.length, from.offset);
    from.offset += n;
    const parts = (from.rest + buf.subarray(0, n).toString('utf8')).split('\n');
    from.rest = parts.pop() ?? '';
    return parts.filter((l) => l !== '').map((l) => {
      const [id = '', owner = '', run = ''] = l.split(' ');
      return { id, owner, run, at };
    });
  } finally {
    fs.closeSync(fd);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Stops one heartbeat we started: SIGTERM, then its whole process group (its runs) with SIGKILL if it lingers. */
async function stopHeartbeat(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once('exit', () => r()));
  try { process.kill(pid, 'SIGTERM'); } catch { /* already gone */ }
  await Promise.race([exited, sleep(10_000)]);
  try { process.kill(-pid, 'SIGKILL'); } catch { /* the group is gone */ }
}

if (pgSkip) {
  console.log(`claims benchmark skipped: ${pgSkip}`);
  process.exit(0);
}
const db = await startPostgres();
if (!db) throw new Error('claims benchmark: no PostgreSQL cluster');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-bench-claims-'));
const shared = path.join(tmp, 'dispatched.txt');
const children: { owner: string; dir: string; child: ChildProcess; stderr: string[] }[] = [];
let failed = false;
try {
  console.log(`claims benchmark, node ${process.version}, ${os.cpus().length} cpus, ${HOSTS} heartbeats (one queue, one PostgreSQL) x ${TASKS} ready tasks, max=${MAX}, interval=${INTERVAL_S}s`);
  const insertMs = await insertLoop(db.url);

  const dispatch = `printf '%s %s %s\\n' "$TASK_ID" "$TASK_MANAGER_OWNER" "$TASK_RUN_ID" >> ${shared}`;
  for (let h = 0; h < HOSTS; h++) writeTasks(path.join(tmp, `clone-${h}`, 'tasks'));
  const t0 = performance.now();
  for (let h = 0; h < HOSTS; h++) {
    const owner = `bench${h}`;
    const dir = path.join(tmp, `clone-${h}`, 'tasks');
    const env = { ...benchEnv(), TASK_MANAGER_REGISTRY: db.url, TASK_MANAGER_HOST: `host-${h}` };
    // The identity words first, in the form a detached heartbeat has, so the CLI runs the loop itself instead of starting it again.
    const args = [...cliCommand(), 'heartbeat', `owner=${owner}`, `dir=${dir}`, `interval=${INTERVAL_S}`, `max=${MAX}`, 'worktrees=off', `queue=${QUEUE}`, `dispatch=${dispatch}`];
    // A foreground heartbeat logs to its stdout: kept in a file beside the clone, shown on a hang.
    const out = fs.openSync(path.join(tmp, `heartbeat-${owner}.log`), 'a');
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', out, 'pipe'], detached: true });
    fs.closeSync(out);
    const entry = { owner, dir, child, stderr: [] as string[] };
    child.stderr?.on('data', (c) => { if (entry.stderr.length < 50) entry.stderr.push(String(c)); });
    children.push(entry);
  }

  const seen = new Map<string, Line[]>();
  const cursor = { offset: 0, rest: '' };
  let firstAt: number | undefined;
  let allAt: number | undefined;
  while (allAt === undefined || performance.now() - allAt < SETTLE_MS) {
    const now = performance.now();
    for (const l of readNew(shared, cursor, now)) {
      firstAt ??= now - t0;
      seen.set(l.id, [...(seen.get(l.id) ?? []), l]);
    }
    if (allAt === undefined && seen.size >= TASKS) allAt = now;
    const dead = children.find((c) => c.child.exitCode !== null || c.child.signalCode !== null);
    if (dead) throw new Error(`heartbeat ${dead.owner} exited (${dead.child.exitCode ?? dead.child.signalCode}): ${dead.stderr.join('').trim()}`);
    if (allAt === undefined && now - t0 > DEADLINE_MS) {
      failed = true;
      console.log(`HANG: after ${(DEADLINE_MS / 1000).toFixed(0)} s only ${seen.size} of ${TASKS} tasks were dispatched`);
      for (const c of children) console.log(`  ${c.owner} heartbeat log tail:\n${tail(path.join(tmp, `heartbeat-${c.owner}.log`), 8)}`);
      break;
    }
    await sleep(20);
  }

  const doubles = [...seen].filter(([, ls]) => ls.length > 1);
  const runs = [...seen.values()].reduce((n, ls) => n + ls.length, 0);
  const byOwner = new Map<string, number>();
  for (const ls of seen.values()) for (const l of ls) byOwner.set(l.owner, (byOwner.get(l.owner) ?? 0) + 1);
  console.log(`double dispatches: ${doubles.length} (${runs} runs for ${seen.size} tasks, watched ${SETTLE_MS / 1000} s past the last)`);
  if (doubles.length) {
    failed = true;
    for (const [id, ls] of doubles.slice(0, 20)) console.log(`  ${id}: ${ls.map((l) => `${l.owner} run ${l.run} at ${((l.at - t0) / 1000).toFixed(2)}s`).join('; ')}`);
  }
  if (allAt !== undefined) {
    const allMs = allAt - t0;
    const claimMs = allMs - (firstAt ?? 0);
    console.log(`every task dispatched once: ${(allMs / 1000).toFixed(2)} s from starting the heartbeats (first dispatch at ${((firstAt ?? 0) / 1000).toFixed(2)} s, so ${(claimMs / 1000).toFixed(2)} s of claiming)`);
    console.log(`claims per second: ${(TASKS / (allMs / 1000)).toFixed(0)} overall, ${(TASKS / (claimMs / 1000)).toFixed(0)} from the first dispatch; per host ${[...byOwner].sort().map(([o, n]) => `${o} ${n}`).join(', ')}`);
    console.log(`plain INSERT loop, ${TASKS} rows, one client, autocommit: ${insertMs.toFixed(0)} ms (${(TASKS / (insertMs / 1000)).toFixed(0)} rows/s); claiming from the first dispatch takes ${(claimMs / insertMs).toFixed(1)}x as long`);
  }
  const snap = readSnapshot(runtimePaths(children[0]?.dir ?? '', children[0]?.owner ?? '').snapshot);
  if (snap) console.log(`${children[0]?.owner}'s last snapshot: ${snap}`);
} finally {
  await Promise.all(children.map((c) => stopHeartbeat(c.child)));
  await db.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

function tail(file: string, n: number): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).map((l) => `    ${l}`).join('\n');
  } catch (err) {
    return `    (${(err as Error).message})`;
  }
}

/** The claims a heartbeat's snapshot shows (from every host), by state and by host, and the runs that exited non-zero. */
function readSnapshot(file: string): string | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(file, 'utf8')) as { claims?: { state?: string; exitCode?: number | null; host?: string; note?: string | null }[] };
    const claims = s.claims ?? [];
    const count = (key: (c: (typeof claims)[number]) => string): string => {
      const m = new Map<string, number>();
      for (const c of claims) m.set(key(c), (m.get(key(c)) ?? 0) + 1);
      return [...m].sort().map(([k, v]) => `${k} ${v}`).join(', ');
    };
    const nonZero = claims.filter((c) => c.exitCode !== undefined && c.exitCode !== null && c.exitCode !== 0).length;
    const notes = [...new Set(claims.map((c) => c.note).filter((n) => n))].slice(0, 3).join(' | ');
    return `${claims.length} claims; by state: ${count((c) => c.state ?? '?')}; by host: ${count((c) => c.host ?? '?')}; non-zero exits ${nonZero}${notes ? `; notes: ${notes}` : ''}`;
  } catch (err) {
    return `(unreadable: ${(err as Error).message})`;
  }
}
