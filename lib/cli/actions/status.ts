// `status`: the heartbeat and server state of one owner; starts nothing, writes nothing.
import type { Options } from '../args.ts';
import { type Cli, again } from '../context.ts';
import { formatStatus, readStatus } from '../status.ts';

export async function run(o: Options, cli: Cli): Promise<number> {
  const now = new Date();
  const s = await readStatus(o.owner, o.dir, cli.self, now);
  if (o.json) cli.out(JSON.stringify(s));
  else for (const line of formatStatus(s, now, again(o, cli))) cli.out(line);
  return s.running ? 0 : 3;
}
