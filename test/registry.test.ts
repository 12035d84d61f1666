import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { acquireLock, lockAddress } from '../lib/supervise/lock.ts';
import { type Claim, checkRegistry, inspectRegistryFile, peekRegistry, readRegistry, updateRegistry } from '../lib/manager/registry.ts';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-reg-'));
}

async function inTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = tmp();
  try {
    await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const claim = (id: string): Claim => ({ id, slug: id, path: `${id}.md`, claimedBy: 'o', claimedAt: new Date().toISOString(), startedAt: null, worktree: '/w', pid: null, pidStart: null, state: 'claimed', exitCode: null, endedAt: null, log: null });

test('concurrent updates in one process lose nothing and leave no lock or temp file (across processes: safety.test.ts)', async () => {
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

describe('the registry schema', () => {
  const valid = { version: 1, claims: { A: claim('A') }, history: [{ ...claim('B'), releasedAt: new Date().toISOString(), releaseReason: 'task completed' }] };
  const cases: [string, unknown, RegExp | undefined][] = [
    ['a valid registry', valid, undefined],
    ['claims from before run markers (no runId, no fileId)', { version: 1, claims: { A: claim('A') }, history: [] }, undefined],
    ['a claim that is null', { version: 1, claims: { x: null }, history: [] }, /claim "x" is not an object/],
    ['a claim under another key', { version: 1, claims: { B: claim('A') }, history: [] }, /claim "B" has id "A" under key "B"/],
    ['pid 1', { version: 1, claims: { A: { ...claim('A'), pid: 1 } }, history: [] }, /claim "A" has a pid that is not a process id above 1/],
    ['pid as text', { version: 1, claims: { A: { ...claim('A'), pid: '12' } }, history: [] }, /pid/],
    ['an unknown state', { version: 1, claims: { A: { ...claim('A'), state: 'done' } }, history: [] }, /unknown state "done"/],
    ['a claimedAt that is no time', { version: 1, claims: { A: { ...claim('A'), claimedAt: 'soon' } }, history: [] }, /claimedAt/],
    ['history that is not a list', { version: 1, claims: {}, history: {} }, /history is not a list/],
    ['a history entry without its release', { version: 1, claims: {}, history: [claim('A')] }, /history entry 0 has no releasedAt/],
    ['another version', { version: 2, claims: {}, history: [] }, /version is 2/],
    ['an array', [], /not an object/],
    ['claims as a list', { version: 1, claims: [], history: [] }, /claims is not an object/],
  ];
  for (const [name, doc, problem] of cases) {
    test(name, () => {
      const { problems } = checkRegistry(doc);
      if (problem === undefined) assert.deepEqual(problems, []);
      else assert.ok(problems.some((p) => problem.test(p)), problems.join('\n'));
    });
  }

  test('a wrong-shaped registry keeps its valid claims; the invalid ones are left in the copy kept aside', () => inTmp(async (dir) => {
    const file = path.join(dir, 'registry.json');
    const text = JSON.stringify({ version: 1, claims: { A: claim('A'), x: null }, history: [] });
    fs.writeFileSync(file, text);
    const lines: string[] = [];
    const why: string[] = [];
    await updateRegistry(file, () => undefined, { now: () => new Date(), log: (l) => lines.push(l), rebuild: (_r, w) => { why.push(w); return 'nothing'; } });
    assert.deepEqual(why, ['damaged']);
    assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(file, 'utf8')).claims), ['A']);
    const aside = fs.readdirSync(dir).filter((n) => n.startsWith('registry.json.corrupt-'));
    assert.equal(aside.length, 1);
    assert.equal(fs.readFileSync(path.join(dir, aside[0] as string), 'utf8'), text);
    assert.match(lines.join('\n'), /was corrupt: it does not match its schema: claim "x" is not an object; kept it as .* and rebuilt it \(nothing\)/);
  }));

  test('a registry replaced by a folder: the folder is moved aside and a registry written in its place', () => inTmp(async (dir) => {
    const file = path.join(dir, 'registry.json');
    fs.mkdirSync(file);
    fs.writeFileSync(path.join(file, 'inside'), 'x');
    assert.equal(peekRegistry(file), undefined, 'readers see no registry, and do not throw');
    assert.match(inspectRegistryFile(file).damage ?? '', /is not a file \(a folder\)/);
    await updateRegistry(file, (r) => { r.claims.A = claim('A'); }, { now: () => new Date(), log: () => undefined });
    assert.ok(fs.statSync(file).isFile());
    const aside = fs.readdirSync(dir).find((n) => n.startsWith('registry.json.corrupt-')) as string;
    assert.equal(fs.readFileSync(path.join(dir, aside, 'inside'), 'utf8'), 'x');
    assert.deepEqual(Object.keys(peekRegistry(file)?.claims ?? {}), ['A']);
  }));

  test('an update that fails (a full disk) leaves a damaged file in place and no copy behind, for the next try', () => inTmp(async (dir) => {
    const file = path.join(dir, 'registry.json');
    fs.writeFileSync(file, '{"version":1,"claims":{"A":');
    await assert.rejects(updateRegistry(file, () => { throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }); }, { now: () => new Date(), log: () => undefined }), /ENOSPC/);
    assert.deepEqual(fs.readdirSync(dir), ['registry.json']);
    assert.equal(fs.readFileSync(file, 'utf8'), '{"version":1,"claims":{"A":');
  }));

  test('a missing registry is rebuilt, and not written while it would be empty', () => inTmp(async (dir) => {
    const file = path.join(dir, 'registry.json');
    const why: string[] = [];
    await updateRegistry(file, () => undefined, { now: () => new Date(), log: () => undefined, rebuild: (_r, w) => { why.push(w); return ''; } });
    assert.deepEqual(why, ['missing']);
    assert.deepEqual(fs.readdirSync(dir), []);
  }));
});
