import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { describe, test } from 'node:test';
import { heartbeatLockAddress } from '../lib/supervise/lock.ts';
import { alive, cli, cliEnv, killAll, listTree, makeZombie, pidsMentioning, readPid, runtimeFile, sleep, tempTasks, uniqueOwner, waitUntil, type Folder, withTempFolder } from './helpers.ts';

const withFolder = (fn: (t: Folder) => Promise<void>): Promise<void> => withTempFolder('hb', fn);

function startTime(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
}

/** A sleeper standing in for an unrelated process that happens to hold a reused pid. */
function sleeper(): number {
  const child = spawn('sleep', ['60'], { stdio: 'ignore', detached: true });
  child.unref();
  return child.pid as number;
}

describe('ensure', () => {
  test('twice: one heartbeat, the second says already running', async () => {
    await withFolder(async ({ dir, owner }) => {
      const a = await cli(['ensure', `owner=${owner}`, `dir=${dir}`, 'interval=0.2']);
      assert.equal(a.code, 0, a.stderr);
      const m = a.stdout.match(/^heartbeat started \(pid (\d+)/);
      assert.ok(m, a.stdout);
      const pid = Number(m[1]);
      const b = await cli(['ensure', `owner=${owner}`, `dir=${dir}`]);
      assert.equal(b.code, 0, b.stderr);
      assert.equal(b.stdout.trim(), `heartbeat already running (pid ${pid})`);
      assert.equal(readPid(runtimeFile(dir, owner, 'heartbeat.pid')), pid);
      assert.ok(fs.readFileSync(runtimeFile(dir, owner, 'heartbeat.pid'), 'utf8').split('\n')[0] === String(pid));
      // The heartbeat lives in its own session: no terminal signal can reach it.
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').slice(0).split(') ')[1]?.split(' ') ?? [];
      assert.equal(Number(stat[3]), pid, 'heartbeat is a session leader (setsid)');
      // It ticks: the snapshot is written atomically with the documented fields.
      const snap = await waitUntil(() => {
        try {
          const s = JSON.parse(fs.readFileSync(runtimeFile(dir, owner, 'snapshot.json'), 'utf8')) as Record<string, unknown>;
          return (s.tick as number) >= 2 ? s : undefined;
        } catch { return undefined; }
      }, 'two ticks');
      assert.equal(snap.owner, owner);
      assert.equal(snap.pid, pid);
      assert.equal(snap.taskCount, 1);
      assert.equal(snap.interval, 0.2);
      for (const k of ['tickAt', 'tickDurationMs', 'counts', 'ready', 'claims', 'escalations', 'errors']) assert.ok(k in snap, k);
    });
  });

  test('--json carries the pid at the top level', async () => {
    await withFolder(async ({ dir, owner }) => {
      const r = await cli(['ensure', `owner=${owner}`, `dir=${dir}`, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout) as { pid: number; started: boolean };
      assert.equal(doc.started, true);
      assert.ok(alive(doc.pid));
      const again = JSON.parse((await cli(['ensure', `owner=${owner}`, `dir=${dir}`, '--json'])).stdout) as { pid: number; started: boolean };
      assert.deepEqual([again.pid, again.started], [doc.pid, false]);
    });
  });

  test('ten concurrent ensure for one owner: one heartbeat, the same pid for all', async () => {
    await withFolder(async ({ dir, owner }) => {
      const runs = await Promise.all(Array.from({ length: 10 }, () => cli(['ensure', `owner=${owner}`, `dir=${dir}`, '--json'], { timeoutMs: 60_000 })));
      for (const r of runs) assert.equal(r.code, 0, r.stderr);
      const pids = new Set(runs.map((r) => (JSON.parse(r.stdout) as { pid: number }).pid));
      assert.equal(pids.size, 1, `pids: ${[...pids].join(',')}`);
      // Starters that lost the lock exit on their own once their node has started; under load that
      // can take a moment after the winner published. Wait for them, then exactly one must remain.
      const heartbeatPids = (): number[] => pidsMentioning(`dir=${dir}`).filter((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('\0heartbeat\0'));
      await waitUntil(() => heartbeatPids().length <= 1 || undefined, 'the losing starters to exit', 15_000).catch(() => undefined);
      assert.deepEqual(heartbeatPids(), [...pids]);
    });
  });

  const garbage: [string, (ctx: { extra: number[] }) => string][] = [
    ['empty', () => ''],
    ['0', () => '0\n'],
    ['-1', () => '-1\n'],
    ['1', () => '1\n'],
    ['12abc', () => '12abc\n'],
    ['" 12 "', () => ' 12 \n'],
    ['CRLF', ({ extra }) => { const p = sleeper(); extra.push(p); return `${p}\r\n`; }],
    ['text', () => 'hello world\n'],
    ['the test runner\'s pid (no heartbeat marker)', () => `${process.pid}\n`],
  ];
  for (const [name, content] of garbage) {
    test(`stale pid file (${name}): replaced, nothing signalled`, async () => {
      await withFolder(async ({ dir, owner, extra }) => {
        fs.mkdirSync(`${dir}/logs/task_manager`, { recursive: true });
        fs.writeFileSync(runtimeFile(dir, owner, 'heartbeat.pid'), content({ extra }));
        const r = await cli(['ensure', `owner=${owner}`, `dir=${dir}`]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^heartbeat started \(pid \d+.*replaced a stale pid file that /);
        for (const p of extra) assert.ok(alive(p), `pid ${p} was signalled`);
        const pid = readPid(runtimeFile(dir, owner, 'heartbeat.pid'));
        assert.ok(pid && alive(pid));
      });
    });
  }

  test('pid file naming an exited process: stale, restarted', async () => {
    await withFolder(async ({ dir, owner }) => {
      const gone = spawn('true');
      await new Promise((r) => gone.on('exit', r));
      fs.mkdirSync(`${dir}/logs/task_manager`, { recursive: true });
      fs.writeFileSync(runtimeFile(dir, owner, 'heartbeat.pid'), `${gone.pid}\nstarttime=1\n`);
      const r = await cli(['ensure', `owner=${owner}`, `dir=${dir}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`replaced a stale pid file that names pid ${gone.pid}, which has exited`));
    });
  });

  test('pid file naming a live unmarked process with its true start time: stale; it survives ensure and stop', async () => {
    await withFolder(async ({ dir, owner, extra }) => {
      const other = sleeper();
      extra.push(other);
      fs.mkdirSync(`${dir}/logs/task_manager`, { recursive: true });
      // Even with its true start time recorded, the missing marker proves it is not a heartbeat.
      fs.writeFileSync(runtimeFile(dir, owner, 'heartbeat.pid'), `${other}\nstarttime=${startTime(other)}\n`);
      const stop1 = await cli(['stop', `owner=${owner}`, `dir=${dir}`]);
      assert.equal(stop1.code, 0, stop1.stderr);
      assert.match(stop1.stdout, /no heartbeat running .*stale/);
      assert.ok(alive(other));
      const r = await cli(['ensure', `owner=${owner}`, `dir=${dir}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`names pid ${other}, which is not this heartbeat`));
      const stop2 = await cli(['stop', `owner=${owner}`, `dir=${dir}`]);
      assert.match(stop2.stdout, /^stopped heartbeat \(pid \d+\)/);
      assert.ok(alive(other), 'the unrelated process survived stop');
    });
  });

  test('pid file naming a zombie: stale, never signalled', async () => {
    await withFolder(async ({ dir, owner, extra }) => {
      const { parent, zombie } = await makeZombie();
      extra.push(parent.pid as number);
      fs.mkdirSync(`${dir}/logs/task_manager`, { recursive: true });
      fs.writeFileSync(runtimeFile(dir, owner, 'heartbeat.pid'), `${zombie}\n`);
      const r = await cli(['ensure', `owner=${owner}`, `dir=${dir}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`names pid ${zombie}, which is a zombie`));
      assert.ok(alive(parent.pid as number));
    });
  });

  test('kill -9 of the heartbeat: the next ensure says stale and restarts', async () => {
    await withFolder(async ({ dir, owner }) => {
      const first = JSON.parse((await cli(['ensure', `owner=${owner}`, `dir=${dir}`, '--json'])).stdout) as { pid: number };
      process.kill(first.pid, 'SIGKILL');
      await waitUntil(() => !alive(first.pid), 'heartbeat to die');
      const r = await cli(['ensure', `owner=${owner}`, `dir=${dir}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^heartbeat started \\(pid (\\d+).*replaced a stale pid file that names pid ${first.pid}, which (has exited|is a zombie)`));
      const pid = readPid(runtimeFile(dir, owner, 'heartbeat.pid'));
      assert.ok(pid !== first.pid && pid && alive(pid));
    });
  });

  test('a heartbeat that dies during start: ensure fails with exit 1 and says how', async () => {
    await withFolder(async ({ dir, owner }) => {
      const ensure = cli(['ensure', `owner=${owner}`, `dir=${dir}`]);
      // Kill the new heartbeat the moment it appears, before it can publish its pid file.
      const victim = await waitUntil(() => pidsMentioning(`owner=${owner}`).find((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('\0heartbeat\0')), 'heartbeat to spawn');
      process.kill(victim, 'SIGKILL');
      const r = await ensure;
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /^tasks: the heartbeat was killed by SIGKILL during start; last lines of .*heartbeat\.log:/);
      assert.ok(!fs.existsSync(runtimeFile(dir, owner, 'heartbeat.pid')));
    });
  });

  test('a pid file path that is a folder: one line naming it, exit 1', async () => {
    await withFolder(async ({ dir, owner }) => {
      fs.mkdirSync(runtimeFile(dir, owner, 'heartbeat.pid'), { recursive: true });
      const r = await cli(['ensure', `owner=${owner}`, `dir=${dir}`]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^tasks: pid file .*heartbeat\.pid is a folder, not a file; remove it and try again\n$/);
    });
  });

  test('two owners in one folder do not interfere', async () => {
    await withFolder(async ({ dir, owner }) => {
      const other = `${owner}-b`;
      const a = JSON.parse((await cli(['ensure', `owner=${owner}`, `dir=${dir}`, '--json'])).stdout) as { pid: number };
      const b = JSON.parse((await cli(['ensure', `owner=${other}`, `dir=${dir}`, '--json'])).stdout) as { pid: number };
      assert.notEqual(a.pid, b.pid);
      const s = await cli(['stop', `owner=${owner}`, `dir=${dir}`]);
      assert.equal(s.stdout.trim(), `stopped heartbeat (pid ${a.pid})`);
      assert.ok(!alive(a.pid));
      assert.ok(alive(b.pid));
      const st = JSON.parse((await cli(['status', `owner=${other}`, `dir=${dir}`, '--json'])).stdout) as { pid: number };
      assert.equal(st.pid, b.pid);
    });
  });
});

describe('identity of the folder', () => {
  test('a symlinked spelling of the same folder names the same heartbeat', async () => {
    await withFolder(async ({ dir, root, owner }) => {
      fs.symlinkSync(dir, `${root}/link`);
      const a = JSON.parse((await cli(['ensure', `owner=${owner}`, `dir=${dir}`, '--json'])).stdout) as { pid: number };
      for (const spelling of [`${root}/link`, `${dir}/`, `${dir}/../tasks`]) {
        const r = await cli(['ensure', `owner=${owner}`, `dir=${spelling}`]);
        assert.equal(r.stdout.trim(), `heartbeat already running (pid ${a.pid})`, spelling);
      }
      const st = await cli(['stop', `owner=${owner}`, `dir=${root}/link`]);
      assert.equal(st.stdout.trim(), `stopped heartbeat (pid ${a.pid})`);
    });
  });

  test('reusing a heartbeat with other settings says so', async () => {
    await withFolder(async ({ dir, owner }) => {
      await cli(['ensure', `owner=${owner}`, `dir=${dir}`, 'interval=30']);
      const r = await cli(['ensure', `owner=${owner}`, `dir=${dir}`, 'interval=5']);
      assert.match(r.stdout, /^heartbeat already running \(pid \d+\) with interval=30 \(stop it to change settings: just tasks stop owner=\S+ dir=\S+\)$/m);
    });
  });

  test('heartbeat --once beside a running heartbeat leaves the daemon\'s snapshot alone', async () => {
    await withFolder(async ({ dir, owner }) => {
      const { pid } = JSON.parse((await cli(['ensure', `owner=${owner}`, `dir=${dir}`, 'interval=60', '--json'])).stdout) as { pid: number };
      const snapFile = runtimeFile(dir, owner, 'snapshot.json');
      await waitUntil(() => fs.existsSync(snapFile), 'first snapshot');
      const once = await cli(['heartbeat', `owner=${owner}`, `dir=${dir}`, '--once', '--json']);
      assert.equal(once.code, 0, once.stderr);
      assert.notEqual(JSON.parse(once.stdout).pid, pid);
      assert.equal(JSON.parse(fs.readFileSync(snapFile, 'utf8')).pid, pid);
    });
  });
});

describe('the runtime folder in git', () => {
  test('runtime files never show in git status: a .gitignore of * in logs/task_manager, an operator\'s own kept', async () => {
    await withFolder(async ({ root, dir, owner }) => {
      const git = (...args: string[]): string => execFileSync('git', args, { cwd: root, encoding: 'utf8' });
      git('init', '-q');
      git('-c', 'user.email=t@example.invalid', '-c', 'user.name=t', 'add', '.');
      git('-c', 'user.email=t@example.invalid', '-c', 'user.name=t', 'commit', '-q', '-m', 'tasks');
      const once = await cli(['heartbeat', `owner=${owner}`, `dir=${dir}`, '--once']);
      assert.equal(once.code, 0, once.stderr);
      assert.equal(git('status', '--porcelain', '--untracked-files=all'), '', 'nothing untracked after a tick');
      // An operator's own file there is never rewritten.
      const mine = `${dir}/logs/task_manager/.gitignore`;
      fs.writeFileSync(mine, '*.log\n');
      assert.equal((await cli(['heartbeat', `owner=${owner}`, `dir=${dir}`, '--once'])).code, 0);
      assert.equal(fs.readFileSync(mine, 'utf8'), '*.log\n');
    });
  });
});

describe('watching', () => {
  test('a tick sees an edit through the folder watches, before any periodic full walk', async () => {
    await withFolder(async ({ dir, owner }) => {
      await cli(['ensure', `owner=${owner}`, `dir=${dir}`, 'interval=0.3']);
      const snapFile = runtimeFile(dir, owner, 'snapshot.json');
      const snap = (): { tick: number; counts: Record<string, number> } => JSON.parse(fs.readFileSync(snapFile, 'utf8'));
      await waitUntil(() => fs.existsSync(snapFile) && snap().tick >= 2, 'two ticks');
      fs.writeFileSync(`${dir}/FIRST-TASK.md`, '---\nid: FIRST-TASK\nstatus: blocked\n---\n');
      const seen = await waitUntil(() => { const s = snap(); return s.counts.blocked === 1 ? s : undefined; }, 'the edit in the snapshot');
      assert.ok(seen.tick < 10, `seen at tick ${seen.tick}, before the full walk at tick 10`);
      // A task in a folder created after the heartbeat started is seen too (the folder event re-arms the watches).
      fs.mkdirSync(`${dir}/later`);
      fs.writeFileSync(`${dir}/later/NEW.md`, '---\nid: NEW\nstatus: todo\n---\n');
      await waitUntil(() => snap().counts.todo === 1 || undefined, 'a task in a new folder');
    });
  });
});

describe('robustness', () => {
  test('a client that connects to the lock socket and hangs up does not take the heartbeat down', async () => {
    await withFolder(async ({ dir, owner }) => {
      const { pid } = JSON.parse((await cli(['ensure', `owner=${owner}`, `dir=${dir}`, 'interval=0.2', '--json'])).stdout) as { pid: number };
      for (let i = 0; i < 5; i++) {
        const sock = net.connect({ path: heartbeatLockAddress(owner, dir) });
        sock.on('error', () => undefined);
        sock.on('connect', () => sock.destroy());
        await sleep(50);
      }
      // Proof of life is ticking on, not a pause: two more ticks after the hang-ups.
      const tickOf = (): number => { try { return (JSON.parse(fs.readFileSync(runtimeFile(dir, owner, 'snapshot.json'), 'utf8')) as { tick: number }).tick; } catch { return 0; } };
      const from = tickOf();
      await waitUntil(() => tickOf() >= from + 2, 'two more ticks after the hang-ups');
      assert.ok(alive(pid));
      const r = await cli(['ensure', `owner=${owner}`, `dir=${dir}`]);
      assert.equal(r.stdout.trim(), `heartbeat already running (pid ${pid})`);
    });
  });
});

describe('stop', () => {
  test('nothing running: exit 0', async () => {
    await withFolder(async ({ dir, owner }) => {
      const r = await cli(['stop', `owner=${owner}`, `dir=${dir}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), `no heartbeat running for ${owner}`);
    });
  });

  test('SIGTERM: the heartbeat finishes its tick, removes its pid file, exits', async () => {
    await withFolder(async ({ dir, owner }) => {
      // Enough files that a tick takes a while, and a short interval: SIGTERM lands mid-tick often.
      for (let i = 0; i < 400; i++) fs.writeFileSync(`${dir}/T${i}.md`, `---\nid: T${i}\nstatus: todo\n---\nbody\n`);
      const { pid } = JSON.parse((await cli(['ensure', `owner=${owner}`, `dir=${dir}`, 'interval=0.05', '--json'])).stdout) as { pid: number };
      await waitUntil(() => fs.existsSync(runtimeFile(dir, owner, 'snapshot.json')), 'a first tick');
      const r = await cli(['stop', `owner=${owner}`, `dir=${dir}`, '--json']);
      assert.deepEqual(JSON.parse(r.stdout).heartbeat, { stopped: true, pid, killed: false });
      assert.ok(!alive(pid));
      assert.ok(!fs.existsSync(runtimeFile(dir, owner, 'heartbeat.pid')));
      const log = fs.readFileSync(runtimeFile(dir, owner, 'heartbeat.log'), 'utf8').trim().split('\n');
      assert.match(log.at(-1) ?? '', new RegExp(`heartbeat stopped \\(pid ${pid}\\)`));
      // The last tick before the stop completed: its line is in the log and the snapshot is that tick's.
      const lastTick = [...log].reverse().find((l) => / tick \d+/.test(l)) ?? '';
      assert.match(lastTick, / tick (\d+): 401 tasks /, 'the last tick finished, not cut off or failed');
      const snap = JSON.parse(fs.readFileSync(runtimeFile(dir, owner, 'snapshot.json'), 'utf8')) as { tick: number; taskCount: number };
      assert.equal(snap.tick, Number(/ tick (\d+):/.exec(lastTick)?.[1]));
      assert.equal(snap.taskCount, 401);
    });
  });

  test('a heartbeat that ignores SIGTERM is killed after the grace, and stop says so', async () => {
    await withFolder(async ({ dir, owner, extra }) => {
      // A stand-in daemon carrying the heartbeat marker that ignores SIGTERM.
      const child = spawn(process.execPath, ['-e', "process.on('SIGTERM',()=>{});setInterval(()=>{},1000);console.log('ready')", 'heartbeat', `owner=${owner}`, `dir=${dir}`], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
      child.unref();
      const pid = child.pid as number;
      extra.push(pid);
      // It says ready once its SIGTERM handler is installed.
      await new Promise((r) => child.stdout?.once('data', r));
      child.stdout?.destroy();
      const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      fs.mkdirSync(`${dir}/logs/task_manager`, { recursive: true });
      fs.writeFileSync(runtimeFile(dir, owner, 'heartbeat.pid'), `${pid}\nstarttime=${startTime(pid)}\nboot=${boot}\n`);
      const r = await cli(['stop', `owner=${owner}`, `dir=${dir}`], { timeoutMs: 20_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), `heartbeat (pid ${pid}) ignored SIGTERM and was killed after the 5 s grace`);
      assert.ok(!alive(pid));
      assert.ok(!fs.existsSync(runtimeFile(dir, owner, 'heartbeat.pid')));
    });
  });
});

describe('status', () => {
  test('--json on a fresh folder: one JSON document, exit 3, nothing created or started', async () => {
    await withFolder(async ({ dir, root, owner }) => {
      const before = listTree(root);
      const r = await cli(['status', `owner=${owner}`, `dir=${dir}`, '--json']);
      assert.equal(r.code, 3);
      const doc = JSON.parse(r.stdout) as { running: boolean; pid: number | null };
      assert.deepEqual([doc.running, doc.pid], [false, null]);
      assert.deepEqual(listTree(root), before);
      assert.deepEqual(pidsMentioning(root), []);
    });
  });

  test('running: pid, uptime, last and next tick, counts', async () => {
    await withFolder(async ({ dir, owner }) => {
      const { pid } = JSON.parse((await cli(['ensure', `owner=${owner}`, `dir=${dir}`, 'interval=0.2', '--json'])).stdout) as { pid: number };
      await waitUntil(() => fs.existsSync(runtimeFile(dir, owner, 'snapshot.json')), 'snapshot');
      const r = await cli(['status', `owner=${owner}`, `dir=${dir}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^heartbeat  running, pid ${pid}, up \\d+s, owner ${owner}`));
      assert.match(r.stdout, /last tick  #\d+ \d+s ago \(\d+ ms\), next in/);
      assert.match(r.stdout, /tasks      1/);
      assert.match(r.stdout, /server     not running/);
    });
  });
});

describe('heartbeat action', () => {
  test('--once --json prints one snapshot and takes no pid file', async () => {
    await withFolder(async ({ dir, owner }) => {
      const r = await cli(['heartbeat', `owner=${owner}`, `dir=${dir}`, '--once', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const snap = JSON.parse(r.stdout) as { tick: number; taskCount: number; owner: string };
      assert.deepEqual([snap.tick, snap.taskCount, snap.owner], [1, 1, owner]);
      assert.ok(!fs.existsSync(runtimeFile(dir, owner, 'heartbeat.pid')));
    });
  });

  test('foreground heartbeat is recognised by ensure and refuses a twin', async () => {
    await withFolder(async ({ dir, owner }) => {
      const fg = spawn(process.execPath, ['--import', 'tsx', 'scripts/tasks-serve.ts', 'heartbeat', `owner=${owner}`, `dir=${dir}`, 'interval=0.2'], { cwd: process.cwd(), env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        const pid = await waitUntil(() => readPid(runtimeFile(dir, owner, 'heartbeat.pid')), 'foreground heartbeat pid file');
        const r = await cli(['ensure', `owner=${owner}`, `dir=${dir}`]);
        assert.equal(r.stdout.trim(), `heartbeat already running (pid ${pid})`);
        const twin = await cli(['heartbeat', `owner=${owner}`, `dir=${dir}`]);
        assert.equal(twin.code, 0);
        assert.equal(twin.stdout.trim(), `heartbeat already running (pid ${pid})`);
      } finally {
        fg.kill('SIGTERM');
        // Bounded: a heartbeat that ignored SIGTERM must not hang the cleanup (the folder's killAll ends it).
        let timer: NodeJS.Timeout | undefined;
        if (fg.exitCode === null && fg.signalCode === null) await Promise.race([new Promise((r) => fg.on('exit', r)), new Promise((r) => { timer = setTimeout(r, 10_000); })]);
        clearTimeout(timer);
      }
    });
  });
});

describe('logs', () => {
  test('prints the tail; the log is capped with one rotated file', async () => {
    await withFolder(async ({ dir, owner }) => {
      const env = cliEnv({ TASKS_LOG_MAX_BYTES: '2048' });
      await cli(['ensure', `owner=${owner}`, `dir=${dir}`, 'interval=0.01'], { env });
      const log = runtimeFile(dir, owner, 'heartbeat.log');
      await waitUntil(() => fs.existsSync(`${log}.1`), 'rotation', 20_000);
      assert.ok(fs.statSync(log).size <= 2048);
      assert.ok(fs.statSync(`${log}.1`).size <= 2048);
      const r = await cli(['logs', `owner=${owner}`, `dir=${dir}`]);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /tick \d+: 1 tasks/);
    });
  });
});
