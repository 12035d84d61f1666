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
  test('with interval=30, a run that exits 3 is on the page\'s Escalations long before the next tick', async () => {
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
      } finally {
        await stopServe(s);
      }
    });
  });
});
