// Real CLI, loopback receiver: notifications of a failed run, a finished run and an escalation, each delivered once to a command and a webhook, never again after a restart; task text only on stdin and in the environment; the webhook's secret nowhere.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { type Folder, cli, cliEnv, readPid, runtimeFile, waitUntil, withTempFolder } from './helpers.ts';
import { appendCommand, commandDeliveries, receiver, writeTask } from './notify-helpers.ts';

const SECRET = 'T0PSECRET-b4d9e1f7';

interface Snap { tick: number; pid: number; claims: { id: string; state: string }[] }
function snapshot(t: Folder): Snap | undefined {
  try {
    return JSON.parse(fs.readFileSync(runtimeFile(t.dir, t.owner, 'snapshot.json'), 'utf8')) as Snap;
  } catch {
    return undefined;
  }
}

/** The event kinds and task ids delivered, sorted, from the webhook's bodies or the command's documents. */
function kinds(docs: readonly Record<string, unknown>[]): string[] {
  return docs.map((d) => `${String(d.event)} ${String(d.id)}`).sort();
}

describe('notifications from the heartbeat', () => {
  test('a failed run, a finished run and a new escalation: one delivery each per channel; stop + ensure sends none again; title with shell metacharacters only on stdin; the secret in the URL is never shown', async () => {
    await withTempFolder('notify', async (t) => {
      const hook = await receiver(SECRET);
      const out = path.join(t.root, 'delivered.jsonl');
      const pwned = path.join(t.root, 'pwned');
      try {
        // FIRST-TASK fails (exit 3), SECOND-TASK finishes (exit 0). FIRST-TASK's title would run a command if it were ever spliced into one.
        writeTask(t.dir, 'FIRST-TASK', `Fix it $(touch ${pwned}) \`touch ${pwned}\`; touch ${pwned} "quoted" 'single'\nsecond line`);
        writeTask(t.dir, 'SECOND-TASK', 'Second task');
        const keys = [`owner=${t.owner}`, `dir=${t.dir}`, 'interval=1', 'max=2', 'worktrees=off',
          'dispatch=if [ "$TASK_ID" = FIRST-TASK ]; then exit 3; fi; exit 0', `notify=${appendCommand(out)}`, `notify_url=${hook.url}`];
        const ensured = await cli(['ensure', ...keys]);
        assert.equal(ensured.code, 0, ensured.stderr);
        const first = readPid(runtimeFile(t.dir, t.owner, 'heartbeat.pid')) as number;
        t.extra.push(first);
        await waitUntil(() => hook.ok().length >= 2 && commandDeliveries(out).length >= 2, () => `two run notices; got ${JSON.stringify(hook.got.map((g) => g.body.text))}`, 30_000);
        // An escalation that comes after the heartbeat started: a task file that does not parse.
        fs.writeFileSync(path.join(t.dir, 'BROKEN.md'), '---\nid: BROKEN\ndepends_on: [A, B\nstatus: ready\n---\n');
        await waitUntil(() => hook.ok().length >= 3 && commandDeliveries(out).length >= 3, () => `the escalation's notice; got ${JSON.stringify(hook.got.map((g) => g.body.text))}`, 30_000);
        // A few more ticks: nothing more comes (the failed run's own escalation is folded into its notice).
        const at = snapshot(t)?.tick ?? 0;
        await waitUntil(() => (snapshot(t)?.tick ?? 0) >= at + 3, 'three more ticks', 30_000);
        const expected = ['escalation BROKEN.md', 'run-failed FIRST-TASK', 'run-finished SECOND-TASK'];
        assert.deepEqual(kinds(hook.got.map((g) => g.body)), expected);
        const byCommand = commandDeliveries(out);
        assert.deepEqual(kinds(byCommand.map((d) => d.doc)), expected);

        // The command got the task's text on stdin and its id and kind in the environment, nothing spliced into its command line.
        assert.equal(fs.existsSync(pwned), false, 'a title ran as a command');
        const failed = byCommand.find((d) => d.doc.event === 'run-failed');
        assert.deepEqual(failed?.env, ['run-failed', 'FIRST-TASK']);
        assert.equal(failed?.doc.title, `Fix it $(touch ${pwned}) \`touch ${pwned}\`; touch ${pwned} "quoted" 'single'\nsecond line`);
        assert.equal((failed?.doc.run as { exit: number }).exit, 3);
        assert.match(String(failed?.doc.text), /^tasks: run failed: FIRST-TASK "Fix it .*", exit 3/);
        const finished = hook.got.find((g) => g.body.event === 'run-finished');
        assert.match(String(finished?.body.text), /^tasks: run finished: SECOND-TASK "Second task", exit 0/);
        assert.deepEqual(byCommand.find((d) => d.doc.event === 'escalation')?.env, ['escalation', 'BROKEN.md']);

        // Every delivery logged (so recorded in the ledger) before the restart: 3 notices, 2 channels.
        const logFile = runtimeFile(t.dir, t.owner, 'notify.log');
        await waitUntil(() => fs.existsSync(logFile) && (fs.readFileSync(logFile, 'utf8').match(/ ok /g)?.length ?? 0) >= 6, 'six deliveries in the delivery log', 30_000);
        // A restart: stop, then ensure again with the same keys. Its first tick sees every ended run as new; none is sent again.
        const stopped = await cli(['stop', `owner=${t.owner}`, `dir=${t.dir}`]);
        assert.equal(stopped.code, 0, stopped.stderr);
        const again = await cli(['ensure', ...keys]);
        assert.equal(again.code, 0, again.stderr);
        const second = readPid(runtimeFile(t.dir, t.owner, 'heartbeat.pid')) as number;
        t.extra.push(second);
        assert.notEqual(second, first);
        await waitUntil(() => { const s = snapshot(t); return s !== undefined && s.pid === second && s.tick >= 4; }, 'four ticks of the new heartbeat', 30_000);
        assert.equal(hook.got.length, 3, JSON.stringify(hook.got.map((g) => g.body.text)));
        assert.equal(commandDeliveries(out).length, 3);

        // The secret: not in the delivery log, the heartbeat log, the pid file, the process list, status --json or ensure's "differs".
        const differs = await cli(['ensure', ...keys.slice(0, -1), `notify_url=${hook.url.replace('127.0.0.1', 'localhost').replaceAll(SECRET, 'OTHER')}`]);
        const status = await cli(['status', `owner=${t.owner}`, `dir=${t.dir}`, '--json'], { env: cliEnv({ TASK_MANAGER_NOTIFY_URL: hook.url }) });
        const deliveryLog = fs.readFileSync(runtimeFile(t.dir, t.owner, 'notify.log'), 'utf8');
        assert.match(deliveryLog, /ok run-failed id="FIRST-TASK" via http:\/\/127\.0\.0\.1:\d+\/… attempt 1: HTTP 200/);
        assert.match(deliveryLog, /ok run-failed id="FIRST-TASK" via command attempt 1: exit 0/);
        const places: [string, string][] = [
          ['delivery log', deliveryLog],
          ['heartbeat log', fs.readFileSync(runtimeFile(t.dir, t.owner, 'heartbeat.log'), 'utf8')],
          ['pid file', fs.readFileSync(runtimeFile(t.dir, t.owner, 'heartbeat.pid'), 'utf8')],
          ['cmdline', fs.readFileSync(`/proc/${second}/cmdline`, 'utf8')],
          ['status --json', status.stdout + status.stderr],
          ['ensure', differs.stdout + differs.stderr],
          ['ledger', fs.readFileSync(runtimeFile(t.dir, t.owner, 'notify-sent.json'), 'utf8')],
        ];
        for (const [where, text] of places) assert.ok(!text.includes(SECRET) && !text.includes('OTHER'), `${where} shows the secret:\n${text}`);
        assert.match(differs.stdout, /notify_url=http:\/\/127\.0\.0\.1:\d+\/…/);
      } finally {
        await hook.close();
      }
    });
  });

  test('heartbeat --once (run from cron, say): its tick\'s notice is sent before it exits, and the next --once does not send it again', async () => {
    await withTempFolder('notify-once', async (t) => {
      const hook = await receiver(SECRET);
      try {
        const once = async (): Promise<void> => {
          const r = await cli(['heartbeat', '--once', `owner=${t.owner}`, `dir=${t.dir}`, 'worktrees=off', 'dispatch=exit 0', `notify_url=${hook.url}`]);
          assert.equal(r.code, 0, r.stderr);
        };
        // The first dispatches; the run ends after it; the second sees the run's end, sends it, and exits.
        await once();
        // The run's shell is gone (its process ended): the next tick finds it ended, whichever way it records it.
        const registry = path.join(t.dir, 'logs', 'task_manager', 'registry.json');
        const claim = (): { pid: number | null } | undefined => (JSON.parse(fs.readFileSync(registry, 'utf8')) as { claims: Record<string, { pid: number | null }> }).claims['FIRST-TASK'];
        await waitUntil(() => { const c = claim(); return c !== undefined && (c.pid === null || !fs.existsSync(`/proc/${c.pid}`)); }, 'the run to end', 30_000);
        await once();
        assert.equal(hook.got.length, 1, `one notice before the second --once exited; got ${JSON.stringify(hook.got.map((g) => g.body.text))}`);
        assert.match(String(hook.got[0]?.body.event), /^run-(finished|failed)$/);
        assert.equal(hook.got[0]?.body.id, 'FIRST-TASK');
        await once();
        assert.equal(hook.got.length, 1);
      } finally {
        await hook.close();
      }
    });
  });

  test('a notify_url= that is not http or https is one usage line (exit 2) that does not show it', async () => {
    await withTempFolder('notify-bad', async (t) => {
      for (const url of [`ftp://files.example/${SECRET}`, `not a url ${SECRET}`]) {
        const r = await cli(['ensure', `owner=${t.owner}`, `dir=${t.dir}`, `notify_url=${url}`]);
        assert.equal(r.code, 2, r.stderr);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        assert.match(r.stderr, /`notify_url` must be an http:\/\/ or https:\/\/ URL/);
        assert.ok(!r.stderr.includes(SECRET), r.stderr);
      }
      assert.equal(fs.existsSync(runtimeFile(t.dir, t.owner, 'heartbeat.pid')), false);
    });
  });
});
