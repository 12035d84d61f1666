// Real CLI: a heartbeat killed with -9 under a running `serve` is restarted by its watchdog, and the notify= command hears of it once.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import getPort from 'get-port';
import { SCRIPT, TSX, readPid, runtimeFile, start, stopServe, waitUntil, withTempFolder } from './helpers.ts';
import { appendCommand, commandDeliveries } from './notify-helpers.ts';

describe('notifications from the watchdog', () => {
  test('kill -9 of the heartbeat under serve: one watchdog-restart delivery, TASK_ID empty, naming the dead pid and the new one', async () => {
    await withTempFolder('notify-wd', async (t) => {
      const out = path.join(t.root, 'delivered.jsonl');
      const port = await getPort({ host: '127.0.0.1' });
      const s = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', `owner=${t.owner}`, `dir=${t.dir}`, `port=${port}`, 'interval=1', `notify=${appendCommand(out)}`]);
      t.extra.push(s.child.pid as number);
      try {
        await s.waitFor(/serving tasks for /, 60_000);
        const hbPid = runtimeFile(t.dir, t.owner, 'heartbeat.pid');
        const dead = await waitUntil(() => readPid(hbPid), 'the heartbeat\'s pid file');
        process.kill(dead, 'SIGKILL');
        const line = await s.waitFor(/watchdog: restarted the heartbeat as pid (\d+)/, 30_000);
        const fresh = Number(line[1]);
        t.extra.push(fresh);
        const got = await waitUntil(() => commandDeliveries(out).find((d) => d.doc.event === 'watchdog-restart'), () => `a watchdog-restart delivery; got ${fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : 'nothing'}`, 30_000);
        assert.deepEqual(got.env, ['watchdog-restart', '']);
        assert.equal(got.doc.id, null);
        assert.match(String(got.doc.reason), new RegExp(`pid ${dead} is gone; restarted as pid ${fresh}`));
        assert.match(String(got.doc.text), /^tasks: heartbeat restarted by the watchdog: /);
        // The delivery is logged once the command has exited, a moment after it wrote its file.
        const logFile = runtimeFile(t.dir, t.owner, 'notify.log');
        await waitUntil(() => fs.existsSync(logFile) && /ok watchdog-restart id=- via command attempt 1: exit 0/.test(fs.readFileSync(logFile, 'utf8')), 'the delivery in the delivery log', 30_000);
        assert.equal(commandDeliveries(out).filter((d) => d.doc.event === 'watchdog-restart').length, 1);
      } finally {
        await stopServe(s);
      }
    });
  });
});
