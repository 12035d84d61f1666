// The operator console: `just tasks serve owner=dave` ensures the owner's heartbeat, then serves
// the dashboard. The only module that touches process (argv, env, signals, exit code); each action
// lives in lib/cli/actions/ and is loaded on demand, so `status` never loads the web or YAML code.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import kleur from 'kleur';
import { type Action, parseArgs, usage } from '../lib/cli/args.ts';
import { type ActionRun, type Cli, terminalText } from '../lib/cli/context.ts';
import { TasksError } from '../lib/base/errors.ts';
import { defaultTasksDir, findHostRoot } from '../lib/cli/root.ts';

const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SCRIPT), '..');
/** Running as the esbuild bundle (dist/tasks.mjs, built by `npm ci`): no TypeScript loader needed. */
const BUNDLED = SCRIPT.endsWith('.mjs');
/**
 * Started as the installed `tasks` command (scripts/tasks.mjs, the package's bin): dir= defaults to
 * the repository the command is typed in, not to this package's own tasks/.
 */
const FROM_BIN = process.env.TASKS_FROM_BIN === '1';

/** One loader per action; esbuild splits each into its own chunk. */
const ACTIONS: Record<Action, () => Promise<{ run: ActionRun }>> = {
  serve: () => import('../lib/cli/actions/serve.ts'),
  ensure: () => import('../lib/cli/actions/ensure.ts'),
  status: () => import('../lib/cli/actions/status.ts'),
  stop: () => import('../lib/cli/actions/stop.ts'),
  heartbeat: () => import('../lib/cli/actions/heartbeat.ts'),
  logs: () => import('../lib/cli/actions/logs.ts'),
  build: () => import('../lib/cli/actions/build.ts'),
  release: () => import('../lib/cli/actions/release.ts'),
  retry: () => import('../lib/cli/actions/release.ts'),
  prune: () => import('../lib/cli/actions/prune.ts'),
  set: () => import('../lib/cli/actions/edit.ts'),
  note: () => import('../lib/cli/actions/edit.ts'),
  check: () => import('../lib/cli/actions/edit.ts'),
  new: () => import('../lib/cli/actions/edit.ts'),
  mcp: () => import('../lib/cli/actions/mcp.ts'),
  history: () => import('../lib/cli/actions/history.ts'),
  notify: () => import('../lib/cli/actions/notify.ts'),
  startup: () => import('../lib/cli/actions/startup.ts'),
};

/** The words after this script, whether run by the zx CLI, node, npm or just. */
function scriptArgs(): string[] {
  const real = fs.realpathSync(SCRIPT);
  const at = process.argv.findIndex((a, i) => i > 0 && safeRealpath(a) === real);
  return process.argv.slice(at === -1 ? 2 : at + 1);
}

function safeRealpath(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined; // argv words that are not paths (flags, node options) are simply not the script
  }
}

/** Children run the tsx loader explicitly; an inherited NODE_OPTIONS=--import=tsx would leak into dispatched commands. */
function childEnv(): Record<string, string | undefined> {
  const env = { ...process.env };
  if (env.NODE_OPTIONS?.includes('tsx')) delete env.NODE_OPTIONS;
  delete env.TASKS_SERVER_DETACHED;
  delete env.TASKS_INVOCATION_DIR;
  delete env.TASKS_FROM_BIN;
  delete env.TASKS_BUILD_HOLD; // a test's hold on this server's builds, not on a heartbeat's or a run's
  return env;
}

// A closed pipe (`tasks status | head -1`) ends our output, not the command.
let stdoutClosed = false;
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  stdoutClosed = true;
});

/**
 * Where relative paths (dir=, out=) are resolved: the folder the operator typed the command in.
 * just and npm run start us in the repository root, so they pass it on (TASKS_INVOCATION_DIR from
 * the Justfile, INIT_CWD from npm).
 */
function invocationDir(): string {
  const fromJust = process.env.TASKS_INVOCATION_DIR;
  if (fromJust) return fromJust;
  if (process.env.npm_lifecycle_event === 'tasks' && process.env.INIT_CWD) return process.env.INIT_CWD;
  return process.cwd();
}

/** Signals end the current action calmly: handlers stay installed, so a second signal is not fatal. */
function onStop(): { signal: AbortSignal; received: () => string | undefined } {
  const ac = new AbortController();
  let got: string | undefined;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => { got ??= sig; ac.abort(); });
  return { signal: ac.signal, received: () => got };
}

