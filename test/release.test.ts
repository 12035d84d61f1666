// release, retry and logs id= against the real CLI and a real heartbeat with dispatch.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { alive, cli, cliEnv, sleeperIn, start, type Folder, waitUntil, waitUntilAsync, withTempFolder } from './helpers.ts';

/** A temp folder without the default task: each test writes the tasks it dispatches. */
const withFolder = (fn: (f: Folder) => Promise<void>): Promise<void> => withTempFolder('rel', (f) => {
  fs.rmSync(path.join(f.dir, 'FIRST-TASK.md'));
  return fn(f);
});

function task(f: Folder, id: string, status = 'ready'): void {
  fs.writeFileSync(path.join(f.dir, `${id}.md`), `---\nid: ${id}\ntitle: Task ${id}\nstatus: ${status}\n---\nbody\n`);
}

/** Pids of live processes whose environment carries TASK_ID=<id> for this test's owner. */
function runProcesses(f: Folder, id: string): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      const env = fs.readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
      if (env.includes(`TASK_ID=${id}`) && env.includes(`TASK_MANAGER_OWNER=${f.owner}`) && env.some((e) => e.startsWith('TASK_RUN_ID=')) && alive(Number(name))) found.push(Number(name));
    } catch {
      // gone meanwhile, or a zombie without an environment
    }
  }
  return found;
}

interface Claim { id: string; state: string; exitCode: number | null; pid: number | null }
function registry(f: Folder): { claims: Record<string, Claim>; history: Claim[]; holds?: Record<string, unknown> } {
  try {
    return JSON.parse(fs.readFileSync(path.join(f.dir, 'logs', 'task_manager', 'registry.json'), 'utf8')) as ReturnType<typeof registry>;
  } catch {
    return { claims: {}, history: [] };
  }
}

