// The heartbeat the systemd unit of `startup` runs (heartbeat --unit), started here from the unit's own ExecStart words
// (fakes on PATH, HOME in a temp folder: the machine's units are never touched): its log is heartbeat.log, it waits for
// a heartbeat holding the lock instead of leaving the unit dead, and a start that fails says why in that log.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { alive, cli, cliEnv, start, waitUntil, waitUntilAsync, withTempFolder } from './helpers.ts';
import { DISPATCH, execWords, fakes, ok, onlyUnit } from './startup-fakes.ts';

describe("the startup unit's heartbeat", () => {
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
      // Its log is the usual heartbeat.log (stdout would be the journal): `logs` and status's log path find it.
      const logs = await waitUntilAsync(async () => {
        const r = await cli(['logs', `owner=${t.owner}`, `dir=${t.dir}`], { env: cliEnv() });
        return (r.code === 0 && /tick 1: /.test(r.stdout) && r) || undefined;
      }, `logs to show the unit's heartbeat ticking; its output: ${hb.output()}`, 30_000);
      assert.match(logs.stdout, new RegExp(`heartbeat started \\(pid ${pid},`));
      const json = JSON.parse(ok(await cli(['status', `owner=${t.owner}`, `dir=${t.dir}`, '--json'], { env: cliEnv() })).stdout) as { heartbeat: { log: string } };
      assert.ok(fs.readFileSync(json.heartbeat.log, 'utf8').includes('tick 1: '), `ticks in ${json.heartbeat.log}`);
      assert.doesNotMatch(hb.output(), /tick \d+: /, 'no tick lines on stdout (the journal)');
      // Restart=on-failure covers a crash only: a stuck one (here SIGSTOPped) is what status's exit 4 reports.
      process.kill(pid, 'SIGSTOP');
      try {
        await waitUntilAsync(async () => (await cli(['status', `owner=${t.owner}`, `dir=${t.dir}`], { env: cliEnv({ TASKS_STUCK_SLACK_S: '0' }) })).code === 4, 'status to say stuck (exit 4)', 30_000);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
    } finally {
      // Its own process group (start() makes one): the heartbeat and anything it started.
      if (hb.child.pid !== undefined && alive(hb.child.pid)) process.kill(-hb.child.pid, 'SIGKILL');
      await hb.exited;
    }
  }));
  test("the unit's heartbeat finding another one holding the lock waits for it (never exits 0 and leaves the unit dead); a deliberate stop sticks", () => withTempFolder('sw', async (t) => {
    const f = fakes(t, { manager: true });
    const keys = [`owner=${t.owner}`, `dir=${t.dir}`, 'interval=1'];
    ok(await cli(['startup', ...keys], { env: f.env }));
    const [cmd, ...rest] = execWords(fs.readFileSync(onlyUnit(f), 'utf8'));
    const logFile = path.join(t.dir, 'logs', 'task_manager', `task-manager-${t.owner}.heartbeat.log`);
    const waits = (): number => (fs.readFileSync(logFile, 'utf8').match(/holds the lock of owner .*; waiting for it to end/g) ?? []).length;
    const status = async (): Promise<{ code: number | null; pid: number | undefined }> => {
      const r = await cli(['status', ...keys.slice(0, 2)], { env: cliEnv() });
      return { code: r.code, pid: Number(/heartbeat\s+running, pid (\d+)/.exec(r.stdout)?.[1]) || undefined };
    };
    // A serve's watchdog restarted the crashed unit heartbeat first: an ensure'd one holds the lock.
    const ensureOne = async (): Promise<number> => {
      const pid = (JSON.parse(ok(await cli(['ensure', ...keys, '--json'], { env: cliEnv() })).stdout) as { pid: number }).pid;
      t.extra.push(pid);
      return pid;
    };
    const first = await ensureOne();
    const unit = start(cmd as string, rest, { env: cliEnv() });
    let exit: { code: number | null } | undefined;
    void unit.exited.then((e) => { exit = e; });
    try {
      await waitUntil(() => fs.existsSync(logFile) && waits() === 1, () => `the unit's heartbeat to say it waits; exited: ${JSON.stringify(exit)}; its output: ${unit.output()}`, 30_000);
      assert.equal(exit, undefined, `the unit's heartbeat exited: ${unit.output()}`);
      // The other one crashes: the unit's takes the lock and runs.
      process.kill(first, 'SIGKILL');
      const now = await waitUntilAsync(async () => {
        const s = await status();
        return s.pid !== undefined && s.pid !== first && s.pid;
      }, "status to report the unit's heartbeat running", 30_000);
      const parent = Number(fs.readFileSync(`/proc/${now}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
      assert.ok(now === unit.child.pid || parent === unit.child.pid, `pid ${now} (parent ${parent}) is the unit's ${unit.child.pid}`);
      ok(await cli(['stop', ...keys.slice(0, 2)], { env: cliEnv() }));
      assert.equal((await unit.exited).code, 0);
    } finally {
      if (unit.child.pid !== undefined && alive(unit.child.pid)) process.kill(-unit.child.pid, 'SIGKILL');
      await unit.exited;
    }

    // `stop` while the unit's heartbeat waits: the other one stops and the unit's does not take over.
    await ensureOne();
    const again = start(cmd as string, rest, { env: cliEnv() });
    try {
      await waitUntil(() => waits() === 2, () => `the second unit heartbeat to wait; its output: ${again.output()}`, 30_000);
      ok(await cli(['stop', ...keys.slice(0, 2)], { env: cliEnv() }));
      assert.equal((await again.exited).code, 0);
      assert.match(fs.readFileSync(logFile, 'utf8'), /stopped on purpose \(tasks stop\); not taking over/);
      assert.equal((await status()).code, 3);
    } finally {
      if (again.child.pid !== undefined && alive(again.child.pid)) process.kill(-again.child.pid, 'SIGKILL');
      await again.exited;
    }
  }));

  test("a unit heartbeat that cannot start says why in heartbeat.log (not only in the journal) and exits non-zero, so systemd retries it", () => withTempFolder('sx', async (t) => {
    const f = fakes(t, { manager: true });
    // Outside git, worktrees=on with a dispatch command is refused at start.
    ok(await cli(['startup', `owner=${t.owner}`, `dir=${t.dir}`, 'worktrees=on', `dispatch=${DISPATCH}`], { env: f.env }));
    const [cmd, ...rest] = execWords(fs.readFileSync(onlyUnit(f), 'utf8'));
    const hb = start(cmd as string, rest, { env: cliEnv() });
    try {
      assert.equal((await hb.exited).code, 1, hb.output());
    } finally {
      if (hb.child.pid !== undefined && alive(hb.child.pid)) process.kill(-hb.child.pid, 'SIGKILL');
    }
    const logs = ok(await cli(['logs', `owner=${t.owner}`, `dir=${t.dir}`], { env: cliEnv() }));
    assert.match(logs.stdout, /heartbeat failed: worktrees=on, but .* is not inside a git repository/);
  }));

});
