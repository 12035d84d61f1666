// `ensure`: make sure the owner's heartbeat runs (reuse, replace a stale pid file, or start one), then exit.
import type { Options } from '../args.ts';
import { type Cli, ensureLine } from '../context.ts';
import { ensureHeartbeat, ensureStateDir } from '../../supervise/supervisor.ts';
import { stuckSlack } from '../../supervise/health.ts';
import { checkRegistry } from '../store.ts';

export async function run(o: Options, cli: Cli): Promise<number> {
  // A shared registry that cannot be reached fails here, before anything is made or started.
  await checkRegistry(o, cli);
  ensureStateDir(o.dir, o.owner);
  const r = await ensureHeartbeat(o, cli.launcher, cli.self, stuckSlack(cli.env));
  if (o.json) {
    cli.out(JSON.stringify({ pid: r.pid, owner: o.owner, dir: o.dir, started: r.started, stale: r.stale ?? null, replacedStuck: r.replacedStuck ?? null, pidFile: r.pidFile, log: r.log }));
  } else {
    cli.out(ensureLine(o, cli, r));
  }
  return 0;
}
