// Faults the heartbeat's supervision must survive, injected against the real CLI: kill -9, SIGSTOP,
// a pid file or snapshot replaced by a folder, a full disk, control characters in task text.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import getPort from 'get-port';
import { ROOT, SCRIPT, TSX, alive, cli, cliEnv, pidsMentioning, readPid, runtimeFile, start, stopServe, type Folder, type Running, waitUntil, waitUntilAsync, withTempFolder } from './helpers.ts';

const withFolder = (fn: (t: Folder) => Promise<void>): Promise<void> => withTempFolder('fault', fn);
/** Stuck after 3 intervals and no slack: at interval 0.2 a silent heartbeat is stuck after 0.6 s. */
const fast = cliEnv({ TASKS_STUCK_SLACK_S: '0' });

async function ensure(f: Folder, extra: string[] = []): Promise<number> {
  const r = await cli(['ensure', `owner=${f.owner}`, `dir=${f.dir}`, 'interval=0.2', '--json', ...extra], { env: fast });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { pid: number }).pid;
}

function snapshotTick(f: Folder): number {
  try {
    return (JSON.parse(fs.readFileSync(runtimeFile(f.dir, f.owner, 'snapshot.json'), 'utf8')) as { tick: number }).tick;
  } catch {
    return 0;
  }
}

/** Checks that something stays true for a while (nothing restarts, nothing is recreated), every 50 ms. */
async function holdsFor(ms: number, check: () => void): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    check();
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits for ticks past the current one: proof the loop is not wedged. */
async function ticksGoOn(f: Folder, what: string): Promise<void> {
  const from = snapshotTick(f);
  await waitUntil(() => snapshotTick(f) >= from + 2, `${what}: two more ticks after tick ${from}`);
}

async function status(f: Folder): Promise<{ code: number | null; doc: { state: string; pid: number | null }; stderr: string }> {
  const r = await cli(['status', `owner=${f.owner}`, `dir=${f.dir}`, '--json'], { env: fast });
  assert.equal(r.stdout.trim().split('\n').length, 1, `one JSON document: ${r.stdout}`);
  return { code: r.code, doc: JSON.parse(r.stdout) as { state: string; pid: number | null }, stderr: r.stderr };
}

/**
 * Waits for status to say running (exit 0). With no stuck slack a heartbeat is "running" only
 * within 0.6 s of its last beat, so a single call on a loaded machine can read stuck in between.
 */
async function statusRunning(f: Folder, what: string): Promise<{ code: number | null; doc: { state: string; pid: number | null }; stderr: string }> {
  let last = '';
  try {
    return await waitUntilAsync(async () => {
      const r = await status(f);
      last = JSON.stringify(r);
      return r.code === 0 ? r : undefined;
    }, `status to say running (${what})`);
  } catch (err) {
    throw new Error(`${(err as Error).message}; it last said ${last}`);
  }
}

describe('a dead or stuck heartbeat', () => {
  test('kill -9: status says stopped (exit 3) at once; ensure starts a new one', async () => {
    await withFolder(async (f) => {
      const pid = await ensure(f);
      process.kill(pid, 'SIGKILL');
      await waitUntil(() => !alive(pid), 'the heartbeat to die');
      const s = await status(f);
      assert.equal(s.code, 3, s.stderr);
      assert.equal(s.doc.state, 'stopped');
      const again = await ensure(f);
      assert.notEqual(again, pid);
    });
  });

  test('SIGSTOP: status says stuck (exit 4); ensure replaces it and says so', async () => {
    await withFolder(async (f) => {
      const pid = await ensure(f);
      process.kill(pid, 'SIGSTOP');
      try {
        const s = await waitUntilAsync(async () => {
          const r = await status(f);
          return r.doc.state === 'stuck' ? r : undefined;
        }, 'status to say stuck');
        assert.equal(s.code, 4);
        assert.equal(s.doc.pid, pid);
        const text = await cli(['status', `owner=${f.owner}`, `dir=${f.dir}`], { env: fast });
        assert.equal(text.code, 4);
        assert.match(text.stdout, /STUCK: pid \d+ is alive but has not ticked/);
        const r = await cli(['ensure', `owner=${f.owner}`, `dir=${f.dir}`, 'interval=0.2'], { env: fast });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`^heartbeat started \\(pid \\d+.*replaced a stuck heartbeat \\(pid ${pid}, no tick for`));
        await waitUntil(() => !alive(pid), 'the stuck heartbeat to be gone');
        const after = await statusRunning(f, 'the new heartbeat');
        assert.notEqual(after.doc.pid, pid);
      } finally {
        if (alive(pid)) process.kill(pid, 'SIGCONT');
      }
    });
  });
});

