import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseArgs, usage } from '../lib/cli/args.ts';
import { TasksError } from '../lib/base/errors.ts';
import { heartbeatArgs, heartbeatSettings } from '../lib/supervise/supervisor.ts';
import { cli, cliEnv, listTree, pidsMentioning, tempTasks, uniqueOwner } from './helpers.ts';

const fixture = tempTasks();
const ctx = { env: {}, cwd: fixture.root, root: fixture.root, user: 'alice' };
const parse = (argv: string[], env: Record<string, string> = {}) => parseArgs(argv, { ...ctx, env });

describe('the default tasks folder stays in the repository', () => {
  test('a tasks link leaving the root is refused unless dir= names it; a link inside the root is followed', () => {
    const repo = tempTasks();
    const outside = tempTasks();
    try {
      fs.rmSync(repo.dir, { recursive: true });
      fs.symlinkSync(outside.dir, repo.dir);
      const at = { env: {}, cwd: repo.root, root: repo.root, user: 'alice' };
      const real = fs.realpathSync(outside.dir);
      assert.throws(() => parseArgs(['status'], at), (err: unknown) => err instanceof TasksError && err.exitCode === 2
        && err.message === `${repo.dir} is a symbolic link to ${real}, outside the repository; pass dir=${real} to use that folder`);
      const given = parseArgs(['status', `dir=${repo.dir}`], at);
      assert.equal(given.help ? '' : given.options.dir, real, 'given as dir=, the link is the operator\'s');
      fs.mkdirSync(path.join(repo.root, 'real-tasks'));
      fs.rmSync(repo.dir);
      fs.symlinkSync('real-tasks', repo.dir);
      const inside = parseArgs(['status'], at);
      assert.equal(inside.help ? '' : inside.options.dir, fs.realpathSync(path.join(repo.root, 'real-tasks')));
    } finally {
      repo.remove();
      outside.remove();
    }
  });
});

