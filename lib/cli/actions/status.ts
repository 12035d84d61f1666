// `status`: the heartbeat and server state of one owner; starts nothing, writes nothing.
import type { Options } from '../args.ts';
import { type Cli, again, dirArg } from '../context.ts';
import { formatStatus, readClaims, readStatus } from '../status.ts';
import { stuckSlack } from '../../supervise/health.ts';

export async function run(o: Options, cli: Cli): Promise<number> {
  const now = new Date();
  const s = await readStatus(o.owner, o.dir, cli.self, now, await readClaims(o, cli), stuckSlack(cli.env));
  if (o.json) cli.out(JSON.stringify(s));
  else for (const line of formatStatus(s, now, again(o, cli), dirArg(o, cli))) cli.out(line);
  // 0 running, 3 stopped, 4 stuck: a CI step or an uptime check can tell the three apart.
  return s.state === 'running' ? 0 : s.state === 'stuck' ? 4 : 3;
}
