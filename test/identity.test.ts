// In-process tests of the safety-critical modules (pid files and identity, atomic writes, locks),
// fast enough to run once per mutant under `npm run mutate`. Stand-in processes play the daemons.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { TasksError } from '../lib/base/errors.ts';
import { removeUnlessReplaced, writeChunksAtomic, writeFileAtomic } from '../lib/base/atomic.ts';
import { acquireLock, bindAddress, heartbeatLockAddress, lockAddress } from '../lib/supervise/lock.ts';
import { type Expected, formatPidFile, inspectPidFile, livePid, markerArgs, parsePidFile, publishPidFile, removePidFileIf, selfIdentity } from '../lib/supervise/pidfile.ts';
import { makeZombie } from './helpers.ts';

const BOOT = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-identity-'));
const started: ChildProcess[] = [];
after(() => {
  for (const c of started) c.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

const E: Expected = { kind: 'heartbeat', owner: 'idt', dir: path.join(tmp, 'tasks') };
const NOBODY = { pid: -1, ppid: -1 };
let n = 0;
const file = (): string => path.join(tmp, `f${n++}`);

function startTime(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
}

/** A live process whose command line carries the given words (e.g. a heartbeat marker). */
async function standIn(words: readonly string[]): Promise<number> {
  // It exits when its stdin closes, so it dies with this test process however that ends (a mutation
  // run may kill the test file before its after hook).
  const child = spawn(process.execPath, ['-e', "process.stdin.on('end',()=>process.exit());process.stdin.resume();console.log('up')", ...words], { stdio: ['pipe', 'pipe', 'ignore'] });
  started.push(child);
  await new Promise((r) => child.stdout?.once('data', r));
  return child.pid as number;
}

function pidFileFor(pid: number, fields: Record<string, string>): string {
  const f = file();
  fs.writeFileSync(f, formatPidFile(pid, fields));
  return f;
}

describe('parsePidFile accepts only a plain decimal pid > 1 on line 1', () => {
  const good: [string, number, Record<string, string>][] = [
    ['42\n', 42, {}],
    ['4194304\nstarttime=7\nboot=b\nurl=http://x/?a=b\n', 4194304, { starttime: '7', boot: 'b', url: 'http://x/?a=b' }],
    ['2', 2, {}],
  ];
  for (const [text, pid, fields] of good) {
    test(`${JSON.stringify(text)} → pid ${pid}`, () => assert.deepEqual(parsePidFile(text), { pid, fields }));
  }
  const bad = ['', '\n', '0', '1', '-1', '01', ' 12', '12 ', '12\r', '12abc', 'abc', '4194305', '99999999999', '1e3', '+5'];
  for (const text of bad) {
    test(`${JSON.stringify(text)} → an error naming line 1`, () => {
      const r = parsePidFile(text);
      assert.ok('error' in r, JSON.stringify(r));
      assert.equal(r.error, `holds no valid pid (line 1 is ${JSON.stringify(text.split('\n')[0])})`);
    });
  }
  test('the error quotes at most 40 characters of a long line 1', () => {
    const r = parsePidFile('x'.repeat(100));
    assert.deepEqual(r, { error: `holds no valid pid (line 1 is "${'x'.repeat(40)}")` });
  });
  test('a field line without = or with = first is ignored', () => {
    assert.deepEqual(parsePidFile('9\nnoeq\n=x\nk=v=w\n'), { pid: 9, fields: { k: 'v=w' } });
  });
  test('formatPidFile round-trips and puts the bare pid on line 1', () => {
    const text = formatPidFile(77, { a: '1', b: 'x y' });
    assert.equal(text, '77\na=1\nb=x y\n');
    assert.deepEqual(parsePidFile(text), { pid: 77, fields: { a: '1', b: 'x y' } });
  });
});

describe('inspectPidFile proves identity before anything is trusted', () => {
  test('missing file → missing; a folder → a TasksError naming it', () => {
    assert.deepEqual(inspectPidFile(path.join(tmp, 'none'), E, NOBODY), { state: 'missing' });
    const dir = file();
    fs.mkdirSync(dir);
    assert.throws(() => inspectPidFile(dir, E, NOBODY), (err: unknown) => err instanceof TasksError && err.message === `pid file ${dir} is a folder, not a file; remove it and try again`);
  });

  test('a read error other than a folder is not dressed up as one (ENOTDIR passes through)', () => {
    const f = file();
    fs.writeFileSync(f, '42\n');
    assert.throws(() => inspectPidFile(path.join(f, 'under.pid'), E, NOBODY), (err: unknown) => !(err instanceof TasksError) && (err as NodeJS.ErrnoException).code === 'ENOTDIR');
  });

  test('garbage → stale with no pid', () => {
    const f = file();
    fs.writeFileSync(f, '-1\n');
    assert.deepEqual(inspectPidFile(f, E, NOBODY), { state: 'stale', pid: undefined, reason: 'holds no valid pid (line 1 is "-1")' });
  });

  test('a marked process with its true start time and boot id → live, with the record', async () => {
    const pid = await standIn(markerArgs(E));
    const f = pidFileFor(pid, { starttime: startTime(pid), boot: BOOT, x: 'y' });
    const seen = inspectPidFile(f, E, NOBODY);
    assert.deepEqual(seen, { state: 'live', pid, record: { pid, fields: { starttime: startTime(pid), boot: BOOT, x: 'y' } } });
    assert.equal(livePid(f, E), pid);
  });

  const wrong: [string, (pid: number) => Record<string, string>][] = [
    ['a start time one tick off', (pid) => ({ starttime: String(Number(startTime(pid)) + 1), boot: BOOT })],
    ['another boot id', (pid) => ({ starttime: startTime(pid), boot: 'another-boot' })],
    ['no start time', () => ({ boot: BOOT })],
    ['no boot id', (pid) => ({ starttime: startTime(pid) })],
  ];
  for (const [name, fields] of wrong) {
    test(`a marked process with ${name} → stale: another process reuses the pid`, async () => {
      const pid = await standIn(markerArgs(E));
      const f = pidFileFor(pid, fields(pid));
      assert.deepEqual(inspectPidFile(f, E, NOBODY), { state: 'stale', pid, reason: `names pid ${pid}, which is not this heartbeat (another process reuses the pid)` });
      assert.equal(livePid(f, E), undefined);
    });
  }

  const unmarked: [string, string[]][] = [
    ['no marker at all', []],
    ['another owner', markerArgs({ ...E, owner: 'other' })],
    ['another folder', markerArgs({ ...E, dir: `${E.dir}-other` })],
    ['the other daemon kind', markerArgs({ ...E, kind: 'serve' })],
  ];
  for (const [name, words] of unmarked) {
    test(`a process with ${name}, true start time and boot id → stale`, async () => {
      const pid = await standIn(words);
      const f = pidFileFor(pid, { starttime: startTime(pid), boot: BOOT });
      assert.equal(inspectPidFile(f, E, NOBODY).state, 'stale');
    });
  }

  test('the caller itself or its parent → stale, even with a perfect identity', async () => {
    const pid = await standIn(markerArgs(E));
    const f = pidFileFor(pid, { starttime: startTime(pid), boot: BOOT });
    const reason = `names pid ${pid}, which is this command or its parent`;
    assert.deepEqual(inspectPidFile(f, E, { pid, ppid: 1 }), { state: 'stale', pid, reason });
    assert.deepEqual(inspectPidFile(f, E, { pid: 1, ppid: pid }), { state: 'stale', pid, reason });
  });

  test('an exited process → stale, has exited', async () => {
    const child = spawn('true');
    await new Promise((r) => child.on('close', r));
    const f = pidFileFor(child.pid as number, { starttime: '1', boot: BOOT });
    assert.deepEqual(inspectPidFile(f, E, NOBODY), { state: 'stale', pid: child.pid, reason: `names pid ${child.pid}, which has exited` });
  });

  test('a zombie → stale, is a zombie', async () => {
    const { parent, zombie } = await makeZombie();
    started.push(parent);
    const f = pidFileFor(zombie, { starttime: startTime(zombie), boot: BOOT });
    assert.deepEqual(inspectPidFile(f, E, NOBODY), { state: 'stale', pid: zombie, reason: `names pid ${zombie}, which is a zombie` });
  });
});

describe('publishing and removing pid files', () => {
  test('publishPidFile records this process: its pid, start time, boot id, marker fields and extras', () => {
    const f = path.join(tmp, 'deep', 'er', 'own.pid');
    publishPidFile(f, E, { url: 'http://127.0.0.1:1/' });
    const parsed = parsePidFile(fs.readFileSync(f, 'utf8'));
    assert.ok(!('error' in parsed));
    assert.equal(parsed.pid, process.pid);
    const { started: when, ...rest } = parsed.fields;
    assert.deepEqual(rest, { starttime: startTime(process.pid), boot: BOOT, kind: 'heartbeat', owner: 'idt', dir: E.dir, url: 'http://127.0.0.1:1/' });
    assert.ok(Math.abs(Date.parse(when ?? '') - Date.now()) < 60_000);
    assert.deepEqual(selfIdentity(E).starttime, startTime(process.pid));
  });

  test('removePidFileIf removes only a file that still names the pid', () => {
    const f = pidFileFor(1234, {});
    assert.equal(removePidFileIf(f, 999), false);
    assert.ok(fs.existsSync(f), 'a successor\'s file stays');
    assert.equal(removePidFileIf(f, 1234), true);
    assert.ok(!fs.existsSync(f));
    assert.equal(removePidFileIf(f, 1234), false, 'missing: nothing to do');
    const g = file();
    fs.writeFileSync(g, 'garbage\n');
    assert.equal(removePidFileIf(g, 1234), false);
    assert.ok(fs.existsSync(g));
  });
});

describe('atomic writes', () => {
  test('writeFileAtomic creates the folder, writes the bytes, leaves no temp file', () => {
    const dir = path.join(tmp, 'atomic');
    const f = path.join(dir, 'sub', 'x.json');
    writeFileAtomic(f, 'one');
    writeFileAtomic(f, Buffer.from('two'));
    assert.equal(fs.readFileSync(f, 'utf8'), 'two');
    assert.deepEqual(fs.readdirSync(path.dirname(f)), ['x.json']);
  });

  test('a rename that fails (a folder in the way) throws and leaves no temp file', () => {
    const dir = path.join(tmp, 'atomic-fail');
    const f = path.join(dir, 'x.json');
    fs.mkdirSync(path.join(f, 'inner'), { recursive: true });
    assert.throws(() => writeFileAtomic(f, 'data'), /EISDIR|ENOTEMPTY|EEXIST/);
    assert.deepEqual(fs.readdirSync(dir), ['x.json']);
  });

  test('writeFileAtomic replaces the file by rename: a reader holding the old one keeps the old bytes', () => {
    const f = path.join(tmp, 'atomic-inode.json');
    writeFileAtomic(f, 'old');
    const fd = fs.openSync(f, 'r');
    try {
      const before = fs.fstatSync(fd).ino;
      writeFileAtomic(f, 'new content');
      assert.notEqual(fs.statSync(f).ino, before, 'a new inode, never an in-place write');
      assert.equal(fs.readFileSync(fd, 'utf8'), 'old');
    } finally {
      fs.closeSync(fd);
    }
  });

  test('writeFileAtomic makes at most `levels` missing folders: never the tasks folder above the state folder', () => {
    const gone = path.join(tmp, 'atomic-levels', 'tasks');
    assert.throws(() => writeFileAtomic(path.join(gone, 'logs', 'task_manager', 'x.pid'), 'x'), /ENOENT/);
    assert.ok(!fs.existsSync(gone), 'the folder above the two state levels was not made');
    fs.mkdirSync(gone, { recursive: true });
    writeFileAtomic(path.join(gone, 'logs', 'task_manager', 'x.pid'), 'x');
    assert.equal(fs.readFileSync(path.join(gone, 'logs', 'task_manager', 'x.pid'), 'utf8'), 'x');
    writeFileAtomic(path.join(tmp, 'atomic-levels', 'a', 'b', 'c', 'y'), 'y', 3);
    assert.equal(fs.readFileSync(path.join(tmp, 'atomic-levels', 'a', 'b', 'c', 'y'), 'utf8'), 'y');
  });

  test('writeChunksAtomic writes thousands of chunks in order, by rename, into an existing folder only', () => {
    const dir = path.join(tmp, 'chunks');
    fs.mkdirSync(dir);
    const f = path.join(dir, 'big.json');
    const chunks = [...Array.from({ length: 3000 }, (_, i) => Buffer.from(`${i},`)), Buffer.alloc(1 << 20, 'x'), Buffer.from('end')];
    writeChunksAtomic(f, [Buffer.from('old')]);
    const fd = fs.openSync(f, 'r');
    try {
      writeChunksAtomic(f, chunks);
      assert.ok(fs.readFileSync(f).equals(Buffer.concat(chunks)), 'every chunk, in order, past the 1,024 a writev takes');
      assert.equal(fs.readFileSync(fd, 'utf8'), 'old', 'a reader holding the old file keeps the old bytes');
    } finally {
      fs.closeSync(fd);
    }
    assert.deepEqual(fs.readdirSync(dir), ['big.json'], 'no temp file left');
    assert.throws(() => writeChunksAtomic(path.join(dir, 'missing', 'x'), [Buffer.from('x')]), /ENOENT/);
    assert.ok(!fs.existsSync(path.join(dir, 'missing')), 'no folder made');
    fs.mkdirSync(path.join(dir, 'taken', 'inner'), { recursive: true });
    assert.throws(() => writeChunksAtomic(path.join(dir, 'taken'), [Buffer.from('x')]), /EISDIR|ENOTEMPTY|EEXIST/);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['big.json', 'taken'], 'a failed rename leaves no temp file');
  });

  test('removeUnlessReplaced removes a file, keeps one that must be kept, tolerates a missing one', () => {
    const f = file();
    fs.writeFileSync(f, 'stale');
    removeUnlessReplaced(f, () => false);
    assert.ok(!fs.existsSync(f));
    removeUnlessReplaced(f, () => false);
    fs.writeFileSync(f, 'fresh');
    let seen = '';
    removeUnlessReplaced(f, (moved) => { seen = fs.readFileSync(moved, 'utf8'); return true; });
    assert.equal(seen, 'fresh');
    assert.equal(fs.readFileSync(f, 'utf8'), 'fresh');
    assert.deepEqual(fs.readdirSync(path.dirname(f)).filter((x) => x.startsWith(path.basename(f))), [path.basename(f)], 'no aside file left');
  });

  test('removeUnlessReplaced keeps a newer holder\'s file that took the name meanwhile', () => {
    const f = file();
    fs.writeFileSync(f, 'stale');
    removeUnlessReplaced(f, () => { fs.writeFileSync(f, 'newer'); return true; });
    assert.equal(fs.readFileSync(f, 'utf8'), 'newer');
  });
  test('removeUnlessReplaced passes on what it cannot handle: a path under a file (ENOTDIR), a failing check', () => {
    const f = file();
    fs.writeFileSync(f, 'x');
    assert.throws(() => removeUnlessReplaced(path.join(f, 'under'), () => false), /ENOTDIR/);
    const g = file();
    fs.writeFileSync(g, 'y');
    assert.throws(() => removeUnlessReplaced(g, () => { throw new Error('check failed'); }), /check failed/);
  });

  test('removeUnlessReplaced tolerates a check that already disposed of the moved file', () => {
    const f = file();
    fs.writeFileSync(f, 'x');
    removeUnlessReplaced(f, (moved) => { fs.rmSync(moved); return false; });
    assert.ok(!fs.existsSync(f));
  });
});

describe('locks', () => {
  test('an abstract socket is taken once; its address names the resource', async () => {
    const name = path.join(tmp, 'lock-a');
    assert.equal(lockAddress(name), lockAddress(name));
    assert.notEqual(lockAddress(name), lockAddress(`${name}x`));
    assert.match(lockAddress(name), /^\0tasks-lock-[0-9a-f]{32}$/, 'a short hex name: abstract socket names are capped at 108 bytes');
    const held = await bindAddress(lockAddress(name));
    assert.notEqual(held, 'taken');
    assert.equal(await bindAddress(lockAddress(name)), 'taken');
    if (held !== 'taken') held.close();
  });

  test('a heartbeat\'s lock address names its owner and folder, within the 108 bytes of an abstract socket name', () => {
    const owner = 'o'.repeat(64);
    const a = heartbeatLockAddress(owner, '/srv/tasks');
    assert.equal(a, heartbeatLockAddress(owner, '/srv/tasks'));
    assert.notEqual(a, heartbeatLockAddress(owner, '/srv/tasks2'), 'another folder, another lock');
    assert.notEqual(heartbeatLockAddress('a', '/srv/tasks'), heartbeatLockAddress('b', '/srv/tasks'), 'another owner, another lock');
    assert.match(a, new RegExp(`^\\0tasks-heartbeat-[0-9a-f]{16}-${owner}$`));
    assert.ok(Buffer.byteLength(a) <= 108);
  });

  test('a lock socket hangs up on whoever connects to it (a stray client cannot hold it open)', async () => {
    const held = await bindAddress(lockAddress(path.join(tmp, 'lock-c')));
    assert.notEqual(held, 'taken');
    const net = await import('node:net');
    const sock = net.connect({ path: lockAddress(path.join(tmp, 'lock-c')) });
    await new Promise<void>((resolve, reject) => { sock.on('close', () => resolve()); sock.on('error', reject); });
    if (held !== 'taken') held.close();
  });

  test('acquireLock waits for the holder, and fails with one clear line past its timeout', async () => {
    const name = path.join(tmp, 'lock-b');
    const a = await acquireLock(name, 1000);
    const t0 = Date.now();
    await assert.rejects(acquireLock(name, 150), (err: unknown) => err instanceof TasksError && err.message === `could not lock ${name} within 0.15 s; another tasks process holds it`);
    assert.ok(Date.now() - t0 >= 140, 'it waited the timeout');
    const waiting = acquireLock(name, 15_000);
    setTimeout(() => a.release(), 50);
    (await waiting).release();
  });
});
