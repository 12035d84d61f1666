// `logs`: print the tail of the heartbeat log, or with id=<task> of that task's run log; `-f` follows.
import fs from 'node:fs';
import path from 'node:path';
import type { Options } from '../args.ts';
import { type Cli, again } from '../context.ts';
import { runtimePaths } from '../../base/paths.ts';
import { followFile, tailLines } from '../../base/logfile.ts';

export async function run(o: Options, cli: Cli): Promise<number> {
  const paths = runtimePaths(o.dir, o.owner);
  let file = paths.heartbeatLog;
  let missing = `no heartbeat log yet at ${paths.heartbeatLog}; start one with: just tasks ensure ${again(o, cli)}`;
  if (o.id !== undefined) {
    // Loaded only here: plain `logs` needs neither the task parser nor the registry.
    const { findTask } = await import('../task-ref.ts');
    const task = findTask(o.dir, o.owner, o.id);
    file = task.claim?.claim.log ?? task.released?.log ?? path.join(paths.runs, `${task.slug}.log`);
    missing = `no run log yet for ${task.id} (it has not been dispatched; ${file} will hold its output)`;
  }
  const text = tailLines(file, o.id === undefined ? 50 : 200);
  if (text === '' && !fs.existsSync(file)) cli.note(missing);
  else if (text) cli.out(text);
  if (!o.follow) return 0;
  const stop = cli.onStop();
  const size = fs.existsSync(file) ? fs.statSync(file).size : 0;
  await followFile(file, size, cli.write, stop.signal);
  return 0;
}
