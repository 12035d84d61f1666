// In process: the notification queue's rate limit against a loopback receiver, the delivery log read back from hostile ids, redaction, the ledger's cap, and the watchdog's reports.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { lineWriter } from '../lib/base/logfile.ts';
import { checkNotifyUrl, notifyFiles, redactNotifyUrl } from '../lib/base/notify-files.ts';
import type { HeartbeatHealth } from '../lib/supervise/health.ts';
import { watchHeartbeat } from '../lib/supervise/watchdog.ts';
import { LEDGER_MAX_KEYS, Ledger } from '../lib/manager/notify-ledger.ts';
import { Notifier, deliveryLine } from '../lib/manager/notify-queue.ts';
import { scrub, urlChannel } from '../lib/manager/notify-send.ts';
import { parseDelivery, readDeliveries, renderDeliveries } from '../lib/web/render/render-deliveries.ts';
import { receiver } from './notify-helpers.ts';
import { waitUntil } from './helpers.ts';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-notify-unit-'));
}

describe('the notification queue', () => {
  test('rate limit: of 5 notices in a minute with a limit of 3, 3 reach the receiver, the first held back is logged as dropped (one line), and all 5 are done (recorded as handled)', async () => {
    const root = tempDir();
    const hook = await receiver('k3y');
    const done: string[] = [];
    const file = path.join(root, 'tasks', 'logs', 'task_manager', 'task-manager-u.notify.log');
    fs.mkdirSync(path.join(root, 'tasks'));
    const n = new Notifier({ channels: [urlChannel(hook.url)], source: { owner: 'u', host: 'h', dir: path.join(root, 'tasks') }, logFile: file, logMaxBytes: 1 << 20, log: () => undefined, now: () => new Date(), ratePerMinute: 3, onDone: (k) => done.push(k) });
    try {
      for (let i = 0; i < 5; i++) n.notify({ kind: 'escalation', key: `e${i}`, id: `T-${i}`, reason: 'r', since: new Date().toISOString() });
      await waitUntil(() => done.length === 5, () => `5 done; got ${done.join(',')}`);
      assert.equal(hook.got.length, 3);
      const log = fs.readFileSync(file, 'utf8');
      // One line for the first held back, not one each.
      assert.equal(log.match(/ dropped escalation id="T-3" via http:\/\/127\.0\.0\.1:\d+\/… attempt 0: rate limit \(3 a minute\)/g)?.length, 1, log);
      assert.equal(log.match(/ dropped /g)?.length, 1, log);
      assert.equal(log.match(/ ok escalation /g)?.length, 3, log);
    } finally {
      await n.close(0);
      await hook.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('the rate limit\'s summary', () => {
  test('the notices held back in a window are summed up in one rate-limited notice once the window has room', async () => {
    const root = tempDir();
    const hook = await receiver('k3y');
    fs.mkdirSync(path.join(root, 'tasks'));
    const n = new Notifier({ channels: [urlChannel(hook.url)], source: { owner: 'u', host: 'h', dir: path.join(root, 'tasks') }, logFile: undefined, logMaxBytes: 1 << 20, log: () => undefined, now: () => new Date(), ratePerMinute: 2, windowMs: 400 });
    try {
      n.notify({ kind: 'escalation', key: 'a', id: 'A', reason: 'r', since: '2026-01-01T00:00:00Z' });
      n.notify({ kind: 'escalation', key: 'b', id: 'B', reason: 'r', since: '2026-01-01T00:00:00Z' });
      for (const k of ['c', 'd', 'e']) n.notify({ kind: 'escalation', key: k, id: k.toUpperCase(), reason: 'r', since: '2026-01-01T00:00:00Z' });
      await waitUntil(() => hook.got.length >= 3, () => `two notices and a summary; got ${JSON.stringify(hook.got.map((g) => g.body.text))}`);
      const summary = hook.got[2]?.body;
      assert.equal(summary?.event, 'rate-limited');
      assert.equal(summary?.count, 3);
      assert.deepEqual(summary?.kinds, { escalation: 3 });
      assert.match(String(summary?.text), /^tasks: 3 more notifications held back by the rate limit \(3 escalation\)/);
    } finally {
      await n.close(0);
      await hook.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('the delivery log', () => {
  test('hostile ids (newline, quotes, C1, bidi, U+2028, HTML) stay on one line, read back exactly, and render escaped', () => {
    const root = tempDir();
    try {
      const dir = path.join(root, 'tasks');
      const file = notifyFiles(dir, 'o').log;
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const ids = ['a\nb', 'q"uo\\te', 'c1\u009b[31m', 'bidi\u202Etxt.md', 'ls\u2028x', '<script>alert(1)</script>'];
      const fd = fs.openSync(file, 'a');
      const write = lineWriter(fd, file, 1 << 20);
      for (const id of ids) write(deliveryLine(new Date('2026-01-02T03:04:05Z'), 'failed', 'run-failed', id, 'command', 2, 'exit 3: boom\u001b[2J'));
      fs.closeSync(fd);
      assert.equal(fs.readFileSync(file, 'utf8').split('\n').length, ids.length + 1);
      const back = readDeliveries(dir, 'o', 50);
      assert.deepEqual(back.map((d) => d.id), [...ids].reverse());
      assert.equal(back[0]?.reason, 'exit 3: boom\\u001b[2J');
      const html = renderDeliveries(back);
      assert.ok(!html.includes('<script>'), html);
      assert.match(html, /&lt;script&gt;/);
      assert.match(html, /^<details class="notify" id="notify-log" open><summary>Notifications: 0 sent, 6 failed or dropped \(last 6\)<\/summary>/);
      assert.equal(parseDelivery('not a delivery line'), undefined);
      assert.equal(renderDeliveries([]), '');
      assert.deepEqual(readDeliveries(path.join(root, 'nowhere'), 'o', 5), []);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('redaction and the ledger', () => {
  test('a webhook URL is shown as scheme://host/… only, and a reason never keeps its path, query or credentials', () => {
    const url = 'https://user:pw1@hooks.example.com:8443/services/T000/B000/XXXXSECRET?token=QSECRET#frag';
    assert.equal(redactNotifyUrl(url), 'https://hooks.example.com:8443/…');
    const reason = scrub(`request to ${url} failed; path /services/T000/B000/XXXXSECRET, query ?token=QSECRET, user pw1`, url, redactNotifyUrl(url));
    for (const secret of ['XXXXSECRET', 'QSECRET', 'pw1']) assert.ok(!reason.includes(secret), reason);
    assert.throws(() => checkNotifyUrl('file:///etc/passwd'), /must be an http:\/\/ or https:\/\/ URL, got file:\/\/\/…/);
    assert.equal(checkNotifyUrl('http://127.0.0.1:9/x'), 'http://127.0.0.1:9/x');
  });

  test(`the ledger keeps the newest ${LEDGER_MAX_KEYS} keys across a restart, and the escalations open at its last write`, () => {
    const root = tempDir();
    try {
      const file = path.join(root, 'logs', 'task_manager', 'ledger.json');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const a = new Ledger(file, () => undefined, () => new Date());
      assert.equal(a.lastAt, undefined);
      for (let i = 0; i < LEDGER_MAX_KEYS + 100; i += 50) a.add(...Array.from({ length: 50 }, (_, j) => `k${i + j}`));
      a.setActive(['B', 'A']);
      a.flush();
      const b = new Ledger(file, () => undefined, () => new Date());
      assert.ok(b.lastAt instanceof Date);
      assert.equal(b.has('k99'), false);
      assert.equal(b.has('k100'), true);
      assert.equal(b.has(`k${LEDGER_MAX_KEYS + 99}`), true);
      assert.deepEqual([...b.previousActive], ['A', 'B']);
      // A link in the ledger's place is never read (nor followed): no ledger.
      fs.rmSync(file);
      fs.symlinkSync('/etc/hostname', file);
      assert.equal(new Ledger(file, () => undefined, () => new Date()).lastAt, undefined);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('the watchdog reports', () => {
  test('a stuck heartbeat replaced: one "stuck" report; a dead one: one "restart"; failures in a row: one report until it runs again', async () => {
    const h = (state: HeartbeatHealth['state'], pid: number | null): HeartbeatHealth => ({ state, pid, stale: null, startedAt: null, beatAt: '2026-01-01T00:00:00Z', interval: 1, stuckAfter: null });
    let t = 0;
    const reports: string[] = [];
    // t < 1000: stuck; 1000-2000: running; 2000-3000: stopped; then the restarts fail until 20 s, then it runs.
    const ac = new AbortController();
    let pid = 10;
    await watchHeartbeat({
      check: () => (t < 1000 ? h('stuck', 5) : t < 2000 ? h('running', pid) : t < 20_000 ? h('stopped', null) : h('running', pid)),
      restart: async () => {
        if (t >= 3000 && t < 20_000) throw new Error('cannot start');
        return { pid: ++pid, started: true };
      },
      paused: () => false,
      logTail: () => '',
      log: () => undefined,
      now: () => t,
      signal: ac.signal,
      pollMs: 250,
      wait: async (ms) => { t += ms; if (t > 25_000) ac.abort(); },
      onEvent: (e) => reports.push(`${e.kind}: ${e.reason}`),
    });
    assert.equal(reports.length, 3, reports.join('\n'));
    assert.match(reports[0] as string, /^stuck: pid 5 is stuck \(no tick since 2026-01-01T00:00:00Z\); restarted as pid 11$/);
    assert.match(reports[1] as string, /^restart: pid 11 is gone; restarted as pid 12$/);
    assert.match(reports[2] as string, /^restart: pid 12 is gone; could not restart it: cannot start; trying again with backoff$/);
  });
});
