import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SCRIPT = path.join(ROOT, 'scripts', 'tasks-serve.ts');
/** The tsx loader by absolute URL, so the CLI can be started from any folder. */
export const TSX = import.meta.resolve('tsx');
export const JUST = path.join(ROOT, 'node_modules', 'rust-just-linux-x64', 'bin', 'just');
/**
 * How a one-shot command is run: the bundle `npm ci` builds (what the Justfile runs; 0.2 s a call,
 * where tsx costs 0.5 s), which runs the sources itself when any of them is newer than it, so an
 * edit is never tested stale. Without a bundle (before the first build), the sources through tsx.
 */
const BUNDLE = path.join(ROOT, 'dist', 'tasks.mjs');
export const ENTRY: readonly string[] = fs.existsSync(BUNDLE) ? [BUNDLE] : ['--import', TSX, SCRIPT];

/** A unique owner name per test, so parallel tests never share a heartbeat. */
export function uniqueOwner(prefix = 't'): string {
  return `${prefix}-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
}

/** A temporary tasks folder with one task file; remove() deletes it. */
export function tempTasks(): { root: string; dir: string; remove: () => void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-test-'));
  const dir = path.join(root, 'tasks');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'FIRST-TASK.md'), '---\nid: FIRST-TASK\ntitle: First task\nstatus: ready\npriority: p1\n---\n## Problem\nSomething.\n');
  return { root, dir, remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}

/** Environment for CLI children: no inherited owner/dispatch, no colour. */
export function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('TASK_MANAGER_') && k !== 'NODE_OPTIONS' && k !== 'NODE_TEST_CONTEXT') env[k] = v;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

export interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Runs a command to completion with a bounded wait; the failure message shows what it printed. */
export function run(cmd: string, args: readonly string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += String(c); });
    child.stderr.on('data', (c) => { stderr += String(c); });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out: ${cmd} ${args.join(' ')}\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      child.stdout.on('end', () => undefined);
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    });
  });
}

/** Runs the CLI through node and the tsx loader (the fastest entry). */
export function cli(args: readonly string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<Run> {
  return run(process.execPath, [...ENTRY, ...args], opts);
}

/** A long-running child with its output captured, started in its own process group. */
export interface Running {
  child: ChildProcess;
  output: () => string;
  waitFor: (re: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a command in a new process group (like a terminal's foreground job). */
export function start(cmd: string, args: readonly string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Running {
  const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? cliEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let text = '';
  child.stdout?.on('data', (c) => { text += String(c); });
  child.stderr?.on('data', (c) => { text += String(c); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    output: () => text,
    exited,
    waitFor: async (re, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = text.match(re);
        if (m) return m;
        if (Date.now() > deadline) throw new Error(`no ${re} within ${timeoutMs} ms; output so far:\n${text}`);
        await sleep(20);
      }
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * How long a wait gives its condition unless told: generous, because a loaded CI machine (two CPUs,
 * a browser and a dozen servers at once) can take many seconds for what takes one here. A deadline
 * only ever decides how soon a failing test says so.
 */
export const WAIT_MS = 60_000;

/** Waits until fn returns a truthy value; the failure names what was awaited (a function: as it stands at the time-out). */
export async function waitUntil<T>(fn: () => T | undefined | false, what: string | (() => string), timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${said(what)}`);
    await sleep(25);
  }
}

/**
 * Settles as `p` does, or rejects once `ms` pass first, with `why` (a function: as it stands then):
 * a deadline for what may never settle (a spinning page, a server that does not exit).
 */
export async function within<T>(p: Promise<T>, ms: number, why: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(said(why))), ms); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** What a wait was for, as it stands now; a description that fails to say itself says so, never hiding the time-out. */
function said(what: string | (() => string)): string {
  if (typeof what === 'string') return what;
  try {
    return what();
  } catch (err) {
    return `(its description failed: ${String(err)})`;
  }
}

