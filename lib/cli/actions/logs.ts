// `logs`: print the tail of the heartbeat log; `-f` follows it.
import fs from 'node:fs';
import type { Options } from '../args.ts';
import { type Cli, again } from '../context.ts';
import { runtimePaths } from '../../base/paths.ts';
import { followFile, tailLines } from '../../base/logfile.ts';

export async function run(o: Options, cli: Cli): Promise<number> {
  const { heartbeatLog } = runtimePaths(o.dir, o.owner);
  const text = tailLines(heartbeatLog, 50);
  if (text === '' && !fs.existsSync(heartbeatLog)) cli.note(`no heartbeat log yet at ${heartbeatLog}; start one with: just tasks ensure ${again(o, cli)}`);
  else if (text) cli.out(text);
  if (!o.follow) return 0;
  const stop = cli.onStop();
  const size = fs.existsSync(heartbeatLog) ? fs.statSync(heartbeatLog).size : 0;
  await followFile(heartbeatLog, size, cli.write, stop.signal);
  return 0;
}
