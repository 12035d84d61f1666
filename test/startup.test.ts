// `startup` with a systemd user manager, against fakes on PATH (test/startup-fakes.ts) and HOME in a temp folder:
// the machine's own units and crontab are never touched. The unit's heartbeat itself is tested in startup-unit.test.ts.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ROOT, alive, cli, cliEnv, run, waitUntilAsync, withTempFolder } from './helpers.ts';
import { DISPATCH, HOOK, SECRET, execWords, fakes, ok, onlyUnit } from './startup-fakes.ts';

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

/** Whether the checkout's bundle is newer than every source (the entry's own rule), so it runs its own code. */
function bundleFresh(): boolean {
  if (!fs.existsSync(BUNDLE)) return false;
  const built = fs.statSync(BUNDLE).mtimeMs;
  const older = (folder: string): boolean => fs.readdirSync(folder, { withFileTypes: true }).every((e) => {
    const p = path.join(folder, e.name);
    if (e.isDirectory()) return older(p);
    return !(e.name.endsWith('.ts') || e.name.endsWith('.css')) || fs.statSync(p).mtimeMs <= built;
  });
  return older(path.join(ROOT, 'lib')) && older(path.join(ROOT, 'scripts'));
}

/**
 * A private copy of the project (sources, scripts, bundle; node_modules linked) in the test's own
 * folder, so a source can be made newer than the bundle without touching the checkout's files,
 * which other tests run meanwhile. Its startup-unit.ts says on stderr when the sources run.
 */
function projectCopy(root: string): { script: string; staleSource: () => void } {
  const copy = path.join(root, 'project');
  for (const d of ['lib', 'scripts', 'dist']) fs.cpSync(path.join(ROOT, d), path.join(copy, d), { recursive: true, preserveTimestamps: true });
  for (const f of ['package.json', 'tsconfig.json']) fs.copyFileSync(path.join(ROOT, f), path.join(copy, f));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  const source = path.join(copy, 'lib', 'supervise', 'startup-unit.ts');
  fs.appendFileSync(source, "\nprocess.stderr.write('# startup ran from the sources\\n');\n");
  const script = path.join(copy, 'dist', 'tasks.mjs');
  // The copy's bundle is fresh until staleSource(): these times are the copy's own.
  const soon = Date.now() + 60_000;
  fs.utimesSync(script, new Date(soon), new Date(soon));
  return { script, staleSource: () => fs.utimesSync(source, new Date(soon + 60_000), new Date(soon + 60_000)) };
}

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

    // Twice: nothing is written, nothing reloaded.
    const mtime = fs.statSync(file).mtimeMs;
    const second = ok(await cli(args, { env: f.env }));
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

  test('a second install through the sources (one newer than the bundle) finds the unit the bundle wrote unchanged', (c) => withTempFolder('sb', async (t) => {
    if (!bundleFresh()) {
      // The checkout's bundle runs older code than its sources: its unit would differ for that reason alone.
      c.skip('no bundle, or one older than a source: run node scripts/prepare.mjs');
      return;
    }
    const f = fakes(t, { manager: true });
    const copy = projectCopy(t.root);
    const args = [copy.script, 'startup', `owner=${t.owner}`, `dir=${t.dir}`, `dispatch=${DISPATCH}`];
    const first = ok(await run(process.execPath, args, { env: f.env, timeoutMs: 60_000 }));
    assert.doesNotMatch(first.stderr, /ran from the sources/);
    const file = onlyUnit(f);
    assert.ok(execWords(fs.readFileSync(file, 'utf8')).includes(copy.script));
    const mtime = fs.statSync(file).mtimeMs;
    copy.staleSource();
    const second = ok(await run(process.execPath, args, { env: f.env, timeoutMs: 60_000 }));
    assert.match(second.stderr, /ran from the sources/);
    assert.match(second.stdout, /already installed/);
    assert.equal(fs.statSync(file).mtimeMs, mtime);
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