/** A foreground serve with its watchdog, in its own process group; stopped by the caller. */
async function serving(f: Folder, env = fast): Promise<{ s: Running; heartbeat: number }> {
  const port = await getPort({ host: '127.0.0.1' });
  const s = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', `owner=${f.owner}`, `dir=${f.dir}`, `port=${port}`, 'interval=0.2'], { env });
  f.extra.push(s.child.pid as number);
  const m = await s.waitFor(/heartbeat started \(pid (\d+)/);
  await s.waitFor(/serving tasks/);
  return { s, heartbeat: Number(m[1]) };
}

describe('the watchdog of a running serve', () => {
  // How fast the restart comes is measured by bench/watchdog.ts, not asserted here.
  test('kill -9 of the heartbeat: restarted, with the dead one\'s last log lines', async () => {
    await withFolder(async (f) => {
      // The default stuck slack, so the only restart is the one for the kill (a dead pid is restarted at once).
      const { s, heartbeat } = await serving(f, cliEnv());
      try {
        const pidFile = runtimeFile(f.dir, f.owner, 'heartbeat.pid');
        process.kill(heartbeat, 'SIGKILL');
        const next = await waitUntil(() => { const p = readPid(pidFile); return p !== undefined && p !== heartbeat && alive(p) ? p : undefined; }, 'a restarted heartbeat', 15_000);
        await s.waitFor(new RegExp(`watchdog: restarted the heartbeat as pid ${next}: pid ${heartbeat} is gone \\(restart 1; the next one waits at least 1 s\\); its log ended with:\\n  \\| `));
        const st = await statusRunning(f, 'the restarted heartbeat');
        assert.equal(st.doc.pid, next);
        // A second death soon after waits out the backoff (1 s) before the next restart.
        process.kill(next, 'SIGKILL');
        await s.waitFor(/restart 2; the next one waits at least 2 s/, 15_000);
      } finally {
        await stopServe(s);
      }
    });
  });

  test('SIGSTOP of the heartbeat: the watchdog replaces the stuck one', async () => {
    await withFolder(async (f) => {
      const { s, heartbeat } = await serving(f);
      try {
        process.kill(heartbeat, 'SIGSTOP');
        await s.waitFor(new RegExp(`watchdog: restarted the heartbeat as pid \\d+: pid ${heartbeat} is stuck`));
        await waitUntil(() => !alive(heartbeat), 'the stuck heartbeat to be stopped');
        await statusRunning(f, 'the replacement');
      } finally {
        if (alive(heartbeat)) process.kill(heartbeat, 'SIGCONT');
        await stopServe(s);
      }
    });
  });

  test('the tasks folder moved away and back while serving: nothing recreates it; ticks and pages resume', async () => {
    await withFolder(async (f) => {
      // The default stuck slack: with none, a loaded machine's slow first tick let the watchdog replace the heartbeat.
      const { s, heartbeat } = await serving(f, cliEnv());
      try {
        await ticksGoOn(f, 'before the move');
        const away = `${f.dir}.away`;
        fs.renameSync(f.dir, away);
        // A few intervals and watchdog rounds: neither the heartbeat, the server nor the watchdog writes the folder back.
        await holdsFor(1500, () => assert.ok(!fs.existsSync(f.dir), 'the tasks folder was recreated while it was away'));
        fs.renameSync(away, f.dir);
        await ticksGoOn(f, 'after the folder came back');
        assert.ok(alive(heartbeat), `the same heartbeat ticks on; serve said:\n${s.output()}\nlog:\n${fs.readFileSync(runtimeFile(f.dir, f.owner, 'heartbeat.log'), 'utf8').split('\n').filter((l) => !/ tick \d+:/.test(l)).join('\n')}`);
        const base = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(s.output())?.[1] ?? '';
        const tasks = await waitUntilAsync(async () => {
          const doc = await fetch(`${base}api/tasks`).then((r) => r.json()) as { tasks: { id: string }[] };
          return doc.tasks.length === 1 ? doc : undefined;
        }, '/api/tasks to list the task again');
        assert.equal(tasks.tasks[0]?.id, 'FIRST-TASK');
        assert.match(fs.readFileSync(runtimeFile(f.dir, f.owner, 'heartbeat.log'), 'utf8'), /tasks folder .* is gone; ticks wait until it is back\n(.*\n)*.*tasks folder .* is back/);
      } finally {
        await stopServe(s);
      }
    });
  });

  test('stop while serving: the heartbeat stays stopped; ensure hands it back to the watchdog', async () => {
    await withFolder(async (f) => {
      // The default stuck slack (10 s): with none, a loaded machine's late beat let the watchdog replace
      // the heartbeat just as stop looked for it, and stop truly found none running.
      const { s, heartbeat } = await serving(f, cliEnv());
      try {
        const r = await cli(['stop', `owner=${f.owner}`, `dir=${f.dir}`], { env: fast });
        assert.match(r.stdout, new RegExp(`stopped heartbeat \\(pid ${heartbeat}\\); the foreground server \\(pid ${s.child.pid}\\) keeps serving and leaves the heartbeat stopped; Ctrl-C it`));
        // Several watchdog rounds (every 250 ms) go by without a restart.
        await holdsFor(1500, () => assert.equal(readPid(runtimeFile(f.dir, f.owner, 'heartbeat.pid')), undefined, 'not restarted after stop'));
        assert.doesNotMatch(s.output(), /watchdog: restarted/);
        const again = await ensure(f);
        // One heartbeat process is left, the one ensure started: the watchdog stays paused while ensure starts it.
        const heartbeats = (): number[] => pidsMentioning(f.root).filter((p) => {
          try { return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes('heartbeat'); } catch { return false; } // exited meanwhile
        });
        await waitUntil(() => heartbeats().length === 1 && readPid(runtimeFile(f.dir, f.owner, 'heartbeat.pid')) === again, 'one heartbeat left after ensure');
        process.kill(again, 'SIGKILL');
        await s.waitFor(new RegExp(`watchdog: restarted the heartbeat as pid \\d+: pid ${again} is gone`));
      } finally {
        await stopServe(s);
      }
    });
  });
});

describe('damaged runtime files', () => {
  test('the pid file replaced by a folder for a while: no wedge, the pid file comes back, ticks go on', async () => {
    await withFolder(async (f) => {
      const pid = await ensure(f);
      await ticksGoOn(f, 'before');
      const pidFile = runtimeFile(f.dir, f.owner, 'heartbeat.pid');
      fs.rmSync(pidFile);
      fs.mkdirSync(pidFile);
      // While it is a folder nothing can be proven: status reports the heartbeat as not running, in one line.
      const during = await status(f);
      assert.ok(during.code === 3 || during.code === 1, `exit ${during.code}`);
      await ticksGoOn(f, 'with the pid file a folder');
      fs.rmdirSync(pidFile);
      await waitUntil(() => readPid(pidFile) === pid, 'the heartbeat to publish its pid file again');
      await ticksGoOn(f, 'after the folder went');
      const s = await statusRunning(f, 'the pid file back');
      assert.equal(s.doc.pid, pid);
    });
  });

  test('the snapshot replaced by a folder: moved aside, ticks go on, status does not crash', async () => {
    await withFolder(async (f) => {
      await ensure(f);
      await ticksGoOn(f, 'before');
      const snap = runtimeFile(f.dir, f.owner, 'snapshot.json');
      fs.rmSync(snap);
      fs.mkdirSync(snap);
      // One look while it may still be a folder: running or stuck are both fine, a crash is not.
      const once = await status(f);
      assert.ok(once.code === 0 || once.code === 4, `exit ${once.code}: ${once.stderr}`);
      assert.equal(once.stderr, '');
      await statusRunning(f, 'a folder in place of the snapshot');
      await waitUntil(() => fs.statSync(snap, { throwIfNoEntry: false })?.isFile(), 'a snapshot file again');
      await ticksGoOn(f, 'after');
      const aside = fs.readdirSync(path.dirname(snap)).filter((n) => n.startsWith('task-manager-') && n.includes('.snapshot.json.corrupt-'));
      assert.equal(aside.length, 1, 'the folder is kept aside');
    });
  });
});

const root = process.getuid?.() === 0;

describe('a full disk', () => {
  test('ENOSPC on the state folder fails ticks, not the heartbeat; ticks resume once space returns', { skip: root ? false : 'mounting a tmpfs needs root (CI runs as root)' }, async () => {
    await withFolder(async (f) => {
      const state = path.join(f.dir, 'logs', 'task_manager');
      fs.mkdirSync(state, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', state]);
      let pid: number | undefined;
      try {
        pid = await ensure(f);
        await ticksGoOn(f, 'before the disk fills');
        const filler = path.join(state, 'filler');
        // Fill every free block: dd stops with ENOSPC, which is the point.
        try { execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'ignore' }); } catch { /* ENOSPC ends dd */ }
        const stuckAt = snapshotTick(f);
        // Several intervals on a full disk: the heartbeat lives and is not reported stuck (its beat needs no space).
        await statusRunning(f, 'on a full disk');
        await holdsFor(1500, () => assert.ok(alive(pid as number), 'the heartbeat survives a full disk'));
        const s = await statusRunning(f, 'still, on a full disk');
        assert.equal(s.doc.pid, pid);
        // A detached server cannot start on a full disk: the message says why, not "(log is empty)".
        const detach = await cli(['serve', `owner=${f.owner}`, `dir=${f.dir}`, `port=${await getPort({ host: '127.0.0.1' })}`, '--detach'], { env: fast });
        assert.equal(detach.code, 1, detach.stdout);
        assert.match(detach.stderr, /no space left on the file system of/);
        fs.rmSync(filler);
        await waitUntil(() => snapshotTick(f) > stuckAt + 1, 'ticks to be written again once space returns');
        assert.ok(alive(pid));
      } finally {
        if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
        if (pid !== undefined) await waitUntil(() => !alive(pid as number), 'the heartbeat to die before unmounting');
        execFileSync('umount', ['-l', state]);
      }
    });
  });
});

