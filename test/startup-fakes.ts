// Fakes for the startup tests: systemctl, crontab and loginctl as shell scripts on PATH that record what they were asked, and HOME in a temp folder.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { type Folder, type Run, cliEnv } from './helpers.ts';

/** A fake bin folder, a HOME, and the files the fakes record to. */
export interface Fakes { bin: string; home: string; log: (tool: string) => string[]; crontab: string; env: Record<string, string> }

/** Fakes for one test: systemctl answers as a user manager unless `manager` is false; crontab keeps its table in a file. */
export function fakes(t: Folder, o: { manager: boolean; crontab?: boolean; pathTail?: boolean; failEnable?: boolean }): Fakes {
  const bin = path.join(t.root, 'fakebin');
  const home = path.join(t.root, 'home');
  const rec = path.join(t.root, 'rec');
  fs.mkdirSync(bin);
  fs.mkdirSync(home);
  fs.mkdirSync(rec);
  // zx runs commands through bash, found on PATH.
  fs.symlinkSync('/bin/bash', path.join(bin, 'bash'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  const script = (name: string, body: string): void => fs.writeFileSync(path.join(bin, name), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${rec}/${name}.log'\n${body}\n`, { mode: 0o755 });
  script('systemctl', o.manager
    ? (o.failEnable ? 'if [ "$2" = enable ]; then echo "Failed to enable unit: Access denied" >&2; exit 1; fi\nexit 0' : 'exit 0')
    : 'echo "Failed to connect to bus: No medium found" >&2; exit 1');
  script('loginctl', 'echo "Could not get user: No such user" >&2; exit 1');
  const crontab = path.join(rec, 'crontab.txt');
  if (o.crontab !== false) {
    script('crontab', [
      `F='${crontab}'`,
      'if [ "$1" = "-l" ]; then [ -f "$F" ] || { echo "no crontab for fake" >&2; exit 1; }; /bin/cat "$F"; exit 0; fi',
      'if [ "$1" = "-" ]; then /bin/cat > "$F"; exit 0; fi',
      'if [ "$1" = "-r" ]; then /bin/rm -f "$F"; exit 0; fi',
      '/bin/cat "$1" > "$F"',
    ].join('\n'));
  }
  const env = cliEnv({ HOME: home, PATH: o.pathTail === false ? bin : `${bin}:${process.env.PATH ?? ''}` });
  delete env.XDG_CONFIG_HOME;
  const log = (tool: string): string[] => {
    const f = path.join(rec, `${tool}.log`);
    return fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter((l) => l !== '') : [];
  };
  return { bin, home, log, crontab, env };
}

/** The run, after checking it exited 0 (the failure shows what it printed). */
export function ok(r: Run): Run {
  assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/** A secret in the registry URL, a webhook with a token, and a dispatch command with what every quoting must carry. */
export const SECRET = 's3cret-Pw';
export const HOOK = 'https://hooks.example.test/services/T000/B000/XyZsecretTOKEN';
export const DISPATCH = `echo 'started' "$TASK_ID" 100% done`;

/** A unit file in the fake HOME. */
export function unitFile(f: Fakes, name: string): string {
  return path.join(f.home, '.config', 'systemd', 'user', name);
}

/** The one unit file (the heartbeat's, or with a suffix such as -server that one). */
export function onlyUnit(f: Fakes, suffix = ''): string {
  const dir = path.join(f.home, '.config', 'systemd', 'user');
  const names = fs.readdirSync(dir).filter((n) => n.endsWith(`${suffix}.service`) && (suffix !== '' || !n.endsWith('-server.service')));
  assert.equal(names.length, 1, `one unit in ${names.join(', ')}`);
  return unitFile(f, names[0] as string);
}

/** The ExecStart words as systemd reads them: double-quoted words, C escapes, %% and $$. */
export function execWords(unit: string): string[] {
  const line = unit.split('\n').find((l) => l.startsWith('ExecStart=')) ?? '';
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => (m[1] ?? '').replace(/\\(.)|%%|\$\$/g, (all, c: string | undefined) => (c === undefined ? all[0] as string : c === 'n' ? '\n' : c)));
}

