import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { acquireLock } from '../lib/lock.ts';
import { type Claim, readRegistry, updateRegistry } from '../lib/registry.ts';

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
    assert.ok(!fs.existsSync(`${file}.lock`));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a lock left by a dead process is broken; a live holder is waited for', async () => {
  const dir = tmp();
  try {
    const file = path.join(dir, 'x.lock');
    const gone = spawn('true');
    await new Promise((r) => gone.on('exit', r));
    fs.writeFileSync(file, `${gone.pid}\n123\n`);
    const held = await acquireLock(file, 2000);
    assert.equal(fs.readFileSync(file, 'utf8').split('\n')[0], String(process.pid));
    // Held by a live process (us): a second acquire waits, then times out with one line.
    await assert.rejects(acquireLock(file, 300), /could not lock .* within 0.3 s \(held by pid \d+\)/);
    held.release();
    (await acquireLock(file, 300)).release();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an empty lock (holder died between create and write) is broken after 2 s', async () => {
  const dir = tmp();
  try {
    const file = path.join(dir, 'x.lock');
    fs.writeFileSync(file, '');
    const old = new Date(Date.now() - 5000);
    fs.utimesSync(file, old, old);
    (await acquireLock(file, 1000)).release();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
