// Real CLI, loopback receiver: `stop` while a delivery hangs ends the heartbeat within its grace; a notice not delivered by a stop is sent by the next start, on the channels that lacked it only; a rotated webhook secret on the same host is a difference `ensure` reports.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { type Folder, alive, cli, readPid, runtimeFile, waitUntil, withTempFolder } from './helpers.ts';
import { appendCommand, commandDeliveries, receiver } from './notify-helpers.ts';

const SECRET = 'R0TATE-5e1d7c22';
const NEW_SECRET = 'N3W-SECRET-0a9b8c7d';

async function ensure(t: Folder, more: readonly string[]): Promise<{ pid: number; stdout: string }> {
  const r = await cli(['ensure', `owner=${t.owner}`, `dir=${t.dir}`, 'interval=1', 'worktrees=off', ...more]);
  assert.equal(r.code, 0, r.stderr);
  const pid = readPid(runtimeFile(t.dir, t.owner, 'heartbeat.pid')) as number;
  t.extra.push(pid);
  return { pid, stdout: r.stdout };
}

async function stop(t: Folder): Promise<string> {
  const r = await cli(['stop', `owner=${t.owner}`, `dir=${t.dir}`]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout + r.stderr;
}

function deliveryLog(t: Folder): string {
  const file = runtimeFile(t.dir, t.owner, 'notify.log');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}

function ticks(t: Folder): number {
  try {
    return (JSON.parse(fs.readFileSync(runtimeFile(t.dir, t.owner, 'snapshot.json'), 'utf8')) as { tick: number }).tick;
  } catch {
    return 0;
  }
}

/** A task file that does not parse: an escalation from the tick that first sees it. */
function breakOne(t: Folder): void {
  fs.writeFileSync(path.join(t.dir, 'BROKEN.md'), '---\nid: BROKEN\ndepends_on: [A, B\nstatus: ready\n---\n');
}

describe('notifications across a stop', () => {
  test('stop while the webhook never answers and the command hangs: the heartbeat ends by SIGTERM within the grace, the command with it', async () => {
    await withTempFolder('notify-stop', async (t) => {
      const hook = await receiver(SECRET, () => 'hang');
      const marker = path.join(t.root, 'command.pid');
      try {
        const { pid } = await ensure(t, ['dispatch=exit 0', `notify=echo $$ > '${marker}'; exec sleep 25`, `notify_url=${hook.url}`]);
        await waitUntil(() => hook.got.length >= 1 && fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').trim() !== '', 'a request held by the receiver and the command running', 30_000);
        const command = Number(fs.readFileSync(marker, 'utf8'));
        t.extra.push(command);
        const said = await stop(t);
        assert.match(said, /stopped heartbeat \(pid \d+\)/);
        assert.doesNotMatch(said, /killed after/);
        assert.equal(alive(pid), false);
        await waitUntil(() => !alive(command), 'the command to be ended with the heartbeat');
        const log = deliveryLog(t);
        assert.match(log, /failed run-finished id="FIRST-TASK" via http:\/\/127\.0\.0\.1:\d+\/… attempt 1: cut: stopping; not retried: stopping/, log);
        assert.match(log, /failed run-finished id="FIRST-TASK" via command attempt 1: ended: stopping/, log);
        assert.ok(!log.includes(SECRET), log);
      } finally {
        await hook.close();
      }
    });
  });

  test('an escalation answered 500 by the webhook (delivered to the command) until a stop: the next start delivers it to the webhook, not again to the command', async () => {
    await withTempFolder('notify-esc', async (t) => {
      let restarted = false;
      const hook = await receiver(SECRET, () => (restarted ? 200 : 500));
      const out = path.join(t.root, 'delivered.jsonl');
      const keys = [`notify=${appendCommand(out)}`, `notify_url=${hook.url}`];
      try {
        await ensure(t, keys);
        await waitUntil(() => ticks(t) >= 2, 'two ticks', 30_000);
        breakOne(t);
        await waitUntil(() => hook.got.length >= 1 && / ok escalation id="BROKEN.md" via command /.test(deliveryLog(t)), 'the escalation\'s first attempts', 30_000);
        await stop(t);
        restarted = true;
        await ensure(t, keys);
        await waitUntil(() => hook.ok().some((g) => g.body.event === 'escalation' && g.body.id === 'BROKEN.md'), () => `the escalation delivered after the restart; got ${JSON.stringify(hook.got.map((g) => [g.status, g.body.text]))}; log:\n${deliveryLog(t)}`, 30_000);
        const at = ticks(t);
        await waitUntil(() => ticks(t) >= at + 2, 'two more ticks', 30_000);
        assert.deepEqual(commandDeliveries(out).map((d) => d.env), [['escalation', 'BROKEN.md']], 'the command ran once');
      } finally {
        await hook.close();
      }
    });
  });

  test('a run\'s notice delivered to the command and answered 500 by the webhook until a stop: the next start sends it to the webhook only', async () => {
    await withTempFolder('notify-dup', async (t) => {
      let restarted = false;
      const hook = await receiver(SECRET, () => (restarted ? 200 : 500));
      const out = path.join(t.root, 'delivered.jsonl');
      const keys = ['dispatch=exit 0', `notify=${appendCommand(out)}`, `notify_url=${hook.url}`];
      try {
        await ensure(t, keys);
        await waitUntil(() => commandDeliveries(out).length >= 1 && hook.got.length >= 1, 'the run\'s notice on both channels', 30_000);
        await waitUntil(() => / ok run-finished id="FIRST-TASK" via command /.test(deliveryLog(t)), 'the command\'s delivery logged', 30_000);
        await stop(t);
        restarted = true;
        await ensure(t, keys);
        await waitUntil(() => hook.ok().length >= 1, () => `the webhook's delivery after the restart; log:\n${deliveryLog(t)}`, 30_000);
        const at = ticks(t);
        await waitUntil(() => ticks(t) >= at + 3, 'three more ticks', 30_000);
        assert.deepEqual(commandDeliveries(out).map((d) => d.env), [['run-finished', 'FIRST-TASK']], 'the command ran once');
        assert.equal(hook.ok().length, 1);
      } finally {
        await hook.close();
      }
    });
  });

  test('ensure with the webhook\'s secret rotated on the same host: a difference, the secret not shown; after a restart the new URL is used', async () => {
    await withTempFolder('notify-rotate', async (t) => {
      const hook = await receiver(SECRET);
      const rotated = hook.url.replaceAll(SECRET, NEW_SECRET);
      try {
        await ensure(t, [`notify_url=${hook.url}`]);
        const { stdout } = await ensure(t, [`notify_url=${rotated}`]);
        assert.match(stdout, /notify_url=http:\/\/127\.0\.0\.1:\d+\/… #[0-9a-f]{8}/);
        assert.ok(!stdout.includes(SECRET) && !stdout.includes(NEW_SECRET), stdout);
        await stop(t);
        await ensure(t, [`notify_url=${rotated}`]);
        await waitUntil(() => ticks(t) >= 2, 'two ticks', 30_000);
        breakOne(t);
        await waitUntil(() => hook.ok().length >= 1, 'the escalation delivered', 30_000);
        assert.ok(hook.got.every((g) => g.path.includes(NEW_SECRET)), JSON.stringify(hook.got.map((g) => g.path)));
      } finally {
        await hook.close();
      }
    });
  });
});
