// `build`: render the static dashboard into out=<dir> (a CI artifact; no server, no heartbeat).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Options } from '../args.ts';
import { type Cli, dirArg, displayPath } from '../context.ts';
import { TasksError } from '../../base/errors.ts';
import { findRepo, remoteUrl } from '../../base/git.ts';
import { parseRemote } from '../../tasks/pr.ts';
import { LiveSite } from '../../web/site/live.ts';
import { projectName } from '../../tasks/format.ts';
import { checkOut, publish } from '../publish.ts';

export async function run(o: Options, cli: Cli): Promise<number> {
  const target = o.out as string;
  // Real paths, so neither a symlink nor `..` can aim the pages at the task files, home or the repository.
  const real = realpathOfNearest(target);
  // The repository's root is a place the pages must never be written into: a git that fails
  // cannot say where it is, so nothing is built.
  const found = await findRepo(o.dir);
  if (found.kind === 'failed') throw new TasksError(`git failed: ${found.reason}; nothing was built (build needs git to know where the repository is)`);
  const repo = found.kind === 'repo' ? found.root : undefined;
  const owned = checkOut(real, target, { home: os.homedir(), roots: [cli.root, ...(repo ? [repo] : [])], dir: o.dir });
  // The pages are built into a fresh folder inside out, then moved in file by file: nothing is
  // written through a symlink, and nothing the build does not own is overwritten.
  fs.mkdirSync(real, { recursive: true });
  const staging = fs.mkdtempSync(path.join(real, '.tasks-build-staging-'));
  let result: ReturnType<typeof publish>;
  try {
    // Built pages link `pr: 123` like served ones: the remote is read once, before building.
    const remote = repo ? parseRemote((await remoteUrl(o.dir)) ?? '') : undefined;
    new LiveSite({ owner: o.owner, dir: o.dir, project: o.project ?? projectName(o.dir), folderWords: dirArg(o, cli), out: staging, ownFolder: false, now: () => new Date(), remote }).rebuild();
    result = publish(staging, real, owned);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  if (o.json) cli.out(JSON.stringify({ out: target, written: result.written, removed: result.removed }));
  else cli.out(`built the dashboard into ${displayPath(cli, target)} (${result.written} files written, ${result.removed} removed)`);
  return 0;
}

/** The real path of p, resolving the part that exists (out= may not exist yet). */
function realpathOfNearest(p: string): string {
  const rest: string[] = [];
  let at = path.resolve(p);
  for (;;) {
    try {
      return path.join(fs.realpathSync(at), ...rest.reverse());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || path.dirname(at) === at) throw err;
      rest.push(path.basename(at));
      at = path.dirname(at);
    }
  }
}
