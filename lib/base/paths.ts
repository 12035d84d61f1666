// The runtime file paths of one owner under <dir>/logs/task_manager/, and the run log's name of a task.
import { createRequire } from 'node:module';
import path from 'node:path';
import { refuseLinkedFolders } from './nofollow.ts';

/** Where one owner's runtime files live under <dir>/logs/task_manager/. */
export interface RuntimePaths {
  /** `<dir>/logs`: the top runtime folder, and everything under it is checked for links. */
  readonly logs: string;
  readonly stateDir: string;
  readonly heartbeatPid: string;
  readonly heartbeatLog: string;
  /** Present while the operator has stopped the heartbeat on purpose: a watchdog leaves it stopped. */
  readonly heartbeatStopped: string;
  readonly serverPid: string;
  readonly serverLog: string;
  readonly snapshot: string;
  /** Shared registry: until when this heartbeat's leases hold ({"until": ms}); its runs' relays stop them after that. */
  readonly lease: string;
  readonly registry: string;
  readonly runs: string;
  readonly site: string;
}

/** The runtime file paths of one owner in one tasks folder. */
export function runtimePaths(dir: string, owner: string): RuntimePaths {
  const logs = path.join(dir, 'logs');
  const stateDir = path.join(logs, 'task_manager');
  const base = path.join(stateDir, `task-manager-${owner}`);
  return {
    logs,
    stateDir,
    heartbeatPid: `${base}.heartbeat.pid`,
    heartbeatLog: `${base}.heartbeat.log`,
    heartbeatStopped: `${base}.heartbeat.stopped`,
    serverPid: `${base}.server.pid`,
    serverLog: `${base}.server.log`,
    snapshot: `${base}.snapshot.json`,
    lease: `${base}.lease.json`,
    registry: path.join(stateDir, 'registry.json'),
    runs: path.join(stateDir, 'runs'),
    site: path.join(stateDir, `site-${owner}`),
  };
}

/**
 * Refuses runtime folders a repository may have committed as symlinks (`logs/`, `logs/task_manager/`,
 * `runs/`, `site-<owner>/`), before anything is written: "<folder> is a symbolic link; remove it
 * (rm <folder>) and run again". Missing folders are fine (they are made as real ones).
 */
export function checkRuntimeFolders(p: RuntimePaths): void {
  refuseLinkedFolders([p.logs, p.stateDir, p.runs, p.site]);
}

/** Bytes of a slug kept as the run log's name: `<slug>.log.1` must fit in a file name (255 bytes), with room to spare. */
const SLUG_NAME_MAX = 200;
/** The form of a shortened name: a slug that looks like one is shortened too, so no slug can take another's log. */
const SHORTENED = /~[0-9a-f]{12}$/;

/**
 * The file name of a task's run log in the runs folder: `<slug>.log`, or, for a slug too long for a
 * file name (a task file name of 252 bytes and more leaves no room for `.log`), its first bytes
 * and a hash of the whole slug: `<start>~<12 hex>.log`. Claims record the log path they used.
 */
export function runLogName(slug: string): string {
  if (Buffer.byteLength(slug) <= SLUG_NAME_MAX && !SHORTENED.test(slug)) return `${slug}.log`;
  const hash = nodeCrypto().createHash('sha256').update(slug).digest('hex').slice(0, 12);
  let start = '';
  let bytes = 0;
  for (const ch of slug) {
    bytes += Buffer.byteLength(ch);
    if (bytes > SLUG_NAME_MAX - 20) break;
    start += ch;
  }
  return `${start}~${hash}.log`;
}

/**
 * node:crypto, loaded on first use: only a slug too long for a file name is hashed, and every
 * command (status too) reads runtime paths, so none of them pays for loading it up front.
 */
let crypto: typeof import('node:crypto') | undefined;
function nodeCrypto(): typeof import('node:crypto') {
  crypto ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return crypto;
}

/** The run log of a task with this slug in the runs folder (runLogName). */
export function runLogPath(runsDir: string, slug: string): string {
  return path.join(runsDir, runLogName(slug));
}
