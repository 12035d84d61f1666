// The runtime file paths of one owner under <dir>/logs/task_manager/.
import path from 'node:path';

/** Where one owner's runtime files live under <dir>/logs/task_manager/. */
export interface RuntimePaths {
  readonly stateDir: string;
  readonly heartbeatPid: string;
  readonly heartbeatLog: string;
  /** Present while the operator has stopped the heartbeat on purpose: a watchdog leaves it stopped. */
  readonly heartbeatStopped: string;
  readonly serverPid: string;
  readonly serverLog: string;
  readonly snapshot: string;
  readonly registry: string;
  readonly runs: string;
  readonly site: string;
}

/** The runtime file paths of one owner in one tasks folder. */
export function runtimePaths(dir: string, owner: string): RuntimePaths {
  const stateDir = path.join(dir, 'logs', 'task_manager');
  const base = path.join(stateDir, `task-manager-${owner}`);
  return {
    stateDir,
    heartbeatPid: `${base}.heartbeat.pid`,
    heartbeatLog: `${base}.heartbeat.log`,
    heartbeatStopped: `${base}.heartbeat.stopped`,
    serverPid: `${base}.server.pid`,
    serverLog: `${base}.server.log`,
    snapshot: `${base}.snapshot.json`,
    registry: path.join(stateDir, 'registry.json'),
    runs: path.join(stateDir, 'runs'),
    site: path.join(stateDir, `site-${owner}`),
  };
}