/** True when the pid exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Pids whose command line mentions the given text (e.g. a test's unique temp folder). */
export function pidsMentioning(text: string): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cmd.includes(text) && alive(Number(name))) found.push(Number(name));
    } catch {
      // the process exited while we looked
    }
  }
  return found;
}

/** Pids of processes whose environment names a task file under root: the runs a test dispatched, wherever they went. */
export function runPids(root: string): number[] {
  return pidsWithEnv((v) => v.startsWith(`TASK_FILE=${root}/`));
}

/** The pids whose environment has a variable that `match` accepts (read from /proc; gone or foreign processes skipped). */
export function pidsWithEnv(match: (variable: string) => boolean): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').some(match)) found.push(Number(name));
    } catch (err) {
      // Gone meanwhile, or not ours to read.
      if (!['ENOENT', 'ESRCH', 'EACCES', 'EPERM'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  }
  return found;
}

/** Line 1 of a pid file as a number, or undefined. */
export function readPid(file: string): number | undefined {
  try {
    const first = fs.readFileSync(file, 'utf8').split('\n')[0];
    return first && /^[0-9]+$/.test(first) ? Number(first) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Kills every process this test started: those whose command line names the test's unique
 * temp folder (heartbeats and servers the CLI started for it), plus the given pids. Waits
 * until they are gone.
 */
export async function killAll(marker: string, pids: readonly number[] = []): Promise<void> {
  const targets = new Set([...pidsMentioning(marker), ...pids.filter((p) => p > 1)]);
  for (const pid of targets) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  await waitUntil(() => [...targets].every((p) => !alive(p)) || undefined, `pids ${[...targets].join(',')} to exit`, 10_000);
}

/** Runtime file paths for an owner, as the tool lays them out. */
export function runtimeFile(dir: string, owner: string, suffix: string): string {
  return path.join(dir, 'logs', 'task_manager', `task-manager-${owner}.${suffix}`);
}

/** Lists every file under a folder (relative paths), for "nothing was created" checks. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(path.relative(dir, p));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** What a test gets from withTempFolder: its own tasks folder, a unique owner, pids to kill. */
export interface Folder { root: string; dir: string; owner: string; extra: number[] }

/** One temp folder + owner per test, with every process it started killed (and checked gone) in finally. */
export async function withTempFolder(prefix: string, fn: (t: Folder) => Promise<void>): Promise<void> {
  const t = tempTasks();
  const extra: number[] = [];
  try {
    await fn({ root: t.root, dir: t.dir, owner: uniqueOwner(prefix), extra });
  } finally {
    await killAll(t.root, extra);
    t.remove();
  }
}

/** waitUntil for an async condition (a CLI call, an HTTP request); the failure names what was awaited. */
export async function waitUntilAsync<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Runs body with a fresh temp folder holding `files` (relative path → content), removed afterwards. */
export function withTree(files: Record<string, string>, body: (root: string) => void, prefix = 'tasks-tree-'): void {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  try {
    for (const [rel, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), content);
    }
    body(root);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/**
 * `serve --no-heartbeat` on a free loopback port (nothing changes the pages but the test), waited
 * for until its port answers, not for its ready line; its pid is the folder's to kill.
 */
export async function serveBare(t: Folder, more: readonly string[] = [], env?: Record<string, string>): Promise<{ s: Running; base: string }> {
  const port = await getPort({ host: '127.0.0.1' });
  const s = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', `owner=${t.owner}`, `dir=${t.dir}`, `port=${port}`, '--no-heartbeat', ...more], env ? { env } : {});
  t.extra.push(s.child.pid as number);
  const base = `http://127.0.0.1:${port}`;
  await waitUntilAsync(() => fetch(`${base}/api/health`).then(() => true, () => false), 'the port to answer');
  return { s, base };
}

/**
 * Ends a serve started with start() (in its own process group) with SIGTERM, and waits for it to
 * exit. A serve that ignores SIGTERM does not hang the test's cleanup: after 20 s its group gets
 * SIGKILL and the test fails, naming it.
 */
export async function stopServe(s: Running): Promise<void> {
  const pid = s.child.pid as number;
  process.kill(-pid, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), 20_000); });
  const ended = await Promise.race([s.exited.then(() => 'exited' as const), late]);
  clearTimeout(timer);
  if (ended === 'exited') return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
  await s.exited;
  throw new Error(`serve (pid ${pid}) did not exit within 20 s of SIGTERM; killed its group. Output:\n${s.output()}`);
}

/**
 * A zombie and the parent that never reaps it. The child waits for a file that is made only once
 * the parent has become `sleep` (exec): a shell reaps a child that ends before its exec (on a busy
 * machine it does), which leaves no zombie to test with.
 */
export async function makeZombie(): Promise<{ parent: ChildProcess; zombie: number }> {
  const go = path.join(os.tmpdir(), `tasks-zombie-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  const parent = spawn('sh', ['-c', 'while [ ! -e "$1" ]; do sleep 0.02; done & echo $!; exec sleep 300', 'sh', go], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const zombie = Number(await new Promise<string>((r) => parent.stdout?.once('data', (d) => r(String(d).trim()))));
    const state = (pid: number): string => { try { return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] ?? ''; } catch { return ''; } };
    await waitUntil(() => { try { return fs.readFileSync(`/proc/${parent.pid}/cmdline`, 'utf8').startsWith('sleep\0'); } catch { return false; } }, 'the shell to exec into sleep');
    fs.writeFileSync(go, '');
    await waitUntil(() => state(zombie) === 'Z', `pid ${zombie} to be a zombie`);
    return { parent, zombie };
  } finally {
    fs.rmSync(go, { force: true });
  }
}

/**
 * A `sleep` whose command line names the folder: a symlink to the system's sleep at
 * <folder>/bin/sleep. A dispatch command that sleeps through it (and the `sh -c` that runs the
 * command, whose text names it too) is found and killed by killAll(folder), so a test's cleanup
 * never depends on the code under test (`stop`, `release --force`) ending its runs.
 */
export function sleeperIn(folder: string): string {
  const link = path.join(folder, 'bin', 'sleep');
  if (fs.lstatSync(link, { throwIfNoEntry: false })) return link;
  const real = (process.env.PATH ?? '/usr/bin:/bin').split(path.delimiter).map((d) => path.join(d, 'sleep')).find((p) => fs.existsSync(p));
  if (!real) throw new Error('no sleep on PATH');
  fs.mkdirSync(path.dirname(link), { recursive: true });
  fs.symlinkSync(real, link);
  return link;
}

/** Every entry under a folder with its kind and a hash of its bytes (or its link's target). */
export function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const rel = path.relative(dir, p);
      if (e.isSymbolicLink()) out[rel] = `link ${fs.readlinkSync(p)}`;
      else if (e.isDirectory()) {
        out[rel] = 'folder';
        walk(p);
      } else out[rel] = `file ${crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`;
    }
  };
  walk(dir);
  return out;
}

/**
 * A new git repository at repo on branch main, with a committer and the .gitignore given (git: an
 * absolute git, where PATH holds a fake). Nothing is committed yet: see commitAll.
 */
export function makeRepo(repo: string, gitignore: string, git = 'git'): void {
  const run = (...args: string[]): void => { execFileSync(git, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] }); };
  run('init', '-q', '-b', 'main');
  run('config', 'user.email', 'tasks-test@example.invalid');
  run('config', 'user.name', 'Tasks Test');
  fs.writeFileSync(path.join(repo, '.gitignore'), gitignore);
}

/** Commits everything in repo (git: as for makeRepo). */
export function commitAll(repo: string, message: string, git = 'git'): void {
  execFileSync(git, ['add', '-A'], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  execFileSync(git, ['commit', '-q', '-m', message], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A reply as the wire had it: node's http never decompresses, so the bytes are the wire's. */
export interface RawReply { status: number; headers: http.IncomingHttpHeaders; body: Buffer }

/** One request with exactly these headers. */
export function rawRequest(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    http.request(url, { headers, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject).end();
  });
}
