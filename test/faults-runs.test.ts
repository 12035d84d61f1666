import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import getPort from 'get-port';
import { alive, cli, cliEnv, killAll, runtimeFile, sleeperIn, tempTasks, uniqueOwner, waitUntil } from './helpers.ts';

/** sleep: a sleep whose command line names root, so the cleanup finds the runs that use it without the code under test. */
interface Fixture { root: string; dir: string; owner: string; state: string; registry: string; sleep: string }

/** A live process carrying a run marker, as /proc/<pid>/environ shows it. */
interface Marked { pid: number; runId: string; taskId: string; slug: string; relay: boolean; sid: number; cmd: string }

/** Live processes carrying a run marker of this owner: the test's unique owner filters out everything else. */
function marked(owner: string): Marked[] {
  const out: Marked[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    let env: Record<string, string>;
    let stat: string;
    let cmd: string;
    try {
      env = Object.fromEntries(fs.readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').filter((e) => e.includes('=')).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
      stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8');
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    if (!env.TASK_RUN_ID || env.TASK_MANAGER_OWNER !== owner || !alive(Number(name))) continue;
    const sid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
    out.push({ pid: Number(name), runId: env.TASK_RUN_ID, taskId: env.TASK_ID ?? '', slug: env.TASK_SLUG ?? '', relay: cmd.includes('tasks-run-log'), sid, cmd: cmd.split('\0').join(' ').trim() });
  }
  return out;
}

/** Distinct live runs (by run id) of this owner, per task id as the run was started. */
function liveRuns(owner: string): Map<string, Set<string>> {
  const runs = new Map<string, Set<string>>();
  for (const p of marked(owner)) runs.set(p.taskId, new Set([...(runs.get(p.taskId) ?? []), p.runId]));
  return runs;
}

async function withTasks(files: Record<string, string>, fn: (f: Fixture) => Promise<void>): Promise<void> {
  const t = tempTasks();
  fs.rmSync(path.join(t.dir, 'FIRST-TASK.md'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(t.dir, name), text);
  const owner = uniqueOwner('frun');
  const state = path.join(t.dir, 'logs', 'task_manager');
  try {
    await fn({ ...t, owner, state, registry: path.join(state, 'registry.json'), sleep: sleeperIn(t.root) });
  } finally {
    // Heartbeats and runs by their command line (it names the temp folder), runs also by their marker and this test's owner.
    await killAll(t.root, marked(owner).map((p) => p.pid));
    t.remove();
  }
}

const task = (id: string | undefined, status = 'ready'): string => `---\n${id ? `id: ${id}\n` : ''}title: Task ${id ?? 'without id'}\nstatus: ${status}\n---\n## Plan\n- [ ] do it\n`;

function registry(f: Fixture): Record<string, any> | undefined {
  try {
    return JSON.parse(fs.readFileSync(f.registry, 'utf8')) as Record<string, any>;
  } catch {
    return undefined;
  }
}

function snapshot(f: Fixture): Record<string, any> | undefined {
  try {
    return JSON.parse(fs.readFileSync(runtimeFile(f.dir, f.owner, 'snapshot.json'), 'utf8')) as Record<string, any>;
  } catch {
    return undefined;
  }
}

function heartbeatLog(f: Fixture): string {
  try {
    return fs.readFileSync(runtimeFile(f.dir, f.owner, 'heartbeat.log'), 'utf8');
  } catch {
    return '';
  }
}

async function ensure(f: Fixture, more: string[], env: Record<string, string> = {}): Promise<number> {
  const r = await cli(['ensure', `owner=${f.owner}`, `dir=${f.dir}`, 'interval=0.1', '--json', ...more], { env: cliEnv(env) });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { pid: number }).pid;
}

/** The heartbeat is still alive a while after its folder went: it does not end by itself. */
async function staysAlive(hb: number): Promise<void> {
  for (let i = 0; i < 10; i++) {
    assert.ok(alive(hb), 'the heartbeat is still there');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits for a number of ticks after now, so a fault had its chance to cause a second dispatch. */
async function ticksPass(f: Fixture, n: number): Promise<void> {
  const from = snapshot(f)?.tick ?? 0;
  await waitUntil(() => (snapshot(f)?.tick ?? 0) >= from + n, `${n} more ticks; heartbeat log:\n${heartbeatLog(f)}`);
}

/**
 * Deletes a folder that live heartbeats and a server still write their state files into: one of
 * them may make logs/task_manager again inside it mid-removal (ENOTEMPTY). rmSync's own retries
 * only retry the rmdir, never the new files, so the whole removal is retried until the folder
 * itself is gone (then nothing makes it again: the tool never makes a tasks folder).
 */
function removeWhileWritten(dir: string): void {
  for (let attempt = 1; ; attempt++) {
    try {
      fs.rmSync(dir, { recursive: true });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw err;
      if (attempt >= 50) throw new Error(`${dir} was still being written after 50 removals: ${(err as Error).message}`);
      // A short pause lets the heartbeat finish the write it is in (a loaded machine runs it late).
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

async function stop(f: Fixture): Promise<void> {
  const r = await cli(['stop', `owner=${f.owner}`, `dir=${f.dir}`]);
  assert.equal(r.code, 0, r.stderr);
}

describe('a damaged registry while a run is alive', () => {
  const damages: [string, (file: string) => void][] = [
    ['truncated', (file) => fs.writeFileSync(file, fs.readFileSync(file, 'utf8').slice(0, 40))],
    ['valid JSON of the wrong shape', (file) => fs.writeFileSync(file, '{"version":1,"claims":{"x":null}}')],
    ['replaced by a folder', (file) => { fs.rmSync(file); fs.mkdirSync(file); fs.writeFileSync(path.join(file, 'inside'), 'x'); }],
  ];
  for (const [name, damage] of damages) {
    test(`${name}: kept aside, rebuilt from the live run, no second run`, async () => {
      await withTasks({ 'A.md': task('A') }, async (f) => {
        await ensure(f, [`dispatch=${f.sleep} 300`]);
        const runId = await waitUntil(() => registry(f)?.claims?.A?.runId as string | undefined, `the run of A; log:\n${heartbeatLog(f)}`);
        await waitUntil(() => liveRuns(f.owner).get('A')?.size === 1, 'the run of A to carry its marker');
        damage(f.registry);
        const aside = await waitUntil(() => fs.readdirSync(f.state).find((n) => n.startsWith('registry.json.corrupt-')), `the damaged registry kept aside; log:\n${heartbeatLog(f)}`);
        await waitUntil(() => registry(f)?.claims?.A?.runId === runId, `the claim of A rebuilt; registry: ${JSON.stringify(registry(f))}`);
        await ticksPass(f, 5);
        assert.deepEqual([...(liveRuns(f.owner).get('A') ?? [])], [runId], 'one run of A, the first one');
        assert.equal(registry(f)?.claims?.A?.state, 'running');
        assert.doesNotMatch(heartbeatLog(f), /tick \d+ failed/);
        assert.match(heartbeatLog(f), /registry .* was corrupt: it .*; kept it as .*registry\.json\.corrupt-.* and rebuilt it/);
        if (name.startsWith('replaced')) assert.ok(fs.statSync(path.join(f.state, aside)).isDirectory(), 'the folder itself was moved aside');
        await stop(f);
        assert.equal(liveRuns(f.owner).size, 0, 'the run stopped with its heartbeat');
      });
    });
  }
});

describe('a registry lost while its heartbeat was dead', () => {
  test('the next heartbeat finds the live run by its marker, rebuilds its claim, adopts it, never runs it twice', async () => {
    await withTasks({ 'A.md': task('A') }, async (f) => {
      const first = await ensure(f, [`dispatch=${f.sleep} 300`]);
      const runId = await waitUntil(() => registry(f)?.claims?.A?.runId as string | undefined, `the run of A; log:\n${heartbeatLog(f)}`);
      const run = registry(f)?.claims?.A?.pid as number;
      process.kill(first, 'SIGKILL');
      await waitUntil(() => !alive(first), 'the first heartbeat gone');
      fs.writeFileSync(f.registry, '{"version":1,"claims":{"A":{"id":"A"');
      const second = await ensure(f, [`dispatch=${f.sleep} 300`]);
      await waitUntil(() => registry(f)?.claims?.A?.runId === runId, `the claim of A rebuilt from its marker; registry: ${JSON.stringify(registry(f))}\nlog:\n${heartbeatLog(f)}`);
      await ticksPass(f, 5);
      const claim = registry(f)?.claims?.A;
      assert.deepEqual([claim.pid, claim.claimedBy, claim.state], [run, f.owner, 'running']);
      assert.match(claim.note, /rebuilt from its live run/);
      assert.ok(Date.parse(claim.claimedAt) < Date.now() - 100, `the claim's age is the run's: ${claim.claimedAt}`);
      assert.deepEqual([...(liveRuns(f.owner).get('A') ?? [])], [runId], 'one run of A, the first one');
      await stop(f);
      assert.ok(!alive(second));
      assert.deepEqual(marked(f.owner), [], 'the adopted run stopped with the heartbeat that took it over');
      assert.equal(registry(f)?.claims?.A?.state, 'interrupted');
    });
  });
});

describe('claims follow their files', () => {
  test('a task file without id renamed while its run is alive is not dispatched again', async () => {
    await withTasks({ 'no-id.md': task(undefined) }, async (f) => {
      await ensure(f, [`dispatch=${f.sleep} 300`]);
      const runId = await waitUntil(() => registry(f)?.claims?.['no-id']?.runId as string | undefined, `the run of no-id; log:\n${heartbeatLog(f)}`);
      fs.renameSync(path.join(f.dir, 'no-id.md'), path.join(f.dir, 'renamed.md'));
      await waitUntil(() => registry(f)?.claims?.renamed?.runId === runId, `the claim to follow the file; registry: ${JSON.stringify(registry(f))}`);
      await ticksPass(f, 5);
      const runs = liveRuns(f.owner);
      assert.deepEqual([...runs.keys()], ['no-id'], 'the only run is the one started as no-id');
      assert.deepEqual([...(runs.get('no-id') ?? [])], [runId]);
      assert.deepEqual(Object.keys(registry(f)?.claims ?? {}), ['renamed']);
      assert.equal(registry(f)?.claims?.renamed?.path, 'renamed.md');
      await stop(f);
    });
  });

  test('the tasks folder moved away and back: its registry comes back with it, nothing runs again', async () => {
    await withTasks({ 'A.md': task('A') }, async (f) => {
      await ensure(f, ['dispatch=echo ran >> "$(dirname "$TASK_FILE")/../ran.txt"']);
      await waitUntil(() => registry(f)?.claims?.A?.state === 'exited', `the run of A to exit; log:\n${heartbeatLog(f)}`);
      const away = path.join(f.root, 'away');
      const log = path.join(away, 'logs', 'task_manager', `task-manager-${f.owner}.heartbeat.log`);
      fs.renameSync(f.dir, away);
      // The heartbeat's log moved with the folder (its fd follows the file): it says the folder is gone, or
      // (when a write raced the move and made the folder again) a few more ticks are logged.
      const before = fs.readFileSync(log, 'utf8').length;
      await waitUntil(() => {
        const text = fs.readFileSync(log, 'utf8').slice(before);
        return /tasks folder .* is gone/.test(text) || text.split('\n').length > 3;
      }, 'the heartbeat to notice the folder is gone');
      assert.ok(!fs.existsSync(path.join(f.dir, 'logs', 'task_manager', 'registry.json')), 'no registry was written where the folder was');
      // A snapshot write that raced the move may have made <dir>/logs/task_manager again (state files only): clear it.
      if (fs.existsSync(f.dir)) assert.deepEqual(fs.readdirSync(f.dir), ['logs']);
      fs.rmSync(f.dir, { recursive: true, force: true });
      fs.renameSync(away, f.dir);
      await ticksPass(f, 5);
      assert.equal(fs.readFileSync(path.join(f.root, 'ran.txt'), 'utf8'), 'ran\n', 'A ran once');
      assert.equal(registry(f)?.claims?.A?.state, 'exited');
      await stop(f);
    });
  });
});

describe('runs are contained', () => {
  const escapes: [string, (sleep: string) => string][] = [
    ['a run still going', (sleep) => `setsid ${sleep} 300 & ${sleep} 300`],
    ['a run that already exited', (sleep) => `setsid ${sleep} 300 &`],
  ];
  for (const [name, cmd] of escapes) {
    test(`stop ends every process carrying the marker, even one that left with setsid (${name})`, async () => {
      await withTasks({ 'A.md': task('A') }, async (f) => {
        const hb = await ensure(f, [`dispatch=${cmd(f.sleep)}`]);
        await waitUntil(() => marked(f.owner).some((p) => !p.relay && p.sid === p.pid), `a marked process in a session of its own; log:\n${heartbeatLog(f)}`);
        await stop(f);
        assert.ok(!alive(hb), 'the heartbeat stopped');
        assert.deepEqual(marked(f.owner), [], 'no process carrying the marker is left');
      });
    });
  }

  test('the tasks folder deleted under a heartbeat and a detached server: stop finds them (lock, health), by a symlinked path too; look-alikes live on', async () => {
    await withTasks({ 'A.md': task('A') }, async (f) => {
      const hb = await ensure(f, [`dispatch=setsid ${f.sleep} 300 & ${f.sleep} 300`]);
      await waitUntil(() => marked(f.owner).some((p) => !p.relay && p.sid === p.pid), `a marked process in a session of its own; log:\n${heartbeatLog(f)}`);
      const served = await cli(['serve', `owner=${f.owner}`, `dir=${f.dir}`, `port=${await getPort({ host: '127.0.0.1' })}`, '--detach']);
      assert.equal(served.code, 0, served.stderr);
      const server = Number(fs.readFileSync(runtimeFile(f.dir, f.owner, 'server.pid'), 'utf8').split('\n')[0]);
      // Must live on: another owner's heartbeat on the same folder, and a process that only carries the words.
      const other = { ...f, owner: `${f.owner}-b` };
      const otherHb = await ensure(other, []);
      const lookalike = spawn('sh', ['-c', 'sleep 300; :', 'heartbeat', `owner=${f.owner}`, `dir=${f.dir}`], { detached: true, stdio: 'ignore' });
      try {
        removeWhileWritten(f.dir);
        // The heartbeat waits for its folder to come back (a folder moved away and back is common), so nothing ends by itself.
        await staysAlive(hb);
        fs.symlinkSync(f.root, path.join(f.root, 'link'));
        const r = await cli(['stop', `owner=${f.owner}`, `dir=${path.join(f.root, 'link', 'tasks')}`]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), `the tasks folder ${f.dir} is gone; stopped heartbeat (pid ${hb}), found by its lock; stopped server (pid ${server})`);
        assert.ok(!alive(hb), 'the heartbeat stopped');
        assert.ok(!alive(server), 'the detached server stopped');
        assert.deepEqual(marked(f.owner), [], 'no process carrying the marker is left');
        assert.ok(alive(otherHb), 'the other owner\'s heartbeat lives on');
        assert.ok(alive(lookalike.pid as number), 'a process with the same words but not the lock lives on');
        const again = await cli(['stop', `owner=${f.owner}`, `dir=${f.dir}`, '--json']);
        assert.equal(again.code, 0, again.stderr);
        assert.deepEqual(JSON.parse(again.stdout), { owner: f.owner, folderGone: true, heartbeat: { stopped: false, stale: null }, server: { stopped: false }, runs: { stopped: 0, killed: 0, survivors: [] } });
        assert.ok(!fs.existsSync(f.dir), 'stop wrote nothing: the folder is still gone');
      } finally {
        process.kill(-(lookalike.pid as number), 'SIGKILL');
      }
    });
  });

  test('run_timeout ends a run that ignores SIGTERM (after the grace) and escalates "timed out after"', async () => {
    await withTasks({ 'A.md': task('A') }, async (f) => {
      await ensure(f, ['run_timeout=1', `dispatch=trap "" TERM; ${f.sleep} 300`]);
      const pid = await waitUntil(() => registry(f)?.claims?.A?.pid as number | undefined, `the run of A; log:\n${heartbeatLog(f)}`);
      await waitUntil(() => registry(f)?.claims?.A?.state === 'timed_out', `the claim to time out; log:\n${heartbeatLog(f)}`);
      await waitUntil(() => marked(f.owner).length === 0, `every process of the run gone; left: ${JSON.stringify(marked(f.owner))}`, 15_000);
      assert.ok(!alive(pid));
      const esc = await waitUntil(() => snapshot(f)?.escalations?.find((e: { id: string }) => e.id === 'A'), 'the escalation of A');
      assert.match(esc.reason, /^run timed out after [0-9]+ s/);
      await ticksPass(f, 3);
      assert.equal(registry(f)?.claims?.A?.pid, pid, 'not dispatched again');
      await stop(f);
    });
  });

  test('a run printing 5 MB leaves a log within the cap plus one rotated file', async () => {
    await withTasks({ 'A.md': task('A') }, async (f) => {
      const cap = 65536;
      const r = await cli(['heartbeat', `owner=${f.owner}`, `dir=${f.dir}`, '--once', '--json', 'dispatch=yes 0123456789abcdef | head -c 5000000; echo done'], { env: cliEnv({ TASKS_LOG_MAX_BYTES: String(cap) }) });
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { claims: { exitCode: number }[] }).claims[0]?.exitCode, 0);
      const runs = path.join(f.state, 'runs');
      assert.deepEqual(fs.readdirSync(runs).sort(), ['A.log', 'A.log.1']);
      for (const name of ['A.log', 'A.log.1']) assert.ok(fs.statSync(path.join(runs, name)).size <= cap, `${name} is ${fs.statSync(path.join(runs, name)).size} bytes`);
      assert.match(fs.readFileSync(path.join(runs, 'A.log'), 'utf8'), /done\n$/, 'the last output is in the live log');
    });
  });

  test('a chatty run outlives its SIGKILLed heartbeat (no SIGPIPE), is still logged, adopted and stopped', async () => {
    await withTasks({ 'A.md': task('A') }, async (f) => {
      const first = await ensure(f, [`dispatch=while [ -d ${f.root} ]; do echo tick; sleep 0.05; done`]);
      const run = await waitUntil(() => registry(f)?.claims?.A?.pid as number | undefined, `the run of A; log:\n${heartbeatLog(f)}`);
      process.kill(first, 'SIGKILL');
      await waitUntil(() => !alive(first), 'the first heartbeat gone');
      const log = path.join(f.state, 'runs', 'A.log');
      const size = fs.statSync(log).size;
      await waitUntil(() => fs.statSync(log).size > size + 100, 'the run to keep writing its log');
      assert.ok(alive(run), 'the run outlived its heartbeat');
      const second = await ensure(f, [`dispatch=while [ -d ${f.root} ]; do echo tick; sleep 0.05; done`]);
      assert.notEqual(second, first);
      await ticksPass(f, 3);
      assert.equal(registry(f)?.claims?.A?.pid, run, 'adopted, not re-run');
      assert.equal(liveRuns(f.owner).get('A')?.size, 1);
      await stop(f);
      assert.deepEqual(marked(f.owner), [], 'the adopted run and its log relay are gone');
      assert.equal(registry(f)?.claims?.A?.state, 'interrupted');
    });
  });

  test('escalate_after gives the claim\'s real age', async () => {
    await withTasks({ 'A.md': task('A') }, async (f) => {
      await ensure(f, ['escalate_after=1', `dispatch=${f.sleep} 300`]);
      const esc = await waitUntil(() => snapshot(f)?.escalations?.find((e: { id: string; reason: string }) => e.id === 'A' && /claimed/.test(e.reason)), `the escalation of A; log:\n${heartbeatLog(f)}`);
      assert.match(esc.reason, /^claimed [1-9][0-9]* s ago without reaching review$/);
      await stop(f);
    });
  });
});

describe('a full disk under the state folder', () => {
  const root = process.getuid?.() === 0;
  test('a run dispatched while the registry and its log cannot be written runs once, is not blocked, and is recorded once space returns', { skip: root ? false : 'mounting a tmpfs needs root' }, async () => {
    await withTasks({ 'A.md': task('A', 'todo') }, async (f) => {
      fs.mkdirSync(f.state, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', f.state]);
      let hb: number | undefined;
      try {
        hb = await ensure(f, [`dispatch=seq 1 100000; ${f.sleep} 300`]);
        await ticksPass(f, 2);
        const filler = path.join(f.state, 'filler');
        try { execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'ignore' }); } catch { /* ENOSPC ends dd: the point */ }
        fs.writeFileSync(path.join(f.dir, 'A.md'), task('A'));
        // The run prints 600 KB into a full disk and still gets to its sleep: its log never blocks it.
        const sleeper = await waitUntil(() => marked(f.owner).find((p) => p.cmd === `${f.sleep} 300`), `the run of A to reach its sleep; marked: ${JSON.stringify(marked(f.owner))}`);
        // Ticks go on (the beat is the pid file's mtime, which needs no space) and every one fails to write the registry.
        const pidFile = runtimeFile(f.dir, f.owner, 'heartbeat.pid');
        const from = fs.statSync(pidFile).mtimeMs;
        await waitUntil(() => fs.statSync(pidFile).mtimeMs > from + 1000, 'ten more ticks on the full disk');
        assert.ok(alive(hb), 'the heartbeat survives');
        assert.deepEqual([...(liveRuns(f.owner).get('A') ?? [])], [sleeper.runId], 'one run of A while nothing can be recorded');
        fs.rmSync(filler);
        await waitUntil(() => registry(f)?.claims?.A?.runId === sleeper.runId, `the claim of A recorded once space returns; log:\n${heartbeatLog(f)}`);
        await ticksPass(f, 3);
        assert.deepEqual([...(liveRuns(f.owner).get('A') ?? [])], [sleeper.runId], 'still one run of A');
        assert.equal(registry(f)?.claims?.A?.state, 'running');
        await stop(f);
        assert.deepEqual(marked(f.owner), []);
      } finally {
        if (hb !== undefined && alive(hb)) process.kill(hb, 'SIGKILL');
        for (const p of marked(f.owner)) process.kill(p.pid, 'SIGKILL');
        await waitUntil(() => (hb === undefined || !alive(hb)) && marked(f.owner).length === 0, 'the heartbeat and the run to die before unmounting');
        execFileSync('umount', ['-l', f.state]);
      }
    });
  });
});
