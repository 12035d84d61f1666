// `startup`'s work: install, replace or remove a systemd user unit (or, without a user manager, an @reboot crontab line) that starts one owner's heartbeat at boot.
import fs from 'node:fs';
import path from 'node:path';
import { TasksError } from '../base/errors.ts';
import { runtimePaths } from '../base/paths.ts';
import type { Self } from './daemon.ts';
import { type DaemonKind, inspectPidFile } from './pidfile.ts';
import { markStopped, stopDaemon } from './supervisor.ts';
import { inUnit, lingers, readCrontab, readText, systemctl, systemdUser, writeCrontab, writeOwnFile } from './startup-host.ts';
import { commandChanges, cronExec, cronLine, envFileText, envFileVars, mergeCrontab, unitExec, unitText } from './startup-unit.ts';

/** What one owner's start at boot is made of, worked out by the action from its options. */
export interface StartupSpec {
  /** startupName(owner, dir): the units' and the crontab marker's name. */
  readonly name: string;
  readonly owner: string;
  readonly dir: string;
  readonly user: string;
  /** $XDG_CONFIG_HOME or ~/.config: units go to <it>/systemd/user, the environment file to <it>/tasks. */
  readonly configHome: string;
  /** Where the commands run (the install's root). */
  readonly cwd: string;
  /** The environment systemctl, crontab and loginctl run with. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The heartbeat in the foreground, for a unit. */
  readonly heartbeat: readonly string[];
  /** The server in the foreground (--with-server), for a second unit. */
  readonly server: readonly string[] | undefined;
  /** `ensure` (or `serve --detach`), for the crontab line. */
  readonly cron: readonly string[];
  /** The environment file's variables: PATH and what must not be in a command line. */
  readonly vars: Readonly<Record<string, string>>;
  readonly self: Self;
}

export interface StartupResult {
  readonly method: 'systemd' | 'cron';
  readonly result: 'installed' | 'replaced' | 'unchanged';
  readonly files: string[];
  readonly changes: string[];
  /** systemd: whether linger is on (undefined: loginctl could not say). */
  readonly linger: boolean | undefined;
  /** Daemons of this owner that ran outside the unit, stopped so that systemd runs them. */
  readonly stopped: { kind: DaemonKind; pid: number }[];
}

export function startupFiles(s: Pick<StartupSpec, 'name' | 'configHome'>): { unit: string; serverUnit: string; envFile: string } {
  const units = path.join(s.configHome, 'systemd', 'user');
  return { unit: path.join(units, `${s.name}.service`), serverUnit: path.join(units, `${s.name}-server.service`), envFile: path.join(s.configHome, 'tasks', `${s.name}.env`) };
}

/** Installs (or replaces, or leaves as it is) the start at boot: a user unit where a user manager answers, else a crontab line. */
export async function installStartup(s: StartupSpec): Promise<StartupResult> {
  const manager = await systemdUser(s.env, s.cwd);
  if (manager.ok) return installUnits(s);
  const crontab = await readCrontab(s.env, s.cwd);
  if (crontab.kind === 'failed') throw new TasksError(`startup: ${crontab.why}`);
  if (crontab.kind === 'missing') {
    throw new TasksError(`startup: neither systemd nor cron can start the heartbeat at boot: ${manager.why}, and no crontab command; install cron (e.g. apt-get install cron), or run this in a login session with systemd --user`);
  }
  return installCron(s, crontab.text);
}

async function installUnits(s: StartupSpec): Promise<StartupResult> {
  const f = startupFiles(s);
  const hbUnit = `${s.name}.service`;
  const svUnit = `${s.name}-server.service`;
  const want = {
    unit: unitText({ description: `tasks heartbeat for ${s.owner} (${s.name})`, exec: s.heartbeat, workingDir: s.cwd, envFile: f.envFile, killMode: 'process' }),
    server: s.server && unitText({ description: `tasks server for ${s.owner} (${s.name})`, exec: s.server, workingDir: s.cwd, envFile: f.envFile, after: hbUnit }),
    env: envFileText(s.vars, 'systemd'),
  };
  const have = { unit: readText(f.unit), server: readText(f.serverUnit), env: readText(f.envFile) };
  const units = s.server ? [hbUnit, svUnit] : [hbUnit];
  const files = [f.unit, ...(s.server ? [f.serverUnit] : []), f.envFile];
  // A crontab line from an install made before a user manager was there would start a second heartbeat at boot.
  const cronGone = await dropCronLine(s);
  const linger = await lingers(s.env, s.cwd, s.user);
  if (have.unit === want.unit && have.server === want.server && have.env === want.env && cronGone.length === 0) {
    // Nothing to write; `enable --now` changes nothing for a unit that is enabled and running, and starts one that is not.
    await systemctl(s.env, s.cwd, ['enable', '--now', ...units]);
    return { method: 'systemd', result: 'unchanged', files, changes: [], linger, stopped: [] };
  }
  const fresh = have.unit === undefined;
  const changes = [
    ...(fresh ? [] : [...commandChanges(unitExec(have.unit ?? ''), s.heartbeat), ...serverChanges(have.server, s.server), ...varChanges(have.env, s.vars)]),
    ...cronGone,
  ];
  writeOwnFile(f.envFile, want.env, 0o600);
  writeOwnFile(f.unit, want.unit, 0o644);
  if (want.server !== undefined) writeOwnFile(f.serverUnit, want.server, 0o644);
  if (want.server === undefined && have.server !== undefined) {
    await systemctl(s.env, s.cwd, ['disable', '--now', svUnit]);
    fs.rmSync(f.serverUnit, { force: true });
  }
  await systemctl(s.env, s.cwd, ['daemon-reload']);
  // A heartbeat (or server) of this owner started by ensure or serve would win the lock and make the unit's exit at once.
  const stopped = await stopOutside(s, 'heartbeat', hbUnit);
  if (s.server) stopped.push(...await stopOutside(s, 'serve', svUnit));
  await systemctl(s.env, s.cwd, ['enable', '--now', ...units]);
  // New settings take effect only when the units start again.
  if (!fresh) await systemctl(s.env, s.cwd, ['restart', ...units]);
  return { method: 'systemd', result: fresh ? 'installed' : 'replaced', files, changes, linger, stopped };
}

