// Real CLI, loopback receiver: a delivery answered 500 is retried and delivered once; a receiver that never answers costs its own timeout in the background and never a tick.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { type Folder, cli, readPid, runtimeFile, waitUntil, withTempFolder } from './helpers.ts';
import { receiver } from './notify-helpers.ts';

const SECRET = 'S3CRET-9f2c41aa';

async function ensure(t: Folder, more: readonly string[]): Promise<void> {
  const r = await cli(['ensure', `owner=${t.owner}`, `dir=${t.dir}`, 'worktrees=off', ...more]);
  assert.equal(r.code, 0, r.stderr);
  t.extra.push(readPid(runtimeFile(t.dir, t.owner, 'heartbeat.pid')) as number);
}

function deliveryLog(t: Folder): string {
  const file = runtimeFile(t.dir, t.owner, 'notify.log');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}

/** The start times of the heartbeat's ticks, from its log (each line is stamped with its tick's start). */
function tickTimes(t: Folder): number[] {
  const log = fs.readFileSync(runtimeFile(t.dir, t.owner, 'heartbeat.log'), 'utf8');
  return [...log.matchAll(/^(\S+) tick \d+:/gm)].map((m) => Date.parse(m[1] as string));
}

describe('notification retries and receivers that hang', () => {
  test('a receiver that answers 500 once, then 200: the run\'s notice is delivered once, on the second attempt; the 500\'s echo of the URL is cut from the log', async () => {
    await withTempFolder('notify-retry', async (t) => {
      const hook = await receiver(SECRET, (n) => (n === 0 ? 500 : 200));
      try {
        await ensure(t, ['interval=1', 'dispatch=exit 0', `notify_url=${hook.url}`]);
        // The receiver's 200 first, then the heartbeat's line for it: the log is written once the answer is read.
        await waitUntil(() => (hook.ok().length >= 1 && / ok run-finished /.test(deliveryLog(t))) || undefined, () => `a delivery after the retry, logged; log:\n${deliveryLog(t)}`, 30_000);
        const log = deliveryLog(t);
        assert.match(log, /failed run-finished id="FIRST-TASK" via http:\/\/127\.0\.0\.1:\d+\/… attempt 1: HTTP 500: no hook at \/…; next try in 5 s/);
        assert.match(log, /ok run-finished id="FIRST-TASK" via http:\/\/127\.0\.0\.1:\d+\/… attempt 2: HTTP 200/);
        assert.ok(!log.includes(SECRET), log);
        assert.equal(hook.got.length, 2);
        assert.equal(hook.got[0]?.body.key, hook.got[1]?.body.key, 'the same notice, sent again');
        // The dashboard's Heartbeat section lists both attempts, the URL cut after its host.
        const out = path.join(t.root, 'site');
        const built = await cli(['build', `owner=${t.owner}`, `dir=${t.dir}`, `out=${out}`]);
        assert.equal(built.code, 0, built.stderr);
        const health = /<section id="health"[\s\S]*?<\/section>/.exec(fs.readFileSync(path.join(out, 'index.html'), 'utf8'))?.[0] ?? '';
        assert.match(health, /<summary>Notifications: 1 sent, 1 failed or dropped \(last 2\)<\/summary>/, health);
        assert.match(health, /run-finished<\/td><td><code>FIRST-TASK<\/code><\/td><td>http:\/\/127\.0\.0\.1:\d+\/…<\/td>/);
        assert.ok(!health.includes(SECRET));
        // Delivered: never sent a third time.
        const ticks = tickTimes(t).length;
        await waitUntil(() => tickTimes(t).length >= ticks + 3, 'three more ticks', 30_000);
        assert.equal(hook.got.length, 2);
      } finally {
        await hook.close();
      }
    });
  });

  test('a receiver that never answers: ticks go on while a notice waits out its 10 s timeout', async () => {
    await withTempFolder('notify-hang', async (t) => {
      const hook = await receiver(SECRET, () => 'hang');
      try {
        // Several runs end: their notices queue behind a receiver that holds every request.
        for (let i = 2; i <= 4; i++) fs.writeFileSync(`${t.dir}/TASK-${i}.md`, `---\nid: TASK-${i}\ntitle: Task ${i}\nstatus: ready\npriority: p2\n---\n`);
        await ensure(t, ['interval=1', 'max=4', 'dispatch=exit 0', `notify_url=${hook.url}`]);
        const held = await waitUntil(() => hook.got[0], 'the first request to reach the receiver', 30_000);
        // Ticks started while the receiver held that request open (it never answers; the heartbeat lets go after 10 s).
        // A loop that waited for the receiver would start at most one; one that does not, about ten.
        const during = (): number => tickTimes(t).filter((at) => at >= held.at && at <= (held.closedAt ?? Infinity)).length;
        await waitUntil(() => during() >= 5 || held.closedAt !== undefined, 'five ticks while the request is held, or its end', 60_000);
        assert.ok(during() >= 5, `ticks while the receiver held the request: ${during()}; ticks at ${tickTimes(t).map((at) => new Date(at).toISOString()).join(', ')}; held from ${new Date(held.at).toISOString()} to ${held.closedAt === undefined ? 'now' : new Date(held.closedAt).toISOString()}`);
        await waitUntil(() => /failed run-finished id="[^"]+" via \S+ attempt 1: no answer within 10 s; next try in 5 s/.test(deliveryLog(t)), () => `a timed-out attempt in the delivery log:\n${deliveryLog(t)}`, 30_000);
      } finally {
        await hook.close();
      }
    });
  });
});
