// A throwaway PostgreSQL cluster per test: Debian's server binaries, initdb in a temp folder (as the
// postgres user when we are root, since initdb refuses root), a free loopback port, removed by stop().
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import { isErrno } from '../lib/base/errors.ts';
import { isOurs, killPostmaster, readPostmasterPid, signal } from './pg-process.ts';

/** Every pg child (initdb, pg_ctl, createdb) is killed, its whole group, after this long. */
const CHILD_TIMEOUT_MS = 60_000;
const HOST = '127.0.0.1';

/** One running cluster; the url connects as the trusted superuser `postgres` over TCP. */
export interface Pg {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly socketDir: string;
  readonly db: string;
  /** The postmaster's pid now (from data/postmaster.pid); a new one after restart(), 0 while down. */
  readonly pid: number;
  /** Stops the server at once (immediate: no checkpoint) and removes the folder. Idempotent, never throws. */
  stop(): Promise<void>;
  /** Stops the server at once but keeps its data: "the database went away". */
  down(): Promise<void>;
  /** Starts it again on the same port after down(). */
  up(): Promise<void>;
  /** down() then up(): "the database restarted mid-run". */
  restart(): Promise<void>;
  /** Creates another database on this cluster and returns its url. */
  createDatabase(name: string): Promise<string>;
}

/** The folder of the newest server binaries: Debian's /usr/lib/postgresql/<major>/bin, else PATH. */
export function findPgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  let majors: string[] = [];
  try {
    majors = fs.readdirSync(root).filter((v) => /^[0-9]+(\.[0-9]+)?$/.test(v)).sort((a, b) => Number(b) - Number(a));
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  for (const major of majors) {
    const bin = path.join(root, major, 'bin');
    if (hasServerTools(bin)) return bin;
  }
  return (process.env['PATH'] ?? '').split(path.delimiter).find((dir) => dir !== '' && hasServerTools(dir));
}

