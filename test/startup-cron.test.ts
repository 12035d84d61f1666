// `startup` without a systemd user manager: the @reboot crontab line against a fake crontab (test/startup-fakes.ts), run once by sh as cron would;
// and the refusal when neither systemd nor crontab is there. The machine's own crontab is never touched.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { cli, cliEnv, waitUntilAsync, withTempFolder } from './helpers.ts';
import { DISPATCH, HOOK, fakes, ok } from './startup-fakes.ts';
import { startupName } from '../lib/supervise/startup-unit.ts';

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

  test('neither systemd nor crontab: install and --remove refused with one line, nothing written', () => withTempFolder('sn', async (t) => {
    const f = fakes(t, { manager: false, crontab: false, pathTail: false });
    fs.rmSync(path.join(f.bin, 'systemctl'));
    const r = await cli(['startup', `owner=${t.owner}`, `dir=${t.dir}`], { env: f.env });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /no systemctl command, and no crontab command; install cron/);
    assert.ok(!fs.existsSync(path.join(f.home, '.config')));
    // --remove too: one line, exit 1, where there is nothing of ours to take away.
    const rm = await cli(['startup', '--remove', `owner=${t.owner}`, `dir=${t.dir}`], { env: f.env });
    assert.equal(rm.code, 1, rm.stdout + rm.stderr);
    assert.equal(rm.stderr.trim().split('\n').length, 1, rm.stderr);
    assert.match(rm.stderr, /startup --remove: neither systemd nor cron .*no systemctl command, and no crontab command/);
    // Something of ours left from an install made when one was there: removed, exit 0.
    const envFile = path.join(f.home, '.config', 'tasks', `${startupName(t.owner, fs.realpathSync(t.dir))}.env`);
    fs.mkdirSync(path.dirname(envFile), { recursive: true });
    fs.writeFileSync(envFile, 'PATH="/usr/bin"\n', { mode: 0o600 });
    assert.match(ok(await cli(['startup', '--remove', `owner=${t.owner}`, `dir=${t.dir}`], { env: f.env })).stdout, /startup: removed tasks-.*\.env/);
    assert.ok(!fs.existsSync(envFile));
  }));
});
