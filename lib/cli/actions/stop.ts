// `stop`: stop the owner's heartbeat and detached server (identity first, TERM, grace, KILL).
import fs from 'node:fs';
import type { Options } from '../args.ts';
import type { Cli } from '../context.ts';
import { isErrno } from '../../base/errors.ts';
import { isFolder } from '../../base/jsonfile.ts';
import { RuntimeFolderError } from '../../base/nofollow.ts';
import { shellWord } from '../../base/shellword.ts';
import { type RuntimePaths, runtimePaths } from '../../base/paths.ts';
import { type Inspection, inspectPidFile } from '../../supervise/pidfile.ts';
import { heartbeatLockAddress } from '../../supervise/lock.ts';
import { stopProcess } from '../../supervise/daemon.ts';
import { detachedServersWithoutPidFile, findOwnServer } from '../../web/http/probe.ts';
import { STOP_GRACE_MS, markStopped, stopDaemon, stopLockHolder } from '../../supervise/supervisor.ts';
import { RUN_GRACE_MS, type RunStop, inFolder, stopMarked } from '../../supervise/runs-proc.ts';

export async function run(o: Options, cli: Cli): Promise<number> {
  if (!isFolder(o.dir)) return stopGone(o, cli);
  const paths = runtimePaths(o.dir, o.owner);
  // First, so a watchdog in a running `serve` does not restart what is being stopped. A runtime
  // folder that is a link (it can arrive with a `git pull` under a running heartbeat) skips the
  // mark, never the stopping: stopping writes nothing.
  // An owner that never ran here (a typo, `owner=nobody`) gets no mark: stop writes nothing for it.
  try {
    if (ownerHasState(paths)) markStopped(o.dir, o.owner, new Date());
  } catch (err) {
    if (!(err instanceof RuntimeFolderError)) throw err;
    cli.note(`${err.folder} is ${err.kind}, so the heartbeat is not marked stopped (a running serve may start it again); remove it (rm ${shellWord(err.folder)})`);
  }
  const hb = await stopDaemon(paths.heartbeatPid, { kind: 'heartbeat', owner: o.owner, dir: o.dir }, cli.self);
  // Runs the heartbeat could not stop itself (it was SIGKILLed, or a run escaped its group): every
  // process that carries a run marker of this owner in this folder ends too.
  const runs = await stopMarked((p) => p.env.TASK_MANAGER_OWNER === o.owner && inFolder(p, o.dir), RUN_GRACE_MS, [cli.self.pid, cli.self.ppid]);
  const serverFile = inspectPidFile(paths.serverPid, { kind: 'serve', owner: o.owner, dir: o.dir }, cli.self);
  const detached = serverFile.state === 'live' && serverFile.record.fields.detached === '1';
  const srv = detached ? await stopDaemon(paths.serverPid, { kind: 'serve', owner: o.owner, dir: o.dir }, cli.self) : undefined;
  const foreground = await foregroundServer(o, serverFile);
  if (o.json) {
    cli.out(JSON.stringify({
      owner: o.owner, folderGone: false,
      heartbeat: hb.state === 'stopped' ? { stopped: true, pid: hb.pid, killed: hb.killed } : { stopped: false, stale: hb.stale ?? null },
      server: srv?.state === 'stopped' ? { stopped: true, pid: srv.pid, killed: srv.killed }
        : { stopped: false, ...(foreground !== undefined ? { foreground } : {}) },
      runs: { stopped: runs.found, killed: runs.killed, survivors: runs.survivors },
    }));
    return 0;
  }
  const parts: string[] = [];
  if (hb.state === 'stopped') {
    parts.push(hb.killed ? `heartbeat (pid ${hb.pid}) ignored SIGTERM and was killed after the ${STOP_GRACE_MS / 1000} s grace` : `stopped heartbeat (pid ${hb.pid})`);
  } else {
    parts.push(`no heartbeat running for ${o.owner}${hb.stale ? ` (pid file is stale: ${hb.stale}; left for the next ensure)` : ''}`);
  }
  parts.push(...runsSaid(runs));
  if (srv?.state === 'stopped') parts.push(serverSaid(srv));
  // A foreground serve is its terminal's to stop: say it goes on, so nobody thinks it stopped too.
  if (foreground !== undefined) parts.push(`the foreground server (pid ${foreground}) keeps serving and leaves the heartbeat stopped; Ctrl-C it to stop it, or run ensure to restart the heartbeat`);
  cli.out(parts.join('; '));
  return 0;
}

