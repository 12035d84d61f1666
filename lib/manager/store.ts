// Where claims live: registry.json under a file lock (the default, one machine), or rows in PostgreSQL shared by every host of a repository.
import os from 'node:os';
import path from 'node:path';
import { type Registry, type RegistryHooks, peekRegistry, updateRegistry } from './registry.ts';
import { TasksError } from '../base/errors.ts';
import { runtimePaths } from '../base/paths.ts';

/** The registry's two homes, behind one read-modify-write. */
export interface RegistryStore {
  readonly kind: 'file' | 'postgres';
  /** Where the claims are, as it may be shown (a database URL without its password). */
  readonly where: string;
  /** The registry for readers (never writes); undefined: a missing or damaged file. A database that cannot be reached throws. */
  peek(): Promise<Registry | undefined>;
  /** Read-modify-write under the store's lock; fn runs once, synchronously. */
  update<T>(fn: (reg: Registry) => T, hooks: RegistryHooks): Promise<T>;
  close(): Promise<void>;
  /** Shared registry: told after each lease renewal, with the time taken before it (Date.now()). */
  onRenewed?: ((startedMs: number) => void) | undefined;
}

/** registry.json in the owner's runtime folder (shared by every owner of the folder). */
export function fileStore(file: string): RegistryStore {
  return {
    kind: 'file', where: file,
    peek: () => Promise.resolve(peekRegistry(file)),
    update: (fn, hooks) => updateRegistry(file, fn, hooks),
    close: () => Promise.resolve(),
  };
}

/** What choosing and opening a store needs. */
export interface StoreSettings {
  readonly dir: string;
  readonly owner: string;
  /** `registry=` (or $TASK_MANAGER_REGISTRY): a postgres:// URL; undefined: the file registry. */
  readonly registry: string | undefined;
  /** `queue=`: the shared queue's name; undefined: from the repository's origin. */
  readonly queue: string | undefined;
  /** Set for a heartbeat, which renews its leases with every update. */
  readonly renew?: { readonly leaseS: number; readonly intervalS: number } | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** This host's name in a shared registry: $TASK_MANAGER_HOST, else the hostname. */
export function hostName(env: Readonly<Record<string, string | undefined>>): string {
  const given = env.TASK_MANAGER_HOST?.trim();
  return given ? given : os.hostname();
}

/**
 * The store a heartbeat ticks with: a database is not connected here (its first tick does, and a
 * database that is away at start is then reported by the ticks instead of ending the heartbeat).
 */
export async function heartbeatStore(s: StoreSettings): Promise<RegistryStore> {
  if (s.registry === undefined) return fileStore(runtimePaths(s.dir, s.owner).registry);
  // pg is loaded only for a shared registry: one machine's commands never pay for it.
  const { PgStore } = await import('./registry-pg.ts');
  return new PgStore({
    url: s.registry, queue: s.queue ?? await queueKey(s.dir), host: hostName(s.env),
    renew: s.renew ? { owner: s.owner, leaseS: s.renew.leaseS, intervalS: s.renew.intervalS } : undefined,
  });
}

/** Opens the store the settings name; a database is connected and migrated before this returns (one line naming host and port when it cannot be). */
export async function openStore(s: StoreSettings): Promise<RegistryStore> {
  if (s.registry === undefined) return fileStore(runtimePaths(s.dir, s.owner).registry);
  const queue = s.queue ?? await queueKey(s.dir);
  const { PgStore } = await import('./registry-pg.ts');
  const store = new PgStore({
    url: s.registry, queue, host: hostName(s.env),
    renew: s.renew ? { owner: s.owner, leaseS: s.renew.leaseS, intervalS: s.renew.intervalS } : undefined,
  });
  try {
    await store.ready();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/**
 * The queue clones of one repository share with no setting: the origin's URL without scheme,
 * user, password or `.git` (git@github.com:a/b.git and https://github.com/a/b name one queue),
 * then `#` and the tasks folder's path inside the repository. Without an answer from git (a
 * folder outside git, no remote, or a git that fails or hangs) there is no name every clone would
 * agree on, and a private one would let this host run what others run: queue= is asked for.
 */
export async function queueKey(dir: string): Promise<string> {
  const fix = 'pass queue=<name> (the same on every host) to name the shared queue';
  // git (and the child process code) only for a shared registry: one machine's commands never load it.
  const { findRepo, git } = await import('../base/git.ts');
  const repo = await findRepo(dir);
  if (repo.kind === 'none') throw new TasksError(`${dir} is not inside a git repository, so no origin names its shared queue; ${fix}`);
  if (repo.kind === 'failed') throw new TasksError(`git could not tell which repository holds ${dir} (${repo.reason}); ${fix}`);
  const origin = await git(repo.root, ['remote', 'get-url', 'origin'], { timeoutMs: 3000 });
  if (!origin.ok || origin.stdout.trim() === '') {
    const why = origin.killed || origin.missing ? origin.reason : 'it has no remote named origin';
    throw new TasksError(`the repository at ${repo.root} gave no origin URL to name the shared queue (${why}); ${fix}`);
  }
  const inside = path.relative(repo.root, dir).split(path.sep).join('/');
  return `${normaliseRemote(origin.stdout.trim())}#${inside}`;
}

/** A remote URL as a queue name: host (lowercased) and path, without scheme, credentials, port or `.git`. */
export function normaliseRemote(url: string): string {
  let u = url.trim();
  const scp = /^(?:[^@/]+@)?([^:/]+):(?!\/)(.*)$/.exec(u);
  if (scp && !/^[a-z+]+:\/\//i.test(u)) u = `ssh://${scp[1]}/${scp[2]}`;
  try {
    const parsed = new URL(u.replace(/^git\+/, ''));
    if (parsed.protocol === 'file:') return `file:${parsed.pathname.replace(/\/+$/, '').replace(/\.git$/, '')}`;
    return `${parsed.hostname.toLowerCase()}${parsed.pathname.replace(/\/+$/, '').replace(/\.git$/, '')}`;
  } catch {
    // A local path as the remote (a clone of a folder): the path names the repository.
    return `file:${path.resolve(u).replace(/\/+$/, '').replace(/\.git$/, '')}`;
  }
}