describe('parseArgs', () => {
  test('defaults', () => {
    const p = parse(['serve']);
    assert.equal(p.help, false);
    if (p.help) return;
    assert.deepEqual(
      { owner: p.options.owner, port: p.options.port, host: p.options.host, interval: p.options.interval, dir: p.options.dir, max: p.options.max, heartbeat: p.options.heartbeat, portGiven: p.options.portGiven },
      { owner: 'alice', port: 8005, host: '127.0.0.1', interval: 30, dir: fixture.dir, max: 1, heartbeat: true, portGiven: false },
    );
    assert.ok(Object.isFrozen(p.options));
  });

  const valid: [string, string[], Record<string, string>, Record<string, unknown>][] = [
    ['key=value', ['serve', 'owner=dave', 'port=9000'], {}, { owner: 'dave', port: 9000, portGiven: true }],
    ['--key=value', ['serve', '--owner=dave', '--port=9001'], {}, { owner: 'dave', port: 9001 }],
    ['--key value', ['serve', '--owner', '007'], {}, { owner: '007' }],
    ['owner from env', ['status'], { TASK_MANAGER_OWNER: 'erin' }, { owner: 'erin' }],
    ['key beats env', ['status', 'owner=x'], { TASK_MANAGER_OWNER: 'erin' }, { owner: 'x' }],
    ['fractional interval', ['heartbeat', 'interval=0.2'], {}, { interval: 0.2 }],
    ['interval 1.50', ['heartbeat', 'interval=1.50'], {}, { interval: 1.5 }],
    ['dispatch from env', ['ensure'], { TASK_MANAGER_DISPATCH: 'echo hi' }, { dispatch: 'echo hi' }],
    ['dispatch with spaces', ['ensure', 'dispatch=run "$TASK_ID" --fast'], {}, { dispatch: 'run "$TASK_ID" --fast' }],
    ['--no-heartbeat', ['serve', '--no-heartbeat'], {}, { heartbeat: false }],
    ['flags before action', ['--json', 'status'], {}, { json: true, action: 'status' }],
    ['-f for logs', ['logs', '-f'], {}, { follow: true }],
    ['words after --', ['status', '--', 'owner=z'], {}, { owner: 'z' }],
    ['no run_timeout by default', ['ensure'], {}, { runTimeout: undefined }],
    ['run_timeout=90m', ['ensure', 'run_timeout=90m'], {}, { runTimeout: 5400 }],
    ['run_timeout=2h', ['ensure', 'run_timeout=2h'], {}, { runTimeout: 7200 }],
    ['run_timeout=1d', ['ensure', 'run_timeout=1d'], {}, { runTimeout: 86400 }],
    ['run_timeout in seconds', ['heartbeat', 'run_timeout=1.5'], {}, { runTimeout: 1.5 }],
    ['run_timeout=none', ['ensure', 'run_timeout=none'], {}, { runTimeout: undefined }],
    ['escalate_after=90m', ['ensure', 'escalate_after=90m'], {}, { escalateAfter: 5400 }],
  ];
  for (const [name, argv, env, want] of valid) {
    test(`valid: ${name}`, () => {
      const p = parse(argv, env);
      assert.equal(p.help, false);
      if (p.help) return;
      for (const [k, v] of Object.entries(want)) assert.deepEqual((p.options as unknown as Record<string, unknown>)[k], v, k);
    });
  }

  const invalid: [string[], RegExp][] = [
    [['serve', 'port=abc'], /`port` must be an integer from 1 to 65535, got `abc`/],
    [['serve', 'port=0'], /`port` must be an integer from 1 to 65535, got `0`/],
    [['serve', 'port=70000'], /got `70000`/],
    [['serve', 'port=0x10'], /got `0x10`/],
    [['serve', 'interval=0'], /`interval` must be a number of seconds > 0 and <= 86400.*got `0`/],
    [['serve', 'interval=-1'], /got `-1`/],
    [['serve', 'interval=abc'], /got `abc`/],
    [['serve', 'interval=86401'], /got `86401`/],
    [['serve', 'owner=../x'], /`owner` must be 1-64 characters.*got `..\/x`/],
    [['serve', 'owner='], /`owner` must be.*got ``/],
    [['serve', 'owner=..'], /got `..`/],
    [['serve', 'owner=' + 'a'.repeat(65)], /`owner` must be/],
    [['serve', 'max=0'], /`max` must be an integer from 1 to 1000/],
    [['serve', 'colour=red'], /unknown key `colour`/],
    [['serve', '--verbose'], /unknown flag `--verbose`/],
    [['serve', '-x'], /unknown flag `-x`/],
    [['serve', 'owner=a', 'owner=b'], /given more than once/],
    [['serve', '--json=yes'], /flag --json takes no value, got `--json=yes`/],
    [['serve', '--no-heartbeat=1'], /flag --no-heartbeat takes no value/],
    [['serve', 'stray'], /unexpected argument `stray`/],
    [['logs', '--once'], /--once does not apply to `logs`/],
    [[], /no action given/],
    [['launch'], /unknown action `launch`/],
    [['serve', 'dir=/nonexistent/folder'], /`dir` must be an existing folder, got `\/nonexistent\/folder`/],
    [['build'], /needs out=<folder>/],
    [['ensure', 'run_timeout=0'], /`run_timeout` must be a duration such as 7200, 90m, 2h or 1d, got `0`/],
    [['ensure', 'run_timeout=-5'], /`run_timeout` must be a duration .* got `-5`/],
    [['ensure', 'run_timeout=2w'], /`run_timeout` must be a duration .* got `2w`/],
    [['ensure', 'run_timeout='], /`run_timeout` must be a duration .* got ``/],
    [['notify'], /`notify` needs a word: notify test/],
    [['notify', 'tset'], /`notify` takes one word, test, got `tset` \(did you mean test\?\); run: notify test/],
    [['startup', '--once'], /--once does not apply to `startup`/],
    [['history', '--remove'], /--remove does not apply to `history`/],
  ];
  for (const [argv, re] of invalid) {
    test(`usage error: ${argv.join(' ') || '(nothing)'}`, () => {
      assert.throws(() => parse(argv), (err: unknown) => err instanceof TasksError && err.exitCode === 2 && re.test(err.message));
    });
  }

  test('run_timeout reaches the detached heartbeat and is compared on reuse', () => {
    const p = parse(['ensure', 'run_timeout=90m']);
    assert.equal(p.help, false);
    if (p.help) return;
    const args = heartbeatArgs(p.options);
    assert.ok(args.includes('run_timeout=5400'), args.join(' '));
    const again = parse(['heartbeat', ...args.filter((a) => /^[a-z_]+=/.test(a) && !a.startsWith('dir=') && !a.startsWith('owner='))]);
    assert.ok(!again.help && again.options.runTimeout === 5400);
    assert.equal(heartbeatSettings(p.options).run_timeout, '5400');
    const none = parse(['ensure']);
    assert.ok(!none.help && !heartbeatArgs(none.options).some((a) => a.startsWith('run_timeout=')));
  });

  test('a bad TASK_MANAGER_PORT only matters to serve', () => {
    assert.throws(() => parse(['serve'], { TASK_MANAGER_PORT: 'abc' }), /`TASK_MANAGER_PORT` must be an integer/);
    assert.equal(parse(['status'], { TASK_MANAGER_PORT: 'abc' }).help, false);
  });

  test('relative dir resolves from the invocation folder, and the error says where it looked', () => {
    assert.throws(() => parse(['status', 'dir=nope']), new RegExp(`got \`nope\` \\(resolved to ${fixture.root}/nope\\)`));
  });

  test('owner from env is validated too', () => {
    assert.throws(() => parse(['status'], { TASK_MANAGER_OWNER: 'a/b' }), /`TASK_MANAGER_OWNER` must be/);
  });

  test('--help and -h', () => {
    assert.deepEqual(parse(['--help']), { help: true });
    assert.deepEqual(parse(['serve', '-h']), { help: true, action: 'serve' });
  });

  test('usage lists every action, key and flag', () => {
    const text = usage();
    for (const word of ['serve', 'ensure', 'status', 'stop', 'heartbeat', 'logs', 'build', 'owner', 'port', 'host', 'interval', 'dir', 'dispatch', 'max', 'run_timeout', '--json', '--detach', '--no-heartbeat', '--open', '--once', '-f', '--help']) {
      assert.ok(text.includes(word), word);
    }
  });
});

