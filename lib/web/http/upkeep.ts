// The server's once-a-second upkeep: the heartbeat's state, the tasks folder coming back, its own pid file.
import fs from 'node:fs';
import { isErrno } from '../../base/errors.ts';
import { NotAFileError, readTextFile } from '../../base/jsonfile.ts';
import { type Expected, inspectPidFile, parsePidFile } from '../../supervise/pidfile.ts';
import type { BuildThread } from '../site/build-thread.ts';

export interface UpkeepInput {
  /** The build thread: asked to rebuild; each build it reports reaches open pages through the server. */
  readonly site: Pick<BuildThread, 'rearm' | 'rebuild' | 'readHeartbeat' | 'heartbeat'>;
  readonly dir: string;
  readonly stateDir: string;
  /** The server's own pid file and who it must name. */
  readonly pidFile: string;
  readonly expected: Expected;
  readonly selfPid: number;
  /** Writes the server's pid file again (same url, port and detached flag). */
  readonly publish: () => void;
  readonly log: (line: string) => void;
  readonly everyMs?: number;
}

/** A folder's identity (device and inode), or undefined when it is not there. */
function folderId(p: string): string | undefined {
  try {
    const st = fs.statSync(p);
    return st.isDirectory() ? `${st.dev}:${st.ino}` : undefined;
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return undefined;
    throw err;
  }
}

/**
 * Every second (one stat per folder, one pid-file read and stat for the heartbeat):
 * - the tasks folder or its state folder replaced (deleted and recreated, moved away and back):
 *   the watches are armed again from scratch and the model is rebuilt;
 * - the heartbeat's state or pid changed (a kill -9 or a stuck loop tells no watch): the index is
 *   rebuilt and every open page hears of it;
 * - the server's pid file gone or naming someone else: published again, so `stop` finds us.
 * Each distinct problem is logged once until it clears. Returns a stop function.
 */
export function startUpkeep(u: UpkeepInput): () => void {
  let dirId = folderId(u.dir);
  let stateId = folderId(u.stateDir);
  const said = new Set<string>();
  const once = (key: string, line: string): void => {
    if (said.has(key)) return;
    said.add(key);
    u.log(line);
  };
  /** One asked-for rebuild at a time: a slow build is not asked for again every second. */
  let asking = false;
  const ask = (build: () => Promise<unknown>): void => {
    if (asking) return;
    asking = true;
    void build().finally(() => { asking = false; });
  };

  const checkPidFile = (): void => {
    let text: string | undefined;
    try {
      text = readTextFile(u.pidFile);
    } catch (err) {
      if (err instanceof NotAFileError) return once('pid-folder', `server pid file ${u.pidFile} is ${err.kind}: stop cannot find this server until it is removed`);
      throw err;
    }
    if (text === undefined) return republish('was missing');
    const parsed = parsePidFile(text);
    if (!('error' in parsed) && parsed.pid === u.selfPid) {
      said.delete('pid-folder');
      return;
    }
    // Another live server of this owner and folder that published since: never fight over the file.
    const seen = inspectPidFile(u.pidFile, u.expected, { pid: -1, ppid: -1 });
    if (seen.state === 'live') return once(`pid-other-${seen.pid}`, `server pid file names another live server of this owner (pid ${seen.pid}); leaving it`);
    republish('was replaced');
  };
  const republish = (why: string): void => {
    u.publish();
    said.delete('pid-folder');
    u.log(`server pid file ${why}; published it again`);
  };

  const step = (): void => {
    const d = folderId(u.dir);
    const s = folderId(u.stateDir);
    if (d !== dirId || s !== stateId) {
      const back = dirId === undefined;
      dirId = d;
      stateId = s;
      if (d === undefined) {
        u.log(`tasks folder ${u.dir} is gone; the pages show the last state until it is back`);
        return;
      }
      if (back) u.log(`tasks folder ${u.dir} is back; watching it again`);
      asking = false;
      ask(() => u.site.rearm());
    }
    // Nothing is written while the folder is gone: a pid file would recreate it.
    if (d === undefined) return;
    checkPidFile();
    const hb = u.site.readHeartbeat();
    if (hb.state !== u.site.heartbeat.state || hb.pid !== u.site.heartbeat.pid) ask(() => u.site.rebuild([]));
  };

  const timer = setInterval(() => {
    try {
      step();
    } catch (err) {
      // A timer that throws would end the server: the failure is logged and the next second retries.
      const message = (err as Error).message;
      once(`error-${message}`, `server upkeep failed: ${message}`);
    }
  }, u.everyMs ?? 1000);
  timer.unref();
  return () => clearInterval(timer);
}