describe('terminal hygiene', () => {
  test('ESC sequences and other control characters in task text never reach the terminal', async () => {
    await withFolder(async (f) => {
      const evil = 'EVIL\u001b[2J\u001b]0;pwned\u0007\rX';
      fs.writeFileSync(path.join(f.dir, 'EVIL.md'), `---\nid: "${evil.replace(/\u001b/g, '\\e').replace(/\u0007/g, '\\a').replace(/\r/g, '\\r')}"\ntitle: "T\\e[31mred"\nstatus: blocked\n---\nbody\n`);
      await ensure(f);
      await waitUntilAsync(async () => {
        const r = await cli(['status', `owner=${f.owner}`, `dir=${f.dir}`], { env: fast });
        return r.stdout.includes('EVIL') ? r : undefined;
      }, 'the escalation of the evil task in status');
      const r = await cli(['status', `owner=${f.owner}`, `dir=${f.dir}`], { env: fast });
      // Shown quoted with its control characters escaped: visible, on one line, never obeyed.
      assert.ok(r.stdout.includes('"EVIL\\u001b[2J\\u001b]0;pwned\\u0007\\rX"'), r.stdout);
      assert.doesNotMatch(r.stdout + r.stderr, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/, 'no control character but newline and tab');
      const logs = await cli(['logs', `owner=${f.owner}`, `dir=${f.dir}`], { env: fast });
      assert.equal(logs.code, 0);
      assert.doesNotMatch(logs.stdout + logs.stderr, /[\u0000-\u0008\u000b-\u001f\u007f]/);
    });
  });
});

