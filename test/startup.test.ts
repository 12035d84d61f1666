// `startup` against a fake systemctl, crontab and loginctl on PATH (shell scripts that record what they were asked) and HOME in a temp folder:
// the machine's own units and crontab are never touched. One test runs the unit's ExecStart itself and asks `status` about that heartbeat.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { type Folder, ROOT, type Run, alive, cli, cliEnv, start, waitUntilAsync, withTempFolder } from './helpers.ts';

/** A fake bin folder, a HOME, and the files the fakes record to. */
interface Fakes { bin: string; home: string; log: (tool: string) => string[]; crontab: string; env: Record<string, string> }

/** Fakes for one test: systemctl answers as a user manager unless `manager` is false; crontab keeps its table in a file. */
function fakes(t: Folder, o: { manager: boolean; crontab?: boolean; pathTail?: boolean; failEnable?: boolean }): Fakes {
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

function ok(r: Run): Run {
  assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

function unitFile(f: Fakes, name: string): string {
  return path.join(f.home, '.config', 'systemd', 'user', name);
}

function onlyUnit(f: Fakes, suffix = ''): string {
  const dir = path.join(f.home, '.config', 'systemd', 'user');
  const names = fs.readdirSync(dir).filter((n) => n.endsWith(`${suffix}.service`) && (suffix !== '' || !n.endsWith('-server.service')));
  assert.equal(names.length, 1, `one unit in ${names.join(', ')}`);
  return unitFile(f, names[0] as string);
}

/** The ExecStart words as systemd reads them: double-quoted words, C escapes, %% and $$. */
function execWords(unit: string): string[] {
  const line = unit.split('\n').find((l) => l.startsWith('ExecStart=')) ?? '';
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => (m[1] ?? '').replace(/\\(.)|%%|\$\$/g, (all, c: string | undefined) => (c === undefined ? all[0] as string : c === 'n' ? '\n' : c)));
}

/** Whether systemd-analyze is installed (verify works in system mode, even in a container). */
function hasAnalyze(): boolean {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** What systemd-analyze verify says about a unit file: '' when it has nothing to say and exits 0. */
function verify(file: string): string {
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', timeout: 30_000 });
  return `${r.status === 0 ? '' : `exit ${r.status}: `}${r.stdout}${r.stderr}`;
}

const BUNDLE = path.join(ROOT, 'dist', 'tasks.mjs');

/**
 * Runs fn while a source of startup's own is newer than the bundle (so the bundle runs the
 * sources), then gives that file its time back: other tests keep a fresh bundle. Without a bundle, just fn.
 */
async function withStaleBundle<T>(fn: () => Promise<T>): Promise<T> {
  if (!fs.existsSync(BUNDLE)) return fn();
  const source = path.join(ROOT, 'lib', 'supervise', 'startup-unit.ts');
  const was = fs.statSync(source);
  fs.utimesSync(source, was.atime, new Date(fs.statSync(BUNDLE).mtimeMs + 60_000));
  try {
    return await fn();
  } finally {
    fs.utimesSync(source, was.atime, was.mtime);
  }
}

const SECRET = 's3cret-Pw';
const HOOK = 'https://hooks.example.test/services/T000/B000/XyZsecretTOKEN';
const DISPATCH = `echo 'started' "$TASK_ID" 100% done`;

describe('startup with a systemd user manager', () => {
  test('writes the unit (absolute paths, the marked heartbeat, secrets in a 0600 file), enables it, prints the linger line; idempotent; replaces; removes', () => withTempFolder('su', async (t) => {
    const f = fakes(t, { manager: true });
    f.env.TASK_MANAGER_REGISTRY = `postgres://tasks:${SECRET}@127.0.0.1:1/tasks`;
    const args = ['startup', `owner=${t.owner}`, `dir=${t.dir}`, `dispatch=${DISPATCH}`, `notify_url=${HOOK}`];
    const first = ok(await cli(args, { env: f.env }));
    assert.match(first.stdout, /startup: installed the systemd user unit tasks-.*\.service/);
    assert.match(first.stdout, /loginctl enable-linger \S+/);
    assert.doesNotMatch(first.stdout + first.stderr, new RegExp(`${SECRET}|XyZsecretTOKEN`));
    const file = onlyUnit(f);
    const unit = fs.readFileSync(file, 'utf8');
    for (const line of ['Type=simple', 'Restart=on-failure', 'WantedBy=default.target', 'KillMode=process']) assert.ok(unit.split('\n').includes(line), `${line} in\n${unit}`);
    const words = execWords(unit);
    assert.equal(words[0], process.execPath);
    assert.ok(words.every((w, i) => i > 0 || path.isAbsolute(w)));
    const script = words.find((w) => /tasks\.mjs$|tasks-serve\.ts$/.test(w));
    assert.ok(script && path.isAbsolute(script), `an absolute script in ${words.join(' ')}`);
    if (fs.existsSync(BUNDLE)) assert.equal(script, BUNDLE);
    const at = words.indexOf('heartbeat');
    assert.deepEqual(words.slice(at, at + 3), ['heartbeat', `owner=${t.owner}`, `dir=${fs.realpathSync(t.dir)}`]);
    assert.ok(words.includes(`dispatch=${DISPATCH}`), `the dispatch word exactly in ${JSON.stringify(words)}`);
    assert.doesNotMatch(unit, new RegExp(`${SECRET}|XyZsecretTOKEN`));
    const envFile = /^EnvironmentFile=(.*)$/m.exec(unit)?.[1] ?? '';
    assert.equal(fs.statSync(envFile).mode & 0o777, 0o600);
    const envText = fs.readFileSync(envFile, 'utf8');
    assert.match(envText, new RegExp(SECRET));
    assert.match(envText, /XyZsecretTOKEN/);
    assert.deepEqual(f.log('systemctl'), ['--user show-environment', '--user daemon-reload', `--user enable --now ${path.basename(file)}`]);
    if (hasAnalyze()) assert.equal(verify(file), '');
    else console.log('# skipped systemd-analyze verify: no systemd-analyze on this machine'); // the unit text checks above stand alone

    // Twice: nothing is written, nothing reloaded; also when this second run goes through the
    // sources because one is newer than the bundle (the unit names the bundle either way).
    const mtime = fs.statSync(file).mtimeMs;
    const second = ok(await withStaleBundle(() => cli(args, { env: f.env })));
    assert.match(second.stdout, /already installed/);
    assert.equal(fs.statSync(file).mtimeMs, mtime);
    assert.equal(f.log('systemctl').filter((l) => l.includes('daemon-reload')).length, 1);

    // Other settings: replaced, and said what changed.
    const third = ok(await cli([...args, 'interval=10'], { env: f.env }));
    assert.match(third.stdout, /startup: replaced .*interval=10 \(was 30\).*/);
    assert.match(fs.readFileSync(file, 'utf8'), /"interval=10"/);
    assert.ok(f.log('systemctl').includes(`--user restart ${path.basename(file)}`));

    // --with-server adds the server's unit, ordered after the heartbeat's.
    ok(await cli([...args, 'interval=10', '--with-server'], { env: f.env }));
    const server = fs.readFileSync(onlyUnit(f, '-server'), 'utf8');
    assert.ok(execWords(server).includes('--no-heartbeat'));
    assert.match(server, new RegExp(`^After=${path.basename(file).replace(/\./g, '\\.')}$`, 'm'));
    if (hasAnalyze()) assert.equal(verify(onlyUnit(f, '-server')), '');

    const removed = ok(await cli(['startup', '--remove', `owner=${t.owner}`, `dir=${t.dir}`], { env: f.env }));
    assert.match(removed.stdout, /startup: removed /);
    assert.ok(!fs.existsSync(file) && !fs.existsSync(envFile));
    assert.ok(f.log('systemctl').some((l) => l.startsWith('--user disable --now ') && l.includes(path.basename(file))));
    assert.equal(f.log('systemctl').at(-1), '--user daemon-reload');
    const again = ok(await cli(['startup', '--remove', `owner=${t.owner}`, `dir=${t.dir}`], { env: f.env }));
    assert.match(again.stdout, /nothing to remove/);
    assert.deepEqual(f.log('crontab').filter((l) => l !== '-l'), [], 'crontab only read');
  }));

  test("the unit's ExecStart, run as it stands, is a heartbeat that status reports as running", () => withTempFolder('sr', async (t) => {
    const f = fakes(t, { manager: true });
    ok(await cli(['startup', `owner=${t.owner}`, `dir=${t.dir}`, 'interval=1', `dispatch=${DISPATCH}`], { env: f.env }));
    const [cmd, ...rest] = execWords(fs.readFileSync(onlyUnit(f), 'utf8'));
    const hb = start(cmd as string, rest, { env: cliEnv() });
    try {
      const status = await waitUntilAsync(async () => {
        const r = await cli(['status', `owner=${t.owner}`, `dir=${t.dir}`], { env: cliEnv() });
        return (r.code === 0 && /heartbeat\s+running, pid (\d+)/.exec(r.stdout)) || undefined;
      }, `status to report the heartbeat running; its output: ${hb.output()}`, 30_000);
      // The unit's process, or its child when a stale bundle ran the sources in its place.
      const pid = Number(status[1]);
      const parent = Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
      assert.ok(pid === hb.child.pid || parent === hb.child.pid, `status names pid ${pid} (parent ${parent}), the unit runs ${hb.child.pid}`);
    } finally {
      // Its own process group (start() makes one): the heartbeat and anything it started.
      if (hb.child.pid !== undefined && alive(hb.child.pid)) process.kill(-hb.child.pid, 'SIGKILL');
      await hb.exited;
    }
  }));
  test('a heartbeat started by ensure is stopped so that the unit runs it, and a crontab line of an earlier install is removed', () => withTempFolder('so', async (t) => {
    const f = fakes(t, { manager: true });
    const keep = '0 3 * * * echo keep\n';
    fs.writeFileSync(f.crontab, keep);
    const ensured = ok(await cli(['ensure', `owner=${t.owner}`, `dir=${t.dir}`, '--json'], { env: cliEnv() }));
    const pid = (JSON.parse(ensured.stdout) as { pid: number }).pid;
    t.extra.push(pid);
    const r0 = ok(await cli(['startup', `owner=${t.owner}`, `dir=${t.dir}`], { env: f.env }));
    const unitName = path.basename(onlyUnit(f), '.service');
    assert.match(r0.stdout, new RegExp(`stopped the heartbeat started outside systemd \\(pid ${pid}\\)`));
    await waitUntilAsync(async () => !alive(pid), `pid ${pid} to exit`, 20_000);
    // Now an earlier cron install of the same name: the systemd install takes its line away, and only it.
    fs.writeFileSync(f.crontab, `${keep}@reboot true # tasks-startup ${unitName}\n`);
    const r1 = ok(await cli(['startup', `owner=${t.owner}`, `dir=${t.dir}`], { env: f.env }));
    assert.match(r1.stdout, /removed the crontab line/);
    assert.equal(fs.readFileSync(f.crontab, 'utf8'), keep);
  }));
  test('a systemctl that fails: one line naming the command and its reason, exit 1', () => withTempFolder('sf', async (t) => {
    const f = fakes(t, { manager: true, failEnable: true });
    const r = await cli(['startup', `owner=${t.owner}`, `dir=${t.dir}`], { env: f.env });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /`systemctl --user enable --now tasks-\S+\.service` failed: Failed to enable unit: Access denied/);
  }));
});

describe('startup without a systemd user manager', () => {
  test('installs an @reboot line, keeps every other crontab line byte for byte, no secret in it; idempotent; replaces; removes only its line', () => withTempFolder('sc', async (t) => {
    const f = fakes(t, { manager: false });
    const foreign = '# my jobs\r\nMAILTO=""\n*/5 * * * * date +\\%s >> /tmp/x.log  \n@reboot  echo "tasks-startup" # tasks-startup other-name\n\t# tab\n';
    fs.writeFileSync(f.crontab, foreign);
    const args = ['startup', `owner=${t.owner}`, `dir=${t.dir}`, `dispatch=${DISPATCH}`, `notify_url=${HOOK}`];
    const first = ok(await cli(args, { env: f.env }));
    assert.match(first.stdout, /startup: installed an @reboot line/);
    assert.doesNotMatch(first.stdout, /loginctl/);
    const table = fs.readFileSync(f.crontab, 'utf8');
    assert.ok(table.startsWith(foreign), 'foreign lines first, unchanged');
    const ours = table.slice(foreign.length).split('\n').filter((l) => l !== '');
    assert.equal(ours.length, 1);
    const line = ours[0] as string;
    assert.match(line, /^@reboot cd '\/[^']*' && set -a && \. '\/[^']*' && set \+a && exec '\//);
    assert.match(line, / 'ensure' 'owner=/);
    assert.match(line, /'dispatch=echo '\\''started'\\'' "\$TASK_ID" 100'\\%' done'/);
    assert.doesNotMatch(line, /XyZsecretTOKEN/);
    const envFile = /\. '([^']+)'/.exec(line)?.[1] ?? '';
    assert.equal(fs.statSync(envFile).mode & 0o777, 0o600);
    assert.match(fs.readFileSync(envFile, 'utf8'), /XyZsecretTOKEN/);

    const writes = (): number => f.log('crontab').filter((l) => l !== '-l').length;
    assert.equal(writes(), 1);
    const second = ok(await cli(args, { env: f.env }));
    assert.match(second.stdout, /already installed/);
    assert.equal(writes(), 1);

    const third = ok(await cli([...args, '--with-server', 'port=8099'], { env: f.env }));
    assert.match(third.stdout, /startup: replaced .*--detach/);
    const replaced = fs.readFileSync(f.crontab, 'utf8');
    assert.ok(replaced.startsWith(foreign));
    assert.match(replaced.slice(foreign.length), /^@reboot .*'serve' '--detach' .*'port=8099'.*\n$/);

    const removed = ok(await cli(['startup', '--remove', `owner=${t.owner}`, `dir=${t.dir}`], { env: f.env }));
    assert.match(removed.stdout, /removed the crontab line/);
    assert.equal(fs.readFileSync(f.crontab, 'utf8'), foreign, 'every other line byte for byte');
    assert.ok(!fs.existsSync(envFile));
    assert.match(ok(await cli(['startup', '--remove', `owner=${t.owner}`, `dir=${t.dir}`], { env: f.env })).stdout, /nothing to remove/);
  }));

  test('the crontab line, run by sh as cron would, starts a heartbeat that status reports as running', () => withTempFolder('sx', async (t) => {
    const f = fakes(t, { manager: false });
    ok(await cli(['startup', `owner=${t.owner}`, `dir=${t.dir}`, 'interval=1', `dispatch=${DISPATCH}`], { env: f.env }));
    const line = fs.readFileSync(f.crontab, 'utf8').trim();
    // What cron does with a command: `\%` becomes `%`, then /bin/sh -c.
    const command = line.replace(/^@reboot /, '').replace(/\\%/g, '%');
    const r = execFileSync('/bin/sh', ['-c', command], { env: { HOME: f.home, PATH: '/usr/bin:/bin' }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r, '');
    const status = await waitUntilAsync(async () => {
      const s = await cli(['status', `owner=${t.owner}`, `dir=${t.dir}`], { env: cliEnv() });
      return (s.code === 0 && /heartbeat\s+running, pid (\d+)/.exec(s.stdout)) || undefined;
    }, 'status to report the heartbeat running', 30_000);
    t.extra.push(Number(status[1]));
    const cmdline = fs.readFileSync(`/proc/${status[1]}/cmdline`, 'utf8').split('\0');
    assert.ok(cmdline.includes(`dispatch=${DISPATCH}`), `the dispatch word through cron's and sh's quoting: ${JSON.stringify(cmdline)}`);
  }));

  test('neither systemd nor crontab: refused with one line, nothing written', () => withTempFolder('sn', async (t) => {
    const f = fakes(t, { manager: false, crontab: false, pathTail: false });
    fs.rmSync(path.join(f.bin, 'systemctl'));
    const r = await cli(['startup', `owner=${t.owner}`, `dir=${t.dir}`], { env: f.env });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /no systemctl command, and no crontab command; install cron/);
    assert.ok(!fs.existsSync(path.join(f.home, '.config')));
  }));
});
