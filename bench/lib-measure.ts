// Shared by the benchmarks: the repository root, a child environment, medians, whole-process
// wall times and the check that dist/ was built from the sources as they are now.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE = path.join(ROOT, 'dist', 'tasks.mjs');

/**
 * The environment for what a benchmark starts: no colour, and no NODE_OPTIONS, which `npm run`
 * sets from .npmrc (--import=tsx) and which would add the loader to every node measured.
 */
export function benchEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
  delete env.NODE_OPTIONS;
  return env;
}

/** The median of xs (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** The p-th percentile (0..100) of xs, nearest rank. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

/**
 * Runs cmd to its exit and returns the wall time in ms, from spawn to exit. Throws when the exit
 * code is not one of okCodes, with the stderr it printed, so a broken command is never timed.
 */
export function wallMs(cmd: string, args: readonly string[], okCodes: readonly number[], env = benchEnv()): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => { if (stderr.length < 4000) stderr += String(chunk); });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = performance.now() - t0;
      if (code !== null && okCodes.includes(code)) resolve(ms);
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code ?? signal}: ${stderr.trim()}`));
    });
  });
}

/**
 * The newest source file that is newer than dist/tasks.mjs, if any. The bundle then hands itself
 * over to the sources through tsx, so what it costs is that fallback, not the bundle.
 */
export function staleSource(): string | undefined {
  const built = fs.statSync(BUNDLE).mtimeMs;
  let newest: { file: string; at: number } | undefined;
  const walk = (folder: string): void => {
    for (const e of fs.readdirSync(folder, { withFileTypes: true })) {
      const p = path.join(folder, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|css)$/.test(e.name)) {
        const at = fs.statSync(p).mtimeMs;
        if (at > built && (!newest || at > newest.at)) newest = { file: path.relative(ROOT, p), at };
      }
    }
  };
  walk(path.join(ROOT, 'lib'));
  walk(path.join(ROOT, 'scripts'));
  return newest?.file;
}

/** How to run the CLI as operators do: the bundle when `npm ci` built it, else the sources. */
export function cliCommand(): string[] {
  return fs.existsSync(BUNDLE) ? [BUNDLE] : ['--import', 'tsx', path.join(ROOT, 'scripts', 'tasks-serve.ts')];
}

/** Polls f every 5 ms until it gives a value; throws naming `what` after ms. */
export async function until<T>(what: string, f: () => T | undefined | Promise<T | undefined>, ms = 20_000): Promise<T> {
  for (const t0 = performance.now(); performance.now() - t0 < ms; await new Promise((r) => setTimeout(r, 5))) {
    const v = await f();
    if (v !== undefined) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Waits until a server at base has every task page on disk (`/api/health` says `build: current`,
 * whatever its status code): the list comes first and task pages after, and sirv-cli, which walks
 * the folder once at start, stops on a file renamed into place during that walk.
 */
export async function untilPagesBuilt(base: string, ms = 300_000): Promise<void> {
  await until(`every page of ${base} built`, async () => {
    try {
      const body = await (await fetch(new URL('/api/health', base))).json() as { build?: string };
      return body.build === 'current' ? true : undefined;
    } catch {
      return undefined;
    }
  }, ms);
}

/** Ends a `serve` the benchmark started in its own group (SIGTERM, as Ctrl-C would), then stops its heartbeat the way operators do. */
export async function endServe(serve: ChildProcess, owner: string, dir: string): Promise<void> {
  if (serve.pid && serve.exitCode === null) {
    const exited = new Promise((r) => serve.once('exit', r));
    process.kill(-serve.pid, 'SIGTERM');
    await exited;
  }
  // The heartbeat (and any run it started) lives in its own session.
  await new Promise((r) => spawn(process.execPath, [...cliCommand(), 'stop', `owner=${owner}`, `dir=${dir}`], { env: benchEnv(), stdio: 'ignore' }).once('exit', r));
}

/** A `serve --no-heartbeat` of dir through the sources on a free loopback port, resolved once it says it is serving (its URL line). */
export async function serveWithoutHeartbeat(dir: string, owner: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/tasks-serve.ts', 'serve', '--no-heartbeat', `owner=${owner}`, `dir=${dir}`, `port=${port}`], { cwd: ROOT, env: benchEnv(), stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => { out += String(c); if (out.includes('serving tasks')) resolve(); });
    child.on('exit', () => reject(new Error(`serve exited: ${out}`)));
  });
  return child;
}