function hasServerTools(bin: string): boolean {
  return ['initdb', 'pg_ctl', 'createdb'].every((tool) => {
    try {
      fs.accessSync(path.join(bin, tool), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const AS_ROOT = process.getuid?.() === 0;

function postgresUser(): { uid: number; gid: number } | undefined {
  const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  return uid && gid ? { uid: Number(uid), gid: Number(gid) } : undefined;
}

const PG_BIN = findPgBin();
const PG_USER = AS_ROOT ? postgresUser() : undefined;

/** Why the PostgreSQL tests are skipped here, or false: for `test(name, { skip: pgSkip }, …)`. */
export const pgSkip: string | false = !PG_BIN
  ? 'no PostgreSQL binaries (apt-get install -y postgresql)'
  : AS_ROOT && !PG_USER
    ? 'running as root and no postgres user to run initdb as (apt-get install -y postgresql makes one)'
    : false;

/** The environment for pg children: none of the operator's PG* settings leak into them. */
function pgEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('PG') && !k.startsWith('TASK_MANAGER_') && k !== 'NODE_OPTIONS') env[k] = v;
  }
  return env;
}

/** Runs one pg tool bounded (its own process group, SIGKILLed at the deadline); rejects with its output on failure. */
function runTool(args: readonly string[], opts: { cwd: string; asPostgres: boolean }): Promise<string> {
  const [cmd, ...rest] = opts.asPostgres && AS_ROOT ? ['runuser', '-u', 'postgres', '--', ...args] : args;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd ?? '', rest, { cwd: opts.cwd, env: pgEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    child.stdout.on('data', (c) => { out += String(c); });
    child.stderr.on('data', (c) => { out += String(c); });
    const timer = setTimeout(() => {
      try { process.kill(-(child.pid ?? 0), 'SIGKILL'); } catch (err) { if (!isErrno(err, 'ESRCH')) throw err; }
    }, CHILD_TIMEOUT_MS);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    // 'exit', not 'close': the postmaster pg_ctl starts may hold the pipes for its whole life.
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${out}`));
    });
  });
}

/** Clusters still running, ended if this test process exits without stopping them (a crash, a forgotten finally). */
const running = new Map<string, () => number | undefined>();
process.on('exit', () => {
  for (const [folder, pid] of running) {
    const p = pid();
    if (p !== undefined && isOurs(p, folder)) signal(p, 'SIGKILL');
    fs.rmSync(folder, { recursive: true, force: true });
  }
});

function checkDbName(name: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`database name must match [a-z_][a-z0-9_]*, got ${JSON.stringify(name)}`);
}

/** Starts a throwaway cluster with one fresh database; undefined when this machine has no PostgreSQL binaries. */
export async function startPostgres(): Promise<Pg | undefined> {
  if (pgSkip || !PG_BIN) return undefined;
  const bin = PG_BIN;
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-pg-'));
  // The postgres user must traverse the folder to reach its data and socket folders.
  fs.chmodSync(folder, 0o755);
  const data = path.join(folder, 'data');
  const socketDir = path.join(folder, 'socket');
  const log = path.join(folder, 'socket', 'server.log');
  let pid: number | undefined;
  running.set(folder, () => pid);
  const tool = (args: string[], asPostgres = true): Promise<string> => runTool(args, { cwd: folder, asPostgres });
  const base = { host: HOST, socketDir, db: `t_${process.pid}_${crypto.randomBytes(4).toString('hex')}` };
  let port = 0;

  const startServer = async (): Promise<void> => {
    const opts = `-p ${port} -k ${socketDir} -c listen_addresses=${HOST} -c fsync=off -c full_page_writes=off`;
    await tool([path.join(bin, 'pg_ctl'), '-D', data, '-l', log, '-o', opts, '-w', '-t', '30', 'start']);
    pid = readPostmasterPid(data);
    if (pid === undefined) throw new Error(`pg_ctl started the server but ${data}/postmaster.pid holds no pid`);
  };
  const down = async (): Promise<void> => {
    // A start that timed out may have left a postmaster whose pid only its file knows.
    pid ??= readPostmasterPid(data);
    if (pid === undefined) return;
    try {
      await tool([path.join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop']);
    } catch (err) {
      process.stderr.write(`pg harness: pg_ctl stop failed, killing the postmaster ${pid}: ${(err as Error).message}\n`);
    }
    await killPostmaster(pid, folder);
    pid = undefined;
  };
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      // Cleanup must never fail a test's finally: what goes wrong is said on stderr instead.
      try {
        await down();
      } catch (err) {
        process.stderr.write(`pg harness: stopping ${folder}: ${(err as Error).message}\n`);
      }
      try {
        fs.rmSync(folder, { recursive: true, force: true });
      } catch (err) {
        process.stderr.write(`pg harness: removing ${folder}: ${(err as Error).message}\n`);
      }
      running.delete(folder);
    })();
    return stopped;
  };
  const createDatabase = async (name: string): Promise<string> => {
    checkDbName(name);
    await tool([path.join(bin, 'createdb'), '-h', HOST, '-p', String(port), '-U', 'postgres', name], false);
    return `postgres://postgres@${HOST}:${port}/${name}`;
  };

  try {
    fs.mkdirSync(data, { mode: 0o700 });
    fs.mkdirSync(socketDir, { mode: 0o700 });
    fs.writeFileSync(log, '');
    if (PG_USER) for (const p of [data, socketDir, log]) fs.chownSync(p, PG_USER.uid, PG_USER.gid);
    await tool([path.join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '--no-locale', '-E', 'UTF8']);
    // get-port only says the port was free a moment ago: another test may take it first, so try a few.
    for (let attempt = 1; ; attempt++) {
      port = await getPort({ host: HOST });
      try {
        await startServer();
        break;
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
    await createDatabase(base.db);
  } catch (err) {
    const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
    await stop();
    throw new Error(`${(err as Error).message}${text ? `\nserver log:\n${text}` : ''}`);
  }

  return {
    ...base,
    port,
    url: `postgres://postgres@${HOST}:${port}/${base.db}`,
    get pid(): number { return pid ?? 0; },
    stop,
    down,
    up: startServer,
    restart: async () => { await down(); await startServer(); },
    createDatabase,
  };
}

/** Starts a cluster, runs fn with it, and stops it in finally; throws pgSkip's message where there are no binaries (skip the test instead). */
export async function withPostgres<T>(fn: (pg: Pg) => Promise<T>): Promise<T> {
  const pg = await startPostgres();
  if (!pg) throw new Error(`PostgreSQL test not skipped: ${pgSkip || 'no cluster'}`);
  try {
    return await fn(pg);
  } finally {
    await pg.stop();
  }
}
