// `build`: render the static dashboard into out=<dir> (a CI artifact; no server, no heartbeat).
import fs from 'node:fs';
import path from 'node:path';
import type { Options } from '../args.ts';
import { type Cli, displayPath } from '../context.ts';
import { usageError } from '../../base/errors.ts';
import { LiveSite, projectName } from '../../web/live.ts';

export async function run(o: Options, cli: Cli): Promise<number> {
  const target = o.out as string;
  // Real paths, so neither a symlink nor `..` can aim the pages (and their tasks/ folder) into the task files.
  const real = realpathOfNearest(target);
  const inside = (child: string, parent: string): boolean => child === parent || child.startsWith(parent + path.sep);
  if ((inside(real, o.dir) && !inside(real, path.join(o.dir, 'logs'))) || inside(path.join(real, 'tasks'), o.dir) || inside(o.dir, path.join(real, 'tasks'))) {
    throw usageError(`\`out\` must be outside the tasks folder ${o.dir}, got \`${target}\`; pass out=<folder outside it> (or under its logs/)`);
  }
  const live = new LiveSite({ owner: o.owner, dir: o.dir, project: o.project ?? projectName(o.dir), out: target, ownFolder: false, now: () => new Date() });
  const result = live.rebuild();
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