/** What changed about the server's unit: added, removed, or its command's words. */
function serverChanges(before: string | undefined, after: readonly string[] | undefined): string[] {
  if (after === undefined) return before === undefined ? [] : ['without the server'];
  return before === undefined ? ['with the server'] : commandChanges(unitExec(before), after);
}

/** Stops this owner's daemon of that kind when it runs, proven ours, outside the unit; marks a heartbeat stopped on purpose so a serving watchdog leaves it. */
async function stopOutside(s: StartupSpec, kind: DaemonKind, unit: string): Promise<{ kind: DaemonKind; pid: number }[]> {
  const paths = runtimePaths(s.dir, s.owner);
  const file = kind === 'heartbeat' ? paths.heartbeatPid : paths.serverPid;
  const seen = inspectPidFile(file, { kind, owner: s.owner, dir: s.dir }, s.self);
  if (seen.state !== 'live' || inUnit(seen.pid, unit)) return [];
  if (kind === 'heartbeat') markStopped(s.dir, s.owner, new Date());
  const r = await stopDaemon(file, { kind, owner: s.owner, dir: s.dir }, s.self);
  return r.state === 'stopped' ? [{ kind, pid: r.pid }] : [];
}

async function installCron(s: StartupSpec, current: string): Promise<StartupResult> {
  const f = startupFiles(s);
  const line = cronLine(s.name, { cwd: s.cwd, envFile: f.envFile, exec: s.cron });
  const env = envFileText(s.vars, 'shell');
  const haveEnv = readText(f.envFile);
  const merged = mergeCrontab(current, s.name, line);
  const files = [f.envFile];
  if (merged.found === line && haveEnv === env) return { method: 'cron', result: 'unchanged', files, changes: [], linger: undefined, stopped: [] };
  const changes = [...(merged.found === undefined ? [] : commandChanges(cronExec(merged.found), s.cron)), ...varChanges(haveEnv, s.vars)];
  // The environment file first: the line must never name a file that is not there yet.
  writeOwnFile(f.envFile, env, 0o600);
  if (merged.found !== line) await writeCrontab(s.env, s.cwd, merged.text);
  return { method: 'cron', result: merged.found === undefined ? 'installed' : 'replaced', files, changes, linger: undefined, stopped: [] };
}

/** Which variables of the environment file changed, by name only: their values may be secrets. */
function varChanges(before: string | undefined, after: Readonly<Record<string, string>>): string[] {
  if (before === undefined) return [];
  const old = envFileVars(before);
  const names = new Set([...Object.keys(old), ...Object.keys(after)]);
  return [...names].filter((k) => old[k] !== after[k]).map((k) => `${k} changed`);
}

/** Removes our crontab line when the crontab can be read and holds it; says so in one change word. */
async function dropCronLine(s: StartupSpec): Promise<string[]> {
  const crontab = await readCrontab(s.env, s.cwd);
  if (crontab.kind !== 'ok') return [];
  const merged = mergeCrontab(crontab.text, s.name, undefined);
  if (merged.found === undefined) return [];
  await writeCrontab(s.env, s.cwd, merged.text);
  return ['removed the crontab line'];
}

/** What --remove took away: unit files, the crontab line, the environment file. Empty: nothing was there. */
export async function removeStartup(s: Pick<StartupSpec, 'name' | 'configHome' | 'env' | 'cwd'>): Promise<{ removed: string[]; managerless: boolean }> {
  const f = startupFiles(s);
  const removed: string[] = [];
  const units = [f.unit, f.serverUnit].filter((u) => fs.existsSync(u));
  let managerless = false;
  if (units.length > 0) {
    const manager = await systemdUser(s.env, s.cwd);
    managerless = !manager.ok;
    // The server first: it is ordered after the heartbeat.
    if (manager.ok) await systemctl(s.env, s.cwd, ['disable', '--now', ...units.map((u) => path.basename(u)).reverse()]);
    for (const u of units) {
      fs.rmSync(u, { force: true });
      removed.push(path.basename(u));
    }
    if (manager.ok) await systemctl(s.env, s.cwd, ['daemon-reload']);
  }
  const crontab = await readCrontab(s.env, s.cwd);
  if (crontab.kind === 'ok') {
    const merged = mergeCrontab(crontab.text, s.name, undefined);
    if (merged.found !== undefined) {
      await writeCrontab(s.env, s.cwd, merged.text);
      removed.push('the crontab line');
    }
  }
  if (fs.existsSync(f.envFile)) {
    fs.rmSync(f.envFile, { force: true });
    removed.push(path.basename(f.envFile));
  }
  // Nothing of ours, and neither systemd nor cron here: refused like an install there, not "nothing to remove".
  if (removed.length === 0 && crontab.kind === 'missing') {
    const manager = await systemdUser(s.env, s.cwd);
    if (!manager.ok) throw new TasksError(`startup --remove: neither systemd nor cron starts anything at boot here (${manager.why}, and no crontab command), and nothing of this start at boot is installed`);
  }
  return { removed, managerless };
}
