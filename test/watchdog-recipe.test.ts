// Real CLI: a heartbeat started by `ensure` with its own settings, killed with -9 under a `serve` given none of them (detached, or foreground with a shared registry), is restarted by the watchdog with those settings (dispatch, max, ready, notify channels, registry), never serve's defaults, and the restart is told through its webhook; the secret stays out of every runtime file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import getPort from 'get-port';
import { SCRIPT, TSX, alive, cli, cliEnv, listTree, readPid, runtimeFile, start, stopServe, waitUntil, withTempFolder } from './helpers.ts';
import { appendCommand, receiver, writeTask } from './notify-helpers.ts';
import { pgSkip, withPostgres } from './pg.ts';

const SECRET = 'R3CIPE-SECRET-5e0c2a91';

/** A pid file's settings: every key=value line but the ones that name one process (start time, boot, when). */
function settingsOf(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
    const eq = line.indexOf('=');
    if (eq > 0 && !['starttime', 'boot', 'started'].includes(line.slice(0, eq))) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/** The TASK_MANAGER_ variables of a process's environment, from /proc. */
function managerEnv(pid: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0 && entry.startsWith('TASK_MANAGER_')) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/**
 * A runtime file's text, '' for a folder or a file gone since it was listed: the heartbeat goes on
 * writing, and a temp file renamed into place vanished between the listing and the read (CI).
 */
function textIfThere(file: string): string {
  try {
    return fs.statSync(file).isFile() ? fs.readFileSync(file, 'utf8') : '';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

describe('the watchdog restarts the same heartbeat', () => {
  test('ensure with dispatch, max, ready, run_timeout and notify channels; bare serve --detach; kill -9: the restarted heartbeat has the same settings and channels and dispatches; the restart is told through its webhook', async () => {
    await withTempFolder('recipe', async (t) => {
      const hook = await receiver(SECRET);
      const dispatched = path.join(t.root, 'dispatched.txt');
      const notified = path.join(t.root, 'notified.jsonl');
      const where = [`owner=${t.owner}`, `dir=${t.dir}`];
      try {
        // FIRST-TASK (status ready) is not ready under ready=todo: only a heartbeat with this ensure's settings leaves it alone.
        const ensured = await cli(['ensure', ...where, 'interval=2', 'max=2', 'ready=todo', 'run_timeout=1h', 'worktrees=off',
          `dispatch=echo "$TASK_ID" >> '${dispatched}'`, `notify=${appendCommand(notified)}`, `notify_url=${hook.url}`]);
        assert.equal(ensured.code, 0, ensured.stderr);
        const pidFile = runtimeFile(t.dir, t.owner, 'heartbeat.pid');
        const old = readPid(pidFile) as number;
        t.extra.push(old);
        const before = settingsOf(pidFile);
        const beforeEnv = managerEnv(old);
        assert.equal(before.dispatch, `echo "$TASK_ID" >> '${dispatched}'`);
        assert.equal(beforeEnv.TASK_MANAGER_NOTIFY_URL, hook.url);

        // The server with none of those keys, detached: its own watchdog keeps the heartbeat.
        const served = await cli(['serve', ...where, `port=${await getPort({ host: '127.0.0.1' })}`, '--detach']);
        assert.equal(served.code, 0, served.stderr);
        assert.match(served.stdout, new RegExp(`heartbeat already running \\(pid ${old}\\)`));
        // The detached server says it serves once its watchdog has looked at the heartbeat (its first check comes before that line).
        const serverLog = runtimeFile(t.dir, t.owner, 'server.log');
        await waitUntil(() => fs.existsSync(serverLog) && /serving tasks for /.test(fs.readFileSync(serverLog, 'utf8')), 'the detached server\'s ready line', 60_000);

        process.kill(old, 'SIGKILL');
        const fresh = await waitUntil(() => { const p = readPid(pidFile); return p !== undefined && p !== old && alive(p) ? p : undefined; },
          () => `a new heartbeat in the pid file; server log:\n${fs.existsSync(serverLog) ? fs.readFileSync(serverLog, 'utf8') : ''}`, 60_000);
        t.extra.push(fresh);
        await waitUntil(() => new RegExp(`watchdog: restarted the heartbeat as pid ${fresh}`).test(fs.readFileSync(serverLog, 'utf8')), 'the watchdog\'s restart line', 30_000);

        // serve has no channel of its own: the restart is told through the restarted heartbeat's.
        await waitUntil(() => hook.ok().some((g) => g.body.event === 'watchdog-restart'), () => `the watchdog's restart at the heartbeat's webhook; got ${JSON.stringify(hook.got.map((g) => g.body.event))}`, 30_000);
        assert.deepEqual(settingsOf(pidFile), before, 'the restarted heartbeat records the settings of the one it replaced');
        assert.deepEqual(managerEnv(fresh), beforeEnv, 'the restarted heartbeat has the same notification channels and registry variable');

        // A task made ready (under ready=todo) after the restart is dispatched; FIRST-TASK (status ready) is not.
        writeTask(t.dir, 'LATER-TASK', 'Made ready after the restart', 'todo');
        await waitUntil(() => fs.existsSync(dispatched) && fs.readFileSync(dispatched, 'utf8').includes('LATER-TASK'), 'LATER-TASK dispatched by the restarted heartbeat', 60_000);
        assert.deepEqual(fs.readFileSync(dispatched, 'utf8').split('\n').filter((l) => l !== ''), ['LATER-TASK']);
        // Its run's notice reaches the webhook the restarted heartbeat was given back.
        await waitUntil(() => hook.ok().some((g) => g.body.id === 'LATER-TASK'), () => `LATER-TASK's notice at the webhook; got ${JSON.stringify(hook.got.map((g) => g.body.event))}`, 60_000);

        // The secret is in no runtime file: logs, pid files, the snapshot, the delivery log.
        const runtime = path.join(t.dir, 'logs');
        for (const rel of listTree(runtime)) assert.ok(!textIfThere(path.join(runtime, rel)).includes(SECRET), `the secret is in ${rel}`);
        assert.ok(!`${ensured.stdout}${ensured.stderr}${served.stdout}${served.stderr}`.includes(SECRET), 'the secret was printed');
      } finally {
        await cli(['stop', ...where]);
        await hook.close();
      }
    });
  });

  test('a shared registry given to ensure in TASK_MANAGER_REGISTRY, a foreground serve without it: the restarted heartbeat keeps the database, never registry.json', { skip: pgSkip }, async () => {
    await withPostgres(async (p) => {
      await withTempFolder('recipe-pg', async (t) => {
        const password = 'Pw-r3cipe-91c';
        const url = `postgres://postgres:${password}@${p.host}:${p.port}/${p.db}`;
        const where = [`owner=${t.owner}`, `dir=${t.dir}`];
        const pidFile = runtimeFile(t.dir, t.owner, 'heartbeat.pid');
        const ensured = await cli(['ensure', ...where, 'interval=1', 'queue=recipe-q'], { env: cliEnv({ TASK_MANAGER_REGISTRY: url }) });
        assert.equal(ensured.code, 0, ensured.stderr);
        const old = readPid(pidFile) as number;
        t.extra.push(old);
        const before = settingsOf(pidFile);
        assert.equal(before.queue, 'recipe-q');
        const s = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', ...where, `port=${await getPort({ host: '127.0.0.1' })}`]);
        t.extra.push(s.child.pid as number);
        try {
          await s.waitFor(/serving tasks for /, 60_000);
          process.kill(old, 'SIGKILL');
          const fresh = Number((await s.waitFor(/watchdog: restarted the heartbeat as pid (\d+)/, 60_000))[1]);
          t.extra.push(fresh);
          await waitUntil(() => readPid(pidFile) === fresh || undefined, 'the restarted heartbeat\'s pid file', 30_000);
          assert.deepEqual(settingsOf(pidFile), before, 'the restarted heartbeat records the registry and queue of the one it replaced');
          assert.equal(managerEnv(fresh).TASK_MANAGER_REGISTRY, url);
          assert.ok(!s.output().includes(password), 'serve printed the password');
          const runtime = path.join(t.dir, 'logs');
          for (const rel of listTree(runtime)) assert.ok(!textIfThere(path.join(runtime, rel)).includes(password), `the password is in ${rel}`);
        } finally {
          await stopServe(s);
          await cli(['stop', ...where]);
        }
      });
    });
  });

  test('notify test with neither key uses the running heartbeat\'s channels, and says so; with no heartbeat it still asks for one', async () => {
    await withTempFolder('recipe-nt', async (t) => {
      const hook = await receiver(SECRET);
      const where = [`owner=${t.owner}`, `dir=${t.dir}`];
      try {
        const none = await cli(['notify', 'test', ...where]);
        assert.equal(none.code, 2, `${none.stdout}${none.stderr}`);
        assert.match(none.stderr, /`notify test` needs a channel/);
        const ensured = await cli(['ensure', ...where, 'interval=30', `notify_url=${hook.url}`]);
        assert.equal(ensured.code, 0, ensured.stderr);
        t.extra.push(readPid(runtimeFile(t.dir, t.owner, 'heartbeat.pid')) as number);
        const sent = await cli(['notify', 'test', ...where]);
        assert.equal(sent.code, 0, `${sent.stdout}${sent.stderr}`);
        assert.match(sent.stderr, /using the running heartbeat's channels/);
        assert.match(sent.stdout, /^http:\/\/127\.0\.0\.1:\d+\/…: ok /m);
        assert.ok(hook.ok().some((g) => g.body.event === 'test'), `the sample at the heartbeat's webhook; got ${JSON.stringify(hook.got.map((g) => g.body.event))}`);
        assert.ok(!`${sent.stdout}${sent.stderr}`.includes(SECRET), 'the secret was printed');
        // --json: the same, one document on stdout.
        const json = await cli(['notify', 'test', ...where, '--json']);
        assert.equal(json.code, 0, json.stderr);
        assert.equal((JSON.parse(json.stdout) as { channels: { ok: boolean }[] }).channels.length, 1);
      } finally {
        await cli(['stop', ...where]);
        await hook.close();
      }
    });
  });
});
