// `status`: the heartbeat and server state of one owner; starts nothing, writes nothing.
import type { Options } from '../args.ts';
import { type Cli, again, dirArg } from '../context.ts';
import { type StatusClaims, formatStatus, readStatus } from '../status.ts';
import { storeFor } from '../store.ts';
import { TasksError } from '../../base/errors.ts';
import { hostName } from '../../manager/store.ts';
import { stuckSlack } from '../../supervise/health.ts';

export async function run(o: Options, cli: Cli): Promise<number> {
  const now = new Date();
  const s = await readStatus(o.owner, o.dir, cli.self, now, await readClaims(o, cli), stuckSlack(cli.env));
  if (o.json) cli.out(JSON.stringify(s));
  else for (const line of formatStatus(s, now, again(o, cli), dirArg(o, cli))) cli.out(line);
  // 0 running, 3 stopped, 4 stuck: a CI step or an uptime check can tell the three apart.
  return s.state === 'running' ? 0 : s.state === 'stuck' ? 4 : 3;
}

/** The claims from the options' store; a shared registry that cannot be reached is said, not fatal: status still tells the rest. */
export async function readClaims(o: Options, cli: Cli): Promise<StatusClaims> {
  let store: Awaited<ReturnType<typeof storeFor>> | undefined;
  try {
    store = await storeFor(o, cli);
    const registry = await store.peek();
    if (store.kind === 'file') return { registry };
    return { registry, shared: { where: store.where, queue: (store as { queue?: string }).queue ?? null, host: hostName(cli.env), unreachable: null } };
  } catch (err) {
    // openStore and peek name the database (host, port, what to check) without its password.
    if (!(err instanceof TasksError) || o.registry === undefined) throw err;
    const { redactUrl } = await import('../../base/registry-url.ts');
    return { registry: undefined, shared: { where: redactUrl(o.registry), queue: o.queue ?? null, host: hostName(cli.env), unreachable: err.message } };
  } finally {
    await store?.close();
  }
}
