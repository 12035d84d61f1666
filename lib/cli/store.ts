// The registry an action reads or writes claims in: registry.json, or the shared PostgreSQL queue registry= names.
import type { Options } from './args.ts';
import type { Cli } from './context.ts';
import { type RegistryStore, hostName, openStore } from '../manager/store.ts';
import type { Claim } from '../manager/registry.ts';

/** Opens the store the options name (a database is connected first: one line naming host and port when it cannot be). */
export function storeFor(o: Options, cli: Cli): Promise<RegistryStore> {
  return openStore({ dir: o.dir, owner: o.owner, registry: o.registry, queue: o.queue, env: cli.env });
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
