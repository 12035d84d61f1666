// `logs`: print the tail of the heartbeat log, or with id=<task> of that task's run log; `-f` follows.
import fs from 'node:fs';
import type { Options } from '../args.ts';
import { type Cli, again, terminalLine } from '../context.ts';
import { quoteText } from '../../base/controls.ts';
import { TasksError } from '../../base/errors.ts';
import { runLogPath, runtimePaths } from '../../base/paths.ts';
import { shellArg, shellWord } from '../../base/shellword.ts';
import { followFile, tailLines } from '../../base/logfile.ts';
import { inRunsFolder } from '../../web/render/run-log.ts';

export async function run(o: Options, cli: Cli): Promise<number> {
  const paths = runtimePaths(o.dir, o.owner);
  let file = paths.heartbeatLog;
  let what = 'heartbeat log';
  let missing = `no heartbeat log yet at ${paths.heartbeatLog}; start one with: just tasks ensure ${again(o, cli)}`;
  if (o.id !== undefined) {
    // Loaded only here: plain `logs` needs neither the task parser nor the registry.
    const [{ findTask }, { foreignHost, withStore }] = await Promise.all([import('../task-ref.ts'), import('../store.ts')]);
    const task = findTask(o.dir, o.id, await withStore(o, cli, (store) => store.peek()));
    // Another host's run (shared registry) writes its log on that host: say where, read nothing here.
    const remote = foreignHost(task.claim?.claim, cli.env);
    if (remote !== undefined) {
      cli.out(terminalLine(`${quoteText(task.id)} is held by host ${quoteText(remote)}: its run log is ${task.claim?.claim.log ?? 'in the runs folder'} on that host (read it there with: just tasks logs ${shellArg('id', task.id)})`));
      return 0;
    }
    // A log the registry names is read only inside the runs folder (a committed registry may name any file).
    const named = [task.claim?.claim.log, task.released?.log].find((l) => l !== undefined && l !== null && inRunsFolder(l, paths.runs));
    file = named ?? runLogPath(paths.runs, task.slug);
    what = 'run log';
    missing = `no run log yet for ${quoteText(task.id)} (it has not been dispatched; ${file} will hold its output)`;
  }
  // lstat: a link in a log's place is not ours, and not followed (tailLines and followFile skip it too).
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (st !== undefined && !st.isFile()) throw notALog(file, st, what);
  const text = tailLines(file, o.id === undefined ? 50 : 200);
  if (text === '' && st === undefined) cli.note(missing);
  else if (text) cli.out(text);
  if (!o.follow) return 0;
  const stop = cli.onStop();
  await followFile(file, st?.size ?? 0, cli.write, stop.signal);
  return 0;
}

/** Something else in a log's place (a repository can commit a link or a folder there): what it is and what to remove. */
function notALog(file: string, st: fs.Stats, what: string): TasksError {
  const kind = st.isSymbolicLink() ? 'a symbolic link' : st.isDirectory() ? 'a folder' : 'not a file';
  const next = what === 'run log' ? 'the next run writes a fresh one' : 'the next start writes a fresh one';
  return new TasksError(`${file} is ${kind}, not a ${what}; remove it (rm${st.isDirectory() ? ' -r' : ''} ${shellWord(file)}); ${next}`);
}
