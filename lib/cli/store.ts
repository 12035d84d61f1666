// The registry an action reads or writes claims in: registry.json, or the shared PostgreSQL queue registry= names.
import type { Options } from './args.ts';
import type { Cli } from './context.ts';
import { type RegistryStore, hostName, openStore } from '../manager/store.ts';
import type { Claim } from '../manager/registry.ts';
import { usageError } from '../base/errors.ts';
import { readTextFile } from '../base/jsonfile.ts';
import { runtimePaths } from '../base/paths.ts';
import { parsePidFile } from '../supervise/pidfile.ts';

/**
 * Opens the store the options name (a database is connected first: one line naming host and port
 * when it cannot be). A command typed without registry= beside a heartbeat whose pid file says it
 * keeps its claims in a database would read and write registry.json, which that heartbeat never
 * reads: refused with one line naming the database and the fix.
 */
export function storeFor(o: Options, cli: Cli): Promise<RegistryStore> {
  if (o.registry === undefined) {
    const theirs = heartbeatRegistry(o);
    if (theirs !== undefined) {
      return Promise.reject(usageError(`the heartbeat of ${o.owner} keeps its claims in ${theirs}, not in registry.json; give this command the same registry= (or export TASK_MANAGER_REGISTRY)`));
    }
  }
  return openStore({ dir: o.dir, owner: o.owner, registry: o.registry, queue: o.queue, env: cli.env });
}

/** The shared registry the owner's heartbeat recorded in its pid file (as shown: no password), if any. */
function heartbeatRegistry(o: Options): string | undefined {
  try {
    const text = readTextFile(runtimePaths(o.dir, o.owner).heartbeatPid);
    const rec = text === undefined ? undefined : parsePidFile(text);
    const url = rec !== undefined && !('error' in rec) ? rec.fields.registry : undefined;
    return url !== undefined && /^postgres(ql)?:/.test(url) ? url : undefined;
  } catch {
    // No pid file, or one that is not a file: nothing says the claims are elsewhere.
    return undefined;
  }
}

/** Runs fn with the options' store open, and closes it (a database's pool) whatever fn does. */
export async function withStore<T>(o: Options, cli: Cli, fn: (store: RegistryStore) => Promise<T>): Promise<T> {
  const store = await storeFor(o, cli);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/**
 * Before anything is started for a shared registry (a heartbeat, a server): a database that cannot
 * be reached throws its one line, so a start that cannot work leaves nothing behind.
 */
export async function checkRegistry(o: Options, cli: Cli): Promise<void> {
  if (o.registry !== undefined) await withStore(o, cli, () => Promise.resolve());
}

/** The host that holds a claim of the shared registry when it is not this one; undefined: ours (or the file registry). */
export function foreignHost(claim: Claim | undefined, env: Cli['env']): string | undefined {
  return claim?.host !== undefined && claim.host !== hostName(env) ? claim.host : undefined;
}
