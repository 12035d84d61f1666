// In process: a notifier closed while a delivery is in flight writes nothing after close, two ledger writers keep each other's keys, a credentialed URL is refused, a command's stderr loses the URL, a notice's text carries no control characters, and an answer is read no further than the reason needs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { checkNotifyUrl, redactNotifyUrl } from '../lib/base/notify-files.ts';
import { Ledger } from '../lib/manager/notify-ledger.ts';
import { noticeDocument } from '../lib/manager/notify-message.ts';
import { Notifier } from '../lib/manager/notify-queue.ts';
import { commandChannel, urlChannel } from '../lib/manager/notify-send.ts';
import { receiver } from './notify-helpers.ts';
import { waitUntil } from './helpers.ts';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-notify-fixes-'));
}

const src = { owner: 'u', host: 'h', dir: '/tmp/x' };

describe('closing the notifier', () => {
  test('a request in flight at close is cut; its late answer never lands in a file that reused the delivery log\'s descriptor', async () => {
    const root = tempDir();
    const hook = await receiver('k3y', (n) => (n === 0 ? 200 : 'hang'));
    const dir = path.join(root, 'tasks');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'logs', 'task_manager', 'task-manager-u.notify.log');
    const other = path.join(root, 'other.txt');
    const n = new Notifier({ channels: [urlChannel(hook.url)], source: { ...src, dir }, logFile: file, logMaxBytes: 1 << 20, log: () => undefined, now: () => new Date() });
    let fd: number | undefined;
    try {
      // The first opens the delivery log; the second is held by the receiver when close comes.
      n.notify({ kind: 'test', key: 'a', id: null });
      await waitUntil(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes(' ok test '), 'the first delivery logged');
      const first = n.results.get(redactNotifyUrl(hook.url));
      n.notify({ kind: 'test', key: 'b', id: null });
      await waitUntil(() => hook.got.length >= 2, 'the second request held by the receiver');
      await n.close(50);
      fd = fs.openSync(other, 'w');
      // The receiver lets go now: a request still in flight would end with an error and write its line.
      await hook.close();
      await waitUntil(() => n.results.get(redactNotifyUrl(hook.url)) !== first, 'the second attempt\'s result');
      assert.equal(fs.readFileSync(other, 'utf8'), '');
      assert.match(fs.readFileSync(file, 'utf8'), /failed test id=- via \S+ attempt 1: cut: stopping; not retried: stopping/);
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
      await hook.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('a command still running at close has its process group ended: close returns, and the command is gone', async () => {
    const root = tempDir();
    const pidFile = path.join(root, 'pid');
    const n = new Notifier({ channels: [commandChannel(`echo $$ > '${pidFile}'; sleep 30`, root, { PATH: process.env.PATH })], source: src, logFile: undefined, logMaxBytes: 1 << 20, log: () => undefined, now: () => new Date() });
    try {
      n.notify({ kind: 'test', key: 'a', id: null });
      const pid = await waitUntil(() => (fs.existsSync(pidFile) && /\d+/.test(fs.readFileSync(pidFile, 'utf8')) ? Number(fs.readFileSync(pidFile, 'utf8')) : undefined), 'the command to start');
      await n.close(50);
      assert.equal(n.results.get('command')?.reason, 'ended: stopping (its process group was ended)');
      await waitUntil(() => { try { process.kill(pid, 0); return false; } catch { return true; } }, 'the command to be gone');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('the ledger beside another writer', () => {
  test('two ledgers on one file (a daemon and a heartbeat --once): each write keeps the other\'s keys', () => {
    const root = tempDir();
    try {
      const file = path.join(root, 'logs', 'task_manager', 'ledger.json');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const daemon = new Ledger(file, () => undefined, () => new Date());
      const once = new Ledger(file, () => undefined, () => new Date());
      daemon.add('from-daemon');
      daemon.flush();
      once.add('from-once');
      once.flush();
      daemon.add('later');
      daemon.flush();
      const after = new Ledger(file, () => undefined, () => new Date());
      for (const k of ['from-daemon', 'from-once', 'later']) assert.equal(after.has(k), true, k);
      assert.equal(daemon.has('from-once'), true, 'the daemon knows what --once sent');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('secrets and text', () => {
  test('notify_url= with user:password before the host is one usage line that does not show them', () => {
    assert.throws(() => checkNotifyUrl('https://bob:PASSW0RD@hooks.example/x'), (err: Error) => /must not hold a user or password/.test(err.message) && !err.message.includes('PASSW0RD') && !err.message.includes('bob'));
  });

  test('a command that prints the webhook URL on stderr: the reason keeps its host only', async () => {
    const url = 'https://hooks.example/services/SECRETPATH?token=QSECRET';
    const ch = commandChannel('echo "posting to $U failed" >&2; exit 4', os.tmpdir(), { PATH: process.env.PATH, U: url }, 10_000, url);
    const r = await ch.send(noticeDocument({ kind: 'test', key: 't', id: null }, src, undefined, new Date()));
    assert.equal(r.ok, false);
    assert.match(r.reason, /^exit 4: posting to https:\/\/hooks\.example\/… failed$/);
    assert.ok(!r.reason.includes('SECRETPATH') && !r.reason.includes('QSECRET'), r.reason);
  });

  test('a notice\'s text holds no ESC, C1 or bidi control from an id or title, and stays one line', () => {
    const doc = noticeDocument({ kind: 'escalation', key: 'k', id: 'T-1\u001b[2J\nfake', reason: 'stuck\u202e', since: '2026-01-01T00:00:00Z' }, src, 'Title \u009b31m\u2066x', new Date());
    assert.ok(!/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(doc.text), JSON.stringify(doc.text));
    assert.equal(doc.text, 'tasks: needs an operator: T-1[2J fake "Title 31mx": stuck (u on h)');
    assert.equal(doc.id, 'T-1\u001b[2J\nfake', 'the id field is the id');
  });

  test('a receiver that answers 500 and never ends its body: the reason comes from the first bytes, not the request\'s deadline', async () => {
    const held: http.ServerResponse[] = [];
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.write(`${'x'.repeat(4096)}\nbroken\n`);
      held.push(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      const r = await urlChannel(url, 8000).send(noticeDocument({ kind: 'test', key: 't', id: null }, src, undefined, new Date()));
      assert.equal(r.ok, false);
      assert.match(r.reason, /^HTTP 500: x+…$/);
    } finally {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