/** A child on this terminal: a terminal's Ctrl-C reaches it directly too; its handlers take a second one calmly. */
async function runAttached(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<number> {
  // Loaded here, not at start: `status` runs no child and should not pay for child_process.
  const { spawn } = await import('node:child_process');
  const child = spawn(cmd, args, { ...opts, stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  return new Promise((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : 1))));
}

const cli: Cli = {
  out: (line) => { if (!stdoutClosed) process.stdout.write(terminalText(line) + '\n'); },
  write: (text) => { if (!stdoutClosed) process.stdout.write(terminalText(text)); },
  note: (line) => { process.stderr.write(terminalText(line) + '\n'); },
  warn: (line) => { process.stderr.write(kleur.yellow(terminalText(line)) + '\n'); },
  launcher: { node: process.execPath, nodeArgs: BUNDLED ? [] : ['--import', import.meta.resolve('tsx')], script: SCRIPT, cwd: ROOT, env: childEnv() },
  self: { pid: process.pid, ppid: process.ppid },
  root: ROOT,
  cwd: process.cwd(),
  argv: scriptArgs(),
  env: process.env,
  onStop,
  runAttached,
};

async function main(): Promise<number> {
  // What parses the command line and runs `status` is checked first; the rest once the action is known.
  if (staleBundle(true)) return runSources();
  const cwd = invocationDir();
  const root = FROM_BIN ? findHostRoot(cwd) : ROOT;
  const parsed = parseArgs(cli.argv, { env: process.env, cwd, root, user: os.userInfo().username, ...(FROM_BIN ? { defaultDir: defaultTasksDir(root) } : {}) });
  if (parsed.help) {
    cli.out(usage());
    return 0;
  }
  if (parsed.options.action !== 'status' && staleBundle(false)) return runSources();
  const { run } = await ACTIONS[parsed.options.action]();
  return run(parsed.options, cli);
}

/**
 * The bundle is built from the sources by `npm ci` (prepare). If a source file is newer, the bundle
 * is stale: run the sources through tsx instead, so an edit is never silently ignored. `status`
 * checks only the files it runs (prepare lists them in dist/status-sources.json, parsing included):
 * stat-ing all 150 cost it ~9 ms of CPU, a fifth of its time beyond a bare node's start. Any
 * other action checks every file.
 */
function staleBundle(statusOnly: boolean): boolean {
  if (!BUNDLED) return false;
  const built = fs.statSync(SCRIPT).mtimeMs;
  const listed = statusOnly ? statusSources() : undefined;
  if (listed) return listed.some((f) => (fs.statSync(path.join(ROOT, f), { throwIfNoEntry: false })?.mtimeMs ?? 0) > built);
  // A bundle copied without its sources beside it (bench/ runs such a copy) has nothing to be older than.
  const newer = (folder: string): boolean => (fs.existsSync(folder) ? fs.readdirSync(folder, { withFileTypes: true }) : []).some((e) => {
    const p = path.join(folder, e.name);
    if (e.isDirectory()) return newer(p);
    return (e.name.endsWith('.ts') || e.name.endsWith('.css')) && fs.statSync(p).mtimeMs > built;
  });
  return newer(path.join(ROOT, 'lib')) || newer(path.join(ROOT, 'scripts'));
}

/** The sources `status` runs, as prepare listed them; undefined when the list is missing or unreadable (then every file is checked). */
function statusSources(): string[] | undefined {
  try {
    const list: unknown = JSON.parse(fs.readFileSync(path.join(path.dirname(SCRIPT), 'status-sources.json'), 'utf8'));
    return Array.isArray(list) && list.every((f) => typeof f === 'string') ? list : undefined;
  } catch {
    return undefined;
  }
}

const runSources = (): Promise<number> => runAttached(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(ROOT, 'scripts', 'tasks-serve.ts'), ...cli.argv]);

/**
 * Set when this module runs as the server's build thread (lib/web/site/build-thread.ts starts it so).
 * A worker started without `argv` has no words after the script; a command has some (a bare
 * `tasks` is a usage error either way). So node:worker_threads, 2 ms `status` need not pay, is
 * loaded only then.
 */
const thread = process.argv.length <= 2 ? await import('node:worker_threads') : undefined;
const buildThread = thread !== undefined && !thread.isMainThread && thread.parentPort !== null && (thread.workerData as { role?: unknown } | null)?.role === 'tasks-build';

if (thread && buildThread) {
  // Not awaited: the bundled chunk imports dist/tasks.mjs, which must finish evaluating first.
  void import('../lib/web/site/build-worker.ts').then(({ runBuildWorker }) => {
    runBuildWorker(thread.workerData as Parameters<typeof runBuildWorker>[0], thread.parentPort as NonNullable<typeof thread.parentPort>);
  });
} else {
  main().then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      if (err instanceof TasksError) {
        process.stderr.write(`${kleur.red('tasks:')} ${terminalText(err.message)}\n`);
        process.exitCode = err.exitCode;
      } else {
        process.stderr.write(`tasks: bug: ${terminalText(err instanceof Error ? err.stack ?? err.message : String(err))}\n`);
        process.exitCode = 1;
      }
      // A failed action must end the process even if a handle (a lock socket, a watch, a timer)
      // is still open: a daemon that no longer works must not live on looking alive.
      setTimeout(() => process.exit(), 2000).unref();
    },
  );
}
