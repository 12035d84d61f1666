import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { acquireLock, lockAddress } from '../lib/supervise/lock.ts';
import { type Claim, readRegistry, updateRegistry } from '../lib/manager/registry.ts';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-reg-'));
}

const claim = (id: string): Claim => ({ id, slug: id, path: `${id}.md`, claimedBy: 'o', claimedAt: new Date().toISOString(), startedAt: null, worktree: '/w', pid: null, pidStart: null, state: 'claimed', exitCode: null, endedAt: null, log: null });

test('concurrent updates under the lock lose nothing', async () => {
  const dir = tmp();
  try {
    const file = path.join(dir, 'registry.json');
    await Promise.all(Array.from({ length: 25 }, (_, i) => updateRegistry(file, (r) => { r.claims[`T${i}`] = claim(`T${i}`); }, () => undefined, () => new Date())));
    assert.equal(Object.keys(readRegistry(file, () => undefined, new Date()).claims).length, 25);
    assert.deepEqual(fs.readdirSync(dir), ['registry.json'], 'no lock file, no temp file left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a lock is exclusive while held and released when its holder dies, even by SIGKILL', async () => {
  const name = `/tmp/tasks-lock-test-${process.pid}-${Date.now()}`;
  const held = await acquireLock(name, 2000);
  await assert.rejects(acquireLock(name, 200), /could not lock .* within 0.2 s; another tasks process holds it/);
  held.release();
  (await acquireLock(name, 1000)).release();
  // Another process takes the lock and is killed without releasing it: the kernel frees it.
  const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen({ path: ${JSON.stringify(lockAddress(name))} }, () => console.log('held'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise((r) => holder.stdout.once('data', r));
    await assert.rejects(acquireLock(name, 200), /could not lock/);
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    (await acquireLock(name, 2000)).release();
  } finally {
    holder.kill('SIGKILL');
  }
});
