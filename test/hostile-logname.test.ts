// Run logs of hostile names: a task file name as long as a name can be still keeps its run's output where every
// reader finds it, and a run log that cannot be opened at all escalates the task instead of passing for a clean run.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { alive, cli, cliEnv, serveBare, sleeperIn, stopServe, waitUntilAsync, withTempFolder, type Folder } from './helpers.ts';

const task = (id: string): string => `---\nid: ${id}\ntitle: Task ${id}\nstatus: ready\n---\n## Plan\n- [ ] do it\n`;

const env = cliEnv();

function registry(t: Folder): Record<string, any> {
  return JSON.parse(fs.readFileSync(path.join(t.dir, 'logs', 'task_manager', 'registry.json'), 'utf8')) as Record<string, any>;
}

async function once(t: Folder, dispatch: string): Promise<Record<string, any>> {
  const r = await cli(['heartbeat', `owner=${t.owner}`, `dir=${t.dir}`, 'worktrees=off', 'max=4', `dispatch=${dispatch}`, '--once', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, any>;
}

describe('run log names', () => {
  test('task files named with 255 bytes (ASCII, and two-byte UTF-8) keep their output, and logs id=, /log and /log.txt find it', async () => {
    await withTempFolder('longname', async (t) => {
      fs.rmSync(path.join(t.dir, 'FIRST-TASK.md'));
      // 252 + '.md' = 255 bytes, the longest name a file system takes: `<slug>.log` would be 256.
      const names = { LONG: `${'L'.repeat(252)}.md`, WIDE: `${'é'.repeat(126)}.md` };
      for (const [id, name] of Object.entries(names)) {
        assert.equal(Buffer.byteLength(name), 255);
        fs.writeFileSync(path.join(t.dir, name), task(id));
      }
      await once(t, 'echo "output of $TASK_ID"');
      const runs = path.join(t.dir, 'logs', 'task_manager', 'runs');
      for (const id of Object.keys(names)) {
        const claim = registry(t).claims[id];
        assert.equal(claim?.state, 'exited', JSON.stringify(claim));
        assert.equal(claim.exitCode, 0);
        assert.equal(path.dirname(claim.log), runs, 'the claim names its log, in the runs folder');
        assert.ok(Buffer.byteLength(path.basename(`${claim.log}.1`)) <= 255, 'the log and its rotated copy have names that fit');
        assert.match(fs.readFileSync(claim.log, 'utf8'), new RegExp(`^output of ${id}$`, 'm'));
        const shown = await cli(['logs', `owner=${t.owner}`, `dir=${t.dir}`, `id=${id}`], { env });
        assert.equal(shown.code, 0, shown.stderr);
        assert.match(shown.stdout, new RegExp(`^output of ${id}$`, 'm'));
      }
      const { s, base } = await serveBare(t);
      try {
        // Until the first build has the model, the API answers 503 (Retry-After): wait that out.
        await waitUntilAsync(async () => (await fetch(`${base}/api/tasks`)).status === 200, 'the API to answer from a complete model');
        for (const id of Object.keys(names)) {
          const res = await fetch(`${base}/api/tasks/${id}/log`);
          assert.equal(res.status, 200, `/api/tasks/${id}/log`);
          assert.ok(((await res.json()) as { lines: string[] }).lines.includes(`output of ${id}`));
          const txt = await fetch(`${base}/api/tasks/${id}/log.txt`);
          assert.equal(txt.status, 200);
          assert.match(await txt.text(), new RegExp(`^output of ${id}$`, 'm'));
        }
      } finally {
        await stopServe(s);
      }
      // With the registry lost, the log is still found by the task's slug alone.
      fs.rmSync(path.join(t.dir, 'logs', 'task_manager', 'registry.json'));
      const shown = await cli(['logs', `owner=${t.owner}`, `dir=${t.dir}`, 'id=LONG'], { env });
      assert.match(shown.stdout, /^output of LONG$/m, shown.stderr);
    });
  });

  test('a live run of a 255-byte name whose registry was lost gets its claim back naming the same log', async () => {
    await withTempFolder('longname', async (t) => {
      fs.rmSync(path.join(t.dir, 'FIRST-TASK.md'));
      fs.writeFileSync(path.join(t.dir, `${'L'.repeat(252)}.md`), task('LONG'));
      // The sleep's path names the test's folder: withTempFolder's cleanup kills it, and the heartbeats, without the code under test.
      const ensure = async (): Promise<number> => {
        const r = await cli(['ensure', `owner=${t.owner}`, `dir=${t.dir}`, 'worktrees=off', 'interval=0.2', `dispatch=echo "output of $TASK_ID"; exec ${sleeperIn(t.root)} 300`, '--json'], { env });
        assert.equal(r.code, 0, r.stderr);
        return (JSON.parse(r.stdout) as { pid: number }).pid;
      };
      const claimOf = (): Record<string, any> | undefined => {
        try {
          return registry(t).claims.LONG;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
          throw err;
        }
      };
      await ensure();
      const first = await waitUntilAsync(async () => (claimOf()?.state === 'running' ? claimOf() : undefined), 'the run to start');
      const hb = Number(fs.readFileSync(path.join(t.dir, 'logs', 'task_manager', `task-manager-${t.owner}.heartbeat.pid`), 'utf8').split('\n')[0]);
      process.kill(hb, 'SIGKILL');
      // A dying heartbeat can still look alive, and could still rewrite the registry: wait until it is gone.
      await waitUntilAsync(async () => !alive(hb), 'the killed heartbeat to be gone');
      fs.rmSync(path.join(t.dir, 'logs', 'task_manager', 'registry.json'));
      await ensure();
      const back = await waitUntilAsync(async () => claimOf(), 'the claim to come back');
      assert.equal(back.runId, first.runId, JSON.stringify(back));
      assert.equal(back.log, first.log, 'the rebuilt claim names the log the run writes');
      assert.match(fs.readFileSync(back.log, 'utf8'), /^output of LONG$/m);
    });
  });

  test('a run log that cannot be opened (a folder a repository put in its place) escalates the task: never a silent exit 0', async () => {
    await withTempFolder('nolog', async (t) => {
      fs.rmSync(path.join(t.dir, 'FIRST-TASK.md'));
      fs.writeFileSync(path.join(t.dir, 'A.md'), task('A'));
      fs.mkdirSync(path.join(t.dir, 'logs', 'task_manager', 'runs', 'A.log', 'committed'), { recursive: true });
      const snap = await once(t, 'echo output of A');
      const claim = registry(t).claims.A;
      assert.notEqual(claim?.state === 'exited' && claim?.exitCode === 0, true, `not a clean exit: ${JSON.stringify(claim)}`);
      const esc = (snap.escalations as { id: string; reason: string }[]).find((e) => e.id === 'A');
      assert.match(esc?.reason ?? '', /run log .*A\.log.* is a folder/, JSON.stringify(snap.escalations));
    });
  });
});
