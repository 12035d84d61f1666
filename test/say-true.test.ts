// Real CLI: what the page and the terminal say is what happened (a failed run escalated at once, restarts the watchdog made, who started the heartbeat).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import getPort from 'get-port';
import { type Folder, SCRIPT, TSX, cli, readPid, runtimeFile, sleeperIn, start, stopServe, waitUntil, waitUntilAsync, withTempFolder } from './helpers.ts';

/** `serve` in the foreground on a free port, with the heartbeat; its pid is the folder's to kill. */
async function serve(t: Folder, more: readonly string[]): Promise<{ s: ReturnType<typeof start>; base: string }> {
  const port = await getPort({ host: '127.0.0.1' });
  const s = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', `owner=${t.owner}`, `dir=${t.dir}`, `port=${port}`, ...more]);
  t.extra.push(s.child.pid as number);
  await s.waitFor(/serving tasks for /);
  return { s, base: `http://127.0.0.1:${port}` };
}

/** The index's Escalations section as served now. */
async function escalationsSection(base: string): Promise<string> {
  const html = await (await fetch(`${base}/`)).text();
  return /<section id="escalations"[^]*?<\/section>/.exec(html)?.[0] ?? '';
}

describe('a failed run reaches Escalations at once', () => {
  test('with interval=30, a run that exits 3 is on the page\'s Escalations and in status long before the next tick', async () => {
    await withTempFolder('say-esc', async (t) => {
      // The run outlives the first tick (its snapshot says "running"), then fails; the next tick is 30 s away.
      const { s, base } = await serve(t, ['interval=30', `dispatch=${sleeperIn(t.root)} 2; exit 3`]);
      try {
        const snapshot = runtimeFile(t.dir, t.owner, 'snapshot.json');
        await waitUntil(() => fs.existsSync(snapshot) && (JSON.parse(fs.readFileSync(snapshot, 'utf8')) as { claims: unknown[] }).claims.length === 1, 'the first tick to claim FIRST-TASK');
        const section = await waitUntilAsync(async () => {
          const sec = await escalationsSection(base);
          return sec.includes('run exited with code 3') && sec;
        }, 'the failed run on the index\'s Escalations');
        assert.match(section, /FIRST-TASK/);
        // Proof it did not wait for a tick: the heartbeat has ticked once, and its snapshot has no escalation yet.
        const snap = JSON.parse(fs.readFileSync(snapshot, 'utf8')) as { tick: number; escalations: unknown[] };
        assert.equal(snap.tick, 1, 'still the first tick');
        assert.deepEqual(snap.escalations, []);
        // The terminal says the same as the page, without waiting for the tick.
        const st = await cli(['status', `owner=${t.owner}`, `dir=${t.dir}`, '--json']);
        const escalations = (JSON.parse(st.stdout) as { escalations: { id: string; reason: string }[] }).escalations;
        assert.deepEqual(escalations.map((e) => [e.id, e.reason]), [['FIRST-TASK', 'run exited with code 3']], st.stdout);
        const plain = await cli(['status', `owner=${t.owner}`, `dir=${t.dir}`]);
        assert.match(plain.stdout, /escalated\s+FIRST-TASK: run exited with code 3/);
      } finally {
        await stopServe(s);
      }
    });
  });
});

describe('the watchdog reports only the restarts it made', () => {
  test('serve, then stop and ensure from another terminal three times: no "watchdog: restarted", and its first own restart is restart 1', async () => {
    await withTempFolder('say-wd', async (t) => {
      const { s } = await serve(t, []);
      try {
        const hbPid = runtimeFile(t.dir, t.owner, 'heartbeat.pid');
        for (let i = 0; i < 3; i++) {
          const stopped = await cli(['stop', `owner=${t.owner}`, `dir=${t.dir}`]);
          assert.equal(stopped.code, 0, stopped.stderr);
          const ensured = await cli(['ensure', `owner=${t.owner}`, `dir=${t.dir}`]);
          assert.equal(ensured.code, 0, ensured.stderr);
          const pid = Number(/heartbeat started \(pid (\d+)/.exec(ensured.stdout)?.[1]);
          assert.ok(pid > 0, `ensure started the heartbeat: ${ensured.stdout}`);
          t.extra.push(pid);
        }
        // A death the watchdog must answer: its line comes after any it printed for the ensures.
        const last = await waitUntil(() => readPid(hbPid), 'the heartbeat\'s pid file');
        process.kill(last, 'SIGKILL');
        const line = await s.waitFor(/watchdog: restarted the heartbeat as pid (\d+)[^\n]*/);
        t.extra.push(Number(line[1]));
        assert.match(line[0], /is gone \(restart 1; the next one waits at least 1 s\)/);
        assert.equal(s.output().match(/watchdog: restarted/g)?.length, 1, s.output());
      } finally {
        await stopServe(s);
      }
    });
  });
});

describe('serve --detach says who started the heartbeat', () => {
  test('six brand-new owners: each says "heartbeat started"; an owner whose heartbeat ran before says "already running"', async () => {
    await withTempFolder('say-det', async (t) => {
      const detach = async (owner: string): Promise<string> => {
        const port = await getPort({ host: '127.0.0.1' });
        const r = await cli(['serve', '--detach', `owner=${owner}`, `dir=${t.dir}`, `port=${port}`], { timeoutMs: 60_000 });
        assert.equal(r.code, 0, r.stderr);
        for (const m of r.stdout.matchAll(/pid (\d+)/g)) t.extra.push(Number(m[1]));
        return r.stdout;
      };
      // The detached server's own ensure and this command's race: whichever wins, the heartbeat is new.
      for (let i = 0; i < 6; i++) {
        const owner = `${t.owner}-${i}`;
        const out = await detach(owner);
        const pid = readPid(runtimeFile(t.dir, owner, 'heartbeat.pid'));
        assert.match(out, new RegExp(`^heartbeat started \\(pid ${pid}, owner ${owner},`, 'm'), `try ${i + 1}:\n${out}`);
      }
      const ensured = await cli(['ensure', `owner=${t.owner}`, `dir=${t.dir}`]);
      const pid = Number(/heartbeat started \(pid (\d+)/.exec(ensured.stdout)?.[1]);
      t.extra.push(pid);
      assert.match(await detach(t.owner), new RegExp(`^heartbeat already running \\(pid ${pid}\\)$`, 'm'));
    });
  });
});