describe('build out= is safe', () => {
  const build = (f: Folder, out: string, extra: string[] = []): ReturnType<typeof cli> => cli(['build', `owner=${f.owner}`, `dir=${f.dir}`, `out=${out}`, ...extra], { env: fast });

  test('refuses /, the home folder, the repository and a non-empty folder it did not make; writes nothing there', async () => {
    await withFolder(async (f) => {
      for (const [out, why] of [['/', /must not be the file system root/], [os.homedir(), /must not be the home folder/], [ROOT, /must not be the repository/], [path.dirname(ROOT), /must not be the repository/]] as const) {
        const r = await build(f, out);
        assert.equal(r.code, 2, `${out}: ${r.stdout}`);
        assert.match(r.stderr, why);
      }
      const foreign = path.join(f.root, 'foreign');
      fs.mkdirSync(foreign);
      fs.writeFileSync(path.join(foreign, 'index.html'), 'not ours');
      fs.writeFileSync(path.join(foreign, 'app.js'), 'not ours either');
      const r = await build(f, foreign);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /is a folder with files a build did not make/);
      assert.deepEqual(fs.readdirSync(foreign).sort(), ['app.js', 'index.html']);
      assert.equal(fs.readFileSync(path.join(foreign, 'index.html'), 'utf8'), 'not ours');
    });
  });

  test('never writes through a symlink inside out; removes the pages it wrote before that are gone now', async () => {
    await withFolder(async (f) => {
      const out = path.join(f.root, 'site');
      fs.writeFileSync(path.join(f.dir, 'SECOND.md'), '---\nid: SECOND\nstatus: todo\n---\nx\n');
      assert.equal((await build(f, out)).code, 0);
      assert.ok(fs.existsSync(path.join(out, 'tasks', 'SECOND.html')));
      // Someone swaps the pages' folder for a symlink to elsewhere: the build replaces the link, never writes through it.
      const elsewhere = path.join(f.root, 'elsewhere');
      fs.mkdirSync(elsewhere);
      fs.rmSync(path.join(out, 'tasks'), { recursive: true });
      fs.symlinkSync(elsewhere, path.join(out, 'tasks'));
      // And an owned page replaced by a symlink to a file that must not change.
      const precious = path.join(f.root, 'precious.txt');
      fs.writeFileSync(precious, 'precious');
      fs.rmSync(path.join(out, 'index.html'));
      fs.symlinkSync(precious, path.join(out, 'index.html'));
      fs.rmSync(path.join(f.dir, 'SECOND.md'));
      const r = await build(f, out, ['--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(fs.readdirSync(elsewhere), [], 'nothing written through the symlinked folder');
      assert.equal(fs.readFileSync(precious, 'utf8'), 'precious', 'nothing written through the symlinked page');
      assert.ok(fs.lstatSync(path.join(out, 'tasks')).isDirectory() && !fs.lstatSync(path.join(out, 'tasks')).isSymbolicLink());
      assert.ok(fs.existsSync(path.join(out, 'tasks', 'FIRST-TASK.html')));
      assert.ok(!fs.existsSync(path.join(out, 'tasks', 'SECOND.html')), 'the stale page is removed');
      assert.ok(!fs.lstatSync(path.join(out, 'index.html')).isSymbolicLink());
      // A file it does not own, where a page goes: refused, nothing changed.
      fs.writeFileSync(path.join(f.dir, 'THIRD.md'), '---\nid: THIRD\nstatus: todo\n---\nx\n');
      fs.writeFileSync(path.join(out, 'tasks', 'THIRD.html'), 'hand-made');
      const clash = await build(f, out);
      assert.equal(clash.code, 2);
      assert.match(clash.stderr, /already holds tasks\/THIRD.html, which a build did not write/);
      assert.equal(fs.readFileSync(path.join(out, 'tasks', 'THIRD.html'), 'utf8'), 'hand-made');
      assert.deepEqual(fs.readdirSync(out).filter((n) => n.startsWith('.tasks-build-staging')), [], 'no staging folder left');
    });
  });
});
