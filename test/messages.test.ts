// What the terminal says: holds in status, retry's "queued", usage errors for slips, "did you mean",
// stop writing nothing for an owner that never ran, and stop naming a quickstart foreground server.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import getPort from 'get-port';
import { SCRIPT, TSX, cli, cliEnv, listTree, runtimeFile, start, stopServe, waitUntilAsync, withTempFolder } from './helpers.ts';

test('status shows a released task as held, with the retry that dispatches it; retry says it is queued', async () => {
  await withTempFolder('msg', async (t) => {
    const rel = await cli(['release', `owner=${t.owner}`, `dir=${t.dir}`, 'id=FIRST-TASK']);
    assert.equal(rel.code, 0, rel.stderr);
    const s = await cli(['status', `owner=${t.owner}`, `dir=${t.dir}`]);
    const held = s.stdout.split('\n').find((l) => l.startsWith('held '));
    assert.match(held ?? s.stdout, new RegExp(`^held {7}FIRST-TASK \\(released by ${t.owner} \\d+s ago; dispatch it again with: just tasks retry id=FIRST-TASK dir=\\S+\\)$`));
    const json = JSON.parse((await cli(['status', `owner=${t.owner}`, `dir=${t.dir}`, '--json'])).stdout) as { holds: Record<string, { by: string }> };
    assert.deepEqual(Object.keys(json.holds), ['FIRST-TASK']);
    const retry = await cli(['retry', `owner=${t.owner}`, `dir=${t.dir}`, 'id=FIRST-TASK']);
    assert.equal(retry.code, 0, retry.stderr);
    assert.match(retry.stdout, /FIRST-TASK had no claim; queued for the next tick/);
    const after = await cli(['status', `owner=${t.owner}`, `dir=${t.dir}`]);
    assert.ok(!after.stdout.includes('held '), after.stdout);
  });
});

test('logs id= with an empty value is a usage error, in one line', async () => {
  await withTempFolder('msg', async (t) => {
    for (const word of ['id=', 'id= ']) {
      const r = await cli(['logs', `owner=${t.owner}`, `dir=${t.dir}`, word]);
      assert.equal(r.code, 2, r.stdout);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, 'tasks: `id` must name a task, got an empty value; pass id=<task> (see the claims with: just tasks status)\n');
    }
  });
});

test('stop for an owner that never ran in the folder leaves no .stopped file', async () => {
  await withTempFolder('msg', async (t) => {
    // Another owner's state exists, so the runtime folder does too.
    assert.equal((await cli(['release', `owner=${t.owner}`, `dir=${t.dir}`, 'id=FIRST-TASK'])).code, 0);
    const before = listTree(t.dir);
    const r = await cli(['stop', 'owner=nobody', `dir=${t.dir}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no heartbeat running for nobody/);
    assert.ok(!fs.existsSync(runtimeFile(t.dir, 'nobody', 'heartbeat.stopped')));
    assert.deepEqual(listTree(t.dir), before);
  });
});

test('a typo of an action, key or flag gets "did you mean"', async () => {
  await withTempFolder('msg', async (t) => {
    const cases: [string[], string][] = [
      [['stauts'], 'tasks: unknown action `stauts` (did you mean status?); say one of:'],
      [['status', 'ownr=x'], 'tasks: unknown key `ownr` (did you mean owner=?); keys are:'],
      [['status', '--jsno'], 'tasks: unknown flag `--jsno` (did you mean --json?); see --help for the flags'],
      [['status', '--ownr=x'], 'tasks: unknown flag `--ownr` (did you mean --owner=?); see --help for the flags'],
    ];
    for (const [args, expected] of cases) {
      const r = await cli([...args, `dir=${t.dir}`]);
      assert.equal(r.code, 2, r.stdout);
      assert.ok(r.stderr.startsWith(expected), r.stderr);
    }
    const far = await cli(['zzzzzz', `dir=${t.dir}`]);
    assert.ok(!far.stderr.includes('did you mean'), far.stderr);
  });
});

test('stop names the foreground server that keeps serving, also one started without owner= and dir=', async () => {
  await withTempFolder('msg', async (t) => {
    const port = await getPort({ host: '127.0.0.1' });
    // As the quickstart: the owner from the environment, the folder relative, so no marker words.
    const s = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', 'dir=tasks', `port=${port}`, '--no-heartbeat'], { cwd: t.root, env: cliEnv({ TASK_MANAGER_OWNER: t.owner }) });
    t.extra.push(s.child.pid as number);
    try {
      await waitUntilAsync(() => fetch(`http://127.0.0.1:${port}/api/health`).then(() => true, () => false), 'the server to answer');
      await waitUntilAsync(async () => fs.existsSync(runtimeFile(t.dir, t.owner, 'server.pid')), 'the server pid file');
      const r = await cli(['stop', `owner=${t.owner}`, `dir=${t.dir}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`the foreground server \\(pid ${s.child.pid}\\) keeps serving`));
      const json = await cli(['stop', `owner=${t.owner}`, `dir=${t.dir}`, '--json']);
      assert.equal((JSON.parse(json.stdout) as { server: { foreground?: number } }).server.foreground, s.child.pid);
    } finally {
      await stopServe(s);
    }
  });
});
