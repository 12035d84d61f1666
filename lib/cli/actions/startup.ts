// `startup`: start the owner's heartbeat (and with --with-server the dashboard) at boot, without root: a systemd user unit, else an @reboot crontab line; --remove undoes it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Options } from '../args.ts';
import { type Cli, again } from '../context.ts';
import { TasksError } from '../../base/errors.ts';
import { markerArgs } from '../../supervise/pidfile.ts';
import { heartbeatArgs, heartbeatLauncher } from '../../supervise/supervisor.ts';
import type { Launcher } from '../../supervise/daemon.ts';
import { type StartupSpec, installStartup, removeStartup } from '../../supervise/startup.ts';
import { startupName } from '../../supervise/startup-unit.ts';

export async function run(o: Options, cli: Cli): Promise<number> {
  const spec = startupSpec(o, cli);
  if (o.remove) {
    const r = await removeStartup(spec);
    if (o.json) cli.out(JSON.stringify({ name: spec.name, result: r.removed.length ? 'removed' : 'nothing', removed: r.removed }));
    else if (r.removed.length === 0) cli.out(`startup: nothing to remove for ${o.owner} in ${o.dir}`);
    else cli.out(`startup: removed ${r.removed.join(', ')}${r.managerless ? ' (no systemd user manager answered: the files are gone, nothing was stopped)' : ''}`);
    return 0;
  }
  const r = await installStartup(spec);
  const lingerLine = r.method === 'systemd' && r.linger !== true ? `loginctl enable-linger ${spec.user}` : undefined;
  if (o.json) {
    cli.out(JSON.stringify({ name: spec.name, method: r.method, result: r.result, files: r.files, changes: r.changes, stopped: r.stopped, linger: lingerLine ?? null }));
    return 0;
  }
  const what = r.method === 'systemd'
    ? `the systemd user unit ${spec.name}.service${spec.server ? ` and ${spec.name}-server.service` : ''}`
    : `an @reboot line in ${spec.user}'s crontab (no systemd user manager here)`;
  const changed = r.changes.length ? ` (${r.changes.join(', ')})` : '';
  const stopped = r.stopped.map((d) => `; stopped the ${d.kind === 'heartbeat' ? 'heartbeat' : 'server'} started outside systemd (pid ${d.pid})`).join('');
  const now = r.method === 'systemd' ? 'it runs now under systemd' : `it starts at the next boot (now: just tasks ${o.withServer ? 'serve --detach' : 'ensure'} ${again(o, cli)})`;
  if (r.result === 'unchanged') cli.out(`startup: already installed: ${what}${changed}; nothing changed`);
  else cli.out(`startup: ${r.result} ${what}${changed}${stopped}; ${now}; undo with: just tasks startup --remove ${again(o, cli)}`);
  // The one step that needs the operator (and maybe root): never run here.
  if (lingerLine) cli.out(`to start it at boot before you log in, run once: ${lingerLine}`);
  return 0;
}

/**
 * How boot starts this program: the bundle whenever it exists, even while this command runs the
 * sources because a source is newer (the bundle then runs the sources itself), so a unit written
 * before a rebuild and one written after are the same unit; without a bundle, the sources.
 */
function stableLauncher(cli: Cli): Launcher {
  const bundle = path.join(cli.root, 'dist', 'tasks.mjs');
  return fs.existsSync(bundle) ? { ...cli.launcher, nodeArgs: [], script: bundle } : cli.launcher;
}

/** The commands, files and environment of this owner's start at boot, from the options and how this program runs. */
function startupSpec(o: Options, cli: Cli): StartupSpec {
  const l = stableLauncher(cli);
  const hb = heartbeatLauncher(l);
  const keys = heartbeatArgs(o).slice(1);
  const serverKeys = [`host=${o.host}`, ...(o.portGiven ? [`port=${o.port}`] : []), ...(o.project === undefined ? [] : [`project=${o.project}`])];
  const home = cli.env.HOME && path.isAbsolute(cli.env.HOME) ? cli.env.HOME : os.homedir();
  const xdg = cli.env.XDG_CONFIG_HOME;
  const spec: StartupSpec = {
    name: startupName(o.owner, o.dir),
    owner: o.owner,
    dir: o.dir,
    user: os.userInfo().username,
    configHome: xdg && path.isAbsolute(xdg) ? xdg : path.join(home, '.config'),
    cwd: cli.root,
    env: cli.env,
    // The heartbeat in the foreground with its identity marker: ensure, serve and status take it as their own.
    // --unit: it writes heartbeat.log itself (stdout is the journal) and waits for a heartbeat
    // started outside the unit instead of exiting 0, which would leave the unit stopped for good.
    heartbeat: [hb.node, ...hb.nodeArgs, l.script, ...heartbeatArgs(o), '--unit'],
    // The server alone: systemd, not serve's watchdog, keeps the heartbeat running.
    server: o.withServer ? [l.node, ...l.nodeArgs, l.script, ...markerArgs({ kind: 'serve', owner: o.owner, dir: o.dir }), ...serverKeys, '--no-heartbeat'] : undefined,
    cron: [l.node, ...l.nodeArgs, l.script, ...(o.withServer ? ['serve', '--detach', ...keys, ...serverKeys] : ['ensure', ...keys])],
    // Set even when empty: a variable the user's manager or cron carries must not change what was asked.
    vars: {
      PATH: cli.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      TASK_MANAGER_REGISTRY: o.registry ?? '',
      TASK_MANAGER_DISPATCH: '',
      TASK_MANAGER_NOTIFY: o.notify ?? '',
      TASK_MANAGER_NOTIFY_URL: o.notifyUrl ?? '',
    },
    self: cli.self,
  };
  // The secrets go in the 0600 environment file only: a command line is readable by every user of the machine.
  const secrets = [o.registry, o.notifyUrl].filter((x): x is string => x !== undefined && x !== '');
  for (const words of [spec.heartbeat, spec.server ?? [], spec.cron]) {
    if (words.some((w) => secrets.some((x) => w.includes(x)))) throw new TasksError('startup: a secret (registry= or notify_url=) would be in the command line at boot; refusing to write it');
  }
  return spec;
}
