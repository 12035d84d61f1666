// The registry's schema and file handling, in process and fast (npm run mutate runs it per mutant):
// exact problems per field, readers that never throw, damaged files kept aside, history capped.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { type Claim, type Registry, checkRegistry, claimKeyOfRun, claimProblem, emptyRegistry, inspectRegistryFile, peekRegistry, readRegistry, release, updateRegistry } from '../lib/manager/registry.ts';
import { makeFolders } from '../lib/base/atomic.ts';

const T0 = '2026-11-28T10:00:00.000Z';
const claim = (id: string, extra: Partial<Claim> = {}): Claim => ({ id, slug: id, path: `${id}.md`, claimedBy: 'o', claimedAt: T0, startedAt: null, worktree: '/w', pid: null, pidStart: null, state: 'claimed', exitCode: null, endedAt: null, log: null, ...extra });

async function inTmp(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-regschema-'));
  try {
    await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('claimProblem names the first thing wrong, exactly', () => {
  const cases: [string, unknown, string | undefined, string?][] = [
    ['a valid claim', claim('A'), undefined],
    ['with every optional text', claim('A', { note: 'n', runId: 'r', fileId: '1:2', startedAt: T0, pidStart: '5', endedAt: T0, log: '/l', pid: 2, exitCode: 0, state: 'exited' }), undefined],
    ['null', null, 'is not an object'],
    ['a list', [claim('A')], 'is not an object'],
    ['text', 'A', 'is not an object'],
    ...(['id', 'slug', 'path', 'claimedBy', 'claimedAt', 'worktree'] as const).map((k): [string, unknown, string] => [`no ${k}`, { ...claim('A'), [k]: 7 }, `has no text ${k}`]),
    ['an empty id', claim(''), 'has id "" under key undefined'],
    ['claimedAt not a time', claim('A', { claimedAt: 'soon' }), 'has a claimedAt that is not a time'],
    ...(['startedAt', 'pidStart', 'endedAt', 'log'] as const).map((k): [string, unknown, string] => [`${k} a number`, { ...claim('A'), [k]: 3 }, `has a ${k} that is neither text nor null`]),
    ...(['note', 'runId', 'fileId', 'branch', 'base'] as const).map((k): [string, unknown, string] => [`${k} a number`, { ...claim('A'), [k]: 3 }, `has a ${k} that is not text`]),
    ['note null is fine', { ...claim('A'), note: null }, undefined],
    ...([0, 1, -5, 2.5, '12'] as const).map((pid): [string, unknown, string] => [`pid ${JSON.stringify(pid)}`, { ...claim('A'), pid }, 'has a pid that is not a process id above 1']),
    ['exitCode 1.5', claim('A', { exitCode: 1.5 }), 'has an exitCode that is not an integer'],
    ['exitCode as text', { ...claim('A'), exitCode: '0' }, 'has an exitCode that is not an integer'],
    ...(['claimed', 'running', 'exited', 'interrupted', 'timed_out'] as const).map((state): [string, unknown, undefined] => [`state ${state}`, claim('A', { state }), undefined]),
    ['state done', { ...claim('A'), state: 'done' }, 'has an unknown state "done"'],
    ['state missing', { ...claim('A'), state: undefined }, 'has an unknown state undefined'],
  ];
  for (const [name, value, problem] of cases) test(name, () => assert.equal(claimProblem(value), problem));
  test('under another key', () => assert.equal(claimProblem(claim('A'), 'B'), 'has id "A" under key "B"'));
  test('under its own key', () => assert.equal(claimProblem(claim('A'), 'A'), undefined));
});

describe('checkRegistry', () => {
  const released = { ...claim('H'), releasedAt: T0, releaseReason: 'task completed' };
  const cases: [string, unknown, string[]][] = [
    ['valid, with holds', { version: 1, claims: { A: claim('A') }, history: [released], holds: { X: { since: T0, by: 'o' } } }, []],
    ['valid, from before holds', { version: 1, claims: {}, history: [] }, []],
    ['not an object', 'x', ['the document is not an object']],
    ['null', null, ['the document is not an object']],
    ['version 2', { version: 2, claims: {}, history: [] }, ['version is 2, not 1']],
    ['no version', { claims: {}, history: [] }, ['version is undefined, not 1']],
    ['claims null', { version: 1, claims: null, history: [] }, ['claims is not an object']],
    ['claims a list', { version: 1, claims: [], history: [] }, ['claims is not an object']],
    ['a bad claim', { version: 1, claims: { x: null, A: claim('A') }, history: [] }, ['claim "x" is not an object']],
    ['history an object', { version: 1, claims: {}, history: {} }, ['history is not a list']],
    ['a bad history entry', { version: 1, claims: {}, history: [released, claim('B')] }, ['history entry 1 has no releasedAt or releaseReason']],
    ['a history entry that is no claim', { version: 1, claims: {}, history: [null] }, ['history entry 0 is not an object']],
    ['a release reason that is no text', { version: 1, claims: {}, history: [{ ...released, releaseReason: 3 }] }, ['history entry 0 has no releasedAt or releaseReason']],
    ['holds a list', { version: 1, claims: {}, history: [], holds: [] }, ['holds is not an object']],
    ['holds null', { version: 1, claims: {}, history: [], holds: null }, ['holds is not an object']],
    ['a hold without by', { version: 1, claims: {}, history: [], holds: { X: { since: T0 } } }, ['hold "X" has no since or by']],
    ['a hold that is null', { version: 1, claims: {}, history: [], holds: { X: null } }, ['hold "X" has no since or by']],
  ];
  for (const [name, doc, problems] of cases) test(name, () => assert.deepEqual(checkRegistry(doc).problems, problems));

  test('keeps exactly the valid parts', () => {
    const { reg } = checkRegistry({ version: 1, claims: { x: null, A: claim('A') }, history: [released, 5], holds: { X: { since: T0, by: 'o', extra: 1 }, Y: null } });
    assert.deepEqual(reg, { version: 1, claims: { A: claim('A') }, history: [released], holds: { X: { since: T0, by: 'o' } } });
  });
});

describe('reading registry.json', () => {
  test('peekRegistry: the registry when whole, else undefined; it never throws and never writes', () => inTmp((dir) => {
    const file = path.join(dir, 'registry.json');
    assert.equal(peekRegistry(file), undefined, 'missing');
    fs.writeFileSync(file, '{"version":1,');
    assert.equal(peekRegistry(file), undefined, 'truncated');
    fs.writeFileSync(file, JSON.stringify({ version: 1, claims: { x: null }, history: [] }));
    assert.equal(peekRegistry(file), undefined, 'wrong shape');
    fs.writeFileSync(file, JSON.stringify({ version: 1, claims: { A: claim('A') }, history: [] }));
    assert.deepEqual(peekRegistry(file), { ...emptyRegistry(), claims: { A: claim('A') } });
    assert.equal(peekRegistry(path.join(file, 'under')), undefined, 'ENOTDIR');
    assert.deepEqual(fs.readdirSync(dir), ['registry.json']);
  }));

  test('inspectRegistryFile describes the damage and moves nothing', () => inTmp((dir) => {
    const file = path.join(dir, 'registry.json');
    assert.deepEqual(inspectRegistryFile(file), { reg: emptyRegistry(), missing: true, damage: undefined });
    fs.symlinkSync('/etc/hostname', file);
    assert.deepEqual(inspectRegistryFile(file), { reg: emptyRegistry(), missing: false, damage: 'is not a file (a symlink)' });
    fs.rmSync(file);
    fs.mkdirSync(file);
    assert.equal(inspectRegistryFile(file).damage, 'is not a file (a folder)');
    fs.rmdirSync(file);
    fs.writeFileSync(file, 'nope');
    assert.match(inspectRegistryFile(file).damage ?? '', /^is not JSON \(truncated or corrupt: /);
    const bad = { version: 1, claims: { a: null, b: null, c: null, d: null, e: null }, history: [] };
    fs.writeFileSync(file, JSON.stringify(bad));
    assert.equal(inspectRegistryFile(file).damage, 'does not match its schema: claim "a" is not an object; claim "b" is not an object; claim "c" is not an object and 2 more');
    fs.writeFileSync(file, JSON.stringify({ version: 1, claims: { A: claim('A') }, history: [] }));
    assert.deepEqual(inspectRegistryFile(file), { reg: { ...emptyRegistry(), claims: { A: claim('A') } }, missing: false, damage: undefined });
    assert.deepEqual(fs.readdirSync(dir), ['registry.json']);
  }));

  test('readRegistry keeps a damaged file aside under a numbered name and says so', () => inTmp((dir) => {
    const file = path.join(dir, 'registry.json');
    const now = new Date(T0);
    const lines: string[] = [];
    fs.writeFileSync(file, 'first');
    readRegistry(file, (l) => lines.push(l), now);
    fs.writeFileSync(file + '.x', ''); // unrelated
    fs.rmSync(file);
    fs.writeFileSync(file, 'second');
    readRegistry(file, (l) => lines.push(l), now);
    const base = `${file}.corrupt-2026-11-28T10-00-00-000Z`;
    assert.equal(fs.readFileSync(base, 'utf8'), 'first');
    assert.equal(fs.readFileSync(`${base}-2`, 'utf8'), 'second');
    assert.match(lines[0] ?? '', new RegExp(`^registry ${file} was corrupt: it is not JSON .*; kept it as ${base}$`));
    assert.equal(lines.length, 2);
    // Whole: nothing kept aside, nothing said.
    fs.writeFileSync(file, JSON.stringify(emptyRegistry()));
    assert.deepEqual(readRegistry(file, (l) => lines.push(l), now), emptyRegistry());
    assert.equal(lines.length, 2);
  }));
});

describe('updating registry.json', () => {
  const hooks = (lines: string[] = []): { now: () => Date; log: (l: string) => void } => ({ now: () => new Date(T0), log: (l) => lines.push(l) });

  test('an update that changes nothing does not rewrite the file', () => inTmp(async (dir) => {
    const file = path.join(dir, 'registry.json');
    await updateRegistry(file, (r) => { r.claims.A = claim('A'); }, hooks());
    const ino = fs.statSync(file).ino;
    const result = await updateRegistry(file, (r) => Object.keys(r.claims), hooks());
    assert.deepEqual(result, ['A'], 'the function\'s result is returned');
    assert.equal(fs.statSync(file).ino, ino, 'not rewritten');
    await updateRegistry(file, (r) => { r.claims.B = claim('B'); }, hooks());
    assert.notEqual(fs.statSync(file).ino, ino, 'rewritten atomically (a new inode)');
    assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(file, 'utf8')).claims), ['A', 'B']);
    assert.match(fs.readFileSync(file, 'utf8'), /^\{\n {2}"version": 1,/, 'written readable, two-space indented');
  }));

  test('history keeps the last 200 releases', () => inTmp(async (dir) => {
    const file = path.join(dir, 'registry.json');
    await updateRegistry(file, (r) => {
      for (let i = 0; i < 205; i++) { r.claims[`T${i}`] = claim(`T${i}`); release(r, `T${i}`, 'done', new Date(T0)); }
    }, hooks());
    const reg = peekRegistry(file) as Registry;
    assert.equal(reg.history.length, 200);
    assert.equal(reg.history[0]?.id, 'T5');
    assert.equal(reg.history[199]?.id, 'T204');
  }));

  test('a missing registry that the rebuild fills is written, and the log says what came back', () => inTmp(async (dir) => {
    const file = path.join(dir, 'state', 'registry.json');
    const lines: string[] = [];
    await updateRegistry(file, () => undefined, { ...hooks(lines), rebuild: (r, why) => { r.claims.A = claim('A'); return `${why}: 1 live run`; } });
    assert.deepEqual(Object.keys(peekRegistry(file)?.claims ?? {}), ['A']);
    assert.deepEqual(lines, [`${T0} registry ${file} was missing; rebuilt it (missing: 1 live run)`]);
  }));

  test('a damaged registry with nothing alive says so', () => inTmp(async (dir) => {
    const file = path.join(dir, 'registry.json');
    fs.writeFileSync(file, '[]');
    const lines: string[] = [];
    await updateRegistry(file, (r) => { r.claims.B = claim('B'); }, hooks(lines));
    assert.match(lines[0] ?? '', /was corrupt: it does not match its schema: the document is not an object; kept it as .*corrupt-.* and rebuilt it \(nothing alive to put back\)$/);
  }));

  test('the old call shape (a log function) still works', () => inTmp(async (dir) => {
    const file = path.join(dir, 'registry.json');
    await updateRegistry(file, (r) => { r.claims.A = claim('A'); }, () => undefined, () => new Date(T0));
    assert.deepEqual(Object.keys(peekRegistry(file)?.claims ?? {}), ['A']);
  }));
});

describe('small helpers', () => {
  test('release moves a claim to the history with when and why; an unknown id is nothing', () => {
    const r = emptyRegistry();
    r.claims.A = claim('A', { state: 'exited', exitCode: 3 });
    release(r, 'NOPE', 'x', new Date(T0));
    assert.deepEqual(r.history, []);
    release(r, 'A', 'retry by o', new Date(T0));
    assert.deepEqual(r.claims, {});
    assert.deepEqual(r.history, [{ ...claim('A', { state: 'exited', exitCode: 3 }), releasedAt: T0, releaseReason: 'retry by o' }]);
  });

  test('claimKeyOfRun finds the claim carrying a run marker', () => {
    const r = emptyRegistry();
    r.claims.A = claim('A', { runId: 'ra' });
    r.claims.B = claim('B', { runId: 'rb' });
    assert.equal(claimKeyOfRun(r, 'rb'), 'B');
    assert.equal(claimKeyOfRun(r, 'rz'), undefined);
  });

  test('makeFolders makes at most the given number of levels', () => inTmp((dir) => {
    makeFolders(path.join(dir, 'a', 'b'), 2);
    assert.ok(fs.statSync(path.join(dir, 'a', 'b')).isDirectory());
    makeFolders(path.join(dir, 'a', 'b'), 2); // exists: fine
    assert.throws(() => makeFolders(path.join(dir, 'x', 'y', 'z'), 2), /ENOENT/);
    assert.ok(!fs.existsSync(path.join(dir, 'x')), 'a folder beyond the allowed levels is never made');
    makeFolders(path.join(dir, 'x', 'y', 'z'), 3);
    assert.ok(fs.existsSync(path.join(dir, 'x', 'y', 'z')));
  }));
});