/**
 * The tasks folder is gone, and its pid files with it: a heartbeat started there waits for it to
 * come back, and so does a detached server. The heartbeat is proven by holding its lock, a
 * detached server by its /api/health naming its pid, owner and folder; runs by their markers.
 * Nothing is written (the folder stays gone).
 */
async function stopGone(o: Options, cli: Cli): Promise<number> {
  const hbs = await stopLockHolder({ kind: 'heartbeat', owner: o.owner, dir: o.dir }, heartbeatLockAddress(o.owner, o.dir), cli.self);
  const runs = await stopMarked((p) => p.env.TASK_MANAGER_OWNER === o.owner && inFolder(p, o.dir), RUN_GRACE_MS, [cli.self.pid, cli.self.ppid]);
  const servers: { pid: number; killed: boolean }[] = [];
  for (const pid of await detachedServersWithoutPidFile(o.owner, o.dir, cli.self)) servers.push(await stopProcess(pid, STOP_GRACE_MS));
  const hb = hbs[0];
  const srv = servers[0];
  if (o.json) {
    cli.out(JSON.stringify({
      owner: o.owner, folderGone: true,
      heartbeat: hb ? { stopped: true, pid: hb.pid, killed: hb.killed } : { stopped: false, stale: null },
      server: srv ? { stopped: true, pid: srv.pid, killed: srv.killed } : { stopped: false },
      runs: { stopped: runs.found, killed: runs.killed, survivors: runs.survivors },
    }));
    return 0;
  }
  const parts = [hb
    ? `the tasks folder ${o.dir} is gone; stopped heartbeat (pid ${hb.pid}), found by its lock${hb.killed ? ` (killed after the ${STOP_GRACE_MS / 1000} s grace)` : ''}`
    : `no heartbeat running for ${o.owner} (the tasks folder ${o.dir} does not exist)`];
  parts.push(...runsSaid(runs));
  if (srv) parts.push(serverSaid(srv));
  cli.out(parts.join('; '));
  return 0;
}

/**
 * The pid of this owner's foreground server for the folder, if one serves: it is only named,
 * never signalled. Its pid file proves it when its command line carries the marker words; a
 * `serve` started without owner= and dir= (the quickstart's) carries none, so then its own
 * /api/health, naming its pid, owner and folder, does.
 */
async function foregroundServer(o: Options, file: Inspection): Promise<number | undefined> {
  if (file.state === 'live') return file.record.fields.detached === '1' ? undefined : file.record.pid;
  if (file.state !== 'stale') return undefined;
  const own = await findOwnServer({ owner: o.owner, dir: o.dir }, 1000);
  return own !== undefined && !own.detached ? own.pid : undefined;
}

/** True when the owner has run here: a pid file, log or snapshot of its heartbeat or server. */
function ownerHasState(paths: RuntimePaths): boolean {
  return [paths.heartbeatPid, paths.heartbeatLog, paths.serverPid, paths.serverLog, paths.snapshot].some((f) => {
    try {
      return fs.lstatSync(f, { throwIfNoEntry: false }) !== undefined;
    } catch (err) {
      // A runtime folder that is a file: nothing of this owner can be in it.
      if (isErrno(err, 'ENOTDIR')) return false;
      throw err;
    }
  });
}

/** What stopping the left-over runs did, as parts of the one line (none when there were none). */
function runsSaid(runs: RunStop): string[] {
  return [
    ...(runs.found ? [`stopped ${runs.found} left-over run process${runs.found === 1 ? '' : 'es'}${runs.killed ? ` (${runs.killed} killed after the grace)` : ''}`] : []),
    ...(runs.survivors.length ? [`run processes ${runs.survivors.join(', ')} survived SIGKILL`] : []),
  ];
}

function serverSaid(srv: { pid: number; killed: boolean }): string {
  return srv.killed ? `server (pid ${srv.pid}) killed after the grace` : `stopped server (pid ${srv.pid})`;
}
