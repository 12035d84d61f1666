// The real path of a path that may not exist any more: symlinks in what is left of it resolved, as they were when it existed.
import fs from 'node:fs';
import path from 'node:path';

/**
 * The real path of `p` (absolute): the longest part of it that exists, resolved, with the rest
 * appended; a dangling symlink on the way is followed as written. So a folder deleted after a
 * heartbeat started there is named as the heartbeat named it (it recorded the real path).
 */
export function realpathOfGone(p: string): string {
  const rest: string[] = [];
  let at = p;
  for (let links = 0; ; ) {
    try {
      return path.join(fs.realpathSync(at), ...rest);
    } catch {
      // missing (or under a file): look at what it is, if anything
    }
    const st = fs.lstatSync(at, { throwIfNoEntry: false });
    if (st?.isSymbolicLink() && links++ < 40) {
      at = path.resolve(path.dirname(at), fs.readlinkSync(at));
      continue;
    }
    const up = path.dirname(at);
    if (up === at) return path.join(at, ...rest);
    rest.unshift(path.basename(at));
    at = up;
  }
}