/** A heartbeat for this test's owner at interval 0.2 with the given dispatch command. */
async function heartbeat(f: Folder, dispatch: string): Promise<number> {
  const r = await cli(['ensure', `owner=${f.owner}`, `dir=${f.dir}`, 'interval=0.2', `dispatch=${dispatch}`, 'worktrees=off', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { pid: number }).pid;
}

const runs = (f: Folder, id: string): number => fs.existsSync(path.join(f.root, `count-${id}`)) ? fs.readFileSync(path.join(f.root, `count-${id}`), 'utf8').length : 0;

describe('release and retry', () => {
  test('a finished, failed run: status shows it with its commands; retry dispatches it again; release holds it', async () => {
    await withFolder(async (f) => {
      task(f, 'FAILS');
      // Each run ends its output mid-line: the next run's header still starts a line of its own.
      await heartbeat(f, `printf x >> ${f.root}/count-$TASK_ID; echo "attempt for $TASK_ID"; printf 'half a line'; exit 3`);
      await waitUntil(() => registry(f).claims.FAILS?.state === 'exited', 'the run to exit');
      const st = await cli(['status', `owner=${f.owner}`, `dir=${f.dir}`]);
      // The tasks folder is not the default one: the hints name it, so they work as printed.
      const dirArg = ` dir=${f.dir}`.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      assert.match(st.stdout, new RegExp(`failed {5}FAILS \\(exit code 3\\); log: just tasks logs id=FAILS${dirArg}; rerun: just tasks retry id=FAILS${dirArg}$`, 'm'));
      const logs = await cli(['logs', `owner=${f.owner}`, `dir=${f.dir}`, 'id=fails']);
      assert.equal(logs.code, 0, logs.stderr);
      assert.match(logs.stdout, /attempt for FAILS/);
      assert.equal(runs(f, 'FAILS'), 1, 'not re-run while claimed');

      const retry = await cli(['retry', `owner=${f.owner}`, `dir=${f.dir}`, 'id=FAILS', '--json']);
      assert.equal(retry.code, 0, retry.stderr);
      assert.deepEqual(JSON.parse(retry.stdout), { id: 'FAILS', action: 'retry', released: { owner: f.owner, state: 'exited', exitCode: 3 }, stopped: null, held: false });
      await waitUntil(() => runs(f, 'FAILS') === 2, 'a second run after retry');
      assert.ok(registry(f).history.some((h) => h.id === 'FAILS' && h.exitCode === 3), 'the first run is kept in history');

      await waitUntil(() => registry(f).claims.FAILS?.state === 'exited', 'the second run to exit');
      const runLog = (): string => fs.readFileSync(path.join(f.dir, 'logs', 'task_manager', 'runs', 'FAILS.log'), 'utf8');
      const log = await waitUntil(() => { const l = runLog(); return (l.match(/^half a line$/gm) ?? []).length === 2 ? l : undefined; }, 'both runs\' output in the log');
      assert.match(log, /^=== .*\nattempt for FAILS\nhalf a line\n=== .*\nattempt for FAILS\nhalf a line$/, log);
      const rel = await cli(['release', `owner=${f.owner}`, `dir=${f.dir}`, 'id=FAILS']);
      assert.equal(rel.code, 0, rel.stderr);
      assert.match(rel.stdout, new RegExp(`^released FAILS \\(claimed by .*, run exited with exit code 3; kept in history\\); it is held back from dispatch until: just tasks retry id=FAILS${dirArg}$`, 'm'));
      // Held: several ticks go by without a new run.
      const snapTick = (): number => { try { return (JSON.parse(fs.readFileSync(path.join(f.dir, 'logs', 'task_manager', `task-manager-${f.owner}.snapshot.json`), 'utf8')) as { tick: number }).tick; } catch { return 0; } };
      const from = snapTick();
      await waitUntil(() => snapTick() >= from + 4, 'four more ticks');
      assert.equal(runs(f, 'FAILS'), 2, 'a released task is not dispatched again');
      assert.ok(registry(f).holds?.FAILS, 'the hold is in the registry');
      await cli(['retry', `owner=${f.owner}`, `dir=${f.dir}`, 'id=FAILS']);
      await waitUntil(() => runs(f, 'FAILS') === 3, 'a run after the hold is lifted');
    });
  });

  test('a live run: release refuses; --force stops every process of the run, a setsid grandchild too', async () => {
    await withFolder(async (f) => {
      task(f, 'LIVE');
      // Each sleep's command line names the test's folder: the cleanup kills them by pid even if --force fails.
      const sleep = sleeperIn(f.root);
      await heartbeat(f, `setsid ${sleep} 300 & echo started; ${sleep} 300`);
      await waitUntil(() => runProcesses(f, 'LIVE').length >= 2, 'the run and its setsid grandchild');
      const refused = await cli(['release', `owner=${f.owner}`, `dir=${f.dir}`, 'id=LIVE']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^tasks: LIVE is running \(pid \d+, claimed by .*\); wait for it, or stop it and release with: just tasks release id=LIVE dir=\S+ --force\n$/);
      assert.ok(registry(f).claims.LIVE, 'still claimed');
      const before = runProcesses(f, 'LIVE');
      const forced = await cli(['release', `owner=${f.owner}`, `dir=${f.dir}`, 'id=LIVE', '--force', '--json'], { timeoutMs: 30_000 });
      assert.equal(forced.code, 0, forced.stderr);
      const doc = JSON.parse(forced.stdout) as { stopped: { found: number }; held: boolean };
      assert.ok(doc.stopped.found >= 2, JSON.stringify(doc));
      assert.equal(doc.held, true);
      assert.deepEqual(runProcesses(f, 'LIVE'), [], 'no process of the run is left');
      for (const p of before) assert.ok(!alive(p), `pid ${p} is gone`);
      assert.equal(registry(f).claims.LIVE, undefined);
    });
  });

  test('an unknown id is a usage error (exit 2) naming it; a missing id too; an id resolves across prefixes', async () => {
    await withFolder(async (f) => {
      for (const action of ['release', 'retry', 'logs']) {
        const r = await cli([action, `owner=${f.owner}`, `dir=${f.dir}`, 'id=NOPE']);
        assert.equal(r.code, 2, `${action}: ${r.stderr}`);
        assert.match(r.stderr, /unknown task `NOPE`/);
      }
      // id= resolves as dependencies do: in a Backlog.md folder whose task prefix is back, 7 and task-7 name BACK-7
      // (outside Backlog.md a fold never drops a prefix), and the active task comes before its archived copy.
      fs.writeFileSync(path.join(f.dir, 'config.yml'), 'task_prefix: back\n');
      task(f, 'BACK-7');
      fs.mkdirSync(path.join(f.dir, 'archive'));
      fs.writeFileSync(path.join(f.dir, 'archive', 'old-7.md'), '---\nid: BACK-7\nstatus: completed\n---\n');
      for (const word of ['7', 'task-7', 'back-7']) {
        const r = await cli(['release', `owner=${f.owner}`, `dir=${f.dir}`, `id=${word}`, '--json']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal((JSON.parse(r.stdout) as { id: string }).id, 'BACK-7');
      }
      assert.deepEqual(Object.keys(registry(f).holds ?? {}), ['BACK-7']);
      fs.rmSync(path.join(f.dir, 'logs'), { recursive: true });
      const none = await cli(['release', `owner=${f.owner}`, `dir=${f.dir}`]);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /`release` needs id=<task>/);
      assert.ok(!fs.existsSync(path.join(f.dir, 'logs')), 'a usage error writes nothing');
    });
  });
});

describe('logs id=', () => {
  test('-f follows new lines of a run log', async () => {
    await withFolder(async (f) => {
      task(f, 'TALK');
      await heartbeat(f, `echo one; while [ ! -e ${f.root}/go ]; do sleep 0.05; done; echo two-$TASK_ID; ${sleeperIn(f.root)} 300`);
      await waitUntil(() => registry(f).claims.TALK?.state === 'running', 'the run to start');
      const follow = start(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(import.meta.dirname, '..', 'scripts', 'tasks-serve.ts'), 'logs', `owner=${f.owner}`, `dir=${f.dir}`, 'id=TALK', '-f'], { env: cliEnv() });
      f.extra.push(follow.child.pid as number);
      try {
        await follow.waitFor(/one/);
        fs.writeFileSync(path.join(f.root, 'go'), '');
        await follow.waitFor(/two-TALK/);
      } finally {
        process.kill(-(follow.child.pid as number), 'SIGTERM');
        await follow.exited;
      }
      const stopped = await waitUntilAsync(async () => {
        const r = await cli(['stop', `owner=${f.owner}`, `dir=${f.dir}`], { timeoutMs: 30_000 });
        return r.code === 0 ? r : undefined;
      }, 'stop');
      assert.match(stopped.stdout, /stopped heartbeat/);
      assert.deepEqual(runProcesses(f, 'TALK'), [], 'stop leaves no process of the run');
    });
  });
});