describe('CLI usage errors', () => {
  const cases: [string, string[]][] = [
    ['port=abc', ['serve', 'port=abc']],
    ['port=0', ['serve', 'port=0']],
    ['port=70000', ['serve', 'port=70000']],
    ['interval=0', ['ensure', 'interval=0']],
    ['interval=-1', ['ensure', 'interval=-1']],
    ['interval=abc', ['serve', 'interval=abc']],
    ['owner=../x', ['serve', 'owner=../x']],
    ['owner=', ['ensure', 'owner=']],
    ['unknown key', ['serve', 'colour=red']],
    ['unknown flag', ['serve', '--verbose']],
    ['unknown action', ['launch']],
  ];
  for (const [name, argv] of cases) {
    test(`${name}: exit 2, one line on stderr, nothing created, nothing started`, async () => {
      const t = tempTasks();
      const owner = uniqueOwner('usage');
      try {
        const before = listTree(t.root);
        const r = await cli([...argv, `dir=${t.dir}`, ...(argv.some((a) => a.startsWith('owner=')) ? [] : [`owner=${owner}`])]);
        assert.equal(r.code, 2, r.stderr);
        assert.equal(r.stdout, '');
        const lines = r.stderr.trimEnd().split('\n');
        assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
        assert.match(lines[0] ?? '', /^tasks: /);
        assert.deepEqual(listTree(t.root), before);
        assert.deepEqual(pidsMentioning(t.root), []);
      } finally {
        t.remove();
      }
    });
  }

  test('no action: exit 2 and the usage on stderr, nothing created', async () => {
    const t = tempTasks();
    try {
      const before = listTree(t.root);
      const r = await cli([], { cwd: t.root });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /no action given/);
      assert.match(r.stderr, /usage: tasks <action>/);
      assert.deepEqual(listTree(t.root), before);
    } finally {
      t.remove();
    }
  });

  test('--help: exit 0, usage on stdout', async () => {
    const r = await cli(['--help'], { env: cliEnv() });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^usage: tasks <action>/);
    assert.equal(r.stderr, '');
  });

  test('an invalid TASK_MANAGER_OWNER is a usage error naming the variable', async () => {
    const t = tempTasks();
    try {
      const r = await cli(['status', `dir=${t.dir}`], { env: cliEnv({ TASK_MANAGER_OWNER: 'no/slash' }) });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /`TASK_MANAGER_OWNER` must be .* got `no\/slash`/);
      assert.ok(!fs.existsSync(`${t.dir}/logs`));
    } finally {
      t.remove();
    }
  });
});

process.on('exit', () => fixture.remove());
